"""Machine speed factor: how much longer this machine takes than the one the wall-time model was measured on.

``jwst-memest calibrate`` times a short fixed workload made of what the Level-3 pipelines spend
their time on (a drizzle with the ``drizzle`` package's C kernel, a NaN-aware median over a cube as
outlier_detection takes it, 2-D FFTs as the coronagraphic and AMI steps do), several times, and
divides its time (each part's fastest run) by the same workload's time on the reference machine (stored in
``jwst_memest/model/walltime.yaml``). The factor is saved in ``$XDG_CONFIG_HOME/jwst_memest/speed.yaml``
(``~/.config/...`` by default); ``$JWST_MEMEST_SPEED_FACTOR`` overrides it. Wall-time estimates
are multiplied by it.
"""

from __future__ import annotations

import os
import stat
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.atomic import atomic_write

__all__ = ["ENV_FACTOR", "DEFAULT_REPEATS", "workload", "time_workload", "PARTS", "config_path", "save_speed_factor",
           "speed_factor", "machine_speed_factor"]

ENV_FACTOR = "JWST_MEMEST_SPEED_FACTOR"
DEFAULT_REPEATS = 5


def _inputs(rng: np.random.Generator, n: int = 2048, planes: int = 24, side: int = 640) -> dict:
    """The workload's arrays, made once outside the timed parts."""
    y, x = np.indices((n, n), dtype=np.float64)
    cube = rng.random((planes, side, side), dtype=np.float32)
    cube[: planes // 2, ::7, ::5] = np.nan  # members that do not cover every pixel
    return {"image": rng.random((n, n), dtype=np.float32),
            "pixmap": np.dstack([x * 1.1 + 3.3, y * 1.1 + 2.7]),  # a shift and a scale: a member onto a mosaic
            "cube": cube, "fft_image": rng.random((n, n))}


def _drizzle(inputs: dict) -> float:
    from drizzle.resample import Drizzle

    n = inputs["image"].shape[0]
    driz = Drizzle(out_shape=(int(n * 1.2), int(n * 1.2)))
    driz.add_image(inputs["image"], exptime=1.0, pixmap=inputs["pixmap"])
    return float(np.nansum(driz.out_img))


def _median(inputs: dict) -> float:
    return float(np.nansum(np.nanmedian(inputs["cube"], axis=0)))


def _fft(inputs: dict) -> float:
    image = inputs["fft_image"]
    return float(np.abs(np.fft.ifft2(np.fft.fft2(image) * np.conj(np.fft.fft2(image[::-1, ::-1])))).sum())


PARTS = (("drizzle", _drizzle), ("median", _median), ("fft", _fft))


def workload(inputs: dict | None = None) -> dict[str, float]:
    """Run the fixed workload once.

    Each part is timed in CPU seconds of this process (one thread): what the machine's speed sets,
    not how many other processes share its cores at the moment (the kill-time factor covers that).

    Parameters
    ----------
    inputs : dict or None, optional
        The workload's arrays (default: made here, untimed).

    Returns
    -------
    dict of str to float
        CPU seconds spent in each part (``drizzle``, ``median``, ``fft``).
    """
    inputs = inputs if inputs is not None else _inputs(np.random.default_rng(12345))
    spent = {}
    for name, part in PARTS:
        start = time.process_time()
        part(inputs)
        spent[name] = time.process_time() - start
    return spent


def time_workload(repeats: int = DEFAULT_REPEATS) -> dict:
    """Time the workload ``repeats`` times after one warm-up run.

    Parameters
    ----------
    repeats : int, optional
        How many times.

    Returns
    -------
    dict
        ``workload_s`` (the sum of each part's fastest CPU seconds: other work on the machine only
        ever slows a run down), ``runs`` (each run's total), ``parts`` (fastest seconds per part)
        and ``spread`` ((max - min) / ``workload_s`` of the totals).

    Raises
    ------
    ValueError
        When ``repeats`` is below 1.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    inputs = _inputs(np.random.default_rng(12345))
    workload(inputs)  # imports, FFT plans, first-touch of the arrays
    runs = [workload(inputs) for _ in range(repeats)]
    totals = [sum(run.values()) for run in runs]
    parts = {name: float(np.min([run[name] for run in runs])) for name in runs[0]}
    total = sum(parts.values())
    return {"workload_s": round(total, 4), "runs": [round(t, 4) for t in totals],
            "parts": {name: round(v, 4) for name, v in parts.items()},
            "spread": round((max(totals) - min(totals)) / total, 4)}


def config_path() -> Path:
    """Where the speed factor is saved: ``$XDG_CONFIG_HOME/jwst_memest/speed.yaml``.

    Returns
    -------
    pathlib.Path
        The file (``~/.config/jwst_memest/speed.yaml`` when ``XDG_CONFIG_HOME`` is not set).
    """
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base, "jwst_memest", "speed.yaml")


def save_speed_factor(factor: float, measured: dict, path: str | Path | None = None) -> Path:
    """Save a speed factor and how it was measured, atomically.

    Parameters
    ----------
    factor : float
        This machine's time over the reference machine's.
    measured : dict
        What `time_workload` returned.
    path : str or pathlib.Path or None, optional
        The file (default: `config_path`).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path) if path else config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        handle.write("# Written by `jwst-memest calibrate`: wall-time estimates are multiplied by speed_factor.\n")
        yaml.safe_dump({"speed_factor": round(float(factor), 4), "measured": measured,
                        "host": os.uname().nodename, "cpus": os.cpu_count(),
                        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}, handle, sort_keys=False)
    return path


