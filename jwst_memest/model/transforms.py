"""Feature normalisation with numpy only: Yeo-Johnson power transform, then standardisation.

The same formulas as scikit-learn's PowerTransformer(method="yeo-johnson",
standardize=False) followed by StandardScaler, so a bundle trained with
scikit-learn predicts identically without it (tests/test_bundle.py pins them).
Training fits the lambdas with scikit-learn; the estimation path evaluates them
here rather than through scipy.stats.yeojohnson, whose import alone takes about
0.7 s of a cold estimate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["yeo_johnson", "Normalizer"]


def yeo_johnson(x: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """Yeo-Johnson transform of each column of ``x`` with its own lambda.

    Parameters
    ----------
    x : numpy.ndarray
        The values, columns last.
    lambdas : array_like
        One lambda per column.

    Returns
    -------
    numpy.ndarray
        The transformed values.
    """
    x = np.asarray(x, dtype=np.float64)
    lambdas = np.broadcast_to(np.asarray(lambdas, dtype=np.float64), x.shape[-1:])
    out = np.empty_like(x)
    positive = x >= 0
    for j, lam in enumerate(lambdas):
        column, pos = x[..., j], positive[..., j]
        result = np.empty_like(column)
        if abs(lam) > np.spacing(1.0):
            result[pos] = (np.power(column[pos] + 1.0, lam) - 1.0) / lam
        else:
            result[pos] = np.log1p(column[pos])
        if abs(lam - 2.0) > np.spacing(1.0):
            result[~pos] = -(np.power(-column[~pos] + 1.0, 2.0 - lam) - 1.0) / (2.0 - lam)
        else:
            result[~pos] = -np.log1p(-column[~pos])
        out[..., j] = result
    return out


class Normalizer:
    """Transforms the continuous columns of a feature matrix; other columns pass through.

    Called on a feature matrix, returns a transformed copy.

    Parameters
    ----------
    method : str
        ``yeo-johnson+standardize``, ``standardize`` or ``none``.
    columns : numpy.ndarray
        The continuous columns' indices.
    lambdas, means, sigmas : array_like
        Per continuous column: the Yeo-Johnson lambda, then the mean and sigma of standardisation.
    round_decimals : int or None, optional
        Round the normalised values (spacekit rounds its normalised inputs; a model it trained
        saw only rounded values).

    Raises
    ------
    ValueError
        When the method is unknown or the arrays differ in length.
    """

    METHODS = ("yeo-johnson+standardize", "standardize", "none")

    def __init__(self, method: str, columns: np.ndarray, lambdas, means, sigmas, round_decimals: int | None = None):
        if method not in self.METHODS:
            raise ValueError(f"unknown preprocessing method {method!r}")
        self.method = method
        self.columns = np.asarray(columns, dtype=int)
        self.lambdas = np.asarray(lambdas, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.sigmas = np.asarray(sigmas, dtype=np.float64)
        # spacekit rounds its normalised inputs; a model it trained saw only rounded values
        self.round_decimals = None if round_decimals is None else int(round_decimals)
        sizes = {len(self.columns), len(self.lambdas), len(self.means), len(self.sigmas)}
        if method != "none" and len(sizes) != 1:
            raise ValueError("preprocessing needs one lambda, mean and sigma per continuous feature")

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64, copy=True)
        if self.method == "none" or not len(self.columns):
            return X
        block = X[:, self.columns]
        if self.method == "yeo-johnson+standardize":
            block = yeo_johnson(block, self.lambdas)
        sigmas = np.where(self.sigmas > 0, self.sigmas, 1.0)
        block = (block - self.means) / sigmas
        X[:, self.columns] = block if self.round_decimals is None else np.round(block, self.round_decimals)
        return X
