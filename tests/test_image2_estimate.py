"""calwebb_image2 estimated per exposure from an uncal, rate or rateints header: the counted terms,
the model against its measured runs, the settings that change it, and the step's interface."""

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.level2_estimate import (SPEC2_NOT_ESTIMATED, estimate_level2, estimate_reduction, image2_inputs,
                                         keeps_integrations)
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.image2 import load_image2_baseline
from jwst_memest.model.image2_terms import image2_step_bytes, spec2_step_bytes
from jwst_memest.model.terms import setting_columns, settings_matrix
from jwst_memest.settings import RunSettings

CORPUS = Path(__file__).parents[1] / "data" / "corpus" / "image2.csv"
SPEC2_CORPUS = CORPUS.with_name("spec2.csv")
DEFAULTS = setting_columns(settings_matrix([None]), 0)


def _header_file(folder: Path, name: str, **cards) -> Path:
    primary = fits.PrimaryHDU()
    primary.header.update({"TELESCOP": "JWST", "NFRAMES": 1, "GROUPGAP": 0, **cards})
    path = folder / name
    fits.HDUList([primary]).writeto(path)
    return path


def _nircam(folder, suffix="rate", **cards):
    values = dict(INSTRUME="NIRCAM", DETECTOR="NRCA1", EXP_TYPE="NRC_IMAGE", READPATT="RAPID", NGROUPS=5, NINTS=1,
                  SUBARRAY="FULL", SUBSIZE1=2048, SUBSIZE2=2048)
    values.update(cards)
    return _header_file(folder, f"jw01234001001_01101_00001_nrca1_{suffix}.fits", **values)


def _bytes(value) -> float:
    return float(np.asarray(value).ravel()[0])


def test_the_counted_steps_follow_the_arrays_jwst_allocates():
    frame, full = 64 * 64, 2048 * 2048
    one = image2_step_bytes(frame * 1000, frame, full, 0.0, 1.0, 144.0, DEFAULTS, 0.0)
    two = image2_step_bytes(frame * 2000, frame, full, 0.0, 1.0, 144.0, DEFAULTS, 0.0)
    # per science pixel: the rate's 20 B, flat_field's 38 B at its peak, photom's 38 B over the kept model
    assert _bytes(two["assign_wcs"]) - _bytes(one["assign_wcs"]) == pytest.approx(20 * frame * 1000)
    assert _bytes(two["flat_field"]) - _bytes(one["flat_field"]) == pytest.approx(38 * frame * 1000)
    assert _bytes(two["photom"]) - _bytes(one["photom"]) == pytest.approx(38 * frame * 1000)
    assert np.isnan(_bytes(one["resample"]))  # a time series is not drizzled
    # the references are read whole: a subarray pays the full frame and a copy of its own cut
    small = image2_step_bytes(frame, frame, full, 0.0, 1.0, 144.0, DEFAULTS, 0.0)
    assert _bytes(small["flat_field"]) > 12 * full and _bytes(small["photom"]) > 4 * full
    drizzled = image2_step_bytes(full, full, full, full, 1.0, 144.0, DEFAULTS, 1.0)
    finer = image2_step_bytes(full, full, full, 4 * full, 4.0, 144.0, DEFAULTS, 1.0)
    assert _bytes(finer["resample"]) > _bytes(drizzled["resample"]) > 144 * full


def test_a_time_series_keeps_its_integrations_and_an_imaging_rate_does_not(tmp_path):
    uncal_tso = read_exposure_metadata(_nircam(tmp_path, "uncal", EXP_TYPE="NRC_TSIMAGE", NINTS=500, SUBARRAY="SUB64P",
                                               SUBSIZE1=64, SUBSIZE2=64))
    rate = read_exposure_metadata(_nircam(tmp_path, "rate", NINTS=4))
    miri_tso = read_exposure_metadata(_header_file(tmp_path, "jw01234002001_01101_00001_mirimage_uncal.fits",
                                                   INSTRUME="MIRI", DETECTOR="MIRIMAGE", EXP_TYPE="MIR_IMAGE",
                                                   TSOVISIT=True, NGROUPS=5, NINTS=300, SUBARRAY="SUB64",
                                                   SUBSIZE1=72, SUBSIZE2=64))
    assert keeps_integrations(uncal_tso) and keeps_integrations(miri_tso) and not keeps_integrations(rate)
    assert image2_inputs(uncal_tso).science_pixels == 500 * 64 * 64
    assert image2_inputs(rate).science_pixels == 2048 * 2048
    assert not image2_inputs(miri_tso).drizzled and image2_inputs(rate).drizzled


