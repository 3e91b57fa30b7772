"""Calibrated upper bounds: multiply an estimate by a quantile of measured/estimated.

Calibrated on held-out measured runs, so that a bound at quantile q exceeds
the measured peak for a share q of products like those it was calibrated on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["UpperBound", "DEFAULT_QUANTILES"]

DEFAULT_QUANTILES = (0.5, 0.8, 0.9, 0.95, 0.99, 1.0)


@dataclass(frozen=True)
class UpperBound:
    """Factors (>= 1 by construction) applied to an estimate, per quantile.

    Parameters
    ----------
    quantiles : tuple of float
        Increasing quantiles within (0, 1].
    factors : tuple of float
        The factor at each quantile.
    n_rows : int
        The rows the factors were calibrated on (0: not calibrated).
    source : str, optional
        What they were calibrated on.
    method : str, optional
        How (``ratio_quantiles``).

    Raises
    ------
    ValueError
        When the quantiles and factors differ in number, are not finite, the quantiles do not
        increase within (0, 1] or a factor is not positive.
    """

    quantiles: tuple[float, ...]
    factors: tuple[float, ...]
    n_rows: int
    source: str = ""
    method: str = "ratio_quantiles"

    def __post_init__(self):
        q, f = np.asarray(self.quantiles, float), np.asarray(self.factors, float)
        if q.shape != f.shape or q.size == 0:
            raise ValueError("upper bound needs as many factors as quantiles, at least one")
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(f))):
            raise ValueError("upper bound quantiles and factors must be finite")
        if np.any(np.diff(q) <= 0) or q[0] <= 0 or q[-1] > 1:
            raise ValueError("upper bound quantiles must increase within (0, 1]")
        if np.any(f <= 0):
            raise ValueError("upper bound factors must be positive")

    def factor(self, quantile: float) -> float:
        """Factor for a quantile, interpolated; quantiles beyond the table use its last factor.

        Parameters
        ----------
        quantile : float
            In (0, 1].

        Returns
        -------
        float
            The factor.

        Raises
        ------
        ValueError
            When ``quantile`` is outside (0, 1].
        """
        if not 0 < quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {quantile}")
        return float(np.interp(quantile, self.quantiles, self.factors))

    @classmethod
    def from_measurements(cls, measured, estimated, quantiles=DEFAULT_QUANTILES, source: str = "") -> "UpperBound":
        """Calibrate on measured peaks and the estimates made for them (held-out rows).

        Split-conformal: with n rows, the factor at q is the ceil((n+1)q)-th smallest
        measured/estimated ratio, never below 1 and increasing with q.

        Parameters
        ----------
        measured : array_like
            Measured peaks.
        estimated : array_like
            The estimates made for them.
        quantiles : sequence of float, optional
            The quantiles to calibrate.
        source : str, optional
            What it is calibrated on.

        Returns
        -------
        UpperBound
            The calibrated bound.

        Raises
        ------
        ValueError
            When no row has a finite, positive estimate.
        """
        measured = np.asarray(measured, float)
        estimated = np.asarray(estimated, float)
        ok = np.isfinite(measured) & np.isfinite(estimated) & (estimated > 0)
        if not ok.any():
            raise ValueError("no finite, positive estimates to calibrate an upper bound on")
        ratio = measured[ok] / estimated[ok]
        # split-conformal levels: with n calibration rows, the ceil((n+1)q)-th smallest ratio
        # is exceeded by a new product with probability at most 1-q
        n = ratio.size
        ranks = np.clip(np.ceil((n + 1) * np.asarray(quantiles, float)).astype(int), 1, n)
        # never tighter than the estimate itself: the bound is an upper bound
        factors = np.maximum(np.sort(ratio)[ranks - 1], 1.0)
        factors = np.maximum.accumulate(factors)
        return cls(tuple(float(q) for q in quantiles), tuple(float(f) for f in factors), int(ok.sum()), source)

    @classmethod
    def leave_one_out_factors(cls, measured, estimated, quantile: float) -> np.ndarray:
        """For each row, the factor at ``quantile`` calibrated on all the other rows.

        A bound calibrated on rows covers them by construction; judging each row by a
        bound it did not help calibrate measures how often the bound fails on new products.

        Parameters
        ----------
        measured : array_like
            Measured peaks.
        estimated : array_like
            The estimates made for them.
        quantile : float
            The quantile.

        Returns
        -------
        numpy.ndarray
            One factor per row (NaN for fewer than two rows).
        """
        measured = np.asarray(measured, float)
        estimated = np.asarray(estimated, float)
        if measured.size < 2:
            return np.full(measured.size, np.nan)
        rows = np.arange(measured.size)
        return np.array([cls.from_measurements(measured[rows != i], estimated[rows != i], (quantile,)).factor(quantile)
                         for i in rows])

    def to_tree(self) -> dict:
        """The bound as stored in bundles and ``baseline.yaml``.

        Returns
        -------
        dict
            ``method``, ``quantiles``, ``factors``, ``n_rows`` and ``source``.
        """
        return {
            "method": self.method,
            "quantiles": [float(q) for q in self.quantiles],
            "factors": [float(f) for f in self.factors],
            "n_rows": int(self.n_rows),
            "source": self.source,
        }

    @classmethod
    def from_tree(cls, tree: dict) -> "UpperBound":
        """The bound stored in a bundle or ``baseline.yaml``.

        Parameters
        ----------
        tree : dict
            As `to_tree` writes it.

        Returns
        -------
        UpperBound
            The bound.
        """
        return cls(
            quantiles=tuple(float(q) for q in tree["quantiles"]),
            factors=tuple(float(f) for f in tree["factors"]),
            n_rows=int(tree["n_rows"]),
            source=str(tree.get("source", "")),
            method=str(tree.get("method", "ratio_quantiles")),
        )
