"""calwebb_detector1 estimated per exposure from its uncal header: the model against its measured runs,
the exposures users lose jobs on, maximum_cores, and the step's interface."""

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.exposure_estimate import estimate_exposure
from jwst_memest.model.detector1 import load_detector1_baseline, worker_processes
from jwst_memest.settings import RunSettings, SettingsError

CORPUS = Path(__file__).parents[1] / "data" / "corpus" / "detector1.csv"


def _uncal(folder: Path, name: str, **cards) -> Path:
    primary = fits.PrimaryHDU()
    primary.header.update({"TELESCOP": "JWST", "NFRAMES": 1, "GROUPGAP": 0, **cards})
    path = folder / name
    fits.HDUList([primary]).writeto(path)
    return path


@pytest.mark.skipif(not CORPUS.is_file(), reason="the detector1 corpus is not in this checkout")
def test_held_out_runs_are_within_their_bound_and_five_percent_per_instrument():
    from jwst_memest.profile.fit_detector1 import load_detector1_runs

    rows, measured, test, _, table = load_detector1_runs([CORPUS])
    model = load_detector1_baseline()
    estimates = [model.estimate(r) for r in rows]
    gb = np.array([e["gb"] for e in estimates])
    upper = np.array([e["upper_gb"] for e in estimates])
    assert test.sum() >= 8
    assert (measured[test] <= upper[test]).all()
    error = np.abs(gb / measured - 1)
    for instrument in set(table["instrument"]):
        held = test & (table["instrument"] == instrument).to_numpy()
        if held.any():
            assert np.median(error[held]) <= 0.05, instrument


def test_the_exposures_users_lose_jobs_on_get_an_estimate_and_say_whether_it_is_calibrated(tmp_path):
    nircam = _uncal(tmp_path, "jw01234001001_01101_00001_nrca1_uncal.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1",
                    EXP_TYPE="NRC_IMAGE", READPATT="RAPID", NGROUPS=10, NINTS=1, SUBARRAY="FULL",
                    SUBSIZE1=2048, SUBSIZE2=2048)
    miri_tso = _uncal(tmp_path, "jw01234002001_01101_00001_mirimage_uncal.fits", INSTRUME="MIRI", DETECTOR="MIRIMAGE",
                      EXP_TYPE="MIR_IMAGE", TSOVISIT=True, READPATT="FASTR1", NGROUPS=10, NINTS=500,
                      SUBARRAY="SUB256", SUBSIZE1=256, SUBSIZE2=256)
    irs2 = _uncal(tmp_path, "jw01234003001_01101_00001_nrs1_uncal.fits", INSTRUME="NIRSPEC", DETECTOR="NRS1",
                  EXP_TYPE="NRS_IFU", READPATT="NRSIRS2RAPID", NGROUPS=20, NINTS=1, SUBARRAY="FULL",
                  SUBSIZE1=2048, SUBSIZE2=2048)
    full = estimate_exposure(nircam)
    tso = estimate_exposure(miri_tso)
    nrs = estimate_exposure(irs2)
    for estimate in (full, tso, nrs):
        assert 0.3 < estimate.gb < estimate.upper_gb
        assert estimate.peak_step in estimate.breakdown
        assert estimate.breakdown[estimate.peak_step] == pytest.approx(estimate.gb, abs=1e-3)
    # 10 groups of 2048 x 2048: jump's group differences set the peak, as measured on full frames
    assert full.peak_step == "jump" and full.gb > 2.0
    # 500 integrations x 10 groups x 256 x 256 is beyond every measured MIRI ramp: said, and widened
    assert not tso.calibrated and "beyond the measured MIRI runs" in tso.reasons[0]
    assert tso.upper_gb > tso.gb * model_factor() * 1.04
    # IRS2 carries its 3200 raw rows into the estimate
    assert nrs.inputs["raw_rows"] == 3200 and nrs.inputs["ny"] == 2048
    assert nrs.gb > estimate_exposure(irs2, dark_frames=20).gb - 1e-9


