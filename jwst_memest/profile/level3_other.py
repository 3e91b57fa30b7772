"""Synthetic full-size per-integration exposures (calints) for calwebb_coron3, calwebb_ami3 and calwebb_tso3.

- coron3 (NRC_CORON, MIR_4QPM, MIR_LYOT): science and PSF-reference CubeModels of a coronagraphic
  subarray, a suppressed star under the occulter, the imaging WCS of ``synthetic``.
- ami3 (NIS_AMI): science and calibrator CubeModels of SUB80 holding the non-redundant mask's PSF,
  computed with jwst's own ``bp_fix.calcpsf`` from the synthetic NRM pupil of ``references``.
- tso3 imaging (NRC_TSIMAGE, MIR_IMAGE in a TSO visit): a star at the subarray's reference pixel
  that dims during a transit, an int_times table, the imaging WCS.
- tso3 spectroscopy (MIR_LRS-SLITLESS): a spectral trace in SLITLESSPRISM, the spectral WCS jwst's
  own assign_wcs builds from the LRS references of ``references``.
- tso3 NIRISS SOSS (NIS_SOSS, SUBSTRIP256 or SUBSTRIP96): the three GR700XD orders of a star where the
  synthetic PASTASOSS and SPECPROFILE of ``references`` put them, in DN/s as spec2 leaves SOSS.

Members are written as ``ExposureLayout.pointings()`` (science) followed by ``psf_exposures`` PSF
references with IS_PSF; the same layout written header-only (``exposures.write_header_exposures``)
gives the same features. Which steps run and with which references is ``level3_arguments``;
docs/corpus.md says why.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.exposures import (AMI_EXP_TYPES, CORON_EXP_TYPES, ExposureLayout, instrument_of,
                                   level3_pipeline_of)
from jwst_memest.instruments import exposure_file_name, full_frame, imaging_pixel_scale
from jwst_memest.profile.synthetic import add_cosmic_rays, save_model

__all__ = ["write_level3_exposures", "level3_arguments", "LEVEL3_OTHER_SPECTRAL_TSO"]

# Spectroscopic TSO modes this module writes; the other TSO exposure types are imaging
LEVEL3_OTHER_SPECTRAL_TSO = ("MIR_LRS-SLITLESS", "NRS_BRIGHTOBJ", "NRC_TSGRISM")
# microns a NIRCam long-wavelength grism records across the trace (F322W2 passband)
NIRCAM_GRISM_WAVELENGTHS = (2.4, 4.0)
_INTEGRATION_SECONDS = 10.0
# SLITLESSPRISM: first pixel (1-based, full frame) and the slitless reference pixel of the LRS references
_SLITLESS_CORNER = (1, 529)
_SLITLESS_REFERENCE = (38.5, 829.0)
_MJD_START = 60319.4


def _shape(layout: ExposureLayout, detector: str) -> tuple[int, int]:
    """(rows, columns) of one integration."""
    columns, rows = layout.subarray_shape or full_frame(detector)
    return rows, columns


def _int_times(model, start_mjd: float, nints: int) -> None:
    """The per-integration times table tso3 copies into its products and tso_photometry reads."""
    step = _INTEGRATION_SECONDS / 86400.0
    number = np.arange(1, nints + 1)
    start = start_mjd + (number - 1) * step
    columns = [number, start, start + step / 2, start + step]
    model.int_times = np.rec.fromarrays(columns + [c + 0.0008 for c in columns[1:]], dtype=model.get_dtype("int_times"))


def _cube(layout: ExposureLayout, detector: str, number: int, n_exposures: int, is_psf: bool,
          rng: np.random.Generator):
    """A calints CubeModel with the arrays and metadata every member of these pipelines carries."""
    from stdatamodels.jwst.datamodels import CubeModel, dqflags

    from jwst_memest.profile.synthetic import set_instrument, set_observation

    rows, columns = _shape(layout, detector)
    shape = (layout.nints, rows, columns)
    model = CubeModel(data=rng.normal(0.3, 0.02, shape).astype(np.float32))
    model.err = np.full(shape, 0.02, np.float32)
    for name in ("var_poisson", "var_rnoise"):
        setattr(model, name, np.full(shape, 2e-4, np.float32))
    model.var_flat = np.full(shape, 1e-6, np.float32)
    model.area = np.ones((rows, columns), np.float32)
    dq = np.zeros(shape, np.uint32)
    bad = rng.integers(0, rows * columns, max(1, rows * columns // 2000))
    dq.reshape(layout.nints, -1)[:, bad] = dqflags.pixel["DO_NOT_USE"] | dqflags.pixel["HOT"]
    add_cosmic_rays(model.data, dq, rng)
    model.dq = dq

    meta = model.meta
    meta.filename = exposure_file_name(layout.program, layout.observation, number, detector, "calints")
    set_instrument(meta, layout, detector, write_empty_pupil=True)
    instrument = instrument_of(detector)
    meta.exposure.type = layout.exp_type
    meta.exposure.nints, meta.exposure.ngroups, meta.exposure.nframes = layout.nints, layout.ngroups, 1
    meta.exposure.integration_start, meta.exposure.integration_end = 1, layout.nints
    meta.exposure.readpatt = {"NIRCAM": "RAPID", "MIRI": "FASTR1"}.get(instrument, "NISRAPID")
    duration = layout.nints * _INTEGRATION_SECONDS
    start = _MJD_START + number * (duration / 86400.0 + 1e-3)
    meta.exposure.start_time, meta.exposure.end_time = start, start + duration / 86400.0
    meta.exposure.mid_time = start + duration / 2 / 86400.0
    meta.exposure.integration_time = meta.exposure.effective_exposure_time = _INTEGRATION_SECONDS
    meta.exposure.exposure_time = meta.exposure.measurement_time = meta.exposure.duration = duration
    meta.exposure.psf_reference = is_psf
    _int_times(model, start, layout.nints)
    set_observation(meta, layout, number)
    meta.visit.total_exposures = n_exposures * len(layout.detectors)
    meta.visit.tsovisit = level3_pipeline_of(layout) == "tso3"
    meta.visit.start_time = "2024-01-10 10:00:00.000"
    meta.dither.total_points = layout.dither_points
    meta.target.catalog_name = meta.target.proposer_name = layout.target_name
    meta.target.ra, meta.target.dec = layout.target_ra, layout.target_dec
    meta.target.source_type = "POINT"
    meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart = layout.subarray, 1, 1
    meta.subarray.xsize, meta.subarray.ysize = columns, rows
    meta.subarray.fastaxis, meta.subarray.slowaxis = (-1, 2) if instrument == "NIRCAM" else (1, 2)
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    scale = imaging_pixel_scale(detector)
    meta.photometry.conversion_megajanskys = 1.0
    meta.photometry.pixelarea_arcsecsq = scale**2
    meta.photometry.pixelarea_steradians = scale**2 * (math.pi / 180 / 3600) ** 2
    for step in ("assign_wcs", "flat_field", "photom"):
        setattr(meta.cal_step, step, "COMPLETE")
    return model


def _imaging_wcs(model, layout: ExposureLayout, boresight: tuple[float, float]) -> None:
    """The imaging WCS of ``synthetic`` (detector -> v2v3 -> world), its FITS keywords and s_region."""
    from jwst.assign_wcs.pointing import compute_roll_ref
    from jwst.assign_wcs.util import compute_s_region_imaging

    from jwst_memest.profile.synthetic import imaging_wcs

    meta = model.meta
    rows, columns = model.data.shape[-2:]
    scale = imaging_pixel_scale(meta.instrument.detector)
    ra_b = layout.target_ra + boresight[0] / 3600.0 / math.cos(math.radians(layout.target_dec))
    dec_b = layout.target_dec + boresight[1] / 3600.0
    wcs = imaging_wcs(model, ra_b, dec_b, layout.roll, 0.0, 0.0, scale, (rows, columns))
    meta.wcsinfo.v2_ref, meta.wcsinfo.v3_ref, meta.wcsinfo.v3yangle, meta.wcsinfo.vparity = 0.0, 0.0, 0.0, -1
    meta.wcsinfo.roll_ref = compute_roll_ref(0.0, 0.0, layout.roll, ra_b, dec_b, 0.0, 0.0)
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref = ra_b, dec_b
    meta.wcsinfo.crval1, meta.wcsinfo.crval2 = ra_b, dec_b
    meta.wcsinfo.crpix1, meta.wcsinfo.crpix2 = (columns + 1) / 2, (rows + 1) / 2
    meta.wcsinfo.ctype1, meta.wcsinfo.ctype2 = "RA---TAN", "DEC--TAN"
    meta.wcsinfo.cdelt1 = meta.wcsinfo.cdelt2 = scale / 3600.0
    # the aperture's reference pixel (1-based): where tso_photometry centres its aperture
    meta.wcsinfo.siaf_xref_sci, meta.wcsinfo.siaf_yref_sci = (columns + 1) / 2, (rows + 1) / 2
    meta.wcs = wcs
    meta.wcsinfo.s_region = compute_s_region_imaging(wcs, shape=(rows, columns), center=False)


def _gaussian(rows: int, columns: int, x: float, y: float, sigma: float) -> np.ndarray:
    yy, xx = np.indices((rows, columns))
    return np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2).astype(np.float32)


def _coron(layout, detector, number, n_exposures, boresight, is_psf, rng, **_):
    """The star behind the occulter: a residual halo, slightly offset between exposures as real rolls are."""
    model = _cube(layout, detector, number, n_exposures, is_psf, rng)
    _imaging_wcs(model, layout, boresight)
    rows, columns = model.data.shape[-2:]
    x, y = (columns - 1) / 2 + rng.normal(0, 0.3), (rows - 1) / 2 + rng.normal(0, 0.3)
    halo = 50.0 * _gaussian(rows, columns, x, y, 0.08 * min(rows, columns))
    halo *= 1 - _gaussian(rows, columns, x, y, 0.03 * min(rows, columns))  # the occulted core
    model.data += halo[None]
    if layout.extra.get("CORONMSK"):
        model.meta.instrument.coronagraph = layout.extra["CORONMSK"]
    return model


def _ami(layout, detector, number, n_exposures, boresight, is_psf, rng, nrm_psf, **_):
    """The mask's interferogram (jwst's own NRM PSF of the synthetic pupil) in every integration."""
    model = _cube(layout, detector, number, n_exposures, is_psf, rng)
    _imaging_wcs(model, layout, boresight)
    model.meta.wcsinfo.vparity = 1
    model.meta.program.pi_name = "jwst_memest"
    model.meta.target.proper_motion_ra = model.meta.target.proper_motion_dec = 0.0
    model.meta.target.ra_uncertainty = model.meta.target.dec_uncertainty = 1e-4
    flux = 2e4 * (0.9 if is_psf else 1.0)
    model.data += flux * nrm_psf[None] * rng.normal(1.0, 0.01, (layout.nints, 1, 1)).astype(np.float32)
    return model


def _tso_image(layout, detector, number, n_exposures, boresight, is_psf, rng, **_):
    """A star at the aperture's reference pixel whose flux drops 1 % during a transit mid-exposure."""
    model = _cube(layout, detector, number, n_exposures, is_psf, rng)
    _imaging_wcs(model, layout, boresight)
    rows, columns = model.data.shape[-2:]
    star = _gaussian(rows, columns, model.meta.wcsinfo.siaf_xref_sci - 1, model.meta.wcsinfo.siaf_yref_sci - 1, 1.5)
    phase = np.linspace(-1, 1, layout.nints)
    flux = (500.0 * (1 - 0.01 * (np.abs(phase) < 0.3))).astype(np.float32)
    model.data += flux[:, None, None] * star[None]
    return model


