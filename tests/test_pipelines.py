"""The Level-3 pipeline vocabulary: one module owns it, and every reader of a pipeline name goes through it."""

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import jwst_memest
from jwst_memest import pipelines
from jwst_memest.pipelines import (
    EXP_MODE_FEATURE_SET,
    EXP_MODE_PIPELINES,
    MEMBER_EXPTYPES,
    PIPELINES,
    class_alias,
    exp_mode_for,
    feature_set_for,
    normalize,
)

PACKAGE = Path(jwst_memest.__file__).parent


@pytest.mark.parametrize("name", ["spec3", "Spec3", "calwebb_spec3", "CALWEBB_SPEC3"])
def test_normalize_accepts_key_alias_and_any_case(name):
    assert normalize(name) == "spec3"


@pytest.mark.parametrize("name", ["spec2", "calwebb_", "image", "", None, "calwebb_calwebb_image3"])
def test_normalize_names_the_allowed_pipelines(name):
    with pytest.raises(ValueError, match="unknown Level-3 pipeline .*; expected one of image3, spec3, coron3, ami3, tso3$"):
        normalize(name)


def test_the_five_pipelines_and_their_facts():
    assert list(PIPELINES) == ["image3", "spec3", "coron3", "ami3", "tso3"]
    assert [class_alias(key) for key in PIPELINES] == [f"calwebb_{key}" for key in PIPELINES]
    assert {key: feature_set_for(key) for key in PIPELINES} == {
        "image3": "image3", "spec3": "spec3", "coron3": "image3", "ami3": "image3", "tso3": "spec3"}
    assert MEMBER_EXPTYPES["spec3"] == ("science", "background", "imprint")
    assert MEMBER_EXPTYPES["coron3"] == MEMBER_EXPTYPES["ami3"] == ("science", "psf")
    assert [key for key, p in PIPELINES.items() if p.per_integration] == ["coron3", "ami3", "tso3"]


def test_every_pipeline_belongs_to_exactly_one_exp_mode():
    assert list(EXP_MODE_FEATURE_SET) == ["image", "spec"]
    covered = [key for keys in EXP_MODE_PIPELINES.values() for key in keys]
    assert sorted(covered) == sorted(PIPELINES)
    # the training tables' modes as written before pipelines.py existed, and each pipeline's, alias or key
    assert dict(EXP_MODE_PIPELINES) == {"image": ("image3", "coron3", "ami3"), "spec": ("spec3", "tso3")}
    expected = {"image3": "image", "coron3": "image", "ami3": "image", "spec3": "spec", "tso3": "spec"}
    assert {key: exp_mode_for(key) for key in expected} == expected
    assert {key: exp_mode_for(f"CALWEBB_{key.upper()}") for key in expected} == expected


def test_the_vocabulary_cannot_be_changed_by_a_caller():
    with pytest.raises(TypeError):
        PIPELINES["image2"] = PIPELINES["image3"]
    with pytest.raises(TypeError):
        MEMBER_EXPTYPES["image3"] = ("science", "psf")


