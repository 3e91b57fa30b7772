"""Upper bounds outside the measured runs: the envelope, the widening rule and the annotation."""

import numpy as np
import pandas as pd

from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
from jwst_memest.model.coverage import MINIMUM_UNMEASURED_FACTOR, Envelope


def _envelope():
    table = pd.DataFrame({"exp_type": ["NRS_IFU", "NRS_IFU", "MIR_MRS"], "n_members": [2, 8, 4],
                          "member_pixels": [4194304] * 2 + [1056768], "total_input_bytes": [2e8, 9e8, 1e8],
                          "n_slits": [0, 0, 0], "cube_pixels": [1e6, 3e6, 2e6], "n_integrations": [1, 1, 1]})
    return Envelope.measure("spec3", table, beyond_range=1.4, unmeasured_mode=1.1, source="test")


def test_inside_the_measured_range_the_bound_is_the_calibrated_one():
    values = {"exp_type": "NRS_IFU", "n_members": 4, "member_pixels": 4194304, "total_input_bytes": 5e8,
              "n_slits": 0, "cube_pixels": 2e6, "n_integrations": 1}
    assessment = _envelope().assess(values, "spec3")
    assert assessment.calibrated and assessment.factor == 1.0 and assessment.reasons == []


def test_beyond_a_measured_range_the_bound_widens_by_the_measured_extrapolation_error():
    values = {"exp_type": "NRS_IFU", "n_members": 16, "member_pixels": 4194304, "total_input_bytes": 2e9,
              "n_slits": 0, "cube_pixels": 2e6, "n_integrations": 1}
    assessment = _envelope().assess(values, "spec3")
    assert not assessment.calibrated and assessment.factor == 1.4
    assert any(r.startswith("n_members 16 outside the measured NRS_IFU range [2, 8]") for r in assessment.reasons)


def test_an_unmeasured_mode_or_pipeline_widens_by_at_least_a_quarter():
    envelope = _envelope()
    assert envelope.unmeasured_mode == MINIMUM_UNMEASURED_FACTOR  # a smaller measured error is not trusted
    slit = envelope.assess({"exp_type": "NRS_MSASPEC", "n_members": 2}, "spec3")
    assert not slit.calibrated and slit.factor == 1.25
    assert slit.reasons[0] == "no measured runs of NRS_MSASPEC: estimate extrapolated from MIR_MRS, NRS_IFU"
    tso = envelope.assess({"exp_type": "NRS_IFU", "n_members": 4, "member_pixels": 4194304}, "tso3")
    assert not tso.calibrated and tso.reasons[0].startswith("no measured calwebb_tso3 runs")
    assert Envelope.from_tree("spec3", envelope.to_tree()) == envelope


def test_widening_factors_are_the_errors_of_held_out_extrapolations():
    from jwst_memest.profile.fit import widening_factors

    start = load_baseline("spec3")
    names = start.feature_names
    rng = np.random.default_rng(0)
    n = 40
    X = np.zeros((n, len(names)))
    X[:, names.index("exp_type")] = start.schema["exp_type"].encode("NRS_MSASPEC")
    X[:, names.index("n_members")] = rng.integers(2, 10, n)
    X[:, names.index("n_slits")] = rng.integers(5, 100, n)
    X[:, names.index("total_input_bytes")] = 28 * 45000 * X[:, names.index("n_slits")] * X[:, names.index("n_members")]
    linear = PhysicsBaseline("spec3", start.coefficients, start.upper_bound, "").predict(X)
    # the largest runs need more than the linear terms say: holding them out must show it
    measured = linear * np.where(linear > np.quantile(linear, 0.8), 1.3, 1.0)
    modes = np.array(["NRS_MSASPEC"] * n)
    beyond, unmeasured, detail = widening_factors(X, measured, modes, start)
    assert beyond > 1.2 and "NRS_MSASPEC" in detail
    assert unmeasured == 1.0  # a single mode has no other modes to be held out from


def test_an_unmeasured_mode_is_annotated_uncalibrated_with_a_wider_bound(tmp_path):
    import json

    from jwst_memest.annotation import annotate_association
    from jwst_memest.estimation import estimate_association
    from jwst_memest.exposures import ExposureLayout, write_header_exposures
    from jwst_memest.profile.corpus import _make_association

    layout = ExposureLayout(detectors=("NRS1",), exp_type="NRS_BRIGHTOBJ", filter="CLEAR", pupil="N/A",
                            subarray="SUB2048", subarray_shape=(2048, 32), nints=500, suffix="calints")
    asn = _make_association(write_header_exposures(layout, tmp_path), tmp_path, "jw01234-o001_t001_nirspec", "spec3")
    result = estimate_association(asn)
    (product,) = result.products
    block = annotate_association(result.raw, result.products)["products"][0]["memory_estimate"]
    assert block["calibrated"] is False and block["bound_widening"] >= 1.25
    assert any("no measured runs of NRS_BRIGHTOBJ" in r for r in block["uncalibrated_reasons"])
    assert product.upper_bound_gb >= 1.25 * product.gb_size
    json.dumps(block)


def test_coverage_does_not_depend_on_the_estimator(tmp_path):
    from jwst_memest.estimation import estimate_features
    from jwst_memest.exposures import ExposureLayout, write_header_exposures
    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata

    from jwst_memest.model.bundle import load_bundle

    from bundles import write_random_bundle

    layout = ExposureLayout(detectors=("NRS1",), exp_type="NRS_BRIGHTOBJ", filter="CLEAR", pupil="N/A")
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / "x")]
    named = [("p", product_features(members, "spec3"))]
    (by_baseline,) = estimate_features(named, "spec3")
    (by_bundle,) = estimate_features(named, "spec3", estimator=load_bundle(write_random_bundle(tmp_path / "b.asdf", "spec3")))
    assert by_bundle.estimator["kind"] != by_baseline.estimator["kind"]
    assert by_bundle.calibrated is by_baseline.calibrated is False
    assert by_bundle.uncalibrated_reasons == by_baseline.uncalibrated_reasons
    assert by_bundle.upper_bound_gb >= 1.25 * by_bundle.gb_size


def test_a_measured_mode_whose_peak_follows_the_synthetic_scene_stays_uncalibrated():
    from jwst_memest.model.coverage import SCENE_DEPENDENT

    table = pd.DataFrame({"exp_type": ["NIS_SOSS", "NIS_SOSS", "NRS_BRIGHTOBJ"], "n_members": [1, 1, 1],
                          "member_pixels": [524288] * 3, "total_input_bytes": [1e8, 2e9, 1e8],
                          "n_slits": [0, 0, 0], "cube_pixels": [0, 0, 0], "n_integrations": [10, 300, 10]})
    envelope = Envelope.measure("spec3", table, beyond_range=1.01, unmeasured_mode=1.3, source="test",
                                measured_pipeline="tso3")
    inside = {"exp_type": "NIS_SOSS", "n_members": 1, "member_pixels": 524288, "total_input_bytes": 5e8,
              "n_slits": 0, "cube_pixels": 0, "n_integrations": 50}
    soss = envelope.assess(inside, "tso3")
    factor, why = SCENE_DEPENDENT["NIS_SOSS"]
    assert not soss.calibrated and soss.factor == factor > 1.25 and why in soss.reasons
    assert soss.reasons[-1] == f"upper bound widened x{factor:.3g} (the spread measured between synthetic scenes)"
    # the same product of a mode the scene does not drive is calibrated
    assert envelope.assess(dict(inside, exp_type="NRS_BRIGHTOBJ", n_integrations=10, total_input_bytes=1e8),
                           "tso3").calibrated
