"""Refit a pipeline's physics-baseline coefficients on the measured corpus (`PhysicsBaseline.fit`).

Bounded least squares on relative residuals over the training split (the model
has a max() of branches, so a linear solver does not fit it), an upper bound
calibrated on the held-out split, and baseline.yaml rewritten atomically.
"""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
from jwst_memest.model.coverage import Envelope
from jwst_memest.model.fitting import (DEFAULT_STEP_WEIGHT, FIRST_FIT_START, STEP_WEIGHT, TERMS, fit_coefficients,
                                       step_weight_for)
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.terms import with_settings
from jwst_memest.model.upper import UpperBound
from jwst_memest.settings import RunSettings

__all__ = ["load_measured", "fit_baseline", "extrapolation_check", "settings_of", "outlier_grids_of", "main"]

def load_measured(corpus, pipeline: str = "image3"):
    """The baseline's inputs and labels from the successful runs of corpus CSVs.

    Read by the training module's reader, so the features are encoded exactly as for training
    (category columns as names: CHANNEL "12" is a channel, not code 12). Failed, skipped and
    other-pipeline rows are left out: only a finished run has a label.

    Parameters
    ----------
    corpus : str, pathlib.Path or list of them
        The corpus CSV(s), pooled.
    pipeline : str, optional
        The Level-3 pipeline whose runs are read.

    Returns
    -------
    X : numpy.ndarray
        Encoded features and each run's settings (`jwst_memest.model.terms.with_settings`).
    measured : numpy.ndarray
        Measured peaks, GB.
    split : numpy.ndarray
        Each run's split, ``train`` or ``test``.
    table : pandas.DataFrame
        The runs' rows.

    Raises
    ------
    ValueError
        When a file is not a measured corpus or cannot be read.
    """
    from jwst_memest.pipelines import exp_mode_for
    from jwst_memest.tables import load_training_data

    exp_mode = exp_mode_for(pipeline)
    paths = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    data = load_training_data(paths, exp_mode, folds=None, pipeline=pipeline)
    if data.kind != "corpus":
        raise ValueError(f"{data.label}: not a measured corpus (no measured_gb and status columns)")
    split = np.where(data.test_split, "test", "train") if data.test_split is not None else np.full(len(data.y), "train")
    table = data.table.reset_index()
    settings, layouts = settings_of(table), _layouts_of(table)
    return (with_settings(data.X, settings, area_ratios_of(layouts, settings), psf_bytes_of(table, layouts),
                          outlier_grids_of(table, layouts, settings, pipeline), wfss_products=wfss_products_of(table)),
            data.y, split, table)


def settings_of(table) -> list[RunSettings]:
    """Each run's settings, from the pipeline arguments it was run with (jwst's defaults where none).

    Parameters
    ----------
    table : pandas.DataFrame
        Corpus rows (``pipeline_args``).

    Returns
    -------
    list of jwst_memest.settings.RunSettings
        One per row.
    """
    if "pipeline_args" not in table.columns:
        return [RunSettings() for _ in range(len(table))]
    return [RunSettings.from_arguments(str(text).split()) for text in table["pipeline_args"].fillna("")]


def _layouts_of(table) -> list[dict]:
    """Each run's layout (the plan's parameters), {} where none was recorded."""
    texts = table["layout"].fillna("{}").astype(str) if "layout" in table.columns else ["{}"] * len(table)
    layouts = []
    for text in texts:
        try:
            layout = json.loads(text)
        except json.JSONDecodeError:
            layout = {}
        layouts.append(layout if isinstance(layout, dict) else {})
    return layouts


def psf_bytes_of(table, layouts: list[dict]) -> list[float]:
    """The PSF references' bytes of each run: its layout's PSF exposures, each as large as its largest member."""
    sizes = table["member_bytes"].astype(float) if "member_bytes" in table.columns else [np.nan] * len(table)
    return [float(layout["psf_exposures"]) * float(size) if layout.get("psf_exposures") is not None else np.nan
            for layout, size in zip(layouts, sizes)]


