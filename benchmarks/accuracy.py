"""Accuracy on the held-out part of the measured corpus, side by side, and behaviour beyond it.

    python benchmarks/accuracy.py --pipeline image3 --corpus data/corpus/image3*.csv [--bundle B.asdf ...] [--peer-python PY]
    python benchmarks/accuracy.py --pipeline spec3 --corpus data/corpus/spec3.csv

Compares: the installed default estimator, the physics baseline, the seed's architecture
retrained through jwst_memest.training on the same training split, any bundles given with
--bundle, and spacekit's pretrained model (run on header-only exposures rebuilt from each
held-out run's layout, when an interpreter with spacekit is given). Under-prediction matters
most: a job sized too small is killed after hours, so the table reports how often the memory
request (the upper bound; the bare estimate for spacekit, which has none) was below the
measured peak.

For image3 a second table shows each estimator on products larger than any measured run
(more members, wider mosaics): no label exists there, but an estimator that stops growing
with the data it must hold is unsafe for the jobs that matter most.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from jwst_memest.exposures import NIRCAM_SW_DETECTORS, ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.baseline import load_baseline
from jwst_memest.model.bundle import load_bundle
from jwst_memest.model.fitting import TERMS
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.registry import resolve_estimator
from jwst_memest.pipelines import PIPELINES, exp_mode_for
from jwst_memest.profile.fit import load_measured, step_peaks_of


# Products larger than any measured run (the corpus tops out near 9 GB).
BEYOND_CORPUS = {
    "NIRCam SW, 8 detectors x 8 dithers (64 files)": ExposureLayout(detectors=NIRCAM_SW_DETECTORS, dither_points=8),
    "NIRCam SW, 4 detectors, 4x4 mosaic of 120\" tiles (64 files)": ExposureLayout(
        detectors=NIRCAM_SW_DETECTORS[:4], mosaic_tiles=(4, 4), tile_step_arcsec=120.0),
    "NIRCam SW, 8 detectors, 6x6 mosaic x 4 dithers (1152 files)": ExposureLayout(
        detectors=NIRCAM_SW_DETECTORS, mosaic_tiles=(6, 6), tile_step_arcsec=150.0, dither_points=4),
}


def _layout_from_json(text: str) -> ExposureLayout:
    fields = {f.name for f in dataclasses.fields(ExposureLayout)}
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(text).items() if k in fields}
    return ExposureLayout(**params)


def _spacekit_estimates(layouts: list[ExposureLayout], python: str) -> np.ndarray:
    """spacekit's largest product estimate for each layout's header-only exposures."""
    script = (
        "import logging, sys, json\n"
        "logging.disable(logging.CRITICAL)\n"
        "from spacekit.skopes.jwst.cal.predict import JwstCalPredict\n"
        "out = {}\n"
        "for folder in sys.argv[1:]:\n"
        "    p = JwstCalPredict(input_path=folder); p.run_inference()\n"
        "    out[folder] = [float(v['gbSize']) for v in p.predictions.values()]\n"
        "print(json.dumps(out))\n"
    )
    root = Path(tempfile.mkdtemp())
    folders = []
    for i, layout in enumerate(layouts):
        folder = root / f"run{i}"
        write_header_exposures(layout, folder)
        folders.append(str(folder))
    result = subprocess.run([python, "-c", script, *folders], capture_output=True, text=True, cwd=tempfile.mkdtemp())
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "spacekit failed")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return np.array([max(found[f]) if found[f] else np.nan for f in folders])


def _retrained_seed(corpus: list[Path], pipeline: str, epochs: int):
    from jwst_memest.training import JwstCalTrain

    out = Path(tempfile.mkdtemp())
    trainer = JwstCalTrain(training_data=corpus, out=out, exp_mode=exp_mode_for(pipeline), epochs=epochs,
                           early_stopping="val_loss", patience=40, learning_rate=1e-3)
    return load_bundle(trainer.main(stratify=False))


def _features(layout: ExposureLayout, pipeline: str, in_memory: bool = True) -> np.ndarray:
    with tempfile.TemporaryDirectory() as scratch:
        members = [read_exposure_metadata(p) for p in write_header_exposures(layout, scratch)]
    return product_features(members, pipeline, in_memory).vector()


def _out_of_fold_breakdowns(X, measured, split, table, baseline, rows: np.ndarray, k: int = 6):
    """Each of ``rows`` (runs with per-step peaks), its breakdown by a baseline fitted as the installed
    one is (``fit-baseline``'s procedure, step peaks included) on the training runs outside its fold."""
    from sklearn.model_selection import KFold

    from jwst_memest.model.baseline import PhysicsBaseline
    from jwst_memest.profile.fit import fit_baseline, step_targets_of

    targets = step_targets_of(table)
    predicted = [None] * len(rows)
    for _, held in KFold(min(k, len(rows)), shuffle=True, random_state=0).split(rows):
        fit = (split == "train")
        fit[rows[held]] = False
        fit_rows = np.flatnonzero(fit)
        coefficients = fit_baseline(X[fit_rows], measured[fit_rows], baseline, [targets[i] for i in fit_rows])
        fold = PhysicsBaseline(baseline.pipeline, coefficients, baseline.upper_bound, "fold", terms=baseline.terms)
        for j, breakdown in zip(held, fold.breakdown(X[rows[held]])):
            predicted[j] = breakdown
    return predicted


def _peak_step_section(rows, predicted, step_peaks, table, which: str, tolerance: float = 0.02) -> list[str]:
    """Runs that recorded per-step peaks: does the breakdown name the step that set the peak?

    Strict: the predicted step is the step with the largest sampled peak. Within tolerance: its
    sampled peak is within ``tolerance`` of the largest (steps share the resident memory, and RSS
    is sampled every 0.2 s, so near-equal steps are indistinguishable).
    """
    if not len(rows):
        return []
    strict = within = distinct = distinct_hits = 0
    by_mode: dict[str, list[int]] = {}
    examples = []
    for (stages, step), i in zip(predicted, rows):
        measured = step_peaks[i]
        ranked = sorted(measured.values(), reverse=True)
        largest = max(measured, key=measured.get)
        hit_strict = step == largest
        hit_within = step in measured and measured[step] >= (1 - tolerance) * measured[largest]
        # a run whose largest step stands out from the next one by more than the tolerance
        clear = len(ranked) == 1 or ranked[1] < (1 - tolerance) * ranked[0]
        strict += hit_strict
        within += hit_within
        distinct += clear
        distinct_hits += clear and hit_strict
        mode = str(table["exp_type"].iloc[i])
        counts = by_mode.setdefault(mode, [0, 0, 0, 0, 0])
        for k, value in enumerate((1, hit_strict, hit_within, clear, clear and hit_strict)):
            counts[k] += value
        examples.append((mode, table.index[i] if "run_id" not in table else table["run_id"].iloc[i],
                         stages, step, measured))
    n = len(rows)
    lines = ["", f"Peak step on {n} {which} that recorded per-step peaks (`step_peaks`): the breakdown's "
             f"`peak_step` is the measured largest step in {strict} ({100 * strict / n:.0f} %), and within "
             f"{100 * tolerance:.0f} % of it in {within} ({100 * within / n:.0f} %). In {distinct} of them one step "
             f"stands out (more than {100 * tolerance:.0f} % above every other); the breakdown names it in "
             f"{distinct_hits}" + (f" ({100 * distinct_hits / distinct:.0f} %)" if distinct else "") + ". In the others "
             "several steps peak within the sampling's resolution of each other (the members held in memory set the "
             "peak and each step adds little), and which of them is largest is noise.", "",
             f"| exposure type | runs | strict | within {100 * tolerance:.0f} % | one step stands out | named |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {mode} | {c[0]} | {c[1]} | {c[2]} | {c[3]} | {c[4]} |" for mode, c in sorted(by_mode.items())]
    lines += ["", "Representative runs, measured per-step peaks (sampled RSS, GB) beside the breakdown (GB):", "",
              "| run | predicted peak step | breakdown | measured step peaks |", "|---|---|---|---|"]
    seen = set()
    for mode, run, stages, step, measured in examples:
        if mode in seen:
            continue
        seen.add(mode)
        lines.append(f"| {run} | {step} | " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) + " | "
                     + ", ".join(f"{k} {v:.2f}" for k, v in sorted(measured.items(), key=lambda kv: -kv[1])[:4]) + " |")
    return lines


