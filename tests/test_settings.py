"""The run settings that change memory: read as the user gives them to the pipeline, and followed by the estimate."""

import json
import math

import numpy as np
import pytest

from jwst_memest import MemoryEstimateStep
from jwst_memest.cli import main as cli_main
from jwst_memest.estimation import estimate_association
from jwst_memest.features.build import product_features
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.baseline import load_baseline
from jwst_memest.model.terms import context_planes, i2d_bytes, resample_output_bytes, setting_columns, with_settings
from jwst_memest.settings import RunSettings, SettingsError

PARAMETER_FILE = """#ASDF 1.0.0
#ASDF_STANDARD 1.5.0
%YAML 1.1
%TAG ! tag:stsci.edu:asdf/
--- !core/asdf-1.1.0
class: jwst.pipeline.Image3Pipeline
name: calwebb_image3
parameters:
  in_memory: false
steps:
- class: jwst.resample.resample_step.ResampleStep
  name: resample
  parameters:
    pixel_scale_ratio: 0.5
    enable_ctx: false
...
"""


def _member(number: int, ra: float = 10.0, dec: float = 20.0) -> ExposureMetadata:
    return ExposureMetadata(path=f"jw01234001001_03101_{number:05d}_nrca1_cal.fits", level="cal", instrument="NIRCAM",
                            detector="NRCA1", exp_type="NRC_IMAGE", filter="F150W", pupil="CLEAR", subarray="FULL",
                            ncols=2048, nrows=2048, pixel_scale=0.031, ra_ref=ra, dec_ref=dec + number * 1e-4,
                            roll_ref=0.0, exposure_id=f"01234_001_001_03_1_01_{number:05d}")


# ------------------------------------------------------------------ reading the settings

def test_strun_arguments_give_the_settings_and_others_are_ignored():
    settings = RunSettings.from_arguments([
        "--in_memory=false", "--steps.resample.pixel_scale=0.02", "--steps.resample.output_shape=6000,4000",
        "--steps.resample.enable_ctx=False", "--steps.outlier_detection.resample_data=f",
        "--steps.source_catalog.skip=true", "--steps.tweakreg.snr_threshold=5", "--steps.resample.kernel=square"])
    assert settings == RunSettings(in_memory=False, pixel_scale=0.02, output_shape=(6000, 4000), enable_ctx=False,
                                   outlier_resample_data=False, skip_source_catalog=True)


def test_arguments_round_trip_and_defaults_give_none():
    settings = RunSettings(pixel_scale_ratio=0.6, enable_err=False, output_shape=(10, 20), in_memory=False)
    assert RunSettings.from_arguments(settings.arguments()) == settings
    assert RunSettings().arguments() == [] and RunSettings().changed() == {}
    assert settings.changed() == {"in_memory": False, "steps.resample.pixel_scale_ratio": 0.6,
                                  "steps.resample.output_shape": [10, 20], "steps.resample.enable_err": False}


@pytest.mark.parametrize("argument, message", [
    ("--steps.resample.pixel_scale_ratio=0", "pixel_scale_ratio=0: must be a number above 0"),
    ("--steps.resample.pixel_scale=fast", "pixel_scale=fast: must be a number"),
    ("--steps.resample.enable_ctx=maybe", "enable_ctx=maybe: must be true or false"),
    ("--steps.resample.output_shape=100", "output_shape=100: must be two whole numbers"),
])
def test_a_value_the_pipeline_would_refuse_is_one_clear_error(argument, message):
    with pytest.raises(SettingsError, match=message):
        RunSettings.from_arguments([argument])


def test_a_parameter_file_gives_the_settings(tmp_path):
    from stpipe.config_parser import load_config_file

    path = tmp_path / "image3.asdf"
    path.write_text(PARAMETER_FILE)
    assert RunSettings.from_parameters(load_config_file(str(path))) == RunSettings(
        in_memory=False, pixel_scale_ratio=0.5, enable_ctx=False)
    listed = {"parameters": {}, "steps": [{"name": "resample", "parameters": {"enable_err": False}}]}
    assert RunSettings.from_parameters(listed) == RunSettings(enable_err=False)


