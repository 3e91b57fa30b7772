"""Synthetic spectroscopic exposures: each spec3 mode's writer, and the header reader seeing them as the
header-only exposures of the same layout (one feature definition for the corpus and the estimator)."""

import json

import numpy as np
import pytest

from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.profile import corpus as corpus_module
from jwst_memest.profile.corpus import Configuration
from jwst_memest.profile.spectra import spec3_arguments, write_spec3_exposures

LAYOUTS = {
    "NRS_MSASPEC": dict(detectors=("NRS1", "NRS2"), grating="G140M", filter="F100LP", pupil="N/A", n_slits=4,
                        dither_points=2, dither_step_arcsec=0.5),
    "NRS_FIXEDSLIT": dict(detectors=("NRS1",), grating="G395M", filter="F290LP", pupil="N/A", n_slits=3,
                          dither_points=2, dither_step_arcsec=0.5),
    "NIS_WFSS": dict(detectors=("NIS",), filter="GR150R", pupil="F150W", n_slits=6, dither_points=2),
    "NRC_WFSS": dict(detectors=("NRCALONG",), filter="F444W", pupil="GRISMR", n_slits=2, dither_points=2),
    "MIR_MRS": dict(detectors=("MIRIFUSHORT", "MIRIFULONG"), filter="N/A", pupil="N/A", band="MEDIUM",
                    dither_points=2, dither_step_arcsec=0.3),
    "NRS_IFU": dict(detectors=("NRS1",), grating="G395H", filter="F290LP", pupil="N/A", dither_points=2,
                    dither_step_arcsec=0.25),
}
COMPARED = ("exp_type", "instrument", "grating", "channel", "band", "n_members", "n_detectors", "n_slits",
            "member_pixels", "member_bytes", "total_input_bytes")


# MIRI MRS writes four full 1032x1024 cal files: slow (NRS_IFU checks the cube in the default run)
@pytest.mark.parametrize("exp_type", [pytest.param(e, marks=pytest.mark.slow) if e == "MIR_MRS" else e for e in LAYOUTS])
def test_cal_files_and_header_only_exposures_give_the_same_features(tmp_path, exp_type):
    layout = ExposureLayout(exp_type=exp_type, **LAYOUTS[exp_type])
    cal = [read_exposure_metadata(p) for p in write_spec3_exposures(layout, tmp_path / "cal", np.random.default_rng(1))]
    header_layout = ExposureLayout(exp_type=exp_type, suffix="cal", **LAYOUTS[exp_type])
    headers = [read_exposure_metadata(p) for p in write_header_exposures(header_layout, tmp_path / "headers")]
    cal_features, header_features = product_features(cal, "spec3"), product_features(headers, "spec3")
    from_cal, from_headers = cal_features.values, header_features.values
    assert {k: from_cal[k] for k in COMPARED} == {k: from_headers[k] for k in COMPARED}
    # a WFSS product's final x1d and c1d: the same from the cal files' SCI headers as from the layout's
    assert cal_features.wfss_products_bytes == pytest.approx(header_features.wfss_products_bytes, nan_ok=True)
    assert np.isfinite(cal_features.wfss_products_bytes) == exp_type.endswith("WFSS")
    expected_slits = LAYOUTS[exp_type].get("n_slits", 0)
    assert from_cal["n_slits"] == expected_slits
    if expected_slits:  # members hold their slits, not a detector image
        assert from_cal["member_bytes"] < 28 * 2048 * 2048
    ifu = exp_type in ("MIR_MRS", "NRS_IFU")
    assert (from_cal["cube_pixels"] > 1e5) == ifu
    if ifu:  # the cube follows the dithers only through their extent: close, not identical
        assert from_cal["cube_pixels"] == pytest.approx(from_headers["cube_pixels"], rel=0.1)


def test_two_mrs_detectors_are_channel_1234():
    layout = ExposureLayout(exp_type="MIR_MRS", detectors=("MIRIFUSHORT", "MIRIFULONG"), filter="N/A", suffix="cal")
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        members = [read_exposure_metadata(p) for p in write_header_exposures(layout, scratch)]
    assert product_features(members, "spec3").values["channel"] == "1234"


