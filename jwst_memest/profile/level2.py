"""Measured Level-2 runs (calwebb_image2, calwebb_spec2) on synthetic full-size exposures, one exposure a run.

``run_level2`` writes the exposure (`jwst_memest.profile.image2.write_rate` for imaging,
`jwst_memest.profile.spec2.write_spec2_exposure` for MIRI LRS), runs the pipeline on it
under the monitor with every reference a synthetic file (one cache folder, reused across runs),
deletes the data and returns the corpus row; ``build_level2_corpus`` does so for every
configuration of a plan whose top level says ``pipeline: image2`` or ``pipeline: spec2`` and
appends one row per run.

A plan group's ``base``/``vary`` hold `jwst_memest.exposures.ExposureLayout` fields (``exp_type``,
``detectors``, ``subarray``, ``subarray_shape``, ``nints``, ``tso_visit`` ...) and ``settings``:
step arguments such as ``resample.pixel_scale_ratio``.
"""

from __future__ import annotations

import datetime
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from jwst_memest.exposures import ExposureLayout, detector_offset, instrument_of
from jwst_memest.profile.detector1 import expand_detector1_plan
from jwst_memest.profile.monitor import step_times
from jwst_memest.profile.image2 import frame_shape, image2_layout, layout_is_tso, rate_bytes

__all__ = ["LEVEL2_COLUMNS", "LEVEL2_PIPELINES", "run_level2", "build_level2_corpus", "default_level2_reference_cache",
           "cutout_columns", "level2_exposure"]

LEVEL2_COLUMNS = [
    "run_id", "pipeline", "status", "measured_gb", "peak_kernel_gb", "peak_sampled_gb", "wall_s",
    "step_peaks", "step_times", "instrument", "detector", "exp_type", "subarray", "tso", "nints", "ny", "nx",
    "rate_bytes", "pipeline_args", "layout", "jwst_version", "timestamp", "split", "slits", "slit_pixels",
    "segment_pixels", "dispersed_pixels", "contam_geometry",
]
log = logging.getLogger(__name__)

# plan key -> the strun alias it runs
LEVEL2_PIPELINES = {"image2": "calwebb_image2", "spec2": "calwebb_spec2"}