def _extrapolation_section(X, measured, table, baseline) -> list[str]:
    """The largest runs estimated by the terms fitted without them: those above a third of the largest
    peak (fitted below it), and the largest fifth (fitted on the rest); each against the widened bound."""
    if not (baseline.terms in TERMS and baseline.terms == baseline.pipeline):
        return []
    from jwst_memest.profile.fit import EXTRAPOLATION_CUT, _fit_and_predict, step_targets_of

    peaks = step_targets_of(table)
    beyond = baseline.envelope.beyond_range
    experiments = [
        (f"above a third of the largest peak ({EXTRAPOLATION_CUT * measured.max():.2f} of {measured.max():.2f} GB)",
         measured >= EXTRAPOLATION_CUT * measured.max()),
        ("the largest fifth", measured >= np.quantile(measured, 0.8)),
    ]
    lines = ["", f"Extrapolation: the largest runs, estimated by the terms fitted without them (as the installed fit "
             f"is made); the widening beyond the measured range, x{beyond:.3f}, comes from these experiments and "
             f"from each mode's largest fifth; the widened bound is the estimate times it, plus the "
             f"{baseline.margin_bytes / 1e6:.1f} MB margin.", "",
             "| held out | runs | fitted on | median abs % error | worst abs % error | estimate below peak | "
             "above the widened bound |", "|---|---|---|---|---|---|---|"]
    details = []
    for label, held in experiments:
        if (~held).sum() < len(TERMS[baseline.terms]) or held.sum() < 1:
            lines.append(f"| {label} | {int(held.sum())} | {int((~held).sum())} | too few runs to fit | | | |")
            continue
        estimates = _fit_and_predict(X[~held], measured[~held], X[held], baseline,
                                     [peaks[i] for i in np.flatnonzero(~held)])
        error = 100 * np.abs(estimates / measured[held] - 1)
        above = measured[held] > estimates * beyond + baseline.margin_gb
        lines.append(f"| {label} | {int(held.sum())} | {int((~held).sum())} | {np.median(error):.1f} | "
                     f"{error.max():.1f} | {int((estimates < measured[held]).sum())} | {int(above.sum())} |")
        if not details:
            details = ["", f"Each run {label}:", "", "| run | measured GB | estimated GB | error |", "|---|---|---|---|"]
            for row, est in zip(table[held].itertuples(), estimates):
                details.append(f"| {row.run_id} | {row.measured_gb:.3f} | {est:.3f} | "
                               f"{100 * (est / row.measured_gb - 1):+.1f} % |")
    return lines + details


