"""The bound computation and the error paths, value by value.

Bounds: the upper bound is never below the estimate nor below the estimate times the widening
factor; a request above ``max_request_gb`` is capped (and only then); annotated bounds round up.
Errors: each names the file and the problem; unreadable members and header values are left
out or read as missing, with a warning.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.annotation import annotate_association
from jwst_memest.association import (AssociationError, first_few, load_level3_association, product_members,
                                     product_name, resolve_member)
from jwst_memest.atomic import write_text_atomic
from jwst_memest.estimate_records import ProductEstimate, round_up
from jwst_memest.estimation import estimate_association, estimate_features
from jwst_memest.features.build import product_features
from jwst_memest.features.schema import load_schema
from jwst_memest.member_metadata import read_association_members, read_members
from jwst_memest.metadata import (ExposureMetadata, MetadataError, _as_float, _as_int, _first, _image_shape,
                                  _positive_int, _TolerantHeader, read_exposure_metadata)
from jwst_memest.model.baseline import MEMBERS_STAGE, load_baseline
from jwst_memest.model.coverage import Assessment
from jwst_memest.model.upper import UpperBound


# ---------------------------------------------------------------- the bound computation


def _member(number: int, **changes) -> ExposureMetadata:
    values = dict(path=f"jw01234001001_03101_{number:05d}_nrca1_cal.fits", level="cal", instrument="NIRCAM",
                  detector="NRCA1", exp_type="NRC_IMAGE", filter="F150W", pupil="CLEAR", subarray="FULL",
                  ncols=2048, nrows=2048, pixel_scale=0.031, ra_ref=10.0, dec_ref=20.0 + number * 1e-4,
                  roll_ref=0.0, exposure_id=f"01234_001_001_03_1_01_{number:05d}")
    values.update(changes)
    return ExposureMetadata(**values)


def _features(n_members: int = 4, in_memory: bool = True):
    return product_features([_member(i + 1) for i in range(n_members)], "image3", in_memory)


class _Estimator:
    """An estimator whose estimate, bound and assessment the test sets: 2 GB (1 GB on disk), bound x ``ratio``."""

    kind = "physics_baseline"  # also its own baseline: its assessment and stages are used
    name, version, checksum, feature_set = "stub", "7", "c0ffee", "image3"

    def __init__(self, ratio=1.5, factor=1.0, n_rows=10):
        self.ratio, self.factor = ratio, factor
        self.upper_bound = UpperBound((0.95,), (1.0,), n_rows=n_rows, source="test rows")
        self.feature_names = load_schema("image3").names

    def estimate(self, X, quantile=0.95):
        in_memory = X[:, self.feature_names.index("in_memory")]
        gb = np.where(in_memory > 0, 2.0, 1.0)
        return gb, gb * self.ratio

    def assess(self, values, slit_tree_bytes=float("nan")):
        if self.factor == 1.0:
            return Assessment()
        return Assessment(calibrated=False, reasons=["n_members outside", f"widened x{self.factor}"],
                          factor=self.factor)

    def breakdown(self, X):
        return [({MEMBERS_STAGE: 0.5, "resample": 2.0}, "resample") for _ in range(len(X))]


def _estimate(estimator, **options):
    (estimate,) = estimate_features([("product", _features())], "image3", estimator=estimator, **options)
    return estimate


def test_the_bound_is_the_estimators_when_above_the_estimate():
    estimate = _estimate(_Estimator(ratio=1.5))
    assert estimate.gb_size == 2.0 and estimate.upper_bound_gb == 3.0 and estimate.request_gb == 3.0
    assert estimate.calibrated and estimate.bound_widening == 1.0 and estimate.uncalibrated_reasons == []
    assert not any("capped" in w for w in estimate.warnings)


def test_the_bound_is_never_below_the_estimate():
    estimate = _estimate(_Estimator(ratio=0.5))
    assert estimate.upper_bound_gb == estimate.gb_size == 2.0


def test_outside_the_measured_runs_the_bound_widens_by_the_factor():
    estimate = _estimate(_Estimator(ratio=1.1, factor=1.3))
    assert estimate.upper_bound_gb == pytest.approx(2.6)  # 2 GB x 1.3, above the estimator's 2.2
    assert not estimate.calibrated and estimate.bound_widening == 1.3
    assert estimate.uncalibrated_reasons == ["n_members outside", "widened x1.3"]
    assert estimate.warnings[-2:] == ["n_members outside", "widened x1.3"]
    # a bound already above the widened estimate stays
    assert _estimate(_Estimator(ratio=2.0, factor=1.3)).upper_bound_gb == 4.0


def test_the_alternative_settings_bounds_widen_too():
    alternatives = _estimate(_Estimator(ratio=1.1, factor=1.3)).alternatives
    assert alternatives == [{"in_memory": True, "gbSize": 2.0, "upper_bound_gb": 2.6},
                            {"in_memory": False, "gbSize": 1.0, "upper_bound_gb": 1.3}]
    calibrated = _estimate(_Estimator(ratio=1.5)).alternatives
    assert [a["upper_bound_gb"] for a in calibrated] == [3.0, 1.5]
    # an estimator bound below its estimate is raised to the estimate
    assert [a["upper_bound_gb"] for a in _estimate(_Estimator(ratio=0.5)).alternatives] == [2.0, 1.0]


def test_no_alternatives_where_no_setting_changes_the_memory_or_the_model_cannot_tell():
    spec = product_features([_member(i + 1, instrument="NIRSPEC", detector="NRS1", exp_type="NRS_FIXEDSLIT",
                                     filter="CLEAR", grating="PRISM", n_slits=1, slit_pixels=2000)
                             for i in range(2)], "spec3")
    (estimate,) = estimate_features([("spec", spec)], "spec3", estimator=load_baseline("spec3"))
    assert estimate.alternatives == [] and estimate.gb_size > 0
    assert estimate.in_memory is True and estimate.features is spec  # spec3 has no in_memory setting

    class Spacekit(_Estimator):
        kind, feature_set = "model", "spacekit_image"

        def estimate(self, X, quantile=0.95):
            return np.full(len(X), 2.0), np.full(len(X), 3.0)

    (estimate,) = estimate_features([("product", _features())], "image3", estimator=Spacekit())
    # a model's own bound, plus the margin in bytes every bound carries
    assert estimate.alternatives == [] and estimate.upper_bound_gb == pytest.approx(3.0 + load_baseline().margin_gb)


def test_the_alternatives_are_in_memory_then_on_disk_rounded():
    class Uneven(_Estimator):
        def estimate(self, X, quantile=0.95):
            gb = np.where(X[:, self.feature_names.index("in_memory")] > 0, 2.000049, 1.000051)
            return gb, gb * 1.00001

    first, second = _estimate(Uneven()).alternatives
    assert first == {"in_memory": True, "gbSize": 2.0, "upper_bound_gb": 2.0001}
    assert second == {"in_memory": False, "gbSize": 1.0001, "upper_bound_gb": 1.0001}
    on_disk = estimate_features([("product", _features(in_memory=False))], "image3", estimator=Uneven())[0]
    assert on_disk.gb_size == pytest.approx(1.000051) and on_disk.in_memory is False
    assert [a["in_memory"] for a in on_disk.alternatives] == [True, False]


def test_a_request_above_max_request_gb_is_capped_with_a_warning():
    capped = _estimate(_Estimator(ratio=1.5), max_request_gb=2.5)
    assert capped.upper_bound_gb == 3.0 and capped.request_gb == 2.5
    (warning,) = [w for w in capped.warnings if "capped" in w]
    assert "upper bound 3.00 GB exceeds max_request_gb 2.5" in warning and "in_memory=False" in warning


@pytest.mark.parametrize("limit", [None, 0, 3.0, 10.0])
def test_a_request_within_max_request_gb_is_the_bound(limit):
    estimate = _estimate(_Estimator(ratio=1.5), max_request_gb=limit)
    assert estimate.request_gb == estimate.upper_bound_gb == 3.0
    assert not any("capped" in w for w in estimate.warnings)


def test_an_estimator_without_a_calibrated_bound_is_uncalibrated():
    estimate = _estimate(_Estimator(ratio=1.5, n_rows=0))
    assert not estimate.calibrated
    reason = "model stub 7 has no calibrated upper bound (test rows)"
    assert estimate.uncalibrated_reasons == [reason] and reason in estimate.warnings
    annotation = estimate.annotation()
    assert annotation["calibrated"] is False and annotation["uncalibrated_reasons"] == [reason]


def test_a_bound_calibrated_on_a_single_run_is_calibrated():
    estimate = _estimate(_Estimator(ratio=1.5, n_rows=1))
    assert estimate.calibrated and estimate.uncalibrated_reasons == []


def test_warnings_given_for_a_product_come_first():
    (estimate,) = estimate_features([("product", _features())], "image3", estimator=_Estimator(factor=1.3),
                                    extra_warnings={"product": ["member x substituted"], "other": ["not this"]})
    assert estimate.warnings[0] == "member x substituted" and "not this" not in estimate.warnings


def test_a_models_estimate_is_shared_out_over_the_physics_stages():
    class Model(_Estimator):
        kind = "model"

    estimate = _estimate(Model(ratio=1.5))
    baseline = load_baseline("image3")
    stages, _ = baseline.breakdown(_features().vector()[None, :])[0]
    assert max(estimate.breakdown.values()) == pytest.approx(2.0)  # the model's estimate
    scale = 2.0 / max(stages.values())
    assert estimate.breakdown == pytest.approx({k: v * scale for k, v in stages.items()})
    assert estimate.breakdown_note == f"stages of {baseline.name} {baseline.version}, scaled to the stub estimate"
    assert estimate.in_memory is True and estimate.n_members == 4 and estimate.quantile == 0.95
    assert estimate.estimator == {"name": "stub", "version": "7", "kind": "model", "checksum": "c0ffee"}


def test_a_models_estimate_is_shared_out_for_a_small_product_too():
    class Model(_Estimator):
        kind = "model"

    small = product_features([_member(1, ncols=64, nrows=64, subarray="SUB64P")], "image3")
    (estimate,) = estimate_features([("small", small)], "image3", estimator=Model())
    assert max(estimate.breakdown.values()) == pytest.approx(2.0)  # physics peak well under 1 GB, scaled up


def test_the_bound_is_never_below_the_estimate_whatever_the_widening_factor():
    estimate = _estimate(_Estimator(ratio=0.5, factor=0.8))
    assert estimate.upper_bound_gb == estimate.gb_size == 2.0


def test_the_bound_is_that_of_the_quantile_asked_for():
    baseline = load_baseline("image3")
    for quantile in (0.5, 0.99):
        (estimate,) = estimate_features([("product", _features())], "image3", estimator=baseline, quantile=quantile)
        factor = baseline.upper_bound_by_mode["NRC_IMAGE"].factor(quantile)
        assert estimate.quantile == quantile
        assert estimate.upper_bound_gb == pytest.approx(estimate.gb_size * factor + baseline.margin_gb)
        assert estimate.annotation()["upper_bound_quantile"] == quantile
        in_memory = estimate.alternatives[0]
        assert in_memory["in_memory"] is True
        assert in_memory["upper_bound_gb"] == pytest.approx(estimate.upper_bound_gb, abs=1e-4)


def test_a_model_path_that_cannot_be_used_is_an_error_not_the_baseline(tmp_path):
    from jwst_memest.model.bundle import BundleError

    with pytest.raises(BundleError):
        estimate_features([("product", _features())], "image3", model_path=str(tmp_path / "missing.asdf"))


def test_an_empty_batch_gives_no_estimate():
    assert estimate_features([], "image3", estimator=_Estimator()) == []


def test_bounds_round_up():
    assert round_up(1.00001) == 1.0001
    assert round_up(2.0) == 2.0
    assert round_up(1.23441) == 1.2345
    assert round_up(1.231, 2) == 1.24
    # a bound already on the grid stays, although 2.0001 * 10**4 is 20001.000000000004 in floating point
    assert round_up(2.0001) == 2.0001 and round_up(1.0011) == 1.0011
    assert all(round_up(v) == v for v in np.round(1 + np.arange(10000) / 10**4, 4))
    assert round_up(2.00010001) == 2.0002


def _product_estimate(**changes):
    values = dict(product="p", pipeline="image3", n_members=3, gb_size=1.23441, upper_bound_gb=1.50001,
                  request_gb=1.50001, quantile=0.95, in_memory=False, estimator={"name": "m", "version": "1"},
                  breakdown={"resample": 1.234449}, peak_step="resample")
    values.update(changes)
    return ProductEstimate(**values)


def test_the_annotation_rounds_the_bound_and_request_up():
    from jwst_memest import __version__

    estimate = _product_estimate(alternatives=[{"in_memory": True, "gbSize": 1.0, "upper_bound_gb": 1.2}],
                                 warnings=["w"])
    assert estimate.annotation() == {
        "upper_bound_gb": 1.5001, "upper_bound_quantile": 0.95, "upper_bound_margin_gb": 0.0, "request_gb": 1.5001,
        "model": {"name": "m", "version": "1"}, "pipeline": "calwebb_image3",
        "pipeline_parameters": {"in_memory": False}, "n_members": 3, "breakdown": {"resample": 1.2344},
        "peak_step": "resample", "alternatives": [{"in_memory": True, "gbSize": 1.0, "upper_bound_gb": 1.2}],
        "calibrated": True, "warnings": ["w"], "flags": [], "jwst_memest_version": __version__,
    }
    assert estimate.rounded_gb == 1.2344


def test_a_capped_request_is_not_rounded_above_the_cap():
    annotation = _product_estimate(upper_bound_gb=3.0, request_gb=2.50001).annotation()
    assert annotation["upper_bound_gb"] == 3.0 and annotation["request_gb"] == 2.5


def test_an_uncalibrated_annotation_says_why_and_by_how_much():
    annotation = _product_estimate(calibrated=False, bound_widening=1.234567, uncalibrated_reasons=["outside"],
                                   breakdown_note="scaled", warnings=["w"]).annotation()
    assert annotation["bound_widening"] == 1.2346 and annotation["uncalibrated_reasons"] == ["outside"]
    assert annotation["breakdown_note"] == "scaled" and annotation["warnings"] == ["w"]


def test_the_baseline_bound_is_its_estimate_times_the_factor_of_the_quantile():
    baseline = load_baseline("image3")
    X = _features().vector()[None, :]
    gb, upper = baseline.estimate(X, 0.9)
    stages = baseline.stages(X)
    assert gb[0] == pytest.approx(max(float(v[0]) for v in stages.values()) / 1e9)
    factor = baseline.upper_bound_by_mode["NRC_IMAGE"].factor(0.9)
    assert upper[0] == pytest.approx(gb[0] * factor + baseline.margin_gb)
    assert factor != baseline.upper_bound.factor(0.9)  # the mode's own calibration, not the pooled one
    # an exposure type without a calibration of its own takes the pooled factor
    other = product_features([_member(i + 1, exp_type="NRC_TACQ") for i in range(4)], "image3").vector()[None, :]
    gb, upper = baseline.estimate(other, 0.9)
    assert upper[0] == pytest.approx(gb[0] * baseline.upper_bound.factor(0.9) + baseline.margin_gb)


def test_the_baseline_bound_defaults_to_the_95th_percentile_of_image3():
    baseline = load_baseline()
    assert baseline.name == "physics_baseline_image3"
    X = _features().vector()[None, :]
    gb, upper = baseline.estimate(X)
    assert upper[0] == pytest.approx(gb[0] * baseline.upper_bound_by_mode["NRC_IMAGE"].factor(0.95) + baseline.margin_gb)


def test_without_calibrations_per_mode_every_row_takes_the_pooled_factor():
    baseline = load_baseline("image3")
    baseline.upper_bound_by_mode = {}
    X = np.vstack([_features().vector(), _features(8).vector()])
    gb, upper = baseline.estimate(X, 0.5)
    assert upper == pytest.approx(gb * baseline.upper_bound.factor(0.5) + baseline.margin_gb)


def test_a_run_without_a_modelled_step_peaks_with_the_members(monkeypatch):
    baseline = load_baseline("tso3")
    monkeypatch.setattr(baseline, "stages", lambda X: {MEMBERS_STAGE: np.array([2e9]),
                                                       "extract_1d": np.array([np.nan])})
    assert baseline.breakdown(np.zeros((1, 3))) == [({MEMBERS_STAGE: 2.0}, MEMBERS_STAGE)]


def test_the_peak_step_is_the_largest_stage(monkeypatch):
    """Per row, the step named is the one whose stage is largest (never the members' floor), each stage in
    GB, a stage that does not run left out; the estimate is the largest stage."""
    baseline = load_baseline("image3")
    nan = np.nan
    monkeypatch.setattr(baseline, "stages", lambda X: {
        MEMBERS_STAGE: np.array([1e9, 1e9, 1e9]), "outlier_detection": np.array([3e9, 2e9, nan]),
        "resample": np.array([2e9, 4e9, 1.5e9]), "source_catalog": np.array([nan, 1e9, 2.5e9])})
    rows = baseline.breakdown(np.zeros((3, 3)))
    assert [peak for _, peak in rows] == ["outlier_detection", "resample", "source_catalog"]
    assert rows[0][0] == {MEMBERS_STAGE: 1.0, "outlier_detection": 3.0, "resample": 2.0}
    assert baseline.predict(np.zeros((3, 3))) == pytest.approx([3.0, 4.0, 2.5])


# ---------------------------------------------------------------- association errors


def _asn(tmp_path, text, name="bad_asn.json") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _load_error(path) -> str:
    with pytest.raises(AssociationError) as info:
        load_level3_association(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(str(path)) + 2:]


def test_association_errors_name_the_file_and_the_problem(tmp_path):
    assert _load_error(tmp_path) == "is a directory, not an association file"
    assert _load_error(tmp_path / "none_asn.json") == "association file not found"
    assert _load_error(_asn(tmp_path, b"\xff\xfe{")).startswith("cannot read association (")
    assert _load_error(_asn(tmp_path, '{"asn_type":\n  "image3",, }')) == (
        "invalid JSON (Expecting property name enclosed in double quotes at line 2 column 12)")
    assert _load_error(_asn(tmp_path, "[" * 100000 + "]" * 100000)) == "JSON nested too deeply to be an association"
    assert _load_error(_asn(tmp_path, "[1, 2]")) == "an association is a JSON object, not list"
    assert _load_error(_asn(tmp_path, '"text"')) == "an association is a JSON object, not str"
    message = _load_error(_asn(tmp_path, '{"asn_type": "image2", "products": []}'))
    assert message == "asn_type 'image2' is not a Level-3 association (expected one of image3, spec3, coron3, ami3, tso3)"
    assert _load_error(_asn(tmp_path, '{"products": []}')).startswith("asn_type None names no pipeline and no science")
    message = _load_error(_asn(tmp_path, json.dumps({"asn_type": "image3", "products": [{"name": "x"}]})))
    assert message.startswith("not a valid association (") and len(message) < 240


@pytest.mark.parametrize("problem,shown", [(ValueError(), "ValueError"), (KeyError("x"), "'x'"),
                                           (ValueError("first line\nsecond line"), "first line"),
                                           (ValueError("y" * 300), "y" * 200)])
def test_jwsts_refusal_is_shown_by_its_first_line(example_asn, monkeypatch, problem, shown):
    import importlib

    jwst_load_asn = importlib.import_module("jwst.associations.load_asn")  # the module, not the function

    def refuse(text, **options):  # jwst.associations.load_asn(text, registry=...)
        raise problem

    monkeypatch.setattr(jwst_load_asn, "load_asn", refuse)
    assert _load_error(example_asn) == f"not a valid association ({shown})"


def test_an_association_without_products_is_refused(tmp_path, example_asn):
    raw = json.loads(example_asn.read_text())
    raw["products"] = []
    example_asn.write_text(json.dumps(raw))
    assert _load_error(example_asn) == "association has no products"


def test_a_valid_association_loads_with_its_pipeline(example_asn):
    association, pipeline = load_level3_association(str(example_asn))
    assert pipeline == "image3" and len(association["products"]) == 1


def test_association_errors_stay_on_one_line():
    assert str(AssociationError("a\nb\rc")) == "a\\nb\\rc"
    assert isinstance(AssociationError("x"), ValueError)


def test_long_lists_show_the_first_few_and_a_count():
    assert first_few(["a", "b", "c"]) == "a, b, c"
    assert first_few(["a", "b", "c", "d"]) == "a, b, c and 1 more"
    assert first_few(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert first_few(["a", "b", "c", "d"], limit=2, separator="; ") == "a; b and 2 more"
    assert first_few([]) == ""


def test_a_product_without_a_name_is_named_by_its_position():
    assert product_name({}, 3) == "product_3"
    assert product_name({"name": ""}, 0) == "product_0"
    assert product_name({"name": "jw_x"}, 3) == "jw_x"


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_members_are_found_as_named_else_at_the_closest_level(tmp_path):
    asn_dir, other = tmp_path / "asn", tmp_path / "other"
    asn_dir.mkdir()
    stem = "jw01234001001_03101_00001_nrca1"
    assert resolve_member(f"{stem}_cal.fits", asn_dir) is None
    rate = _touch(asn_dir / f"{stem}_rate.fits")
    assert resolve_member(f"{stem}_cal.fits", asn_dir) == rate
    calints = _touch(asn_dir / f"{stem}_calints.fits")
    assert resolve_member(f"{stem}_cal.fits", asn_dir) == calints  # closer to Level 2b than rate
    named = _touch(other / f"{stem}_cal.fits")
    assert resolve_member(f"{stem}_cal.fits", asn_dir, [other]) == named  # as named, even in search_path
    assert resolve_member(str(named), asn_dir) == named
    assert resolve_member(str(other / f"{stem}_i2d.fits"), asn_dir) == named  # absolute: beside it
    # a name without a product suffix has no other level
    _touch(asn_dir / "plain_cal.fits")
    assert resolve_member("plain.fits", asn_dir) is None
    # search_path holds the sibling
    uncal = _touch(other / "jw01234001001_03101_00002_nrca1_uncal.fits")
    assert resolve_member("jw01234001001_03101_00002_nrca1_cal.fits", asn_dir, [other]) == uncal


def test_members_of_each_product_by_the_types_the_pipeline_loads(tmp_path, monkeypatch):
    asn_dir, search, elsewhere = tmp_path / "asn", tmp_path / "search", tmp_path / "cwd"
    stem = "jw01234001001_03101_{:05d}_nrca1"
    beside = _touch(asn_dir / f"{stem.format(1)}_cal.fits")
    sibling = _touch(asn_dir / f"{stem.format(2)}_rate.fits")
    found_in_search = _touch(search / f"{stem.format(3)}_cal.fits")
    _touch(elsewhere / f"{stem.format(4)}_cal.fits")
    monkeypatch.chdir(elsewhere)  # an empty search_path entry is not the current directory
    association = {"products": [
        {"members": [{"expname": f"{stem.format(9)}_cal.fits", "exptype": "background"},
                     {"expname": f"{stem.format(1)}_cal.fits"},
                     {"expname": f"{stem.format(2)}_cal.fits", "exptype": "SCIENCE"},
                     {"expname": f"{stem.format(3)}_cal.fits", "exptype": "science"},
                     {"expname": f"{stem.format(4)}_cal.fits", "exptype": "science"}]},
        {"name": "second"},
    ]}
    first, second = product_members(association, "image3", asn_dir, ["", search])
    assert (first.name, first.index, second.name, second.index) == ("product_0", 0, "second", 1)
    assert first.paths == [beside, sibling, found_in_search]
    assert first.substituted == [(f"{stem.format(2)}_cal.fits", sibling)]
    assert first.missing == [f"{stem.format(4)}_cal.fits"]  # the background member is not looked for
    assert second.paths == second.missing == second.substituted == []
    (spec,) = product_members({"products": association["products"][:1]}, "spec3", asn_dir, [search])
    assert spec.missing == [f"{stem.format(9)}_cal.fits", f"{stem.format(4)}_cal.fits"]


# ---------------------------------------------------------------- members and products


def test_unreadable_and_repeated_members_are_reported(example_dir, tmp_path):
    members = sorted(example_dir.glob("*_uncal.fits"))
    missing = tmp_path / "gone_uncal.fits"
    cache = {}
    found, warnings = read_members([members[0], missing, members[0], members[1]], cache)
    assert [m.path for m in found] == [str(members[0]), str(members[0]), str(members[1])]
    assert warnings == [f"member left out: {missing}: file not found",
                        "1 member entries name a file already listed; each entry is counted, as the pipeline "
                        "loads each"]
    assert isinstance(cache[str(missing)], MetadataError) and cache[str(members[0])] is found[0]
    alone, warnings = read_members([members[0], members[0]])
    assert len(alone) == 2 and alone[0] is alone[1] and len(warnings) == 1
    # the cache is used: a file read once is not read again
    members[1].unlink()
    again, warnings = read_members([members[1]], cache)
    assert again[0] is found[2] and warnings == []


def _set_members(asn: Path, products):
    raw = json.loads(asn.read_text())
    template = raw["products"][0]
    raw["products"] = [{**template, "name": name, "members": [{"expname": e, "exptype": "science"} for e in names]}
                       for name, names in products]
    asn.write_text(json.dumps(raw))


def test_products_without_a_member_are_failures_with_the_reason(example_asn):
    names = sorted(p.name for p in example_asn.parent.glob("*_uncal.fits"))
    (example_asn.parent / "broken_cal.fits").write_text("not FITS")
    (example_asn.parent / "broken2_cal.fits").write_text("not FITS")
    _set_members(example_asn, [("good", [names[0], names[1], "jw01234001001_03101_00009_nrca1_cal.fits"]),
                               ("absent", ["jw09999001001_03101_00001_nrca1_cal.fits"]),
                               ("broken", ["broken_cal.fits", "broken2_cal.fits",
                                           "jw09999001001_03101_00002_nrca1_cal.fits"]),
                               ("empty", [])])
    pipeline, products, failures = read_association_members(example_asn)
    assert pipeline == "image3"
    ((name, members, warnings),) = products
    assert name == "good" and len(members) == 2
    assert warnings == ["1 member(s) not found beside the association or in search_path: "
                        "jw01234001001_03101_00009_nrca1_cal.fits"]
    assert failures["absent"] == ("no member found (1 member(s) not found beside the association or in "
                                  "search_path: jw09999001001_03101_00001_nrca1_cal.fits)")
    broken = failures["broken"]
    assert broken.startswith("no member found (1 member(s) not found beside the association or in search_path: "
                             "jw09999001001_03101_00002_nrca1_cal.fits; 2 member(s) left out: member left out: ")
    assert "broken_cal.fits: not a readable FITS file" in broken
    assert "; member left out: " in broken and f"{example_asn.parent / 'broken2_cal.fits'}: not a readable" in broken
    assert failures["empty"] == "no member found (the product lists no members)"


def test_substituted_members_are_reported(example_asn):
    """An association naming cal files of which only the uncal ones are at hand (the bundled
    example names its uncal files, so nothing is substituted there)."""
    names = sorted(p.name for p in example_asn.parent.glob("*_uncal.fits"))
    _set_members(example_asn, [("p", [n.replace("_uncal", "_cal") for n in names])])
    pipeline, products, failures = read_association_members(example_asn)
    ((_, members, warnings),) = products
    assert failures == {} and len(members) == 16
    assert warnings == ["16 member(s) not found as named; used the same exposures' uncal files "
                        "(e.g. jw01234001001_03101_00001_nrca1_cal.fits -> jw01234001001_03101_00001_nrca1_uncal.fits)"]


def test_substitutions_from_several_levels_and_search_path(example_asn, tmp_path):
    folder = example_asn.parent
    uncal = sorted(folder.glob("*_uncal.fits"))
    rate = uncal[1].with_name(uncal[1].name.replace("_uncal", "_rate"))
    uncal[1].rename(rate)
    search = tmp_path / "search"
    search.mkdir()
    moved = search / uncal[2].name.replace("_uncal", "_cal")
    uncal[2].rename(moved)
    named = [p.name.replace("_uncal", "_cal") for p in uncal[:3]]
    _set_members(example_asn, [("p", named)])
    _, products, failures = read_association_members(example_asn, [search])
    ((_, members, warnings),) = products
    assert len(members) == 3 and failures == {}
    assert warnings == [f"2 member(s) not found as named; used the same exposures' rate, uncal files "
                        f"(e.g. {named[0]} -> {uncal[0].name})"]
    assert members[2].path == str(moved)


def test_an_estimate_looks_for_members_in_the_search_path(example_asn, tmp_path):
    search = tmp_path / "search"
    search.mkdir()
    for member in example_asn.parent.glob("*_uncal.fits"):
        member.rename(search / member.name)
    with pytest.raises(AssociationError, match="no member found"):
        estimate_association(example_asn)
    (estimate,) = estimate_association(example_asn, search_path=[str(search)], estimator=_Estimator()).products
    assert estimate.n_members == 16 and estimate.gb_size == 2.0


def test_a_member_shared_by_products_is_read_once(example_asn, monkeypatch):
    import jwst_memest.member_metadata as member_metadata

    names = sorted(p.name.replace("_uncal", "_cal") for p in example_asn.parent.glob("*_uncal.fits"))
    _set_members(example_asn, [("a", names[:2]), ("b", names[1:3])])
    read = []
    original = member_metadata.read_exposure_metadata
    monkeypatch.setattr(member_metadata, "read_exposure_metadata", lambda path: read.append(path) or original(path))
    _, products, _ = read_association_members(example_asn)
    assert [len(members) for _, members, _ in products] == [2, 2] and len(read) == 3


def test_an_association_whose_products_have_no_member_is_one_error(example_asn):
    _set_members(example_asn, [("first", []), ("second", [])])
    with pytest.raises(AssociationError) as info:
        read_association_members(example_asn)
    assert str(info.value).endswith("(the product lists no members) (and 1 more products without a member)")
    _set_members(example_asn, [("first", []), ("second", ["x_cal.fits"]), ("third", [])])
    with pytest.raises(AssociationError) as info:
        read_association_members(example_asn)
    assert str(info.value) == (f"{example_asn}: product first: no member found (the product lists no members) "
                               "(and 2 more products without a member)")
    _set_members(example_asn, [("only", [])])
    with pytest.raises(AssociationError) as info:
        estimate_association(example_asn)
    assert str(info.value) == f"{example_asn}: product only: no member found (the product lists no members)"


def test_failed_products_are_annotated_as_failed(example_asn):
    names = sorted(p.name for p in example_asn.parent.glob("*_uncal.fits"))
    _set_members(example_asn, [("good", names[:2]), ("bad", ["x_cal.fits"])])
    result = estimate_association(example_asn, estimator=_Estimator())
    assert [p.product for p in result.products] == ["good"] and list(result.failures) == ["bad"]
    assert result.pipeline == "image3" and result.path == example_asn
    raw = json.loads(example_asn.read_text())
    raw["products"][1]["gbSize"] = 9.9
    annotated = annotate_association(raw, result.products, result.failures)
    good, bad = annotated["products"]
    assert good["gbSize"] == 2.0 and good["memory_estimate"]["upper_bound_gb"] == 3.0
    from jwst_memest import __version__

    assert "gbSize" not in bad
    assert bad["memory_estimate"] == {"status": "failed", "reason": result.failures["bad"],
                                      "jwst_memest_version": __version__}
    assert "gbSize" in raw["products"][1]  # the original is left as it was


def test_an_annotation_of_products_without_names_or_of_no_products(example_asn):
    raw = {"asn_type": "image3", "products": [{"members": []}, {"members": []}]}
    estimate = _product_estimate(product="product_1")
    annotated = annotate_association(raw, [estimate], {"product_0": "no member found"})
    first, second = annotated["products"]
    assert first["memory_estimate"]["reason"] == "no member found" and "gbSize" not in first
    assert second["gbSize"] == 1.2344 and second["memory_estimate"]["upper_bound_gb"] == 1.5001
    assert annotate_association({"asn_type": "image3"}, [estimate]) == {"asn_type": "image3"}
    # a product neither estimated nor failed is left as it is, and the next one still annotated
    untouched, annotated = annotate_association(raw, [estimate])["products"]
    assert untouched == {"members": []} and annotated["gbSize"] == 1.2344


def test_an_output_directory_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(OSError) as info:
        write_text_atomic("x", tmp_path / "missing" / "out.json")
    assert str(info.value) == f"{tmp_path / 'missing'}: output directory does not exist"
    assert write_text_atomic("text", tmp_path / "out.txt").read_text() == "text"


# ---------------------------------------------------------------- member headers


def _fits(path: Path, primary: dict, sci: dict | None = None, extra=()) -> Path:
    hdus = [fits.PrimaryHDU(header=fits.Header(list(primary.items())))]
    if sci is not None:
        hdus.append(fits.ImageHDU(name="SCI", header=fits.Header(list(sci.items()))))
    hdus.extend(extra)
    fits.HDUList(hdus).writeto(path)
    return path


def _metadata_error(path) -> str:
    with pytest.raises(MetadataError) as info:
        read_exposure_metadata(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    return message[len(str(path)) + 2:]


def test_member_errors_name_the_file_and_the_problem(tmp_path):
    assert _metadata_error(tmp_path / "none_cal.fits") == "file not found"
    (tmp_path / "text_cal.fits").write_text("not FITS at all")
    assert _metadata_error(tmp_path / "text_cal.fits").startswith("not a readable FITS file (")
    bare = _fits(tmp_path / "bare_cal.fits", {"TELESCOP": "JWST"}, {"BUNIT": "MJy/sr"})
    assert _metadata_error(bare) == "no INSTRUME or EXP_TYPE keyword; not a JWST exposure"
    # a file that does not start as FITS does is not read as one
    simple = _fits(tmp_path / "simple_cal.fits", {"INSTRUME": "NIRCAM"})
    unsimple = tmp_path / "unsimple_cal.fits"
    unsimple.write_bytes(simple.read_bytes().replace(b"SIMPLE  =", b"XIMPLE  =", 1))
    assert _metadata_error(unsimple).startswith("not a readable FITS file (No SIMPLE card found")
    # one of the two is enough
    assert read_exposure_metadata(_fits(tmp_path / "a_cal.fits", {"EXP_TYPE": "NRC_IMAGE"})).exp_type == "NRC_IMAGE"
    assert read_exposure_metadata(_fits(tmp_path / "b_cal.fits", {}, {"INSTRUME": "MIRI"})).instrument == "MIRI"


def test_a_member_whose_sci_header_is_corrupt_is_named(tmp_path):
    whole = _fits(tmp_path / "whole_cal.fits", {"INSTRUME": "NIRCAM"},
                  extra=[fits.ImageHDU(np.zeros((50, 50), np.float32), name="ERR"),
                         fits.ImageHDU(np.zeros((50, 50), np.float32), name="SCI")])
    data = whole.read_bytes()
    start = data.index(b"XTENSION", 2880 * 2)  # the SCI header, after the ERR extension
    corrupt = tmp_path / "corrupt_cal.fits"
    corrupt.write_bytes(data[:start] + b"A" * 2880 + data[start + 2880:])
    assert _metadata_error(corrupt) == "truncated or corrupt FITS (Header missing END card.)"
    assert read_exposure_metadata(whole).ncols == 50


def test_an_unparsable_card_reads_as_missing_once_with_a_warning():
    header = fits.Header.fromstring("RA_REF  = NAN" + " " * 67 + "NINTS   =                    4" + " " * 49,
                                    sep="")
    problems = []
    tolerant = _TolerantHeader(header, problems)
    assert "RA_REF" not in tolerant and tolerant.get("RA_REF", 7) == 7 and tolerant.get("RA_REF") is None
    with pytest.raises(KeyError, match="RA_REF"):
        tolerant["RA_REF"]
    assert problems == ["RA_REF: value of its card cannot be parsed, read as missing"]  # once
    assert "NINTS" in tolerant and tolerant["NINTS"] == 4 and tolerant.get("NINTS", 1) == 4
    assert "ABSENT" not in tolerant and tolerant.get("ABSENT", "d") == "d"
    assert problems == ["RA_REF: value of its card cannot be parsed, read as missing"]


def test_header_values_that_are_not_numbers_read_as_missing_with_a_warning():
    problems = []
    assert math.isnan(_as_float(None, "RA_REF", "x", problems)) and problems == []
    assert _as_float("12.5", "RA_REF", "x", problems) == 12.5 and problems == []
    assert math.isnan(_as_float("east", "RA_REF", "x", problems))
    assert problems == ["RA_REF='east' is not a number"]
    assert math.isinf(_as_float("inf", "DEC_REF", "x", problems))
    assert problems[-1] == "DEC_REF is 'inf'"
    assert _as_int("4.0", "NINTS", "x", problems) == 4 and _as_int(3.7, "NINTS", "x", problems) == 3
    assert _as_int(None, "NINTS", "x", problems) is None
    assert _as_int("many", "NINTS", "x", problems) is None and problems[-1] == "NINTS='many' is not a number"


def test_the_first_usable_value_of_a_keyword_is_taken():
    primary = {"A": None, "B": "  ", "C": " v ", "D": 0}
    sci = {"A": 5, "B": "b", "C": "w", "E": fits.card.UNDEFINED}
    assert _first([primary, sci], "A") == 5
    assert _first([primary, sci], "B") == "b"
    assert _first([primary, sci], "C") == "v"
    assert _first([primary, sci], "D") == 0
    assert _first([primary, sci], "E") is None and _first([None, sci], "Z", "A") == 5
    assert _first([primary, None], "E", "C") == "v"


@pytest.mark.parametrize("value,expected", [(1, 1), (2048, 2048), (65536, 65536), ("64", 64), (0, None),
                                            (0.5, None), (65537, None), (10.5, None), (-4, None), ("x", None),
                                            (None, None), (float("nan"), None), (float("inf"), None)])
def test_image_sizes_must_be_plausible_detector_dimensions(value, expected):
    assert _positive_int(value) == expected


def test_the_image_size_comes_from_subsize_else_the_sci_axes_else_the_full_frame():
    problems = []
    assert _image_shape({"SUBSIZE1": 64, "SUBSIZE2": 32}, {"NAXIS": 2, "NAXIS1": 10, "NAXIS2": 20}, "NRCA1",
                        problems) == (64, 32)
    assert _image_shape({}, {"NAXIS": 2, "NAXIS1": 10, "NAXIS2": 20}, "NRCA1", problems) == (10, 20)
    assert _image_shape({"SUBSIZE1": 64}, {"NAXIS": 3, "NAXIS1": 10, "NAXIS2": 20}, "NRCA1", problems) == (10, 20)
    assert problems == []
    assert _image_shape({}, {"NAXIS": 1, "NAXIS1": 10}, "NRCA1", problems) == (2048, 2048)
    assert _image_shape({}, {"NAXIS": 0}, "MIRIMAGE", problems) == (1032, 1024)
    assert _image_shape({}, None, "NRCA1", problems) == (2048, 2048)
    assert problems == []
    assert _image_shape({"SUBSIZE1": 0, "SUBSIZE2": 32}, None, "NRCA1", problems) == (2048, 2048)
    assert problems == ["image size 0 x 32 is not usable; assumed full frame"]


def test_the_slits_of_a_multi_slit_member_are_counted_from_their_headers(tmp_path):
    primary = {"INSTRUME": "NIRSPEC", "EXP_TYPE": "NRS_MSASPEC", "DETECTOR": "NRS1"}

    def sci(shape=None, **cards):
        hdu = fits.ImageHDU(None if shape is None else np.zeros(shape, np.float32), name="SCI")
        hdu.header.update(cards)
        return hdu

    slits = [sci((20, 10)), fits.ImageHDU(np.zeros((5, 5), np.float32), name="ERR"), sci(SLTSIZE1=7, SLTSIZE2=3),
             sci((4, 3)), sci(SLTSIZE2=5), sci(SLTSIZE1=9), sci((1, 6, 2))]
    meta = read_exposure_metadata(_fits(tmp_path / "jw01234001001_03101_00001_nrs1_cal.fits", primary,
                                        extra=slits))
    assert meta.n_slits == 6 and meta.tree_bytes == 0  # no ASDF extension: no serialized tree
    assert meta.slit_pixels == 200 + 21 + 12 + 0 + 0 + 12  # a slit without both sizes counts no pixels
    assert meta.science_pixels == meta.slit_pixels
    # the same file at another level, or of a single-slit mode, has no slits
    rate = _fits(tmp_path / "jw01234001001_03101_00001_nrs1_rate.fits", primary, extra=[sci((20, 10))])
    assert read_exposure_metadata(rate).n_slits == 0
    for level in ("s2d", "crf"):
        path = _fits(tmp_path / f"jw01234001001_03101_00001_nrs1_{level}.fits", primary, extra=[sci((20, 10))])
        assert read_exposure_metadata(path).n_slits == 1
    # the slits' serialized WCS and metadata: the ASDF extension's bytes, from its header
    tree = fits.BinTableHDU.from_columns([fits.Column(name="ASDF_METADATA", format="1234B",
                                                      array=np.zeros((1, 1234), np.uint8))], name="ASDF")
    path = _fits(tmp_path / "jw01234001001_03101_00002_nrs1_cal.fits", primary, extra=[sci((20, 10)), tree])
    assert read_exposure_metadata(path).tree_bytes == 1234
    image = _fits(tmp_path / "jw01234001001_03101_00001_nrca1_cal.fits", {"INSTRUME": "NIRCAM",
                                                                          "EXP_TYPE": "NRC_IMAGE"},
                  extra=[sci((20, 10)), sci((20, 10))])
    assert read_exposure_metadata(image).n_slits == 0


# ---------------------------------------------------------------- the baselines shipped


@pytest.mark.parametrize("pipeline,feature_set", [
    ("image3", "image3"), ("spec3", "spec3"), ("tso3", "spec3"), ("calwebb_coron3", "image3"), ("ami3", "image3")])
def test_each_pipeline_has_its_own_terms_and_calibrated_bound(pipeline, feature_set):
    import yaml
    from importlib import resources

    baseline = load_baseline(pipeline)
    level3 = pipeline.removeprefix("calwebb_")
    entry = yaml.safe_load(resources.files("jwst_memest.model").joinpath("baseline.yaml").read_text())["pipelines"][level3]
    n_rows = entry["upper_bound"]["n_rows"]
    assert baseline.pipeline == baseline.terms == baseline.envelope.measured_pipeline == level3
    assert baseline.feature_set == feature_set and baseline.version == str(entry["version"])
    assert baseline.name == f"physics_baseline_{level3}" and baseline.upper_bound.n_rows == n_rows >= 8
    assert baseline.envelope.feature_set == feature_set
    assert baseline.envelope.ranges and baseline.source.startswith(f"fitted to {n_rows} measured calwebb_{level3}")


def test_a_pipeline_without_terms_of_its_own_borrows_its_feature_sets_and_widens(monkeypatch):
    import jwst_memest.model.baseline as module

    raw = module._coefficients_file()
    trimmed = {"version": "9", "pipelines": {name: {k: v for k, v in entry.items() if k != "version"}
                                            for name, entry in raw["pipelines"].items() if name != "coron3"}}
    for key in ("source", "upper_bound_by_mode"):
        del trimmed["pipelines"]["tso3"][key]
    monkeypatch.setattr(module, "_coefficients_file", lambda: trimmed)
    baseline = module.load_baseline("coron3")
    assert baseline.pipeline == "coron3" and baseline.terms == "image3" and baseline.version == "9"
    assert baseline.coefficients == raw["pipelines"]["image3"]["coefficients"]
    assert set(baseline.upper_bound_by_mode) == {"MIR_IMAGE", "NIS_IMAGE", "NRC_IMAGE"}
    assessment = baseline.assess(_features().values)
    assert not assessment.calibrated and assessment.factor >= 1.25
    assert "no measured calwebb_coron3 runs: estimated with the calwebb_image3 terms" in assessment.reasons[0]
    assert load_baseline("image3").assess(_features().values).calibrated
    bare = module.load_baseline("tso3")  # an entry without a source or calibrations per mode
    assert bare.source == "" and bare.upper_bound_by_mode == {} and bare.version == "9"