def wfss_products_of(table) -> list[float]:
    """What building and writing each WFSS run's x1d and c1d adds (bytes), from the synthetic members it
    measured: every member holds the same ``n_slits`` sources, one first-order cutout each, of its
    mode's ``SLIT_SHAPE``, and its detectors share each exposure group (NaN for other runs).

    Parameters
    ----------
    table : pandas.DataFrame
        Corpus rows (``exp_type``, ``n_members``, ``n_exposure_groups``, ``n_slits``).

    Returns
    -------
    list of float
        Bytes per run.
    """
    from jwst_memest.exposures import SLIT_SHAPE
    from jwst_memest.instruments import WFSS_EXP_TYPES
    from jwst_memest.wfss_products import uniform_slit_spectra, wfss_products_bytes

    if not {"exp_type", "n_members", "n_slits"} <= set(table.columns):
        return [np.nan] * len(table)
    groups = table["n_exposure_groups"] if "n_exposure_groups" in table.columns else table["n_members"]
    sizes = []
    for exp_type, members, exposures, slits in zip(table["exp_type"], table["n_members"], groups, table["n_slits"]):
        if exp_type not in WFSS_EXP_TYPES or exp_type not in SLIT_SHAPE or not slits > 0:
            sizes.append(np.nan)
            continue
        spectra = uniform_slit_spectra(int(slits), SLIT_SHAPE[exp_type][1])
        exposures = int(exposures) if exposures == exposures and exposures > 0 else int(members)
        sizes.append(wfss_products_bytes([(str(number % exposures), spectra) for number in range(int(members))]))
    return sizes


def outlier_grids_of(table, layouts: list[dict], settings: list[RunSettings], pipeline: str) -> list[float]:
    """outlier_detection's grid of each run (pixels), as the estimate computes it.

    The members' mosaic at their own scale, which resample's ``output_shape`` does not reach.
    Recorded in newer corpus rows; for an older run given an ``output_shape`` it is rebuilt from the
    run's layout (its recorded ``output_pixels`` are the user's grid); NaN elsewhere (the baseline
    then takes resample's grid back to the members' scale, which is exact without ``output_shape``).

    Parameters
    ----------
    table : pandas.DataFrame
        Corpus rows.
    layouts : list of dict
        Each run's layout.
    settings : list of jwst_memest.settings.RunSettings
        Each run's settings.
    pipeline : str
        The Level-3 pipeline.

    Returns
    -------
    list of float
        Pixels per run (NaN where not known).
    """
    import tempfile

    from jwst_memest.exposures import ExposureLayout, write_header_exposures
    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata

    recorded = (table["outlier_grid_pixels"].astype(float).tolist() if "outlier_grid_pixels" in table.columns
                else [np.nan] * len(table))
    grids = []
    for grid, layout, run_settings in zip(recorded, layouts, settings):
        if np.isnan(grid) and run_settings.output_shape and layout and pipeline == "image3":
            with tempfile.TemporaryDirectory(prefix="memest-grid-") as scratch:
                members = [read_exposure_metadata(path)
                           for path in write_header_exposures(ExposureLayout.from_plan(layout), scratch)]
            grid = product_features(members, pipeline, run_settings.in_memory).outlier_grid_pixels
        grids.append(float(grid))
    return grids


def area_ratios_of(layouts: list[dict], settings: list[RunSettings]) -> list[float]:
    """Output pixels per member pixel of each run's mosaic, from its settings and its first detector's scale."""
    from jwst_memest.instruments import imaging_pixel_scale

    return [s.area_ratio(imaging_pixel_scale((layout.get("detectors") or ["NRCA1"])[0]))
            for layout, s in zip(layouts, settings)]


def fit_baseline(X: np.ndarray, measured: np.ndarray, start: PhysicsBaseline,
                 step_peaks: list[dict] | None = None, step_weight: float | None = None) -> dict:
    """The coefficients ``start``'s terms take when fitted to these runs (``start`` is left as it is).

    Parameters
    ----------
    X : numpy.ndarray
        Encoded features with settings columns, one row per run.
    measured : numpy.ndarray
        Measured peaks, GB.
    start : jwst_memest.model.baseline.PhysicsBaseline
        The baseline whose terms are fitted.
    step_peaks : list of dict or None, optional
        Per run, step name to measured peak GB.
    step_weight : float or None, optional
        The weight of the step peaks.

    Returns
    -------
    dict of str to float
        The fitted coefficients.
    """
    return fit_coefficients(start, X, measured, step_peaks, step_weight)


def step_peaks_of(table) -> list[dict]:
    """The corpus' per-step peaks (JSON in ``step_peaks``), one dict per run (empty where not recorded)."""
    if "step_peaks" not in table.columns:
        return [{} for _ in range(len(table))]
    found = []
    for text in table["step_peaks"].fillna("").astype(str):
        try:
            found.append(json.loads(text) if text.startswith("{") else {})
        except json.JSONDecodeError:
            found.append({})
    return found