def _settings_section(X, measured, table, baseline) -> list[str]:
    """Each run setting that changes memory: its runs, each estimated out of fold (6 folds, each
    fitted as the installed baseline is, without the fold's runs)."""
    from sklearn.model_selection import KFold

    from jwst_memest.profile.fit import _fit_and_predict, settings_of, step_targets_of

    settings = [s.changed() for s in settings_of(table)]
    names = sorted({name for s in settings for name in s if name != "in_memory"})
    if not names:
        return []
    peaks = step_targets_of(table)
    estimates = np.empty_like(measured)
    for fit_rows, held in KFold(6, shuffle=True, random_state=0).split(X):
        estimates[held] = _fit_and_predict(X[fit_rows], measured[fit_rows], X[held], baseline,
                                           [peaks[i] for i in fit_rows])
    factor = baseline.upper_bound.factor(0.95)
    lines = ["", "Each setting that changes memory (runs that exited with an error are not labels and are left "
             "out), its runs estimated out of fold (6 folds):", "",
             "| setting | runs | median abs % error | worst abs % error | above the bound (x"
             f"{factor:.3f} + {baseline.margin_bytes / 1e6:.1f} MB) |", "|---|---|---|---|---|"]
    for name in names:
        rows = np.array([name in s for s in settings])
        error = 100 * np.abs(estimates[rows] / measured[rows] - 1)
        above = measured[rows] > estimates[rows] * factor + baseline.margin_gb
        lines.append(f"| {name} | {int(rows.sum())} | {np.median(error):.1f} | {error.max():.1f} | {int(above.sum())} |")
    return lines


