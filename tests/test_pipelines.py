"""The Level-3 pipeline vocabulary: one module owns it, and every reader of a pipeline name goes through it."""

import ast
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
    for mode, keys in EXP_MODE_PIPELINES.items():
        assert all(exp_mode_for(key) == mode for key in keys)
    assert exp_mode_for("calwebb_tso3") == "spec"


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


def test_no_other_module_spells_out_pipeline_names():
    spelled = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "pipelines.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if 'removeprefix("calwebb_")' in line or '"calwebb_image3": ' in line or '"coron3": "image3"' in line
    ]
    assert not spelled


def test_earlier_import_paths_give_the_same_objects():
    from jwst_memest import association, predict, tables
    from jwst_memest.features import schema

    assert schema.LEVEL3_PIPELINES is pipelines.LEVEL3_PIPELINES and schema.feature_set_for is feature_set_for
    assert association.MEMBER_EXPTYPES is MEMBER_EXPTYPES
    assert predict.EXP_MODE_PIPELINES is EXP_MODE_PIPELINES
    assert tables.EXP_MODE_PIPELINE is EXP_MODE_FEATURE_SET


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


def test_annotation_names_the_class_alias(example_asn):
    from jwst_memest.estimation import estimate_association

    estimate = estimate_association(example_asn)
    assert {p.annotation()["pipeline"] for p in estimate.products} == {"calwebb_image3"}