def test_settings_change_the_estimate_as_they_change_the_run(tmp_path):
    meta = read_exposure_metadata(_nircam(tmp_path))
    default = estimate_level2(meta)
    finer = estimate_level2(meta, RunSettings(pixel_scale_ratio=0.5))
    skipped = estimate_level2(meta, RunSettings(skip_resample=True))
    assert default.peak_step == "resample" and finer.gb > 1.5 * default.gb
    assert "resample" not in skipped.breakdown and skipped.gb < 0.6 * default.gb


def test_an_uncal_file_is_sized_for_detector1_then_image2_and_spectra_are_said_not_estimated(tmp_path):
    imaging = read_exposure_metadata(_nircam(tmp_path, "uncal", NINTS=2))
    stages, missing = estimate_reduction(imaging)
    assert [s.pipeline for s in stages] == ["calwebb_detector1", "calwebb_image2"] and not missing
    spectra = read_exposure_metadata(_header_file(tmp_path, "jw01234003001_01101_00001_nrs1_uncal.fits",
                                                  INSTRUME="NIRSPEC", DETECTOR="NRS1", EXP_TYPE="NRS_BRIGHTOBJ",
                                                  READPATT="NRSRAPID", NGROUPS=5, NINTS=100, SUBARRAY="SUB2048",
                                                  SUBSIZE1=2048, SUBSIZE2=32))
    stages, missing = estimate_reduction(spectra)
    # NIRSpec's spec2 is counted, not measured: estimated, and said to be uncalibrated
    assert [s.pipeline for s in stages] == ["calwebb_detector1", "calwebb_spec2"] and not missing
    assert not stages[1].calibrated and "NIRSpec" in stages[1].reasons[0]
    lamp = read_exposure_metadata(_header_file(tmp_path, "jw01234003001_01101_00002_nrs1_uncal.fits",
                                               INSTRUME="NIRSPEC", DETECTOR="NRS1", EXP_TYPE="NRS_AUTOWAVE",
                                               READPATT="NRSRAPID", NGROUPS=5, NINTS=1, SUBARRAY="FULL",
                                               SUBSIZE1=2048, SUBSIZE2=2048))
    stages, missing = estimate_reduction(lamp)
    assert [s.pipeline for s in stages] == ["calwebb_detector1"] and missing == [SPEC2_NOT_ESTIMATED]
    lrs = read_exposure_metadata(_header_file(tmp_path, "jw01234004001_01101_00001_mirimage_uncal.fits",
                                              INSTRUME="MIRI", DETECTOR="MIRIMAGE", EXP_TYPE="MIR_LRS-SLITLESS",
                                              TSOVISIT=True, READPATT="FASTR1", NGROUPS=10, NINTS=2000,
                                              SUBARRAY="SLITLESSPRISM", SUBSIZE1=72, SUBSIZE2=416))
    stages, missing = estimate_reduction(lrs)
    assert [s.pipeline for s in stages] == ["calwebb_detector1", "calwebb_spec2"] and not missing
    spec2 = stages[1]
    # the pipeline's two copies of the calibrated cube beside it: extract_1d runs over 80 B per science pixel
    assert spec2.peak_step == "extract_1d" and spec2.inputs["science_pixels"] == 2000 * 72 * 416
    assert spec2.breakdown["extract_1d"] > 80 * 2000 * 72 * 416 / 1e9
    cal = read_exposure_metadata(_nircam(tmp_path, "cal"))
    with pytest.raises(ValueError, match="sized from an uncal, rate or rateints file"):
        estimate_reduction(cal)