def test_the_vocabulary_imports_nothing_from_the_package():
    tree = ast.parse(Path(pipelines.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.startswith("jwst_memest") or name == ""]


def _spelled_vocabulary(source: str) -> list[int]:
    """Lines of code (docstrings and messages aside) that spell out the vocabulary pipelines.py owns:
    the class-alias prefix, a pipeline's class alias, or a table of pipelines' feature sets, exp modes or
    members."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    formatted = {id(value) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for value in node.values}
    aliases = {f"calwebb_{key}" for key in PIPELINES}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings | formatted:
            if node.value.lower() in {"calwebb_", *aliases}:
                lines.append(node.lineno)
        elif isinstance(node, ast.Dict) and node.keys:
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            values = [v.value for v in node.values if isinstance(v, ast.Constant)]
            if len(set(keys) & set(PIPELINES)) >= 2 and values and set(values) <= set(PIPELINES) | {"image", "spec"}:
                lines.append(node.lineno)  # e.g. {"coron3": "image3", "ami3": "image3"}
            if set(keys) >= {"image", "spec"} and any(isinstance(e, ast.Constant) and e.value in PIPELINES
                                                      for v in node.values if isinstance(v, ast.Tuple) for e in v.elts):
                lines.append(node.lineno)  # e.g. {"image": ("image3", "coron3", "ami3"), ...}
    return sorted(lines)


def test_no_other_module_spells_out_pipeline_names():
    spelled = [f"{path.relative_to(PACKAGE)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
               if path.name != "pipelines.py" for line in _spelled_vocabulary(path.read_text())]
    assert spelled == []


def test_the_spelling_check_sees_each_spelling():
    source = '''"""calwebb_image3 in a docstring is prose."""
def f(name):
    """And here: calwebb_spec3."""
    key = name.removeprefix("calwebb_")
    alias = "calwebb_tso3"
    sets = {"coron3": "image3", "ami3": "image3"}
    modes = {"image": ("image3", "coron3"), "spec": ("spec3",)}
    message = f"calwebb_{key} is fine: it is formatted"
    return {"image3": 1.0, "spec3": 2.0}
'''
    assert _spelled_vocabulary(source) == [4, 5, 6, 7]


def test_earlier_import_paths_give_the_same_objects():
    """The names modules exported before pipelines.py existed: still exported (in their ``__all__``), the
    vocabulary's own objects, with the values they had then."""
    from jwst_memest import association, predict, tables
    from jwst_memest.features import schema

    earlier = {
        (schema, "LEVEL3_PIPELINES"): {"image3": "image3", "spec3": "spec3", "coron3": "image3", "ami3": "image3",
                                       "tso3": "spec3"},
        (association, "MEMBER_EXPTYPES"): {"image3": ("science",), "spec3": ("science", "background", "imprint"),
                                           "coron3": ("science", "psf"), "ami3": ("science", "psf"),
                                           "tso3": ("science",)},
        (predict, "EXP_MODE_PIPELINES"): {"image": ("image3", "coron3", "ami3"), "spec": ("spec3", "tso3")},
        (tables, "EXP_MODE_PIPELINE"): {"image": "image3", "spec": "spec3"},
    }
    for (module, name), value in earlier.items():
        assert name in module.__all__, f"{module.__name__}.{name}"
        assert dict(getattr(module, name)) == value
        assert getattr(module, name) is getattr(pipelines, "EXP_MODE_FEATURE_SET" if name == "EXP_MODE_PIPELINE" else name)
    assert "feature_set_for" in schema.__all__ and schema.feature_set_for is feature_set_for
    assert [schema.feature_set_for(f"calwebb_{key}") for key in earlier[(schema, "LEVEL3_PIPELINES")]] == [
        "image3", "spec3", "image3", "image3", "spec3"]


def test_readers_of_pipeline_names_share_normalize():
    from jwst_memest.features.schema import load_schema
    from jwst_memest.hosting import pipeline_of
    from jwst_memest.model.baseline import load_baseline
    from jwst_memest.model.registry import bundle_candidates

    assert load_schema("CALWEBB_TSO3") is load_schema("spec3")
    assert load_baseline("Calwebb_Coron3").pipeline == "coron3"
    assert bundle_candidates("calwebb_ami3")[-1][0].name == "ami3.asdf"
    step = SimpleNamespace(class_alias="memory_estimate", parent=SimpleNamespace(class_alias="calwebb_tso3"))
    assert pipeline_of(step) == "tso3"
    assert pipeline_of(SimpleNamespace(class_alias=None), {"asn_type": "Coron3"}) == "coron3"
    for read in (load_schema, load_baseline, bundle_candidates):
        with pytest.raises(ValueError, match="expected one of image3, spec3, coron3, ami3, tso3"):
            read("image2")


def test_an_association_of_another_level_is_refused_with_the_pipelines_named(tmp_path):
    from jwst_memest.association import AssociationError, load_level3_association

    path = tmp_path / "asn.json"
    path.write_text('{"asn_type": "image2", "products": []}')
    with pytest.raises(AssociationError, match="'image2' is not a Level-3 association .expected one of image3, spec3, coron3, ami3, tso3.$"):
        load_level3_association(path)


def test_an_untyped_association_goes_to_the_pipeline_of_its_science_members(example_asn, tmp_path):
    import shutil

    from jwst_memest.association import AssociationError, load_level3_association
    from jwst_memest.estimation import estimate_association

    raw = json.loads(example_asn.read_text())
    typed = raw["asn_type"]
    for member in raw["products"][0]["members"]:
        shutil.copy(example_asn.parent / member["expname"], tmp_path / member["expname"])
    untyped = tmp_path / "asn_from_list_asn.json"
    untyped.write_text(json.dumps(dict(raw, asn_type="None", asn_rule="DMS_Level3_Base")))
    assert load_level3_association(untyped)[1] == typed  # what jwst's asn_from_list writes
    found, typed_estimate = (estimate_association(p) for p in (untyped, example_asn))
    assert found.pipeline == typed and found.products[0].gb_size == typed_estimate.products[0].gb_size > 0
    alone = tmp_path / "alone" / "asn.json"
    alone.parent.mkdir()
    alone.write_text(untyped.read_text())
    with pytest.raises(AssociationError, match="names no pipeline and no science member was found"):
        load_level3_association(alone)


def test_annotation_names_the_class_alias(example_asn):
    from jwst_memest.estimation import estimate_association

    estimate = estimate_association(example_asn)
    assert {p.annotation()["pipeline"] for p in estimate.products} == {"calwebb_image3"}
