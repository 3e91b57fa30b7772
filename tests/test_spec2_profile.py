"""calwebb_spec2 measured offline for MIRI MRS: the synthetic rate and references, and a whole run (slow)."""

import pytest

from jwst_memest.exposures import ExposureLayout
from jwst_memest.level2_estimate import image2_inputs
from jwst_memest.metadata import read_exposure_metadata

MRS = dict(exp_type="MIR_MRS", detectors=["MIRIFULONG"], filter="N/A", pupil="N/A", channel="34", band="MEDIUM")


def test_an_mrs_rate_and_its_references_are_what_spec2_reads(tmp_path):
    from jwst_memest.profile.spec2 import spec2_arguments, write_spec2_exposure, write_spec2_references

    layout = ExposureLayout.from_plan(MRS)
    rate = write_spec2_exposure(layout, tmp_path / "exposure")
    meta = read_exposure_metadata(rate)
    assert rate.name.endswith("_mirifulong_rate.fits") and meta.level == "rate"
    assert (meta.channel, meta.band, meta.nrows, meta.ncols) == ("34", "MEDIUM", 1024, 1032)
    assert image2_inputs(meta).cube_voxels > 0  # estimated from this header as an IFU exposure
    references = write_spec2_references(layout, tmp_path / "cache")
    assert {"distortion", "specwcs", "regions", "wavelengthrange", "flat", "fringe", "photom", "cubepar",
            "extract1d"} <= set(references) and all(p.is_file() for p in references.values())
    arguments = spec2_arguments(references)
    assert f"--steps.assign_wcs.override_regions={references['regions']}" in arguments
    assert f"--steps.cube_build.override_cubepar={references['cubepar']}" in arguments
    assert "--steps.straylight.override_mrsxartcorr=N/A" in arguments  # not synthesised: the step is skipped
    assert write_spec2_references(layout, tmp_path / "cache") == references  # written once, then reused


@pytest.mark.slow
def test_a_whole_mrs_spec2_run_is_measured_and_within_its_bound(tmp_path):
    from jwst_memest.model.image2 import load_image2_baseline
    from jwst_memest.profile.level2 import run_level2

    layout = ExposureLayout.from_plan(MRS)
    row = run_level2(layout, "spec2", run_id="slow-spec2-mrs", reference_cache=tmp_path / "cache",
                     scratch_root=str(tmp_path), params=MRS)
    assert row["status"] == "ok", row["status"]
    assert "cube_build" in row["step_times"] and "extract_1d" in row["step_times"]
    from jwst_memest.profile.fit_image2 import image2_inputs_of_row

    estimate = load_image2_baseline().estimate(image2_inputs_of_row(row))
    assert estimate["peak_step"] == "cube_build" and row["measured_gb"] <= estimate["upper_gb"]


SOSS = dict(exp_type="NIS_SOSS", detectors=["NIS"], filter="CLEAR", pupil="GR700XD", subarray="SUBSTRIP96",
            subarray_shape=[2048, 96], tso_visit=True, ngroups=5, nints=10)


def test_soss_references_carry_each_orders_wavelengths_as_assign_wcs_reads_them(tmp_path):
    import asdf

    from jwst_memest.profile.soss_references import SOSS_ORDERS
    from jwst_memest.profile.spec2 import write_spec2_references

    references = write_spec2_references(ExposureLayout.from_plan(SOSS), tmp_path)
    assert {"specwcs", "flat", "pastasoss", "specprofile", "speckernel", "photom"} <= set(references)
    with asdf.open(references["specwcs"]) as handle:
        for order, spec in SOSS_ORDERS.items():
            # jwst's niriss_soss passes (row, column); the wavelength follows the column
            first, last = spec["wavelengths"]
            assert handle.tree[order](50.0, 0.0) == pytest.approx(first)
            assert handle.tree[order](10.0, spec["cutoff"] - 1.0) == pytest.approx(last)


@pytest.mark.slow
def test_a_whole_soss_spec2_run_is_measured_and_within_its_bound(tmp_path):
    from jwst_memest.model.image2 import load_image2_baseline
    from jwst_memest.profile.fit_image2 import image2_inputs_of_row
    from jwst_memest.profile.level2 import run_level2

    row = run_level2(ExposureLayout.from_plan(SOSS), "spec2", run_id="slow-spec2-soss",
                     reference_cache=tmp_path / "cache", scratch_root=str(tmp_path), params=SOSS)
    assert row["status"] == "ok", row["status"]
    estimate = load_image2_baseline().estimate(image2_inputs_of_row(row))
    assert estimate["peak_step"] == "extract_1d" and row["measured_gb"] <= estimate["upper_gb"]


