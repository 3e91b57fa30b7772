"""Synthetic full-size Level-2b exposures (cal) that calwebb_image3 processes like real ones.

Each member is an ImageModel with the seven arrays of a real cal file, a
three-frame gwcs (detector -> v2v3 -> world, jwst's own V2V3-to-sky rotation),
an s_region from that WCS, integer DQ, and stars at fixed sky positions (so
tweakreg matches them and source_catalog measures them), cosmic rays and bad
pixels. Layouts (detectors, dithers, mosaic tiles, subarrays) come from
``jwst_memest.exposures.ExposureLayout``, the same description the header-only
examples use.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.exposures import ExposureLayout, detector_offset, instrument_of
from jwst_memest.instruments import exposure_file_name, full_frame, imaging_pixel_scale

__all__ = ["write_cal_exposures", "save_model", "add_cosmic_rays", "make_cal_model", "make_lrs_cal_model", "lrs_nod_offsets",
           "star_field", "set_instrument", "set_observation", "imaging_wcs"]


def star_field(layout: ExposureLayout, seed: int, density: float = 0.05, max_stars: int = 2_000_000) -> np.ndarray:
    """RA, Dec and flux of stars over the whole layout, fixed per observation.

    Dense enough that every detector, subarrays included, holds tens of stars for
    tweakreg to match and source_catalog to measure.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    seed : int
        The random seed.
    density : float, optional
        Stars per arcsec^2.
    max_stars : int, optional
        At most this many.

    Returns
    -------
    numpy.ndarray
        (n, 3): RA, Dec (degrees) and flux.
    """
    rng = np.random.default_rng(seed)
    pointings = np.array(layout.pointings())
    half = 200.0  # arcsec beyond the outermost pointing
    lo, hi = pointings.min(axis=0) - half, pointings.max(axis=0) + half
    n_stars = int(min(max_stars, density * np.prod(hi - lo)))
    x = rng.uniform(lo[0], hi[0], n_stars)
    y = rng.uniform(lo[1], hi[1], n_stars)
    dec = layout.target_dec + y / 3600.0
    ra = layout.target_ra + x / 3600.0 / math.cos(math.radians(layout.target_dec))
    flux = rng.lognormal(mean=5.0, sigma=1.0, size=n_stars)
    return np.column_stack([ra, dec, flux])


def imaging_wcs(model, boresight_ra, boresight_dec, roll, v2_ref, v3_ref, scale, shape):
    """An imaging gwcs: detector -> v2v3 (arcsec) -> world, with jwst's own telescope-to-sky rotation.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        The exposure the WCS is for.
    boresight_ra, boresight_dec : float
        The telescope's pointing (degrees).
    roll : float
        The V3 position angle (degrees).
    v2_ref, v3_ref : float
        The detector's reference point in the telescope frame (arcsec).
    scale : float
        The pixel scale (arcsec).
    shape : tuple of int
        The detector's (rows, columns).

    Returns
    -------
    gwcs.WCS
        The WCS.
    """
    from astropy import coordinates as coord
    from astropy import units as u
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf
    from gwcs import wcs
    from jwst.assign_wcs.pointing import _v23tosky

    ny, nx = shape
    detector_to_v2v3 = (
        (models.Shift(-(nx - 1) / 2) & models.Shift(-(ny - 1) / 2))
        | (models.Scale(-scale) & models.Scale(scale))  # VPARITY = -1: x runs against V2
        | (models.Shift(v2_ref) & models.Shift(v3_ref))
    )
    tel2sky = _v23tosky(0.0, 0.0, roll, boresight_ra, boresight_dec)
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    result = wcs.WCS([(detector, detector_to_v2v3), (v2v3, tel2sky), (world, None)])
    result.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return result


def _add_stars(data, wcs, stars, fwhm_pix, rng):
    x, y = wcs.invert(stars[:, 0], stars[:, 1], with_bounding_box=False)
    ny, nx = data.shape
    sigma = fwhm_pix / 2.355
    half = int(math.ceil(4 * sigma))
    grid = np.arange(-half, half + 1)
    for xc, yc, flux in zip(x, y, stars[:, 2]):
        if not (np.isfinite(xc) and np.isfinite(yc)) or not (-half < xc < nx + half and -half < yc < ny + half):
            continue
        ix, iy = int(round(xc)), int(round(yc))
        gx = np.exp(-0.5 * ((grid + ix - xc) / sigma) ** 2)
        gy = np.exp(-0.5 * ((grid + iy - yc) / sigma) ** 2)
        stamp = flux * np.outer(gy, gx) / (2 * math.pi * sigma**2)
        x0, y0 = ix - half, iy - half
        sx0, sy0 = max(0, -x0), max(0, -y0)
        x1, y1 = min(nx, x0 + stamp.shape[1]), min(ny, y0 + stamp.shape[0])
        if x1 > max(x0, 0) and y1 > max(y0, 0):
            data[max(y0, 0):y1, max(x0, 0):x1] += stamp[sy0:sy0 + y1 - max(y0, 0), sx0:sx0 + x1 - max(x0, 0)]


def set_instrument(meta, layout: ExposureLayout, detector: str, write_empty_pupil: bool = False) -> None:
    """Telescope, instrument, detector, filter and pupil of a synthetic member; a NIRCam one's channel and module.

    A PUPIL of N/A is not written; an empty one only with ``write_empty_pupil``.

    Parameters
    ----------
    meta : stdatamodels.DataModel meta node
        The model's ``meta``, set in place.
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    detector : str
        DETECTOR.
    write_empty_pupil : bool, optional
        Write an empty PUPIL.
    """
    instrument = instrument_of(detector)
    meta.telescope = "JWST"
    meta.instrument.name, meta.instrument.detector = instrument, detector
    meta.instrument.filter = layout.filter
    if layout.pupil not in (None, "N/A") and (layout.pupil or write_empty_pupil):
        meta.instrument.pupil = layout.pupil
    if instrument == "NIRCAM":
        meta.instrument.channel = "LONG" if detector.endswith("LONG") else "SHORT"
        meta.instrument.module = detector[3]


def set_observation(meta, layout: ExposureLayout, number: int) -> None:
    """Observation identifiers as the pipeline groups exposures by them (one exposure per pointing).

    Parameters
    ----------
    meta : stdatamodels.DataModel meta node
        The exposure's ``meta``.
    layout : jwst_memest.exposures.ExposureLayout
        The product's layout (program and observation).
    number : int
        The exposure's number in the product.
    """
    meta.observation.date, meta.observation.time = "2024-01-10", "10:00:00.000"
    meta.observation.date_beg = "2024-01-10T10:00:00.000"
    meta.observation.program_number = f"{layout.program:05d}"
    meta.observation.observation_number = f"{layout.observation:03d}"
    meta.observation.visit_number, meta.observation.visit_group = "001", "03"
    meta.observation.sequence_id, meta.observation.activity_id = "1", "01"
    meta.observation.exposure_number = f"{number:05d}"
    meta.visit.type = layout.visit_type


def make_cal_model(layout: ExposureLayout, detector: str, number: int, n_exposures: int,
                   boresight: tuple[float, float], stars: np.ndarray, rng: np.random.Generator):
    """One synthetic cal ImageModel for a detector at one pointing of the layout.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    detector : str
        DETECTOR.
    number : int
        The exposure's number.
    n_exposures : int
        Exposures in the observation.
    boresight : tuple of float
        The pointing's boresight offset, arcsec.
    stars : numpy.ndarray
        The star field (`star_field`).
    rng : numpy.random.Generator
        The random numbers of the noise and cosmic rays.

    Returns
    -------
    stdatamodels.jwst.datamodels.ImageModel
        The model.
    """
    from jwst.assign_wcs.pointing import compute_roll_ref
    from jwst.assign_wcs.util import update_s_region_imaging
    from stdatamodels.jwst.datamodels import ImageModel, dqflags

    ncols, nrows = layout.subarray_shape or full_frame(detector)
    scale = imaging_pixel_scale(detector)
    instrument = instrument_of(detector)
    dx, dy = detector_offset(layout, detector)
    # boresight on the sky: the layout's offsets are east/north arcsec from the target at roll 0
    ra_b = layout.target_ra + boresight[0] / 3600.0 / math.cos(math.radians(layout.target_dec))
    dec_b = layout.target_dec + boresight[1] / 3600.0
    v2_ref, v3_ref = -dx, dy

    shape = (nrows, ncols)
    background = 0.3
    data = rng.normal(background, 0.02, shape).astype(np.float32)
    model = ImageModel(data=data)
    model.err = np.full(shape, 0.02, np.float32)
    model.var_poisson = np.full(shape, 2e-4, np.float32)
    model.var_rnoise = np.full(shape, 2e-4, np.float32)
    model.var_flat = np.full(shape, 1e-6, np.float32)
    model.area = np.ones(shape, np.float32)
    dq = np.zeros(shape, np.uint32)
    bad = rng.integers(0, data.size, data.size // 2000)
    dq.flat[bad] = dqflags.pixel["DO_NOT_USE"] | dqflags.pixel["HOT"]
    add_cosmic_rays(data, dq, rng)
    model.dq = dq

    meta = model.meta
    meta.filename = exposure_file_name(layout.program, layout.observation, number, detector, "cal")
    set_instrument(meta, layout, detector)
    meta.exposure.type = layout.exp_type
    meta.exposure.nints, meta.exposure.ngroups, meta.exposure.nframes = layout.nints, layout.ngroups, 1
    meta.exposure.readpatt = "MEDIUM8" if instrument == "NIRCAM" else "FASTR1" if instrument == "MIRI" else "NIS"
    start = 60319.4 + number * 1e-3
    meta.exposure.start_time, meta.exposure.mid_time, meta.exposure.end_time = start, start + 5e-4, start + 1e-3
    meta.exposure.exposure_time = meta.exposure.effective_exposure_time = meta.exposure.measurement_time = 300.0
    meta.exposure.duration = 300.0
    set_observation(meta, layout, number)
    meta.visit.total_exposures = n_exposures * len(layout.detectors)
    meta.dither.total_points = layout.dither_points
    meta.target.catalog_name = meta.target.proposer_name = layout.target_name
    meta.target.ra, meta.target.dec = layout.target_ra, layout.target_dec
    meta.subarray.name = layout.subarray
    meta.subarray.xstart, meta.subarray.ystart = 1, 1
    meta.subarray.xsize, meta.subarray.ysize = ncols, nrows
    meta.subarray.fastaxis, meta.subarray.slowaxis = -1, 2
    meta.bunit_data, meta.bunit_err = "MJy/sr", "MJy/sr"
    meta.photometry.conversion_megajanskys = 1.0
    meta.photometry.pixelarea_arcsecsq = scale**2
    meta.photometry.pixelarea_steradians = scale**2 * (math.pi / 180 / 3600) ** 2
    meta.wcsinfo.v2_ref, meta.wcsinfo.v3_ref = v2_ref, v3_ref
    meta.wcsinfo.v3yangle, meta.wcsinfo.vparity = 0.0, -1
    meta.wcsinfo.roll_ref = compute_roll_ref(0.0, 0.0, layout.roll, ra_b, dec_b, v2_ref, v3_ref)
    meta.wcsinfo.ctype1, meta.wcsinfo.ctype2 = "RA---TAN", "DEC--TAN"
    wcs = imaging_wcs(model, ra_b, dec_b, layout.roll, v2_ref, v3_ref, scale, shape)
    ra_ref, dec_ref = wcs((ncols - 1) / 2, (nrows - 1) / 2)
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref = float(ra_ref), float(dec_ref)
    meta.wcsinfo.crval1, meta.wcsinfo.crval2 = float(ra_ref), float(dec_ref)
    meta.wcsinfo.crpix1, meta.wcsinfo.crpix2 = (ncols + 1) / 2, (nrows + 1) / 2
    meta.wcs = wcs
    update_s_region_imaging(model)
    for step in ("assign_wcs", "flat_field", "photom"):
        setattr(meta.cal_step, step, "COMPLETE")
    fwhm = {"MIRI": 2.5, "NIRISS": 2.2}.get(instrument, 2.0)
    _add_stars(model.data, wcs, stars, fwhm, rng)
    return model


def lrs_nod_offsets(points: int) -> list[float]:
    """Positions (arcsec along the slit) of the source at each of ``points`` nods, centred on the slit.

    Parameters
    ----------
    points : int
        The nods.

    Returns
    -------
    list of float
        Arcsec.
    """
    return [0.0] if points <= 1 else list(np.linspace(-1.2, 1.2, points))


def make_lrs_cal_model(layout: ExposureLayout, number: int, n_exposures: int, along_slit: float,
                       references: dict, rng: np.random.Generator):
    """One synthetic MIRI LRS fixed-slit cal ImageModel.

    With the spectral WCS jwst's own assign_wcs code builds from synthetic DISTORTION and SPECWCS
    references; the source sits ``along_slit`` arcsec from the slit centre, at the same sky position
    in every nod.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    number : int
        The exposure's number.
    n_exposures : int
        Exposures in the observation.
    along_slit : float
        The source's offset along the slit, arcsec.
    references : dict
        The DISTORTION and SPECWCS files (`jwst_memest.profile.spectral_references.write_lrs_wcs_references`).
    rng : numpy.random.Generator
        The random numbers of the noise.

    Returns
    -------
    stdatamodels.jwst.datamodels.ImageModel
        The model.
    """
    from jwst.assign_wcs.assign_wcs import load_wcs
    from jwst.assign_wcs.pointing import _v23tosky
    from stdatamodels.jwst.datamodels import ImageModel

    from jwst_memest.profile.spectral_references import LRS_SLIT

    ncols, nrows = layout.subarray_shape or full_frame("MIRIMAGE")
    shape = (nrows, ncols)
    scale = imaging_pixel_scale("MIRIMAGE")
    model = ImageModel(data=rng.normal(0.3, 0.02, shape).astype(np.float32))
    for name, value in (("err", 0.02), ("var_poisson", 2e-4), ("var_rnoise", 2e-4), ("var_flat", 1e-6)):
        setattr(model, name, np.full(shape, value, np.float32))
    model.dq = np.zeros(shape, np.uint32)
    # the source's spectrum: a Gaussian trace down the rows the slit disperses onto
    x_trace = LRS_SLIT["x_ref"] - 1 + along_slit / scale
    first, last = (int(r) for r in LRS_SLIT["rows"])
    columns = np.arange(ncols)
    profile = np.exp(-0.5 * ((columns - x_trace) / 1.3) ** 2).astype(np.float32)
    brightness = np.linspace(50.0, 200.0, last - first).astype(np.float32)
    model.data[first:last] += brightness[:, None] * profile[None, :]
    rays = rng.integers(0, model.data.size, model.data.size // 5000)
    model.data.flat[rays] += 50.0

    meta = model.meta
    meta.filename = exposure_file_name(layout.program, layout.observation, number, "MIRIMAGE", "cal")
    meta.telescope = "JWST"
    meta.instrument.name, meta.instrument.detector, meta.instrument.filter = "MIRI", "MIRIMAGE", "P750L"
    meta.exposure.type, meta.exposure.nints, meta.exposure.ngroups = layout.exp_type, layout.nints, layout.ngroups
    meta.exposure.readpatt = "FASTR1"
    start = 60319.4 + number * 1e-3
    meta.exposure.start_time, meta.exposure.mid_time, meta.exposure.end_time = start, start + 5e-4, start + 1e-3
    meta.exposure.exposure_time = meta.exposure.effective_exposure_time = meta.exposure.measurement_time = 300.0
    set_observation(meta, layout, number)
    meta.visit.total_exposures = n_exposures
    meta.dither.total_points = layout.dither_points
    meta.target.catalog_name = meta.target.proposer_name = layout.target_name
    meta.target.ra, meta.target.dec = layout.target_ra, layout.target_dec
    meta.target.source_type = "POINT"
    meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart = layout.subarray, 1, 1
    meta.subarray.xsize, meta.subarray.ysize = ncols, nrows
    meta.subarray.fastaxis, meta.subarray.slowaxis = 1, 2
    meta.bunit_data, meta.bunit_err = "MJy/sr", "MJy/sr"
    meta.photometry.pixelarea_arcsecsq = scale**2
    meta.photometry.pixelarea_steradians = scale**2 * (math.pi / 180 / 3600) ** 2
    meta.velocity_aberration.scale_factor = 1.0
    # slit centre on the sky such that the target lands `along_slit` from it (x runs against V2)
    v2, v3 = LRS_SLIT["v2"], LRS_SLIT["v3"]
    to_sky = _v23tosky((v2 - along_slit) / 3600, v3 / 3600, layout.roll, layout.target_ra, layout.target_dec)
    ra_ref, dec_ref = to_sky(v2, v3)
    meta.wcsinfo.v2_ref, meta.wcsinfo.v3_ref, meta.wcsinfo.roll_ref = v2, v3, layout.roll
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref = float(ra_ref), float(dec_ref)
    meta.wcsinfo.v3yangle, meta.wcsinfo.vparity = 0.0, -1
    meta.dither.x_offset, meta.dither.y_offset = along_slit, 0.0  # ideal frame: where the source sits
    load_wcs(model, {key: str(path) for key, path in references.items()})  # also sets s_region, dispersion axis
    for step in ("flat_field", "photom", "srctype"):
        setattr(meta.cal_step, step, "COMPLETE")
    return model


def add_cosmic_rays(data: np.ndarray, dq: np.ndarray, rng: np.random.Generator) -> None:
    """Hits on one pixel in 5000, flagged JUMP_DET as the ramp fit flags them.

    Parameters
    ----------
    data : numpy.ndarray
        The science array, changed in place.
    dq : numpy.ndarray
        The data quality array, changed in place.
    rng : numpy.random.Generator
        The random numbers.
    """
    from stdatamodels.jwst.datamodels import dqflags

    rays = rng.integers(0, data.size, data.size // 5000)
    data.flat[rays] += rng.uniform(5, 50, rays.size).astype(np.float32)
    dq.flat[rays] |= dqflags.pixel["JUMP_DET"]


def save_model(model, directory: Path) -> Path:
    """Write a synthetic member under its own file name and release its arrays.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        The model (``meta.filename`` names the file).
    directory : pathlib.Path
        Where to write it.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = directory / model.meta.filename
    write_datamodel(model, path)
    model.close()
    return path


