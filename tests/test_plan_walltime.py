"""The wall-time model: non-negative work terms, fitted in log space, stored in walltime.yaml."""

import numpy as np
import pytest

from jwst_memest.features.schema import load_schema
from jwst_memest.model.upper import UpperBound
from jwst_memest.model.walltime import (WALLTIME_TERMS, WallTimeModel, fit_walltime_coefficients, load_walltime,
                                        work_terms)


def _image3_rows(n_rows, seed=0):
    names = load_schema("image3").names
    rng = np.random.default_rng(seed)
    X = np.zeros((n_rows, len(names)))
    col = {name: i for i, name in enumerate(names)}
    X[:, col["n_members"]] = rng.integers(2, 40, n_rows)
    X[:, col["n_exposure_groups"]] = X[:, col["n_members"]]
    X[:, col["member_pixels"]] = rng.choice([65536, 409600, 4194304], n_rows)
    X[:, col["output_pixels"]] = X[:, col["member_pixels"]] * rng.uniform(1, 8, n_rows)
    X[:, col["n_integrations"]] = 1
    X[:, col["in_memory"]] = rng.integers(0, 2, n_rows)
    return X


@pytest.mark.parametrize("pipeline", sorted(WALLTIME_TERMS))
def test_installed_model_predicts_positive_seconds(pipeline):
    model = load_walltime(pipeline)
    assert model is not None and model.upper_bound.n_rows > 0
    assert all(v >= 0 for v in model.coefficients.values())
    X = np.zeros((2, len(load_schema("image3" if pipeline in ("image3", "coron3", "ami3") else "spec3").names)))
    seconds, upper = model.estimate(X, 0.95)
    assert np.all(seconds >= 1.0) and np.all(upper >= seconds)


def test_fit_recovers_known_coefficients():
    X = _image3_rows(30)
    names, A = work_terms(X, "image3")
    truth = dict.fromkeys(names, 0.0) | {"startup": 8.0, "startup_member": 1.5, "resample_member_pixel": 4e-6,
                                         "resample_output_pixel": 5e-7}
    wall = A @ np.array([truth[n] for n in names])
    fitted = fit_walltime_coefficients(X, wall, "image3")
    assert all(v >= 0 for v in fitted.values())
    estimate = A @ np.array([fitted[n] for n in names])
    assert np.median(np.abs(estimate / wall - 1)) < 0.02


def test_speed_factor_scales_and_tree_round_trips():
    model = WallTimeModel("image3", {"startup": 10.0, "per_member": 2.0}, UpperBound((0.5, 0.95), (1.0, 1.5), 10))
    X = _image3_rows(3)
    assert np.allclose(model.predict(X, speed_factor=2.0), 2 * model.predict(X))
    again = WallTimeModel.from_tree("image3", model.to_tree())
    assert np.allclose(again.predict(X), model.predict(X))
    seconds, upper = again.estimate(X, 0.95)
    assert np.allclose(upper, 1.5 * seconds)


def test_too_few_runs_is_an_error():
    X = _image3_rows(3)
    with pytest.raises(ValueError, match="too few"):
        fit_walltime_coefficients(X, np.ones(3), "image3")
