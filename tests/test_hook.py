"""MemoryEstimateStep as a pre-hook of calwebb_image3 and calwebb_spec3."""

import json
import logging
import os
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from jwst_memest.step import MemoryEstimateStep

HOOK = "jwst_memest.MemoryEstimateStep,"


def _snapshot(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def _run(args, cwd, **env):
    environment = dict(os.environ, **env)
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


def _parameter_file(name: str) -> str:
    return str(resources.files("jwst_memest").joinpath("data", "hooks", name))


def _check_the_hooked_image3_run(directory, asn, before, result):
    log = result.stdout + result.stderr
    assert "Step memory_estimate done" in log
    # the pipeline went on with its own, untouched input (it stops later: no pixel data here)
    assert "Starting calwebb_image3" in log
    after = _snapshot(directory)
    assert {k: after[k] for k in before} == before
    annotated = json.loads((directory / f"{asn.stem}_memest.json").read_text())
    assert annotated["products"][0]["gbSize"] > 0


def test_hook_runs_inside_calwebb_image3(image3_with_the_hook):
    """``strun calwebb_image3 <asn> --pre_hooks=jwst_memest.MemoryEstimateStep,`` (conftest runs it once)."""
    assert image3_with_the_hook[3].args[-1] == f"--pre_hooks={HOOK}"
    _check_the_hooked_image3_run(*image3_with_the_hook)


@pytest.mark.slow
def test_hook_runs_inside_calwebb_image3_from_its_parameter_file(example_dir, example_asn):
    from conftest import name_cal_members

    name_cal_members(example_asn)
    before = _snapshot(example_dir)
    result = _run(["strun", _parameter_file("calwebb_image3_memest.asdf"), example_asn.name], cwd=example_dir)
    _check_the_hooked_image3_run(example_dir, example_asn, before, result)


@pytest.mark.parametrize("name,pipeline", [("calwebb_image3_memest.asdf", "Image3Pipeline"),
                                           ("calwebb_spec3_memest.asdf", "Spec3Pipeline")])
def test_the_shipped_parameter_files_add_the_hook(name, pipeline):
    """In-process; strun runs them end to end in the slow tests."""
    from jwst.stpipe import Step

    host = Step.from_config_file(_parameter_file(name))
    assert type(host).__name__ == pipeline and host.pre_hooks == ["jwst_memest.MemoryEstimateStep"]


@pytest.mark.slow
def test_hook_runs_inside_calwebb_spec3(example_dir, example_asn):
    from conftest import name_cal_members

    name_cal_members(example_asn)
    # spec3 association from the same members: the hook sizes it as spec3
    raw = json.loads(example_asn.read_text())
    raw["asn_type"] = "spec3"
    spec_asn = example_dir / "spec3_asn.json"
    spec_asn.write_text(json.dumps(raw))
    result = _run(["strun", _parameter_file("calwebb_spec3_memest.asdf"), spec_asn.name], cwd=example_dir)
    assert "Step memory_estimate done" in result.stdout + result.stderr
    annotated = json.loads((example_dir / "spec3_asn_memest.json").read_text())
    assert annotated["products"][0]["memory_estimate"]["pipeline"] == "calwebb_spec3"


# the example's upper bounds: 3.53 GB in memory, 2.13 GB on disk
@pytest.mark.parametrize("limit,on_disk_fits", [("3.0", True), ("0.5", False)])
def test_hook_switches_image3_to_on_disk_above_the_limit(example_asn, monkeypatch, caplog, limit, on_disk_fits):
    from jwst.pipeline import Image3Pipeline

    monkeypatch.chdir(example_asn.parent)
    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", limit)
    pipeline = Image3Pipeline(pre_hooks=["jwst_memest.MemoryEstimateStep"])
    assert pipeline.in_memory
    with caplog.at_level(logging.INFO):
        with pytest.raises(Exception):  # noqa: B017 - no pixel data: the pipeline fails after the hook
            pipeline.run(str(example_asn))
    assert pipeline.in_memory is False
    assert "switched calwebb_image3 to in_memory=False" in caplog.text
    product = json.loads((example_asn.parent / f"{example_asn.stem}_memest.json").read_text())["products"][0]
    assert product["memory_estimate"]["pipeline_parameters"] == {"in_memory": False}
    assert any("switched" in w for w in product["memory_estimate"]["warnings"])
    still_over = [r.getMessage() for r in caplog.records if "still exceeds" in r.getMessage()]
    if on_disk_fits:
        assert still_over == []
    else:
        (message,) = still_over
        bound = product["memory_estimate"]["upper_bound_gb"]
        assert product["name"] in message and f"{bound:.2f} GB" in message and "memory_limit 0.50 GB" in message


def test_hook_below_the_limit_changes_nothing(example_asn, monkeypatch, caplog):
    from jwst.pipeline import Image3Pipeline

    monkeypatch.chdir(example_asn.parent)
    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", "1000")
    pipeline = Image3Pipeline(pre_hooks=["jwst_memest.MemoryEstimateStep"])
    with caplog.at_level(logging.INFO):
        with pytest.raises(Exception):  # noqa: B017
            pipeline.run(str(example_asn))
    assert pipeline.in_memory is True
    # the hook did estimate, and found the product below the limit
    assert "memory estimate skipped" not in caplog.text and "switched" not in caplog.text
    product = json.loads((example_asn.parent / f"{example_asn.stem}_memest.json").read_text())["products"][0]
    assert 0 < product["memory_estimate"]["upper_bound_gb"] < 1000
    assert product["memory_estimate"]["pipeline_parameters"] == {"in_memory": True}


def test_spec3_over_the_limit_only_warns(example_dir, example_asn, monkeypatch, caplog):
    from jwst.pipeline import Spec3Pipeline

    raw = json.loads(example_asn.read_text())
    raw["asn_type"] = "spec3"
    spec_asn = example_dir / "spec3_asn.json"
    spec_asn.write_text(json.dumps(raw))
    monkeypatch.chdir(example_dir)
    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", "0.01")
    hook = MemoryEstimateStep(parent=Spec3Pipeline())
    with caplog.at_level(logging.WARNING):
        assert hook.run(str(spec_asn)) is None
    assert "no in_memory switch" in caplog.text


@pytest.mark.parametrize("bad_input,problem", [
    ("missing_asn.json", "missing_asn.json: association file not found"),
    ("not-json", "broken_asn.json: invalid JSON"),
    (42, "cannot estimate from input of type int"),
])
def test_hook_failure_never_aborts_the_host(tmp_path, bad_input, problem, caplog, monkeypatch):
    from jwst.pipeline import Image3Pipeline

    monkeypatch.chdir(tmp_path)
    if bad_input == "not-json":
        bad_input = str(tmp_path / "broken_asn.json")
        Path(bad_input).write_text("{ not json")
    hook = MemoryEstimateStep(parent=Image3Pipeline())
    with caplog.at_level(logging.WARNING):
        assert hook.run(bad_input) is None
    (skipped,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("memory estimate skipped: ")]
    assert problem in skipped  # the warning says why, not only that


def _image_model(detector: str, ra: float, dec: float):
    from stdatamodels.jwst.datamodels import ImageModel

    model = ImageModel(np.zeros((64, 64), dtype=np.float32))
    meta = model.meta
    meta.instrument.name, meta.instrument.detector = "NIRCAM", detector
    meta.instrument.filter, meta.instrument.pupil = "F150W", "CLEAR"
    meta.exposure.type, meta.exposure.nints, meta.exposure.ngroups = "NRC_IMAGE", 1, 5
    meta.subarray.name, meta.subarray.xsize, meta.subarray.ysize = "FULL", 2048, 2048
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = ra, dec, 0.0
    meta.target.ra, meta.target.dec = 53.16, -27.78
    meta.observation.program_number, meta.observation.observation_number = "01234", "001"
    meta.observation.visit_number, meta.observation.visit_group = "001", "03"
    meta.observation.sequence_id, meta.observation.activity_id = "1", "01"
    meta.observation.exposure_number = "00001"
    meta.filename = f"jw01234001001_03101_00001_{detector.lower()}_cal.fits"
    return model


def test_sub_step_hook_estimates_from_a_model_library(tmp_path, monkeypatch):
    from jwst.datamodels import ModelLibrary
    from jwst.pipeline import Image3Pipeline

    monkeypatch.chdir(tmp_path)
    models = [_image_model(d, 53.16 + 0.01 * i, -27.78) for i, d in enumerate(("NRCA1", "NRCA2", "NRCA3"))]
    library = ModelLibrary(models)
    pipeline = Image3Pipeline()
    # as a hook of a sub-step: the pipeline around it says which Level-3 pipeline this is
    result = MemoryEstimateStep(parent=pipeline.tweakreg).run(library)
    assert result is None  # the library passes through untouched
    (written,) = tmp_path.glob("*_memest.json")
    product = json.loads(written.read_text())["products"][0]
    assert product["memory_estimate"]["n_members"] == 3
    assert product["gbSize"] > 0


def test_hook_applies_the_first_saving_that_fits_only_when_asked(example_asn, monkeypatch, caplog):
    from jwst.pipeline import Image3Pipeline

    from jwst_memest.estimation import estimate_association
    from jwst_memest.settings import RunSettings

    def bound(**settings):
        return estimate_association(example_asn, settings=RunSettings(in_memory=False, **settings)).products[0].upper_bound_gb

    no_ctx, no_err = bound(enable_ctx=False), bound(enable_err=False, skip_source_catalog=True)
    assert no_err < no_ctx < bound()
    limit = (no_ctx + no_err) / 2  # on disk, even without the context image, does not fit; without err it does
    monkeypatch.chdir(example_asn.parent)
    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", f"{limit:.4f}")
    monkeypatch.setenv("JWST_MEMEST_APPLY_SAVINGS", "true")
    pipeline = Image3Pipeline(pre_hooks=["jwst_memest.MemoryEstimateStep"])
    with caplog.at_level(logging.INFO):
        with pytest.raises(Exception):  # noqa: B017 - no pixel data: the pipeline fails after the hook
            pipeline.run(str(example_asn))
    assert pipeline.in_memory is False and pipeline.resample.enable_err is False and pipeline.source_catalog.skip
    assert "steps.resample.enable_err=False" in caplog.text
    product = json.loads((example_asn.parent / f"{example_asn.stem}_memest.json").read_text())["products"][0]
    assert product["memory_estimate"]["upper_bound_gb"] <= limit
    assert product["memory_estimate"]["pipeline_parameters"]["steps.resample.enable_err"] is False

    monkeypatch.delenv("JWST_MEMEST_APPLY_SAVINGS")  # not asked: on disk only, and a warning
    pipeline = Image3Pipeline(pre_hooks=["jwst_memest.MemoryEstimateStep"])
    with pytest.raises(Exception):  # noqa: B017
        pipeline.run(str(example_asn))
    assert pipeline.in_memory is False and pipeline.resample.enable_err is True and not pipeline.source_catalog.skip
