"""Synthetic NIRCam and NIRISS WFSS exposures, their source catalogs and the references calwebb_spec2 reads.

calwebb_spec2 of WFSS runs offline here with assign_wcs's FITS SIP approximation off
(``sip_approx=false``: jwst asks CRDS again for it, ignoring overrides; it only writes header
keywords). Memory in WFSS follows the grism WCS: extract_2d gives every source's cutout, per order,
its own deep copy of the exposure's WCS, and the pipeline copies the cutouts twice more. So the WCS
references here have the structure of the operational ones, not only their frames:

- DISTORTION as SIAF-derived references are built: science -> ideal by two degree-5 polynomials,
  ideal -> V2V3 by two degree-1 polynomials, and the inverse the same way;
- NIRCam SPECWCS (GRISMR, GRISMC): orders 1 and 2; order 1's wavelength and trace as three
  field-dependent terms in t, each a degree-3 polynomial of the source position; order 2 linear in t;
  plus linear inverses along the dispersion;
- NIRISS SPECWCS (GR150R, GR150C): orders -1 to 3, each with a linear wavelength and inverse in t and
  a trace of three degree-2 polynomials of the source position per axis.

Traces run about 1 nm per pixel in NIRCam's first order (0.5 in its second), 4.65 nm per pixel in
NIRISS's; WAVELENGTHRANGE gives each filter's range and the orders extract_2d extracts (NIRCam: 1
and 2; NIRISS: 1, and 2 for F090W). The source catalog (SCATFILE) is written beside the rate:
``n_slits`` sources, half point-like (extract_2d cuts ``2 x 5 + 1`` rows), half extended with boxes of
10-40 pixels; its sky positions come from the imaging part of the same WCS.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.exposures import ExposureLayout, instrument_of
from jwst_memest.instruments import full_frame, imaging_pixel_scale
from jwst_memest.model.image2 import WFSS_EXP_TYPES
from jwst_memest.profile.reference_meta import set_reference_meta
from jwst_memest.spec2_layout import (WFSS_DISPERSION, WFSS_RANGES, wfss_blocking_filter, wfss_dispersion_axis,
                                       wfss_orders)

__all__ = ["dispersion_direction", "wfss_distortion_model", "write_wfss_references",
           "write_wfss_rate", "catalog_name"]

_NIRISS_ORDERS = (-1, 0, 1, 2, 3)
_FWCPOS_REF = 198.0  # NIRISS: the filter wheel position the traces are given at


def blocking_filter(layout: ExposureLayout) -> str:
    """The filter that sets the passband: NIRCam's FILTER, NIRISS's PUPIL."""
    return wfss_blocking_filter(layout.exp_type, layout.filter, layout.pupil)


def dispersion_direction(layout: ExposureLayout) -> int:
    """DISPAXIS: 1 when the spectra run along rows (NIRCam GRISMR, NIRISS GR150C), else 2.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.

    Returns
    -------
    int
        1 or 2.
    """
    return wfss_dispersion_axis(layout.exp_type, layout.filter, layout.pupil)


def catalog_name(layout: ExposureLayout) -> str:
    """The source catalog's file name (SCATFILE).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.

    Returns
    -------
    str
        The name.
    """
    return f"{blocking_filter(layout).lower()}_{layout.n_slits}src_cat.ecsv"


def _poly2d(degree: int, constant: float, x_slope: float = 0.0, y_slope: float = 0.0):
    from astropy.modeling.models import Polynomial2D

    # a Polynomial2D holds every coefficient of its degree (the memory of the operational ones);
    # the higher ones are zero here
    return Polynomial2D(degree, c0_0=constant, c1_0=x_slope, c0_1=y_slope)


def wfss_distortion_model(detector: str):
    """The detector's DISTORTION in the structure SIAF-derived references have (see the module notes).

    Parameters
    ----------
    detector : str
        DETECTOR.

    Returns
    -------
    stdatamodels.jwst.datamodels.DistortionModel
        The reference, V2/V3 reference point at (0, -400) arcsec.
    """
    from astropy.modeling import models
    from stdatamodels.jwst import datamodels

    ncols, nrows = full_frame(detector)
    scale = imaging_pixel_scale(detector)
    x0, y0 = (ncols - 1) / 2, (nrows - 1) / 2
    forward = ((models.Shift(-x0) & models.Shift(-y0)) | models.Mapping((0, 1, 0, 1))
               | (_poly2d(5, 0.0, scale) & _poly2d(5, 0.0, 0.0, scale)) | models.Mapping((0, 1, 0, 1))
               | (_poly2d(1, 0.0, -1.0) & _poly2d(1, -400.0, 0.0, 1.0)))
    forward.inverse = (models.Mapping((0, 1, 0, 1)) | (_poly2d(1, 0.0, -1.0) & _poly2d(1, 400.0, 0.0, 1.0))
                       | models.Mapping((0, 1, 0, 1)) | (_poly2d(5, 0.0, 1 / scale) & _poly2d(5, 0.0, 0.0, 1 / scale))
                       | (models.Shift(x0) & models.Shift(y0)))
    model = datamodels.DistortionModel()
    model.model = forward
    model.meta.input_units, model.meta.output_units = "pixel", "arcsec"
    set_reference_meta(model, "distortion", instrument_of(detector),
                       "synthetic distortion in the SIAF structure for offline profiling")
    model.meta.instrument.detector = detector
    return model


def _nircam_specwcs(layout: ExposureLayout):
    from astropy.modeling.models import Polynomial1D
    from stdatamodels.jwst import datamodels

    low1, high1 = WFSS_RANGES["NRC_WFSS"][blocking_filter(layout)][1]
    low2, high2 = WFSS_RANGES["NRC_WFSS"][blocking_filter(layout)][2]
    step = WFSS_DISPERSION["NRC_WFSS"]
    along1, along2 = (high1 - low1) / step, (high2 - low2) / (step / 2)
    # each order's trace centred on its source: order 2, twice as long as the detector is wide for
    # most filters, crosses the whole detector, as the layout's count of its cutouts takes it
    start1, start2 = -along1 / 2, -along2 / 2
    model = datamodels.NIRCAMGrismModel()
    model.orders = [1, 2]
    model.displ = [(_poly2d(3, low1), _poly2d(3, high1 - low1), _poly2d(3, 0.0)),
                   (Polynomial1D(1, c0=low2, c1=high2 - low2),)]
    along = [(_poly2d(3, start1), _poly2d(3, along1), _poly2d(3, 0.0)), (Polynomial1D(1, c0=start2, c1=along2),)]
    cross = [(_poly2d(3, 0.0), _poly2d(3, 3.0), _poly2d(3, -2.0)), (Polynomial1D(1, c0=0.0, c1=4.0),)]
    inverse = [Polynomial1D(1, c0=-start1 / along1, c1=1 / along1), Polynomial1D(1, c0=-start2 / along2, c1=1 / along2)]
    if dispersion_direction(layout) == 1:
        model.dispx, model.dispy, model.invdispx = along, cross, inverse
    else:
        model.dispx, model.dispy, model.invdispy = cross, along, inverse
    model.meta.input_units = model.meta.output_units = "micron"
    set_reference_meta(model, "specwcs", "NIRCAM", "synthetic grism dispersion in the operational structure")
    model.meta.instrument.filter, model.meta.instrument.pupil = layout.filter, layout.pupil
    return model


def _niriss_specwcs(layout: ExposureLayout):
    from astropy.modeling.models import Polynomial1D
    from stdatamodels.jwst import datamodels

    low, high = 0.75, 2.30  # every NIRISS filter's traces share one parameterisation of t
    pixels = (high - low) / WFSS_DISPERSION["NIS_WFSS"]
    model = datamodels.NIRISSGrismModel()
    model.orders = list(_NIRISS_ORDERS)
    model.displ = [Polynomial1D(1, c0=low, c1=high - low) for _ in _NIRISS_ORDERS]
    model.invdispl = [Polynomial1D(1, c0=-low / (high - low), c1=1 / (high - low)) for _ in _NIRISS_ORDERS]
    along = [(_poly2d(2, 60.0 * order), _poly2d(2, pixels * order if order else 10.0), _poly2d(2, 0.004))
             for order in _NIRISS_ORDERS]
    cross = [(_poly2d(2, -1.4), _poly2d(2, -2.3), _poly2d(2, -0.5)) for _ in _NIRISS_ORDERS]
    if dispersion_direction(layout) == 1:
        model.dispx, model.dispy = along, cross
    else:
        model.dispx, model.dispy = cross, along
    model.fwcpos_ref = _FWCPOS_REF
    model.meta.input_units = model.meta.output_units = "micron"
    set_reference_meta(model, "specwcs", "NIRISS", "synthetic grism dispersion in the operational structure")
    model.meta.instrument.filter, model.meta.instrument.pupil = layout.filter, layout.pupil
    return model


def _wavelengthrange(layout: ExposureLayout):
    from stdatamodels.jwst import datamodels

    ranges = WFSS_RANGES[layout.exp_type]
    model = datamodels.WavelengthrangeModel()
    model.wavelengthrange = [[order, name, low, high] for name, orders in ranges.items()
                             for order, (low, high) in orders.items()]
    model.order = sorted({order for orders in ranges.values() for order in orders})
    model.waverange_selector = list(ranges)
    model.extract_orders = [[name, list(wfss_orders(layout.exp_type, name))] for name in ranges]
    model.meta.input_units = model.meta.output_units = "micron"
    instrument = instrument_of(layout.detectors[0])
    set_reference_meta(model, "wavelengthrange", instrument, "synthetic WFSS wavelength ranges")
    model.meta.exposure.type = layout.exp_type
    return model


def _filteroffset(layout: ExposureLayout):
    from stdatamodels.jwst import datamodels

    model = datamodels.FilteroffsetModel()
    model.filters = [{"filter": layout.filter, "pupil": layout.pupil, "column_offset": 0.0, "row_offset": 0.0}]
    set_reference_meta(model, "filteroffset", instrument_of(layout.detectors[0]),
                       "synthetic zero filter offsets")
    return model


def _background(layout: ExposureLayout):
    from stdatamodels.jwst import datamodels

    ncols, nrows = full_frame(layout.detectors[0])
    model = datamodels.WfssBkgModel(data=np.full((nrows, ncols), 1.0, np.float32),
                                    err=np.full((nrows, ncols), 0.01, np.float32),
                                    dq=np.zeros((nrows, ncols), np.uint32))
    set_reference_meta(model, "bkg", instrument_of(layout.detectors[0]),
                       "synthetic flat WFSS background")
    model.meta.instrument.detector = layout.detectors[0]
    model.meta.subarray.name, model.meta.subarray.xstart, model.meta.subarray.ystart = "FULL", 1, 1
    model.meta.subarray.xsize, model.meta.subarray.ysize = ncols, nrows
    return model


def _photom(layout: ExposureLayout):
    from stdatamodels.jwst import datamodels

    length = 500
    columns = [("filter", "S12"), ("pupil", "S15"), ("order", "<i2"), ("photmjsr", "<f4"), ("uncertainty", "<f4"),
               ("nelem", "<i2"), ("wavelength", "<f4", (length,)), ("relresponse", "<f4", (length,)),
               ("reluncertainty", "<f4", (length,))]
    # a row for every order of WAVELENGTHRANGE: wfss_contam simulates them all
    orders = WFSS_RANGES[layout.exp_type][blocking_filter(layout)]
    table = np.zeros(len(orders), dtype=columns)
    for row, (order, (low, high)) in enumerate(orders.items()):
        wavelength = np.zeros(length, np.float32)
        wavelength[:100] = np.linspace(low - 0.1, high + 0.1, 100)
        response = np.zeros(length, np.float32)
        response[:100] = 1.0
        table[row] = (layout.filter, layout.pupil, order, 1.0, 0.01, 100, wavelength, response, 0.01 * response)
    if layout.exp_type == "NRC_WFSS":
        model = datamodels.NrcWfssPhotomModel()
    else:
        model = datamodels.NisWfssPhotomModel()
    model.phot_table = table
    model.phot_unit, model.wave_unit = "MJy micron s / (DN sr)", "micron"  # as wfss_contam converts them
    set_reference_meta(model, "photom", instrument_of(layout.detectors[0]),
                       "synthetic WFSS photometric response")
    scale = imaging_pixel_scale(layout.detectors[0])
    model.meta.photometry.pixelarea_arcsecsq = scale**2
    model.meta.photometry.pixelarea_steradians = scale**2 * (math.pi / 180 / 3600) ** 2
    return model


def write_wfss_references(layout: ExposureLayout, cache: str | Path) -> dict[str, Path]:
    """reftype -> file for a WFSS exposure, each written into ``cache`` unless already there.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (NRC_WFSS or NIS_WFSS).
    cache : str or pathlib.Path
        The reference cache folder.

    Returns
    -------
    dict of str to pathlib.Path
        DISTORTION, FILTEROFFSET, SPECWCS, WAVELENGTHRANGE, BKG, FLAT and PHOTOM.
    """
    from jwst_memest.profile.image2_references import write_image2_references

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    detector = layout.detectors[0].lower()
    optics = f"{detector}_{layout.filter}_{layout.pupil}".lower()
    writers = {
        "distortion": (f"{detector}_siaf_distortion.asdf", lambda: wfss_distortion_model(layout.detectors[0])),
        "filteroffset": (f"{optics}_filteroffset.asdf", lambda: _filteroffset(layout)),
        "specwcs": (f"{optics}_specwcs_v2.asdf",
                    lambda: (_nircam_specwcs if layout.exp_type == "NRC_WFSS" else _niriss_specwcs)(layout)),
        "wavelengthrange": (f"{layout.exp_type.lower()}_wavelengthrange.asdf", lambda: _wavelengthrange(layout)),
        "bkg": (f"{optics}_wfssbkg.fits", lambda: _background(layout)),
        "photom": (f"{optics}_wfss_photom_v3.fits", lambda: _photom(layout)),
    }
    paths = {}
    for reftype, (name, build) in writers.items():
        path = cache / name
        if not path.is_file():
            model = build()
            if layout.exp_type == "NRC_WFSS":  # NIRCam's references name their module and channel
                model.meta.instrument.module, model.meta.instrument.channel = layout.detectors[0][3], "LONG"
            write_datamodel(model, path)
        paths[reftype] = path
    paths["flat"] = write_image2_references(layout.detectors[0], layout.filter, layout.pupil, "FULL", 0.0, 0.0,
                                            cache)["flat"]
    return paths


def _source_catalog(layout: ExposureLayout, model, rng: np.random.Generator):
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import QTable
    from gwcs.wcs import WCS
    from jwst.assign_wcs import nircam, niriss

    imaging = (nircam if layout.exp_type == "NRC_WFSS" else niriss).imaging
    image = WCS(imaging(model, {"distortion": wfss_distortion_model(layout.detectors[0]), "filteroffset": None}))
    ncols, nrows = full_frame(layout.detectors[0])
    n = layout.n_slits
    x, y = rng.uniform(50, ncols - 50, n), rng.uniform(50, nrows - 50, n)
    extended = np.arange(n) % 2 == 1
    half = np.where(extended, rng.uniform(5, 20, n), 2.0)

    def sky(xx, yy):
        ra, dec = image(xx, yy)
        return SkyCoord(ra * u.deg, dec * u.deg)

    catalog = QTable()
    catalog["label"] = np.arange(1, n + 1)
    catalog["xcentroid"], catalog["ycentroid"] = x, y
    catalog["sky_centroid"] = sky(x, y)
    catalog["isophotal_abmag"] = rng.uniform(18.0, 26.0, n)
    catalog["isophotal_abmag_err"] = np.full(n, 0.1)
    for corner, dx, dy in (("ll", -1, -1), ("lr", 1, -1), ("ul", -1, 1), ("ur", 1, 1)):
        catalog[f"sky_bbox_{corner}"] = sky(x + dx * half, y + dy * half)
    catalog["is_extended"] = extended
    # each source's segment: its box's pixels (the isophotal area the catalog gives)
    catalog["area"] = (2 * np.round(half) + 1) ** 2
    return catalog


def _direct_image_and_segments(layout: ExposureLayout, model, catalog, directory: Path) -> tuple[str, str]:
    """The direct image (an i2d with the imaging WCS) and its segmentation map, as wfss_contam reads them."""
    from gwcs.wcs import WCS
    from jwst.assign_wcs import nircam, niriss
    from stdatamodels.jwst import datamodels

    ncols, nrows = full_frame(layout.detectors[0])
    segments = np.zeros((nrows, ncols), np.int32)
    flux = np.zeros((nrows, ncols), np.float32)
    for label, x, y, area in zip(catalog["label"], catalog["xcentroid"], catalog["ycentroid"], catalog["area"]):
        half = int(round((math.sqrt(area) - 1) / 2))
        rows = slice(max(int(y) - half, 0), int(y) + half + 1)
        columns = slice(max(int(x) - half, 0), int(x) + half + 1)
        segments[rows, columns] = label
        flux[rows, columns] = 1.0
    imaging = (nircam if layout.exp_type == "NRC_WFSS" else niriss).imaging
    direct = datamodels.ImageModel(data=flux)
    direct.meta.wcs = WCS(imaging(model, {"distortion": wfss_distortion_model(layout.detectors[0]),
                                          "filteroffset": None}))
    direct.meta.instrument.name = instrument_of(layout.detectors[0])
    direct.meta.bunit_data = "MJy/sr"
    stem = catalog_name(layout).removesuffix("_cat.ecsv")
    direct_name, segments_name = f"{stem}_i2d.fits", f"{stem}_segm.fits"
    write_datamodel(direct, directory / direct_name)
    write_datamodel(datamodels.SegmentationMapModel(data=segments), directory / segments_name)
    return direct_name, segments_name


def write_wfss_rate(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> Path:
    """Write a WFSS rate exposure and, beside it, the source catalog its SCATFILE names, the direct
    image and the segmentation map (wfss_contam's inputs).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (NRC_WFSS: FILTER a blocking filter, PUPIL GRISMR or GRISMC; NIS_WFSS: FILTER
        GR150R or GR150C, PUPIL the blocking filter; ``n_slits`` sources).
    directory : str or pathlib.Path
        Where to write them.
    seed : int, optional
        The random seed.

    Returns
    -------
    pathlib.Path
        The rate file.
    """
    from dataclasses import replace

    from jwst_memest.atomic import atomic_path
    from jwst_memest.profile.image2 import make_rate_model
    from jwst_memest.profile.synthetic import save_model

    if layout.exp_type not in WFSS_EXP_TYPES:
        raise ValueError(f"{layout.exp_type} is not a WFSS type ({', '.join(WFSS_EXP_TYPES)})")
    if layout.n_slits < 1:
        raise ValueError("a WFSS layout needs n_slits >= 1 catalog sources")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    imaging = replace(layout, exp_type="NRC_IMAGE" if layout.exp_type == "NRC_WFSS" else "NIS_IMAGE",
                      filter=blocking_filter(layout), pupil="CLEAR" if layout.exp_type == "NRC_WFSS" else "CLEARP")
    model = make_rate_model(imaging, rng)
    model.meta.exposure.type = layout.exp_type
    model.meta.instrument.filter, model.meta.instrument.pupil = layout.filter, layout.pupil
    if layout.exp_type == "NIS_WFSS":
        model.meta.instrument.filter_position = _FWCPOS_REF
    model.meta.wcsinfo.v2_ref, model.meta.wcsinfo.v3_ref = 0.0, -400.0
    model.meta.wcsinfo.dispersion_direction = dispersion_direction(layout)
    catalog = _source_catalog(layout, model, rng)
    name = catalog_name(layout)
    with atomic_path(directory / name) as path:
        catalog.write(path, format="ascii.ecsv", overwrite=True)
    model.meta.source_catalog = name
    model.meta.direct_image, model.meta.segmentation_map = _direct_image_and_segments(layout, model, catalog,
                                                                                      directory)
    model.meta.filename = model.meta.filename.rsplit("_", 1)[0] + "_rate.fits"
    return save_model(model, directory)