def _lrs_slitless(layout, detector, number, n_exposures, boresight, is_psf, rng, references, **_):
    """The prism spectrum down the SLITLESSPRISM rows, with the WCS jwst's assign_wcs builds for it."""
    from jwst.assign_wcs.assign_wcs import load_wcs

    from jwst_memest.profile.references import LRS_SLIT

    model = _cube(layout, detector, number, n_exposures, is_psf, rng)
    meta = model.meta
    meta.subarray.xstart, meta.subarray.ystart = _SLITLESS_CORNER
    meta.instrument.filter = "P750L"
    rows, columns = model.data.shape[-2:]
    x_trace = _SLITLESS_REFERENCE[0] - meta.subarray.xstart
    first, last = (int(r) for r in LRS_SLIT["rows"])
    profile = np.exp(-0.5 * ((np.arange(columns) - x_trace) / 1.3) ** 2).astype(np.float32)
    brightness = np.linspace(50.0, 200.0, last - first).astype(np.float32)
    model.data[:, first:last] += brightness[None, :, None] * profile[None, None, :]
    meta.wcsinfo.v2_ref, meta.wcsinfo.v3_ref, meta.wcsinfo.roll_ref = LRS_SLIT["v2"], LRS_SLIT["v3"], layout.roll
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref = layout.target_ra, layout.target_dec
    meta.wcsinfo.v3yangle, meta.wcsinfo.vparity = 0.0, -1
    meta.velocity_aberration.scale_factor = 1.0
    load_wcs(model, {reftype: str(path) for reftype, path in references.items()})  # also sets s_region
    return model



