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
    "load_feature_set",
    "feature_set_for",
    "feature_set_names",
    "spacekit_geometry",
]

UNKNOWN = 0


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of a feature set: its name, kind and encoding.

    Parameters
    ----------
    name : str
        The feature's name.
    kind : str
        ``category``, ``flag``, ``count`` or ``continuous``.
    categories : tuple of str, optional
        A category feature's values (upper case), in encoding order.
    keyword : str or None, optional
        The header keyword it comes from, if one.
    unit : str or None, optional
        Its unit, if any.
    doc : str, optional
        What it is.
    codes : tuple of float, optional
        Explicit codes, one per category (several categories may share one): a category then
        encodes as its code and an unlisted value as ``unknown_code``, instead of 1-based index and 0.
    """
    name: str
    kind: str  # category, flag, count or continuous
    categories: tuple[str, ...] = ()
    keyword: str | None = None
    unit: str | None = None
    doc: str = ""
    # Explicit codes, one per category (several categories may share one): a category then encodes
    # as its code and an unlisted value as ``unknown_code``, instead of 1-based index and 0.
    codes: tuple[float, ...] = ()

    @property
    def unknown_code(self) -> float:
        """Code of a value not among the categories: 0, or with explicit codes the one after the largest.

        Returns
        -------
        float
            The code.
        """
        return float(max(self.codes) + 1) if self.codes else float(UNKNOWN)

    def encode(self, value) -> float:
        """Encode a raw value as a float.

        Categories map to 1-based indices (or their codes), anything else to the unknown code; a
        number given for a category is taken as already encoded. Flags are 0 or 1; counts and
        continuous values are floats (NaN for None).

        Parameters
        ----------
        value : object
            The raw value.

        Returns
        -------
        float
            The encoded value.
        """
        if self.kind == "category" and self.codes:
            return self._encode_coded(value)
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

    def _encode_coded(self, value) -> float:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            # already encoded (spacekit's training tables store codes); NaN is a missing value
            code = float(value)
            if math.isnan(code):
                value = None
            else:
                return code if code in self.codes or code == self.unknown_code else self.unknown_code
        if value is None:
            # a missing value is spacekit's NONE where it has one
            value = "NONE"
        try:
            return float(self.codes[self.categories.index(str(value).strip().upper())])
        except ValueError:
            return self.unknown_code

    def decode(self, code: float) -> str:
        """Category name of an encoded value ("UNKNOWN" for 0 or out of range).

        Parameters
        ----------
        code : float
            The encoded value.

        Returns
        -------
        str
            The category's name.
        """
        if self.codes:
            matches = [name for name, c in zip(self.categories, self.codes) if c == code]
            return matches[0] if matches else "UNKNOWN"
        index = int(code)
        if 1 <= index <= len(self.categories):
            return self.categories[index - 1]
        return "UNKNOWN"

    def is_known(self, value) -> bool:
        """Whether a value is one of the categories (always True for other kinds).

        Parameters
        ----------
        value : object
            The raw value.

        Returns
        -------
        bool
            False when a category feature would encode it as unknown.
        """
        return self.kind != "category" or self.encode(value) != self.unknown_code


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered features of one feature set (``image3``, ``spec3`` or spacekit's).

    Parameters
    ----------
    name : str
        The feature set's name.
    version : int
        The schema's version.
    features : tuple of FeatureSpec
        The features, in vector order.
    pipeline : str, optional
        The Level-3 pipeline whose products it describes (image3 or spec3).
    pointing : str, optional
        spacekit sets: the members' pointing keywords (``CRVAL``: CRVAL1/2, ``RA_REF``: RA_REF/DEC_REF).
    """

    name: str
    version: int
    features: tuple[FeatureSpec, ...]
    pipeline: str = ""  # the Level-3 pipeline whose products it describes (image3 or spec3)
    pointing: str = ""  # spacekit sets: the members' pointing keywords (CRVAL: CRVAL1/2, RA_REF: RA_REF/DEC_REF)

    @property
    def names(self) -> list[str]:
        """The feature names, in vector order.

        Returns
        -------
        list of str
            The names.
        """
        return [f.name for f in self.features]

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def encode(self, values: dict) -> np.ndarray:
        """One feature vector (float64, schema order) from a dict of raw values.

        Parameters
        ----------
        values : dict
            Raw values by feature name; an absent one encodes as None would.

        Returns
        -------
        numpy.ndarray
            The vector.
        """
        return np.array([f.encode(values.get(f.name)) for f in self.features], dtype=np.float64)

    def encode_many(self, rows) -> np.ndarray:
        """Feature vectors of several rows of raw values.

        Parameters
        ----------
        rows : iterable of dict
            Raw values by feature name, one dict per row.

        Returns
        -------
        numpy.ndarray
            One row per input row (float64; shape ``(0, n_features)`` for no rows).
        """
        rows = list(rows)
        if not rows:
            return np.empty((0, len(self)), dtype=np.float64)
        return np.vstack([self.encode(row) for row in rows])

    def to_tree(self) -> dict:
        """Plain tree stored in model bundles so they can be checked against this schema.

        Returns
        -------
        dict
            ``feature_set``, ``schema_version`` and each feature's name, kind, categories (and codes).
        """
        return {
            "feature_set": self.name,
            "schema_version": self.version,
            "features": [
                {"name": f.name, "kind": f.kind, "categories": list(f.categories),
                 **({"codes": [float(c) for c in f.codes]} if f.codes else {})}
                for f in self.features
            ],
        }


