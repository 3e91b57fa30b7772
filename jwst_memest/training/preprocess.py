"""Normalisation fitted with scikit-learn, exported as plain arrays for the numpy bundle."""

from __future__ import annotations

import numpy as np

from jwst_memest.features.schema import load_feature_set
from jwst_memest.model.transforms import Normalizer

__all__ = ["fit_normalizer", "continuous_features"]


def continuous_features(feature_set: str) -> list[str]:
    """Features that are transformed: counts and continuous values; codes and flags pass through.

    Parameters
    ----------
    feature_set : str
        The feature set's name.

    Returns
    -------
    list of str
        Their names, in vector order.
    """
    return [f.name for f in load_feature_set(feature_set).features if f.kind in ("continuous", "count")]


def fit_normalizer(X: np.ndarray, feature_set: str, norm: bool = True) -> tuple[Normalizer, dict]:
    """Yeo-Johnson then standardisation of the continuous columns (the bundle's ``preprocessing``).

    Parameters
    ----------
    X : numpy.ndarray
        The training rows' encoded features.
    feature_set : str
        The feature set's name.
    norm : bool, optional
        False: no normalisation (method ``none``).

    Returns
    -------
    normalizer : jwst_memest.model.transforms.Normalizer
        The fitted normalisation.
    tree : dict
        The same as stored in a bundle's ``preprocessing``.
    """
    from sklearn.preprocessing import PowerTransformer, StandardScaler

    names = load_feature_set(feature_set).names
    continuous = continuous_features(feature_set)
    columns = [names.index(n) for n in continuous]
    if not norm:
        tree = {"method": "none", "continuous": [], "lambdas": [], "means": [], "sigmas": []}
        return Normalizer("none", [], [], [], []), tree
    block = X[:, columns]
    power = PowerTransformer(method="yeo-johnson", standardize=False).fit(block)
    scaler = StandardScaler().fit(power.transform(block))
    sigmas = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    tree = {"method": "yeo-johnson+standardize", "continuous": continuous,
            "lambdas": power.lambdas_, "means": scaler.mean_, "sigmas": sigmas}
    return Normalizer(tree["method"], columns, power.lambdas_, scaler.mean_, sigmas), tree
