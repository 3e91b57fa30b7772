"""The package's import graph goes one way: no module imports a module of a higher layer, and the
modules of one layer import each other without a cycle.

Every import counts, at module level or inside a function: a deferred import still ties the two
modules together. ``__main__`` modules belong to their package's layer.
"""

import ast
from pathlib import Path

import jwst_memest

PACKAGE = Path(jwst_memest.__file__).parent
# lowest first; a module may import its own layer and those below
LAYERS = [
    ("jwst_memest._version", "jwst_memest.cli_support"),
    ("jwst_memest.pipelines", "jwst_memest.instruments", "jwst_memest.atomic", "jwst_memest.settings",
     "jwst_memest.speed", "jwst_memest.forking"),
    ("jwst_memest.metadata", "jwst_memest.exposures", "jwst_memest.dark_reference", "jwst_memest.spec2_layout",
     "jwst_memest.wfss_products", "jwst_memest.wfss_landing"),
    ("jwst_memest.features",),
    ("jwst_memest.model",),
    ("jwst_memest.association", "jwst_memest.tables", "jwst_memest.pools", "jwst_memest.folder_screening",
     "jwst_memest.folder_associations"),
    ("jwst_memest.estimate_records", "jwst_memest.member_metadata", "jwst_memest.estimation",
     "jwst_memest.annotation", "jwst_memest.exposure_estimate", "jwst_memest.level2_estimate"),
    ("jwst_memest.hosting", "jwst_memest.step", "jwst_memest.predict", "jwst_memest.folder_output",
     "jwst_memest.example"),
    ("jwst_memest.plan", "jwst_memest.batch"),  # estimates made jobs, and estimation at scale
    ("jwst_memest.profile",),  # measuring runs: never imports training
    ("jwst_memest.training",),
]
# entry points, above every layer: the package itself, the command lines and the aliases of others
ENTRY_POINTS = ("jwst_memest", "jwst_memest.cli", "jwst_memest.estimate_cli", "jwst_memest.predict_cli",
                "jwst_memest.calibrate_cli",
                "jwst_memest.models", "jwst_memest.integration")


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules) -> set[str]:
    """The package's modules ``path`` imports: ``from x import y`` names module x.y when y is one."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and (node.module == "jwst_memest" or node.module.startswith("jwst_memest.")):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (the layer check reads absolute ones)")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name == "jwst_memest" or a.name.startswith("jwst_memest.")}
    return found


def _upward(modules) -> list[str]:
    upward = []
    for module, path in modules.items():
        own = _layer(module)
        if own is None:
            continue
        upward += [f"{module} -> {imported}" for imported in sorted(_imports(path, modules))
                   if (_layer(imported) if _layer(imported) is not None else len(LAYERS)) > own]
    return upward


def _cycles(modules) -> list[list[str]]:
    """Import cycles among modules of one layer (a package's ``__init__`` and its own modules excepted:
    a package re-exporting its modules is not a cycle of two modules)."""
    graph = {}
    for module, path in modules.items():
        if _layer(module) is None:
            continue
        graph[module] = {m for m in _imports(path, modules) if _layer(m) == _layer(module) and m != module
                         and not module.startswith(m + ".") and not m.startswith(module + ".")}
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == "open":
                cycles.append(stack[stack.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, stack + [imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_no_module_imports_a_higher_layer():
    assert _upward(_modules()) == []


def test_main_modules_are_checked_too():
    modules = _modules()
    mains = [m for m in modules if m.endswith(".__main__")]
    assert mains and all(_layer(m) is not None for m in mains)


def test_modules_of_one_layer_import_each_other_without_a_cycle():
    assert _cycles(_modules()) == []


def test_every_library_module_has_a_layer():
    unplaced = [m for m in _modules() if _layer(m) is None and m not in ENTRY_POINTS]
    assert unplaced == []


def test_the_checks_see_what_they_should(tmp_path):
    """The checks flag an upward import, a deferred one, and a cycle of deferred imports."""
    root = tmp_path / "jwst_memest"
    (root / "model").mkdir(parents=True)
    (root / "model" / "a.py").write_text("def f():\n    from jwst_memest.model.b import g\n")
    (root / "model" / "b.py").write_text("def g():\n    from jwst_memest.model import a\n")
    (root / "model" / "__main__.py").write_text("from jwst_memest.training import train\n")
    (root / "profile.py").write_text("def h():\n    import jwst_memest.training.train\n")
    (root / "training").mkdir()
    (root / "training" / "train.py").write_text("")
    modules = {".".join(p.relative_to(tmp_path).with_suffix("").parts): p for p in root.rglob("*.py")}
    assert sorted(_upward(modules)) == ["jwst_memest.model.__main__ -> jwst_memest.training.train",
                                        "jwst_memest.profile -> jwst_memest.training.train"]
    assert _cycles(modules) == [["jwst_memest.model.a", "jwst_memest.model.b", "jwst_memest.model.a"]]


def test_the_version_has_one_source():
    """jwst_memest/_version.py: pyproject.toml reads it and the package re-exports it."""
    import tomllib

    from jwst_memest import _version

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "jwst_memest._version.__version__"}
    assert jwst_memest.__version__ is _version.__version__
    assert "__version__ =" in (PACKAGE / "_version.py").read_text()
    assert [m for m, p in _modules().items() if m != "jwst_memest._version" and "__version__ =" in p.read_text()] == []


def _private_imports(path: Path, module: str, modules) -> list[str]:
    """Another module's ``_private`` names this one imports (``from x import _y``) or reaches (``x._y``)."""
    tree = ast.parse(path.read_text())
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.startswith("jwst_memest") and node.module != module:
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{module}:{node.lineno} from {node.module} import {alias.name}")
        elif isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in modules})
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr.startswith("_") and not node.attr.startswith("__") and aliases[node.value.id] != module:
            found.append(f"{module}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    """A name one module needs from another is public (in the other's ``__all__``), or moved where it belongs."""
    modules = _modules()
    assert [hit for module, path in modules.items() for hit in _private_imports(path, module, modules)] == []


def test_the_private_check_sees_both_spellings(tmp_path):
    root = tmp_path / "jwst_memest" / "profile"
    root.mkdir(parents=True)
    (root / "synthetic.py").write_text("def _wcs():\n    pass\n\n\ndef helper():\n    return _wcs()\n")
    (root / "spectra.py").write_text("def f():\n    from jwst_memest.profile.synthetic import _wcs, helper\n")
    (root / "tso.py").write_text("from jwst_memest.profile import synthetic\n\nsynthetic._wcs()\nsynthetic.helper()\n")
    modules = {".".join(p.relative_to(tmp_path).with_suffix("").parts): p for p in root.rglob("*.py")}
    found = sorted(hit for module, path in modules.items() for hit in _private_imports(path, module, modules))
    assert found == ["jwst_memest.profile.spectra:2 from jwst_memest.profile.synthetic import _wcs",
                     "jwst_memest.profile.tso:3 jwst_memest.profile.synthetic._wcs"]
