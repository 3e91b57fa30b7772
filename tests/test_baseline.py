"""The physics baseline and calibrated upper bounds."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from image3_rows import image3_rows

from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.baseline import GB, GIB, PhysicsBaseline, load_baseline
from jwst_memest.model.upper import UpperBound


def _estimate(tmp_path, layout, pipeline="image3", in_memory=True):
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / str(id(layout)))]
    vector = product_features(members, pipeline, in_memory).vector()
    return load_baseline(pipeline).estimate(vector[None, :], 0.95)


def test_on_disk_is_cheaper_and_grows_with_members(tmp_path):
    small, _ = _estimate(tmp_path, ExposureLayout(dither_points=2))
    large, _ = _estimate(tmp_path, ExposureLayout(dither_points=8))
    on_disk, _ = _estimate(tmp_path, ExposureLayout(dither_points=8), in_memory=False)
    assert small[0] < large[0] and on_disk[0] < large[0]


def test_in_memory_false_measured_run_within_ten_percent(tmp_path):
    # 8 NIRCam SW exposures on a 4 x 2 grid of 40" steps, in_memory=False: measured 1.98 GB peak
    gb, upper = _estimate(tmp_path, ExposureLayout(mosaic_tiles=(4, 2), tile_step_arcsec=40.0), in_memory=False)
    assert gb[0] * GB / GIB == pytest.approx(1.98, rel=0.10)
    assert upper[0] >= gb[0]


def test_spec3_baseline_runs(tmp_path):
    layout = ExposureLayout(detectors=("MIRIFUSHORT",), exp_type="MIR_MRS", filter="N/A", pupil="N/A",
                            channel="12", band="SHORT", dither_points=4)
    gb, upper = _estimate(tmp_path, layout, pipeline="spec3")
    assert 1.0 < gb[0] < 5.0 and upper[0] > gb[0]


def test_spec3_ifu_pays_outlier_detection_fixed_cost_slit_does_not(tmp_path):
    # measured here: 4 MIRI MRS exposures peak at 2.3-2.4 GB with cube_build and extract_1d, 4 MIRI LRS nods
    # at 0.54 GB (same 1024 x 1032 detector)
    common = dict(detectors=("MIRIFUSHORT",), filter="N/A", pupil="N/A", dither_points=4)
    mrs, _ = _estimate(tmp_path, ExposureLayout(exp_type="MIR_MRS", channel="12", band="SHORT", **common), "spec3")
    lrs, _ = _estimate(tmp_path, ExposureLayout(**{**common, "detectors": ("MIRIMAGE",)}, exp_type="MIR_LRS-FIXEDSLIT"),
                       "spec3")
    assert mrs[0] == pytest.approx(2.35, rel=0.05) and lrs[0] == pytest.approx(0.54, rel=0.05)


def test_nirspec_ifu_pays_its_whole_detector_median_filter(tmp_path):
    # measured here: 4 NIRSpec IFU G395H exposures on NRS1 peak at 8.85 GB, outlier detection's median filter
    # over the 2048 x 2048 detector; the estimate the MIRI-only fit gave was 3.3 GB
    layout = ExposureLayout(detectors=("NRS1",), exp_type="NRS_IFU", grating="G395H", filter="F290LP", pupil="N/A",
                            dither_points=4, dither_step_arcsec=0.25, suffix="cal")
    gb, upper = _estimate(tmp_path, layout, "spec3")
    assert gb[0] == pytest.approx(8.85, rel=0.03) and upper[0] >= 8.85


def _assess(tmp_path, layout, pipeline):
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / str(id(layout)))]
    return load_baseline(pipeline).assess(product_features(members, pipeline, True).values)


def test_the_installed_baseline_knows_what_its_runs_cover(tmp_path):
    inside = _assess(tmp_path, ExposureLayout(dither_points=2), "image3")
    assert inside.calibrated and inside.reasons == [] and inside.factor == 1.0
    # coron3 has runs of its own, of coronagraphic exposure types only
    coron = _assess(tmp_path, ExposureLayout(dither_points=2), "coron3")
    assert not coron.calibrated and coron.reasons[0].startswith("no measured runs of NRC_IMAGE")
    assert coron.factor >= 1.25
    bright = _assess(tmp_path, ExposureLayout(detectors=("NRS1",), exp_type="NRS_BRIGHTOBJ", filter="CLEAR",
                                              pupil="N/A"), "spec3")
    assert not bright.calibrated and bright.reasons[0].startswith("no measured runs of NRS_BRIGHTOBJ")
    for exp_type in ("NRS_IFU", "MIR_MRS", "NRS_MSASPEC", "NRS_FIXEDSLIT", "NIS_WFSS", "NRC_WFSS", "MIR_LRS-FIXEDSLIT"):
        assert exp_type in load_baseline("spec3").envelope.ranges, exp_type


def test_baseline_checksum_identifies_its_coefficients():
    from jwst_memest.model.baseline import PhysicsBaseline

    baseline = load_baseline("image3")
    assert len(baseline.checksum) == 64 and load_baseline("image3").checksum == baseline.checksum
    changed = PhysicsBaseline("image3", {**baseline.coefficients, "resample_out": 1.0}, baseline.upper_bound,
                              baseline.version)
    assert changed.checksum != baseline.checksum != load_baseline("spec3").checksum


def test_upper_bound_calibration():
    rng = np.random.default_rng(1)
    estimated = rng.uniform(1, 10, 1000)
    measured = estimated * rng.uniform(0.9, 1.2, 1000)
    bound = UpperBound.from_measurements(measured, estimated, source="test")
    assert bound.n_rows == 1000
    assert bound.factor(0.95) == pytest.approx(1.19, abs=0.01)
    assert np.mean(measured > estimated * bound.factor(0.95)) == pytest.approx(0.05, abs=0.01)
    assert all(np.diff(bound.factors) >= 0) and min(bound.factors) >= 1.0
    assert UpperBound.from_tree(bound.to_tree()) == bound
    with pytest.raises(ValueError):
        bound.factor(1.5)
    with pytest.raises(ValueError):
        UpperBound((0.9, 0.5), (1.0, 1.1), 3)


def test_leave_one_out_factors_judge_each_row_by_a_bound_it_did_not_calibrate():
    # 20 rows: the 95 % bound calibrated on all of them is their largest ratio, so it never fails
    # on them; judged without itself, the row with the largest ratio exceeds the others' bound
    estimated = np.ones(20)
    measured = np.linspace(1.0, 1.19, 20)
    full = UpperBound.from_measurements(measured, estimated).factor(0.95)
    assert not np.any(measured > estimated * full)
    loo = UpperBound.leave_one_out_factors(measured, estimated, 0.95)
    assert loo.shape == (20,) and loo[-1] == pytest.approx(1.18) and np.all(loo[:-1] == pytest.approx(1.19))
    assert np.sum(measured > estimated * loo) == 1


def test_measured_step_peaks_pin_the_stages_that_never_set_the_peak():
    from pathlib import Path

    from jwst_memest.model.baseline import PhysicsBaseline
    from jwst_memest.profile.fit import fit_baseline, load_measured

    corpus = Path(__file__).parent.parent / "data" / "corpus" / "spec3-ifu.csv"
    X, _, _, _ = load_measured([corpus], "spec3")
    start = load_baseline("spec3")
    # a world whose cube_build needs three times what the installed terms say, yet stays below
    # outlier detection's peak, so the runs' peaks alone say little about it
    truth = PhysicsBaseline("spec3", {**start.coefficients, "cube_per_voxel": 3 * start.coefficients["cube_per_voxel"]},
                            start.upper_bound, "truth")
    stages = truth.stages(X)
    assert np.all(stages["cube_build"] < stages["outlier_detection"])
    measured = truth.predict(X)
    peaks = [{"cube_build": stages["cube_build"][i] / GB, "outlier_detection": stages["outlier_detection"][i] / GB}
             for i in range(len(X))]
    blind = fit_baseline(X, measured, start)["cube_per_voxel"]
    informed = fit_baseline(X, measured, start, peaks)["cube_per_voxel"]
    wanted = truth.coefficients["cube_per_voxel"]
    assert abs(informed - wanted) < 0.05 * wanted
    assert abs(blind - wanted) > 0.2 * wanted


def test_a_sources_products_are_paid_once_whatever_the_exposures():
    from jwst_memest.features.schema import load_schema
    from jwst_memest.model.baseline import MEMBERS_STAGE, PhysicsBaseline

    installed = load_baseline("spec3")
    only_sources = {name: 0.0 for name in installed.coefficients} | {"per_source_bytes": 1e6}
    baseline = PhysicsBaseline("spec3", only_sources, installed.upper_bound, "test")
    schema = load_schema("spec3")

    def resident(members, sources):
        values = {"exp_type": "NIS_WFSS", "n_members": members, "n_slits": sources, "total_input_bytes": 0.0,
                  "member_pixels": 0.0, "output_pixels": 0.0, "cube_pixels": 0.0}
        return baseline.stages(schema.encode(values)[None, :])[MEMBERS_STAGE][0]

    assert resident(2, 50) == resident(8, 50) == 50e6
    assert resident(2, 100) == 100e6
    assert installed.coefficients["per_source_bytes"] > 0


def _image3_rows(tmp_path):
    rows = []
    for points in (2, 8):
        layout = ExposureLayout(dither_points=points)
        members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / str(points))]
        rows.append(product_features(members, "image3").vector())
    return np.vstack(rows)


def _tso3_rows():
    from jwst_memest.features.schema import load_schema

    schema = load_schema("spec3")
    return np.vstack([schema.encode({"exp_type": "NRC_TSGRISM", "n_members": 1, "n_integrations": n,
                                     "total_input_bytes": n * 2048 * 64 * 4 * 5.0, "member_pixels": 2048 * 64.0})
                      for n in (50, 500)])


def test_every_estimator_offers_the_same_interface(tmp_path):
    """The baseline and a bundle both answer what the step asks of an estimator, on real feature rows:
    their identity, their feature names, one estimate per row and an upper bound above it."""
    from bundles import write_random_bundle

    from jwst_memest.features.schema import load_schema
    from jwst_memest.model.bundle import load_bundle
    from jwst_memest.model.estimator import MemoryEstimator

    image3 = _image3_rows(tmp_path)
    estimators = [(load_baseline("image3"), image3), (load_baseline("tso3"), _tso3_rows()),
                  (load_bundle(write_random_bundle(tmp_path / "b.asdf")), image3)]
    for estimator, X in estimators:
        assert isinstance(estimator, MemoryEstimator)
        assert estimator.kind in ("physics_baseline", "mlp", "hybrid")
        assert all(isinstance(getattr(estimator, a), str) and getattr(estimator, a)
                   for a in ("name", "version", "pipeline", "feature_set", "checksum"))
        assert estimator.feature_names == load_schema(estimator.feature_set).names
        assert isinstance(estimator.upper_bound, UpperBound)
        gb = estimator.predict(X)
        assert gb.shape == (len(X),) and np.all(np.isfinite(gb)) and np.all(gb > 0)
        estimate, upper = estimator.estimate(X, 0.95)
        assert estimate.shape == upper.shape == (len(X),)
        np.testing.assert_allclose(estimate, gb)
        assert np.all(upper >= estimate)
        assert np.all(estimator.estimate(X, 0.5)[1] <= upper)  # a lower quantile, a bound no higher
    assert not isinstance(object(), MemoryEstimator)


def test_fit_sets_the_coefficients_that_reproduce_the_runs_and_returns_the_estimator():
    start = load_baseline("image3")
    truth = PhysicsBaseline("image3", {k: v * 1.2 for k, v in start.coefficients.items()}, start.upper_bound, "truth")
    X = image3_rows(start.schema.names, np.random.default_rng(3), 60, 16, [640**2, 2048**2], 6)
    checksum = start.checksum
    fitted = start.fit(X, truth.predict(X))
    assert fitted is start
    assert np.allclose(fitted.predict(X), truth.predict(X), rtol=0.02)
    assert fitted.checksum != checksum