def test_cube_pixels_grow_with_spectral_resolution_and_bands(tmp_path):
    def cube(**kw):
        layout = ExposureLayout(exp_type="NRS_IFU", detectors=("NRS1",), filter="F290LP", suffix="cal", **kw)
        members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / str(kw))]
        return product_features(members, "spec3").values["cube_pixels"]

    assert cube(grating="G395H") > 2 * cube(grating="G395M") > 0


def test_ifu_modes_build_and_extract_cubes_and_slit_modes_skip_cube_build(tmp_path):
    ifu = spec3_arguments("NRS_IFU", tmp_path / "nrs")
    assert any(a.startswith("--steps.cube_build.override_cubepar=") for a in ifu)
    assert not any("cube_build.skip" in a or "extract_1d.skip" in a for a in ifu)
    cubepar = next(a.split("=", 1)[1] for a in ifu if "override_cubepar" in a)
    from astropy.io import fits

    assert "MULTICHAN_HIGH_DRIZZLE" in [h.name for h in fits.open(cubepar)]
    slit = spec3_arguments("NRS_MSASPEC", tmp_path / "mos")
    assert "--steps.cube_build.skip=true" in slit and "--steps.extract_1d.override_extract1d=N/A" in slit
    assert not any("resample_spec" in a or "outlier_detection" in a for a in slit)


@pytest.mark.slow
@pytest.mark.parametrize("exp_type", list(LAYOUTS))
def test_end_to_end_profile_of_each_spec3_mode(tmp_path, exp_type):
    layout = {k: list(v) if isinstance(v, tuple) else v for k, v in LAYOUTS[exp_type].items()}
    row = corpus_module.run_configuration(Configuration(f"slow-{exp_type}", {"exp_type": exp_type, **layout}),
                                          scratch_root=str(tmp_path))
    assert row["status"] == "ok", row
    assert row["pipeline"] == "spec3" and row["exp_type"] == exp_type
    assert "cube_build.skip" not in row["pipeline_args"] or exp_type not in ("MIR_MRS", "NRS_IFU")
    assert 0.2 < row["measured_gb"] < 12
    assert json.loads(row["layout"])["exp_type"] == exp_type


def test_spec3_members_without_is_psf_are_science_members(tmp_path):
    from jwst_memest.profile.corpus import _make_association

    layout = ExposureLayout(exp_type="NIS_WFSS", **LAYOUTS["NIS_WFSS"])
    paths = write_spec3_exposures(layout, tmp_path, np.random.default_rng(0))
    asn = json.loads(_make_association(paths, tmp_path, "jw01234-o001_t001_niriss", "spec3").read_text())
    assert [m["exptype"] for m in asn["products"][0]["members"]] == ["science"] * len(paths)


@pytest.mark.slow
def test_a_wfss_product_with_many_sources_is_measured_within_its_bound(tmp_path):
    # 3 members of 100 NIRCam sources (beyond the corpus): the final x1d and c1d set the peak
    from jwst_memest.estimation import estimate_products
    from jwst_memest.model.baseline import WFSS_PRODUCTS_STAGE

    layout = dict(LAYOUTS["NRC_WFSS"], n_slits=100, dither_points=3)
    row = corpus_module.run_configuration(
        Configuration("slow-wfss-products", {"exp_type": "NRC_WFSS", **{k: list(v) if isinstance(v, tuple) else v
                                                                        for k, v in layout.items()}}),
        scratch_root=str(tmp_path))
    assert row["status"] == "ok", row
    headers = [read_exposure_metadata(p) for p in write_header_exposures(
        ExposureLayout(exp_type="NRC_WFSS", suffix="cal", **layout), tmp_path / "headers")]
    (estimate,) = estimate_products([("p", headers)], "spec3")
    assert estimate.peak_step == WFSS_PRODUCTS_STAGE
    assert estimate.gb_size == pytest.approx(row["measured_gb"], rel=0.1)
    assert row["measured_gb"] <= estimate.upper_bound_gb