def test_a_host_pipeline_gives_its_steps_settings():
    from jwst.pipeline import Image3Pipeline

    pipeline = Image3Pipeline(in_memory=False, steps={"resample": {"pixel_scale": 0.04, "report_var": False},
                                                      "source_catalog": {"skip": True}})
    assert RunSettings.from_pipeline(pipeline) == RunSettings(in_memory=False, pixel_scale=0.04, report_var=False,
                                                              skip_source_catalog=True)


# ------------------------------------------------------------------ the output grid follows resample's scale

def test_the_output_grid_follows_pixel_scale_ratio_pixel_scale_and_output_shape():
    members = [_member(i) for i in range(4)]
    default = product_features(members).values["output_pixels"]
    finer = product_features(members, settings=RunSettings(pixel_scale_ratio=0.5)).values["output_pixels"]
    absolute = product_features(members, settings=RunSettings(pixel_scale=0.0155)).values["output_pixels"]
    shaped = product_features(members, settings=RunSettings(output_shape=(5000, 3000))).values["output_pixels"]
    assert finer == pytest.approx(4 * default, rel=0.01)
    assert absolute == pytest.approx(finer, rel=0.01)  # the same scale, given in arcsec
    assert shaped == 5000 * 3000


# ------------------------------------------------------------------ counted terms

def test_the_context_has_one_int32_plane_per_32_members():
    assert list(context_planes([1, 32, 33, 64, 65, 972])) == [1, 1, 2, 2, 3, 31]


def test_each_setting_removes_its_counted_arrays():
    s = setting_columns(np.zeros((1, 0)), 0)  # jwst's defaults
    n_in, n_out, covered, footprint = 2e5, 1e6, 4e5, 1e5

    def resample(pixmap_per_input=0.0, **changes):
        return resample_output_bytes(40, n_in, n_out, covered, footprint, pixmap_per_input,
                                     dict(s, **{k: np.full(1, v) for k, v in changes.items()}))[0]

    assert resample() - resample(enable_ctx=0.0) == 8.0 * covered  # two int32 context planes where members land
    assert resample(report_var=0.0) == resample()  # the variances are still computed, only not reported
    assert resample(enable_err=0.0) == 4.0 * n_out + 4.0 * covered + 8.0 * covered  # data, weight, context


def test_resample_peaks_in_one_phase_not_in_their_sum():
    """The pixel map is freed before the variances are accumulated: a large map replaces the
    accumulation's peak instead of adding to it, and without the variance path it is the peak."""
    s = setting_columns(np.zeros((1, 0)), 0)
    n_in, n_out, covered, footprint = 4e6, 8e6, 8e6, 4e6

    def resample(pixmap_per_input, **changes):
        return resample_output_bytes(4, n_in, n_out, covered, footprint, pixmap_per_input,
                                     dict(s, **{k: np.full(1, v) for k, v in changes.items()}))[0]

    accumulation = resample(0.0)
    assert resample(10.0) == accumulation  # a cheap map stays under the accumulation
    with_map = resample(140.0)
    assert accumulation < with_map < accumulation + 140.0 * n_in
    assert resample(140.0, enable_err=0.0) == 8.0 * n_out + 4.0 * covered + 140.0 * n_in
    assert i2d_bytes(40, n_out, covered, s)[0] - i2d_bytes(40, n_out, covered, dict(s, report_var=np.zeros(1)))[0] \
        == 12.0 * n_out


def test_a_feature_vector_without_settings_is_a_run_at_the_defaults():
    baseline = load_baseline("image3")
    X = product_features([_member(i) for i in range(4)]).vector()[None, :]
    assert baseline.predict(X) == pytest.approx(baseline.predict(with_settings(X, [RunSettings()])))
    lighter = baseline.stages(with_settings(X, [RunSettings(enable_err=False, skip_source_catalog=True)]))
    assert lighter["resample"] < baseline.stages(X)["resample"]
    assert np.isnan(lighter["source_catalog"]).all()


