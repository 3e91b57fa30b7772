"""Estimates that explain themselves: per-stage peaks, the peak step, and what a setting would change."""

import json
import tempfile

import pytest

from jwst_memest.annotation import annotate_association
from jwst_memest.estimation import estimate_association, estimate_features
from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import read_exposure_metadata


def _features(layout, pipeline="spec3"):
    with tempfile.TemporaryDirectory() as scratch:
        members = [read_exposure_metadata(p) for p in write_header_exposures(layout, scratch)]
    return product_features(members, pipeline)


def test_the_example_explains_its_peak_and_its_in_memory_alternative(example_asn):
    result = estimate_association(example_asn)
    block = annotate_association(result.raw, result.products)["products"][0]["memory_estimate"]
    gb = result.products[0].gb_size
    assert set(block["breakdown"]) == {"members held in memory", "outlier_detection", "resample", "source_catalog"}
    assert block["breakdown"][block["peak_step"]] == pytest.approx(gb, abs=1e-4)
    assert max(block["breakdown"].values()) == block["breakdown"][block["peak_step"]]
    assert block["breakdown"]["members held in memory"] < gb
    on_disk = {a["in_memory"]: a for a in block["alternatives"] if "arguments" not in a}
    assert on_disk[True]["gbSize"] == pytest.approx(gb, abs=1e-4)
    assert on_disk[False]["gbSize"] < on_disk[True]["gbSize"] <= on_disk[True]["upper_bound_gb"]
    json.dumps(block)


@pytest.mark.parametrize("layout, steps", [
    (ExposureLayout(exp_type="NRS_IFU", detectors=("NRS1",), grating="G395H", filter="F290LP", suffix="cal"),
     {"outlier_detection", "cube_build"}),
    (ExposureLayout(exp_type="NIS_WFSS", detectors=("NIS",), filter="GR150R", pupil="F150W", n_slits=30, suffix="cal"),
     {"extract_1d", "wfss_products"}),
    (ExposureLayout(exp_type="NRS_MSASPEC", detectors=("NRS1",), grating="G395M", filter="F290LP", n_slits=30,
                    suffix="cal"), {"resample_spec"}),
])
def test_each_spec3_mode_names_the_steps_it_runs(layout, steps):
    (estimate,) = estimate_features([("p", _features(layout))], "spec3")
    assert set(estimate.breakdown) == {"members held in memory", *steps}
    assert estimate.peak_step in steps
    assert estimate.breakdown[estimate.peak_step] == pytest.approx(estimate.gb_size)
    assert estimate.alternatives == []  # calwebb_spec3 has no in_memory setting


def test_a_trained_model_shares_out_its_estimate_as_the_physics_does(tmp_path):
    from bundles import write_random_bundle

    from jwst_memest.model.bundle import load_bundle

    layout = ExposureLayout(dither_points=4, suffix="cal")
    named = [("p", _features(layout, "image3"))]
    (physics,) = estimate_features(named, "image3")
    (model,) = estimate_features(named, "image3", estimator=load_bundle(write_random_bundle(tmp_path / "b.asdf")))
    assert model.peak_step == physics.peak_step and model.breakdown_note.startswith("stages of physics_baseline_image3")
    scale = model.gb_size / physics.gb_size
    assert model.breakdown == pytest.approx({k: v * scale for k, v in physics.breakdown.items()})
    assert physics.breakdown_note == ""


def test_the_log_table_shows_the_peak_step(example_asn, tmp_path, caplog):
    import logging

    from jwst_memest import MemoryEstimateStep

    with caplog.at_level(logging.INFO, logger="jwst_memest"):
        estimates = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path))
    table = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("Memory estimates"))
    header, row = table.splitlines()[1:3]
    peak_step = next(iter(estimates.values()))["peak_step"]
    assert "peak step" in header and f" {peak_step} " in row and peak_step in ("outlier_detection", "resample")
