"""What calwebb_image3's steps allocate, counted from jwst 3.0's source (dtype x shape).

These bytes per pixel are not fitted: they follow from the arrays the code makes and from the
settings of the run (``jwst_memest.settings.RunSettings``); docs/memory-terms.md derives each one
and checks it against allocation traces of real runs. The physics baseline adds them to what it
fits (the interpreter and libraries, per-member metadata, the pixel map, what the count leaves
out).

The baseline's input is the schema's feature vector followed by ``SETTING_COLUMNS``: a vector
without them is a run at jwst's defaults.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["SETTING_COLUMNS", "settings_matrix", "with_settings", "with_product_settings", "setting_columns", "context_planes",
           "covered_pixels", "member_footprint", "outlier_grid_pixels", "resample_output_bytes", "outlier_output_bytes", "outlier_input_bytes",
           "lingering_group_bytes", "CROWDED_CATALOG_PER_PIXEL",
           "i2d_bytes", "catalog_output_bytes", "pixmap_factor"]

# run settings the baseline reads beside the features (in_memory is a feature of its own), then what
# the members say beyond the schema: the output pixels one input pixel covers (1 at the default
# scale) and the bytes of the PSF references (NaN: not known, e.g. a vector without these columns)
SETTING_COLUMNS = ("enable_ctx", "enable_err", "report_var", "outlier_resample_data", "skip_outlier_detection",
                   "skip_source_catalog", "pixmap_stepsize", "outlier_pixmap_stepsize", "output_area_ratio",
                   "psf_input_bytes", "outlier_grid_pixels", "slit_tree_bytes", "wfss_products_bytes")
_DEFAULTS = {"enable_ctx": 1.0, "enable_err": 1.0, "report_var": 1.0, "outlier_resample_data": 1.0,
             "skip_outlier_detection": 0.0, "skip_source_catalog": 0.0, "pixmap_stepsize": 1.0,
             "outlier_pixmap_stepsize": 1.0, "output_area_ratio": 1.0, "psf_input_bytes": np.nan,
             "outlier_grid_pixels": np.nan, "slit_tree_bytes": np.nan, "wfss_products_bytes": np.nan}
# what the members say beyond the schema: the output pixels one input pixel covers, the PSF
# references' bytes, and outlier_detection's grid (the mosaic at the members' scale: resample's
# pixel_scale, pixel_scale_ratio and output_shape do not reach it), and the serialized tree (WCS and
# metadata) each slit of a multi-slit member carries in its file's ASDF extension, and the bytes of
# what a WFSS product's final x1d and c1d add (from its members' cutouts: jwst_memest.wfss_products)
_MEMBER_COLUMNS = ("output_area_ratio", "psf_input_bytes", "outlier_grid_pixels", "slit_tree_bytes",
                   "wfss_products_bytes")

# Peak resident memory counts the pages a process has written, not those it allocated: an array
# made by np.zeros or np.empty and written only where members land costs only the covered part of
# the output grid (a sparse mosaic's empty sky costs nothing there), while one filled with NaN, or
# computed over the whole grid, costs all of it. Each count below is split that way: bytes per
# output pixel (the whole grid) and bytes per covered output pixel.

# --- resample (drizzle's output buffers, stcal's variance path) ---------------------------------
SCIENCE_FULL, SCIENCE_COVERED = 4.0, 4.0  # data (NaN-filled) and weight (zeros), float32
CONTEXT_PLANE = 4.0  # int32, one plane per 32 inputs, zeros: written where members land
# enable_err: the variances are drizzled, accumulated and finalized (report_var only leaves them out
# of the i2d). At finalize: three NaN-filled accumulators and the last member's variances, the
# finalized variances and err (44 over the grid) and three weight sums (12 where covered); while a
# member's variances are accumulated: the same but the finalize's 16, with the float64 weight (8
# where covered) and masks, and float64 temporaries over the pixels that member covers (46 each)
FINALIZE_FULL, FINALIZE_COVERED = 40.0, 12.0
ACCUMULATE_FULL, ACCUMULATE_COVERED = 25.0, 20.0
VARIANCE_PER_MEMBER_PIXEL = 46.0
# The phases do not overlap: a member's pixel map is computed over what resample holds between two
# members (data over the grid, weight and context where covered; with enable_err the NaN-filled
# weight sums and the previous member's variances, 24 over the grid, and their weights, 12 where
# covered), and is freed before the variances are accumulated, which run beside that member's
# kept arrays: its pixel map (float64 x 2), weight map and sky-subtracted copy
BETWEEN_MEMBERS_FULL, BETWEEN_MEMBERS_COVERED = 24.0, 12.0
MEMBER_ARRAYS_PER_INPUT_PIXEL = 24.0

# --- outlier_detection (imaging) ----------------------------------------------------------------
MEDIAN_PER_GROUP = 4.0  # each group's drizzled image (float32, on the whole output grid) in the median stack
# Two phases that do not overlap. Drizzling the last group: the stack of the groups before it, that
# group's data (NaN-filled, whole grid) and weight (where covered), and the group drizzled before it,
# which only the cyclic garbage collector frees (traced: one data/weight pair on a 6.6e6-pixel
# mosaic), beside one member's pixel map. Computing the median: the whole stack, the lingering
# group, and the median itself. On disk the stack is written out by sections: the group being
# drizzled and the lingering one, then the median, the section read back and the lingering data.
DRIZZLE_GROUP_FULL, DRIZZLE_GROUP_COVERED = 8.0, 8.0
MEDIAN_IN_MEMORY_FULL = 8.0  # beyond the stack
OUTLIER_ON_DISK_FULL = 12.0
OUTLIER_COVERED = 4.0
# Beyond that one, how many earlier groups' drizzled data (4 B per grid pixel each) are still
# alive depends on when the garbage collector runs, which the source cannot tell. Measured: none
# up to 9 groups, 2-3 at 12 and 4-5 at 16, in memory and on disk alike; at 32-72 groups on small
# grids it stays small (full collections come round). Counted as half of each group after the
# sixth, at most ten groups: fitting it freely on relative errors drops it (it matters only for
# the few deepest runs), and dropping it estimated the largest run 14 % low
LINGER_AFTER_GROUPS, LINGER_MAX_GROUPS, LINGER_PER_GROUP = 6.0, 10.0, 2.0
MEDIAN_PER_MEMBER_PIXEL = 4.0  # resample_data=False: the median over the members themselves, per input pixel
MEDIAN_INPUT_OVERHEAD = 17.0

# --- source_catalog: the i2d it is given, and its own arrays over the whole grid ----------------
I2D_ERR = 4.0
I2D_VARIANCES = 12.0
# convolved (float64 and padded), background and rms, threshold, segmentation, over the whole grid.
# A scene where it finds no source ends the step before most of them exist: then this over-counts
CATALOG_OWN = 45.0
# and what it finds: the same stacks and mosaics in a field of 5 stars per arcsec^2 (tens of
# thousands of sources per detector) peaked 21-28 B per covered output pixel higher in source_catalog
# than in a near-empty one (data/corpus/image3-scene.csv). The headers do not tell the scene: the
# bound allows for a crowded field, the estimate does not
CROWDED_CATALOG_PER_PIXEL = 28.0

# --- the pixel map: pixmap_stepsize > 1 interpolates it from a coarse grid ----------------------
PIXMAP_FULL = 140.0  # measured peak per input pixel of one pixel map (float64 coordinates, WCS evaluation)
PIXMAP_STEPPED = 32.0


def context_planes(n_members) -> np.ndarray:
    """int32 planes of resample's context image for ``n_members`` inputs (one bit per input).

    Parameters
    ----------
    n_members : array_like
        The inputs per row.

    Returns
    -------
    numpy.ndarray
        Planes per row.
    """
    n = np.maximum(np.asarray(n_members, dtype=float), 1.0)
    return np.floor((n - 1.0) / 32.0) + 1.0


def setting_columns(X: np.ndarray, n_features: int) -> dict[str, np.ndarray]:
    """The settings of each row of a baseline input: its columns after the features, else jwst's defaults.

    Parameters
    ----------
    X : numpy.ndarray
        The baseline input, one row per product.
    n_features : int
        The feature set's length (where the settings columns start).

    Returns
    -------
    dict of str to numpy.ndarray
        Each of ``SETTING_COLUMNS``, per row.
    """
    X = np.atleast_2d(X)
    found = {}
    for i, name in enumerate(SETTING_COLUMNS):
        column = n_features + i
        found[name] = X[:, column] if X.shape[1] > column else np.full(len(X), _DEFAULTS[name])
    return found


def settings_matrix(settings: Sequence, area_ratios: Sequence[float] | None = None,
                    psf_bytes: Sequence[float] | None = None, outlier_grids: Sequence[float] | None = None,
                    slit_trees: Sequence[float] | None = None,
                    wfss_products: Sequence[float] | None = None) -> np.ndarray:
    """One row of ``SETTING_COLUMNS`` per RunSettings (None: jwst's defaults).

    Parameters
    ----------
    settings : sequence of jwst_memest.settings.RunSettings or None
        One per row.
    area_ratios : sequence of float or None, optional
        Output pixels per input pixel of each row's mosaic (None: 1).
    psf_bytes : sequence of float or None, optional
        The PSF references' bytes among each row's members (None: not known).
    outlier_grids : sequence of float or None, optional
        The pixels of outlier_detection's grid (None: not known).
    slit_trees : sequence of float or None, optional
        Serialized tree bytes per slit of each row's multi-slit members (None: not known).
    wfss_products : sequence of float or None, optional
        Bytes each row's WFSS product adds after the per-source loop (None: not known).

    Returns
    -------
    numpy.ndarray
        (rows, len(SETTING_COLUMNS)).
    """
    n = len(settings)
    members = {name: list(values) if values is not None else [_DEFAULTS[name]] * n
               for name, values in zip(_MEMBER_COLUMNS,
                                       (area_ratios, psf_bytes, outlier_grids, slit_trees, wfss_products))}
    own = [name for name in SETTING_COLUMNS if name not in _MEMBER_COLUMNS]
    rows = []
    for i, s in enumerate(settings):
        row = {name: float(getattr(s, name)) if s is not None else _DEFAULTS[name] for name in own}
        row.update({name: float(values[i]) for name, values in members.items()})
        rows.append([row[name] for name in SETTING_COLUMNS])
    return np.array(rows, dtype=float).reshape(n, len(SETTING_COLUMNS))


def with_settings(X: np.ndarray, settings: Sequence | None, area_ratios: Sequence[float] | None = None,
                  psf_bytes: Sequence[float] | None = None, outlier_grids: Sequence[float] | None = None,
                  slit_trees: Sequence[float] | None = None,
                  wfss_products: Sequence[float] | None = None) -> np.ndarray:
    """The baseline input of features ``X`` run with ``settings``.

    Parameters
    ----------
    X : numpy.ndarray
        Encoded features, one row per product.
    settings : sequence of jwst_memest.settings.RunSettings or None
        One per row (None: jwst's defaults).
    area_ratios : sequence of float or None, optional
        Output pixels per input pixel of each row's mosaic (1 at the input scale).
    psf_bytes : sequence of float or None, optional
        The PSF references' bytes among each row's members.
    outlier_grids : sequence of float or None, optional
        The pixels of outlier_detection's grid (None: not known).
    slit_trees : sequence of float or None, optional
        Serialized tree bytes per slit of each row's multi-slit members (None: not known).
    wfss_products : sequence of float or None, optional
        Bytes each row's WFSS product adds after the per-source loop (None: not known).

    Returns
    -------
    numpy.ndarray
        ``X`` followed by the ``SETTING_COLUMNS``.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    if settings is None:
        settings = [None] * len(X)
    return np.hstack([X, settings_matrix(settings, area_ratios, psf_bytes, outlier_grids, slit_trees,
                                          wfss_products)])


def with_product_settings(X: np.ndarray, settings: Sequence | None, features: Sequence) -> np.ndarray:
    """`with_settings`, what the members say read off each product's features.

    Parameters
    ----------
    X : numpy.ndarray
        Feature vectors, one row per product.
    settings : sequence of RunSettings or None
        Each row's settings (None: jwst's defaults).
    features : sequence of jwst_memest.features.build.ProductFeatures
        Each row's features: they carry the member columns (``output_area_ratio``,
        ``psf_input_bytes``, ``outlier_grid_pixels``, ``slit_tree_bytes``, ``wfss_products_bytes``) by the
        same names.

    Returns
    -------
    numpy.ndarray
        The baseline input.
    """
    return with_settings(X, settings, *([getattr(f, name) for f in features] for name in _MEMBER_COLUMNS))


def outlier_grid_pixels(output_pixels, s: dict[str, np.ndarray]) -> np.ndarray:
    """outlier_detection's grid: given, else resample's grid brought back to the members' scale.

    Parameters
    ----------
    output_pixels : array_like
        resample's output pixels per row.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Pixels per row.
    """
    native = np.asarray(output_pixels, float) / np.maximum(s["output_area_ratio"], 1e-12)
    return np.where(np.isfinite(s["outlier_grid_pixels"]), s["outlier_grid_pixels"], native)


def covered_pixels(n_members, member_pixels, output_pixels, s: dict[str, np.ndarray]) -> np.ndarray:
    """Output pixels the members land on.

    Their footprints at the output scale, overlaps counted each time (an upper bound of their
    union), at most the grid.

    Parameters
    ----------
    n_members : array_like
        Members per row.
    member_pixels : array_like
        Pixels of one member.
    output_pixels : array_like
        The output grid's pixels.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Pixels per row.
    """
    footprints = np.asarray(n_members, float) * np.asarray(member_pixels, float) * s["output_area_ratio"]
    return np.minimum(footprints, np.asarray(output_pixels, float))


def member_footprint(member_pixels, output_pixels, s: dict[str, np.ndarray]) -> np.ndarray:
    """Output pixels one member covers (m), at most the grid.

    Parameters
    ----------
    member_pixels : array_like
        Pixels of one member.
    output_pixels : array_like
        The output grid's pixels.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Pixels per row.
    """
    return np.minimum(np.asarray(member_pixels, float) * s["output_area_ratio"], np.asarray(output_pixels, float))


def resample_output_bytes(n_members, npix_in, npix_out, covered, footprint, pixmap_per_input,
                          s: dict[str, np.ndarray]) -> np.ndarray:
    """Bytes resample holds at its peak beyond the members.

    The largest of its phases: one member's pixel map over the arrays held between members, the
    variances' accumulation, and their finalize.

    Parameters
    ----------
    n_members : array_like
        Members per row.
    npix_in : array_like
        Pixels of one member.
    npix_out : array_like
        The output grid's pixels.
    covered : array_like
        Output pixels the members land on (`covered_pixels`).
    footprint : array_like
        Output pixels one member covers (`member_footprint`).
    pixmap_per_input : array_like
        Bytes per input pixel of a pixel map (the WCS evaluation, fitted).
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    context = s["enable_ctx"] * CONTEXT_PLANE * context_planes(n_members) * covered
    science = SCIENCE_FULL * npix_out + SCIENCE_COVERED * covered + context
    npix_in = np.asarray(npix_in, float)
    # the first member's pixel map comes before any variance exists: nothing is held "between" members
    later = (np.asarray(n_members, float) > 1).astype(float)
    pixel_map = (science + later * s["enable_err"] * (BETWEEN_MEMBERS_FULL * npix_out + BETWEEN_MEMBERS_COVERED * covered)
                 + pixmap_per_input * npix_in)
    accumulate = (science + ACCUMULATE_FULL * npix_out + ACCUMULATE_COVERED * covered
                  + VARIANCE_PER_MEMBER_PIXEL * footprint + MEMBER_ARRAYS_PER_INPUT_PIXEL * npix_in)
    finalize = science + FINALIZE_FULL * npix_out + FINALIZE_COVERED * covered
    return np.maximum(pixel_map, s["enable_err"] * np.maximum(accumulate, finalize))


def outlier_output_bytes(n_groups, in_memory, npix_out, covered, pixmap_bytes, s: dict[str, np.ndarray]) -> np.ndarray:
    """Bytes outlier_detection holds over its grid at its peak.

    The larger of drizzling the last group beside one member's pixel map and computing the
    median (the whole stack in memory, sections on disk); 0 with ``resample_data`` off.

    Parameters
    ----------
    n_groups : array_like
        Exposure groups per row (planes of the median stack).
    in_memory : array_like
        The run's ``in_memory`` (0 or 1) per row.
    npix_out : array_like
        The grid's pixels.
    covered : array_like
        Grid pixels the members land on.
    pixmap_bytes : array_like
        Bytes of one member's pixel map.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    in_memory = np.asarray(in_memory) > 0
    stack = MEDIAN_PER_GROUP * np.asarray(n_groups, float)
    drizzle = (np.where(in_memory, stack - MEDIAN_PER_GROUP, 0.0) + DRIZZLE_GROUP_FULL) * npix_out \
        + DRIZZLE_GROUP_COVERED * covered + pixmap_bytes
    median = np.where(in_memory, stack + MEDIAN_IN_MEMORY_FULL, OUTLIER_ON_DISK_FULL) * npix_out + OUTLIER_COVERED * covered
    return s["outlier_resample_data"] * np.maximum(drizzle, median)


def lingering_group_bytes(n_groups, npix_out) -> np.ndarray:
    """Bytes of earlier groups' drizzled data still alive in outlier_detection (garbage not yet collected).

    Parameters
    ----------
    n_groups : array_like
        Exposure groups per row.
    npix_out : array_like
        The grid's pixels.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    lingering = np.clip(np.asarray(n_groups, float) - LINGER_AFTER_GROUPS, 0.0, LINGER_MAX_GROUPS)
    return LINGER_PER_GROUP * lingering * np.asarray(npix_out, float)


def outlier_input_bytes(n_members, s: dict[str, np.ndarray]) -> np.ndarray:
    """Bytes per input pixel of outlier_detection's median over the members (resample_data=False).

    Parameters
    ----------
    n_members : array_like
        Members per row.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Bytes per input pixel, per row (0 where ``resample_data`` is on).
    """
    return (1.0 - s["outlier_resample_data"]) * (MEDIAN_PER_MEMBER_PIXEL * np.asarray(n_members, float)
                                                + MEDIAN_INPUT_OVERHEAD)


def i2d_bytes(n_members, npix_out, covered, s: dict[str, np.ndarray]) -> np.ndarray:
    """Bytes of the i2d model source_catalog is given.

    Data, err and variances over the grid, weight and context where covered.

    Parameters
    ----------
    n_members : array_like
        Members per row.
    npix_out : array_like
        The output grid's pixels.
    covered : array_like
        Output pixels the members land on.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    full = SCIENCE_FULL + s["enable_err"] * (I2D_ERR + s["report_var"] * I2D_VARIANCES)
    return full * npix_out + (SCIENCE_COVERED + s["enable_ctx"] * CONTEXT_PLANE * context_planes(n_members)) * covered


def catalog_output_bytes(n_members, npix_out, covered, s: dict[str, np.ndarray]) -> np.ndarray:
    """Bytes at source_catalog's peak: the i2d and its own arrays over the whole grid.

    Parameters
    ----------
    n_members : array_like
        Members per row.
    npix_out : array_like
        The output grid's pixels.
    covered : array_like
        Output pixels the members land on.
    s : dict of str to numpy.ndarray
        The rows' settings columns (`setting_columns`).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    return i2d_bytes(n_members, npix_out, covered, s) + CATALOG_OWN * npix_out


def pixmap_factor(stepsize) -> np.ndarray:
    """A pixel map's cost relative to a full one (``pixmap_stepsize`` 1).

    Parameters
    ----------
    stepsize : array_like
        ``pixmap_stepsize`` per row.

    Returns
    -------
    numpy.ndarray
        The factor per row.
    """
    return np.where(np.asarray(stepsize, float) > 1.0, PIXMAP_STEPPED / PIXMAP_FULL, 1.0)
