"""The header reader and the synthetic writers share one set of instrument constants, and agree on them."""

import math
import warnings

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.instruments import (BYTES_PER_PIXEL_CAL, EXPOSURE_STEM, IMAGING_PIXEL_SCALE, SPECTRAL_PIXEL_AREA,
                                     exposure_file_name, full_frame, imaging_pixel_scale)
from jwst_memest.metadata import read_exposure_metadata


def test_full_frames_and_pixel_scales():
    assert full_frame("MIRIMAGE") == full_frame("MIRIFULONG") == (1032, 1024)
    assert full_frame("NRCA1") == full_frame("NRS2") == full_frame(None) == (2048, 2048)
    assert imaging_pixel_scale("NRCB4") == 0.0311 and imaging_pixel_scale("NRCALONG") == 0.063
    assert imaging_pixel_scale("MIRIMAGE") == 0.1108 and imaging_pixel_scale("NIS") == 0.0656


def test_exposure_names_follow_the_stem_pattern():
    name = exposure_file_name(1234, 7, 12, "NRCA1", "cal")
    assert name == "jw01234007001_03101_00012_nrca1_cal.fits"
    assert EXPOSURE_STEM.match(name.removesuffix("_cal.fits")).groups() == ("01234", "007", "001")
    assert not EXPOSURE_STEM.match("jw01234-o007_t001_nircam_clear-f150w")


@pytest.mark.parametrize("detector", ["NRCA1", "NRCALONG", "MIRIMAGE", "NIS", "MIRIFUSHORT", "NRS1"])
def test_header_only_exposures_read_back_as_the_constants(tmp_path, detector):
    layout = ExposureLayout(detectors=(detector,), suffix="cal")
    (path,) = write_header_exposures(layout, tmp_path)
    assert path.name == exposure_file_name(layout.program, layout.observation, 1, detector, "cal")
    meta = read_exposure_metadata(path)
    assert (meta.ncols, meta.nrows) == full_frame(detector)
    imaging = detector in IMAGING_PIXEL_SCALE or detector.startswith("NRC")
    expected_scale = imaging_pixel_scale(detector) if imaging else math.sqrt(SPECTRAL_PIXEL_AREA)
    assert meta.pixel_scale == pytest.approx(expected_scale, rel=1e-12)
    # without SUBSIZE (and with a data-less SCI) the reader falls back on the same full frame
    with fits.open(path, mode="update") as hdul:
        del hdul[0].header["SUBSIZE1"], hdul[0].header["SUBSIZE2"]
    meta = read_exposure_metadata(path)
    assert (meta.ncols, meta.nrows) == full_frame(detector)


def test_a_synthetic_cal_member_reads_back_as_the_constants(tmp_path):
    from jwst_memest.profile.synthetic import make_cal_model, save_model, star_field

    layout = ExposureLayout(detectors=("MIRIMAGE",), filter="F770W", pupil="N/A", exp_type="MIR_IMAGE")
    model = make_cal_model(layout, "MIRIMAGE", 1, 1, (0.0, 0.0), star_field(layout, 1, max_stars=100),
                           np.random.default_rng(1))
    arrays = ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat", "area")
    assert sum(getattr(model, name).nbytes for name in arrays) == BYTES_PER_PIXEL_CAL * model.data.size
    path = save_model(model, tmp_path)
    assert path.name == exposure_file_name(layout.program, layout.observation, 1, "MIRIMAGE", "cal")
    meta = read_exposure_metadata(path)
    assert (meta.ncols, meta.nrows) == full_frame("MIRIMAGE")
    assert meta.pixel_scale == pytest.approx(imaging_pixel_scale("MIRIMAGE"), rel=1e-9)


def test_a_synthetic_calints_member_reads_back_as_the_constants(tmp_path):
    from jwst_memest.profile.level3_exposures import write_level3_exposures

    layout = ExposureLayout(exp_type="NRC_TSIMAGE", detectors=("NRCA3",), filter="F210M", pupil="WLP8",
                            subarray="SUB64P", subarray_shape=(64, 64), nints=2)
    (path,) = write_level3_exposures(layout, tmp_path, np.random.default_rng(1))
    assert path.name == exposure_file_name(layout.program, layout.observation, 1, "NRCA3", "calints")
    meta = read_exposure_metadata(path)
    assert meta.pixel_scale == pytest.approx(imaging_pixel_scale("NRCA3"), rel=1e-9)
    assert (meta.pupil, meta.module, meta.channel) == ("WLP8", "A", "SHORT")


@pytest.mark.parametrize("exp_type, options", [
    ("NIS_WFSS", dict(detectors=("NIS",), filter="GR150R", pupil="F150W", n_slits=2)),
    ("NRS_FIXEDSLIT", dict(detectors=("NRS1",), grating="G395M", filter="F290LP", pupil="N/A", n_slits=2)),
])
def test_synthetic_spectra_read_back_as_their_header_only_exposures(tmp_path, exp_type, options):
    from jwst_memest.profile.spectra import write_spec3_exposures

    layout = ExposureLayout(exp_type=exp_type, suffix="cal", **options)
    (written,) = write_spec3_exposures(layout, tmp_path / "cal", np.random.default_rng(1))
    (header_only,) = write_header_exposures(layout, tmp_path / "headers")
    assert written.name == header_only.name
    assert read_exposure_metadata(written).pixel_scale == pytest.approx(read_exposure_metadata(header_only).pixel_scale)


def test_one_instrument_setter_keeps_each_writer_s_empty_pupil():
    from stdatamodels.jwst.datamodels import ImageModel

    from jwst_memest.profile.synthetic import set_instrument

    def pupil_and_warnings(layout, **options):
        model = ImageModel()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            set_instrument(model.meta, layout, "NRCBLONG", **options)
        return model.meta.instrument.pupil, [str(w.message) for w in caught]

    assert pupil_and_warnings(ExposureLayout(pupil="CLEAR")) == ("CLEAR", [])
    assert pupil_and_warnings(ExposureLayout(pupil="N/A"), write_empty_pupil=True) == (None, [])
    assert pupil_and_warnings(ExposureLayout(pupil="")) == (None, [])
    # the calints writer hands an empty PUPIL to the datamodel, whose schema refuses it with a warning
    pupil, caught = pupil_and_warnings(ExposureLayout(pupil=""), write_empty_pupil=True)
    assert pupil is None and any("pupil" in message for message in caught)
    model = ImageModel()
    set_instrument(model.meta, ExposureLayout(), "NRCBLONG")
    meta = model.meta.instrument
    assert (meta.name, meta.detector, meta.filter, meta.channel, meta.module) == ("NIRCAM", "NRCBLONG", "F150W", "LONG", "B")
    assert model.meta.telescope == "JWST"
