"""The package's import graph goes one way: no library module imports a module of a higher layer."""

import ast
from pathlib import Path

import jwst_memest

PACKAGE = Path(jwst_memest.__file__).parent
# lowest first; a module may import its own layer and those below
LAYERS = [
    ("jwst_memest.pipelines", "jwst_memest.instruments", "jwst_memest.atomic", "jwst_memest.settings"),
    ("jwst_memest.metadata", "jwst_memest.exposures"),
    ("jwst_memest.features",),
    ("jwst_memest.model",),
    ("jwst_memest.association", "jwst_memest.tables", "jwst_memest.pools"),
    ("jwst_memest.estimation",),
    ("jwst_memest.hosting", "jwst_memest.step", "jwst_memest.predict", "jwst_memest.example"),
    ("jwst_memest.profile", "jwst_memest.training"),
]


def _layer(module: str) -> int | None:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None  # entry points: the package itself, cli, models, __main__ modules


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jwst_memest"):
            if node.module == "jwst_memest" and [a.name for a in node.names] == ["__version__"]:
                continue  # the package's version string, not its code
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("jwst_memest"))


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__main__.py":
            continue
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        own = _layer(module)
        if own is None:
            continue
        upward += [f"{module} -> {imported}" for imported in _imports(path)
                   if (_layer(imported) if _layer(imported) is not None else len(LAYERS)) > own]
    assert upward == []


def test_every_library_module_has_a_layer():
    modules = [".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts) for p in PACKAGE.rglob("*.py")]
    unplaced = [m for m in modules if _layer(m) is None and not m.endswith(("__main__", "__init__"))
                and m not in ("jwst_memest.cli", "jwst_memest.models", "jwst_memest.integration")]  # entry points
    assert unplaced == []
