"""What every synthetic calints member of calwebb_coron3, calwebb_ami3 and calwebb_tso3 carries.

A full-size per-integration CubeModel (science arrays, variances, DQ with hot pixels and cosmic
rays), its exposure, observation, visit, target and subarray metadata and an int_times table
(``calints_cube``), and the imaging WCS of ``synthetic`` (``set_imaging_wcs``). The pipelines'
own writers (``coron3_writers``, ``ami3_writers``, ``tso3_writers``) add each mode's signal.
"""

from __future__ import annotations

import math

import numpy as np

from jwst_memest.exposures import ExposureLayout, instrument_of, level3_pipeline_of
from jwst_memest.instruments import exposure_file_name, full_frame, imaging_pixel_scale
from jwst_memest.profile.synthetic import add_cosmic_rays, imaging_wcs, set_instrument, set_observation

__all__ = ["INTEGRATION_SECONDS", "calints_shape", "calints_cube", "set_imaging_wcs", "gaussian"]

# seconds of one integration
INTEGRATION_SECONDS = 10.0
_MJD_START = 60319.4


def calints_shape(layout: ExposureLayout, detector: str) -> tuple[int, int]:
    """(rows, columns) of one integration.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (its subarray, else the detector's full frame).
    detector : str
        The detector.

    Returns
    -------
    tuple of int
        Rows and columns.
    """
    columns, rows = layout.subarray_shape or full_frame(detector)
    return rows, columns


def _int_times(model, start_mjd: float, nints: int) -> None:
    """The per-integration times table tso3 copies into its products and tso_photometry reads."""
    step = INTEGRATION_SECONDS / 86400.0
    number = np.arange(1, nints + 1)
    start = start_mjd + (number - 1) * step
    columns = [number, start, start + step / 2, start + step]
    model.int_times = np.rec.fromarrays(columns + [c + 0.0008 for c in columns[1:]], dtype=model.get_dtype("int_times"))


def calints_cube(layout: ExposureLayout, detector: str, number: int, n_exposures: int, is_psf: bool,
                 rng: np.random.Generator):
    """A calints CubeModel with the arrays and metadata every member of these pipelines carries.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout.
    detector : str
        The member's detector.
    number : int
        The member's exposure number (1-based).
    n_exposures : int
        Exposures in the product (science and PSF references).
    is_psf : bool
        Whether the member is a PSF reference.
    rng : numpy.random.Generator
        The random numbers of the synthetic data.

    Returns
    -------
    stdatamodels.jwst.datamodels.CubeModel
        The member, background noise only.
    """
    from stdatamodels.jwst.datamodels import CubeModel, dqflags

    rows, columns = calints_shape(layout, detector)
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
    duration = layout.nints * INTEGRATION_SECONDS
    start = _MJD_START + number * (duration / 86400.0 + 1e-3)
    meta.exposure.start_time, meta.exposure.end_time = start, start + duration / 86400.0
    meta.exposure.mid_time = start + duration / 2 / 86400.0
    meta.exposure.integration_time = meta.exposure.effective_exposure_time = INTEGRATION_SECONDS
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


def set_imaging_wcs(model, layout: ExposureLayout, boresight: tuple[float, float]) -> None:
    """The imaging WCS of ``synthetic`` (detector -> v2v3 -> world), its FITS keywords and s_region.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.CubeModel
        The member (``calints_cube``); its ``meta.wcs`` and ``meta.wcsinfo`` are set.
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout (target and roll).
    boresight : tuple of float
        The pointing's offset from the target (arcsec).
    """
    from jwst.assign_wcs.pointing import compute_roll_ref
    from jwst.assign_wcs.util import compute_s_region_imaging

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


def gaussian(rows: int, columns: int, x: float, y: float, sigma: float) -> np.ndarray:
    """A unit-peak circular Gaussian on a (rows, columns) grid.

    Parameters
    ----------
    rows, columns : int
        The grid.
    x, y : float
        Its centre (0-based pixels).
    sigma : float
        Its width (pixels).

    Returns
    -------
    numpy.ndarray
        float32, shape (rows, columns).
    """
    yy, xx = np.indices((rows, columns))
    return np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2).astype(np.float32)