def _slit_time_series(layout, detector, number, n_exposures, boresight, is_psf, rng, **_):
    """A bright star's spectrum per integration, as spec2's extract_2d leaves it: a SlitModel cube with
    the slit WCS of ``spec_wcs`` (calwebb_tso3, like spec3, only evaluates the WCS attached). NIRSpec:
    the S1600A1 slit; NIRCam grism time series: the subarray's trace."""
    from stdatamodels.jwst.datamodels import SlitModel

    from jwst_memest.instruments import nirspec_wavelengths
    from jwst_memest.profile.spec_wcs import slit_wcs

    cube = _cube(layout, detector, number, n_exposures, is_psf, rng)
    model = SlitModel()
    model.update(cube)
    for name in ("data", "dq", "err", "var_poisson", "var_rnoise", "var_flat", "int_times"):
        setattr(model, name, getattr(cube, name))
    rows, columns = model.data.shape[-2:]
    profile = np.exp(-0.5 * ((np.arange(rows) - (rows - 1) / 2) / 1.2) ** 2).astype(np.float32)
    model.data += 200.0 * profile[None, :, None]
    nirspec = layout.exp_type == "NRS_BRIGHTOBJ"
    if nirspec:
        model.meta.instrument.fixed_slit, model.meta.instrument.grating = "S1600A1", layout.grating
    wcsinfo = model.meta.wcsinfo
    wcsinfo.ra_ref, wcsinfo.dec_ref, wcsinfo.roll_ref = layout.target_ra, layout.target_dec, layout.roll
    wcsinfo.dispersion_direction = 1
    wavelengths = nirspec_wavelengths(layout.grating, detector) if nirspec else NIRCAM_GRISM_WAVELENGTHS
    model.meta.wcs = slit_wcs((rows, columns), wavelengths, layout.target_ra, layout.target_dec,
                              position_angle=layout.roll)
    model.wavelength = model.meta.wcs(*np.indices((rows, columns))[::-1])[2].astype(np.float32)
    model.name = "S1600A1" if nirspec else "1"
    model.xstart, model.ystart, model.xsize, model.ysize = 1, 1, columns, rows
    model.source_type, model.source_xpos, model.source_ypos = "POINT", 0.0, 0.0
    model.meta.bunit_data = model.meta.bunit_err = "MJy"
    return model