def _mrs(folder: Path, detector: str, band: str, suffix: str = "rate") -> Path:
    return _header_file(folder, f"jw01234006001_02101_00001_{detector.lower()}_{suffix}.fits", INSTRUME="MIRI",
                        DETECTOR=detector, EXP_TYPE="MIR_MRS", CHANNEL="12" if detector == "MIRIFUSHORT" else "34",
                        BAND=band, READPATT="FASTR1", NGROUPS=20, NINTS=1, SUBARRAY="FULL", SUBSIZE1=1032,
                        SUBSIZE2=1024)


def test_an_ifu_exposure_holds_its_point_cloud_and_every_cube_it_builds():
    frame, full = 1024 * 1032, 1024 * 1032
    none = spec2_step_bytes(frame, frame, full, 144.0, False, cube_voxels=1e6, ifu_per_pixel=0.0)
    cloud = spec2_step_bytes(frame, frame, full, 144.0, False, cube_voxels=1e6, ifu_per_pixel=200.0)
    more = spec2_step_bytes(frame, frame, full, 144.0, False, cube_voxels=2e6, ifu_per_pixel=200.0)
    assert _bytes(cloud["cube_build"]) - _bytes(none["cube_build"]) == pytest.approx(200.0 * frame)
    # the cube being built (36 B a voxel) and the finished cubes kept for extract_1d (16 B)
    assert _bytes(more["cube_build"]) - _bytes(cloud["cube_build"]) == pytest.approx(52 * 1e6)
    assert _bytes(more["extract_1d"]) - _bytes(cloud["extract_1d"]) == pytest.approx(16 * 1e6)
    assert np.isnan(_bytes(cloud["resample_spec"]))
    lrs = spec2_step_bytes(frame, frame, full, 144.0, True)
    assert np.isnan(_bytes(lrs["cube_build"])) and not np.isnan(_bytes(lrs["resample_spec"]))


def test_an_mrs_exposure_is_sized_for_spec2_by_the_cubes_of_its_channels_and_band(tmp_path):
    short = read_exposure_metadata(_mrs(tmp_path, "MIRIFUSHORT", "SHORT", "uncal"))
    stages, missing = estimate_reduction(short)
    assert [s.pipeline for s in stages] == ["calwebb_detector1", "calwebb_spec2"] and not missing
    spec2 = stages[1]
    assert spec2.peak_step == "cube_build" and spec2.calibrated and spec2.inputs["cube_voxels"] > 5e5
    # the LONG band of channels 1 and 2 spans more wavelength planes than SHORT: more voxels
    long = estimate_level2(read_exposure_metadata(_mrs(tmp_path, "MIRIFUSHORT", "LONG")))
    assert long.inputs["cube_voxels"] > spec2.inputs["cube_voxels"] and long.gb > spec2.gb
    assert long.wall_time_s > 0 and long.wall_time_upper_s >= long.wall_time_s


def _soss(folder: Path, nints: int, subarray: str = "SUBSTRIP256", rows: int = 256) -> Path:
    return _header_file(folder, f"jw01234007001_03101_00001_nis_{nints}_rateints.fits", INSTRUME="NIRISS",
                        DETECTOR="NIS", EXP_TYPE="NIS_SOSS", FILTER="CLEAR", PUPIL="GR700XD", TSOVISIT=True,
                        READPATT="NISRAPID", NGROUPS=5, NINTS=nints, SUBARRAY=subarray, SUBSIZE1=2048,
                        SUBSIZE2=rows)


def test_a_soss_series_holds_atocas_model_and_three_copies_of_its_integrations(tmp_path):
    short, longer = (estimate_level2(read_exposure_metadata(_soss(tmp_path, n))) for n in (10, 110))
    assert short.pipeline == longer.pipeline == "calwebb_spec2" and short.peak_step == "extract_1d"
    # ATOCA's model of the orders: gigabytes whatever the integrations (measured 5.8-6.1 GB at 10)
    assert short.gb > 5.0
    # then the calibrated cube, the pipeline's copy and extract_1d's copy: at least 80 B per science pixel
    pixels = 100 * 2048 * 256
    assert (longer.gb - short.gb) * 1e9 > 80 * pixels
    assert longer.calibrated and longer.wall_time_s > short.wall_time_s


