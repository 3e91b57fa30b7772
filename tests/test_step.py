"""MemoryEstimateStep standalone: through strun and through Python."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jwst.associations import load_asn

from jwst_memest import MemoryEstimateStep
from jwst_memest.exposures import ExposureLayout


def _strun(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "stpipe", "run", *args] if False else ["strun", *args],
        cwd=cwd, capture_output=True, text=True, env=os.environ.copy(), timeout=300,
    )


def _annotated(path: Path) -> dict:
    return json.loads(path.read_text())


# the class name's strun in the default run: test_bad_input's test_strun_refuses_a_bad_parameter_in_one_line
@pytest.mark.parametrize("step_name", [pytest.param("jwst_memest.MemoryEstimateStep", marks=pytest.mark.slow),
                                       "memory_estimate"])
def test_strun_writes_annotated_association(example_asn, tmp_path, step_name):
    before = example_asn.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    result = _strun(step_name, str(example_asn), cwd=out)
    assert result.returncode == 0, result.stdout + result.stderr
    written = out / f"{example_asn.stem}_memest.json"
    annotated = _annotated(written)
    product = annotated["products"][0]
    assert isinstance(product["gbSize"], float) and product["gbSize"] > 0.1
    block = product["memory_estimate"]
    assert block["upper_bound_gb"] >= product["gbSize"]
    assert block["n_members"] == 16
    assert block["pipeline"] == "calwebb_image3"
    assert block["pipeline_parameters"] == {"in_memory": True}
    assert block["model"]["name"] and block["model"]["version"]
    # the table is logged and the input is untouched
    assert "gbSize" in result.stdout + result.stderr
    assert example_asn.read_bytes() == before
    # the annotated association is still a valid association for jwst
    with written.open() as handle:
        assert load_asn(handle)["products"][0]["name"] == product["name"]


def test_step_is_listed_by_stpipe():
    from stpipe.entry_points import get_steps

    listed = {s.class_alias: s.class_name for s in get_steps()}
    assert listed["memory_estimate"] == "jwst_memest.step.MemoryEstimateStep"


def test_python_call_returns_estimates(example_asn, tmp_path):
    estimates = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path))
    (name, estimate), = estimates.items()
    assert name.startswith("jw01234-o001_t001_nircam_clear-f150w")
    assert estimate["gbSize"] > 0
    assert (tmp_path / f"{example_asn.stem}_memest.json").is_file()


def test_inplace_annotates_the_input(example_asn):
    MemoryEstimateStep.call(str(example_asn), inplace=True)
    assert "gbSize" in _annotated(example_asn)["products"][0]


def test_on_disk_runs_need_less_memory(example_asn, tmp_path):
    in_memory = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path))
    on_disk = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), in_memory=False)
    name = next(iter(in_memory))
    assert on_disk[name]["gbSize"] < in_memory[name]["gbSize"]
    assert on_disk[name]["pipeline_parameters"] == {"in_memory": False}


def test_upper_quantile_widens_the_bound(example_asn, tmp_path):
    low = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), upper_quantile=0.5)
    high = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), upper_quantile=1.0)
    name = next(iter(low))
    assert high[name]["upper_bound_gb"] > low[name]["upper_bound_gb"] >= low[name]["gbSize"]


def test_max_request_caps_only_the_request(association_factory, tmp_path):
    # a 3 x 3 NIRCam SW mosaic: an estimate above the cap
    asn = association_factory(ExposureLayout(mosaic_tiles=(3, 3), tile_step_arcsec=60.0))
    uncapped = MemoryEstimateStep.call(str(asn), output_dir=str(tmp_path))
    capped = MemoryEstimateStep.call(str(asn), output_dir=str(tmp_path), max_request_gb=2.0)
    name = next(iter(capped))
    assert capped[name]["gbSize"] == uncapped[name]["gbSize"] > 2.0
    assert capped[name]["upper_bound_gb"] == uncapped[name]["upper_bound_gb"]
    assert capped[name]["request_gb"] == 2.0
    assert any("max_request_gb" in w and "in_memory=False" in w for w in capped[name]["warnings"])


def test_large_estimates_are_reported_uncapped(association_factory, tmp_path):
    # tiles 1.5 degrees apart: a mosaic of about 2 x 10^10 output pixels
    asn = association_factory(ExposureLayout(mosaic_tiles=(2, 2), tile_step_arcsec=5400.0))
    estimates = MemoryEstimateStep.call(str(asn), output_dir=str(tmp_path), max_request_gb=990.0)
    (estimate,) = estimates.values()
    assert estimate["gbSize"] > 1000.0
    assert estimate["request_gb"] == 990.0


def test_search_path_finds_members_elsewhere(example_dir, tmp_path):
    asn = next(example_dir.glob("*_asn.json"))
    elsewhere = tmp_path / "moved"
    elsewhere.mkdir()
    for fits_file in example_dir.glob("*.fits"):
        fits_file.rename(elsewhere / fits_file.name)
    search_path = f"{tmp_path / 'empty'}:{elsewhere}"  # as on the command line: ':'-separated
    estimates = MemoryEstimateStep.call(str(asn), output_dir=str(tmp_path), search_path=search_path)
    assert next(iter(estimates.values()))["n_members"] == 16
    with pytest.raises(ValueError, match="no member found"):
        MemoryEstimateStep.call(str(asn), output_dir=str(tmp_path))


@pytest.mark.parametrize("asn_type", ["coron3", "ami3", "tso3", "spec3"])
def test_other_level3_pipelines_are_recognised(example_asn, tmp_path, asn_type):
    raw = json.loads(example_asn.read_text())
    raw["asn_type"] = asn_type
    example_asn.write_text(json.dumps(raw))
    (estimate,) = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path)).values()
    assert estimate["pipeline"] == f"calwebb_{asn_type}"
    assert estimate["model"]["kind"] == "physics_baseline"
    assert estimate["gbSize"] > 0
    # NIRCam imaging members: no measured run covers them for these pipelines, and the annotation says so
    assert any(w.startswith("no measured") for w in estimate["warnings"])


def test_output_file_names_the_annotated_association(example_asn, tmp_path):
    MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), output_file="sized")
    assert json.loads((tmp_path / "sized.json").read_text())["products"][0]["gbSize"] > 0


def _with_unestimable_product(asn: Path) -> str:
    """Add a second product whose members are all absent; returns its name."""
    raw = json.loads(asn.read_text())
    good = raw["products"][0]
    absent = dict(good, name=f"{good['name']}-absent",
                  members=[dict(m, expname=f"jw09999001001_03101_{i:05d}_nrca1_cal.fits")
                           for i, m in enumerate(good["members"], start=1)])
    raw["products"].append(absent)
    asn.write_text(json.dumps(raw))
    return absent["name"]


def test_a_product_without_members_fails_alone(example_asn, tmp_path, caplog):
    failed = _with_unestimable_product(example_asn)
    estimates = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path))
    (name, estimate), = estimates.items()
    assert estimate["gbSize"] > 0
    assert list(estimates.failures) == [failed] and "no member found" in estimates.failures[failed]
    # one warning naming it (the run's one-line summary error names it too)
    assert sum(failed in r.getMessage() and "not estimated" in r.getMessage() for r in caplog.records
               if r.levelname == "WARNING") == 1
    good, bad = _annotated(tmp_path / f"{example_asn.stem}_memest.json")["products"]
    assert good["gbSize"] == estimate["gbSize"]
    assert "gbSize" not in bad
    assert bad["memory_estimate"]["status"] == "failed" and "no member found" in bad["memory_estimate"]["reason"]


def test_run_raises_with_the_estimates_when_a_product_failed(example_asn, tmp_path):
    from jwst_memest.step import ProductsNotEstimatedError

    failed = _with_unestimable_product(example_asn)
    with pytest.raises(ProductsNotEstimatedError) as info:
        MemoryEstimateStep(output_dir=str(tmp_path)).run(str(example_asn))
    assert info.value.exit_status == 3 and "\n" not in str(info.value)
    assert "1 of 2 products not estimated" in str(info.value) and failed in str(info.value)
    assert len(info.value.estimates) == 1 and list(info.value.estimates.failures) == [failed]


def test_strun_exit_status_when_some_or_all_products_fail(example_asn, tmp_path):
    assert _strun("memory_estimate", str(example_asn), cwd=tmp_path).returncode == 0
    name = _with_unestimable_product(example_asn)
    some = _strun("memory_estimate", str(example_asn), cwd=tmp_path)
    assert some.returncode == 3, some.stdout + some.stderr
    assert "Traceback" not in some.stdout + some.stderr
    assert "1 of 2 products not estimated" in " ".join(some.stdout.split())  # strun wraps the message
    assert sum(f"{name}: not estimated" in line for line in some.stderr.splitlines()) == 1
    products = _annotated(tmp_path / f"{example_asn.stem}_memest.json")["products"]
    assert [p["memory_estimate"].get("status") for p in products] == [None, "failed"]
    for member in example_asn.parent.glob("*.fits"):
        member.unlink()
    none = _strun("memory_estimate", str(example_asn), cwd=tmp_path)
    assert none.returncode == 2, none.stdout + none.stderr
    assert "1 more products without a member" in " ".join(none.stdout.split())


def test_hook_estimates_the_products_it_can(example_asn, monkeypatch, caplog):
    import logging

    from jwst.pipeline import Image3Pipeline

    name = _with_unestimable_product(example_asn)
    monkeypatch.chdir(example_asn.parent)
    with caplog.at_level(logging.WARNING):
        assert MemoryEstimateStep(parent=Image3Pipeline()).run(str(example_asn)) is None
    assert f"{name}: not estimated" in caplog.text and "memory estimate skipped" not in caplog.text
    good, bad = _annotated(example_asn.parent / f"{example_asn.stem}_memest.json")["products"]
    assert good["gbSize"] > 0 and bad["memory_estimate"]["status"] == "failed"


def test_estimate_function_names_the_failed_products(example_asn):
    from jwst_memest import estimate

    failed = _with_unestimable_product(example_asn)
    products = estimate(str(example_asn))
    assert [p.n_members for p in products] == [16]
    assert list(products.failures) == [failed]
