"""Synthetic calwebb_tso3 members and the arguments that run tso3 offline.

- imaging (NRC_TSIMAGE, MIR_IMAGE in a TSO visit): a star at the subarray's reference pixel that
  dims during a transit, an int_times table, the imaging WCS.
- MIRI LRS slitless (MIR_LRS-SLITLESS): a spectral trace in SLITLESSPRISM, the spectral WCS jwst's
  own assign_wcs builds from the LRS references of ``spectral_references``.
- slit time series (NRS_BRIGHTOBJ, NRC_TSGRISM): a SlitModel cube as spec2's extract_2d leaves it.
- NIRISS SOSS (NIS_SOSS, SUBSTRIP256 or SUBSTRIP96): the three GR700XD orders of a star where the
  synthetic PASTASOSS and SPECPROFILE of ``soss_references`` put them, in DN/s as spec2 leaves SOSS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.exposures import ExposureLayout, instrument_of
from jwst_memest.profile.calints import INTEGRATION_SECONDS, calints_cube, calints_shape, gaussian, set_imaging_wcs

__all__ = ["prepare", "member_model", "pipeline_arguments", "SPECTRAL_TSO", "NIRCAM_GRISM_WAVELENGTHS"]

# Spectroscopic TSO modes this module writes; the other TSO exposure types are imaging
SPECTRAL_TSO = ("MIR_LRS-SLITLESS", "NRS_BRIGHTOBJ", "NRC_TSGRISM")
# microns a NIRCam long-wavelength grism records across the trace (F322W2 passband)
NIRCAM_GRISM_WAVELENGTHS = (2.4, 4.0)
# SLITLESSPRISM: first pixel (1-based, full frame) and the slitless reference pixel of the LRS references
_SLITLESS_CORNER = (1, 529)
_SLITLESS_REFERENCE = (38.5, 829.0)


def _tso_image(layout, detector, number, n_exposures, boresight, is_psf, rng, **_):
    """A star at the aperture's reference pixel whose flux drops 1 % during a transit mid-exposure."""
    model = calints_cube(layout, detector, number, n_exposures, is_psf, rng)
    set_imaging_wcs(model, layout, boresight)
    rows, columns = model.data.shape[-2:]
    star = gaussian(rows, columns, model.meta.wcsinfo.siaf_xref_sci - 1, model.meta.wcsinfo.siaf_yref_sci - 1, 1.5)
    phase = np.linspace(-1, 1, layout.nints)
    flux = (500.0 * (1 - 0.01 * (np.abs(phase) < 0.3))).astype(np.float32)
    model.data += flux[:, None, None] * star[None]
    return model


def _lrs_slitless(layout, detector, number, n_exposures, boresight, is_psf, rng, references, **_):
    """The prism spectrum down the SLITLESSPRISM rows, with the WCS jwst's assign_wcs builds for it."""
    from jwst.assign_wcs.assign_wcs import load_wcs

    from jwst_memest.profile.spectral_references import LRS_SLIT

    model = calints_cube(layout, detector, number, n_exposures, is_psf, rng)
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

    cube = calints_cube(layout, detector, number, n_exposures, is_psf, rng)
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
    from jwst_memest.profile.soss_references import SOSS_COLUMNS, soss_profile, soss_throughput, soss_trace

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

    from jwst_memest.profile.soss_references import SOSS_PWCPOS, SOSS_SUBARRAY_ROWS

    model = calints_cube(layout, detector, number, n_exposures, is_psf, rng)
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
    var_poisson = signal / INTEGRATION_SECONDS
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


_WRITERS = {"NRC_TSIMAGE": _tso_image, "MIR_IMAGE": _tso_image, "MIR_LRS-SLITLESS": _lrs_slitless,
            "NRS_BRIGHTOBJ": _slit_time_series, "NRC_TSGRISM": _slit_time_series, "NIS_SOSS": _soss}


def prepare(layout: ExposureLayout, directory: Path) -> dict:
    """What every member of the product shares: the LRS WCS references of a MIRI LRS slitless product.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    directory : pathlib.Path
        Where the members are written (the references go to its ``refs`` folder).

    Returns
    -------
    dict
        Keyword arguments of ``member_model``: ``references`` for MIRI LRS.
    """
    if layout.exp_type != "MIR_LRS-SLITLESS":
        return {}
    from jwst_memest.profile.spectral_references import write_lrs_wcs_references

    return {"references": write_lrs_wcs_references(directory / "refs")}


def member_model(layout, detector, number, n_exposures, boresight, is_psf, rng, **context):
    """One member of a tso3 product, as its exposure type is written.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    detector : str
        The member's detector.
    number : int
        The member's exposure number (1-based).
    n_exposures : int
        Exposures in the product.
    boresight : tuple of float
        The pointing's offset from the target (arcsec).
    is_psf : bool
        Whether the member is a PSF reference.
    rng : numpy.random.Generator
        The random numbers of the synthetic data.
    **context
        What ``prepare`` gave.

    Returns
    -------
    stdatamodels.jwst.datamodels.CubeModel or stdatamodels.jwst.datamodels.SlitModel
        The member.
    """
    if layout.exp_type not in _WRITERS:
        raise ValueError(f"no synthetic calints writer for exposure type {layout.exp_type}")
    return _WRITERS[layout.exp_type](layout, detector, number, n_exposures, boresight, is_psf, rng, **context)


def pipeline_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """tso_photometry's GAIN (which calwebb_tso3 prefetches for spectroscopic runs too) as a synthetic
    step override; extract_1d of spectroscopic TSO with its default aperture (every reference N/A)
    without aperture correction, except for NIRISS SOSS.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    references_dir : pathlib.Path
        Where the synthetic references are written.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    from jwst_memest.profile.imaging_references import write_gain_reference
    from jwst_memest.profile.spectra import EXTRACT_1D_REFERENCES

    detector = layout.detectors[0]
    gain = write_gain_reference(references_dir / "gain.fits", instrument_of(detector), detector, layout.subarray,
                                calints_shape(layout, detector))
    args = [f"--steps.tso_photometry.override_gain={gain}"]
    if layout.exp_type == "NIS_SOSS":
        return args + _soss_arguments(layout, references_dir)
    if layout.exp_type in SPECTRAL_TSO:
        args += [f"--steps.extract_1d.override_{reftype}=N/A" for reftype in EXTRACT_1D_REFERENCES]
        args += ["--steps.extract_1d.apply_apcorr=false"]
    return args


def _soss_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """SOSS extraction as in operations (ATOCA decontamination, default parameters) on the synthetic
    PASTASOSS, SPECPROFILE and SPECKERNEL, which the step always asks for; photom's PHOTOM and
    white_light's WAVELENGTHRANGE, which calwebb_tso3 reads for NIS_SOSS only. The other extract_1d
    references are never read for SOSS, nor is the pixel AREA for extracted spectra."""
    from jwst_memest.profile.soss_references import write_soss_references

    paths = write_soss_references(references_dir, layout.subarray)
    steps = {"pastasoss": "extract_1d", "specprofile": "extract_1d", "speckernel": "extract_1d",
             "photom": "photom", "wavelengthrange": "white_light"}
    args = [f"--steps.{steps[reftype]}.override_{reftype}={path}" for reftype, path in paths.items()]
    args += [f"--steps.extract_1d.override_{reftype}=N/A" for reftype in ("extract1d", "apcorr", "psf")]
    return args + ["--steps.photom.override_area=N/A"]
