"""Fit the wall-time model of each Level-3 pipeline, calwebb_detector1, calwebb_image2 and calwebb_spec2 on ``wall_s``.

The successful runs of the training split fit each pipeline's work terms
(`jwst_memest.model.walltime`; calwebb_detector1's, calwebb_image2's and calwebb_spec2's from each run's inputs, as the
exposure's estimate reads them from its header); the upper bound is calibrated on 5-fold out-of-fold estimates of
the same runs; the held-out split (``split == "test"``) measures the error. ``walltime.yaml`` is
rewritten atomically, keeping its ``reference_machine`` block (the calibration workload's time).
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.upper import UpperBound
from jwst_memest.model.walltime import (DETECTOR1, IMAGE2, SPEC2, STEP_OF_PREFIX, WALLTIME_TERMS, WallTimeModel,
                                        fit_walltime_coefficients, walltime_file, work_terms)

__all__ = ["latest_measurements", "corpus_files_for", "load_walltime_runs", "step_seconds_of", "step_timed_files", "walltime_files", "rows_of",
           "out_of_fold_seconds", "fit_pipeline", "write_walltime_yaml", "largest_runs_check", "session_residuals",
           "main", "PIPELINES", "LARGEST_FRACTION"]

PIPELINES = (*WALLTIME_TERMS, DETECTOR1, IMAGE2, SPEC2)
# the columns a corpus file needs to hold timed runs of a pipeline
_COLUMNS = {DETECTOR1: {"pipeline", "ramp_samples", "wall_s", "status"},
            IMAGE2: {"pipeline", "rate_bytes", "wall_s", "status"},
            SPEC2: {"pipeline", "rate_bytes", "wall_s", "status"}}
_LEVEL3_COLUMNS = {"pipeline", "member_pixels", "wall_s", "status"}
# the largest-runs check fits on runs below this fraction of the largest wall time: the rest are
# products several times bigger than any the fit saw, what a site's biggest jobs are
LARGEST_FRACTION = 1 / 3


def corpus_files_for(paths, pipeline: str) -> list[Path]:
    """The corpus CSVs among ``paths`` that hold measured runs of ``pipeline`` with features.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Corpus CSVs.
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.

    Returns
    -------
    list of pathlib.Path
        The files with a ``pipeline`` column naming it and the feature (detector1: ramp) columns.
    """
    import pandas as pd

    needed = _COLUMNS.get(pipeline, _LEVEL3_COLUMNS)
    found = []
    for path in map(Path, paths):
        try:
            header = pd.read_csv(path, nrows=0).columns
            if not needed <= set(header):
                continue
            if (pd.read_csv(path, usecols=["pipeline"])["pipeline"].astype(str) == pipeline).any():
                found.append(path)
        except (OSError, ValueError):
            continue
    return found


def latest_measurements(files, scratch: Path) -> list[Path]:
    """The corpus files with each configuration's earlier successful measurements left out.

    A configuration timed again (``data/corpus/timing/``) supersedes its earlier time, made with
    steps skipped or in a session loaded with other work: of its successful runs only the latest
    (``timestamp``; the later file on a tie) is kept. A file that loses rows is rewritten, filtered,
    into ``scratch``; the others are returned as they are.

    Parameters
    ----------
    files : list of pathlib.Path
        Corpus CSVs.
    scratch : pathlib.Path
        Where filtered copies are written.

    Returns
    -------
    list of pathlib.Path
        The files to read, in the same order.
    """
    import pandas as pd

    tables = [pd.read_csv(path) for path in files]
    runs = pd.concat([pd.DataFrame({"run_id": t["run_id"].astype(str), "file": i, "row": np.arange(len(t)),
                                    "ok": t["status"].astype(str) == "ok" if "status" in t else True,
                                    "when": pd.to_datetime(t["timestamp"], errors="coerce", utc=True)
                                    if "timestamp" in t else pd.NaT})
                      for i, t in enumerate(tables)], ignore_index=True)
    runs = runs[runs["ok"]].sort_values(["when", "file", "row"], na_position="first")
    superseded = runs[runs.duplicated("run_id", keep="last")]
    chosen = []
    for i, (path, table) in enumerate(zip(files, tables)):
        dropped = superseded.loc[superseded["file"] == i, "row"].to_numpy()
        if not len(dropped):
            chosen.append(Path(path))
            continue
        copy = scratch / str(i) / Path(path).name
        copy.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(copy, newline="") as handle:
            table.drop(index=dropped).to_csv(handle, index=False)
        chosen.append(copy)
    return chosen


def load_walltime_runs(paths, pipeline: str):
    """The baseline inputs, measured wall times and splits of a pipeline's successful runs.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Corpus CSVs (those without runs of ``pipeline`` are left out).
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.

    Returns
    -------
    X : numpy.ndarray
        Features and settings columns, as `jwst_memest.profile.fit.load_measured` builds them;
        detector1, image2 and spec2: an object array of each run's inputs (RampInputs, Image2Inputs).
    wall_s : numpy.ndarray
        Measured wall times, seconds.
    split : numpy.ndarray
        ``train`` or ``test`` per run.
    table : pandas.DataFrame
        The runs' rows.

    Raises
    ------
    ValueError
        When no file holds runs of ``pipeline``.
    """
    with tempfile.TemporaryDirectory(prefix="memest-walltime-") as scratch:
        files = latest_measurements(walltime_files(paths, pipeline), Path(scratch))
        if pipeline in _COLUMNS:
            from jwst_memest.profile.fit_detector1 import load_detector1_runs
            from jwst_memest.profile.fit_image2 import load_image2_runs

            rows, _, _, _, table = (load_detector1_runs if pipeline == DETECTOR1 else load_image2_runs)(files)
            X = np.empty(len(rows), dtype=object)
            X[:] = rows
            # the Level-2 loader reads image2 and spec2 runs alike: each model is fitted on its own pipeline's
            ours = (table["pipeline"].astype(str) == pipeline).to_numpy().copy()
            X, table = X[ours], table[ours].reset_index(drop=True)
            split = table["split"].astype(str).to_numpy()
        else:
            from jwst_memest.profile.fit import load_measured

            X, _, split, table = load_measured(files, pipeline)
    wall = table["wall_s"].astype(float).to_numpy()
    keep = np.isfinite(wall) & (wall > 0)
    return X[keep], wall[keep], split[keep], table[keep].reset_index(drop=True)


def walltime_files(paths, pipeline: str) -> list[Path]:
    """The corpus CSVs a pipeline's wall-time model is fitted on.

    Those holding its measured runs; where some of them record step times, those alone: runs
    timed step by step (one quiet session) supersede runs timed only whole, whose sessions shared
    the machine with other work (the same runs, measured again).

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Corpus CSVs.
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.

    Returns
    -------
    list of pathlib.Path
        The files.

    Raises
    ------
    ValueError
        When no file holds runs of ``pipeline``.
    """
    files = corpus_files_for(paths, pipeline)
    if not files:
        raise ValueError(f"no corpus file holds measured calwebb_{pipeline} runs")
    return step_timed_files(files, pipeline) or files


def step_timed_files(paths, pipeline: str) -> list[Path]:
    """The corpus CSVs among ``paths`` whose runs of ``pipeline`` record step times, for a pipeline fitted by step.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Corpus CSVs holding runs of ``pipeline``.
    pipeline : str
        The pipeline.

    Returns
    -------
    list of pathlib.Path
        Those files (none for a pipeline whose terms are not split by step).
    """
    import pandas as pd

    if pipeline not in STEP_OF_PREFIX:
        return []
    found = []
    for path in map(Path, paths):
        table = pd.read_csv(path)
        if "step_times" in table and step_seconds_of(table[table["pipeline"].astype(str) == pipeline], pipeline):
            found.append(path)
    return found


def step_seconds_of(table, pipeline: str) -> dict[str, np.ndarray] | None:
    """Seconds each step of ``pipeline`` ran, per run, from the corpus's ``step_times``.

    Parameters
    ----------
    table : pandas.DataFrame
        The runs' rows.
    pipeline : str
        The pipeline.

    Returns
    -------
    dict of str to numpy.ndarray or None
        Step to seconds (0 for a step a timed run skipped; NaN for every step of a run not timed
        by step); None when the pipeline's terms are not split by step or no run was timed by step.
    """
    steps = sorted(set(STEP_OF_PREFIX.get(pipeline, {}).values()))
    if not steps or "step_times" not in table:
        return None
    parsed = [json.loads(t) if isinstance(t, str) and t.strip().startswith("{") else None
              for t in table["step_times"]]
    if not any(parsed):
        return None
    return {step: np.array([float(p.get(step, 0.0)) if p else np.nan for p in parsed]) for step in steps}


def rows_of(step_seconds: dict | None, rows) -> dict | None:
    """The step seconds of a subset of the runs.

    Parameters
    ----------
    step_seconds : dict or None
        Step to seconds per run (`step_seconds_of`).
    rows : numpy.ndarray
        The subset: indices or a boolean mask.

    Returns
    -------
    dict or None
        The same steps, the subset's seconds; None for None.
    """
    return None if step_seconds is None else {k: v[rows] for k, v in step_seconds.items()}


def out_of_fold_seconds(X: np.ndarray, wall_s: np.ndarray, pipeline: str, k: int = 5,
                        step_seconds: dict | None = None) -> np.ndarray:
    """Each run's wall time estimated by a model fitted without it (k folds).

    Parameters
    ----------
    X : numpy.ndarray
        The runs' baseline input.
    wall_s : numpy.ndarray
        Measured wall times, seconds.
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
    k : int, optional
        Folds.
    step_seconds : dict or None, optional
        The runs' step times (`step_seconds_of`), for a fit by step.

    Returns
    -------
    numpy.ndarray
        Out-of-fold estimates, seconds.
    """
    from sklearn.model_selection import KFold

    estimates = np.empty_like(wall_s, dtype=float)
    placeholder = UpperBound((1.0,), (1.0,), 0)
    for fit_rows, held in KFold(min(k, len(wall_s)), shuffle=True, random_state=0).split(X):
        coefficients = fit_walltime_coefficients(X[fit_rows], wall_s[fit_rows], pipeline,
                                                 step_seconds=rows_of(step_seconds, fit_rows))
        estimates[held] = WallTimeModel(pipeline, coefficients, placeholder).predict(X[held])
    return estimates


def largest_runs_check(X: np.ndarray, wall_s: np.ndarray, pipeline: str, fraction: float = LARGEST_FRACTION,
                       step_seconds: dict | None = None) -> tuple[int, np.ndarray]:
    """Refit on the runs below ``fraction`` of the largest wall time and estimate the others.

    Whether the terms' shape carries to products bigger than any the fit saw: a model whose terms
    follow the work estimates them as well as the runs it was fitted on. A larger run that needs a
    term none of the smaller runs has is left out: that coefficient was never fitted.

    Parameters
    ----------
    X : numpy.ndarray
        The runs' baseline input (both splits).
    wall_s : numpy.ndarray
        Measured wall times, seconds.
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
    fraction : float, optional
        Runs below ``fraction`` x the largest wall time are fitted.
    step_seconds : dict or None, optional
        The runs' step times (`step_seconds_of`), for a fit by step.

    Returns
    -------
    n_estimated : int
        The runs estimated (0 when none is left, or too few are below to fit the terms).
    signed_pct : numpy.ndarray
        Their signed % errors (negative: the estimate is below the measured time).
    """
    wall_s = np.asarray(wall_s, dtype=float)
    small = wall_s < np.max(wall_s) * fraction
    if small.all() or not small.any():
        return 0, np.array([])
    # a run that needs a term no fitted run has (a readout, a mode, a worker pool only the large runs
    # use) is not an extrapolation the fit can be judged on: its coefficient was never fitted
    _, terms = work_terms(X, pipeline)
    unfitted = ~np.any(terms[small] > 0, axis=0)
    judged = ~small & ~np.any(terms[:, unfitted] > 0, axis=1)
    if not judged.any():
        return 0, np.array([])
    try:
        coefficients = fit_walltime_coefficients(X[small], wall_s[small], pipeline,
                                                 step_seconds=rows_of(step_seconds, small))
    except ValueError:
        return 0, np.array([])
    seconds = WallTimeModel(pipeline, coefficients, UpperBound((1.0,), (1.0,), 0)).predict(X[judged])
    return int(judged.sum()), 100 * (seconds / wall_s[judged] - 1)


def session_residuals(model: WallTimeModel, X: np.ndarray, wall_s: np.ndarray, sessions,
                      min_runs: int = 3) -> dict[str, float]:
    """The model's median signed % residual per measuring session.

    Runs of one session shared the machine with the same other work: a session's median far from
    zero is its load, which moves all its runs alike and which no input can predict.

    Parameters
    ----------
    model : jwst_memest.model.walltime.WallTimeModel
        The fitted model.
    X : numpy.ndarray
        The runs' baseline input.
    wall_s : numpy.ndarray
        Measured wall times, seconds.
    sessions : sequence of str
        Each run's session (e.g. the hour of its timestamp).
    min_runs : int, optional
        Sessions with fewer runs are left out (their median is a run's, not the session's).

    Returns
    -------
    dict of str to float
        Session to median signed % residual (negative: estimates below the measured times).
    """
    pct = 100 * (model.predict(X) / np.asarray(wall_s, dtype=float) - 1)
    sessions = np.asarray(sessions, dtype=str)
    return {s: float(np.median(pct[sessions == s])) for s in sorted(set(sessions))
            if (sessions == s).sum() >= min_runs}


def fit_pipeline(X: np.ndarray, wall_s: np.ndarray, split: np.ndarray, pipeline: str, source: str = "",
                 version: str = "1", quantile: float = 0.95, step_seconds: dict | None = None) -> WallTimeModel:
    """Fit one pipeline's model on the training runs, calibrate its bound out of fold, measure it held out.

    Parameters
    ----------
    X : numpy.ndarray
        The runs' baseline input.
    wall_s : numpy.ndarray
        Measured wall times, seconds.
    split : numpy.ndarray
        ``train`` or ``test`` per run.
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
    source : str, optional
        What the runs are (kept with the model).
    version : str, optional
        The model's version.
    quantile : float, optional
        The bound's quantile the held-out metrics judge.
    step_seconds : dict or None, optional
        The runs' step times (`step_seconds_of`): each step's terms fitted to its own time.

    Returns
    -------
    jwst_memest.model.walltime.WallTimeModel
        The fitted model, its held-out metrics in ``held_out``.

    Raises
    ------
    ValueError
        When there are too few training runs.
    """
    train, test = split == "train", split == "test"
    coefficients = fit_walltime_coefficients(X[train], wall_s[train], pipeline,
                                             step_seconds=rows_of(step_seconds, train))
    calibration = out_of_fold_seconds(X[train], wall_s[train], pipeline, step_seconds=rows_of(step_seconds, train))
    bound = UpperBound.from_measurements(wall_s[train], calibration,
                                         source=f"5-fold out-of-fold estimates of {int(train.sum())} training runs")
    model = WallTimeModel(pipeline, coefficients, bound, version,
                          f"fitted to the {'step times and ' if step_seconds is not None else ''}wall_s of "
                          f"{int(train.sum())} measured calwebb_{pipeline} runs{source}")
    if test.any():
        seconds, upper = model.estimate(X[test], quantile)
        metrics = held_out_metrics(wall_s[test], seconds, upper)
        model.held_out = {"n_rows": metrics["n_rows"],
                          "median_abs_pct_error": round(metrics["median_abs_pct_error"], 2),
                          "p90_abs_pct_error": round(metrics["p90_abs_pct_error"], 2),
                          "upper_exceeded": int(round(metrics["upper_exceeded_fraction"] * metrics["n_rows"])),
                          "quantile": quantile}
    return model


def write_walltime_yaml(models: dict[str, WallTimeModel], path: str | Path, reference: dict | None = None) -> Path:
    """Write (or update) the wall-time coefficients file atomically.

    Parameters
    ----------
    models : dict of str to jwst_memest.model.walltime.WallTimeModel
        The fitted models; other pipelines already in the file are kept.
    path : str or pathlib.Path
        The YAML file.
    reference : dict or None, optional
        A new ``reference_machine`` block (default: the file's own).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    data = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    data.setdefault("pipelines", {})
    if reference is not None:
        data["reference_machine"] = reference
    for pipeline, model in models.items():
        previous = data["pipelines"].get(pipeline, {})
        model.version = str(int(float(previous.get("version", 0))) + 1)
        data["pipelines"][pipeline] = model.to_tree()
    ordered = {"reference_machine": data.get("reference_machine", {}), "pipelines": data["pipelines"]}
    with atomic_write(path) as handle:
        handle.write("# Wall-time model of the Level-3 pipelines, calwebb_detector1, calwebb_image2 and\n")
        handle.write("# calwebb_spec2: seconds per unit of each work term on the reference machine; written by\n")
        handle.write("# `python -m jwst_memest.profile fit-walltime`.\n")
        yaml.safe_dump(ordered, handle, sort_keys=False)
    return path


def main(argv=None) -> int:
    """Refit the wall-time model: ``python -m jwst_memest.profile fit-walltime --corpus CSV ...``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 unreadable corpus or too few runs.
    """
    parser = CommandParser(prog=program("python -m jwst_memest.profile fit-walltime"),
                           description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, nargs="+", help="corpus CSV(s); each pipeline's runs are pooled")
    parser.add_argument("--pipeline", nargs="+", choices=PIPELINES, default=list(PIPELINES))
    parser.add_argument("--output", help="YAML to write (default: the package's walltime.yaml)")
    parser.add_argument("--dry-run", action="store_true", help="print the fit and metrics, write nothing")
    args = parser.parse_args(argv)
    models = {}
    for pipeline in args.pipeline:
        try:
            files = walltime_files(args.corpus, pipeline)
            X, wall, split, table = load_walltime_runs(files, pipeline)
            steps = step_seconds_of(table, pipeline)
            names = " + ".join(sorted({f"{Path(p).parent.name}/{Path(p).name}" for p in files}))
            model = fit_pipeline(X, wall, split, pipeline, f" of {names}", step_seconds=steps)
        except ValueError as exc:
            print(f"error: {pipeline}: {exc}", file=sys.stderr)
            return 2
        models[pipeline] = model
        print(f"{pipeline}: held-out {model.held_out}")
        print("  coefficients:", {k: float(f"{v:.3g}") for k, v in model.coefficients.items()})
        print("  upper bound factors:", dict(zip(model.upper_bound.quantiles, np.round(model.upper_bound.factors, 3))))
    if args.dry_run:
        return 0
    path = Path(args.output) if args.output else Path(walltime_file())
    write_walltime_yaml(models, path)
    print(f"wrote {path} ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
