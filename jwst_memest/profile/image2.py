"""Synthetic full-size imaging exposures for calwebb_image2: rate files, and rateints for a time series.

``write_rate`` writes one rate (or, for a TSO, rateints) exposure of a layout's first detector
with the header image2 reads; `jwst_memest.profile.level2` runs and measures the pipeline on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.exposures import ExposureLayout
from jwst_memest.instruments import full_frame

__all__ = ["image2_layout", "make_rate_model", "write_rate", "rate_bytes", "layout_is_tso", "frame_shape", "as_slopes",
           "RATE_BYTES_PER_PIXEL"]

#: Bytes per pixel and integration of a rate/rateints file's arrays: SCI, ERR, VAR_POISSON,
#: VAR_RNOISE (float32) and DQ (uint32).
RATE_BYTES_PER_PIXEL = 20


def image2_layout(params: dict) -> ExposureLayout:
    """The layout of a plan configuration (one detector: Level 2 runs per exposure).

    Parameters
    ----------
    params : dict
        `ExposureLayout` fields; lists become tuples.

    Returns
    -------
    jwst_memest.exposures.ExposureLayout
        The layout.
    """
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    layout = ExposureLayout(**values)
    if len(layout.detectors) != 1:
        raise ValueError(f"image2 runs one exposure of one detector, not {len(layout.detectors)}")
    if layout.subarray != "FULL" and not layout.subarray_shape:
        raise ValueError(f"subarray {layout.subarray} needs its subarray_shape (columns, rows)")
    return layout


def frame_shape(layout: ExposureLayout) -> tuple[int, int]:
    """Rows and columns of the layout's science frame (its subarray, else the full frame).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.

    Returns
    -------
    tuple of int
        (rows, columns).
    """
    ncols, nrows = layout.subarray_shape or full_frame(layout.detectors[0])
    return nrows, ncols


def rate_bytes(layout: ExposureLayout) -> int:
    """Bytes of the rate (rateints) file's arrays.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.

    Returns
    -------
    int
        Bytes.
    """
    nrows, ncols = frame_shape(layout)
    return RATE_BYTES_PER_PIXEL * nrows * ncols * (layout.nints if layout_is_tso(layout) else 1)


def layout_is_tso(layout: ExposureLayout) -> bool:
    """Whether the exposure is a time series (its slopes stay per integration: rateints).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.

    Returns
    -------
    bool
        True for TSO exposure types and TSO visits.
    """
    return layout.tso_visit or layout.exp_type in ("NRC_TSIMAGE", "MIR_LRS-SLITLESS")


def make_rate_model(layout: ExposureLayout, rng: np.random.Generator):
    """A synthetic rate ImageModel (rateints CubeModel for a TSO) of the layout's detector.

    The header is that of the project's synthetic cal members (pointing, subarray, observation),
    without a WCS and with no calibration step done, so calwebb_image2 does all its work.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (its first pointing and only detector).
    rng : numpy.random.Generator
        The random numbers of the noise and cosmic rays.

    Returns
    -------
    stdatamodels.jwst.datamodels.ImageModel or stdatamodels.jwst.datamodels.CubeModel
        The model.
    """
    from jwst_memest.profile.synthetic import make_cal_model, star_field

    detector = layout.detectors[0]
    stars = star_field(layout, int(rng.integers(1 << 30)), density=layout.star_density)
    cal = make_cal_model(layout, detector, 1, 1, layout.pointings()[0], stars, rng)
    tso = layout_is_tso(layout)
    arrays = None
    if tso:  # the same frame every integration, each with its own offset
        shape = (layout.nints, *cal.data.shape)
        arrays = {name: np.broadcast_to(getattr(cal, name), shape).copy()
                  for name in ("err", "var_poisson", "var_rnoise", "dq")}
        arrays["data"] = (np.broadcast_to(cal.data, shape)
                          + rng.normal(0, 0.02, shape[:1])[:, None, None].astype(np.float32))
    model = as_slopes(cal, tso, arrays)
    model.meta.exposure.nints = layout.nints
    if tso:
        model.meta.exposure.integration_start, model.meta.exposure.integration_end = 1, layout.nints
    return model


def as_slopes(cal, tso: bool, arrays: dict | None = None):
    """The rate (rateints for a time series) a synthetic calibrated member stands for: its SCI, ERR,
    variances and DQ, its header, DN/s and no calibration step done, no WCS.

    Parameters
    ----------
    cal : stdatamodels.jwst.datamodels.ImageModel or stdatamodels.jwst.datamodels.CubeModel
        The calibrated member (closed here).
    tso : bool
        Per integration (rateints, a CubeModel) or one slope image (rate, an ImageModel).
    arrays : dict or None, optional
        SCI (``data``), ``err``, ``var_poisson``, ``var_rnoise`` and ``dq`` to use instead of the member's.

    Returns
    -------
    stdatamodels.jwst.datamodels.ImageModel or stdatamodels.jwst.datamodels.CubeModel
        The slope model, named ``_rate``/``_rateints``.
    """
    from stdatamodels.jwst import datamodels

    arrays = arrays or {name: getattr(cal, name) for name in ("data", "err", "var_poisson", "var_rnoise", "dq")}
    model = (datamodels.CubeModel if tso else datamodels.ImageModel)(data=arrays["data"])
    for name in ("err", "var_poisson", "var_rnoise", "dq"):
        setattr(model, name, arrays[name])
    model.update(cal)
    if getattr(cal, "int_times", None) is not None and len(cal.int_times):
        model.int_times = cal.int_times
    stem = cal.meta.filename.rsplit("_", 1)[0]
    model.meta.filename = f"{stem}_{'rateints' if tso else 'rate'}.fits"
    model.meta.bunit_data, model.meta.bunit_err = "DN/s", "DN/s"
    model.meta.visit.tsovisit = tso
    for step in ("assign_wcs", "flat_field", "photom"):
        setattr(model.meta.cal_step, step, None)
    model.meta.velocity_aberration.scale_factor = 1.0
    cal.close()
    return model


def write_rate(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> Path:
    """Write the layout's exposure as a full-size rate/rateints file.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    directory : str or pathlib.Path
        Where to write it.
    seed : int, optional
        The random seed.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from jwst_memest.profile.synthetic import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return save_model(make_rate_model(layout, np.random.default_rng(seed)), directory)
