"""Measured calwebb_detector1 runs on synthetic full-size ramps.

``write_uncal`` writes a Level-1b exposure (uint16 SCI of nints x ngroups x rows x columns and the
header detector1 reads); ``run_detector1`` runs calwebb_detector1 on it under the monitor, every
reference a synthetic file from ``detector1_references`` (one cache folder, reused across runs);
``build_detector1_corpus`` does so for every configuration of a plan whose top level says
``pipeline: detector1`` and appends one row per run.

A plan group's ``base``/``vary`` name a layout (``detector1_layouts.LAYOUTS``), its ``ngroups``,
``nints`` and ``readpatt``, optionally ``dark_frames``, and ``settings: {maximum_cores: ...}`` for
jump and ramp_fit ("none", "1", "2", "half", "all").
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import hashlib
import itertools
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from jwst_memest.profile.detector1_layouts import Detector1Exposure, frame_time, make_exposure
from jwst_memest.profile.monitor import step_times
from jwst_memest.profile.detector1_references import (dark_frames_of, detector1_arguments,
                                                      write_detector1_references)

__all__ = ["write_uncal", "run_detector1", "detector1_configuration", "expand_detector1_plan",
           "Detector1Configuration", "predicted_peak_gb",
           "build_detector1_corpus", "DETECTOR1_COLUMNS", "MAXIMUM_CORES"]

MAXIMUM_CORES = ("none", "1", "2", "half", "all")

DETECTOR1_COLUMNS = [
    "run_id", "pipeline", "status", "measured_gb", "predicted_gb", "peak_kernel_gb", "peak_sampled_gb", "peak_hwm_sum_gb",
    "wall_s", "step_peaks", "step_times", "instrument", "detector", "exp_type", "readpatt", "subarray",
    "tso", "nints", "ngroups", "nframes", "groupgap", "ny", "nx", "maximum_cores", "uncal_bytes",
    "ramp_samples", "dark_bytes", "dark_frames", "reference_bytes", "layout", "pipeline_args", "jwst_version",
    "timestamp", "split",
]


# ------------------------------------------------------------------ uncal

def _set_header(model, exposure: Detector1Exposure) -> None:
    meta = model.meta
    meta.instrument.name = exposure.instrument
    meta.instrument.detector = exposure.detector
    if exposure.instrument == "NIRCAM":
        meta.instrument.channel = "LONG" if "LONG" in exposure.detector else "SHORT"
        meta.instrument.module = exposure.detector[3]
        meta.instrument.filter = "F444W" if "LONG" in exposure.detector else "F200W"
        meta.instrument.pupil = "GRISMR" if exposure.exp_type == "NRC_TSGRISM" else "CLEAR"
    elif exposure.instrument == "MIRI":
        meta.instrument.filter = "F1500W"
    elif exposure.instrument == "NIRSPEC":
        meta.instrument.filter = "CLEAR" if exposure.exp_type == "NRS_BRIGHTOBJ" else "F170LP"
        meta.instrument.grating = "PRISM" if exposure.exp_type == "NRS_BRIGHTOBJ" else "G235M"
    elif exposure.instrument == "NIRISS":
        meta.instrument.filter = "CLEAR" if exposure.exp_type == "NIS_SOSS" else "F150W"
        meta.instrument.pupil = "GR700XD" if exposure.exp_type == "NIS_SOSS" else "CLEARP"
    meta.observation.date = "2024-01-01"
    meta.observation.time = "00:00:00.000"
    meta.visit.tsovisit = exposure.tso
    exp = meta.exposure
    exp.type = exposure.exp_type
    exp.readpatt = exposure.readpatt
    exp.nframes, exp.groupgap = exposure.nframes, exposure.groupgap
    exp.ngroups, exp.nints = exposure.ngroups, exposure.nints
    exp.integration_start, exp.integration_end = 1, exposure.nints
    exp.nresets_at_start = exp.nresets_between_ints = 1
    exp.drop_frames1 = exp.drop_frames3 = 0
    tframe = frame_time(exposure)
    exp.frame_time = tframe
    exp.group_time = tframe * (exposure.nframes + exposure.groupgap)
    exp.integration_time = exp.effective_exposure_time = exp.group_time * exposure.ngroups
    exp.exposure_time = exp.integration_time * exposure.nints
    exp.start_time = 60310.0
    exp.end_time = 60310.0 + exp.exposure_time / 86400
    exp.mid_time = (exp.start_time + exp.end_time) / 2
    exp.zero_frame = False
    exp.sample_time = 10
    if exposure.irs2:
        exp.nrs_normal, exp.nrs_reference = 16, 4
    sub = meta.subarray
    sub.name = exposure.subarray
    sub.xstart, sub.ystart = exposure.xstart, exposure.ystart
    sub.xsize, sub.ysize = exposure.xsize, exposure.ysize
    sub.fastaxis, sub.slowaxis = exposure.fastaxis, exposure.slowaxis


def fill_ramps(data: np.ndarray, group_time: float, rng: np.random.Generator) -> None:
    """Fill a uint16 (nints, ngroups, ny, nx) array in place.

    Bias, a per-pixel rate over the ramp, read noise and a few cosmic-ray jumps per integration
    (so that jump and ramp_fit do their usual work).

    Parameters
    ----------
    data : numpy.ndarray
        The raw SCI array.
    group_time : float
        Seconds per group.
    rng : numpy.random.Generator
        Random numbers.
    """
    nints, ngroups, ny, nx = data.shape
    rate = rng.uniform(0.0, 3.0, (ny, nx)).astype(np.float32)  # DN/s
    bias = np.float32(12000.0)
    for i in range(nints):
        hits = rng.random((ny, nx)) < 2e-4
        hit_group = rng.integers(1, max(ngroups, 2), (ny, nx))
        for g in range(ngroups):
            frame = bias + rate * np.float32(group_time * (g + 1))
            frame += rng.standard_normal((ny, nx), dtype=np.float32) * np.float32(8.0)
            frame += np.where(hits & (hit_group <= g), np.float32(800.0), np.float32(0.0))
            np.clip(frame, 0, 59000, out=frame)
            data[i, g] = frame


def write_uncal(exposure: Detector1Exposure, path: str | Path, seed: int = 0) -> Path:
    """A Level1bModel uncal file of the exposure's full size: uint16 SCI, header detector1 reads.

    Parameters
    ----------
    exposure : Detector1Exposure
        The exposure.
    path : str or pathlib.Path
        The file to write (``*_uncal.fits``).
    seed : int, optional
        Seed of the ramps' noise and cosmic rays.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from stdatamodels.jwst import datamodels

    from jwst_memest.atomic import write_datamodel

    path = Path(path)
    data = np.empty((exposure.nints, exposure.ngroups, exposure.ny, exposure.nx), dtype=np.uint16)
    model = datamodels.Level1bModel(data=data)
    _set_header(model, exposure)
    fill_ramps(model.data, model.meta.exposure.group_time, np.random.default_rng(seed))
    write_datamodel(model, path)
    model.close()
    return path


