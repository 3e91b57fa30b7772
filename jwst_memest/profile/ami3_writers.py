"""Synthetic calwebb_ami3 members (NIS_AMI) and the arguments that run ami3 offline.

Science and calibrator CubeModels of SUB80 holding the non-redundant mask's PSF, computed with
jwst's own ``bp_fix.calcpsf`` from the synthetic NRM pupil; ami_analyze's NRM and THROUGHPUT are
synthetic step overrides.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.exposures import ExposureLayout
from jwst_memest.instruments import imaging_pixel_scale
from jwst_memest.profile.calints import calints_cube, calints_shape, set_imaging_wcs

__all__ = ["prepare", "member_model", "pipeline_arguments", "nrm_psf"]


def nrm_psf(layout: ExposureLayout) -> np.ndarray:
    """The NRM PSF on the detector, normalised to unit peak: jwst's ``calcpsf`` over the filter's band.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout (a square subarray, SUB80, and the filter).

    Returns
    -------
    numpy.ndarray
        float32, the subarray's shape.
    """
    from jwst.ami.bp_fix import calcpsf, create_wavelengths

    from jwst_memest.profile.imaging_references import nrm_pupil

    rows, columns = calints_shape(layout, layout.detectors[0])
    if rows != columns:
        raise ValueError(f"AMI subarray {layout.subarray} is {columns}x{rows}; the NRM PSF needs a square one (SUB80)")
    pixel_radians = math.radians(imaging_pixel_scale(layout.detectors[0]) / 3600.0)
    pupil = nrm_pupil()
    image = sum(calcpsf(wavelength, columns, pixel_radians, pupil) for wavelength in create_wavelengths(layout.filter))
    return (image / image.max()).astype(np.float32)


def prepare(layout: ExposureLayout, directory: Path) -> dict:
    """What every member of the product shares: the NRM PSF (computed once).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    directory : pathlib.Path
        Where the members are written.

    Returns
    -------
    dict
        Keyword arguments of ``member_model``: ``nrm_psf``.
    """
    return {"nrm_psf": nrm_psf(layout)}


def member_model(layout, detector, number, n_exposures, boresight, is_psf, rng, nrm_psf, **_):
    """The mask's interferogram (jwst's own NRM PSF of the synthetic pupil) in every integration.

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
        Whether the member is a calibrator.
    rng : numpy.random.Generator
        The random numbers of the synthetic data.
    nrm_psf : numpy.ndarray
        The NRM PSF (``prepare``).
    **_
        Nothing else.

    Returns
    -------
    stdatamodels.jwst.datamodels.CubeModel
        The member.
    """
    model = calints_cube(layout, detector, number, n_exposures, is_psf, rng)
    set_imaging_wcs(model, layout, boresight)
    model.meta.wcsinfo.vparity = 1
    model.meta.program.pi_name = "jwst_memest"
    model.meta.target.proper_motion_ra = model.meta.target.proper_motion_dec = 0.0
    model.meta.target.ra_uncertainty = model.meta.target.dec_uncertainty = 1e-4
    flux = 2e4 * (0.9 if is_psf else 1.0)
    model.data += flux * nrm_psf[None] * rng.normal(1.0, 0.01, (layout.nints, 1, 1)).astype(np.float32)
    return model


def pipeline_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """ami_analyze's NRM and THROUGHPUT, which no CRDS gives here, as synthetic step overrides.

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
    from jwst_memest.profile.imaging_references import write_ami_references

    paths = write_ami_references(references_dir, layout.filter)
    return [f"--steps.ami_analyze.override_{reftype}={path}" for reftype, path in paths.items()]
