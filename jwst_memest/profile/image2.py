"""Measured calwebb_image2 runs on synthetic full-size imaging exposures.

``write_rate`` writes one rate (or, for a TSO, rateints) exposure of a layout's first detector
with the header image2 reads; ``run_image2`` runs calwebb_image2 on it under the monitor, every
reference a synthetic file from ``image2_references`` (one cache folder, reused across runs);
``build_image2_corpus`` does so for every configuration of a plan whose top level says
``pipeline: image2`` and appends one row per run.

A plan group's ``base``/``vary`` hold `jwst_memest.exposures.ExposureLayout` fields (``exp_type``,
``detectors``, ``subarray``, ``subarray_shape``, ``nints``, ``tso_visit`` ...) and ``settings``:
calwebb_image2 step arguments such as ``resample.pixel_scale_ratio``.
"""

from __future__ import annotations

import datetime
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from jwst_memest.exposures import ExposureLayout, detector_offset
from jwst_memest.instruments import full_frame
from jwst_memest.profile.detector1 import expand_detector1_plan, step_times
from jwst_memest.profile.image2_references import image2_arguments, write_image2_references

__all__ = ["IMAGE2_COLUMNS", "image2_layout", "make_rate_model", "write_rate", "run_image2",
           "build_image2_corpus", "default_image2_reference_cache", "rate_bytes"]

IMAGE2_COLUMNS = [
    "run_id", "pipeline", "status", "measured_gb", "peak_kernel_gb", "peak_sampled_gb", "wall_s",
    "step_peaks", "step_times", "instrument", "detector", "exp_type", "subarray", "tso", "nints", "ny", "nx",
    "rate_bytes", "pipeline_args", "layout", "jwst_version", "timestamp", "split",
]

#: Bytes per pixel and integration of a rate/rateints file's arrays: SCI, ERR, VAR_POISSON,
#: VAR_RNOISE (float32) and DQ (uint32).
RATE_BYTES_PER_PIXEL = 20


def image2_layout(params: dict) -> ExposureLayout:
    """The layout of a plan configuration (one detector: calwebb_image2 runs per exposure).

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


def _shape(layout: ExposureLayout) -> tuple[int, int]:
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
    nrows, ncols = _shape(layout)
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
    return layout.tso_visit or layout.exp_type in ("NRC_TSIMAGE",)


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
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.synthetic import make_cal_model, star_field

    detector = layout.detectors[0]
    stars = star_field(layout, int(rng.integers(1 << 30)), density=layout.star_density)
    cal = make_cal_model(layout, detector, 1, 1, layout.pointings()[0], stars, rng)
    tso = layout_is_tso(layout)
    if tso:
        cube = np.broadcast_to(cal.data, (layout.nints, *cal.data.shape))
        model = datamodels.CubeModel(data=cube + rng.normal(0, 0.02, cube.shape[:1])[:, None, None].astype(np.float32))
        for name in ("err", "var_poisson", "var_rnoise"):
            setattr(model, name, np.broadcast_to(getattr(cal, name), cube.shape).copy())
        model.dq = np.broadcast_to(cal.dq, cube.shape).copy()
    else:
        model = datamodels.ImageModel(data=cal.data)
        for name in ("err", "var_poisson", "var_rnoise", "dq"):
            setattr(model, name, getattr(cal, name))
    model.update(cal)
    model.meta.filename = cal.meta.filename.replace("_cal.", "_rateints." if tso else "_rate.")
    model.meta.bunit_data, model.meta.bunit_err = "DN/s", "DN/s"
    model.meta.exposure.nints = layout.nints
    model.meta.visit.tsovisit = tso
    if tso:
        model.meta.exposure.integration_start, model.meta.exposure.integration_end = 1, layout.nints
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


def default_image2_reference_cache() -> Path:
    """The references' cache: a folder in the temporary folder.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    return Path(tempfile.gettempdir()) / "memest-image2-references"


def _settings_arguments(settings) -> list[str]:
    return [f"--steps.{name}={value}" for name, value in settings]


def _driver_columns(layout: ExposureLayout) -> dict:
    from jwst_memest.exposures import instrument_of

    nrows, ncols = _shape(layout)
    detector = layout.detectors[0]
    return {"pipeline": "image2", "instrument": instrument_of(detector), "detector": detector,
            "exp_type": layout.exp_type, "subarray": layout.subarray, "tso": layout_is_tso(layout),
            "nints": layout.nints, "ny": nrows, "nx": ncols, "rate_bytes": rate_bytes(layout)}