@cache
def _raw_schema() -> dict:
    text = resources.files(__package__).joinpath("schema.yaml").read_text()
    # libyaml's safe loader where PyYAML has it: the same values, several times faster on a cold estimate
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_schema(pipeline: str = "image3") -> FeatureSchema:
    """The feature schema for a Level-3 pipeline (coron3 and ami3 share image3's, tso3 spec3's).

    Parameters
    ----------
    pipeline : str, optional
        A pipeline's key or class alias.

    Returns
    -------
    FeatureSchema
        Its feature set.

    Raises
    ------
    ValueError
        When ``pipeline`` is not a Level-3 pipeline.
    """
    return load_feature_set(feature_set_for(pipeline))


def feature_set_names() -> list[str]:
    """Every feature set the schema defines: each pipeline's own, then the others (spacekit's).

    Returns
    -------
    list of str
        The names.
    """
    raw = _raw_schema()
    return [*raw["pipelines"], *raw.get("feature_sets", {})]


def spacekit_geometry() -> dict:
    """Pixel scales and detector shapes spacekit measures offsets with (schema.yaml's ``spacekit_geometry``).

    Returns
    -------
    dict
        The ``spacekit_geometry`` entry of the schema.
    """
    return _raw_schema()["spacekit_geometry"]


@cache
def load_feature_set(feature_set: str) -> FeatureSchema:
    """A feature set by name: ``image3``, ``spec3``, ``spacekit_image`` or ``spacekit_spec``.

    Parameters
    ----------
    feature_set : str
        Its name.

    Returns
    -------
    FeatureSchema
        The feature set.

    Raises
    ------
    ValueError
        When the schema defines no such feature set.
    """
    raw = _raw_schema()
    if feature_set in raw["pipelines"]:
        entry, definitions, pipeline = raw["pipelines"][feature_set], raw["features"], feature_set
    elif feature_set in raw.get("feature_sets", {}):
        entry = raw["feature_sets"][feature_set]
        definitions, pipeline = raw[entry["definitions"]], entry["pipeline"]
    else:
        raise ValueError(f"unknown feature set {feature_set!r}; expected one of {', '.join(feature_set_names())}")
    specs = []
    for name in entry["features"]:
        definition = definitions[name]
        coded = definition.get("codes", {})
        specs.append(
            FeatureSpec(
                name=name,
                kind=definition["kind"],
                categories=tuple(str(c) for c in (coded or definition.get("categories", ()))),
                keyword=definition.get("keyword"),
                unit=definition.get("unit"),
                doc=definition.get("doc", ""),
                codes=tuple(float(c) for c in coded.values()),
            )
        )
    return FeatureSchema(name=feature_set, version=int(raw["schema_version"]), features=tuple(specs),
                         pipeline=pipeline, pointing=str(entry.get("pointing", "")))