def model_factor() -> float:
    return load_detector1_baseline().upper_bound.factor(0.95)


def test_maximum_cores_adds_the_workers_share(tmp_path):
    path = _uncal(tmp_path, "jw01234001001_01101_00001_nrca1_uncal.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1",
                  EXP_TYPE="NRC_IMAGE", READPATT="RAPID", NGROUPS=8, NINTS=1, SUBARRAY="FULL",
                  SUBSIZE1=2048, SUBSIZE2=2048)
    one = estimate_exposure(path, cpus=8)
    two = estimate_exposure(path, RunSettings.from_arguments(["--steps.jump.maximum_cores=2"]), cpus=8)
    half = estimate_exposure(path, RunSettings(jump_maximum_cores="half"), cpus=8)
    assert two.inputs["jump_processes"] == 2 and half.inputs["jump_processes"] == 4
    assert one.breakdown["jump"] < two.breakdown["jump"]
    assert one.breakdown["ramp_fit"] == two.breakdown["ramp_fit"]  # only jump was given cores


def test_maximum_cores_is_read_as_jwst_reads_it():
    assert [worker_processes(v, cpus=8) for v in ("none", "quarter", "half", "all", "3", 20)] == [1, 2, 4, 8, 3, 8]
    with pytest.raises(SettingsError, match="steps.ramp_fit.maximum_cores=0"):
        RunSettings.from_arguments(["--steps.ramp_fit.maximum_cores=0"])


def test_the_step_writes_the_exposure_estimate_beside_the_others(tmp_path):
    from jwst_memest.step import MemoryEstimateStep

    path = _uncal(tmp_path, "jw01234001001_01101_00001_nrca1_uncal.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1",
                  EXP_TYPE="NRC_IMAGE", READPATT="RAPID", NGROUPS=5, NINTS=2, SUBARRAY="SUB160",
                  SUBSIZE1=160, SUBSIZE2=160)
    out = tmp_path / "out"
    out.mkdir()
    result = MemoryEstimateStep.call(str(path), output_dir=str(out),
                                     pipeline_arguments="--steps.ramp_fit.maximum_cores=2")
    written = json.loads((out / "jw01234001001_01101_00001_nrca1_uncal_memest.json").read_text())
    detector1, image2 = written["stages"]  # the uncal's whole reduction before Level 3, in run order
    assert detector1["pipeline"] == "calwebb_detector1" and image2["pipeline"] == "calwebb_image2"
    assert detector1["gbSize"] == result[path.name]["stages"][0]["gbSize"]
    assert detector1["inputs"]["ramp_fit_processes"] == 2
    assert "assumed" in detector1["inputs"]["dark_frames_source"]
    assert image2["inputs"]["ny"] == 160 and image2["inputs"]["nints"] == 1  # a rate image, not per integration


def test_a_file_that_is_not_a_raw_ramp_is_refused_in_one_line(tmp_path):
    cal = _uncal(tmp_path, "jw01234001001_01101_00001_nrca1_cal.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1",
                 EXP_TYPE="NRC_IMAGE", NGROUPS=5, NINTS=1)
    with pytest.raises(ValueError, match="calwebb_detector1 is sized from the raw ramp"):
        estimate_exposure(cal)


def _ramp(ngroups=8, nints=2, size=2048):
    from stdatamodels.jwst.datamodels import RampModel

    model = RampModel()
    model.meta.filename = "jw01234001001_01101_00001_nrca1_uncal.fits"
    model.meta.instrument.name, model.meta.instrument.detector = "NIRCAM", "NRCA1"
    model.meta.exposure.type, model.meta.exposure.readpatt = "NRC_IMAGE", "RAPID"
    model.meta.exposure.ngroups, model.meta.exposure.nints = ngroups, nints
    model.meta.exposure.nframes, model.meta.exposure.groupgap = 1, 0
    model.meta.subarray.name, model.meta.subarray.xsize, model.meta.subarray.ysize = "FULL", size, size
    return model


