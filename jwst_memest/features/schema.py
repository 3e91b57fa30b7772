"""The feature schema: names, kinds, category encodings and order per pipeline.

Read from ``schema.yaml`` beside this module, the single definition shared by
the step, folder mode, ingest, profiling, training and model bundles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import yaml

from jwst_memest.pipelines import LEVEL3_PIPELINES, feature_set_for

__all__ = [
    "FeatureSchema",
    "FeatureSpec",
    "LEVEL3_PIPELINES",
    "load_schema",
    "feature_set_for",
]

UNKNOWN = 0


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: str  # category, flag, count or continuous
    categories: tuple[str, ...] = ()
    keyword: str | None = None
    unit: str | None = None
    doc: str = ""

    def encode(self, value) -> float:
        """Encode a raw value as a float; categories map to 1-based indices, 0 is unknown."""
        if self.kind == "category":
            if value is None:
                return float(UNKNOWN)
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                # already encoded (training tables store codes)
                code = float(value)
                return code if code.is_integer() and 0 <= code <= len(self.categories) else float(UNKNOWN)
            try:
                return float(self.categories.index(str(value).strip().upper()) + 1)
            except ValueError:
                return float(UNKNOWN)
        if self.kind == "flag":
            if isinstance(value, str):
                return 1.0 if value.strip().lower() in ("true", "t", "1", "yes") else 0.0
            return 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else float(bool(value))
        if value is None:
            return math.nan
        return float(value)

    def decode(self, code: float) -> str:
        """Category name of an encoded value ("UNKNOWN" for 0 or out of range)."""
        index = int(code)
        if 1 <= index <= len(self.categories):
            return self.categories[index - 1]
        return "UNKNOWN"

    def is_known(self, value) -> bool:
        return self.kind != "category" or self.encode(value) != UNKNOWN


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered features of one feature set (``image3`` or ``spec3``)."""

    name: str
    version: int
    features: tuple[FeatureSpec, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def encode(self, values: dict) -> np.ndarray:
        """One feature vector (float64, schema order) from a dict of raw values."""
        return np.array([f.encode(values.get(f.name)) for f in self.features], dtype=np.float64)

    def encode_many(self, rows) -> np.ndarray:
        rows = list(rows)
        if not rows:
            return np.empty((0, len(self)), dtype=np.float64)
        return np.vstack([self.encode(row) for row in rows])

    def to_tree(self) -> dict:
        """Plain tree stored in model bundles so they can be checked against this schema."""
        return {
            "feature_set": self.name,
            "schema_version": self.version,
            "features": [
                {"name": f.name, "kind": f.kind, "categories": list(f.categories)}
                for f in self.features
            ],
        }


@cache
def _raw_schema() -> dict:
    text = resources.files(__package__).joinpath("schema.yaml").read_text()
    return yaml.safe_load(text)


def load_schema(pipeline: str = "image3") -> FeatureSchema:
    """The feature schema for a Level-3 pipeline (coron3 and ami3 share image3's, tso3 spec3's)."""
    return _load_feature_set(feature_set_for(pipeline))


@cache
def _load_feature_set(feature_set: str) -> FeatureSchema:
    raw = _raw_schema()
    specs = []
    for name in raw["pipelines"][feature_set]["features"]:
        entry = raw["features"][name]
        specs.append(
            FeatureSpec(
                name=name,
                kind=entry["kind"],
                categories=tuple(str(c) for c in entry.get("categories", ())),
                keyword=entry.get("keyword"),
                unit=entry.get("unit"),
                doc=entry.get("doc", ""),
            )
        )
    return FeatureSchema(name=feature_set, version=int(raw["schema_version"]), features=tuple(specs))
