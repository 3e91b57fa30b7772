"""The wall-time model: non-negative work terms, fitted in log space, stored in walltime.yaml."""

import numpy as np
import pytest
from synthetic_runs import image3_rows, known_image3_seconds

from jwst_memest.features.schema import load_schema
from jwst_memest.model.upper import UpperBound
from jwst_memest.model.walltime import (WALLTIME_TERMS, WallTimeModel, fit_walltime_coefficients, load_walltime,
                                        work_terms)


@pytest.mark.parametrize("pipeline", sorted(WALLTIME_TERMS))
def test_installed_model_predicts_positive_seconds(pipeline):
    model = load_walltime(pipeline)
    assert model is not None and model.upper_bound.n_rows > 0
    assert all(v >= 0 for v in model.coefficients.values())
    X = np.zeros((2, len(load_schema("image3" if pipeline in ("image3", "coron3", "ami3") else "spec3").names)))
    seconds, upper = model.estimate(X, 0.95)
    assert np.all(seconds >= 1.0) and np.all(upper >= seconds)


def test_fit_recovers_known_coefficients():
    X = image3_rows(30)
    names, A = work_terms(X, "image3")
    wall = known_image3_seconds(X)
    fitted = fit_walltime_coefficients(X, wall, "image3")
    assert all(v >= 0 for v in fitted.values())
    estimate = A @ np.array([fitted[n] for n in names])
    assert np.median(np.abs(estimate / wall - 1)) < 0.02


def test_speed_factor_scales_and_tree_round_trips():
    model = WallTimeModel("image3", {"startup": 10.0, "per_member": 2.0}, UpperBound((0.5, 0.95), (1.0, 1.5), 10))
    X = image3_rows(3)
    assert np.allclose(model.predict(X, speed_factor=2.0), 2 * model.predict(X))
    again = WallTimeModel.from_tree("image3", model.to_tree())
    assert np.allclose(again.predict(X), model.predict(X))
    seconds, upper = again.estimate(X, 0.95)
    assert np.allclose(upper, 1.5 * seconds)


def test_too_few_runs_is_an_error():
    X = image3_rows(3)
    with pytest.raises(ValueError, match="too few"):
        fit_walltime_coefficients(X, np.ones(3), "image3")
