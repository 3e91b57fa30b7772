"""Accuracy on the held-out part of the measured corpus, side by side.

    python benchmarks/accuracy.py [--corpus data/corpus/image3*.csv] [--peer-python PY] [--epochs 300]

Compares: the installed default estimator, the physics baseline, the seed's architecture
retrained through jwst_memest.training on the same training split, and spacekit's pretrained
model (run on header-only exposures rebuilt from each held-out run's layout, when an
interpreter with spacekit is given). Under-prediction matters most: a job sized too small is
killed after hours, so the table reports how often the memory request (the upper bound; the
bare estimate for spacekit, which has none) was below the measured peak.
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

from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.model.baseline import load_baseline
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.registry import resolve_estimator
from jwst_memest.profile.fit import load_measured


def _spacekit_estimates(table, python: str) -> np.ndarray:
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
    fields = {f.name for f in dataclasses.fields(ExposureLayout)}
    folders = []
    root = Path(tempfile.mkdtemp())
    for i, layout_json in enumerate(table["layout"]):
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(layout_json).items() if k in fields}
        folder = root / f"run{i}"
        write_header_exposures(ExposureLayout(**params), folder)
        folders.append(str(folder))
    result = subprocess.run([python, "-c", script, *folders], capture_output=True, text=True, cwd=tempfile.mkdtemp())
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "spacekit failed")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return np.array([max(found[f]) if found[f] else np.nan for f in folders])


def _retrained_seed(corpus: list[Path], epochs: int):
    from jwst_memest.model.bundle import load_bundle
    from jwst_memest.training import JwstCalTrain

    out = Path(tempfile.mkdtemp())
    trainer = JwstCalTrain(training_data=corpus, out=out, exp_mode="image", epochs=epochs, early_stopping="val_loss",
                           patience=40, learning_rate=1e-3)
    return load_bundle(trainer.main(stratify=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/image3.csv"], help="corpus CSV(s), pooled")
    parser.add_argument("--peer-python", help="python of an environment with spacekit installed")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/results/accuracy.md")
    args = parser.parse_args(argv)
    X, measured, split, table = load_measured(args.corpus)
    test = split == "test"
    rows = {}
    default = resolve_estimator("image3")
    for label, estimator in (("jwst_memest default (" + default.name + ")", default),
                             ("physics baseline", load_baseline("image3"))):
        gb, upper = estimator.estimate(X[test], 0.95)
        rows[label] = held_out_metrics(measured[test], gb, upper)
    try:
        seed_bundle = _retrained_seed([Path(c) for c in args.corpus], args.epochs)
        gb, upper = seed_bundle.estimate(X[test], 0.95)
        rows["seed architecture retrained on the same split"] = held_out_metrics(measured[test], gb, upper)
    except ImportError as exc:  # the train extra is not installed
        print(f"retrained seed skipped: {exc}", file=sys.stderr)
    if args.peer_python:
        try:
            gb = _spacekit_estimates(table[test], args.peer_python)
            rows["spacekit pretrained (no upper bound)"] = held_out_metrics(measured[test], gb, gb)
        except RuntimeError as exc:
            print(f"spacekit skipped: {exc}", file=sys.stderr)
    lines = [f"Held-out runs: {int(test.sum())} of {len(measured)} measured calwebb_image3 runs ({' + '.join(args.corpus)}); "
             "GB = 10^9 bytes; request = upper bound at q=0.95.", "",
             "| estimator | median abs % error | p90 abs % error | RMSE (GB) | estimate below peak | request below peak |",
             "|---|---|---|---|---|---|"]
    for label, m in rows.items():
        lines.append(f"| {label} | {m['median_abs_pct_error']:.1f} | {m['p90_abs_pct_error']:.1f} | {m['rmse_gb']:.3f} | "
                     f"{100 * m['under_estimate_fraction']:.0f} % | {100 * m['upper_exceeded_fraction']:.0f} % |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