def test_a_soss_box_extraction_drops_atocas_model_as_the_run_does(tmp_path):
    from jwst_memest.model.walltime import spec2_work_terms

    meta = read_exposure_metadata(_soss(tmp_path, 10))
    atoca = estimate_level2(meta)
    box = estimate_level2(meta, RunSettings.from_arguments(["--steps.extract_1d.soss_atoca=false"]))
    # measured at 10 integrations: 6.05 GB with ATOCA, 0.91 GB without
    assert atoca.gb - box.gb > 4.0 and box.gb < 1.5
    assert box.inputs["soss_atoca"] is False and atoca.inputs["soss_atoca"] is True
    # the wall time read back from the record knows the extraction too
    terms = spec2_work_terms([box.inputs, atoca.inputs])
    assert list(terms["atoca"]) == [0.0, 1.0] and terms["soss_box_integration"][0] == 10


@pytest.mark.skipif(not SPEC2_CORPUS.is_file(), reason="the spec2 corpus is not in this checkout")
def test_a_soss_run_killed_at_its_memory_guard_is_estimated_above_the_guard():
    import pandas as pd

    from jwst_memest.profile.fit_image2 import image2_inputs_of_row

    runs = pd.read_csv(SPEC2_CORPUS)
    (killed,) = runs[runs["status"].str.startswith("killed") & (runs["exp_type"] == "NIS_SOSS")].to_dict("records")
    estimate = load_image2_baseline().estimate(image2_inputs_of_row(killed))
    assert estimate["gb"] > killed["measured_gb"]  # the run was stopped at its peak so far: the peak is above


@pytest.mark.skipif(not CORPUS.is_file(), reason="the image2 corpus is not in this checkout")
def test_held_out_runs_are_within_their_bound_and_five_percent_per_mode():
    from jwst_memest.profile.fit_image2 import load_image2_runs, mode_of

    rows, measured, test, _, _ = load_image2_runs([CORPUS, SPEC2_CORPUS])
    model = load_image2_baseline()
    estimates = [model.estimate(r) for r in rows]
    gb = np.array([e["gb"] for e in estimates])
    upper = np.array([e["upper_gb"] for e in estimates])
    assert test.sum() >= 5
    assert (measured[test] <= upper[test]).all()
    modes = np.array([mode_of(r) for r in rows])
    for mode in set(modes[test]):
        held = test & (modes == mode)
        assert np.median(np.abs(gb[held] / measured[held] - 1)) <= 0.05, mode


def test_the_step_writes_the_stages_of_a_rate_file(tmp_path):
    from jwst_memest.step import MemoryEstimateStep

    path = _nircam(tmp_path, "rateints", EXP_TYPE="NRC_TSIMAGE", NINTS=2000, SUBARRAY="SUB64P", SUBSIZE1=64,
                   SUBSIZE2=64)
    result = MemoryEstimateStep.call(str(path), output_dir=str(tmp_path))
    written = json.loads((tmp_path / f"{path.stem}_memest.json").read_text())
    assert [s["pipeline"] for s in written["stages"]] == ["calwebb_image2"]
    assert written["stages"][0]["inputs"]["science_pixels"] == 2000 * 64 * 64
    assert written["stages"][0]["peak_step"] in ("flat_field", "photom")
    assert result[path.name]["stages"][0]["gbSize"] == written["stages"][0]["gbSize"]


def test_as_a_spec2_hook_it_estimates_what_is_measured_and_never_aborts_the_rest(tmp_path, caplog):
    from jwst.pipeline import Spec2Pipeline

    from jwst_memest.step import MemoryEstimateStep

    lrs = _header_file(tmp_path, "jw01234004001_01101_00001_mirimage_rateints.fits", INSTRUME="MIRI",
                       DETECTOR="MIRIMAGE", EXP_TYPE="MIR_LRS-SLITLESS", TSOVISIT=True, NGROUPS=10, NINTS=500,
                       SUBARRAY="SLITLESSPRISM", SUBSIZE1=72, SUBSIZE2=416)
    hook = MemoryEstimateStep(parent=Spec2Pipeline())
    assert hook.run(str(lrs)) is None
    (estimate,) = hook.estimation
    assert estimate.pipeline == "calwebb_spec2" and estimate.inputs["nints"] == 500
    wfss = _header_file(tmp_path, "jw01234005001_01101_00001_nrcalong_rate.fits", INSTRUME="NIRCAM",
                        DETECTOR="NRCALONG", EXP_TYPE="NRC_WFSS", NGROUPS=5, NINTS=1, SUBARRAY="FULL",
                        SUBSIZE1=2048, SUBSIZE2=2048)
    assert MemoryEstimateStep(parent=Spec2Pipeline()).run(str(wfss)) is None  # said, not raised
    assert "memory estimate skipped" in caplog.text and "without SCATFILE" in caplog.text
    miri_wfss = _header_file(tmp_path, "jw01234006001_01101_00001_mirimage_rate.fits", INSTRUME="MIRI",
                             DETECTOR="MIRIMAGE", EXP_TYPE="MIR_WFSS", NGROUPS=5, NINTS=1, SUBARRAY="FULL",
                             SUBSIZE1=1032, SUBSIZE2=1024)
    assert MemoryEstimateStep(parent=Spec2Pipeline()).run(str(miri_wfss)) is None
    assert "not estimated" in caplog.text