def write_cal_exposures(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> list[Path]:
    """Write every member of the layout as a full-size cal file.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    directory : str or pathlib.Path
        Where to write them.
    seed : int, optional
        The random seed.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if layout.exp_type == "MIR_LRS-FIXEDSLIT":
        return _write_lrs_exposures(layout, directory, rng)
    stars = star_field(layout, seed, density=layout.star_density)
    pointings = layout.pointings()
    paths = []
    for number, boresight in enumerate(pointings, start=1):
        for detector in layout.detectors:
            model = make_cal_model(layout, detector, number, len(pointings), boresight, stars, rng)
            paths.append(save_model(model, directory))
    return paths


def _write_lrs_exposures(layout: ExposureLayout, directory: Path, rng: np.random.Generator) -> list[Path]:
    """LRS fixed slit: one exposure per nod (``dither_points`` along the slit); mosaic tiles do not apply."""
    from jwst_memest.profile.spectral_references import write_lrs_wcs_references

    references = write_lrs_wcs_references(directory / "refs")
    offsets = lrs_nod_offsets(layout.dither_points)
    paths = []
    for number, along_slit in enumerate(offsets, start=1):
        model = make_lrs_cal_model(layout, number, len(offsets), along_slit, references, rng)
        paths.append(save_model(model, directory))
    return paths