# Published figures of real calwebb_image3 runs, beside the installed baseline's estimate of a product of
# that size: a sanity check of the scale, not a label (the published runs' layouts are not known).
PUBLISHED = [
    # 972 NIRCam SW cal files are ~114 GB: the size given. The mosaic is not given; a context array of
    # 31 int32 planes that is most of 50 GB covers ~4e8 pixels, which 60" tile steps give; 120" steps
    # give a mosaic three times larger
    ("jwst PR #8683: 972 members on disk (~100 GB input), jwst 1.16, memray peak 50 GB (context array)",
     ExposureLayout(detectors=NIRCAM_SW_DETECTORS[:4], mosaic_tiles=(9, 9), tile_step_arcsec=60.0, dither_points=3),
     False, 50.0),
    ("the same, on a mosaic three times larger",
     ExposureLayout(detectors=NIRCAM_SW_DETECTORS[:4], mosaic_tiles=(9, 9), tile_step_arcsec=120.0, dither_points=3),
     False, 50.0),
    ("jwst #6702: 32 NIRCam images, outlier grid 4684 x 9932, jwst 1.4: outlier_detection ~15 GB",
     ExposureLayout(detectors=NIRCAM_SW_DETECTORS[:4], mosaic_tiles=(1, 2), tile_step_arcsec=150.0, dither_points=4),
     True, 15.0),
]


