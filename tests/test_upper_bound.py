"""The bound computation, pinned value by value: conformal levels, rows left out, widening."""

import numpy as np
import pandas as pd
import pytest

from jwst_memest.model.coverage import Envelope
from jwst_memest.model.upper import UpperBound

# 19 calibration rows whose measured/estimated ratios are 1.01, 1.02, ..., 1.19
ESTIMATED = np.full(19, 2.0)
MEASURED = ESTIMATED * (1 + np.arange(1, 20) / 100)


def test_split_conformal_levels_pick_the_ceil_n_plus_one_q_th_ratio():
    bound = UpperBound.from_measurements(MEASURED, ESTIMATED, quantiles=(0.5, 0.9, 0.95), source="calibration rows")
    # ceil(20 q)-th smallest of 19 ratios: 10th, 18th, 19th (an observed ratio, never interpolated)
    assert bound.factors == pytest.approx((1.10, 1.18, 1.19))
    assert bound.n_rows == 19 and bound.source == "calibration rows"


def test_rows_without_a_finite_positive_estimate_or_measurement_are_left_out():
    measured = np.append(MEASURED, [np.nan, 9.0, 9.0, 9.0])
    estimated = np.append(ESTIMATED, [2.0, np.nan, 0.0, -1.0])
    bound = UpperBound.from_measurements(measured, estimated, quantiles=(0.95,))
    assert bound.n_rows == 19 and bound.factors == pytest.approx((1.19,))
    with pytest.raises(ValueError, match="no finite, positive estimates"):
        UpperBound.from_measurements([1.0, np.nan], [0.0, 1.0])


def test_a_quantile_outside_zero_to_one_is_refused():
    bound = UpperBound.from_measurements(MEASURED, ESTIMATED)
    for quantile in (0.0, 1.5):
        with pytest.raises(ValueError, match="quantile must be in"):
            bound.factor(quantile)


def test_leave_one_out_judges_each_row_by_the_others():
    factors = UpperBound.leave_one_out_factors(MEASURED, ESTIMATED, 0.9)
    # without the largest ratio, 18 rows: ceil(19 * 0.9) = 18th smallest = 1.18; with it left in, the
    # 18th smallest of the other 18 ratios is 1.19 for every other row
    assert factors[-1] == pytest.approx(1.18) and factors[0] == pytest.approx(1.19)
    assert np.all(np.isnan(UpperBound.leave_one_out_factors([1.0], [1.0], 0.9)))
    assert UpperBound.leave_one_out_factors([1.0], [1.0], 0.9).shape == (1,)


def _envelope(measured_pipeline=""):
    table = pd.DataFrame({"exp_type": ["NRC_TSIMAGE"] * 2, "n_members": [1, 3], "member_pixels": [4096, 160000],
                          "total_input_bytes": [1e7, 2e9], "output_pixels": [np.nan, np.nan],
                          "n_exposure_groups": [1, 3], "n_integrations": [100, 5000]})
    return Envelope.measure("image3", table, 1.1, 1.3, "held-out extrapolation", measured_pipeline=measured_pipeline)


def test_every_feature_is_checked_even_after_one_without_a_value():
    envelope = _envelope()
    # output_pixels was never measured (NaN) and comes before n_integrations: still checked
    inside = envelope.assess({"exp_type": "NRC_TSIMAGE", "n_members": 2, "output_pixels": None,
                              "n_integrations": 1000}, "image3")
    assert inside.calibrated and inside.factor == 1.0
    beyond = envelope.assess({"exp_type": "NRC_TSIMAGE", "n_members": 2, "output_pixels": None,
                              "n_integrations": 20000}, "image3")
    assert not beyond.calibrated and beyond.factor == pytest.approx(1.1)
    assert any("n_integrations 20000 outside" in r for r in beyond.reasons)
    assert beyond.reasons[-1] == "upper bound widened x1.1 (held-out extrapolation)"


def test_an_envelope_belongs_to_the_pipeline_whose_runs_it_measured():
    own = _envelope("coron3")
    assert own.measured_pipeline == "coron3"
    assert own.assess({"exp_type": "NRC_TSIMAGE", "n_members": 2}, "coron3").calibrated
    borrowed = own.assess({"exp_type": "NRC_TSIMAGE", "n_members": 2}, "ami3")
    assert not borrowed.calibrated and borrowed.factor == pytest.approx(1.3)
    assert "no measured calwebb_ami3 runs: estimated with the calwebb_coron3 terms" in borrowed.reasons[0]
    unmeasured = Envelope("image3", {}).assess({"exp_type": "NRC_CORON"}, "image3")
    assert "estimate extrapolated from none" in unmeasured.reasons[0]
    assert unmeasured.reasons[-1] == "upper bound widened x1.25 (default widening)"


@pytest.mark.parametrize("quantiles,factors,problem", [
    ((0.5, 0.9), (1.1,), "as many factors as quantiles"),
    ((), (), "as many factors as quantiles"),
    ((0.5, np.nan), (1.1, 1.2), "finite"),
    ((0.5, 0.9), (1.1, np.inf), "finite"),
    ((0.9, 0.5), (1.1, 1.2), "increase within"),
    ((0.5, 0.5), (1.1, 1.2), "increase within"),
    ((0.0, 0.5), (1.1, 1.2), "increase within"),
    ((0.5, 1.5), (1.1, 1.2), "increase within"),
    ((0.5, 0.9), (0.0, 1.2), "positive"),
])
def test_a_bound_table_that_cannot_be_a_bound_is_refused(quantiles, factors, problem):
    # tables come from baseline.yaml and bundles a user may have edited
    with pytest.raises(ValueError, match=problem):
        UpperBound(quantiles, factors, n_rows=10)


def test_the_lowest_and_highest_quantiles_are_usable():
    bound = UpperBound.from_measurements(MEASURED, ESTIMATED, quantiles=(0.01, 0.5, 1.0))
    # ceil(20 x 0.01) = 1: the smallest ratio itself
    assert bound.factors == pytest.approx((1.01, 1.10, 1.19))
    assert bound.factor(1.0) == pytest.approx(1.19)


def test_an_envelope_without_a_record_widens_by_the_floor():
    bare = Envelope.from_tree("image3", None)
    assert bare.ranges == {} and bare.beyond_range == bare.unmeasured_mode == 1.25 and bare.source == ""
    recorded = Envelope.from_tree("image3", {"ranges": {"NRC_IMAGE": {"n_members": [1, 4]}},
                                             "widening": {"beyond_range": 1.07, "unmeasured_mode": 1.1,
                                                          "source": "measured"}})
    assert recorded.beyond_range == 1.07 and recorded.unmeasured_mode == 1.25 and recorded.source == "measured"
    assert recorded.ranges == {"NRC_IMAGE": {"n_members": [1, 4]}}