def _soss_signal(subarray: str) -> np.ndarray:
    """A bright star's three GR700XD orders over the subarray (DN/s): each order's spatial profile of the
    synthetic SPECPROFILE times its throughput, its dispersion and a photon spectrum falling to the red,
    order 1 reaching 2500-5700 DN/s per pixel, as bright SOSS targets do."""
    from jwst_memest.profile.references import SOSS_COLUMNS, soss_profile, soss_throughput, soss_trace

    signal = 0.0
    for order in (1, 2, 3):
        _, wavelength = soss_trace(order, np.arange(SOSS_COLUMNS))
        dispersion = np.abs(np.gradient(wavelength))  # um per pixel: order 2 spreads the light twice as thin
        column_flux = 2e8 * soss_throughput(order, wavelength) * dispersion / wavelength**2
        signal = signal + soss_profile(order, subarray) * column_flux[None, :].astype(np.float32)
    return signal


def _soss(layout, detector, number, n_exposures, boresight, is_psf, rng, **_):
    """NIRISS SOSS calints as spec2 leaves them (DN/s, photom not yet applied): the traces of the
    synthetic references with photon noise, a 1 % transit mid-exposure, reference pixels flagged."""
    from stdatamodels.jwst.datamodels import dqflags

    from jwst_memest.profile.references import SOSS_PWCPOS, SOSS_SUBARRAY_ROWS

    model = _cube(layout, detector, number, n_exposures, is_psf, rng)
    meta = model.meta
    meta.instrument.filter, meta.instrument.pupil, meta.instrument.pupil_position = "CLEAR", "GR700XD", SOSS_PWCPOS
    meta.subarray.ystart = 1793 + SOSS_SUBARRAY_ROWS[layout.subarray][0]
    meta.subarray.fastaxis, meta.subarray.slowaxis = -2, -1
    meta.bunit_data = meta.bunit_err = "DN/s"
    meta.cal_step.photom = "SKIPPED"
    # the pointing keywords spec2 keeps (a SOSS WCS has no sky frame, so there is no S_REGION)
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = layout.target_ra, layout.target_dec, layout.roll
    signal = _soss_signal(layout.subarray)
    phase = np.linspace(-1, 1, layout.nints)
    depth = (1 - 0.01 * (np.abs(phase) < 0.3)).astype(np.float32)
    var_poisson = signal / _INTEGRATION_SECONDS
    for i in range(layout.nints):  # one integration at a time: no float64 temporaries the size of the cube
        model.var_poisson[i] = depth[i] * var_poisson
        model.err[i] = np.sqrt(model.var_poisson[i] + model.var_rnoise[i])
        model.data[i] += depth[i] * signal + model.err[i] * rng.standard_normal(signal.shape, dtype=np.float32)
    # reference pixels: four columns each side, and the detector's top four rows SUBSTRIP256 includes
    reference = np.zeros(signal.shape, bool)
    reference[:, :4] = reference[:, -4:] = True
    if layout.subarray == "SUBSTRIP256":
        reference[-4:] = True
    model.dq[:, reference] |= dqflags.pixel["REFERENCE_PIXEL"] | dqflags.pixel["DO_NOT_USE"]
    return model


