"""calwebb_spec2 of the modes no run measures (NIRSpec): counted, uncalibrated, the bound widened."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from jwst_memest.level2_estimate import estimate_level2_association, estimate_reduction
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.image2 import load_image2_baseline
from jwst_memest.model.spec2_counts import FLAT_PLANES
from jwst_memest.spec2_layout import DETECTOR_COLUMNS, slitlet_rows

FULL = 2048 * 2048


def _nirspec(folder: Path, exp_type: str, suffix: str = "rate", **cards) -> Path:
    values = dict(TELESCOP="JWST", INSTRUME="NIRSPEC", DETECTOR="NRS1", EXP_TYPE=exp_type, READPATT="NRSRAPID",
                  NGROUPS=5, NINTS=1, NFRAMES=1, GROUPGAP=0, SUBARRAY="FULL", SUBSIZE1=2048, SUBSIZE2=2048,
                  GRATING="G395M", FILTER="F290LP")
    values.update(cards)
    primary = fits.PrimaryHDU()
    primary.header.update(values)
    path = folder / f"jw01234001001_01101_00001_nrs1_{suffix}.fits"
    fits.HDUList([primary]).writeto(path)
    return path


def _msa_file(path: Path, slitlets: dict[int, tuple[int, bool]], config: int = 7) -> Path:
    """An MSA metadata file: per slitlet, its shutters and whether it is a background slitlet."""
    rows = [(slitlet, config, 1, "Y" if background else "N", "N" if background or shutter else "Y")
            for slitlet, (shutters, background) in slitlets.items() for shutter in range(shutters)]
    # another configuration's shutters, which the exposure does not use
    rows += [(99, config + 1, 1, "N", "Y")] * 3
    table = Table(rows=rows, names=("slitlet_id", "msa_metadata_id", "dither_point_index", "background",
                                    "primary_source"))
    hdu = fits.table_to_hdu(table)
    hdu.name = "SHUTTER_INFO"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    return path


def _spec2(path, **kwargs):
    stages, missing = estimate_reduction(read_exposure_metadata(path), **kwargs)
    return [s for s in stages if s.pipeline == "calwebb_spec2"], missing


def test_a_nirspec_fixed_slit_is_counted_uncalibrated_with_the_bound_widened(tmp_path):
    (spec2,), missing = _spec2(_nirspec(tmp_path, "NRS_FIXEDSLIT"))
    model = load_image2_baseline()
    assert not missing and not spec2.calibrated
    assert "NIRSpec" in spec2.reasons[0] and "widened" in spec2.reasons[0]
    # the bound: the calibrated ratio, widened by the unmeasured-type factor, plus the environments' margin
    expected = spec2.gb * model.upper_bound.factor(0.95) * model.unmeasured_mode + model.margin_bytes / 1e9
    assert spec2.upper_gb == pytest.approx(expected, rel=1e-9) and model.unmeasured_mode >= 1.25
    # flat_field reads the DFLAT whole: a cube of FLAT_PLANES planes over the full frame
    assert spec2.peak_step == "flat_field"
    assert spec2.breakdown["flat_field"] > (4 * FLAT_PLANES * FULL) / 1e9
    # no run timed it: no wall time rather than one nothing supports
    assert spec2.wall_time_s is None


def test_a_fixed_slit_subarray_extracts_one_slit_not_five(tmp_path):
    (full,), _ = _spec2(_nirspec(tmp_path, "NRS_FIXEDSLIT"))
    one = tmp_path / "one"
    one.mkdir()
    (sub,), _ = _spec2(_nirspec(one, "NRS_FIXEDSLIT", SUBARRAY="SUBS200A1", SUBSIZE1=2048, SUBSIZE2=64))
    assert full.inputs["slit_pixels"] == 5 * sub.inputs["slit_pixels"]
    assert sub.gb < full.gb


def test_a_mos_exposure_is_sized_by_the_slitlets_of_its_msa_file(tmp_path):
    rate = _nirspec(tmp_path, "NRS_MSASPEC", MSAMETFL="jw01234001001_01_msa.fits", MSAMETID=7, PATT_NUM=1)
    stages, missing = _spec2(rate)
    # calwebb_spec2 cannot run without the MSA file either: said, not guessed
    assert not stages and "MSAMETFL" in missing[0] and "jw01234001001_01_msa.fits" in missing[0]
    _msa_file(tmp_path / "jw01234001001_01_msa.fits", {1: (3, False), 2: (3, False), 3: (1, False)})
    (few,), _ = _spec2(rate)
    expected = (2 * slitlet_rows(3) + slitlet_rows(1)) * DETECTOR_COLUMNS
    assert few.inputs["slit_pixels"] == pytest.approx(expected)
    assert "master_background_mos" not in few.breakdown  # no background slitlet
    crowded = tmp_path / "crowded"
    crowded.mkdir()
    rate = _nirspec(crowded, "NRS_MSASPEC", MSAMETFL="jw01234001001_01_msa.fits", MSAMETID=7, PATT_NUM=1)
    _msa_file(crowded / "jw01234001001_01_msa.fits", {**{i: (3, False) for i in range(1, 121)}, 200: (3, True)})
    (many,), _ = _spec2(rate)
    assert many.inputs["background_slit_pixels"] == pytest.approx(slitlet_rows(3) * DETECTOR_COLUMNS)
    # 121 slitlets: the slits copied for the master background and resample_spec outgrow the flats
    assert many.gb > few.gb + 1.0 and many.peak_step in ("master_background_mos", "resample_spec")


def test_a_bots_series_grows_with_its_integrations_in_extract_1d(tmp_path):
    cards = dict(SUBARRAY="SUB2048", SUBSIZE1=2048, SUBSIZE2=32, GRATING="G395H", TSOVISIT=True)
    short, long = tmp_path / "short", tmp_path / "long"
    short.mkdir(), long.mkdir()
    (few,), _ = _spec2(_nirspec(short, "NRS_BRIGHTOBJ", "rateints", NINTS=10, **cards))
    (many,), _ = _spec2(_nirspec(long, "NRS_BRIGHTOBJ", "rateints", NINTS=3000, **cards))
    assert few.peak_step == "flat_field"  # a short series: the flats dominate
    assert many.peak_step == "extract_1d"
    # the series held by the rate model and three copies of its cutout: at least 92 B per science pixel
    assert many.gb > 92 * 3000 * 32 * 2048 / 1e9


def test_a_nirspec_ifu_exposure_peaks_in_cube_build_with_its_cube(tmp_path):
    (ifu,), _ = _spec2(_nirspec(tmp_path, "NRS_IFU", GRATING="G395H"))
    assert ifu.peak_step == "cube_build" and ifu.inputs["cube_voxels"] > 1e6
    assert not ifu.calibrated


def test_background_members_of_a_level2_association_add_bkg_subtract(tmp_path):
    import json

    rate = _nirspec(tmp_path, "NRS_FIXEDSLIT")
    members = [{"expname": rate.name, "exptype": "science"}]
    members += [{"expname": f"jw01234001001_01101_0000{i}_nrs1_rate.fits", "exptype": "background"}
                for i in (2, 3, 4, 5, 6, 7, 8, 9)]
    asn = tmp_path / "jw01234-o001_spec2_00001_asn.json"
    asn.write_text(json.dumps({"asn_type": "spec2", "asn_rule": "Asn_Lv2Spec", "asn_id": "o001",
                               "program": "01234", "asn_pool": "pool", "version_id": None, "code_version": "x",
                               "degraded_status": "none", "target": "1",
                               "products": [{"name": "jw01234001001_01101_00001_nrs1", "members": members}]}))
    _, estimates, failures = estimate_level2_association(asn)
    assert not failures
    (spec2,) = estimates
    assert spec2.inputs["background_exposures"] == 8
    # the science, the last background opened and the average, then each background in float64 and its clipping
    base = load_image2_baseline().coefficients["base_bytes"]
    assert spec2.breakdown["bkg_subtract"] == pytest.approx((base + (88 + 33 * 8) * FULL) / 1e9, abs=1e-4)
    assert spec2.peak_step == "bkg_subtract"
    alone, _ = _spec2(rate)
    assert "bkg_subtract" not in alone[0].breakdown and alone[0].gb < spec2.gb


def test_a_planned_nirspec_spec2_job_gets_the_longest_time_and_a_tier_above_its_bound(tmp_path):
    from jwst_memest.plan.jobs import plan_exposure_job
    from jwst_memest.plan.site import load_site

    rate = _nirspec(tmp_path, "NRS_IFU", GRATING="G395H")
    (spec2,), _ = _spec2(rate)
    site = load_site()
    job = plan_exposure_job(spec2, rate, tmp_path, site)
    # no run timed NIRSpec's spec2: the job is given the site's longest time, not a guess
    assert job.wall_time_s is None and job.kill_time_s == site.max_time_s
    assert job.upper_gb == spec2.upper_gb and site.usable_gb(job.tier_gb) >= spec2.upper_gb


def test_a_nircam_grism_series_is_counted_from_its_first_64_rows(tmp_path):
    def series(folder, rows, nints):
        folder.mkdir()
        primary = fits.PrimaryHDU()
        primary.header.update(TELESCOP="JWST", INSTRUME="NIRCAM", DETECTOR="NRCALONG", EXP_TYPE="NRC_TSGRISM",
                              READPATT="BRIGHT1", NGROUPS=5, NINTS=nints, NFRAMES=1, GROUPGAP=0, TSOVISIT=True,
                              SUBARRAY=f"SUBGRISM{rows}", SUBSIZE1=2048, SUBSIZE2=rows, FILTER="F322W2",
                              PUPIL="GRISMR")
        path = folder / "jw01234001001_01101_00001_nrcalong_rateints.fits"
        fits.HDUList([primary]).writeto(path)
        (estimate,), missing = _spec2(path)
        assert not missing and not estimate.calibrated and "grism" in estimate.reasons[0]
        return estimate

    narrow, wide = series(tmp_path / "a", 64, 1000), series(tmp_path / "b", 256, 1000)
    assert narrow.peak_step == wide.peak_step == "extract_1d"
    # the series of 64 rows is cut whole (and copied three times); of 256 rows, only its first 64 are
    pixels_64, pixels_256 = 1000 * 64 * 2048, 1000 * 256 * 2048
    assert narrow.breakdown["extract_1d"] > (24 + 79) * pixels_64 / 1e9
    assert wide.breakdown["extract_1d"] < (24 + 79) * pixels_256 / 1e9
    assert wide.breakdown["extract_1d"] > (24 * pixels_256 + 79 * pixels_64) / 1e9
