"""What every estimator of peak memory offers: the physics baseline and the model bundles alike."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from jwst_memest.model.upper import UpperBound

__all__ = ["MemoryEstimator"]


@runtime_checkable
class MemoryEstimator(Protocol):
    """An estimator the step, folder mode and the benchmarks can use.

    Rows of ``X`` are a product's features in the order of the estimator's feature set (the
    pipeline's own, or a model's such as spacekit's). Its attributes: ``name``, ``version``,
    ``kind`` (``physics_baseline``, ``mlp`` or ``hybrid``), ``pipeline``, ``feature_set``,
    ``checksum`` (identifies the exact coefficients or weights used) and ``upper_bound``.
    """

    name: str
    version: str
    kind: str  # "physics_baseline", "mlp" or "hybrid"
    pipeline: str
    feature_set: str
    checksum: str  # identifies the exact coefficients or weights used
    upper_bound: UpperBound

    @property
    def feature_names(self) -> list[str]:
        """The feature names, in vector order.

        Returns
        -------
        list of str
            The names.
        """

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Peak memory (GB) per row.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product.

        Returns
        -------
        numpy.ndarray
            GB per row.
        """

    def estimate(self, X: np.ndarray, quantile: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Peak memory (GB) and its upper bound at ``quantile``, per row.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product.
        quantile : float, optional
            The quantile of the upper bound.

        Returns
        -------
        gb : numpy.ndarray
            Estimates, GB.
        upper : numpy.ndarray
            Upper bounds, GB.
        """
