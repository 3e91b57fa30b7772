"""Synthetic calwebb_coron3 members (NRC_CORON, MIR_4QPM, MIR_LYOT) and the arguments that run coron3 offline.

Science and PSF-reference CubeModels of a coronagraphic subarray: a suppressed star under the
occulter, the imaging WCS of ``synthetic``. align_refs' PSFMASK is a synthetic step override.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.exposures import ExposureLayout, instrument_of
from jwst_memest.profile.calints import calints_cube, calints_shape, gaussian, set_imaging_wcs

__all__ = ["prepare", "member_model", "pipeline_arguments"]


def prepare(layout: ExposureLayout, directory: Path) -> dict:
    """What every member of the product shares: nothing for coron3.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    directory : pathlib.Path
        Where the members are written.

    Returns
    -------
    dict
        Keyword arguments of ``member_model``.
    """
    return {}


def member_model(layout, detector, number, n_exposures, boresight, is_psf, rng, **_):
    """The star behind the occulter: a residual halo, slightly offset between exposures as real rolls are.

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
    **_
        What ``prepare`` gave (nothing).

    Returns
    -------
    stdatamodels.jwst.datamodels.CubeModel
        The member.
    """
    model = calints_cube(layout, detector, number, n_exposures, is_psf, rng)
    set_imaging_wcs(model, layout, boresight)
    rows, columns = model.data.shape[-2:]
    x, y = (columns - 1) / 2 + rng.normal(0, 0.3), (rows - 1) / 2 + rng.normal(0, 0.3)
    halo = 50.0 * gaussian(rows, columns, x, y, 0.08 * min(rows, columns))
    halo *= 1 - gaussian(rows, columns, x, y, 0.03 * min(rows, columns))  # the occulted core
    model.data += halo[None]
    if layout.extra.get("CORONMSK"):
        model.meta.instrument.coronagraph = layout.extra["CORONMSK"]
    return model


def pipeline_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """align_refs' PSFMASK, which no CRDS gives here, as a synthetic step override.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    references_dir : pathlib.Path
        Where the synthetic reference is written.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    from jwst_memest.profile.imaging_references import write_psfmask_reference

    detector = layout.detectors[0]
    psfmask = write_psfmask_reference(references_dir / "psfmask.fits", instrument_of(detector), layout.subarray,
                                      calints_shape(layout, detector))
    return [f"--steps.align_refs.override_psfmask={psfmask}"]