# ------------------------------------------------------------------ the step follows them

def test_the_step_follows_pipeline_arguments_and_writes_them(example_asn, tmp_path):
    plain = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path))
    product = next(iter(plain))
    finer = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path),
                                    pipeline_arguments="--steps.resample.pixel_scale_ratio=0.6")
    assert finer[product]["gbSize"] > 1.3 * plain[product]["gbSize"]
    written = json.loads((tmp_path / f"{example_asn.stem}_memest.json").read_text())
    block = written["products"][0]["memory_estimate"]
    assert block["pipeline_parameters"] == {"in_memory": True, "steps.resample.pixel_scale_ratio": 0.6}


def test_the_step_reads_a_parameter_file(example_asn, tmp_path):
    path = tmp_path / "image3.asdf"
    path.write_text(PARAMETER_FILE)
    estimates = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), pipeline_config=str(path))
    block = next(iter(estimates.values()))
    assert block["pipeline_parameters"] == {"in_memory": False, "steps.resample.pixel_scale_ratio": 0.5,
                                            "steps.resample.enable_ctx": False}


def test_the_command_line_takes_step_arguments_as_the_pipeline_does(example_asn, tmp_path):
    status = cli_main(["estimate", str(example_asn), f"--output_dir={tmp_path}", "--steps.resample.enable_err=false"])
    assert status == 0
    block = json.loads((tmp_path / f"{example_asn.stem}_memest.json").read_text())["products"][0]["memory_estimate"]
    assert block["pipeline_parameters"]["steps.resample.enable_err"] is False


def test_a_bad_setting_is_exit_status_2_with_one_line(example_asn, tmp_path, capsys):
    status = cli_main(["estimate", str(example_asn), f"--output_dir={tmp_path}",
                       "--steps.resample.pixel_scale_ratio=-1"])
    assert status == 2
    assert not list(tmp_path.glob("*.json"))


def test_the_alternatives_offer_each_saving_with_what_makes_it_run(example_asn):
    estimate = estimate_association(example_asn).products[0]
    by_arguments = {tuple(a.get("arguments", ())): a for a in estimate.alternatives}
    no_err = by_arguments[("--steps.resample.enable_err=false", "--steps.source_catalog.skip=true")]
    assert "source_catalog" in no_err["note"]
    no_ctx = by_arguments[("--steps.resample.enable_ctx=false",)]
    everything = [a for a in estimate.alternatives if len(a.get("arguments", ())) == 4][0]
    assert everything["gbSize"] < no_err["gbSize"] <= no_ctx["gbSize"] <= estimate.gb_size
    assert everything["in_memory"] is False


# ------------------------------------------------------------------ absurd grids

def test_a_member_ten_degrees_away_is_named_and_flagged():
    members = [_member(i) for i in range(4)] + [_member(9, ra=10.0, dec=30.0)]
    features = product_features(members)
    assert features.flags == ["implausible_output_grid"]
    [warning] = [w for w in features.warnings if "implausible output grid" in w]
    assert "jw01234001001_03101_00009_nrca1_cal.fits (10.00 deg)" in warning
    assert "_00001_" not in warning
    healthy = product_features([_member(i) for i in range(4)])
    assert healthy.flags == [] and not any("implausible" in w for w in healthy.warnings)
    assert math.isfinite(features.values["output_pixels"])