def step_targets_of(table) -> list[dict]:
    """The per-step peaks the stages are fitted to: each run's, scaled so that its largest step
    equals the run's peak.

    The sampler polls RSS every 0.2 s and misses the short spikes that the kernel's high-water mark
    (``measured_gb``) counts; unscaled, the fit would pull the stages below the peaks they set.
    """
    peaks = step_peaks_of(table)
    if "measured_gb" not in table.columns:
        return peaks
    targets = []
    for run, measured in zip(peaks, table["measured_gb"].astype(float)):
        sampled = max(run.values(), default=0.0)
        scale = measured / sampled if sampled > 0 and np.isfinite(measured) and measured > sampled else 1.0
        targets.append({step: peak * scale for step, peak in run.items()})
    return targets


def out_of_fold_estimates(X: np.ndarray, measured: np.ndarray, start: PhysicsBaseline, k: int = 5,
                          step_peaks: list[dict] | None = None, step_weight: float | None = None) -> np.ndarray:
    """Each run estimated by a baseline fitted without it: what the upper bound is calibrated on."""
    from sklearn.model_selection import KFold

    estimates = np.empty_like(measured)
    for fit_rows, held in KFold(min(k, len(measured)), shuffle=True, random_state=0).split(X):
        peaks = [step_peaks[i] for i in fit_rows] if step_peaks else None
        fold = PhysicsBaseline(start.pipeline, fit_baseline(X[fit_rows], measured[fit_rows], start, peaks, step_weight),
                               start.upper_bound, "", terms=start.terms)
        estimates[held] = fold.predict(X[held])
    return estimates


def _fit_and_predict(X_fit, y_fit, X_predict, start: PhysicsBaseline, step_peaks: list[dict] | None = None,
                     step_weight: float | None = None) -> np.ndarray:
    coefficients = fit_baseline(X_fit, y_fit, start, step_peaks, step_weight)
    return PhysicsBaseline(start.pipeline, coefficients, start.upper_bound, "", terms=start.terms).predict(X_predict)


EXTRAPOLATION_CUT = 1.0 / 3.0  # the extrapolation check fits on runs below this fraction of the largest peak


