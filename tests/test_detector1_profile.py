"""calwebb_detector1 profiling: uncal writer, synthetic references, plan expansion, guard, one real run."""

import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from jwst_memest.profile.corpus import expand_plan
from jwst_memest.profile.detector1 import (DETECTOR1_COLUMNS, build_detector1_corpus, detector1_configuration,
                                           expand_detector1_plan, predicted_peak_gb, step_times, write_uncal)
from jwst_memest.profile.detector1_layouts import LAYOUTS, make_exposure
from jwst_memest.profile.detector1_references import (DETECTOR1_REFTYPES, dark_frames_of, detector1_arguments,
                                                      reference_shape, write_detector1_references)

PLAN = Path(__file__).resolve().parents[1] / "data" / "corpus" / "plan-detector1.yaml"


def test_uncal_has_the_shape_type_and_header_detector1_reads(tmp_path):
    from stdatamodels.jwst import datamodels

    exposure = make_exposure("nircam_sub160", ngroups=3, nints=2, readpatt="BRIGHT2")
    path = write_uncal(exposure, tmp_path / "jw01000001001_01101_00001_nrca1_uncal.fits")
    with datamodels.Level1bModel(path) as model:
        assert model.data.shape == (2, 3, 160, 160)
        assert model.data.dtype == np.uint16
        meta = model.meta
        assert (meta.instrument.name, meta.instrument.detector, meta.exposure.type) == ("NIRCAM", "NRCA1", "NRC_IMAGE")
        assert (meta.exposure.readpatt, meta.exposure.nframes, meta.exposure.groupgap) == ("BRIGHT2", 2, 0)
        assert (meta.exposure.ngroups, meta.exposure.nints) == (3, 2)
        assert (meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart) == ("SUB160", 1889, 1889)
        assert (meta.subarray.xsize, meta.subarray.ysize) == (160, 160)
        assert (meta.subarray.fastaxis, meta.subarray.slowaxis) == (-1, 2)
        assert meta.exposure.group_time == pytest.approx(2 * meta.exposure.frame_time)
        ramps = model.data.astype(float)
        assert (np.diff(ramps.mean(axis=(2, 3)), axis=1) > 0).all()  # the signal grows up the ramp
    assert exposure.uncal_bytes == 2 * 2 * 3 * 160 * 160
    assert path.stat().st_size > exposure.uncal_bytes


@pytest.mark.parametrize("name, shape", [
    ("nircam_full", (2048, 2048)), ("nircam_sub640", (640, 640)), ("miri_full", (1024, 1032)),
    ("miri_tso_sub256", (256, 256)), ("nirspec_irs2", (3200, 2048)), ("nirspec_bots_sub2048", (32, 2048)),
    ("nirspec_bots_sub1024a", (32, 1024)), ("niriss_soss_substrip256", (256, 2048)),
])
def test_layouts_have_the_raw_frame_shape(name, shape):
    exposure = make_exposure(name, ngroups=2, nints=3)
    assert (exposure.ny, exposure.nx) == shape
    assert exposure.ramp_samples == 3 * 2 * shape[0] * shape[1]


def test_irs2_reference_shapes_follow_the_steps_that_read_them():
    exposure = make_exposure("nirspec_irs2", ngroups=4)
    assert exposure.ysize == 2048 and exposure.ny == 3200
    assert reference_shape(exposure, "mask") == (3200, 2048)
    assert reference_shape(exposure, "superbias") == (3200, 2048)
    for reftype in ("saturation", "linearity", "dark", "gain", "readnoise"):
        assert reference_shape(exposure, reftype) == (2048, 2048)


def test_dark_spans_the_readout_frames():
    assert dark_frames_of(make_exposure("nircam_full", ngroups=10, readpatt="MEDIUM8")) == 98
    assert dark_frames_of(make_exposure("nircam_full", ngroups=10, readpatt="RAPID")) == 10
    assert dark_frames_of(make_exposure("nircam_full", ngroups=10), dark_frames=200) == 200
    assert dark_frames_of(make_exposure("niriss_full", ngroups=5, readpatt="NIS")) == 20