def run_image2(layout: ExposureLayout, *, settings=(), run_id: str | None = None,
               reference_cache: str | Path | None = None, scratch_root: str | None = None,
               timeout: float | None = 3600, seed: int = 0, rss_limit_gb: float | None = None,
               params: dict | None = None) -> dict:
    """Write the rate file, run calwebb_image2 on it under the monitor, delete the data; return the row.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The exposure's layout.
    settings : sequence of (str, object), optional
        Step arguments (``("resample.pixel_scale_ratio", 0.5)``).
    run_id : str or None, optional
        The row's id (default: detector and time).
    reference_cache : str or pathlib.Path or None, optional
        Folder of the cached references.
    scratch_root : str or None, optional
        Where the exposure and outputs are written (default: the temporary folder).
    timeout : float or None, optional
        Seconds before the run is killed.
    seed : int, optional
        Seed of the synthetic exposure.
    rss_limit_gb : float or None, optional
        Process-tree RSS (GB) at which the run is killed.
    params : dict or None, optional
        The plan's parameters, recorded in the row.

    Returns
    -------
    dict
        The corpus row (``IMAGE2_COLUMNS``).
    """
    import jwst

    from jwst_memest.profile.monitor import measure
    from jwst_memest.profile.run import crds_free_env, pipeline_runner, split_of

    runner = pipeline_runner()
    detector = layout.detectors[0]
    dx, dy = detector_offset(layout, detector)
    references = write_image2_references(detector, layout.filter, layout.pupil, layout.subarray, -dx, dy,
                                         reference_cache or default_image2_reference_cache())
    scratch = Path(tempfile.mkdtemp(prefix="memest-image2-", dir=scratch_root))
    run_id = run_id or f"image2-{detector.lower()}-{datetime.datetime.now():%Y%m%dT%H%M%S}"
    try:
        rate = write_rate(layout, scratch, seed=seed)
        arguments = [*image2_arguments(references), *_settings_arguments(settings)]
        log_path = scratch / "pipeline.log"
        result = measure([runner, "calwebb_image2", str(rate), *arguments], env=crds_free_env(scratch / "crds"),
                         cwd=scratch, timeout=timeout, log_path=log_path, rss_limit_gb=rss_limit_gb, interval=0.1)
        with open(log_path, errors="replace") as handle:
            times = step_times(handle.readlines())
        failed = ""
        if result.returncode not in (0, None) and not result.over_limit:
            failed = " ".join(result.output_tail.split())[-200:]
        status = (f"killed: memory above {rss_limit_gb:g} GB" if result.over_limit
                  else "ok" if result.returncode == 0 else f"exit {result.returncode}: {failed}")
        return {
            "run_id": run_id, "status": status,
            "measured_gb": round(result.peak_tree_gb, 4),
            "peak_kernel_gb": round(result.peak_gb, 4),
            "peak_sampled_gb": round(result.peak_sampled_gb, 4),
            "wall_s": round(result.wall_s, 2),
            "step_peaks": json.dumps(result.step_peaks, sort_keys=True) if result.step_peaks else "",
            "step_times": json.dumps(times, sort_keys=True) if times else "",
            **_driver_columns(layout),
            "pipeline_args": " ".join(_settings_arguments(settings)),
            "layout": json.dumps(params or {}, sort_keys=True),
            "jwst_version": jwst.__version__,
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "split": split_of(run_id),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_image2_corpus(plan: dict, corpus: Path, memory_guard_gb: float = 9.0, limit: int | None = None,
                        reference_cache: str | Path | None = None, progress=print) -> int:
    """Run every configuration of an image2 plan not yet in the corpus, in plan order; rows added.

    Parameters
    ----------
    plan : dict
        The plan (``pipeline: image2`` and its groups).
    corpus : pathlib.Path
        The CSV appended to.
    memory_guard_gb : float, optional
        GB: a run whose process tree outgrows it is killed and recorded so.
    limit : int or None, optional
        Run at most this many pending configurations.
    reference_cache : str or pathlib.Path or None, optional
        Folder of the cached references.
    progress : callable, optional
        Called with one line per row (and ``file=``).

    Returns
    -------
    int
        Rows added.
    """
    from jwst_memest.profile.run import append_row, finished_run_ids, pipeline_runner, seed_of

    pipeline_runner()
    done = finished_run_ids(corpus)
    configurations = [c for c in expand_detector1_plan(plan) if c.run_id not in done][:limit]
    added = 0
    for configuration in configurations:
        params = dict(configuration.layout)
        try:
            layout = image2_layout(params)
            row = run_image2(layout, settings=configuration.settings, run_id=configuration.run_id,
                             reference_cache=reference_cache, seed=seed_of(configuration.run_id),
                             rss_limit_gb=memory_guard_gb, params=params)
        except Exception as exc:  # a failed run is recorded, not fatal to the corpus
            row = {"run_id": configuration.run_id, "pipeline": "image2",
                   "status": f"error: {type(exc).__name__}: {str(exc)[:200]}",
                   "layout": json.dumps(params, sort_keys=True)}
        append_row(corpus, row, IMAGE2_COLUMNS)
        added += 1
        progress(f"{row['run_id']}: {row['status']} {row.get('measured_gb', '')} GB {row.get('wall_s', '')} s",
                 file=sys.stderr)
    return added