def extrapolation_check(X: np.ndarray, measured: np.ndarray, start: PhysicsBaseline,
                        step_peaks: list[dict] | None = None, step_weight: float | None = None,
                        cut: float = EXTRAPOLATION_CUT) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest runs estimated by a baseline fitted only on the runs below ``cut`` of the largest measured peak.

    This is how far the terms carry beyond what they were fitted on.

    Parameters
    ----------
    X : numpy.ndarray
        Encoded features with settings columns, one row per run.
    measured : numpy.ndarray
        Measured peaks, GB.
    start : jwst_memest.model.baseline.PhysicsBaseline
        The baseline whose terms are fitted.
    step_peaks : list of dict or None, optional
        Per run, step name to measured peak GB.
    step_weight : float or None, optional
        The weight of the step peaks.
    cut : float, optional
        The share of the largest measured peak below which runs are fitted.

    Returns
    -------
    tuple of numpy.ndarray or None
        Which runs were estimated (a mask) and their estimates in GB, or None when too few runs
        lie on either side.
    """
    below = measured < cut * measured.max()
    if below.sum() < len(TERMS[start.terms]) or (~below).sum() < 1:
        return None
    peaks = [step_peaks[i] for i in np.flatnonzero(below)] if step_peaks else None
    return ~below, _fit_and_predict(X[below], measured[below], X[~below], start, peaks, step_weight)


def widening_factors(X: np.ndarray, measured: np.ndarray, modes: np.ndarray, start: PhysicsBaseline,
                     largest_fraction: float = 0.2, min_runs: int = 5, step_peaks: list[dict] | None = None,
                     step_weight: float | None = None) -> tuple[float, float, str]:
    """Measured extrapolation errors: (beyond_range, unmeasured_mode, how they were found).

    beyond_range: the larger of two experiments. The runs above a third of the largest peak,
    estimated by a baseline fitted on the runs below it (``extrapolation_check``); and, for each
    mode with ``min_runs`` runs or more, its largest runs (top ``largest_fraction`` by measured
    peak) estimated by a baseline fitted without them. The largest measured/estimated ratio of
    either. unmeasured_mode: each mode estimated by a baseline fitted on the other modes only; the
    largest ratio over all modes. Each of these fits is made as the installed one is
    (``step_peaks`` and ``step_weight`` included).
    """

    def fit_and_predict(fit_rows, predict_rows):
        peaks = [step_peaks[i] for i in np.flatnonzero(fit_rows)] if step_peaks else None
        return _fit_and_predict(X[fit_rows], measured[fit_rows], X[predict_rows], start, peaks, step_weight)

    beyond, unmeasured = {}, {}
    checked = extrapolation_check(X, measured, start, step_peaks, step_weight)
    if checked is not None:
        held, estimates = checked
        beyond[f"above a third of the largest peak ({int(held.sum())} runs)"] = float((measured[held] / estimates).max())
    for mode in np.unique(modes):
        in_mode = modes == mode
        if in_mode.sum() >= min_runs:
            threshold = np.quantile(measured[in_mode], 1 - largest_fraction)
            held = in_mode & (measured >= threshold)
            if (~held).sum() >= len(TERMS[start.terms]):
                ratio = measured[held] / fit_and_predict(~held, held)
                beyond[mode] = float(ratio.max())
        if (~in_mode).sum() >= len(TERMS[start.terms]) and len(np.unique(modes[~in_mode])) >= 1:
            ratio = measured[in_mode] / fit_and_predict(~in_mode, in_mode)
            unmeasured[str(mode)] = float(ratio.max())
    beyond_factor = max([1.0, *beyond.values()])
    unmeasured_factor = max([1.0, *unmeasured.values()])
    detail = ("largest measured/estimated ratio with the runs above a third of the largest peak, or each "
              "mode's largest fifth, held out: "
              + ", ".join(f"{m} {v:.3f}" for m, v in sorted(beyond.items()))
              + "; with each mode held out entirely " + ", ".join(f"{m} {v:.3f}" for m, v in sorted(unmeasured.items())))
    return beyond_factor, unmeasured_factor, detail


def bounds_by_mode(measured: np.ndarray, estimated: np.ndarray, modes: np.ndarray, source: str,
                   min_runs: int = 10) -> dict[str, UpperBound]:
    """A calibrated upper bound per mode with at least ``min_runs`` out-of-fold estimates."""
    return {str(mode): UpperBound.from_measurements(measured[modes == mode], estimated[modes == mode],
                                                    source=f"{source}, {mode} runs only")
            for mode in np.unique(modes) if (modes == mode).sum() >= min_runs}


def write_baseline_yaml(data: dict, path: Path) -> None:
    """Write the baseline coefficients file atomically, with its header."""
    _write_yaml_atomic(data, path)


def _write_yaml_atomic(data: dict, path: Path) -> None:
    with atomic_write(path) as handle:
        handle.write("# Coefficients of the physics baseline (bytes per pixel unless noted); written by\n")
        handle.write("# `python -m jwst_memest.profile fit-baseline`.\n")
        yaml.safe_dump(data, handle, sort_keys=False)


def main(argv=None) -> int:
    """Refit the physics baseline: ``python -m jwst_memest.profile fit-baseline --corpus CSV ...``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 unreadable corpus or too few runs.
    """

    parser = CommandParser(prog=program("python -m jwst_memest.profile fit-baseline"), description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, nargs="+", help="corpus CSV(s); their successful runs are pooled")
    parser.add_argument("--pipeline", default="image3", choices=sorted(TERMS))
    parser.add_argument("--output", help="baseline YAML to write (default: the package's baseline.yaml)")
    parser.add_argument("--step-weight", type=float,
                        help="weight of each stage's error against its measured step peak "
                             f"(default: {DEFAULT_STEP_WEIGHT}" + "".join(f", {k} {v}" for k, v in STEP_WEIGHT.items()) + ")")
    parser.add_argument("--dry-run", action="store_true", help="print the fit and metrics, write nothing")
    args = parser.parse_args(argv)
    try:
        X, measured, split, table = load_measured(args.corpus, args.pipeline)
    except ValueError as exc:  # names the file and the problem
        print(f"error: {exc}", file=sys.stderr)
        return 2
    corpus_names = " + ".join(Path(p).name for p in args.corpus)
    train, test = split == "train", split == "test"
    if train.sum() < len(TERMS[args.pipeline]) or test.sum() < 3:
        print(f"error: {corpus_names}: {train.sum()} training and {test.sum()} held-out runs are too few", file=sys.stderr)
        return 2
    start = _starting_point(args.pipeline)
    modes = table["exp_type"].astype(str).to_numpy()
    if args.step_weight is None:
        args.step_weight = step_weight_for(args.pipeline)
    peaks = step_targets_of(table)
    train_peaks = [peaks[i] for i in np.flatnonzero(train)]
    coefficients = fit_baseline(X[train], measured[train], start, train_peaks, args.step_weight)
    calibration = out_of_fold_estimates(X[train], measured[train], start, step_peaks=train_peaks,
                                        step_weight=args.step_weight)
    source = f"5-fold out-of-fold estimates of the {int(train.sum())} training runs of {corpus_names}"
    bound = UpperBound.from_measurements(measured[train], calibration, source=source)
    by_mode = bounds_by_mode(measured[train], calibration, modes[train], source)
    # extrapolation is measured on every run (the held-out split measures accuracy inside the range):
    # the largest runs are the ones it needs, wherever the split put them
    beyond, unmeasured, detail = widening_factors(X, measured, modes, start, step_peaks=peaks,
                                                  step_weight=args.step_weight)
    envelope = Envelope.measure(start.feature_set, table, beyond, unmeasured, detail, measured_pipeline=args.pipeline)
    # the bound a user gets: with the installed margin between environments
    fitted = PhysicsBaseline(args.pipeline, coefficients, bound, start.version, envelope=envelope,
                             upper_bound_by_mode=by_mode, terms=args.pipeline, margin_bytes=start.margin_bytes)
    estimated, upper = fitted.estimate(X[test], 0.95)
    metrics = held_out_metrics(measured[test], estimated, upper)
    metrics_by_mode = {str(mode): {k: round(v, 4) for k, v in held_out_metrics(
        measured[test & (modes == mode)], *fitted.estimate(X[test & (modes == mode)], 0.95)).items()}
        for mode in np.unique(modes[test])}
    installed = load_baseline(args.pipeline)  # what is installed now, own terms or borrowed
    before = held_out_metrics(measured[test], installed.predict(X[test]), installed.estimate(X[test], 0.95)[1])
    print("coefficients:", {k: round(v, 3) for k, v in coefficients.items()})
    print("held-out, refitted:", {k: round(v, 4) for k, v in metrics.items()})
    for mode, values in metrics_by_mode.items():
        print(f"  {mode}:", values)
    print("held-out, previous:", {k: round(v, 4) for k, v in before.items()})
    print(f"widening: beyond range x{beyond:.3f}, unmeasured mode x{max(unmeasured, 1.25):.3f} ({detail})")
    if args.dry_run:
        return 0
    path = Path(args.output) if args.output else Path(str(resources.files("jwst_memest.model").joinpath("baseline.yaml")))
    data = yaml.safe_load(path.read_text()) if path.is_file() else {"pipelines": {}}
    # each pipeline's terms are versioned on their own: refitting spec3 leaves image3 (and the
    # hybrid bundles that correct it) untouched
    previous = data["pipelines"].get(args.pipeline, {})
    version = str(int(float(previous.get("version", data.get("version", 0)))) + 1)
    data.pop("version", None)
    data["pipelines"][args.pipeline] = {
        "version": version,
        "source": f"fitted to {int(train.sum())} measured calwebb_{args.pipeline} runs of {corpus_names} "
                  f"(jwst {_jwst_version()}), stages weighted {args.step_weight} against measured step peaks "
                  f"(scaled to the run's peak); "
                  f"held-out metrics on {int(test.sum())} runs",
        "coefficients": {k: round(v, 4) for k, v in coefficients.items()},
        "upper_bound": bound.to_tree(),
        "upper_bound_by_mode": {mode: b.to_tree() for mode, b in by_mode.items()},
        "held_out": {k: round(v, 4) for k, v in metrics.items()},
        "held_out_by_mode": metrics_by_mode,
        # what the runs cover: measured ranges per exposure type, and the widening outside them
        "envelope": envelope.to_tree(),
    }
    _write_yaml_atomic(data, path)
    print(f"wrote {path}")
    return 0


def _starting_point(pipeline: str) -> PhysicsBaseline:
    """The installed baseline when it has the pipeline's own terms, else a first guess of them."""
    installed = load_baseline(pipeline)
    if installed.terms == pipeline:
        return installed
    first = {term: FIRST_FIT_START.get(term, 1.0) for term in TERMS[pipeline]}
    return PhysicsBaseline(pipeline, first, installed.upper_bound, "0", terms=pipeline)


def _jwst_version() -> str:
    import jwst

    return jwst.__version__


if __name__ == "__main__":
    sys.exit(main())