def test_as_a_detector1_hook_it_runs_jump_and_ramp_fit_in_one_process_above_memory_limit():
    from jwst.pipeline import Detector1Pipeline

    from jwst_memest.step import MemoryEstimateStep

    pipeline = Detector1Pipeline()
    pipeline.jump.maximum_cores, pipeline.ramp_fit.maximum_cores = "2", "all"
    roomy = MemoryEstimateStep(parent=pipeline, memory_limit=1000.0)
    assert roomy.process(_ramp()) is None  # a hook returns nothing: the pipeline's input stays its own
    assert (pipeline.jump.maximum_cores, pipeline.ramp_fit.maximum_cores) == ("2", "all")
    several = roomy.estimation
    tight = MemoryEstimateStep(parent=pipeline.jump, memory_limit=0.5)  # a step's hook finds its pipeline
    tight.process(_ramp())
    assert (pipeline.jump.maximum_cores, pipeline.ramp_fit.maximum_cores) == ("none", "none")
    assert tight.estimation.inputs["jump_processes"] == 1 and tight.estimation.upper_gb < several.upper_gb


def test_as_a_detector1_hook_it_leaves_a_setting_that_already_runs_one_process(monkeypatch, caplog):
    import logging
    import os

    from jwst.pipeline import Detector1Pipeline

    from jwst_memest.step import MemoryEstimateStep

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    pipeline = Detector1Pipeline()
    # a quarter of two cores is one process, as is 1 given as a number: nothing to lower
    pipeline.jump.maximum_cores, pipeline.ramp_fit.maximum_cores = "quarter", 1
    with caplog.at_level(logging.WARNING):
        MemoryEstimateStep(parent=pipeline, memory_limit=0.5).process(_ramp())
    assert (pipeline.jump.maximum_cores, pipeline.ramp_fit.maximum_cores) == ("quarter", 1)
    assert "no setting of this pipeline lowers it" in caplog.text and "one process" not in caplog.text


def test_as_a_pipeline_pre_hook_it_reads_the_uncal_header(tmp_path):
    from jwst.pipeline import Detector1Pipeline

    from jwst_memest.step import MemoryEstimateStep

    path = _uncal(tmp_path, "jw01234001001_01101_00001_nrca1_uncal.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1",
                  EXP_TYPE="NRC_IMAGE", READPATT="RAPID", NGROUPS=8, NINTS=2, SUBARRAY="FULL",
                  SUBSIZE1=2048, SUBSIZE2=2048)
    pipeline = Detector1Pipeline()
    pipeline.jump.maximum_cores = "2"
    hook = MemoryEstimateStep(parent=pipeline, memory_limit=0.5)
    assert hook.process(str(path)) is None
    assert pipeline.jump.maximum_cores == "none"
    assert hook.estimation.inputs["nints"] == 2 and hook.estimation.inputs["ngroups"] == 8


def test_exposures_of_one_readout_are_worked_out_once_and_answer_alike():
    from jwst_memest.model.detector1 import Detector1Baseline, RampInputs

    installed = load_detector1_baseline()
    model = Detector1Baseline(dict(installed.coefficients), installed.upper_bound, installed.version,
                              margin_bytes=installed.margin_bytes, measured_range=installed.measured_range,
                              beyond_range=installed.beyond_range)
    ramp = RampInputs(instrument="NIRCAM", ny=2048, nx=2048, nints=1, ngroups=10)
    first = model.estimate(ramp)
    first["breakdown"]["jump"] = -1.0  # a caller changing its copy changes nothing for the next exposure
    again = model.estimate(RampInputs(instrument="NIRCAM", ny=2048, nx=2048, nints=1, ngroups=10))
    assert again["breakdown"]["jump"] > 0 and again["gb"] == first["gb"]
    assert model.estimate(RampInputs(instrument="NIRCAM", ny=2048, nx=2048, nints=2, ngroups=10))["gb"] > first["gb"]
    # refitted terms are new terms: no answer of the old ones is reused
    model.coefficients["base_bytes"] += 1e9
    assert model.estimate(ramp)["gb"] == pytest.approx(first["gb"] + 1.0)