def speed_factor() -> tuple[float, str]:
    """The speed factor in force, and where it comes from.

    ``$JWST_MEMEST_SPEED_FACTOR`` first, then the saved file, else 1 (the reference machine).

    Returns
    -------
    factor : float
        The factor (positive).
    source : str
        ``environment``, the file's path, or ``default``.

    Raises
    ------
    ValueError
        When ``$JWST_MEMEST_SPEED_FACTOR`` is not a positive number.
    """
    text = os.environ.get(ENV_FACTOR, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"${ENV_FACTOR}={text!r}: expected a positive number")
        return value, "environment"
    path = config_path()
    try:
        status = os.stat(path)
    except OSError:
        status = None
    if status is None or not stat.S_ISREG(status.st_mode):
        return 1.0, "default"
    stamp = (status.st_ino, status.st_mtime_ns, status.st_size)  # a saved file is renamed into place
    saved = _SAVED_FACTOR.get(path)
    if saved is None or saved[0] != stamp:
        try:
            value = float((yaml.safe_load(path.read_text()) or {}).get("speed_factor", "nan"))
        except (yaml.YAMLError, TypeError, ValueError, OSError):
            value = float("nan")
        saved = _SAVED_FACTOR[path] = (stamp, value)
    value = saved[1]
    if np.isfinite(value) and value > 0:
        return value, str(path)
    warnings.warn(f"{path}: no positive speed_factor; using 1 (run `jwst-memest calibrate`)", stacklevel=2)
    return 1.0, "default"


# saved file -> (its inode, modification time and size; the factor read from it): folder mode asks once
# per estimate, and parsing the YAML each time cost more than the estimates; a file written since is read again
_SAVED_FACTOR: dict[Path, tuple[tuple[int, int, int], float]] = {}


def machine_speed_factor() -> float:
    """`speed_factor`'s value, or 1 with a warning when the setting cannot be read.

    Returns
    -------
    float
        The factor wall-time estimates are multiplied by.
    """
    try:
        factor, _ = speed_factor()
    except ValueError as exc:
        warnings.warn(f"{exc}; wall times use a speed factor of 1", stacklevel=2)
        factor = 1.0
    return factor
