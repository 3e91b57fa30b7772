"""Ground-truth tooling: the memory monitor, synthetic exposures, the append-only corpus and the baseline fit."""

import csv
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from image3_rows import image3_rows

from jwst_memest.exposures import ExposureLayout
from jwst_memest.profile import corpus as corpus_module
from jwst_memest.profile.corpus import Configuration, expand_plan
from jwst_memest.profile.monitor import measure
from jwst_memest.profile.run import CORPUS_COLUMNS, append_row, finished_run_ids


def test_monitor_measures_a_known_allocation():
    allocate = "import numpy as np, time; a = np.ones(400_000_000 // 8); time.sleep(2.0)"
    result = measure([sys.executable, "-c", allocate], interval=0.05)
    assert result.returncode == 0
    assert 0.4 < result.peak_gb < 0.6
    assert 0.3 < result.peak_sampled_gb <= result.peak_gb * 1.05


def test_monitor_is_not_fooled_by_a_large_parent():
    # the kernel carries a parent's high-water mark across exec: a 1 GB parent must not show
    ballast = np.ones(1_000_000_000 // 8)
    result = measure([sys.executable, "-c", "import numpy as np, time; a = np.ones(200_000_000 // 8); time.sleep(1)"])
    assert 0.2 < result.peak_gb < 0.45
    del ballast


def test_monitor_reports_failures_and_timeouts():
    assert measure([sys.executable, "-c", "raise SystemExit(3)"]).returncode == 3
    killed = measure([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1)
    assert killed.returncode == -9 and killed.wall_s < 10


def test_monitor_kills_a_run_that_outgrows_its_memory_limit():
    grow = "import numpy as np, time; a = np.ones(600_000_000 // 8); time.sleep(30)"
    stopped = measure([sys.executable, "-c", grow], interval=0.05, rss_limit_gb=0.3)
    assert stopped.over_limit and stopped.returncode == -9 and stopped.wall_s < 20
    within = measure([sys.executable, "-c", "pass"], rss_limit_gb=0.3)
    assert within.returncode == 0 and not within.over_limit


def _gone(pid: int) -> bool:
    import psutil

    for _ in range(100):
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def _profiling_a_sleeper(tmp_path, measure_it: str) -> tuple[subprocess.Popen, int]:
    """A profiler process measuring a sleeping command, and the command's pid once it runs.

    ``measure_it`` is the profiler's code; ``{command}`` in it stands for the command's list.
    """
    pid_file = tmp_path / "run.pid"
    sleeper = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    command = f'[sys.executable, "-c", {sleeper!r}, {str(pid_file)!r}]'
    parent = subprocess.Popen([sys.executable, "-c", "import sys\n" + measure_it.format(command=command)])
    for _ in range(300):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    return parent, int(pid_file.read_text())


def test_a_profiler_killed_outright_takes_its_run_with_it(tmp_path):
    parent, run_pid = _profiling_a_sleeper(tmp_path, """
from jwst_memest.profile.monitor import measure
measure({command})
""")
    parent.kill()  # SIGKILL: no handler, no finally
    parent.wait(timeout=30)
    assert _gone(run_pid), "the measured command outlived a profiler killed with SIGKILL"


def test_a_terminated_profiler_kills_its_run_and_removes_its_scratch(tmp_path):
    parent, run_pid = _profiling_a_sleeper(tmp_path, f"""
import tempfile
from jwst_memest.profile.monitor import exit_on_termination, measure
with exit_on_termination():
    with tempfile.TemporaryDirectory(prefix="memest-run-", dir={str(tmp_path)!r}):
        measure({{command}})
""")
    parent.terminate()
    assert parent.wait(timeout=30) == 128 + signal.SIGTERM
    assert _gone(run_pid), "the measured command outlived its profiler"
    assert not list(tmp_path.glob("memest-run-*"))


def test_plan_expansion_is_stable():
    plan = {"groups": [{"name": "g", "base": {"detectors": ["NRCA1"]}, "vary": {"dither_points": [2, 4], "in_memory": [True, False]}}]}
    first, second = expand_plan(plan), expand_plan(plan)
    assert [c.run_id for c in first] == [c.run_id for c in second]
    assert len({c.run_id for c in first}) == 4
    assert sorted(c.in_memory for c in first) == [False, False, True, True]


def test_corpus_is_append_only_and_resumable(tmp_path, monkeypatch):
    plan = tmp_path / "plan.yaml"
    plan.write_text("groups:\n  - name: g\n    base: {detectors: [NRCA1], subarray: SUB64P, subarray_shape: [64, 64]}\n"
                    "    vary: {dither_points: [2, 3, 4]}\n")
    corpus = tmp_path / "corpus.csv"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    def fake_run(configuration, scratch_root=None, timeout=3600, rss_limit_gb=None):  # runs in a dask worker
        # the guard that admitted the run also stops it when it outgrows the guard; the run's scratch is
        # under the build's own folder, which the build removes even when a worker cannot
        status = "ok" if rss_limit_gb == 14.0 else f"no memory limit passed: {rss_limit_gb}"
        if not str(scratch_root).startswith(str(temporary / "memest-corpus-runs-")):
            status = f"scratch outside the build's folder: {scratch_root}"
        return {"run_id": configuration.run_id, "status": status, "measured_gb": 1.0, "split": "train"}

    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(corpus_module, "run_configuration", fake_run)
    assert corpus_module.build_corpus(plan, corpus, limit=2, memory_guard_gb=14.0) == 2
    assert set(pd.read_csv(corpus)["status"]) == {"ok"}
    first_bytes = corpus.read_bytes()
    assert corpus_module.build_corpus(plan, corpus) == 1  # only the missing run
    assert not list(temporary.glob("memest-corpus-runs-*"))  # the builds' folders are gone
    assert corpus.read_bytes().startswith(first_bytes)  # finished rows untouched
    assert len(finished_run_ids(corpus)) == 3
    assert len(corpus.read_text().splitlines()) == 4  # header + one row per run, none repeated
    with corpus.open() as handle:
        assert csv.DictReader(handle).fieldnames == CORPUS_COLUMNS


def test_chosen_configurations_are_measured_again_and_an_unknown_one_refused(tmp_path, monkeypatch, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("groups:\n  - name: g\n    base: {detectors: [NRCA1], subarray: SUB64P, subarray_shape: [64, 64]}\n"
                    "    vary: {dither_points: [2, 3, 4]}\n")
    monkeypatch.setattr(corpus_module, "run_configuration", lambda configuration, **_: {
        "run_id": configuration.run_id, "status": "ok", "measured_gb": 1.0, "split": "train"})
    monkeypatch.setattr(corpus_module, "pipeline_runner", lambda: "strun")
    chosen = [c.run_id for c in expand_plan(corpus_module.load_plan(plan))][1:]
    again = tmp_path / "again.csv"
    assert corpus_module.main(["--plan", str(plan), "--out", str(again), "--run-ids", *chosen]) == 0
    assert sorted(pd.read_csv(again)["run_id"]) == sorted(chosen)
    assert corpus_module.main(["--plan", str(plan), "--out", str(again), "--run-ids", "g-nosuchrun"]) == 2
    assert "no configuration 'g-nosuchrun' in the plan" in capsys.readouterr().err
    assert len(pd.read_csv(again)) == 2  # nothing run for the refused call


def test_corpus_without_strun_refuses_before_running_anything(tmp_path, monkeypatch, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("groups:\n  - name: g\n    base: {detectors: [NRCA1], subarray: SUB64P, subarray_shape: [64, 64]}\n")
    corpus = tmp_path / "corpus.csv"
    monkeypatch.setenv("PATH", str(tmp_path / "no-commands-here"))
    for step in ("_guard", "run_configuration"):
        monkeypatch.setattr(corpus_module, step, lambda *a, **k: pytest.fail("must not run"))
    assert corpus_module.main(["--plan", str(plan), "--out", str(corpus)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: strun: not found on PATH") and "\n" not in error
    assert not corpus.exists()


def test_profile_run_options_after_the_association_are_its_own(example_asn, tmp_path, monkeypatch):
    from jwst_memest.profile import run

    calls = []

    def fake_profile(asn, pipeline_args, run_id, pipeline):
        calls.append(pipeline_args)
        return {"run_id": "r", "product": "p", "status": "ok", "measured_gb": 1.0, "wall_s": 1.0}

    monkeypatch.setattr(run, "profile_association", fake_profile)
    corpus = tmp_path / "mine.csv"
    assert run.main([str(example_asn), "--corpus", str(corpus), "--", "--in_memory=false"]) == 0
    assert calls == [["--in_memory=false"]]
    assert finished_run_ids(corpus) == {"r"}


def test_profile_run_without_strun_refuses(example_asn, tmp_path, monkeypatch, capsys):
    from jwst_memest.profile.run import main

    monkeypatch.setenv("PATH", str(tmp_path / "no-commands-here"))
    assert main([str(example_asn), "--corpus", str(tmp_path / "c.csv")]) == 2
    assert capsys.readouterr().err.startswith("python -m jwst_memest.profile run: error: strun: not found on PATH")
    assert not (tmp_path / "c.csv").exists()


def test_memory_guard_skips_oversized_runs(tmp_path, monkeypatch):
    plan = tmp_path / "plan.yaml"
    plan.write_text("groups:\n  - name: big\n    base: {detectors: [NRCA1], mosaic_tiles: [8, 8], tile_step_arcsec: 60}\n")
    monkeypatch.setattr(corpus_module, "run_configuration", lambda *a, **k: pytest.fail("must not run"))
    corpus = tmp_path / "corpus.csv"
    assert corpus_module.build_corpus(plan, corpus, memory_guard_gb=2.0) == 1
    with corpus.open() as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["status"].startswith("skipped: upper bound")


def test_synthetic_cal_exposure_is_what_image3_needs(tmp_path):
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.synthetic import write_cal_exposures

    layout = ExposureLayout(detectors=("NRCA1", "NRCA2"), subarray="SUB64P", subarray_shape=(96, 64), dither_points=2)
    paths = write_cal_exposures(layout, tmp_path, seed=1)
    assert len(paths) == 4
    with datamodels.open(paths[0]) as model:
        assert model.data.shape == (64, 96) and model.dq.dtype == np.uint32
        for name in ("err", "var_poisson", "var_rnoise", "var_flat", "area"):
            assert getattr(model, name).shape == (64, 96)
        assert len(model.meta.wcs.available_frames) >= 3
        assert model.meta.wcsinfo.s_region.startswith("POLYGON")
        assert model.meta.target.catalog_name == layout.target_name
        ra, dec = model.meta.wcs(47.5, 31.5)
        assert ra == pytest.approx(model.meta.wcsinfo.ra_ref) and dec == pytest.approx(model.meta.wcsinfo.dec_ref)
        assert model.data.max() > 10 * np.median(model.data)  # stars and cosmic rays are there
    # the headers alone give the same product features as the header-only exposures would
    from jwst_memest.metadata import read_exposure_metadata

    meta = read_exposure_metadata(paths[0])
    assert (meta.ncols, meta.nrows, meta.level) == (96, 64, "cal")
    assert meta.pixel_scale == pytest.approx(0.0311, rel=1e-3)


def test_source_catalog_references_validate(tmp_path):
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.imaging_references import write_source_catalog_references

    for instrument, pupil, subarray in (("NIRCAM", "CLEAR", "FULL"), ("MIRI", None, "FULL"), ("NIRISS", "F200W", "FULL")):
        apcorr, abvega = write_source_catalog_references(instrument, "F150W", pupil, subarray, tmp_path / instrument)
        with datamodels.open(apcorr) as model:
            table = model.apcorr_table
            assert np.all(table["filter"] == "F150W")
        with datamodels.open(abvega) as model:
            assert list(model.abvega_offset["filter"]) == ["F150W"]


def test_baseline_fit_recovers_known_coefficients():
    from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
    from jwst_memest.model.fitting import TERMS
    from jwst_memest.profile.fit import fit_baseline

    start = load_baseline("image3")
    factors = (1.2, 0.8, 1.1, 0.9, 1.0, 1.3, 0.7, 1.4, 0.85, 1.15)
    truth = {k: v * f for (k, v), f in zip(start.coefficients.items(), factors, strict=True)}
    X = image3_rows(start.schema.names, np.random.default_rng(0), 80, 20, [640**2, 1032 * 1024, 2048**2], 8)
    measured = PhysicsBaseline("image3", truth, start.upper_bound, "truth").predict(X)
    fitted = fit_baseline(X, measured, start)
    predicted = PhysicsBaseline("image3", fitted, start.upper_bound, "fit").predict(X)
    assert np.allclose(predicted, measured, rtol=0.02)
    assert set(fitted) == set(TERMS["image3"])


@pytest.mark.slow
def test_end_to_end_profile_of_a_real_pipeline_run(tmp_path):
    config = Configuration("slow-test", {"detectors": ["NRCA1"], "subarray": "SUB640", "subarray_shape": [640, 640],
                                         "dither_points": 2})
    row = corpus_module.run_configuration(config, scratch_root=str(tmp_path))
    assert row["status"] == "ok", row
    assert 0.25 < row["measured_gb"] < 2.0
    assert row["n_members"] == 2 and json.loads(row["layout"])["dither_points"] == 2
    times = json.loads(row["step_times"])  # each step's seconds, for wall-time terms per step
    assert {"resample", "source_catalog"} <= set(times) and sum(times.values()) < row["wall_s"]


@pytest.mark.slow
def test_end_to_end_profile_of_a_spec3_lrs_run(tmp_path):
    config = Configuration("slow-lrs-test", {"detectors": ["MIRIMAGE"], "exp_type": "MIR_LRS-FIXEDSLIT",
                                             "filter": "P750L", "pupil": "N/A", "dither_points": 2})
    row = corpus_module.run_configuration(config, scratch_root=str(tmp_path))
    assert row["status"] == "ok", row
    assert row["pipeline"] == "spec3" and 0.25 < row["measured_gb"] < 2.0


# one interpreter a bad association: the default run starts one; test_bad_input_corpus's
# test_profile_run_refuses_before_running_anything checks every bad association in-process
@pytest.mark.parametrize("content", [None, pytest.param("{not json", marks=pytest.mark.slow),
                                     pytest.param('{"asn_type": "image2", "products": []}', marks=pytest.mark.slow)])
def test_profile_run_refuses_bad_associations_in_one_line(tmp_path, content):
    import subprocess

    asn = tmp_path / "x_asn.json"
    if content is not None:
        asn.write_text(content)
    result = subprocess.run([sys.executable, "-m", "jwst_memest.profile", "run", str(asn), "--corpus",
                             str(tmp_path / "c.csv")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert str(asn) in result.stderr and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "c.csv").exists()


def test_profile_run_refuses_an_association_with_a_product_it_cannot_estimate(example_asn, tmp_path, capsys):
    from jwst_memest.profile.run import main

    raw = json.loads(example_asn.read_text())
    raw["products"].append(dict(raw["products"][0], name="absent", members=[{"expname": "jw0_absent_cal.fits",
                                                                              "exptype": "science"}]))
    example_asn.write_text(json.dumps(raw))
    assert main([str(example_asn), "--corpus", str(tmp_path / "c.csv")]) == 2
    error = capsys.readouterr().err.strip()
    assert "product absent: no member found" in error and "\n" not in error
    assert not (tmp_path / "c.csv").exists()


def test_fit_baseline_pools_corpora_ignores_failed_runs_and_writes_yaml(tmp_path):
    import pandas as pd
    import yaml

    from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
    from jwst_memest.profile import fit
    from jwst_memest.profile.run import CORPUS_COLUMNS

    # real feature rows, labelled by a known baseline: the fit must give back its estimates
    corpus = Path(__file__).parents[1] / "data" / "corpus" / "image3.csv"
    if not corpus.is_file():
        pytest.skip("measured corpus not present")
    start = load_baseline("image3")
    truth = PhysicsBaseline("image3", {k: v * 1.1 for k, v in start.coefficients.items()}, start.upper_bound, "t")
    X, _, _, table = fit.load_measured(corpus)
    table = table.assign(measured_gb=truth.predict(X))
    failed = table.iloc[:1].assign(status="exit 1", measured_gb=0.01)  # a failed run has no label
    halves = [tmp_path / "a.csv", tmp_path / "b.csv"]
    columns = [c for c in CORPUS_COLUMNS if c in table.columns]  # image3 runs have no spec3-only columns
    pd.concat([table.iloc[::2], failed]).to_csv(halves[0], index=False, columns=columns)
    table.iloc[1::2].to_csv(halves[1], index=False, columns=columns)

    X2, measured, split, pooled = fit.load_measured(halves)
    assert len(pooled) == len(table) and (pooled["status"] == "ok").all()

    out = tmp_path / "baseline.yaml"
    out.write_text(yaml.safe_dump({"pipelines": {"spec3": {"version": "7"}, "image3": {"version": "2"}}}))
    assert fit.main(["--corpus", *map(str, halves), "--output", str(out)]) == 0
    pipelines = yaml.safe_load(out.read_text())["pipelines"]
    assert pipelines["spec3"] == {"version": "7"}  # another pipeline's terms keep their version
    written = pipelines["image3"]
    assert written["version"] == "3"
    refit = PhysicsBaseline("image3", written["coefficients"], start.upper_bound, "r")
    assert np.allclose(refit.predict(X2), measured, rtol=0.03)
    assert "a.csv + b.csv" in written["source"] and written["held_out"]["n_rows"] == int((split == "test").sum())
    assert not list(tmp_path.glob(".baseline.yaml.*"))  # no temporary file left behind


def test_synthetic_lrs_exposures_carry_a_spectral_wcs(tmp_path):
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.synthetic import write_cal_exposures

    layout = ExposureLayout(detectors=("MIRIMAGE",), exp_type="MIR_LRS-FIXEDSLIT", filter="P750L", pupil="N/A",
                            dither_points=2)
    paths = write_cal_exposures(layout, tmp_path, seed=2)
    assert len(paths) == 2
    for path in paths:
        with datamodels.open(path) as model:
            wcs = model.meta.wcs
            assert wcs.available_frames[0] == "detector" and "world" in wcs.available_frames
            assert model.meta.wcsinfo.dispersion_direction == 2
            assert model.meta.wcsinfo.s_region.startswith("POLYGON") and model.dq.dtype == np.uint32
            # the trace is the target in every nod, at a wavelength within LRS's range
            row = 200
            ra, dec, wavelength = wcs(float(np.argmax(model.data[row])), float(row))
            assert ra == pytest.approx(layout.target_ra, abs=1e-4) and dec == pytest.approx(layout.target_dec, abs=1e-4)
            assert 5 < wavelength < 14


def test_crds_free_env_answers_the_context_in_use_without_a_server(tmp_path):
    """extract_1d ends by asking which CRDS context was used: the offline cache must answer."""
    from jwst_memest.profile.run import OFFLINE_CONTEXT, crds_free_env

    env = crds_free_env(tmp_path / "crds")
    script = "from stpipe import crds_client; print(crds_client.get_context_used('jwst'))"
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.strip().splitlines()[-1] == OFFLINE_CONTEXT
    assert env["CRDS_SERVER_URL"] == "https://localhost:1"


def test_load_measured_encodes_categories_as_training_does(tmp_path):
    """CHANNEL 12 in a CSV is the MRS channel pair "12", not category code 12 (out of range)."""
    from jwst_memest.features.schema import load_schema
    from jwst_memest.profile import fit

    schema = load_schema("spec3")
    rows = [{**{name: 0 for name in schema.names}, "run_id": f"r{i}", "product": "p", "pipeline": "spec3",
             "status": "ok", "measured_gb": 2.2, "split": "train", "channel": channel, "exp_type": "MIR_MRS"}
            for i, channel in enumerate(["12", "34", "1234"])]
    path = tmp_path / "spec3.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CORPUS_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    X, measured, split, table = fit.load_measured(path, "spec3")
    column = X[:, schema.names.index("channel")]
    assert list(column) == [schema["channel"].encode(c) for c in ("12", "34", "1234")]
    assert 0 not in column and list(split) == ["train"] * 3 and list(table["run_id"]) == ["r0", "r1", "r2"]


@pytest.mark.parametrize("arguments", [
    ["jwst_memest.profile", "corpus", "--plan", "{missing}", "--out", "{out}"],
    ["jwst_memest.profile", "corpus", "--plan", "{file}", "--out", "{out}"],
    ["jwst_memest.example", "--write", "{file}"],
], ids=["missing plan", "not a plan", "example into a file"])
def test_command_line_tools_name_a_bad_file_in_one_line(tmp_path, arguments):
    (tmp_path / "a_file").write_text("just text\n")
    names = {"missing": tmp_path / "missing.yaml", "out": tmp_path / "out.csv", "file": tmp_path / "a_file"}
    command = [sys.executable, "-m", *(a.format(**names) for a in arguments)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and str(tmp_path) in line
    assert not (tmp_path / "out.csv").exists()


def test_profile_help_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "jwst_memest.profile", "--help"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0
    assert all(command in result.stdout for command in ("run", "corpus", "fit-baseline"))


def test_step_peaks_come_from_the_samples_taken_while_each_step_ran():
    import datetime

    from jwst_memest.profile.monitor import peaks_by_step, step_intervals

    t0 = datetime.datetime(2026, 1, 1, 12, 0, 0)

    def line(seconds, text):
        stamp = (t0 + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        return f"{stamp} - stpipe.step - INFO - {text}\n"

    log = [line(0, "Step Spec3Pipeline running with args ('a.json',)."),
           line(1, "Step outlier_detection running with args (x,)."), "noise\n",
           line(3, "Step outlier_detection done"),
           line(4, "Step pixel_replace running with args (x,)."), line(4, "Step skipped."),
           line(5, "Step extract_1d running with args (x,)."), line(6, "Step extract_1d done"),
           line(7, "Step extract_1d running with args (y,)."), line(9, "Step extract_1d done"),
           line(10, "Step Spec3Pipeline done")]
    intervals = step_intervals(log)
    assert [name for name, _, _ in intervals] == ["outlier_detection", "pixel_replace", "extract_1d", "extract_1d"]
    start = t0.timestamp()
    samples = [(start + s, gb * 1e9) for s, gb in ((0.5, 0.3), (2, 5.0), (4.5, 1.0), (5.5, 2.0), (8, 2.5), (9.5, 9.0))]
    # the pipeline's own peak after its last step belongs to no step
    assert peaks_by_step(log, samples) == {"outlier_detection": 5.0, "pixel_replace": 1.0, "extract_1d": 2.5}
    # a step between two samples (klip of a few integrations) is still reported: the larger of the
    # sample it started on and the one after it ended
    short = [line(1, "Step klip running with args (x,)."), line(1.1, "Step klip done")]
    assert peaks_by_step(short, [(start + 0.9, 0.4e9), (start + 1.2, 0.5e9), (start + 1.4, 0.9e9)]) == {"klip": 0.5}


def test_rows_keep_the_columns_of_the_file_they_are_appended_to(tmp_path):
    corpus = tmp_path / "old.csv"
    corpus.write_text("run_id,status,measured_gb\nold,ok,1.0\n")
    append_row(corpus, {"run_id": "new", "status": "ok", "measured_gb": 2.0, "step_peaks": "{}"})
    rows = list(csv.DictReader(corpus.open()))
    assert rows[-1] == {"run_id": "new", "status": "ok", "measured_gb": "2.0"}


def test_profile_reads_the_corpus_without_the_training_package():
    corpus = Path(__file__).parents[1] / "data" / "corpus" / "image3.csv"
    code = ("import sys\n"
            "from jwst_memest.profile import corpus, fit, run\n"
            f"fit.load_measured({str(corpus)!r})\n"
            "print(sorted(m for m in sys.modules if m.startswith('jwst_memest.training')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_larger_step_weight_pulls_the_stages_toward_their_measured_step_peaks():
    from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
    from jwst_memest.profile.fit import fit_baseline

    start = load_baseline("image3")
    X = image3_rows(start.schema.names, np.random.default_rng(1), 40, 12, [640**2, 2048**2], 4, in_memory=1)
    measured = start.predict(X)
    # the runs' resample step was measured 10 % above what the installed stages say
    resample_gb = start.stages(X)["resample"] / 1e9 * 1.1
    peaks = [{"resample": float(v)} for v in resample_gb]

    def resample_error(weight):
        fitted = PhysicsBaseline("image3", fit_baseline(X, measured, start, peaks, weight), start.upper_bound, "fit")
        return np.median(np.abs(fitted.stages(X)["resample"] / 1e9 / resample_gb - 1))

    assert resample_error(2.0) < resample_error(0.1)


def test_step_targets_credit_the_largest_step_with_the_runs_peak():
    from jwst_memest.profile.fit import step_peaks_of, step_targets_of

    table = pd.DataFrame({
        "measured_gb": [1.1, 0.5, 2.0],
        "step_peaks": ['{"resample": 1.0, "outlier_detection": 0.8}', '{"resample": 0.6}', ""],
    })
    targets = step_targets_of(table)
    # the sampler missed 10 % of the first run's spike: both steps scale, their order stays
    assert targets[0] == pytest.approx({"resample": 1.1, "outlier_detection": 0.88})
    # a sample above the kernel's peak (the two clocks differ) is never scaled down
    assert targets[1] == {"resample": 0.6}
    assert targets[2] == {}
    assert step_peaks_of(table)[0] == {"resample": 1.0, "outlier_detection": 0.8}


def test_image3_in_memory_holds_every_member_until_source_catalog_and_the_median_stack():
    from jwst_memest.model.baseline import MEMBERS_STAGE, PhysicsBaseline, load_baseline

    installed = load_baseline("image3")
    c = dict(installed.coefficients, bytes_per_member_pixel=28.0, on_disk_member_pixel=60.0)
    baseline = PhysicsBaseline("image3", c, installed.upper_bound, "test")
    names = baseline.schema.names
    X = image3_rows(names, np.random.default_rng(3), 2, 3, [2048**2], 1.0, in_memory=1)
    X[1] = X[0]
    X[1, names.index("in_memory")] = 0
    stages = baseline.stages(X)
    n, pixels, groups, out = (X[0, names.index(k)] for k in ("n_members", "member_pixels", "n_exposure_groups",
                                                              "output_pixels"))
    # in memory: every member's arrays; on disk: what the opened members hold, whatever their number
    members = n * 28.0 * pixels - 60.0 * pixels
    assert stages[MEMBERS_STAGE][0] - stages[MEMBERS_STAGE][1] == pytest.approx(members)
    assert stages["resample"][0] - stages["resample"][1] == pytest.approx(members)
    # outlier_detection peaks while its last group is drizzled beside a pixel map (the map costs
    # more than the grid here): in memory the stack of the groups before it (4 B per output pixel
    # each) is alive too; the group being drizzled and the one before it are alive either way
    assert stages["outlier_detection"][0] - stages["outlier_detection"][1] == pytest.approx(
        members + 4.0 * (groups - 1) * out)
    # source_catalog runs after the members' arrays are released
    assert stages["source_catalog"][0] == stages["source_catalog"][1]


def test_image3_fits_its_stages_at_the_default_step_weight_unless_told():
    from jwst_memest.model.baseline import load_baseline
    from jwst_memest.model.fitting import DEFAULT_STEP_WEIGHT, STEP_WEIGHT
    from jwst_memest.profile.fit import fit_baseline

    start = load_baseline("image3")
    X = image3_rows(start.schema.names, np.random.default_rng(4), 30, 12, [640**2, 2048**2], 4)
    measured = start.predict(X)
    peaks = [{"resample": float(v)} for v in start.stages(X)["resample"] / 1e9 * 1.2]
    default = fit_baseline(X, measured, start, peaks)
    assert "image3" not in STEP_WEIGHT  # its stages count their steps' arrays: no extra weight
    assert default == fit_baseline(X, measured, start, peaks, DEFAULT_STEP_WEIGHT)
    assert default != fit_baseline(X, measured, start, peaks, 2.0)


def test_widening_refits_with_the_step_peaks_of_the_runs_it_keeps(monkeypatch):
    from jwst_memest.model.baseline import load_baseline
    from jwst_memest.profile import fit

    start = load_baseline("image3")
    X = image3_rows(start.schema.names, np.random.default_rng(5), 24, 12, [640**2, 2048**2], 4)
    measured = start.predict(X)
    peaks = [{"resample": float(i)} for i in range(len(X))]
    seen = []

    def record(X_fit, y_fit, X_predict, start_, step_peaks=None, step_weight=None):
        seen.append((len(X_fit), step_peaks, step_weight))
        return np.ones(len(X_predict))

    monkeypatch.setattr(fit, "_fit_and_predict", record)
    modes = np.array(["NRC_IMAGE"] * 12 + ["MIR_IMAGE"] * 12)
    fit.widening_factors(X, measured, modes, start, step_peaks=peaks, step_weight=3.0)
    assert seen and all(p is not None and len(p) == n and w == 3.0 for n, p, w in seen)
    # the runs held out of a fit lend it none of their step peaks: the last fit holds out every
    # NRC_IMAGE run (the first twelve)
    kept = {p["resample"] for p in seen[-1][1]}
    assert kept == set(range(12, 24))


def test_image3_every_member_adds_its_metadata_to_every_stage():
    from jwst_memest.model.baseline import PhysicsBaseline, load_baseline

    installed = load_baseline("image3")
    baseline = PhysicsBaseline("image3", dict(installed.coefficients, bytes_per_member=2e6), installed.upper_bound, "t")
    names = baseline.schema.names
    X = image3_rows(names, np.random.default_rng(6), 2, 3, [160**2], 1.0, in_memory=0)
    X[1] = X[0]
    X[1, names.index("n_members")] += 10
    stages = baseline.stages(X)
    # on disk, ten more members of the same mosaic add their metadata and what outlier_detection
    # keeps per member; nothing else
    for stage in ("members held in memory", "resample", "source_catalog"):
        assert stages[stage][1] - stages[stage][0] == pytest.approx(10 * 2e6)
    per_member = baseline.coefficients["outlier_per_member_pixel"] * 160**2
    assert stages["outlier_detection"][1] - stages["outlier_detection"][0] == pytest.approx(10 * (2e6 + per_member))
