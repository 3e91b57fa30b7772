"""Training tables: the seed's train-<mode>.csv, or the measured-runs corpus."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jwst_memest.features.schema import load_schema

log = logging.getLogger("jwst_memest.training")

__all__ = ["TrainingData", "load_training_data", "EXP_MODE_PIPELINE", "TARGET"]

EXP_MODE_PIPELINE = {"image": "image3", "spec": "spec3"}
TARGET = "imgsize_gb"


@dataclass
class TrainingData:
    path: Path
    pipeline: str
    table: "object"  # pandas DataFrame, index = dataset / product name
    X: np.ndarray
    y: np.ndarray
    sha256: str
    test_split: np.ndarray | None = None  # fixed held-out rows (corpus), if any

    @property
    def names(self) -> list[str]:
        return load_schema(self.pipeline).names


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_training_data(source: str | Path, exp_mode: str = "image", min_rows: int = 2) -> TrainingData:
    """Read a training table; one-line ValueError naming the file and the problem."""
    import pandas as pd

    if exp_mode not in EXP_MODE_PIPELINE:
        raise ValueError(f"unknown exp mode {exp_mode!r}; expected one of {', '.join(EXP_MODE_PIPELINE)}")
    pipeline = EXP_MODE_PIPELINE[exp_mode]
    path = Path(source)
    if path.is_dir():
        path = path / f"train-{exp_mode}.csv"
    if not path.is_file():
        raise ValueError(f"{path}: training data not found")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    names = load_schema(pipeline).names
    test_split = None
    if "measured_gb" in table.columns and "status" in table.columns:  # the measured-runs corpus
        table = table[(table["status"] == "ok") & (table.get("pipeline", pipeline) == pipeline)].copy()
        table[TARGET] = table["measured_gb"]
        table = table.set_index("run_id" if "run_id" in table.columns else table.columns[0])
        if "split" in table.columns:
            test_split = (table["split"] == "test").to_numpy()
    else:
        missing = [c for c in ("Dataset", TARGET) if c not in table.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
        table = table.set_index("Dataset")
        if "pname" in table.columns:
            before = len(table)
            order = table["date"] if "date" in table.columns else pd.Series(range(len(table)), index=table.index)
            table = table.assign(_order=order).sort_values("_order").drop_duplicates("pname", keep="last")
            table = table.drop(columns="_order")
            if before != len(table):
                log.info("%s: dropped %d duplicate product(s) by pname, keeping the latest", path, before - len(table))
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing feature column(s) {', '.join(missing)}")
    y = pd.to_numeric(table[TARGET], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{path}: {int((~np.isfinite(y)).sum())} row(s) with a missing or NaN target {TARGET}")
    if np.any(y <= 0):
        raise ValueError(f"{path}: {int((y <= 0).sum())} row(s) with a non-positive target {TARGET}")
    if len(table) < min_rows:
        raise ValueError(f"{path}: {len(table)} row(s), at least {min_rows} needed")
    X = load_schema(pipeline).encode_many(table[names].to_dict("records"))
    X = np.nan_to_num(X, nan=0.0)
    return TrainingData(path, pipeline, table, X, y, _digest(path), test_split)