def test_strun_names_a_member_pointed_ten_degrees_away_and_flags_it(example_asn, tmp_path):
    import subprocess

    from astropy.io import fits

    stray = example_asn.parent / "jw01234001001_03101_00004_nrca4_uncal.fits"
    with fits.open(stray, mode="update") as hdul:
        for key in ("DEC_REF", "CRVAL2"):
            hdul["SCI"].header[key] = hdul["SCI"].header[key] + 10.0
    result = subprocess.run(["strun", "memory_estimate", str(example_asn)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr
    [line] = [l for l in (result.stdout + result.stderr).splitlines() if "implausible output grid" in l]
    assert "jw01234001001_03101_00004_nrca4_cal.fits" in line or "jw01234001001_03101_00004_nrca4_uncal.fits" in line
    block = json.loads((tmp_path / f"{example_asn.stem}_memest.json").read_text())["products"][0]["memory_estimate"]
    assert block["flags"] == ["implausible_output_grid"]


def test_outlier_detection_keeps_its_grid_when_resample_changes_scale():
    from jwst_memest.model.terms import with_settings as inputs

    baseline = load_baseline("image3")
    members = [_member(i) for i in range(4)]

    def stages(settings):
        f = product_features(members, settings=settings)
        X = inputs(f.vector()[None, :], [f.settings], [f.output_area_ratio], [f.psf_input_bytes],
                   [f.outlier_grid_pixels])
        return baseline.stages(X)

    default, finer = stages(RunSettings()), stages(RunSettings(pixel_scale_ratio=0.5))
    assert finer["outlier_detection"][0] == pytest.approx(default["outlier_detection"][0])
    assert finer["resample"][0] > 1.5 * default["resample"][0]
    # a vector without the grid brings resample's grid back to the members' scale
    f = product_features(members, settings=RunSettings(pixel_scale_ratio=0.5))
    without = baseline.stages(inputs(f.vector()[None, :], [f.settings], [f.output_area_ratio]))
    assert without["outlier_detection"][0] == pytest.approx(default["outlier_detection"][0], rel=0.01)


def test_a_file_that_is_no_parameter_file_is_one_line_naming_it(example_asn, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("[unclosed section\nkey\n")
    with pytest.raises(SettingsError, match=f"{bad}: not a pipeline parameter file"):
        RunSettings.from_parameter_file(str(bad))
    status = cli_main(["estimate", str(example_asn), f"--output_dir={tmp_path}", f"--pipeline_config={bad}"])
    assert status == 2 and not list(tmp_path.glob("*_memest.json"))


def test_the_bound_allows_for_a_crowded_field_where_source_catalog_is_near_the_peak():
    """source_catalog follows the scene (measured: 21-28 B per covered output pixel more in a field of
    5 stars per arcsec^2); the headers cannot tell it, so the bound allows for it and the estimate not."""
    from jwst_memest.model.terms import CROWDED_CATALOG_PER_PIXEL, covered_pixels

    baseline = load_baseline("image3")
    names = baseline.schema.names
    X = product_features([_member(i) for i in range(4)]).vector()[None, :]
    on_disk = X.copy()
    on_disk[0, names.index("in_memory")] = 0  # the members' arrays gone: source_catalog is near the peak
    on_disk[0, names.index("output_pixels")] *= 6  # a sparse mosaic: its grid costs source_catalog most
    binds = []
    for row in (X, on_disk):
        gb, upper = baseline.estimate(row)
        stages = baseline.stages(row)
        covered = covered_pixels(row[:, names.index("n_members")], row[:, names.index("member_pixels")],
                                 row[:, names.index("output_pixels")], setting_columns(row, len(names)))
        crowded = (stages["source_catalog"] + CROWDED_CATALOG_PER_PIXEL * covered) / 1e9
        factor = baseline._row_factors(row, 0.95)
        assert upper == pytest.approx(np.maximum(gb, crowded) * factor + baseline.margin_gb)
        binds.append(bool(crowded[0] > gb[0]))
    assert binds == [False, True]  # a dithered stack in memory peaks elsewhere; the sparse mosaic on disk does not
    skipped = with_settings(on_disk, [RunSettings(in_memory=False, skip_source_catalog=True)])
    gb, upper = baseline.estimate(skipped)
    assert upper == pytest.approx(gb * baseline._row_factors(skipped, 0.95) + baseline.margin_gb)