# ------------------------------------------------------------------ plan and run

@dataclasses.dataclass(frozen=True)
class Detector1Configuration:
    """One run of a detector1 plan.

    Parameters
    ----------
    run_id : str
        Group name and a hash of the parameters.
    layout : dict
        The plan's parameters: layout name, ngroups, nints, readpatt, dark_frames.
    settings : tuple of (str, object), optional
        Step settings (maximum_cores).
    """

    run_id: str
    layout: dict  # the plan's parameters: layout name, ngroups, nints, readpatt, dark_frames
    settings: tuple[tuple[str, object], ...] = ()  # (name, value): maximum_cores


def expand_detector1_plan(plan: dict) -> list[Detector1Configuration]:
    """Every configuration of a detector1 plan: each group's base times the product of its variations.

    Run ids are those ``corpus.expand_plan`` gives the same plan (group name and a hash of the
    parameters and settings), so a corpus is resumable whichever expanded it.

    Parameters
    ----------
    plan : dict
        The plan: ``groups``, each with ``name``, ``base`` and ``vary``.

    Returns
    -------
    list of Detector1Configuration
        In plan order.
    """
    configurations = []
    for group in plan["groups"]:
        base = dict(group.get("base", {}))
        vary = group.get("vary", {})
        keys = list(vary)
        for values in itertools.product(*(vary[k] for k in keys)):
            params = {**base, **dict(zip(keys, values))}
            settings = dict(params.pop("settings", None) or {})
            identity = [params, True, False] + ([settings] if settings else [])
            digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
            configurations.append(Detector1Configuration(f"{group['name']}-{digest}", params,
                                                         tuple(sorted(settings.items()))))
    return configurations


