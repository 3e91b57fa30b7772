"""Physics baseline: peak memory from what the Level-3 pipelines allocate.

Usable with no trained model. Terms, with Npix_in the pixels of one member
image, Npix_out the output mosaic pixels, N the members and G the exposure
groups (outlier detection's median cube has one plane per group):

image3:  base + in_memory * N * b_file * Npix_in
              + max(a_res * Npix_in + b_res * Npix_out,                 (final resample)
                    a_out * Npix_in + b_out * Npix_out + c_med * G * Npix_out,  (outlier median)
                    b_cat * Npix_out)                                    (source_catalog over the i2d)
spec3:   base + ifu * (IFU modes) + N * b_spec * member_bytes / 28 + b_out * Npix_out
         (IFU outlier detection works on the whole IFU image set at once: a large fixed cost
         that slit modes do not pay)

Coefficients live in ``baseline.yaml`` beside this module, refitted from the
measured corpus by ``python -m jwst_memest.profile fit-baseline``.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

import numpy as np
import yaml

from jwst_memest.features.schema import feature_set_for, load_schema
from jwst_memest.model.upper import UpperBound

__all__ = ["PhysicsBaseline", "load_baseline", "GIB", "GB"]

IFU_EXP_TYPES = ("MIR_MRS", "NRS_IFU")
GIB = 2.0**30
GB = 1e9


class PhysicsBaseline:
    """Estimator from physical terms; same interface as a model bundle."""

    kind = "physics_baseline"

    def __init__(self, pipeline: str, coefficients: dict, upper_bound: UpperBound, version: str, source: str = "",
                 coverage: dict | None = None):
        self.pipeline = pipeline.lower().removeprefix("calwebb_")
        self.feature_set = feature_set_for(self.pipeline)
        self.coefficients = dict(coefficients)
        self.upper_bound = upper_bound
        self.version = version
        self.name = f"physics_baseline_{self.pipeline}"
        self.source = source
        self.schema = load_schema(self.feature_set)
        # identifies the exact coefficients and bound used, as a bundle's checksum does
        self.checksum = hashlib.sha256(json.dumps(
            [self.pipeline, self.coefficients, upper_bound.to_tree(), version], sort_keys=True).encode()).hexdigest()
        self._ifu_codes = [self.schema["exp_type"].encode(t) for t in IFU_EXP_TYPES]
        self.coverage = dict(coverage or {})

    @property
    def feature_names(self) -> list[str]:
        return self.schema.names

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Peak memory in GB (10^9 bytes) for each row of encoded features."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        col = {name: X[:, i] for i, name in enumerate(self.schema.names)}
        c = self.coefficients
        n = col["n_members"]
        npix_in = col["member_pixels"]
        npix_out = np.nan_to_num(col["output_pixels"], nan=0.0)
        in_memory = col["in_memory"]
        if self.feature_set == "image3":
            ints = np.maximum(col["n_integrations"], 1)
            per_file = in_memory * n * c["bytes_per_member_pixel"] * npix_in * ints
            resample = c["resample_in"] * npix_in + c["resample_out"] * npix_out
            outlier = (
                c["outlier_in"] * npix_in
                + c["outlier_out"] * npix_out
                + c["median_per_group"] * col["n_exposure_groups"] * npix_out
            )
            catalog = c["catalog_out"] * npix_out
            peak = c["base_bytes"] + per_file + np.maximum(np.maximum(resample, outlier), catalog)
        else:
            per_member_pixels = col["member_bytes"] / 28.0
            ifu = np.isin(col["exp_type"], self._ifu_codes)
            peak = (
                c["base_bytes"]
                + c.get("ifu_bytes", 0.0) * ifu
                + c["spec_per_member_pixel"] * n * per_member_pixels
                + c["spec_out"] * npix_out
            )
        return peak / GB

    def coverage_warnings(self, X: np.ndarray) -> list[list[str]]:
        """Per row, what the measured runs behind the coefficients do not cover.

        The coefficients are fitted to one feature set's runs (image3 or spec3) of the
        exposure types listed in baseline.yaml; anything else is an extrapolation.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        exp_type = self.schema["exp_type"]
        measured = self.coverage.get("exp_types", [])
        notes = self.coverage.get("notes", {})
        rows = []
        for code in X[:, self.schema.names.index("exp_type")]:
            name = exp_type.decode(code)
            found = []
            if self.pipeline != self.feature_set:
                found.append(f"no measured calwebb_{self.pipeline} runs: estimated with the calwebb_{self.feature_set} terms")
            if name not in measured:
                found.append(f"no measured runs of {name}: estimate extrapolated from {', '.join(measured) or 'none'}")
            if name in notes:
                found.append(notes[name])
            rows.append(found)
        return rows

    def estimate(self, X: np.ndarray, quantile: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        gb = self.predict(X)
        return gb, gb * self.upper_bound.factor(quantile)


@cache
def _coefficients_file() -> dict:
    return yaml.safe_load(resources.files(__package__).joinpath("baseline.yaml").read_text())


def load_baseline(pipeline: str = "image3") -> PhysicsBaseline:
    """The physics baseline for a Level-3 pipeline, with its calibrated upper bound."""
    raw = _coefficients_file()
    feature_set = feature_set_for(pipeline)
    entry = raw["pipelines"][feature_set]
    return PhysicsBaseline(
        pipeline,
        entry["coefficients"],
        UpperBound.from_tree(entry["upper_bound"]),
        version=str(raw["version"]),
        source=entry.get("source", ""),
        coverage=entry.get("coverage"),
    )
