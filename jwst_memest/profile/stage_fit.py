"""Fitting a per-exposure stage model (calwebb_detector1, calwebb_image2) on its measured corpus.

A stage model adds fitted terms to counted ones; these functions find the terms (least squares on
relative error of the run's peak and, at half weight, of each step's, non-negative), estimate
each run out of fold to calibrate the upper bound, measure how far the fit extrapolates (fitted
below a third of the largest size of each instrument or pipeline, estimating the rest), and report
held-out error per group.
A model is given by a ``build(coefficients) -> model`` callable and its fitted terms' names and
starting values; the model offers ``predict(rows)`` (GB), ``stages(row)`` (bytes per step) and
``estimate(row)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["StageModelSpec", "fit_terms", "out_of_fold_estimates", "largest_held_out_ratio", "extrapolation_factor",
           "unmeasured_mode_factor", "held_out_lines",
           "STEP_WEIGHT", "StageCommand", "run_stage_fit"]

STEP_WEIGHT = 0.5  # each step's error against its measured peak, beside the run's (as for Level 3)


class StageModelSpec:
    """What the fit needs of a stage model.

    Parameters
    ----------
    build : callable
        ``build(coefficients: dict) -> model``.
    terms : sequence of str
        The fitted terms, in the order the fit scales them.
    start : dict
        Each term's starting value (also its scale; 0 starts at 1).
    """

    def __init__(self, build: Callable, terms: Sequence[str], start: dict):
        self.build = build
        self.terms = tuple(terms)
        self.start = dict(start)


def fit_terms(spec: StageModelSpec, rows: list, measured: np.ndarray, step_peaks: list[dict] | None = None) -> dict:
    """The fitted terms minimising relative error on these runs (and on their step peaks).

    Parameters
    ----------
    spec : StageModelSpec
        The model.
    rows : list
        The runs' inputs.
    measured : numpy.ndarray
        Their peaks, GB.
    step_peaks : list of dict or None, optional
        Their measured step peaks, GB.

    Returns
    -------
    dict
        The terms' values.
    """
    from scipy.optimize import least_squares

    scale = np.array([spec.start[t] or 1.0 for t in spec.terms])

    def residuals(theta):
        trial = spec.build(dict(zip(spec.terms, theta * scale)))
        parts = [(trial.predict(rows) - measured) / measured]
        for row, peaks in zip(rows, step_peaks or []):
            stages = trial.stages(row)
            parts.append(np.array([STEP_WEIGHT * (stages[s] / 1e9 - v) / v for s, v in peaks.items()
                                   if s in stages and v > 0]))
        return np.concatenate(parts)

    fit = least_squares(residuals, np.ones(len(spec.terms)), bounds=(0, np.inf))
    return dict(zip(spec.terms, (fit.x * scale).tolist()))


def out_of_fold_estimates(spec: StageModelSpec, rows: list, measured: np.ndarray, step_peaks: list[dict],
                          k: int = 5) -> np.ndarray:
    """Each run estimated by a model fitted without it (k folds).

    Parameters
    ----------
    spec : StageModelSpec
        The model.
    rows : list
        The runs' inputs.
    measured : numpy.ndarray
        Their peaks, GB.
    step_peaks : list of dict
        Their step peaks.
    k : int, optional
        Folds.

    Returns
    -------
    numpy.ndarray
        GB.
    """
    from sklearn.model_selection import KFold

    estimates = np.empty_like(measured)
    for fit_rows, held in KFold(min(k, len(rows)), shuffle=True, random_state=0).split(rows):
        coefficients = fit_terms(spec, [rows[i] for i in fit_rows], measured[fit_rows],
                                 [step_peaks[i] for i in fit_rows])
        estimates[held] = spec.build(coefficients).predict([rows[i] for i in held])
    return estimates


def largest_held_out_ratio(spec: StageModelSpec, rows: list, measured: np.ndarray, step_peaks: list[dict],
                           held: np.ndarray) -> float:
    """The largest measured/estimated ratio of the ``held`` runs, estimated by a fit on the others.

    Parameters
    ----------
    spec : StageModelSpec
        The model.
    rows : list
        The runs' inputs.
    measured : numpy.ndarray
        Their peaks, GB.
    step_peaks : list of dict
        Their step peaks.
    held : numpy.ndarray
        True for the runs left out of the fit and estimated.

    Returns
    -------
    float
        The ratio.
    """
    coefficients = fit_terms(spec, [r for r, h in zip(rows, held) if not h], measured[~held],
                             [p for p, h in zip(step_peaks, held) if not h])
    estimated = spec.build(coefficients).predict([r for r, h in zip(rows, held) if h])
    return float(np.max(measured[held] / estimated))


def extrapolation_factor(spec: StageModelSpec, rows: list, measured: np.ndarray, step_peaks: list[dict],
                         cut: float = 1 / 3, sizes: Sequence[tuple] | None = None) -> tuple[float, str]:
    """The largest measured/estimated ratio of the largest runs, estimated by a fit without them.

    The largest runs are those above ``cut`` of the largest peak or, with ``sizes``, those above
    ``cut`` of the largest size of their key (an instrument, a pipeline): the range the widening is
    applied beyond. A mode whose every run peaks high (a constant of gigabytes) is then still proved
    on its own small runs.

    Parameters
    ----------
    spec : StageModelSpec
        The model.
    rows : list
        The runs' inputs.
    measured : numpy.ndarray
        Their peaks, GB.
    step_peaks : list of dict
        Their step peaks.
    cut : float, optional
        The fraction of the largest peak (or size) the fit stays below.
    sizes : sequence of (key, size) or None, optional
        Each run's key and size (`StageCommand.size_key`).

    Returns
    -------
    factor : float
        At least 1.05.
    detail : str
        What it was measured on.
    """
    if sizes is None:
        above = measured >= cut * measured.max()
        what = f"above a third of the largest peak ({measured.max():.2f} GB)"
    else:
        keys = [key for key, _ in sizes]
        size = np.array([float(value) for _, value in sizes])
        largest = {key: max(v for k, v in zip(keys, size) if k == key) for key in set(keys)}
        above = np.array([value >= cut * largest[key] for key, value in zip(keys, size)])
        what = "above a third of the largest size of their kind"
    if above.sum() < 1 or (~above).sum() < len(spec.terms) + 2:
        return 1.25, "too few runs to measure; the default widening"
    ratio = largest_held_out_ratio(spec, rows, measured, step_peaks, above)
    return max(1.05, ratio), (f"{int(above.sum())} runs {what}, estimated by a fit without them: "
                              f"largest measured/estimated {ratio:.3f}")


def unmeasured_mode_factor(spec: StageModelSpec, rows: list, measured: np.ndarray, step_peaks: list[dict],
                           modes: Sequence[str]) -> tuple[float, str]:
    """The largest measured/estimated ratio of a mode's runs, estimated by a fit on the other modes.

    What an exposure type no run measured may hold beyond its estimate: each measured mode in turn
    is treated as unmeasured (its runs left out of the fit, its own terms at their starting values)
    and estimated; the worst of them widens the bound of every unmeasured type.

    Parameters
    ----------
    spec : StageModelSpec
        The model.
    rows : list
        The runs' inputs.
    measured : numpy.ndarray
        Their peaks, GB.
    step_peaks : list of dict
        Their step peaks.
    modes : sequence of str
        Each run's mode.

    Returns
    -------
    factor : float
        At least 1.25 (`jwst_memest.model.coverage.MINIMUM_UNMEASURED_FACTOR`).
    detail : str
        The mode that set it.
    """
    from jwst_memest.model.coverage import MINIMUM_UNMEASURED_FACTOR

    modes = np.asarray(modes)
    worst, worst_mode = 0.0, None
    for mode in sorted(set(modes)):
        held = modes == mode
        if (~held).sum() < len(spec.terms) + 2:
            continue
        ratio = largest_held_out_ratio(spec, rows, measured, step_peaks, held)
        if ratio > worst:
            worst, worst_mode = ratio, mode
    if worst_mode is None:
        return MINIMUM_UNMEASURED_FACTOR, "too few runs to measure; the default widening"
    return (max(MINIMUM_UNMEASURED_FACTOR, worst),
            f"each of {len(set(modes))} modes estimated by a fit on the others: largest measured/estimated "
            f"{worst:.3f} ({worst_mode})")


def held_out_lines(model, rows: list, measured: np.ndarray, test: np.ndarray, groups: Sequence[str],
                   label: str = "instrument") -> list[str]:
    """Markdown lines: held-out error and bound per group and overall.

    Parameters
    ----------
    model : object
        The fitted model (its ``estimate(row)``).
    rows : list
        The runs' inputs.
    measured : numpy.ndarray
        Their peaks, GB.
    test : numpy.ndarray
        The held-out split.
    groups : sequence of str
        Each run's group (its instrument, its mode).
    label : str, optional
        The groups' column title.

    Returns
    -------
    list of str
        Table lines.
    """
    lines = [f"| {label} | held-out runs | median abs % error | worst abs % error | above the bound |",
             "|---|---|---|---|---|"]
    estimates = [model.estimate(r) for r in rows]
    gb = np.array([e["gb"] for e in estimates])
    upper = np.array([e["upper_gb"] for e in estimates])
    groups = np.asarray(groups)
    for group in sorted(set(groups)) + ["all"]:
        rows_of = test & ((groups == group) if group != "all" else True)
        if rows_of.sum() == 0:
            continue
        error = 100 * np.abs(gb[rows_of] / measured[rows_of] - 1)
        lines.append(f"| {group} | {int(rows_of.sum())} | {np.median(error):.1f} | {error.max():.1f} | "
                     f"{int((measured[rows_of] > upper[rows_of]).sum())} |")
    return lines


class StageCommand:
    """What a ``python -m jwst_memest.profile fit-<stage>`` command fits and where it writes.

    Parameters
    ----------
    name : str
        The command (``fit-detector1``).
    description : str
        Its one-line description.
    default_corpus : list of str
        The corpus CSVs it reads by default.
    load_runs : callable
        ``load_runs(paths) -> (rows, measured, test, step_peaks, table)``.
    spec : StageModelSpec
        The model as the fit takes it.
    model_class : type
        The `jwst_memest.model.stage_baseline.StageBaseline` subclass it makes.
    load_installed : callable
        The installed model's cached loader (None when none is installed).
    installed_file : callable
        The installed YAML's path.
    size_key : callable
        ``size_key(row) -> (key, size)``: the measured range is the largest size per key.
    groups : callable
        ``groups(rows, table) -> sequence of str``: each run's group in the held-out table.
    what : str
        What the runs are, for the model's source line (``calwebb_detector1``).
    label : str, optional
        The groups' column title.
    mode_of : callable or None, optional
        ``mode_of(row) -> str``: the run's mode, each left out in turn to measure the widening of an
        exposure type no run measured (`unmeasured_mode_factor`); None keeps the default widening.
    """

    def __init__(self, name, description, default_corpus, load_runs, spec, model_class, load_installed, installed_file,
                 size_key, groups, what, label="instrument", mode_of=None):
        self.name, self.description, self.default_corpus = name, description, list(default_corpus)
        self.load_runs, self.spec, self.model_class = load_runs, spec, model_class
        self.load_installed, self.installed_file = load_installed, installed_file
        self.size_key, self.groups, self.what, self.label = size_key, groups, what, label
        self.mode_of = mode_of


def run_stage_fit(command: StageCommand, argv=None) -> int:
    """Fit, calibrate, report and write a stage model's YAML (atomically), as its command line asks.

    Parameters
    ----------
    command : StageCommand
        The stage's fit.
    argv : list of str or None, optional
        The command-line arguments.

    Returns
    -------
    int
        0 done, 2 bad input.
    """
    import yaml

    from jwst_memest.atomic import atomic_write
    from jwst_memest.cli_support import CommandParser, program
    from jwst_memest.model.upper import UpperBound

    parser = CommandParser(prog=program(f"python -m jwst_memest.profile {command.name}"),
                           description=command.description)
    parser.add_argument("--corpus", nargs="+", default=command.default_corpus,
                        help=f"corpus CSV(s) (default: {' '.join(command.default_corpus)})")
    parser.add_argument("--output", help="YAML to write (default: the package's installed one)")
    parser.add_argument("--margin-bytes", type=float, default=None,
                        help="the spread between environments added to every bound (default: the Level-3 one)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    for path in args.corpus:
        if not Path(path).is_file():
            parser.error(f"{path}: corpus file not found")
    rows, measured, test, peaks, table = command.load_runs(args.corpus)
    train = ~test
    if train.sum() < len(command.spec.terms) + 3:
        parser.error(f"{' '.join(args.corpus)}: {int(train.sum())} training runs, too few to fit")
    train_rows = [r for r, t in zip(rows, train) if t]
    train_peaks = [p for p, t in zip(peaks, train) if t]
    coefficients = fit_terms(command.spec, train_rows, measured[train], train_peaks)
    calibration = out_of_fold_estimates(command.spec, train_rows, measured[train], train_peaks)
    bound = UpperBound.from_measurements(measured[train], calibration,
                                         source=f"5-fold out-of-fold estimates of {int(train.sum())} training runs")
    widening, detail = extrapolation_factor(command.spec, rows, measured, peaks,
                                            sizes=[command.size_key(row) for row in rows])
    unmeasured, unmeasured_detail = (None, "") if command.mode_of is None else unmeasured_mode_factor(
        command.spec, rows, measured, peaks, [command.mode_of(row) for row in rows])
    if args.margin_bytes is None:
        from jwst_memest.model.baseline import load_baseline

        margin = load_baseline("image3").margin_bytes
    else:
        margin = args.margin_bytes
    measured_range = {}
    for row in rows:
        key, size = command.size_key(row)
        measured_range[key] = max(measured_range.get(key, 0), size)
    previous = command.load_installed()
    version = str(int(previous.version) + 1) if previous and str(previous.version).isdigit() else "1"
    model = command.model_class(coefficients, bound, version,
                                f"fitted to {int(train.sum())} measured {command.what} runs of "
                                f"{' + '.join(Path(p).name for p in args.corpus)}; beyond the measured range: {detail}"
                                + (f"; an unmeasured type: {unmeasured_detail}" if unmeasured else ""),
                                margin, measured_range, widening, *([unmeasured] if unmeasured else []))
    print("coefficients:", {k: round(v, 4) for k, v in coefficients.items()})
    print(f"bound x{bound.factor(0.95):.3f} + {margin / 1e6:.1f} MB; beyond the measured range x{widening:.3f} ({detail})")
    if unmeasured:
        print(f"an unmeasured type x{unmeasured:.3f} ({unmeasured_detail})")
    print("\n".join(held_out_lines(model, rows, measured, test, command.groups(rows, table), label=command.label)))
    if args.dry_run:
        return 0
    path = Path(args.output) if args.output else Path(command.installed_file())
    module = command.model_class.__module__
    with atomic_write(path) as handle:
        handle.write(f"# {command.what}'s fitted terms ({module}), written by\n"
                     f"# `python -m jwst_memest.profile {command.name}`.\n")
        yaml.safe_dump(model.to_tree(), handle, sort_keys=False)
    command.load_installed.cache_clear()
    print(f"wrote {path}")
    return 0