def detector1_configuration(params: dict) -> tuple[Detector1Exposure, int | None]:
    """A plan configuration's exposure and dark frame count.

    Parameters
    ----------
    params : dict
        The configuration's parameters: ``layout`` and fields of the exposure, ``dark_frames``.

    Returns
    -------
    tuple
        The `Detector1Exposure` and the dark's frames (None: the readout's own).
    """
    values = {k: v for k, v in params.items() if k not in ("layout", "dark_frames")}
    return make_exposure(params["layout"], **values), params.get("dark_frames")


def _maximum_cores(settings) -> str:
    value = str(dict(settings).get("maximum_cores", "1")).lower()
    if value not in MAXIMUM_CORES:
        raise ValueError(f"maximum_cores {value!r}: one of {', '.join(MAXIMUM_CORES)}")
    return value


def _cores_used(maximum_cores: str) -> int:
    cpus = os.cpu_count() or 1
    return {"none": 1, "half": max(cpus // 2, 1), "all": cpus}.get(maximum_cores) or min(int(maximum_cores), cpus)


def predicted_peak_gb(exposure: Detector1Exposure, maximum_cores: str = "1", dark_frames: int | None = None) -> float:
    """A crude upper estimate of detector1's peak (GB), for the memory guard.

    jump holds the most: the ramp as float32 data and err, uint8 groupdq, and its own per-sample
    differences and flags, about 56 bytes a science sample in all (measured: NIRCam and NIRSpec IRS2
    full frame, 10 groups: 2.9 GB); the dark is read whole (SCI+ERR float32); each extra worker
    process holds an interpreter and its slice's copies (~0.4 GB).

    Parameters
    ----------
    exposure : Detector1Exposure
        The exposure.
    maximum_cores : str, optional
        jump's and ramp_fit's maximum_cores.
    dark_frames : int or None, optional
        Frames of the dark (default: those the readout spans).

    Returns
    -------
    float
        GB.
    """
    samples = exposure.nints * exposure.ngroups * exposure.ysize * exposure.xsize
    dark_ints = min(exposure.nints, 2) if exposure.instrument == "MIRI" else 1
    dark = 8 * exposure.ysize * exposure.xsize * dark_ints * dark_frames_of(exposure, dark_frames)
    workers = _cores_used(maximum_cores)
    extra = (workers - 1) * 0.4e9 if workers > 1 else 0.0
    return (0.6e9 + 56 * samples + dark + extra) / 1e9


def default_reference_cache() -> Path:
    """The references' cache: ``$JWST_MEMEST_DETECTOR1_REFS`` or a folder in the temporary folder.

    Returns
    -------
    pathlib.Path
        The folder.
    """
    return Path(os.environ.get("JWST_MEMEST_DETECTOR1_REFS")
                or Path(tempfile.gettempdir()) / "memest-detector1-references")


def _driver_columns(exposure: Detector1Exposure, maximum_cores: str, references: dict | None,
                    dark_frames: int | None) -> dict:
    references = references or {}
    dark = references.get("dark")
    return {
        "pipeline": "detector1", "instrument": exposure.instrument, "detector": exposure.detector,
        "exp_type": exposure.exp_type, "readpatt": exposure.readpatt, "subarray": exposure.subarray,
        "tso": exposure.tso, "nints": exposure.nints, "ngroups": exposure.ngroups, "nframes": exposure.nframes,
        "groupgap": exposure.groupgap, "ny": exposure.ny, "nx": exposure.nx, "maximum_cores": maximum_cores,
        "uncal_bytes": exposure.uncal_bytes, "ramp_samples": exposure.ramp_samples,
        "dark_frames": dark_frames_of(exposure, dark_frames),
        "dark_bytes": Path(dark).stat().st_size if dark and Path(dark).is_file() else "",
        "reference_bytes": sum(Path(p).stat().st_size for p in references.values() if Path(p).is_file()) or "",
    }


def run_detector1(exposure: Detector1Exposure, *, maximum_cores: str = "1", dark_frames: int | None = None,
                  run_id: str | None = None, reference_cache: str | Path | None = None,
                  scratch_root: str | None = None, timeout: float | None = 3600, seed: int = 0,
                  rss_limit_gb: float | None = None, extra_args: list[str] = (), layout: dict | None = None) -> dict:
    """Write the uncal, run calwebb_detector1 on it under the monitor, delete the data; return the row.

    Parameters
    ----------
    exposure : Detector1Exposure
        The exposure.
    maximum_cores : str, optional
        jump's and ramp_fit's maximum_cores ("none", "1", "2", "half", "all").
    dark_frames : int or None, optional
        Frames of the dark (default: those the readout spans).
    run_id : str or None, optional
        The row's id (default: detector and time).
    reference_cache : str or pathlib.Path or None, optional
        Folder of the cached references (default: ``default_reference_cache()``).
    scratch_root : str or None, optional
        Where the uncal and outputs are written (default: the temporary folder).
    timeout : float or None, optional
        Seconds before the run is killed.
    seed : int, optional
        Seed of the ramps.
    rss_limit_gb : float or None, optional
        Process-tree RSS (GB) at which the run is killed.
    extra_args : list of str, optional
        More strun arguments.
    layout : dict or None, optional
        The plan's parameters, recorded in the row.

    Returns
    -------
    dict
        The corpus row (``DETECTOR1_COLUMNS``).
    """
    import jwst

    from jwst_memest.profile.monitor import measure
    from jwst_memest.profile.run import crds_free_env, pipeline_runner, split_of

    runner = pipeline_runner()
    references = write_detector1_references(exposure, reference_cache or default_reference_cache(), dark_frames)
    scratch = Path(tempfile.mkdtemp(prefix="memest-detector1-", dir=scratch_root))
    run_id = run_id or f"detector1-{exposure.detector.lower()}-{datetime.datetime.now():%Y%m%dT%H%M%S}"
    try:
        uncal = write_uncal(exposure, scratch / f"jw01000001001_01101_00001_{exposure.detector.lower()}_uncal.fits",
                            seed=seed)
        arguments = [*detector1_arguments(references),
                     f"--steps.jump.maximum_cores={maximum_cores}", f"--steps.ramp_fit.maximum_cores={maximum_cores}",
                     *extra_args]
        command = [runner, "calwebb_detector1", str(uncal), *arguments]
        log_path = scratch / "pipeline.log"
        result = measure(command, env=crds_free_env(scratch / "crds"), cwd=scratch, timeout=timeout,
                         log_path=log_path, rss_limit_gb=rss_limit_gb, interval=0.1)
        with open(log_path, errors="replace") as handle:
            times = step_times(handle.readlines())
        failed = ""
        if result.returncode not in (0, None) and not result.over_limit:
            failed = " ".join(result.output_tail.split())[-200:]
        status = (f"killed: memory above {rss_limit_gb:g} GB" if result.over_limit
                  else "ok" if result.returncode == 0 else f"exit {result.returncode}: {failed}")
        return {
            "run_id": run_id,
            "status": status,
            "measured_gb": round(result.peak_tree_gb, 4),
            "peak_kernel_gb": round(result.peak_gb, 4),
            "peak_sampled_gb": round(result.peak_sampled_gb, 4),
            "peak_hwm_sum_gb": round(result.peak_hwm_sum_gb, 4),
            "wall_s": round(result.wall_s, 2),
            "step_peaks": json.dumps(result.step_peaks, sort_keys=True) if result.step_peaks else "",
            "step_times": json.dumps(times, sort_keys=True) if times else "",
            **_driver_columns(exposure, maximum_cores, references, dark_frames),
            "layout": json.dumps(layout or {}, sort_keys=True),
            "pipeline_args": " ".join(a for a in arguments if "override_" not in a),
            "jwst_version": jwst.__version__,
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "split": split_of(run_id),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _finished(corpus: Path) -> set[str]:
    if not corpus.is_file():
        return set()
    with corpus.open(newline="") as handle:
        return {row["run_id"] for row in csv.DictReader(handle)}


def build_detector1_corpus(plan: dict, corpus: Path, memory_guard_gb: float = 9.0, limit: int | None = None,
                           reference_cache: str | Path | None = None, progress=print, only=None) -> int:
    """Run every configuration of a detector1 plan not yet in the corpus, in plan order; rows added.

    Configurations whose crude predicted peak is above the guard are recorded as skipped; a run
    whose process tree outgrows the guard is killed and recorded so.

    Parameters
    ----------
    plan : dict
        The plan (``pipeline: detector1`` and its groups).
    corpus : pathlib.Path
        The CSV appended to.
    memory_guard_gb : float, optional
        GB: the guard.
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
    from jwst_memest.profile.run import append_row, pipeline_runner, seed_of

    pipeline_runner()
    done = _finished(corpus)
    configurations = [c for c in expand_detector1_plan(plan) if c.run_id not in done
                      and (only is None or c.run_id in only)][:limit]
    added = 0
    for configuration in configurations:
        params = dict(configuration.layout)
        try:
            exposure, dark_frames = detector1_configuration(params)
            cores = _maximum_cores(configuration.settings)
        except (ValueError, TypeError) as exc:
            row = {"run_id": configuration.run_id, "pipeline": "detector1", "status": f"error: {exc}"[:250],
                   "layout": json.dumps(params, sort_keys=True)}
        else:
            predicted = predicted_peak_gb(exposure, cores, dark_frames)
            if predicted > memory_guard_gb:
                row = {"run_id": configuration.run_id, "status":
                       f"skipped: predicted {predicted:.1f} GB > guard {memory_guard_gb:g} GB",
                       **_driver_columns(exposure, cores, None, dark_frames),
                       "layout": json.dumps(params, sort_keys=True)}
            else:
                try:
                    row = run_detector1(exposure, maximum_cores=cores, dark_frames=dark_frames,
                                        run_id=configuration.run_id, reference_cache=reference_cache,
                                        seed=seed_of(configuration.run_id), rss_limit_gb=memory_guard_gb,
                                        layout=params)
                    row["predicted_gb"] = round(predicted, 3)
                except Exception as exc:  # a failed run is recorded, not fatal to the corpus
                    row = {"run_id": configuration.run_id, "pipeline": "detector1",
                           "status": f"error: {type(exc).__name__}: {str(exc)[:200]}",
                           **_driver_columns(exposure, cores, None, dark_frames),
                           "layout": json.dumps(params, sort_keys=True)}
        append_row(corpus, row, DETECTOR1_COLUMNS)
        added += 1
        progress(f"{row['run_id']}: {row['status']} {row.get('measured_gb', '')} GB {row.get('wall_s', '')} s",
                 file=sys.stderr)
    return added
