"""Fitting a per-exposure stage model (calwebb_detector1, calwebb_image2) on its measured corpus.

A stage model adds fitted terms to counted ones; these functions find the terms (least squares on
relative error of the run's peak and, at half weight, of each step's, non-negative), estimate
each run out of fold to calibrate the upper bound, measure how far the fit extrapolates (fitted
below a third of the largest peak, estimating the rest), and report held-out error per group.
A model is given by a ``build(coefficients) -> model`` callable and its fitted terms' names and
starting values; the model offers ``predict(rows)`` (GB), ``stages(row)`` (bytes per step) and
``estimate(row)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["StageModelSpec", "fit_terms", "out_of_fold_estimates", "extrapolation_factor", "held_out_lines",
           "STEP_WEIGHT"]

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


def extrapolation_factor(spec: StageModelSpec, rows: list, measured: np.ndarray, step_peaks: list[dict],
                         cut: float = 1 / 3) -> tuple[float, str]:
    """The largest measured/estimated ratio of the runs above ``cut`` of the largest peak, fitted below it.

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
        The fraction of the largest peak the fit stays below.

    Returns
    -------
    factor : float
        At least 1.05.
    detail : str
        What it was measured on.
    """
    above = measured >= cut * measured.max()
    if above.sum() < 1 or (~above).sum() < len(spec.terms) + 2:
        return 1.25, "too few runs to measure; the default widening"
    coefficients = fit_terms(spec, [r for r, a in zip(rows, above) if not a], measured[~above],
                             [p for p, a in zip(step_peaks, above) if not a])
    ratio = float(np.max(measured[above] / spec.build(coefficients).predict([r for r, a in zip(rows, above) if a])))
    return max(1.05, ratio), (f"{int(above.sum())} runs above a third of the largest peak ({measured.max():.2f} GB), "
                              f"estimated by a fit below it: largest measured/estimated {ratio:.3f}")


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