def test_references_of_a_subarray_and_their_cache(tmp_path):
    from stdatamodels.jwst import datamodels

    exposure = make_exposure("miri_tso_sub256", ngroups=4, nints=10)
    paths = write_detector1_references(exposure, tmp_path)
    assert set(paths) == {"mask", "saturation", "linearity", "gain", "readnoise", "dark", "reset", "rscd"}
    with datamodels.MaskModel(paths["mask"]) as mask:
        assert mask.dq.shape == (1024, 1032) and mask.meta.subarray.name == "FULL"
    with datamodels.DarkMIRIModel(paths["dark"]) as dark:
        assert dark.data.shape == dark.err.shape == (2, 4, 256, 256)
        assert (dark.meta.subarray.xstart, dark.meta.subarray.ystart) == (413, 51)
        assert (dark.meta.exposure.nframes, dark.meta.exposure.groupgap) == (1, 0)
    with datamodels.ResetModel(paths["reset"]) as reset:
        assert reset.data.shape == (2, 4, 256, 256)
    with datamodels.RSCDModel(paths["rscd"]) as rscd:
        rows = {(r["subarray"], r["readpatt"]) for r in rscd.rscd_group_skip_table}
        assert ("SUB256", "FASTR1") in rows
    stamps = {k: p.stat().st_mtime_ns for k, p in paths.items()}
    again = write_detector1_references(exposure, tmp_path)  # cached: nothing rewritten
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == stamps
    arguments = detector1_arguments(paths)
    assert f"--steps.dark_current.override_dark={paths['dark']}" in arguments
    assert "--steps.superbias.override_superbias=N/A" in arguments
    assert "--steps.refpix.override_refpix=N/A" in arguments
    assert len(arguments) == sum(len(v) for v in DETECTOR1_REFTYPES.values())


def test_nir_dark_of_a_subarray(tmp_path):
    from stdatamodels.jwst import datamodels

    exposure = make_exposure("nircam_sub160", ngroups=3, readpatt="SHALLOW2")
    paths = write_detector1_references(exposure, tmp_path)
    assert "reset" not in paths and "superbias" in paths
    with datamodels.DarkModel(paths["dark"]) as dark:
        assert dark.data.shape == (3 * 2 + 2 * 3, 160, 160)
        assert dark.dq.shape == (160, 160)
    with datamodels.SuperBiasModel(paths["superbias"]) as bias:
        assert bias.data.shape == (160, 160)
    with datamodels.LinearityModel(paths["linearity"]) as linearity:
        assert linearity.coeffs.shape == (5, 2048, 2048)