def test_as_an_image2_hook_it_estimates_the_exposure_and_never_changes_the_run(tmp_path, monkeypatch):
    from jwst.pipeline import Image2Pipeline

    from jwst_memest.step import MemoryEstimateStep

    path = _nircam(tmp_path)
    monkeypatch.chdir(tmp_path)
    pipeline = Image2Pipeline()
    pipeline.resample.pixel_scale_ratio = 0.5
    hook = MemoryEstimateStep(parent=pipeline, memory_limit=0.5)
    assert hook.process(str(path)) is None
    (estimate,) = hook.estimation
    assert estimate.pipeline == "calwebb_image2" and estimate.inputs["i2d_pixels"] == 4 * 2048 * 2048
    assert pipeline.resample.pixel_scale_ratio == 0.5 and not pipeline.resample.skip
    assert not list(tmp_path.glob("*_memest.json"))  # a hook writes nothing beside the host's files


def _level2_association(folder: Path, names: list[str]) -> Path:
    from jwst.associations.asn_from_list import asn_from_list
    from jwst.associations.lib.rules_level2_base import DMSLevel2bBase

    path = folder / "level2_asn.json"
    path.write_text(asn_from_list(names, rule=DMSLevel2bBase).dump(format="json")[1])
    return path


def test_a_level2_association_is_annotated_per_exposure_and_a_missing_member_named(tmp_path):
    from jwst_memest.step import MemoryEstimateStep

    rate = _nircam(tmp_path, "rate")
    tso = _header_file(tmp_path, "jw01234001001_01101_00002_nrca3_rateints.fits", INSTRUME="NIRCAM", DETECTOR="NRCA3",
                       EXP_TYPE="NRC_TSIMAGE", NGROUPS=5, NINTS=800, SUBARRAY="SUB64P", SUBSIZE1=64, SUBSIZE2=64)
    asn = _level2_association(tmp_path, [rate.name, tso.name, "jw01234001001_01101_00009_nrca1_rate.fits"])
    out = tmp_path / "out"
    out.mkdir()
    result = MemoryEstimateStep.call(str(asn), output_dir=str(out))
    assert list(result.failures) == ["jw01234001001_01101_00009_nrca1"]
    assert "member not found" in result.failures["jw01234001001_01101_00009_nrca1"]
    written = json.loads((out / asn.name).read_text())
    sizes = {p["name"]: p.get("gbSize") for p in written["products"]}
    assert sizes["jw01234001001_01101_00009_nrca1"] is None
    image, series = sizes["jw01234001001_01101_00001_nrca1"], sizes["jw01234001001_01101_00002_nrca3"]
    assert image == result["jw01234001001_01101_00001_nrca1"]["gbSize"] and image > series > 0
    stage = written["products"][1]["memory_estimate"]["stages"][0]
    assert stage["pipeline"] == "calwebb_image2" and stage["inputs"]["nints"] == 800
    assert stage["gbSize"] <= series  # the product's size is the estimate rounded up


