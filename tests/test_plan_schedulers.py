"""Scheduler files of a plan, read back by the schedulers' own libraries (htcondor2, botocore)."""

import argparse
import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest

from jwst_memest.plan.jobs import plan_jobs
from jwst_memest.plan.schedulers import aws_batch_requests, slurm_time, write_scheduler_files
from jwst_memest.plan.site import load_site

htcondor2 = pytest.importorskip("htcondor2")
classad2 = pytest.importorskip("classad2")


def _estimate(product, upper, wall_upper=500.0):
    return SimpleNamespace(product=product, pipeline="image3", upper_bound_gb=upper, alternatives=[],
                           wall_time_s=wall_upper / 1.5, wall_time_upper_s=wall_upper)


@pytest.fixture
def planned(tmp_path):
    site = load_site("calcloud-like")
    jobs = plan_jobs([_estimate("jw01234-o001_t001_nircam_clear-f150w", 3.79),
                      _estimate("jw01234-o002_t001_miri_f770w", 1.2, 40.0),
                      _estimate("jw01234-o003_t001_nircam_huge", 200.0)],
                     {"jw01234-o001_t001_nircam_clear-f150w": "/data/a_asn.json",
                      "jw01234-o002_t001_miri_f770w": "/data/b_asn.json",
                      "jw01234-o003_t001_nircam_huge": "/data/c_asn.json"}, site)
    write_scheduler_files(jobs, site, tmp_path)
    return site, jobs, tmp_path


def test_htcondor_submit_descriptions_parse_and_climb_the_ladder(planned):
    site, jobs, out = planned
    for job in jobs[:2]:
        submit = htcondor2.Submit((out / f"{job.name}.sub").read_text())
        assert submit["request_cpus"] == "1" and int(submit["max_retries"]) == len(job.ladder_gb)
        assert submit["executable"] == str(out / f"{job.name}.sh")
        # every expression is ClassAd syntax; the memory follows NumJobStarts up the ladder
        for key in ("request_memory", "periodic_remove", "retry_until"):
            classad2.ExprTree(submit[key])
        ladder = job.ladder_mib()
        for starts, expected in enumerate(ladder + [ladder[-1]]):
            ad = classad2.ClassAd({"NumJobStarts": starts})
            ad["RequestMemoryTest"] = classad2.ExprTree(submit["request_memory"])
            assert ad.eval("RequestMemoryTest") == expected
        # retried only after an out-of-memory exit
        retry_until = classad2.ExprTree(submit["retry_until"])
        for exit_code, by_signal, signal, stop in ((137, False, None, False), (1, False, None, True),
                                                   (None, True, 9, False), (0, False, None, True)):
            ad = classad2.ClassAd({"ExitBySignal": by_signal})
            if exit_code is not None:
                ad["ExitCode"] = exit_code
            if signal is not None:
                ad["ExitSignal"] = signal
            ad["Stop"] = retry_until
            assert ad.eval("Stop") is stop
        # removed once running past the kill time
        ad = classad2.ClassAd({"JobStatus": 2, "EnteredCurrentStatus": 0})
        ad["Remove"] = classad2.ExprTree(submit["periodic_remove"].replace("time()", "CurrentTime"))
        ad["CurrentTime"] = int(job.kill_time_s) + 2
        assert ad.eval("Remove") is True
        ad["CurrentTime"] = int(job.kill_time_s) - 2
        assert ad.eval("Remove") is False


def test_dag_nodes_take_the_tier_of_their_retry(planned):
    _, jobs, out = planned
    job = jobs[0]
    node = htcondor2.Submit((out / f"{job.name}.node.sub").read_text())
    for retry, expected in enumerate(job.ladder_mib()):
        node["retry"] = str(retry)
        assert int(node.expand("request_memory")) == expected


def test_the_dag_parses_with_htcondor(planned, tmp_path_factory, monkeypatch):
    _, jobs, out = planned
    text = (out / "jobs.dag").read_text()
    lines = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert {line[1] for line in lines if line[0] == "JOB"} == {j.name for j in jobs if not j.flagged}
    assert {(line[1], line[2]) for line in lines if line[0] == "RETRY"} == {
        (j.name, str(len(j.ladder_gb))) for j in jobs if j.ladder_gb}
    assert "fits no tier" in text
    # condor_submit_dag's own parser (in the bindings) needs a condor_dagman to point the DAG job at
    stub = tmp_path_factory.mktemp("bin") / "condor_dagman"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub.parent}:{__import__('os').environ['PATH']}")
    monkeypatch.chdir(out)
    dag_job = htcondor2.Submit.from_dag("jobs.dag", {})
    assert "jobs.dag" in dag_job["arguments"]
    (out / "broken.dag").write_text(text.replace("JOB ", "JOBS ", 1))
    with pytest.raises(Exception, match="not a valid DAG command"):
        htcondor2.Submit.from_dag("broken.dag", {})


SLURM_TIME = re.compile(r"^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2})$")