def _writer(layout: ExposureLayout):
    if layout.exp_type in CORON_EXP_TYPES:
        return _coron
    if layout.exp_type in AMI_EXP_TYPES:
        return _ami
    if layout.exp_type == "MIR_LRS-SLITLESS":
        return _lrs_slitless
    if layout.exp_type in ("NRS_BRIGHTOBJ", "NRC_TSGRISM"):
        return _slit_time_series
    if layout.exp_type == "NIS_SOSS":
        return _soss
    if level3_pipeline_of(layout) == "tso3" and layout.exp_type in ("NRC_TSIMAGE", "MIR_IMAGE"):
        return _tso_image
    raise ValueError(f"no synthetic calints writer for exposure type {layout.exp_type}")


def _nrm_psf(layout: ExposureLayout) -> np.ndarray:
    """The NRM PSF on the detector, normalised to unit peak: jwst's ``calcpsf`` over the filter's band."""
    from jwst.ami.bp_fix import calcpsf, create_wavelengths

    from jwst_memest.profile.references import nrm_pupil

    rows, columns = _shape(layout, layout.detectors[0])
    if rows != columns:
        raise ValueError(f"AMI subarray {layout.subarray} is {columns}x{rows}; the NRM PSF needs a square one (SUB80)")
    pixel_radians = math.radians(imaging_pixel_scale(layout.detectors[0]) / 3600.0)
    pupil = nrm_pupil()
    image = sum(calcpsf(wavelength, columns, pixel_radians, pupil) for wavelength in create_wavelengths(layout.filter))
    return (image / image.max()).astype(np.float32)


