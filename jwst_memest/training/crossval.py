"""Train/test splits: one 80/20 split or k folds, optionally keeping a large product in every test split."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Fold", "make_folds", "validation_rows"]

TEST_SIZE = 0.2
VALIDATION_SIZE = 0.15
# Below this many training rows a validation slice would leave too little to fit on.
MIN_ROWS_FOR_VALIDATION = 8


@dataclass(frozen=True)
class Fold:
    """One train/test split.

    ``home`` is the part of ``test`` whose held-out prediction counts towards the
    out-of-fold estimate: every row is home to exactly one fold, even when
    stratification repeats a large product in several test splits.

    Parameters
    ----------
    number : int
        The fold's number.
    train : numpy.ndarray
        Training rows.
    test : numpy.ndarray
        Test rows.
    home : numpy.ndarray
        The test rows whose prediction counts towards the out-of-fold estimate.
    """

    number: int
    train: np.ndarray
    test: np.ndarray
    home: np.ndarray


def _base_splits(y, k, stratify, large, seed, fixed_test):
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    index = np.arange(len(y))
    if k <= 1:
        if fixed_test is not None and fixed_test.any() and (~fixed_test).any():
            return [(index[~fixed_test], index[fixed_test])]
        # train_test_split can stratify only when each class has two rows or more
        can_stratify = stratify and large.sum() >= 2 and (~large).sum() >= 2
        train, test = train_test_split(
            index, test_size=TEST_SIZE, random_state=seed, stratify=large if can_stratify else None
        )
        return [(np.sort(train), np.sort(test))]
    if stratify and large.sum() >= k:
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(index, large))
    return list(KFold(k, shuffle=True, random_state=seed).split(index))


def make_folds(y, k: int = 0, *, stratify: bool = True, threshold: float = 50.0, seed: int = 42,
               fixed_test=None) -> list[Fold]:
    """Splits of ``len(y)`` rows: k-fold (k > 1) or one split (the fixed one when given, else 80/20).

    With ``stratify``, every test split holds at least one product at or above
    ``threshold`` GB when the data has any: folds are stratified when there are at
    least k large products; with fewer, a large product is moved from the
    training rows into each test split that lacks one (it then appears in more
    than one test split, and counts once in the out-of-fold estimate).

    Parameters
    ----------
    y : array_like
        The targets, GB.
    k : int, optional
        Folds (0 or 1: one split).
    stratify : bool, optional
        Keep a large product in every test split.
    threshold : float, optional
        GB from which a product is large.
    seed : int, optional
        Random seed.
    fixed_test : array_like or None, optional
        A fixed test split (boolean per row), used for one split.

    Returns
    -------
    list of Fold
        The folds.
    """
    y = np.asarray(y, dtype=float)
    large = y >= threshold
    fixed = None if fixed_test is None else np.asarray(fixed_test, dtype=bool)
    folds = [Fold(i, np.asarray(train), np.asarray(test), np.asarray(test))
             for i, (train, test) in enumerate(_base_splits(y, int(k or 0), stratify, large, seed, fixed))]
    if not (stratify and large.any()):
        return folds
    rng = np.random.default_rng(seed)
    topped_up = []
    for position, fold in enumerate(folds):
        if large[fold.test].any():
            continue
        candidates = fold.train[large[fold.train]]
        if candidates.size == 0 or fold.train.size <= 1:
            continue
        moved = rng.choice(candidates)
        folds[position] = Fold(fold.number, fold.train[fold.train != moved], np.sort(np.append(fold.test, moved)),
                               fold.home)
        topped_up.append(fold.number)
    if topped_up:
        log.warning("%d product(s) at or above %g GB for %d test split(s): one moved into the test split of "
                    "fold(s) %s", int(large.sum()), threshold, len(folds), ", ".join(map(str, topped_up)))
    return folds


def validation_rows(train: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) rows of a fold's training rows.

    Early stopping and the checkpoint watch the validation rows, never the test
    rows, so that the held-out metrics stay held out. Empty validation when the
    fold is too small to spare any.

    Parameters
    ----------
    train : numpy.ndarray
        The fold's training rows.
    seed : int
        Random seed.

    Returns
    -------
    fit : numpy.ndarray
        The rows the network is fitted on.
    validation : numpy.ndarray
        The validation rows.
    """
    train = np.asarray(train)
    if train.size < MIN_ROWS_FOR_VALIDATION:
        return train, train[:0]
    rng = np.random.default_rng(seed)
    n_val = max(1, int(round(VALIDATION_SIZE * train.size)))
    chosen = np.zeros(train.size, dtype=bool)
    chosen[rng.choice(train.size, n_val, replace=False)] = True
    return train[~chosen], train[chosen]
