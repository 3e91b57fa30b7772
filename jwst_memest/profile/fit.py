"""Refit the physics baseline's coefficients (image3 or spec3) on the measured corpus.

Bounded least squares on relative residuals over the training split (the model
has a max() of branches, so a linear solver does not fit it), an upper bound
calibrated on the held-out split, and baseline.yaml rewritten atomically.
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
from jwst_memest.model.metrics import held_out_metrics
from jwst_memest.model.upper import UpperBound

__all__ = ["load_measured", "fit_baseline", "main"]

IMAGE3_TERMS = ("base_bytes", "bytes_per_member_pixel", "resample_in", "resample_out",
                "outlier_in", "outlier_out", "median_per_group", "catalog_out")
TERMS = {"image3": IMAGE3_TERMS, "spec3": ("base_bytes", "ifu_bytes", "spec_per_member_pixel", "spec_out")}


def load_measured(corpus, pipeline: str = "image3"):
    """Encoded features, measured GB, split ("train"/"test") and table of the successful runs of corpus CSVs.

    Read by the training module's reader, so the features are encoded exactly as for training
    (category columns as names: CHANNEL "12" is a channel, not code 12). Failed, skipped and
    other-pipeline rows are left out: only a finished run has a label.
    """
    from jwst_memest.training.datasets import EXP_MODE_PIPELINE, load_training_data

    exp_mode = {p: mode for mode, p in EXP_MODE_PIPELINE.items()}[pipeline]
    paths = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    data = load_training_data(paths, exp_mode, folds=None)
    if data.kind != "corpus":
        raise ValueError(f"{data.label}: not a measured corpus (no measured_gb and status columns)")
    split = np.where(data.test_split, "test", "train") if data.test_split is not None else np.full(len(data.y), "train")
    return data.X, data.y, split, data.table.reset_index()


def fit_baseline(X: np.ndarray, measured: np.ndarray, start: PhysicsBaseline) -> dict:
    """Non-negative coefficients minimising relative error (robust loss) on measured runs."""
    from scipy.optimize import least_squares

    terms = TERMS[start.feature_set]
    scale = np.array([start.coefficients[t] for t in terms], dtype=float)
    scale[scale == 0] = 1.0

    def residuals(theta):
        trial = PhysicsBaseline(start.pipeline, dict(zip(terms, theta * scale)), start.upper_bound, "fit")
        return (trial.predict(X) - measured) / measured

    fit = least_squares(residuals, np.ones(len(terms)), bounds=(0, np.inf), loss="soft_l1", f_scale=0.05)
    return {term: float(value) for term, value in zip(terms, fit.x * scale)}



def out_of_fold_estimates(X: np.ndarray, measured: np.ndarray, start: PhysicsBaseline, k: int = 5) -> np.ndarray:
    """Each run estimated by a baseline fitted without it: what the upper bound is calibrated on."""
    from sklearn.model_selection import KFold

    estimates = np.empty_like(measured)
    for fit_rows, held in KFold(min(k, len(measured)), shuffle=True, random_state=0).split(X):
        fold = PhysicsBaseline(start.pipeline, fit_baseline(X[fit_rows], measured[fit_rows], start), start.upper_bound, "")
        estimates[held] = fold.predict(X[held])
    return estimates


def _write_yaml_atomic(data: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write("# Coefficients of the physics baseline (bytes per pixel unless noted); written by\n")
        handle.write("# `python -m jwst_memest.profile fit-baseline`.\n")
        yaml.safe_dump(data, handle, sort_keys=False)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m jwst_memest.profile fit-baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, nargs="+", help="corpus CSV(s); their successful runs are pooled")
    parser.add_argument("--pipeline", default="image3", choices=sorted(TERMS))
    parser.add_argument("--output", help="baseline YAML to write (default: the package's baseline.yaml)")
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
    start = load_baseline(args.pipeline)
    coefficients = fit_baseline(X[train], measured[train], start)
    fitted = PhysicsBaseline(args.pipeline, coefficients, start.upper_bound, start.version)
    estimated = fitted.predict(X[test])
    calibration = out_of_fold_estimates(X[train], measured[train], start)
    bound = UpperBound.from_measurements(
        measured[train], calibration,
        source=f"5-fold out-of-fold estimates of the {int(train.sum())} training runs of {corpus_names}")
    metrics = held_out_metrics(measured[test], estimated, estimated * bound.factor(0.95))
    before = held_out_metrics(measured[test], start.predict(X[test]), start.estimate(X[test], 0.95)[1])
    print("coefficients:", {k: round(v, 3) for k, v in coefficients.items()})
    print("held-out, refitted:", {k: round(v, 4) for k, v in metrics.items()})
    print("held-out, previous:", {k: round(v, 4) for k, v in before.items()})
    if args.dry_run:
        return 0
    path = Path(args.output) if args.output else Path(str(resources.files("jwst_memest.model").joinpath("baseline.yaml")))
    data = yaml.safe_load(path.read_text()) if path.is_file() else {"version": "1", "pipelines": {}}
    data["version"] = str(int(float(data.get("version", 1))) + 1)
    previous = data["pipelines"].get(args.pipeline, {})
    data["pipelines"][args.pipeline] = {
        "source": f"fitted to {int(train.sum())} measured calwebb_{args.pipeline} runs of {corpus_names} "
                  f"(jwst {_jwst_version()}); held-out metrics on {int(test.sum())} runs",
        "coefficients": {k: round(v, 4) for k, v in coefficients.items()},
        "upper_bound": bound.to_tree(),
        "held_out": {k: round(v, 4) for k, v in metrics.items()},
        # what the runs cover: the measured exposure types, plus notes kept from the previous file
        "coverage": {**previous.get("coverage", {}),
                     "exp_types": sorted(set(table["exp_type"].astype(str)))},
    }
    _write_yaml_atomic(data, path)
    print(f"wrote {path}")
    return 0


def _jwst_version() -> str:
    import jwst

    return jwst.__version__


if __name__ == "__main__":
    sys.exit(main())