def test_slurm_headers_use_slurms_formats(planned):
    _, jobs, out = planned
    parser = argparse.ArgumentParser()
    for option in ("--job-name", "--mem", "--time", "--cpus-per-task", "--ntasks", "--output", "--partition"):
        parser.add_argument(option)
    for job in jobs[:2]:
        lines = (out / f"{job.name}.slurm").read_text().splitlines()
        assert lines[0] == "#!/bin/bash"
        header = [line.split(None, 1)[1] for line in lines if line.startswith("#SBATCH")]
        options = parser.parse_args(header)
        assert options.mem == f"{job.request_mib}M" and options.cpus_per_task == "1"
        # sbatch's documented forms: minutes, m:s, h:m:s, d-h, d-h:m, d-h:m:s
        assert SLURM_TIME.match(options.time)
        days, clock = options.time.split("-")
        h, m, s = map(int, clock.split(":"))
        assert int(days) * 86400 + h * 3600 + m * 60 + s == pytest.approx(job.kill_time_s, abs=1)
        assert f"LADDER=({' '.join(map(str, job.ladder_mib()))})" in lines


def test_slurm_time_rounds_up_and_counts_days():
    assert slurm_time(59.2) == "0-00:01:00"
    assert slurm_time(172800) == "2-00:00:00"


def test_aws_batch_requests_validate_against_botocores_model(planned):
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import validate_parameters

    model = botocore_session.get_session().get_service_model("batch").operation_model("SubmitJob")
    site, jobs, out = planned
    for job in jobs[:2]:
        files = sorted(out.glob(f"{job.name}.batch-*.json"))
        assert len(files) == 1 + len(job.ladder_gb)
        for attempt, path in enumerate(files):
            request = json.loads(path.read_text())
            validate_parameters(request, model.input_shape)  # raises ParamValidationError when invalid
            memory = {r["type"]: r["value"] for r in request["containerOverrides"]["resourceRequirements"]}
            assert memory == {"MEMORY": str(job.ladder_mib()[attempt]), "VCPU": "1"}
            assert request["timeout"]["attemptDurationSeconds"] >= 60
            assert {"onExitCode": "137", "action": "EXIT"} in request["retryStrategy"]["evaluateOnExit"]
    # and the validator does reject a malformed request
    bad = aws_batch_requests(jobs[0], site, out)[0]
    bad["containerOverrides"]["resourceRequirements"][0]["value"] = 7390
    with pytest.raises(Exception, match="resourceRequirements"):
        validate_parameters(bad, model.input_shape)


def test_a_job_that_fits_no_tier_gets_no_scheduler_files(planned):
    _, jobs, out = planned
    assert jobs[2].flagged and not list(out.glob(f"{jobs[2].name}.*"))


def test_the_wrapper_turns_a_memory_error_into_137(planned, tmp_path):
    import subprocess

    _, jobs, out = planned
    script = (out / f"{jobs[0].name}.sh").read_text()
    failing = script.replace(jobs[0].command, shlex.join(["python", "-c", "raise MemoryError('cube')"]))
    path = tmp_path / "run.sh"
    path.write_text(failing)
    assert subprocess.run(["sh", str(path)], capture_output=True).returncode == 137
    path.write_text(script.replace(jobs[0].command, "python -c 'raise SystemExit(1)'"))
    assert subprocess.run(["sh", str(path)], capture_output=True).returncode == 1


def test_plan_command_on_the_example_writes_every_schedulers_files(tmp_path, capsys, monkeypatch):
    from jwst_memest.example import example_association
    from jwst_memest.plan.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    out = tmp_path / "out"
    assert main([str(Path(example_association()).parent), "--site", "calcloud-like", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "site calcloud-like" in printed and "1 jobs, all fit a tier" in printed
    plan = json.loads((out / "plan.json").read_text())
    name = plan["jobs"][0]["name"]
    assert {f"{name}.sub", f"{name}.slurm", f"{name}.batch-0.json", "jobs.dag"} <= {p.name for p in out.iterdir()}
    htcondor2.Submit((out / f"{name}.sub").read_text())
    assert main([str(tmp_path / "absent_asn.json")]) == 2


@pytest.mark.slow
def test_plan_on_a_folder_of_exposures_writes_associations_naming_the_members(tmp_path, capsys, monkeypatch):
    from jwst_memest.example import example_association
    from jwst_memest.plan.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "exposures"
    folder.mkdir()
    for path in Path(example_association()).parent.glob("*.fits"):
        (folder / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "out"
    assert main([str(folder), "--output-dir", str(out)]) == 0
    (association,) = out.glob("*_asn.json")
    members = [m["expname"] for p in json.loads(association.read_text())["products"] for m in p["members"]]
    assert members and all(Path(m).parent == folder.resolve() for m in members)
    (level3,) = [j for j in json.loads((out / "plan.json").read_text())["jobs"] if j["pipeline"] == "image3"]
    assert str(association) in (out / f"{level3['name']}.sh").read_text()
