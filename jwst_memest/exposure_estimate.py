"""calwebb_detector1's memory for one exposure, from its uncal header (never its data).

The header gives the ramp (NINTS, NGROUPS, the subarray's rows and columns, IRS2's raw rows) and
the readout (READPATT, NFRAMES, GROUPGAP); the run's settings give jump's and ramp_fit's
``maximum_cores``; the dark reference's frames are read from the dark CRDS selects when a local
CRDS cache holds it (`jwst_memest.dark_reference`), else they are those the readout needs, the least
any dark that serves it holds (the annotation says which: a dark holding more frames costs 8 bytes
per extra frame-pixel, loaded whole).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.dark_reference import DarkLookup
from jwst_memest.instruments import full_frame
from jwst_memest.metadata import ExposureMetadata, read_exposure_metadata
from jwst_memest.model.detector1 import RampInputs, dark_frames_needed, load_detector1_baseline, worker_processes
from jwst_memest.model.walltime import DETECTOR1, load_walltime
from jwst_memest.settings import RunSettings
from jwst_memest.speed import machine_speed_factor

__all__ = ["ExposureEstimate", "ramp_inputs", "estimate_exposure", "estimate_from_metadata", "write_exposure_estimate",
           "exposure_table", "is_exposure_file", "detector1_host"]

log = logging.getLogger(__name__)

# the product levels whose detector1 run can be sized from the file: the raw ramp
RAMP_LEVELS = ("uncal",)


def is_exposure_file(path) -> bool:
    """Whether ``path`` names an exposure file (FITS) rather than an association.

    Parameters
    ----------
    path : str or pathlib.Path
        The input.

    Returns
    -------
    bool
        True for ``.fits`` files.
    """
    return str(path).lower().endswith(".fits")


def detector1_host(host):
    """The calwebb_detector1 pipeline a hook runs in (its host, or the host's parents), if any.

    Parameters
    ----------
    host : stpipe.step.Step or None
        The hook's parent: the pipeline (a pipeline's pre-hook) or one of its steps.

    Returns
    -------
    stpipe.pipeline.Pipeline or None
        jwst's Detector1Pipeline (or a subclass), else None.
    """
    while host is not None:
        if any(cls.__name__ == "Detector1Pipeline" for cls in type(host).__mro__):
            return host
        host = getattr(host, "parent", None)
    return None


def ramp_inputs(meta: ExposureMetadata, settings: RunSettings | None = None, cpus: int | None = None,
                dark_frames: int | None = None, dark: DarkLookup | None = None) -> tuple[RampInputs, dict]:
    """The detector1 model's inputs of one exposure, and what was assumed.

    Parameters
    ----------
    meta : ExposureMetadata
        The uncal file's metadata.
    settings : RunSettings or None, optional
        The run's settings (jump's and ramp_fit's ``maximum_cores``).
    cpus : int or None, optional
        Cores of the machine the job runs on (default: this machine's).
    dark_frames : int or None, optional
        Frames of the dark the run will load, when known (default: those the readout needs).
    dark : DarkLookup or None, optional
        What a local CRDS cache says of the dark (`jwst_memest.dark_reference.cached_dark`): its
        frames when the selected file is cached (never fewer than the readout needs), else why not.

    Returns
    -------
    inputs : RampInputs
        The model's inputs.
    assumed : dict
        ``dark_frames`` and where they come from, ``cpus``.

    Raises
    ------
    ValueError
        The header lacks NGROUPS, or a setting is one jwst would refuse.
    """
    settings = settings or RunSettings()
    if not meta.n_groups:
        raise ValueError(f"{meta.path}: no NGROUPS; not a raw ramp")
    cpus = cpus or os.cpu_count() or 1
    needed = dark_frames_needed(meta.n_groups, meta.n_frames, meta.group_gap)
    if dark_frames:
        frames, source = int(dark_frames), "given"
    elif dark is not None and dark.frames:
        frames, source = max(dark.frames, needed), dark.source
    else:
        frames = needed
        source = (f"assumed: the {needed} frames this readout needs (a CRDS dark holding more adds 8 bytes per extra "
                  "frame-pixel)" + (f"; {dark.source}" if dark is not None else "; no CRDS cache to read it from"))
    irs2 = meta.raw_rows and meta.raw_rows != meta.nrows
    columns, rows = full_frame(meta.detector)
    inputs = RampInputs(nints=meta.n_integrations, ngroups=meta.n_groups, ny=meta.nrows, nx=meta.ncols,
                        instrument=(meta.instrument or "NIRCAM").upper(), raw_rows=meta.raw_rows if irs2 else None,
                        dark_frames=frames, full_frame_pixels=columns * rows,
                        jump_processes=worker_processes(settings.jump_maximum_cores, cpus),
                        ramp_fit_processes=worker_processes(settings.ramp_fit_maximum_cores, cpus),
                        frames_averaged=meta.n_frames > 1 or meta.group_gap > 0)
    return inputs, {"dark_frames": frames, "dark_frames_source": source, "cpus": cpus}


@dataclass
class ExposureEstimate:
    """One pipeline's estimate for one exposure (calwebb_detector1, calwebb_image2).

    Parameters
    ----------
    path : str
        The exposure's file.
    gb, upper_gb : float
        The estimate and its upper bound, GB (10^9 bytes).
    peak_step : str
        The step the peak is in.
    breakdown : dict
        GB per step.
    calibrated : bool
        False beyond the measured runs (the bound is then widened).
    reasons : list of str
        Why not calibrated.
    inputs : dict
        The model's inputs and what was assumed.
    model : str
        The model and its version.
    pipeline : str
        The pipeline estimated.
    wall_time_s : float or None, optional
        The estimated wall time, seconds (None where no wall-time model is installed).
    wall_time_upper_s : float or None, optional
        Its upper bound at the estimate's quantile, seconds.
    speed_factor : float, optional
        The machine's speed factor the times are scaled by (1: the corpus machine).
    alternatives : list of dict, optional
        The same run with a memory-saving setting: ``arguments`` (strun's), ``gbSize``,
        ``upper_bound_gb`` and, where estimated, ``wall_time_s`` and ``wall_time_upper_s``.
    """

    path: str
    gb: float
    upper_gb: float
    peak_step: str
    breakdown: dict
    calibrated: bool
    reasons: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    model: str = ""
    pipeline: str = "calwebb_detector1"
    wall_time_s: float | None = None
    wall_time_upper_s: float | None = None
    speed_factor: float = 1.0
    alternatives: list = field(default_factory=list)

    def annotation(self) -> dict:
        """The estimate as written beside the exposure.

        Returns
        -------
        dict
            JSON-ready.
        """
        return {"exposure": Path(self.path).name, "pipeline": self.pipeline, "gbSize": round(self.gb, 4),
                "upper_bound_gb": round(self.upper_gb, 4), "peak_step": self.peak_step, "breakdown": self.breakdown,
                "calibrated": self.calibrated, "reasons": self.reasons, "inputs": self.inputs, "model": self.model,
                **({} if self.wall_time_s is None else {"wall_time_s": round(self.wall_time_s, 1),
                                                        "wall_time_upper_s": math.ceil(self.wall_time_upper_s),
                                                        "speed_factor": round(self.speed_factor, 4)}),
                **({"alternatives": [dict(a) for a in self.alternatives]} if self.alternatives else {})}


def estimate_exposure(path, settings: RunSettings | None = None, quantile: float = 0.95, cpus: int | None = None,
                      dark_frames: int | None = None) -> ExposureEstimate:
    """Estimate calwebb_detector1's peak memory for one uncal file, from its header.

    Parameters
    ----------
    path : str or pathlib.Path
        The uncal file.
    settings : RunSettings or None, optional
        The detector1 run's settings (``maximum_cores``).
    quantile : float, optional
        The upper bound's quantile.
    cpus : int or None, optional
        Cores of the machine the job runs on.
    dark_frames : int or None, optional
        Frames of the dark reference, when known.

    Returns
    -------
    ExposureEstimate
        The estimate.

    Raises
    ------
    ValueError
        The file is not a readable raw ramp, or no detector1 model is installed.
    """
    meta = read_exposure_metadata(path)
    if meta.level not in RAMP_LEVELS:
        raise ValueError(f"{path}: a {meta.level} file; calwebb_detector1 is sized from the raw ramp (_uncal.fits)")
    return estimate_from_metadata(meta, settings, quantile, cpus, dark_frames)


def estimate_from_metadata(meta: ExposureMetadata, settings: RunSettings | None = None, quantile: float = 0.95,
                           cpus: int | None = None, dark_frames: int | None = None) -> ExposureEstimate:
    """`estimate_exposure` of an exposure whose metadata is read (a file's header, or an open ramp's meta).

    Parameters
    ----------
    meta : ExposureMetadata
        The raw ramp's metadata.
    settings : RunSettings or None, optional
        The detector1 run's settings (``maximum_cores``).
    quantile : float, optional
        The upper bound's quantile.
    cpus : int or None, optional
        Cores of the machine the job runs on.
    dark_frames : int or None, optional
        Frames of the dark reference, when known.

    Returns
    -------
    ExposureEstimate
        The estimate.

    Raises
    ------
    ValueError
        The metadata is not a raw ramp's, or no detector1 model is installed.
    """
    path = meta.path
    model = load_detector1_baseline()
    if model is None:
        raise ValueError("no calwebb_detector1 model is installed")
    dark = None
    if not dark_frames and Path(meta.path).is_file():  # the dark CRDS would select, when a local cache can tell
        from jwst_memest.dark_reference import cached_dark

        dark = cached_dark(meta.path)
    inputs, assumed = ramp_inputs(meta, settings, cpus, dark_frames, dark)
    result = model.estimate(inputs, quantile)
    wall, wall_upper, speed = None, None, 1.0
    timing = load_walltime(DETECTOR1)
    if timing is not None:
        speed = machine_speed_factor()
        seconds, upper = timing.estimate([inputs], quantile, speed)
        wall, wall_upper = float(seconds[0]), float(upper[0])
    return ExposureEstimate(path=str(path), gb=result["gb"], upper_gb=result["upper_gb"],
                            peak_step=result["peak_step"], breakdown=result["breakdown"],
                            calibrated=result["calibrated"], reasons=result["reasons"],
                            inputs={**inputs.to_dict(), **assumed}, model=f"{model.name} {model.version}",
                            wall_time_s=wall, wall_time_upper_s=wall_upper, speed_factor=speed)


def write_exposure_estimate(estimate: ExposureEstimate, output_dir=".") -> Path:
    """Write the estimate as ``<exposure stem>_memest.json`` in ``output_dir`` (atomically).

    Parameters
    ----------
    estimate : ExposureEstimate
        The estimate.
    output_dir : str or pathlib.Path, optional
        The directory.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(output_dir) / f"{Path(estimate.path).name.rsplit('.', 1)[0]}_memest.json"
    with atomic_write(path) as handle:
        json.dump(estimate.annotation(), handle, indent=2)
        handle.write("\n")
    return path


def exposure_table(estimates) -> str:
    """Per-exposure estimates as a table, one exposure and pipeline a line (GB; why not calibrated, where not).

    Parameters
    ----------
    estimates : iterable of ExposureEstimate
        The estimates.

    Returns
    -------
    str
        The table, ending in a newline.
    """
    lines = [f"{'exposure':<52} {'pipeline':<18} {'gbSize':>8} {'upper':>8}  peak step"]
    for e in estimates:
        note = f"  (not calibrated: {'; '.join(e.reasons)})" if not e.calibrated else ""
        lines.append(f"{Path(e.path).name:<52} {e.pipeline:<18} {e.gb:8.3f} {e.upper_gb:8.3f}  {e.peak_step}{note}")
    return "\n".join(lines) + "\n"