def write_level3_exposures(layout: ExposureLayout, directory: str | Path, rng: np.random.Generator) -> list[Path]:
    """Every member of a coron3, ami3 or tso3 layout as a full-size calints file: science then PSF references.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    directory : str or pathlib.Path
        Where to write them.
    rng : numpy.random.Generator
        The random numbers of the synthetic data.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writer = _writer(layout)
    extra = {}
    if writer is _ami:
        extra["nrm_psf"] = _nrm_psf(layout)
    if writer is _lrs_slitless:
        from jwst_memest.profile.references import write_lrs_wcs_references

        extra["references"] = write_lrs_wcs_references(directory / "refs")
    pointings = layout.pointings()
    n_exposures = len(pointings) + layout.psf_exposures
    members = [(offset, False) for offset in pointings] + [((0.0, 0.0), True)] * layout.psf_exposures
    paths = []
    for number, (offset, is_psf) in enumerate(members, start=1):
        for detector in layout.detectors:
            model = writer(layout, detector, number, n_exposures, offset, is_psf, rng, **extra)
            paths.append(save_model(model, directory))
    return paths


def level3_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """Pipeline arguments that let coron3, ami3 or tso3 run offline with every step real data runs.

    Reference files no CRDS can give here are synthetic step overrides: align_refs' PSFMASK,
    ami_analyze's NRM and THROUGHPUT, tso_photometry's GAIN (which calwebb_tso3 prefetches for
    spectroscopic runs too). extract_1d of spectroscopic TSO uses its default aperture (every
    reference N/A) without aperture correction, except for NIRISS SOSS.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    references_dir : pathlib.Path
        Where the synthetic reference files are written.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    from jwst_memest.profile import references
    from jwst_memest.profile.spectra import EXTRACT_1D_REFERENCES

    references_dir.mkdir(parents=True, exist_ok=True)
    detector = layout.detectors[0]
    instrument = instrument_of(detector)
    shape = _shape(layout, detector)
    pipeline = level3_pipeline_of(layout)
    if pipeline == "coron3":
        psfmask = references.write_psfmask_reference(references_dir / "psfmask.fits", instrument, layout.subarray, shape)
        return [f"--steps.align_refs.override_psfmask={psfmask}"]
    if pipeline == "ami3":
        paths = references.write_ami_references(references_dir, layout.filter)
        return [f"--steps.ami_analyze.override_{reftype}={path}" for reftype, path in paths.items()]
    gain = references.write_gain_reference(references_dir / "gain.fits", instrument, detector, layout.subarray, shape)
    args = [f"--steps.tso_photometry.override_gain={gain}"]
    if layout.exp_type == "NIS_SOSS":
        return args + _soss_arguments(layout, references_dir)
    if layout.exp_type in LEVEL3_OTHER_SPECTRAL_TSO:
        args += [f"--steps.extract_1d.override_{reftype}=N/A" for reftype in EXTRACT_1D_REFERENCES]
        args += ["--steps.extract_1d.apply_apcorr=false"]
    return args


def _soss_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """SOSS extraction as in operations (ATOCA decontamination, default parameters) on the synthetic
    PASTASOSS, SPECPROFILE and SPECKERNEL, which the step always asks for; photom's PHOTOM and
    white_light's WAVELENGTHRANGE, which calwebb_tso3 reads for NIS_SOSS only. The other extract_1d
    references are never read for SOSS, nor is the pixel AREA for extracted spectra."""
    from jwst_memest.profile.references import write_soss_references

    paths = write_soss_references(references_dir, layout.subarray)
    steps = {"pastasoss": "extract_1d", "specprofile": "extract_1d", "speckernel": "extract_1d",
             "photom": "photom", "wavelengthrange": "white_light"}
    args = [f"--steps.{steps[reftype]}.override_{reftype}={path}" for reftype, path in paths.items()]
    args += [f"--steps.extract_1d.override_{reftype}=N/A" for reftype in ("extract1d", "apcorr", "psf")]
    return args + ["--steps.photom.override_area=N/A"]