def test_a_level3_association_is_not_read_as_level2(tmp_path):
    from jwst_memest.association import AssociationError, load_level2_association

    level3 = tmp_path / "image3_asn.json"
    level3.write_text(json.dumps({"asn_type": "image3", "asn_rule": "candidate_Asn_Lv3Image", "products": [
        {"name": "p", "members": [{"expname": "a_cal.fits", "exptype": "science"}]}]}))
    with pytest.raises(AssociationError, match="is not a Level-2 association"):
        load_level2_association(level3)


class _Toy:
    """A stage model of two kinds: imaging grows from nothing, a series carries a constant of gigabytes."""

    def __init__(self, coefficients):
        self.c = coefficients

    def stages(self, row):
        return {}

    def predict(self, rows):
        return np.array([(self.c["base"] + self.c["per_pixel"] * pixels + self.c["series"] * (kind == "series"))
                         / 1e9 for kind, pixels in rows])


def _toy_runs():
    """Seven imaging runs and five series of the toy model, at known terms."""
    truth = {"base": 3e8, "per_pixel": 40.0, "series": 5.4e9}
    rows = [("imaging", p) for p in (1e6, 4e6, 1e7, 3e7, 6e7, 1e8, 2e8)]
    rows += [("series", p) for p in (5e6, 2e7, 6e7, 1e8, 1.5e8)]
    return truth, rows, _Toy(truth).predict(rows)


def test_the_extrapolation_is_proved_on_each_kinds_largest_runs_even_when_a_kind_always_peaks_high():
    from jwst_memest.profile.stage_fit import StageModelSpec, extrapolation_factor

    truth, rows, measured = _toy_runs()
    spec = StageModelSpec(_Toy, ("base", "per_pixel", "series"), {"base": 2.7e8, "per_pixel": 30.0, "series": 4.4e9})
    no_peaks = [{} for _ in rows]
    # by peak, every series run is above a third of the largest: the fit never sees the series' constant
    by_peak, _ = extrapolation_factor(spec, rows, measured, no_peaks)
    by_kind, detail = extrapolation_factor(spec, rows, measured, no_peaks, sizes=rows)
    assert by_peak > 1.1 and by_kind == pytest.approx(1.05)
    assert "largest size of their kind" in detail


def test_as_a_spec2_hook_above_its_limit_it_names_the_box_extraction_and_leaves_the_run_alone(tmp_path, caplog):
    from jwst.pipeline import Spec2Pipeline

    from jwst_memest.step import MemoryEstimateStep

    pipeline = Spec2Pipeline()
    hook = MemoryEstimateStep(parent=pipeline, memory_limit=4.0)
    assert hook.run(str(_soss(tmp_path, 10))) is None
    (estimate,) = hook.estimation
    assert estimate.upper_gb > 4.0 and "--steps.extract_1d.soss_atoca=false lowers it to" in caplog.text
    assert pipeline.extract_1d.soss_atoca is True  # the science is the user's choice: said, not applied
    box = MemoryEstimateStep(parent=pipeline, memory_limit=4.0)
    pipeline.extract_1d.soss_atoca = False
    box.run(str(_soss(tmp_path, 11)))
    assert box.estimation[0].upper_gb < 4.0  # the host's own setting is followed


def test_an_unmeasured_type_widens_by_the_worst_mode_estimated_by_a_fit_on_the_others():
    from jwst_memest.profile.stage_fit import StageModelSpec, unmeasured_mode_factor

    truth, rows, measured = _toy_runs()
    # the series' own constant starts at less than half its truth: left out, the series is estimated short
    spec = StageModelSpec(_Toy, ("base", "per_pixel", "series"), {"base": 2.7e8, "per_pixel": 30.0, "series": 2.0e9})
    factor, detail = unmeasured_mode_factor(spec, rows, measured, [{} for _ in rows], [kind for kind, _ in rows])
    smallest_series = truth["base"] + truth["per_pixel"] * 5e6 + truth["series"]
    assert factor == pytest.approx(smallest_series / (truth["base"] + truth["per_pixel"] * 5e6 + 2.0e9), rel=0.02)
    assert "(series)" in detail
    # every mode estimated exactly by the others (terms that start at their truth): never below the floor
    close = StageModelSpec(_Toy, ("base", "per_pixel", "series"), truth)
    assert unmeasured_mode_factor(close, rows, measured, [{} for _ in rows], [k for k, _ in rows])[0] == 1.25