def default_level2_reference_cache(pipeline: str) -> Path:
    """The references' cache of a Level-2 pipeline: a folder in the temporary folder.

    Parameters
    ----------
    pipeline : str
        ``image2`` or ``spec2``.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    return Path(tempfile.gettempdir()) / f"memest-{pipeline}-references"


def _settings_arguments(settings) -> list[str]:
    return [f"--steps.{name}={value}" for name, value in settings]


def _driver_columns(layout: ExposureLayout, pipeline: str) -> dict:
    nrows, ncols = frame_shape(layout)
    detector = layout.detectors[0]
    return {"pipeline": pipeline, "instrument": instrument_of(detector), "detector": detector,
            "exp_type": layout.exp_type, "subarray": layout.subarray, "tso": layout_is_tso(layout),
            "nints": layout.nints, "ny": nrows, "nx": ncols, "rate_bytes": rate_bytes(layout)}


def level2_exposure(pipeline: str, layout: ExposureLayout, scratch: Path, cache: Path,
                    seed: int) -> tuple[Path, list[str]]:
    """Write one synthetic Level-2 input and the references it needs; return it and the pipeline's arguments.

    Parameters
    ----------
    pipeline : str
        ``image2`` or ``spec2``.
    layout : jwst_memest.exposures.ExposureLayout
        The exposure.
    scratch : pathlib.Path
        Where the rate (and a WFSS exposure's catalog, direct image and segmentation map) go.
    cache : pathlib.Path
        The synthetic references' folder (written once per layout).
    seed : int
        The random seed of the synthetic data.

    Returns
    -------
    tuple of (pathlib.Path, list of str)
        The rate file and the arguments that point the pipeline at the references.
    """
    if pipeline == "image2":
        from jwst_memest.profile.image2 import write_rate
        from jwst_memest.profile.image2_references import image2_arguments, write_image2_references

        detector = layout.detectors[0]
        dx, dy = detector_offset(layout, detector)
        references = write_image2_references(detector, layout.filter, layout.pupil, layout.subarray, -dx, dy, cache)
        return write_rate(layout, scratch, seed=seed), image2_arguments(references)
    from jwst_memest.profile.spec2 import spec2_arguments, write_spec2_exposure, write_spec2_references

    references = write_spec2_references(layout, cache)
    wfss = layout.exp_type in ("NRC_WFSS", "NIS_WFSS")
    return write_spec2_exposure(layout, scratch, seed=seed), spec2_arguments(references, wfss=wfss)


def cutout_columns(exposure: Path, layout: ExposureLayout, cache: Path) -> dict:
    """A WFSS exposure's cutouts as the estimator counts them from its header and catalog, and its
    trace geometry through the references the run reads (the estimator's own, `wfss_landing`).

    Parameters
    ----------
    exposure : pathlib.Path
        The rate file written for the run.
    layout : jwst_memest.exposures.ExposureLayout
        Its layout.
    cache : pathlib.Path
        The synthetic references' folder.

    Returns
    -------
    dict
        The WFSS columns of its corpus row (empty for other types).

    Notes
    -----
    A geometry that cannot be computed is logged and left empty: the run is measured all the same.
    """
    from jwst_memest.metadata import read_exposure_metadata
    from jwst_memest.profile.wfss_references import write_wfss_references
    from jwst_memest.spec2_layout import wfss_slit_layout
    from jwst_memest.wfss_landing import WFSS_REFERENCE_TYPES, exposure_contam_geometry

    meta = read_exposure_metadata(exposure)
    if (meta.exp_type or "").upper() not in ("NRC_WFSS", "NIS_WFSS"):
        return {}
    slits = wfss_slit_layout(meta)
    references = write_wfss_references(layout, cache / "wfss")
    geometry, why = exposure_contam_geometry(meta, {k: references[k] for k in WFSS_REFERENCE_TYPES})
    if geometry is None:  # the run is measured all the same; its estimate keeps the upper count
        log.warning("%s: its trace geometry could not be computed: %s", exposure.name, why)
    return {"slits": slits.slits, "slit_pixels": slits.slit_pixels, "segment_pixels": slits.segment_pixels,
            "dispersed_pixels": slits.dispersed_pixels, "contam_geometry": geometry.to_json() if geometry else ""}


def run_level2(layout: ExposureLayout, pipeline: str = "image2", *, settings=(), run_id: str | None = None,
               reference_cache: str | Path | None = None, scratch_root: str | None = None,
               timeout: float | None = 3600, seed: int = 0, rss_limit_gb: float | None = None,
               params: dict | None = None) -> dict:
    """Write the exposure, run the Level-2 pipeline on it under the monitor, delete the data; return the row.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The exposure's layout.
    pipeline : str, optional
        ``image2`` or ``spec2``.
    settings : sequence of (str, object), optional
        Step arguments (``("resample.pixel_scale_ratio", 0.5)``).
    run_id : str or None, optional
        The row's id (default: pipeline, detector and time).
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
        The corpus row (``LEVEL2_COLUMNS``).
    """
    import jwst

    from jwst_memest.profile.monitor import measure
    from jwst_memest.profile.run import crds_free_env, pipeline_runner, split_of

    runner = pipeline_runner()
    detector = layout.detectors[0]
    cache = Path(reference_cache or default_level2_reference_cache(pipeline))
    scratch = Path(tempfile.mkdtemp(prefix=f"memest-{pipeline}-", dir=scratch_root))
    run_id = run_id or f"{pipeline}-{detector.lower()}-{datetime.datetime.now():%Y%m%dT%H%M%S}"
    try:
        exposure, arguments = level2_exposure(pipeline, layout, scratch, cache, seed)
        cutouts = cutout_columns(exposure, layout, cache) if pipeline == "spec2" else {}
        arguments = [*arguments, *_settings_arguments(settings)]
        log_path = scratch / "pipeline.log"
        result = measure([runner, LEVEL2_PIPELINES[pipeline], str(exposure), *arguments],
                         env=crds_free_env(scratch / "crds"), cwd=scratch, timeout=timeout, log_path=log_path,
                         rss_limit_gb=rss_limit_gb, interval=0.1)
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
            **_driver_columns(layout, pipeline),
            **cutouts,
            "pipeline_args": " ".join(_settings_arguments(settings)),
            "layout": json.dumps(params or {}, sort_keys=True),
            "jwst_version": jwst.__version__,
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "split": split_of(run_id),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def build_level2_corpus(plan: dict, corpus: Path, memory_guard_gb: float = 9.0, limit: int | None = None,
                        reference_cache: str | Path | None = None, progress=print, only=None) -> int:
    """Run every configuration of an image2 or spec2 plan not yet in the corpus, in plan order; rows added.

    Parameters
    ----------
    plan : dict
        The plan (``pipeline: image2`` or ``pipeline: spec2``, and its groups).
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
    only : collection of str or None, optional
        Run only these run ids of the plan (default: all).

    Returns
    -------
    int
        Rows added.
    """
    from jwst_memest.profile.run import append_row, finished_run_ids, pipeline_runner, seed_of

    pipeline = plan["pipeline"]
    if pipeline not in LEVEL2_PIPELINES:
        raise ValueError(f"pipeline {pipeline!r}: a Level-2 plan says one of {', '.join(LEVEL2_PIPELINES)}")
    pipeline_runner()
    done = finished_run_ids(corpus)
    configurations = [c for c in expand_detector1_plan(plan) if c.run_id not in done
                      and (only is None or c.run_id in only)][:limit]
    added = 0
    for configuration in configurations:
        params = dict(configuration.layout)
        try:
            row = run_level2(image2_layout(params), pipeline, settings=configuration.settings,
                             run_id=configuration.run_id, reference_cache=reference_cache,
                             seed=seed_of(configuration.run_id), rss_limit_gb=memory_guard_gb, params=params)
        except Exception as exc:  # a failed run is recorded, not fatal to the corpus
            row = {"run_id": configuration.run_id, "pipeline": pipeline,
                   "status": f"error: {type(exc).__name__}: {str(exc)[:200]}",
                   "layout": json.dumps(params, sort_keys=True)}
        append_row(corpus, row, LEVEL2_COLUMNS)
        added += 1
        progress(f"{row['run_id']}: {row['status']} {row.get('measured_gb', '')} GB {row.get('wall_s', '')} s",
                 file=sys.stderr)
    return added