WFSS = dict(exp_type="NRC_WFSS", detectors=["NRCALONG"], filter="F444W", pupil="GRISMR", ngroups=5, n_slits=12)


def test_a_wfss_rate_its_catalog_and_references_are_what_spec2_reads(tmp_path):
    from gwcs.wcs import WCS
    from jwst.assign_wcs import nircam
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.spec2 import spec2_arguments, write_spec2_exposure, write_spec2_references

    layout = ExposureLayout.from_plan(WFSS)
    rate = write_spec2_exposure(layout, tmp_path / "exposure")
    meta = read_exposure_metadata(rate)
    assert meta.source_catalog and (rate.parent / meta.source_catalog).is_file()
    inputs = image2_inputs(meta)
    assert inputs.wfss and inputs.cutouts == 24  # 12 sources x orders 1 and 2
    references = write_spec2_references(layout, tmp_path / "cache")
    assert {"distortion", "filteroffset", "specwcs", "wavelengthrange", "bkg", "flat", "photom"} <= set(references)
    arguments = spec2_arguments(references, wfss=True)
    assert "--steps.assign_wcs.sip_approx=false" in arguments
    assert f"--steps.extract_2d.override_wavelengthrange={references['wavelengthrange']}" in arguments
    # the catalog's sources land where jwst's own grism WCS puts them: on the detector
    with datamodels.open(rate) as model:
        wcs = WCS(nircam.wfss(model, {k: str(references[k]) for k in ("distortion", "filteroffset", "specwcs")}))
    from astropy.table import QTable

    catalog = QTable.read(rate.parent / meta.source_catalog)
    x, y, *_ = wcs.backward_transform(catalog["sky_centroid"].ra.deg, catalog["sky_centroid"].dec.deg, 4.3, 1)
    assert ((0 < y) & (y < 2048)).all()  # GRISMR disperses along rows: each trace on its source's row
    assert abs(y - catalog["ycentroid"]).max() < 10


@pytest.mark.slow
def test_a_whole_wfss_spec2_run_is_measured_and_within_its_bound(tmp_path):
    from jwst_memest.model.image2 import load_image2_baseline
    from jwst_memest.profile.fit_image2 import image2_inputs_of_row
    from jwst_memest.profile.level2 import run_level2

    row = run_level2(ExposureLayout.from_plan(WFSS), "spec2", run_id="slow-spec2-wfss",
                     reference_cache=tmp_path / "cache", scratch_root=str(tmp_path), params=WFSS)
    assert row["status"] == "ok", row["status"]
    assert row["slits"] == 24 and "extract_2d" in row["step_times"]
    estimate = load_image2_baseline().estimate(image2_inputs_of_row(row))
    assert row["measured_gb"] <= estimate["upper_gb"]


@pytest.mark.slow
def test_a_wfss_spec2_run_with_wfss_contam_is_measured_and_its_dispersion_counted(tmp_path):
    from jwst_memest.model.image2 import load_image2_baseline
    from jwst_memest.profile.fit_image2 import image2_inputs_of_row
    from jwst_memest.profile.level2 import run_level2

    params = {**WFSS, "n_slits": 6}
    row = run_level2(ExposureLayout.from_plan(params), "spec2", settings=[("wfss_contam.skip", False)],
                     run_id="slow-spec2-wfss-contam", reference_cache=tmp_path / "cache",
                     scratch_root=str(tmp_path), params=params)
    assert row["status"] == "ok", row["status"]
    assert row["segment_pixels"] > 0 and row["dispersed_pixels"] > 0
    inputs = image2_inputs_of_row(row)
    # the row carries its traces' geometry, so the estimate counts where they land
    assert inputs.contam_geometry is not None and len(inputs.contam_geometry.pixels) == 6
    estimate = load_image2_baseline().estimate(inputs)
    assert estimate["calibrated"]
    # wfss_contam's chunk is the run's peak, and the count from jwst's arrays holds it within 10 %
    assert estimate["peak_step"] == "wfss_contam" and row["measured_gb"] <= estimate["upper_gb"]
    assert estimate["gb"] == pytest.approx(row["measured_gb"], rel=0.10)
