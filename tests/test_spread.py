"""The margin in bytes: measured from repeated runs in several environments, added to every bound."""

import csv

import numpy as np
import pytest
import yaml

from jwst_memest.estimation import estimate_association
from jwst_memest.model.baseline import GB, load_baseline
from jwst_memest.profile.spread import SPREAD_COLUMNS, install_margin, margin_bytes, spread_by_pipeline


def _write_runs(path, runs):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SPREAD_COLUMNS)
        writer.writeheader()
        for run_id, pipeline, environment, repeat, gb in runs:
            writer.writerow({"run_id": run_id, "pipeline": pipeline, "environment": environment, "versions": "{}",
                             "repeat": repeat, "status": "ok", "measured_gb": gb, "wall_s": 1.0})


def test_the_spread_separates_environments_from_repeats(tmp_path):
    path = tmp_path / "spread.csv"
    _write_runs(path, [
        ("a", "ami3", "env1", 0, 0.3850), ("a", "ami3", "env1", 1, 0.3848), ("a", "ami3", "env1", 2, 0.3849),
        ("a", "ami3", "env2", 0, 0.3808), ("a", "ami3", "env2", 1, 0.3961), ("a", "ami3", "env2", 2, 0.3813),
        ("b", "tso3", "env1", 0, 0.3287), ("b", "tso3", "env2", 0, 0.3244),
    ])
    summary = spread_by_pipeline(path)
    assert summary["ami3"]["repeat_bytes"] == pytest.approx(15.3e6)
    assert summary["ami3"]["environment_bytes"] == pytest.approx(3.6e6)  # medians 0.3849 and 0.3813
    assert summary["ami3"]["spread_bytes"] == pytest.approx(15.3e6)
    assert summary["tso3"]["environment_bytes"] == pytest.approx(4.3e6)
    assert margin_bytes(summary) == pytest.approx(4.3e6 + 15.3e6)


def test_installing_the_margin_keeps_the_coefficients(tmp_path):
    path = tmp_path / "baseline.yaml"
    path.write_text(yaml.safe_dump({"pipelines": {"image3": {"version": "8", "coefficients": {"base_bytes": 1.0}}}}))
    summary = {"image3": {"environment_bytes": 5.0e6, "repeat_bytes": 8.9e6, "spread_bytes": 1.0, "runs": 2}}
    assert install_margin(summary, path, "test runs") == pytest.approx(13.9e6)
    written = yaml.safe_load(path.read_text())
    assert written["environment_margin"] == {"bytes": 13.9e6, "source": "test runs"}
    assert written["pipelines"]["image3"]["coefficients"] == {"base_bytes": 1.0}


def test_every_bound_holds_the_margin_above_its_ratio(example_asn):
    baseline = load_baseline("image3")
    assert baseline.margin_bytes > 0
    estimate = estimate_association(example_asn).products[0]
    assert estimate.bound_margin_gb == pytest.approx(baseline.margin_bytes / GB)
    factor = baseline.upper_bound_by_mode["NRC_IMAGE"].factor(0.95)  # the example is NIRCam imaging
    assert estimate.upper_bound_gb == pytest.approx(estimate.gb_size * factor + estimate.bound_margin_gb)
    assert estimate.annotation()["upper_bound_margin_gb"] == pytest.approx(baseline.margin_bytes / GB, abs=1e-4)
    for alternative in estimate.alternatives:
        assert alternative["upper_bound_gb"] >= alternative["gbSize"] + estimate.bound_margin_gb - 1e-4


def test_a_small_job_bound_sits_the_margin_above_its_estimate():
    baseline = load_baseline("ami3")
    X = np.zeros((1, len(baseline.feature_names)))
    X[0, baseline.feature_names.index("n_integrations")] = 8
    gb, upper = baseline.estimate(X, 0.95)
    assert upper[0] - gb[0] * baseline.upper_bound.factor(0.95) == pytest.approx(baseline.margin_gb)