def test_plan_covers_every_instrument_and_mode():
    plan = yaml.safe_load(PLAN.read_text())
    assert plan["pipeline"] == "detector1"
    configurations = expand_detector1_plan(plan)
    assert [c.run_id for c in configurations] == [c.run_id for c in expand_plan(plan)]  # one id, either way
    assert len({c.run_id for c in configurations}) == len(configurations)
    exposures = [detector1_configuration(dict(c.layout)) for c in configurations]
    per_instrument = Counter(e.instrument for e, _ in exposures)
    assert all(per_instrument[name] >= 15 for name in ("NIRCAM", "MIRI", "NIRSPEC", "NIRISS")), per_instrument
    layouts = {c.layout["layout"] for c in configurations}
    assert {"nircam_full", "nircam_sub640", "miri_full", "miri_tso_sub256", "nirspec_irs2", "nirspec_full",
            "nirspec_bots_sub2048", "niriss_full"} <= layouts
    cores = Counter(dict(c.settings).get("maximum_cores", "1") for c in configurations)
    assert cores["2"] >= 3
    predicted = [predicted_peak_gb(e, dict(c.settings).get("maximum_cores", "1"), d)
                 for c, (e, d) in zip(configurations, exposures)]
    assert sum(p > 9 for p in predicted) <= 2  # the guard refuses only a deliberate few
    # cheap first: the first quarter of the runs is smaller than the last quarter
    quarter = len(predicted) // 4
    assert max(predicted[:quarter]) < min(sorted(predicted[-quarter:])[quarter // 2:])


def test_unknown_layout_or_pattern_is_refused():
    with pytest.raises(ValueError, match="unknown detector1 layout"):
        make_exposure("nircam_nowhere")
    with pytest.raises(ValueError, match="readout pattern"):
        make_exposure("nircam_full", readpatt="SLOWEST")
    assert set(LAYOUTS) >= {"nircam_full", "nirspec_irs2", "miri_full", "niriss_full"}


def test_guard_records_skips_without_running(tmp_path, monkeypatch):
    import jwst_memest.profile.detector1 as detector1

    def refuse(*args, **kwargs):
        raise AssertionError("a guarded run was started")

    monkeypatch.setattr(detector1, "run_detector1", refuse)
    plan = {"pipeline": "detector1", "groups": [
        {"name": "big", "base": {"layout": "nircam_full", "ngroups": 10, "readpatt": "DEEP8"}}]}
    corpus = tmp_path / "d1.csv"
    assert build_detector1_corpus(plan, corpus, memory_guard_gb=1.0, progress=lambda *a, **k: None) == 1
    rows = list(csv.DictReader(corpus.open()))
    assert rows[0]["status"].startswith("skipped: predicted")
    assert rows[0]["dark_frames"] == "188" and rows[0]["readpatt"] == "DEEP8"
    assert list(rows[0]) == DETECTOR1_COLUMNS
    assert build_detector1_corpus(plan, corpus, memory_guard_gb=1.0, progress=lambda *a, **k: None) == 0


def test_step_times_from_a_log():
    lines = [
        "2026-01-01 00:00:00,000 - stpipe.step - INFO - Step Detector1Pipeline running with args x",
        "2026-01-01 00:00:01,000 - stpipe.step - INFO - Step dq_init running with args x",
        "2026-01-01 00:00:03,500 - stpipe.step - INFO - Step dq_init done",
        "2026-01-01 00:00:04,000 - stpipe.step - INFO - Step jump running with args x",
        "2026-01-01 00:00:14,000 - stpipe.step - INFO - Step jump done",
    ]
    assert step_times(lines) == {"dq_init": 2.5, "jump": 10.0}


def test_tree_peak_counts_concurrent_workers(tmp_path):
    """Two children holding ~300 MB at once: the kernel's max RSS sees one, the tree's peak both."""
    from jwst_memest.profile.monitor import measure

    script = ("import multiprocessing as mp, time\n"
              "def hold(_):\n"
              "    block = bytearray(300 * 1024 * 1024)\n"
              "    time.sleep(1.5)\n"
              "    return len(block)\n"
              "if __name__ == '__main__':\n"
              "    with mp.get_context('spawn').Pool(2) as pool:\n"
              "        pool.map(hold, range(2))\n")
    program = tmp_path / "workers.py"  # spawned workers import the main module from its file
    program.write_text(script)
    result = measure([sys.executable, str(program)], interval=0.05, timeout=120)
    assert result.returncode == 0
    assert result.peak_gb < 0.45  # one process at a time
    assert result.peak_tree_gb > 0.6  # both workers at once
    assert result.peak_hwm_sum_gb >= result.peak_tree_gb * 0.95


@pytest.mark.slow
def test_small_detector1_run_end_to_end(tmp_path, monkeypatch):
    """A tiny NIRCam subarray through the real calwebb_detector1 via the corpus command; rerun skips it."""
    from jwst_memest.profile.corpus import main

    monkeypatch.setenv("JWST_MEMEST_DETECTOR1_REFS", str(tmp_path / "refs"))
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"pipeline": "detector1", "groups": [
        {"name": "tiny", "base": {"layout": "nircam_sub160", "ngroups": 4, "nints": 2}}]}))
    corpus = tmp_path / "d1.csv"
    assert main(["--plan", str(plan), "--out", str(corpus), "--memory-guard", "9"]) == 0
    (row,) = list(csv.DictReader(corpus.open()))
    assert row["status"] == "ok", row["status"]
    assert 0.1 < float(row["measured_gb"]) < 3
    assert float(row["measured_gb"]) >= float(row["peak_kernel_gb"])
    peaks, times = json.loads(row["step_peaks"]), json.loads(row["step_times"])
    assert {"dq_init", "saturation", "superbias", "refpix", "linearity", "dark_current", "jump",
            "ramp_fit"} <= set(peaks) & set(times)
    assert (row["instrument"], row["subarray"], row["nints"], row["ngroups"]) == ("NIRCAM", "SUB160", "2", "4")
    assert int(row["dark_bytes"]) > 4 * 160 * 160 * 4
    assert main(["--plan", str(plan), "--out", str(corpus), "--memory-guard", "9"]) == 0
    assert len(list(csv.DictReader(corpus.open()))) == 1
