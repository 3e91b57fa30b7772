"""The slit cutouts calwebb_spec2's extract_2d makes of a NIRSpec exposure, from its header and MSA file.

extract_2d cuts each slit's bounding box out of the frame (the slit's projection over its whole
wavelength range, padded 10 columns and 2 rows), one copy per slit, overlapping boxes copied
twice. The boxes' pixels come from NIRSpec's optical model, which is not read here; every cutout
is taken at its largest plausible size instead:

- columns: the whole detector (a grating's spectrum spans it);
- rows: a MOS slitlet of n shutters is 2.1 + 1.15 (n - 1) shutter heights tall in the slit frame
  (jwst's margins included), about 5 detector rows each; counted at ``ROWS_PER_SHUTTER_HEIGHT``,
  plus the padding and the trace's curvature across the detector (``ROWS_CURVATURE``);
- fixed slits: the five slits of a full-frame exposure (one for an S* subarray), each at most
  ``FIXED_SLIT_ROWS`` rows.

MOS's open shutters are in the MSA metadata file the header names (MSAMETFL), which calwebb_spec2
itself needs: it is looked for beside the exposure (and in the folders given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["SlitLayout", "nirspec_slit_layout", "wfss_slit_layout", "wfss_orders", "wfss_dispersion_axis",
           "wfss_blocking_filter", "wfss_order_samples", "wfss_catalog", "wfss_catalog_sources",
           "wfss_simulated_orders", "wfss_trace_pixels", "WFSS_RANGES",
           "WFSS_DISPERSION", "ROWS_PER_SHUTTER_HEIGHT", "ROWS_CURVATURE", "FIXED_SLIT_ROWS"]

DETECTOR_COLUMNS = 2048
ROWS_PER_SHUTTER_HEIGHT = 6.0  # ~5 rows per shutter height at 0.1" a pixel, rounded up
ROWS_CURVATURE = 24.0  # the box's padding (4 rows) and the trace's bend across 2048 columns
FIXED_SLIT_ROWS = 64  # S200A1/A2/B1 are 3.3" long, S400A1 3.8", S1600A1 1.6": under 40 rows and the bend
FIXED_SLITS = 5


@dataclass(frozen=True)
class SlitLayout:
    """extract_2d's cutouts of one exposure, at their largest.

    Parameters
    ----------
    slit_pixels : float
        Pixels of every cutout.
    largest_slit_pixels : float
        Pixels of the largest.
    background_slit_pixels : float
        Pixels of the MOS background slitlets' cutouts.
    slits : int
        Cutouts.
    source : str
        Where the layout comes from (one line for the annotation).
    segment_pixels : float, optional
        WFSS: the sources' pixels in the segmentation map (wfss_contam disperses each of them).
    dispersed_pixels : float, optional
        WFSS: pixels of every catalog source's dispersed image in every order wfss_contam simulates
        (each the source's box widened by its trace, at most the detector along the dispersion).
    """

    slit_pixels: float
    largest_slit_pixels: float
    background_slit_pixels: float
    slits: int
    source: str
    segment_pixels: float = 0.0
    dispersed_pixels: float = 0.0


def _find(name: str, exposure: Path, search_path) -> Path | None:
    for folder in (exposure.parent, *map(Path, search_path)):
        candidate = folder / Path(name).name
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=64)
def _shutter_slitlets(path: Path, metadata_id, dither_point, modified: float) -> dict:
    """Per slitlet of this configuration and dither position: (shutters, background); read once per
    file version (a MOS visit's exposures share one MSA file)."""
    import numpy as np
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            table = hdul["SHUTTER_INFO"].data
            names = {name.lower(): name for name in table.columns.names}

            def column(name, missing):
                return np.asarray(table[names[name]]) if name in names else np.full(len(table), missing)

            slitlet = column("slitlet_id", 0).astype(int)
            config, dither = column("msa_metadata_id", -1), column("dither_point_index", -1)
            background = np.char.upper(np.char.strip(column("background", "N").astype(str))) == "Y"
            primary = np.char.upper(np.char.strip(column("primary_source", "N").astype(str))) == "Y"
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a readable MSA metadata file ({error})") from None
    used = np.ones(len(slitlet), bool)
    if metadata_id is not None and "msa_metadata_id" in names:
        used &= config.astype(int) == int(metadata_id)
    if dither_point is not None and "dither_point_index" in names:
        used &= dither.astype(int) == int(dither_point)
    return {int(i): (int((slitlet[used] == i).sum()), bool(np.all((background & ~primary)[used & (slitlet == i)])))
            for i in np.unique(slitlet[used])}


def slitlet_rows(shutters: int) -> int:
    """Rows of a MOS slitlet's cutout, at its largest.

    Parameters
    ----------
    shutters : int
        Its shutters.

    Returns
    -------
    int
        Rows (whole: a cutout's pixels are counted, not its height in the slit frame).
    """
    heights = 2.1 + 1.15 * (max(shutters, 1) - 1)
    return math.ceil(heights * ROWS_PER_SHUTTER_HEIGHT + ROWS_CURVATURE)


def nirspec_slit_layout(meta, search_path=()) -> SlitLayout:
    """extract_2d's cutouts of a NIRSpec fixed-slit or MOS exposure, at their largest.

    Parameters
    ----------
    meta : jwst_memest.metadata.ExposureMetadata
        The exposure's header.
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for the MSA metadata file in.

    Returns
    -------
    SlitLayout
        The cutouts.

    Raises
    ------
    ValueError
        A MOS exposure whose MSA metadata file is not named, not found or not readable.
    """
    exp_type = (meta.exp_type or "").upper()
    frame = float(meta.ncols * meta.nrows)
    if exp_type == "NRS_FIXEDSLIT":
        slits = FIXED_SLITS if (meta.subarray or "FULL").upper() in ("FULL", "ALLSLITS") else 1
        one = float(min(frame, DETECTOR_COLUMNS * FIXED_SLIT_ROWS))
        return SlitLayout(slits * one, one, 0.0, slits,
                          f"{slits} fixed slit{'s' if slits > 1 else ''} of at most {FIXED_SLIT_ROWS} rows")
    name = meta.msa_metadata_file
    if not name:
        raise ValueError(f"{meta.path}: a MOS exposure without MSAMETFL: its slitlets cannot be known")
    path = _find(name, Path(meta.path), search_path)
    if path is None:
        raise ValueError(f"{meta.path}: its MSA metadata file {Path(name).name} (MSAMETFL) is not beside it; "
                         "calwebb_spec2 needs it too")
    slitlets = _shutter_slitlets(path, meta.msa_metadata_id, meta.dither_point, path.stat().st_mtime)
    if not slitlets:
        raise ValueError(f"{path}: no open shutter of configuration {meta.msa_metadata_id}")
    sizes = {slitlet: slitlet_rows(shutters) * DETECTOR_COLUMNS for slitlet, (shutters, _) in slitlets.items()}
    background = sum(size for slitlet, size in sizes.items() if slitlets[slitlet][1])
    return SlitLayout(float(sum(sizes.values())), float(max(sizes.values())), float(background), len(sizes),
                      f"{len(sizes)} slitlets of {path.name}, every one on this detector, at their largest")


# WFSS: the orders extract_2d extracts and each filter's range per order (microns), as the
# WAVELENGTHRANGE references give them; NIRCam's lists every order it calibrates (1 and 2), NIRISS's
# order 1 (and 2 for F090W)
WFSS_EXTRACT_ORDERS = {"NRC_WFSS": (1, 2), "NIS_WFSS": (1,)}
WFSS_RANGES = {
    "NRC_WFSS": {f: {1: r1, 2: r2} for f, r1, r2 in (
        ("F250M", (2.50, 4.80), (2.50, 2.67)), ("F277W", (2.50, 3.81), (2.50, 3.26)),
        ("F300M", (2.68, 4.03), (2.67, 3.30)), ("F322W2", (2.50, 4.22), (2.50, 4.14)),
        ("F335M", (3.01, 4.26), (2.55, 3.68)), ("F356W", (3.00, 4.30), (2.53, 4.13)),
        ("F360M", (3.18, 4.00), (2.56, 4.84)), ("F410M", (3.63, 4.56), (2.52, 4.76)),
        ("F430M", (4.05, 4.51), (2.54, 4.54)), ("F444W", (3.70, 4.90), (2.50, 4.90)),
        ("F460M", (3.10, 4.88), (2.58, 4.88)), ("F480M", (4.52, 4.90), (2.55, 4.90)))},
    "NIS_WFSS": {f: {order: r for order in (-1, 0, 1, 2, 3)} for f, r in (
        ("F090W", (0.79, 1.03)), ("F115W", (0.97, 1.32)), ("F140M", (1.29, 1.52)),
        ("F150W", (1.29, 1.71)), ("F158M", (1.41, 1.74)), ("F200W", (1.70, 2.28)))},
}
# microns per pixel along a first-order trace (order n: 1/|n| of it); the least across the field
WFSS_DISPERSION = {"NRC_WFSS": 0.00095, "NIS_WFSS": 0.00465}
WFSS_HALF_HEIGHT = 5  # extract_2d's wfss_extract_half_height: a point source's cutout is 11 rows
WFSS_NBRIGHT = 1000  # extract_2d's wfss_nbright: the brightest sources it extracts
WFSS_TRACE_BEND = 8  # rows a trace bends across the detector (NIRCam's and NIRISS's traces tilt a few)


def wfss_blocking_filter(exp_type: str, filter_name: str | None, pupil: str | None) -> str | None:
    """The filter that sets a WFSS exposure's passband: NIRCam's FILTER, NIRISS's PUPIL.

    Parameters
    ----------
    exp_type : str
        NRC_WFSS or NIS_WFSS.
    filter_name, pupil : str or None
        FILTER and PUPIL.

    Returns
    -------
    str or None
        The blocking filter.
    """
    return pupil if exp_type == "NIS_WFSS" else filter_name


def wfss_dispersion_axis(exp_type: str, filter_name: str | None, pupil: str | None) -> int:
    """DISPAXIS: 1 where the spectra run along rows (NIRCam GRISMR, NIRISS GR150C), else 2.

    Parameters
    ----------
    exp_type : str
        NRC_WFSS or NIS_WFSS.
    filter_name, pupil : str or None
        FILTER and PUPIL.

    Returns
    -------
    int
        1 or 2.
    """
    grism = filter_name if exp_type == "NIS_WFSS" else pupil
    return 1 if (grism or "").upper() in ("GRISMR", "GR150C") else 2


def wfss_orders(exp_type: str, blocking: str) -> dict[int, tuple[float, float]]:
    """The orders extract_2d extracts of a WFSS exposure, each with its wavelength range.

    Parameters
    ----------
    exp_type : str
        NRC_WFSS or NIS_WFSS.
    blocking : str
        The blocking filter.

    Returns
    -------
    dict of int to (float, float)
        Order -> (wave min, wave max), microns; every order at the widest range when the filter
        is not listed.
    """
    orders = WFSS_EXTRACT_ORDERS[exp_type] + ((2,) if exp_type == "NIS_WFSS" and blocking == "F090W" else ())
    return {order: _order_range(exp_type, blocking, order) for order in orders}


def _order_range(exp_type: str, blocking: str, order: int) -> tuple[float, float]:
    """An order's wavelength range for the blocking filter; the widest of any filter when it is not listed."""
    ranges = WFSS_RANGES[exp_type]
    known = ranges.get((blocking or "").upper())
    if known:
        return known[order]
    return min(r[order][0] for r in ranges.values()), max(r[order][1] for r in ranges.values())


@lru_cache(maxsize=8)
def _catalog_table(path: Path, modified: float):
    """The catalog as read once for its boxes and its centroids (only read from, never changed)."""
    from astropy.table import Table

    del modified  # part of the cache key: a rewritten catalog is read again
    return Table.read(path, format="ascii.ecsv")


@lru_cache(maxsize=256)
def _catalog_boxes(path: Path, modified: float) -> tuple[tuple[float, float, float, bool, float], ...]:
    """(magnitude, box x extent, box y extent in arcsec, extended, segment pixels or NaN) per catalog source."""
    table = _catalog_table(path, modified)
    missing = {"sky_bbox_ll", "sky_bbox_lr", "sky_bbox_ul", "isophotal_abmag"} - set(table.colnames)
    if missing:
        raise ValueError(f"{path}: not a source catalog extract_2d reads (no {', '.join(sorted(missing))})")
    ll, lr, ul = table["sky_bbox_ll"], table["sky_bbox_lr"], table["sky_bbox_ul"]
    width, height = ll.separation(lr).arcsec, ll.separation(ul).arcsec
    magnitude = np.ma.filled(np.asarray(table["isophotal_abmag"], float), np.inf)
    extended = (np.asarray(table["is_extended"], bool) if "is_extended" in table.colnames
                else np.ones(len(table), bool))
    if "area" in table.colnames:  # the isophotal area: the source's pixels in the segmentation map
        area = np.ma.filled(np.asarray(getattr(table["area"], "value", table["area"]), float), np.nan)
    else:
        area = np.full(len(table), np.nan)
    return tuple(zip(magnitude.tolist(), width.tolist(), height.tolist(), extended.tolist(), area.tolist()))


def _segment_pixels(catalog_boxes, scale: float) -> np.ndarray:
    """Each catalog source's segment, which wfss_contam disperses: its area, else its box's pixels."""
    _, x_extent, y_extent, _, area = (np.asarray(v, float) for v in zip(*catalog_boxes))
    return np.where(np.isfinite(area), area, np.ceil(x_extent / scale + 1) * np.ceil(y_extent / scale + 1))


@lru_cache(maxsize=256)
def _catalog_centroids(path: Path, modified: float) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """(labels, RA, Dec in degrees) of the catalog's sources, in its rows' order."""
    table = _catalog_table(path, modified)
    if "sky_centroid" not in table.colnames:
        raise ValueError(f"{path}: a source catalog without sky_centroid")
    labels = np.asarray(table["label"], int) if "label" in table.colnames else np.arange(1, len(table) + 1)
    sky = table["sky_centroid"]
    return tuple(labels.tolist()), tuple(sky.ra.deg.tolist()), tuple(sky.dec.deg.tolist())


def wfss_catalog(meta, search_path=(), catalog: str | Path | None = None) -> Path:
    """The source catalog of a WFSS exposure: its association's ``sourcecat``, else SCATFILE's, found.

    Parameters
    ----------
    meta : jwst_memest.metadata.ExposureMetadata
        The exposure's header.
    search_path : sequence of str or pathlib.Path, optional
        More folders to look in.
    catalog : str or pathlib.Path or None, optional
        The catalog an association names.

    Returns
    -------
    pathlib.Path
        The catalog.

    Raises
    ------
    ValueError
        No catalog named or found.
    """
    name = catalog or meta.source_catalog
    if not name:
        raise ValueError(f"{meta.path}: a WFSS exposure without SCATFILE: its sources cannot be known")
    path = Path(name) if Path(name).is_absolute() and Path(name).is_file() else _find(Path(name).name,
                                                                                      Path(meta.path), search_path)
    if path is None:
        named = "its association's sourcecat" if catalog else "SCATFILE"
        raise ValueError(f"{meta.path}: its source catalog {Path(name).name} ({named}) is not beside it; "
                         "calwebb_spec2 needs it too")
    return path


def wfss_catalog_sources(meta, search_path=(), catalog: str | Path | None = None):
    """Every catalog source as wfss_contam disperses it: label, centroid and segment pixels.

    Parameters
    ----------
    meta : jwst_memest.metadata.ExposureMetadata
        The exposure's header.
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for the catalog in.
    catalog : str or pathlib.Path or None, optional
        The catalog an association names.

    Returns
    -------
    tuple of (numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Labels, RA and Dec (degrees), segment pixels; in the catalog's order.
    """
    path = wfss_catalog(meta, search_path, catalog)
    modified = path.stat().st_mtime
    labels, ra, dec = (np.asarray(v) for v in _catalog_centroids(path, modified))
    scale = meta.pixel_scale if meta.pixel_scale == meta.pixel_scale and meta.pixel_scale else 0.065
    return labels, ra, dec, _segment_pixels(_catalog_boxes(path, modified), scale)


def wfss_slit_layout(meta, search_path=(), nbright: int = WFSS_NBRIGHT, mmag_extract: float | None = None,
                     catalog: str | Path | None = None) -> SlitLayout:
    """extract_2d's cutouts of a WFSS exposure: one per catalog source and extracted order, at their largest.

    Each cutout spans the order's trace (the filter's range at the least dispersion of the field,
    plus the source's box along the dispersion) and, across it, 11 rows for a point source
    (``wfss_extract_half_height``) or the source's box for an extended one, plus the trace's bend;
    both clipped to the detector. Every source is taken on the detector, every order on it.

    Parameters
    ----------
    meta : jwst_memest.metadata.ExposureMetadata
        The exposure's header (SCATFILE names the catalog).
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for the catalog in.
    nbright : int, optional
        ``wfss_nbright``: the brightest sources extracted.
    mmag_extract : float or None, optional
        ``wfss_mmag_extract``: sources fainter are not extracted.
    catalog : str or pathlib.Path or None, optional
        The catalog (a Level-2 association's ``sourcecat`` member), instead of SCATFILE's.

    Returns
    -------
    SlitLayout
        The cutouts.

    Raises
    ------
    ValueError
        No catalog named, found, or readable.
    """
    exp_type = (meta.exp_type or "").upper()
    path = wfss_catalog(meta, search_path, catalog)
    catalog_boxes = _catalog_boxes(path, path.stat().st_mtime)
    boxes = catalog_boxes
    if mmag_extract is not None:
        boxes = tuple(box for box in boxes if box[0] < mmag_extract)
    boxes = sorted(boxes, key=lambda box: box[0])[:nbright]
    if not boxes:
        return SlitLayout(0.0, 0.0, 0.0, 0, f"no source of {path.name} is extracted")
    scale = meta.pixel_scale if meta.pixel_scale == meta.pixel_scale and meta.pixel_scale else 0.065
    rows = float(meta.nrows or 2048)
    columns = float(meta.ncols or 2048)
    axis = wfss_dispersion_axis(exp_type, meta.filter, meta.pupil)
    along_limit, across_limit = (columns, rows) if axis == 1 else (rows, columns)
    _, x_extent, y_extent, extended, area = (np.asarray(v, float) for v in zip(*boxes))
    # boxes in pixels (to a thousandth: a box of whole pixels is not a pixel more by rounding)
    x_extent, y_extent = np.round(x_extent / scale, 3), np.round(y_extent / scale, 3)
    along_box, across_box = (x_extent, y_extent) if axis == 1 else (y_extent, x_extent)
    across = np.where(extended > 0, np.ceil(across_box) + 1, 2 * WFSS_HALF_HEIGHT + 1) + WFSS_TRACE_BEND
    across = np.minimum(across, across_limit)
    blocking = wfss_blocking_filter(exp_type, meta.filter, meta.pupil)
    orders = wfss_orders(exp_type, blocking)
    sizes = [np.minimum(np.ceil(wfss_trace_pixels(exp_type, blocking, order) + along_box) + 1, along_limit) * across
             for order in orders]
    sizes = np.concatenate(sizes)
    segments = _segment_pixels(catalog_boxes, scale)
    _, all_x, all_y, _, _ = (np.asarray(v, float) for v in zip(*catalog_boxes))
    # ... and keeps each one's dispersed image in every order it simulates (the clipped pixels' box)
    all_along, all_across = (all_x, all_y) if axis == 1 else (all_y, all_x)
    all_along, all_across = np.round(all_along / scale, 3), np.round(all_across / scale, 3)
    dispersed = sum(float(np.sum(np.minimum(np.ceil(wfss_trace_pixels(exp_type, blocking, order) + all_along) + 2,
                                            along_limit) * np.minimum(np.ceil(all_across) + 2, across_limit)))
                    for order in wfss_simulated_orders(exp_type))
    return SlitLayout(float(sizes.sum()), float(sizes.max()), 0.0, int(sizes.size),
                      f"{len(boxes)} sources of {path.name} x {len(orders)} order{'s' if len(orders) > 1 else ''}, "
                      "every one on the detector, at their largest", float(segments.sum()), dispersed)


def wfss_simulated_orders(exp_type: str) -> tuple[int, ...]:
    """The orders wfss_contam simulates: every order of the WAVELENGTHRANGE reference (NIRCam 1 and 2,
    NIRISS -1 to 3), whatever the filter.

    Parameters
    ----------
    exp_type : str
        NRC_WFSS or NIS_WFSS.

    Returns
    -------
    tuple of int
        The orders.
    """
    return tuple(next(iter(WFSS_RANGES[exp_type].values())))


def wfss_trace_pixels(exp_type: str, blocking: str, order: int) -> float:
    """Pixels along the dispersion an order's trace spans (order 0 is not dispersed: none).

    Parameters
    ----------
    exp_type : str
        NRC_WFSS or NIS_WFSS.
    blocking : str
        The blocking filter.
    order : int
        The spectral order.

    Returns
    -------
    float
        The trace's length in pixels.
    """
    if order == 0:
        return 0.0
    low, high = _order_range(exp_type, blocking, order)
    return (high - low) / (WFSS_DISPERSION[exp_type] / abs(order))


def wfss_order_samples(exp_type: str, blocking: str, oversample: int = 2) -> dict[int, int]:
    """The wavelengths wfss_contam disperses each segment pixel at, per order it simulates.

    wfss_contam simulates every order of the WAVELENGTHRANGE reference (NIRCam 1 and 2, NIRISS -1
    to 3), sampling each order's range at its pixel spacing over ``wl_oversample`` (at least 3).

    Parameters
    ----------
    exp_type : str
        NRC_WFSS or NIS_WFSS.
    blocking : str
        The blocking filter.
    oversample : int, optional
        ``wl_oversample``.

    Returns
    -------
    dict of int to int
        Order -> wavelength samples.
    """
    return {order: max(int(np.ceil(wfss_trace_pixels(exp_type, blocking, order) * oversample)), 3)
            for order in wfss_simulated_orders(exp_type)}