@pytest.mark.slow
def test_the_same_small_run_measured_twice_in_this_environment(tmp_path):
    import shutil

    from jwst_memest.profile.spread import measure_spread

    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"groups": [{"name": "spread-test", "base": {
        "detectors": ["NRCB4"], "filter": "F070W", "pupil": "CLEAR", "subarray": "SUB160",
        "subarray_shape": [160, 160], "dither_points": 2}}]}))
    out = tmp_path / "spread.csv"
    assert measure_spread(plan, out, [shutil.which("strun")], repeats=2) == 2
    assert measure_spread(plan, out, [shutil.which("strun")], repeats=2) == 0  # resumable: nothing left to run
    summary = spread_by_pipeline(out)
    assert summary["image3"]["runs"] == 2 and summary["image3"]["environment_bytes"] == 0.0
    assert 0.0 <= summary["image3"]["repeat_bytes"] < 50e6


def test_a_run_made_again_in_another_session_is_another_environment(tmp_path):
    import pandas as pd

    from jwst_memest.profile.spread import SPREAD_COLUMNS, session_runs, spread_by_pipeline

    columns = ["run_id", "pipeline", "status", "measured_gb", "wall_s"]
    corpus, timing = tmp_path / "corpus", tmp_path / "corpus" / "timing"
    timing.mkdir(parents=True)
    pd.DataFrame([["deep", "image3", "ok", 1.677, 961.0], ["small", "image3", "ok", 0.50, 10.0],
                  ["failed", "image3", "exit 1", 0.0, 1.0]], columns=columns).to_csv(corpus / "image3.csv", index=False)
    pd.DataFrame([["deep", "image3", "ok", 1.778, 480.0], ["small", "image3", "ok", 0.499, 8.0],
                  ["failed", "image3", "ok", 0.9, 1.0], ["new", "image3", "ok", 2.0, 5.0]],
                 columns=columns).to_csv(timing / "image3.csv", index=False)
    sessions = session_runs([timing / "image3.csv"], corpus)
    assert list(sessions.columns) == SPREAD_COLUMNS
    assert sorted(set(sessions["run_id"])) == ["deep", "small"]  # measured successfully both times
    spread = tmp_path / "spread.csv"
    pd.DataFrame([["amp", "ami3", "a", "", 0, "ok", 0.3854, 1.0], ["amp", "ami3", "b", "", 0, "ok", 0.3808, 1.0]],
                 columns=SPREAD_COLUMNS).to_csv(spread, index=False)
    assert spread_by_pipeline(spread)["ami3"]["environment_bytes"] == pytest.approx(4.6e6)
    summary = spread_by_pipeline(spread, sessions)
    assert summary["image3"]["environment_bytes"] == pytest.approx(101e6)
    assert summary["ami3"]["environment_bytes"] == pytest.approx(4.6e6)


def test_a_run_made_again_with_other_arguments_is_not_another_session(tmp_path):
    import pandas as pd

    from jwst_memest.profile.spread import comparable_arguments, session_runs

    whole = "--steps.cube_build.override_cubepar=/tmp/memest-corpus-{}/refs/cubepar.fits --steps.photom.skip=true"
    first = pd.DataFrame([
        {"run_id": "same", "pipeline": "spec3", "status": "ok", "measured_gb": 2.60, "wall_s": 50.0,
         "pipeline_args": whole.format("aaaa")},
        {"run_id": "skipped", "pipeline": "spec3", "status": "ok", "measured_gb": 2.20, "wall_s": 8.0,
         "pipeline_args": "--steps.cube_build.skip=true"}])
    again = first.assign(measured_gb=[2.61, 2.44], pipeline_args=[whole.format("bbbb"), whole.format("cccc")])
    (tmp_path / "timing").mkdir()
    first.to_csv(tmp_path / "spec3.csv", index=False)
    again.to_csv(tmp_path / "timing" / "spec3.csv", index=False)
    # the scratch directory differs from run to run; a step skipped the first time is another configuration
    assert comparable_arguments(whole.format("aaaa")) == comparable_arguments(whole.format("bbbb"))
    sessions = session_runs([tmp_path / "timing" / "spec3.csv"], tmp_path)
    assert set(sessions["run_id"]) == {"same"} and len(sessions) == 2