def _published_scale_section(baseline) -> list[str]:
    lines = ["", "At published scales (what-if, not a measurement: the layouts are guesses of the same size):", "",
             "| published | layout estimated | members | output pixels | in_memory | estimate GB | published GB |",
             "|---|---|---|---|---|---|---|"]
    for text, layout, in_memory, published in PUBLISHED:
        x = _features(layout, "image3", in_memory)[None, :]
        names = baseline.feature_names
        members, pixels = int(x[0, names.index("n_members")]), x[0, names.index("output_pixels")]
        lines.append(f"| {text} | {layout.mosaic_tiles[0]}x{layout.mosaic_tiles[1]} tiles x {layout.dither_points} "
                     f"dithers x {len(layout.detectors)} detectors | {members} | {pixels:.3g} | {in_memory} | "
                     f"{baseline.predict(x)[0]:.1f} | {published:g} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="image3", choices=sorted(PIPELINES))
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/image3.csv"], help="corpus CSV(s), pooled")
    parser.add_argument("--unfitted", nargs="*", default=[],
                        help="corpus CSV(s) the installed baseline was not fitted on: every new configuration "
                             "of them is held out")
    parser.add_argument("--bundle", nargs="*", default=[], help="more model bundles to compare")
    parser.add_argument("--peer-python", help="python of an environment with spacekit installed")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--no-retrain", action="store_true", help="skip retraining the seed's architecture")
    parser.add_argument("--out", help="Markdown file (default benchmarks/results/accuracy-<pipeline>.md)")
    args = parser.parse_args(argv)
    pipeline = args.pipeline
    corpus = [c for c in args.corpus if c not in args.unfitted]
    X, measured, split, table = load_measured(corpus, pipeline)
    if args.unfitted:
        X_new, measured_new, _, table_new = load_measured(args.unfitted, pipeline)
        # a run made again (same configuration, same run id) is not a new configuration
        new = ~table_new["run_id"].isin(table["run_id"]).to_numpy()
        X_new, measured_new, table_new = X_new[new], measured_new[new], table_new[new].reset_index(drop=True)
        X, measured = np.vstack([X, X_new]), np.concatenate([measured, measured_new])
        split = np.concatenate([split, np.full(len(measured_new), "test")])
        table = pd.concat([table, table_new], ignore_index=True)
    test = split == "test"
    default = resolve_estimator(pipeline)
    baseline = load_baseline(pipeline)
    if default.kind == baseline.kind:
        estimators = {f"jwst_memest default: physics baseline ({baseline.name} {baseline.version})": baseline}
    else:
        estimators = {f"jwst_memest default ({default.name} {default.version})": default, "physics baseline": baseline}
    for path in args.bundle:
        bundle = load_bundle(path)
        sizes = "-".join(str(layer.bias.size) for layer in bundle.layers[:-1])
        estimators[f"bundle {Path(path).name} (MLP {sizes}, trained {bundle.version})"] = bundle
    if not args.no_retrain and pipeline in ("image3", "spec3"):  # the seed architectures exist for these two
        try:
            estimators["seed architecture retrained on the same split"] = _retrained_seed(
                [Path(c) for c in args.corpus], pipeline, args.epochs)
        except ImportError as exc:  # the train extra is not installed
            print(f"retrained seed skipped: {exc}", file=sys.stderr)
    rows = {}
    for label, estimator in estimators.items():
        gb, upper = estimator.estimate(X[test], 0.95)
        rows[label] = held_out_metrics(measured[test], gb, upper)
    peer_beyond = None
    if args.peer_python:
        try:
            layouts = [_layout_from_json(text) for text in table["layout"][test]]
            gb = _spacekit_estimates(layouts, args.peer_python)
            rows["spacekit pretrained (no upper bound)"] = held_out_metrics(measured[test], gb, gb)
            if pipeline == "image3":
                peer_beyond = _spacekit_estimates(list(BEYOND_CORPUS.values()), args.peer_python)
        except RuntimeError as exc:
            print(f"spacekit skipped: {exc}", file=sys.stderr)
    corpus_names = " + ".join(corpus)
    unfitted = (f" plus every new configuration of {' + '.join(args.unfitted)}, measured after the installed "
                "baseline was fitted" if args.unfitted else "")
    lines = [f"Held-out runs: {int(test.sum())} of {len(measured)} measured calwebb_{pipeline} runs ({corpus_names}"
             f"{unfitted}); GB = 10^9 bytes; request = upper bound at q=0.95.", "",
             "| estimator | median abs % error | p90 abs % error | RMSE (GB) | estimate below peak | request below peak |",
             "|---|---|---|---|---|---|"]
    for label, m in rows.items():
        lines.append(f"| {label} | {m['median_abs_pct_error']:.1f} | {m['p90_abs_pct_error']:.1f} | {m['rmse_gb']:.3f} | "
                     f"{100 * m['under_estimate_fraction']:.0f} % | {100 * m['upper_exceeded_fraction']:.0f} % |")
    lines += ["", "Per exposure type, the default estimator on the held-out runs (bound at q=0.95, per-mode calibration "
              "where the mode has enough runs):", "",
              "| exposure type | held-out runs | median abs % error | p90 abs % error | request below peak | "
              "worst excess over the request |", "|---|---|---|---|---|---|"]
    modes = table["exp_type"].astype(str).to_numpy()
    for mode in sorted(set(modes[test])):
        rows_of_mode = test & (modes == mode)
        gb, upper = default.estimate(X[rows_of_mode], 0.95)
        m = held_out_metrics(measured[rows_of_mode], gb, upper)
        lines.append(f"| {mode} | {m['n_rows']} | {m['median_abs_pct_error']:.1f} | {m['p90_abs_pct_error']:.1f} | "
                     f"{100 * m['upper_exceeded_fraction']:.0f} % | {m['max_pct_above_upper']:.1f} % |")
    step_peaks = step_peaks_of(table)
    recorded = np.array([bool(peaks) for peaks in step_peaks], dtype=bool)
    held_rows = np.flatnonzero(test & recorded)
    lines += _peak_step_section(held_rows, baseline.breakdown(X[held_rows]) if len(held_rows) else [], step_peaks,
                                table, "held-out runs (installed baseline)")
    if pipeline in TERMS and baseline.terms == pipeline and recorded.sum() >= 10:
        all_rows = np.flatnonzero(recorded)
        predicted_oof = _out_of_fold_breakdowns(X, measured, split, table, baseline, all_rows)
        lines += _peak_step_section(all_rows, predicted_oof, step_peaks, table,
                                    "runs, each out of fold (6 folds; each fold's baseline fitted as the installed "
                                    "one, without that fold's runs)")
    lines += _extrapolation_section(X, measured, table, baseline)
    if pipeline == "image3":
        lines += _settings_section(X, measured, table, baseline)
    if pipeline == "image3":
        lines += _published_scale_section(baseline)
        names = list(estimators) + (["spacekit pretrained"] if peer_beyond is not None else [])
        lines += ["", f"Beyond the corpus (largest measured run: {measured.max():.2f} GB): estimates in GB, in_memory=True, "
                  "no measurement.", "", "| product | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for i, (label, layout) in enumerate(BEYOND_CORPUS.items()):
            x = _features(layout, pipeline)[None, :]
            values = [f"{estimator.predict(x)[0]:.1f}" for estimator in estimators.values()]
            if peer_beyond is not None:
                values.append(f"{peer_beyond[i]:.1f}")
            lines.append(f"| {label} | " + " | ".join(values) + " |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out or f"benchmarks/results/accuracy-{pipeline}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
