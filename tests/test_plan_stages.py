"""A folder's whole reduction planned: a calwebb_detector1 job per uncal file, calwebb_image2 after it
for imaging, calwebb_spec2 for MIRI LRS, and each Level-3 job waiting on its members' jobs in every scheduler's files (the DAG read
back by htcondor2, the Slurm and AWS Batch submit-all scripts run against stand-in commands, the
requests validated by botocore)."""

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from synthetic_runs import lrs_rateints

from jwst_memest.plan.jobs import LEVEL2_NOT_PLANNED, Job, link_to_exposures, plan_exposure_jobs, plan_jobs
from jwst_memest.plan.schedulers import (BATCH_MAX_DEPENDENCIES, aws_batch_gathers, aws_batch_requests,
                                         write_scheduler_files)
from jwst_memest.plan.site import load_site

PRODUCT = "jw01234-o001_t001_nircam_clear-f150w"


def _dag_edges(text: str) -> tuple[set, set]:
    nodes, edges = set(), set()
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "JOB":
            nodes.add(words[1])
        elif words and words[0] == "PARENT":
            at = words.index("CHILD")
            edges |= {(p, c) for p in words[1:at] for c in words[at + 1:]}
    return nodes, edges


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _planned(folder: Path, root: Path):
    """``jwst-memest plan`` on ``folder`` (calcloud-like site, written under ``root``): the folder, the output
    directory and the plan's jobs by name."""
    from jwst_memest.plan.cli import main

    out = root / "out"
    previous = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(root)  # no speed factor of this machine's
    try:
        assert main([str(folder), "--site", "calcloud-like", "--output-dir", str(out)]) == 0
    finally:
        if previous is None:
            os.environ.pop("XDG_CONFIG_HOME")
        else:
            os.environ["XDG_CONFIG_HOME"] = previous
    plan = json.loads((out / "plan.json").read_text())
    return folder, out, {j["name"]: j for j in plan["jobs"]}


@pytest.fixture(scope="module")
def folder_plan(tmp_path_factory):
    """``jwst-memest plan`` on a folder of 16 NIRCam uncal files forming one image3 product."""
    from jwst_memest.example import example_association

    root = tmp_path_factory.mktemp("stages")
    folder = root / "exposures"
    folder.mkdir()
    for path in Path(example_association()).parent.glob("*_uncal.fits"):
        (folder / path.name).write_bytes(path.read_bytes())
    return _planned(folder, root)


def test_every_uncal_file_gets_a_detector1_job_with_a_tier_kill_time_and_ladder(folder_plan):
    folder, out, jobs = folder_plan
    uncal = sorted(folder.glob("*_uncal.fits"))
    detector1 = [j for j in jobs.values() if j["pipeline"] == "detector1"]
    assert sorted(j["association"] for j in detector1) == [str(p.resolve()) for p in uncal]
    site = load_site("calcloud-like")
    for job in detector1:
        assert job["command"] == f"strun calwebb_detector1 {job['association']} --output_dir={folder.resolve()}"
        assert job["tier_gb"] == site.tier_for(job["upper_gb"]) and job["ladder_gb"] == site.retry_ladder(job["tier_gb"])
        assert 0 < job["wall_time_s"] < job["wall_upper_s"]
        assert job["kill_time_s"] == site.kill_time_s(job["wall_upper_s"])
        assert job["depends_on"] == []
        assert job["command"] in (out / f"{job['name']}.sh").read_text()
    image2 = [j for j in jobs.values() if j["pipeline"] == "image2"]
    assert len(image2) == len(uncal)
    for job in image2:
        (parent,) = job["depends_on"]
        assert jobs[parent]["pipeline"] == "detector1" and jobs[parent]["product"] == job["product"]
        assert job["association"] == str(folder.resolve() / f"{job['product']}_rate.fits")
        # image2's estimate carries its wall time, from its stage's model
        assert 0 < job["wall_time_s"] < job["wall_upper_s"] and job["kill_time_s"] == site.kill_time_s(job["wall_upper_s"])


def test_the_dag_makes_the_level3_job_a_child_of_its_members_stages(folder_plan, tmp_path, monkeypatch):
    htcondor2 = pytest.importorskip("htcondor2")
    folder, out, jobs = folder_plan
    text = (out / "jobs.dag").read_text()
    nodes, edges = _dag_edges(text)
    assert nodes == set(jobs)
    assert all(p in nodes and c in nodes for p, c in edges)
    # each member's image2 waits on its detector1, the product on every member's image2: its detector1 jobs
    # are its ancestors
    detector1 = {j["product"]: name for name, j in jobs.items() if j["pipeline"] == "detector1"}
    image2 = {j["product"]: name for name, j in jobs.items() if j["pipeline"] == "image2"}
    assert {(detector1[s], image2[s]) for s in detector1} | {(image2[s], PRODUCT) for s in image2} == edges
    for name in [n for n, j in jobs.items() if j["pipeline"] == "detector1"]:
        assert htcondor2.Submit((out / f"{name}.node.sub").read_text())["request_memory"].startswith("$CHOICE(retry")
    stub = tmp_path / "condor_dagman"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.chdir(out)
    assert "jobs.dag" in htcondor2.Submit.from_dag("jobs.dag", {})["arguments"]


def test_slurm_submits_the_level3_job_after_its_members_jobs_end_well(folder_plan, tmp_path):
    _, out, jobs = folder_plan
    calls = tmp_path / "calls"
    _stub(tmp_path, "sbatch", f'n=$(( $(wc -l < {calls} 2>/dev/null || echo 0) + 100 ))\n'
                              f'echo "$n $*" >> {calls}\necho "$n;cluster"\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(out / "slurm-submit-all.sh")], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    submitted = {}
    for line in calls.read_text().splitlines():
        job_id, *arguments = line.split()
        submitted[Path(arguments[-1]).name.removesuffix(".slurm")] = (job_id, arguments[:-1])
    assert set(submitted) == set(jobs)
    for name, job in jobs.items():
        _, arguments = submitted[name]
        if not job["depends_on"]:
            assert not any(a.startswith("--dependency") for a in arguments)
            continue
        (dependency,) = [a for a in arguments if a.startswith("--dependency=")]
        assert dependency == "--dependency=afterok:" + ":".join(submitted[p][0] for p in job["depends_on"])


def test_a_slurm_job_retried_on_more_memory_moves_the_jobs_waiting_on_it(folder_plan, tmp_path):
    _, out, jobs = folder_plan
    name = next(n for n, j in jobs.items() if j["pipeline"] == "detector1")
    work = tmp_path / "plan"
    work.mkdir()
    script = (out / f"{name}.slurm").read_text().replace(str(out / f"{name}.sh"), str(work / "oom.sh"))
    (work / "job.slurm").write_text(script)
    _stub(work, "oom.sh", "exit 137\n")
    _stub(tmp_path, "sbatch", 'echo "99;cluster"\n')
    _stub(tmp_path, "squeue", 'echo "41 afterok:8(unfulfilled)"\necho "42 afterok:7(failed),afterok:8(unfulfilled)"\n'
                              'echo "43 afterok:77(unfulfilled)"\n')
    _stub(tmp_path, "scontrol", f'echo "$*" >> {tmp_path / "updates"}\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "SLURM_JOB_ID": "7", "USER": "me"}
    result = subprocess.run(["bash", str(work / "job.slurm")], env=env, capture_output=True, text=True)
    assert result.returncode == 137 and "resubmitting" in result.stderr
    assert (tmp_path / "updates").read_text().splitlines() == ["update JobId=42 Dependency=afterok:99,afterok:8"]


def test_aws_batch_requests_depend_on_their_parents_and_validate(folder_plan, tmp_path):
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import validate_parameters

    model = botocore_session.get_session().get_service_model("batch").operation_model("SubmitJob")
    _, out, jobs = folder_plan
    for name, job in jobs.items():
        for path in sorted(out.glob(f"{name}.batch-*.json")):
            request = json.loads(path.read_text())
            validate_parameters(request, model.input_shape)
            if path.name.endswith("batch-0.json") and job["depends_on"]:
                assert request["dependsOn"] == [{"jobId": f"@jobId:{p}@"} for p in job["depends_on"]]
            else:  # a retry starts after its first attempt, when the parents had ended well
                assert "dependsOn" not in request
    # the submit-all script puts in the IDs Batch returns, parents first
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    _stub(tmp_path, "aws", f'file=${{4#file://}}\nn=$(ls {submitted} | wc -l)\n'
                           f'cp "$file" {submitted}/$n.json\necho "id-$n"\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(out / "aws-batch-submit-all.sh")], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    requests = [json.loads((submitted / f"{n}.json").read_text()) for n in range(len(jobs))]
    id_of = {r["jobName"].removesuffix("-tier0"): f"id-{n}" for n, r in enumerate(requests)}
    for request in requests:
        validate_parameters(request, model.input_shape)
        parents = jobs[request["jobName"].removesuffix("-tier0")]["depends_on"]
        assert [d["jobId"] for d in request.get("dependsOn", [])] == [id_of[p] for p in parents]
        assert all(int(d["jobId"][3:]) < int(id_of[request["jobName"].removesuffix("-tier0")][3:])
                   for d in request.get("dependsOn", []))


def _job(name, pipeline="image3", product=None, depends_on=(), tier=8.0):
    return Job(name=name, product=product or name, pipeline=pipeline, association=f"/data/{name}", upper_gb=1.0,
               tier_gb=tier, ladder_gb=[16.0] if tier else [], kill_time_s=600.0, command=f"run {name}",
               depends_on=list(depends_on))


def test_beyond_batchs_limit_a_job_waits_on_gathering_jobs(tmp_path):
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import validate_parameters

    model = botocore_session.get_session().get_service_model("batch").operation_model("SubmitJob")
    site = load_site("calcloud-like")
    parents = [f"member{i:03d}_detector1" for i in range(45)]
    job = _job("product", depends_on=parents)
    gathers, depends_on = aws_batch_gathers(job, site)
    assert len(gathers) == 3 and depends_on == [name for name, _ in gathers]
    waited = [d["jobId"] for _, request in gathers for d in request["dependsOn"]]
    assert waited == [f"@jobId:{p}@" for p in parents]
    for _, request in gathers:
        validate_parameters(request, model.input_shape)
        assert len(request["dependsOn"]) <= BATCH_MAX_DEPENDENCIES
    first = aws_batch_requests(job, site, tmp_path)[0]
    assert first["dependsOn"] == [{"jobId": f"@jobId:{g}@"} for g in depends_on]
    # more than the limit's square: gathering jobs wait on gathering jobs
    many, top = aws_batch_gathers(_job("big", depends_on=[f"m{i}" for i in range(450)]), site)
    assert len(top) <= BATCH_MAX_DEPENDENCIES and all(len(r["dependsOn"]) <= BATCH_MAX_DEPENDENCIES for _, r in many)


def test_members_without_a_planned_stage_add_no_dependency():
    level3 = [_job("image3_product"), _job("spec3_product", pipeline="spec3"), _job("cal_only")]
    exposures = [_job("a_detector1", "detector1", "a"), _job("a_image2", "image2", "a", ["a_detector1"]),
                 _job("b_detector1", "detector1", "b")]
    link_to_exposures(level3, exposures, {"image3_product": ["a", "c"], "spec3_product": ["b", "c"],
                                          "cal_only": ["c", "d"]})
    assert level3[0].depends_on == ["a_image2"] and not level3[0].note
    assert level3[1].depends_on == ["b_detector1"] and LEVEL2_NOT_PLANNED in level3[1].note
    assert level3[2].depends_on == [] and not level3[2].note


def test_a_parent_that_fits_no_tier_is_left_out_of_the_dag_and_said(tmp_path):
    site = load_site("calcloud-like")
    stages = [(SimpleNamespace(path="/d/jw1_nrca1_uncal.fits", pipeline="calwebb_detector1", upper_gb=500.0,
                               wall_time_s=60.0, wall_time_upper_s=100.0), "/d/jw1_nrca1_uncal.fits"),
              (SimpleNamespace(path="/d/jw2_nrca1_uncal.fits", pipeline="calwebb_detector1", upper_gb=2.0,
                               wall_time_s=60.0, wall_time_upper_s=100.0), "/d/jw2_nrca1_uncal.fits")]
    exposures = plan_exposure_jobs(stages, "/d", site)
    assert exposures[0].flagged and not exposures[1].flagged
    level3 = plan_jobs([SimpleNamespace(product="p", pipeline="image3", upper_bound_gb=1.0, alternatives=[],
                                        wall_time_s=10.0, wall_time_upper_s=20.0)], {"p": "/d/p_asn.json"}, site)
    link_to_exposures(level3, exposures, {"p": ["jw1_nrca1", "jw2_nrca1"]})
    write_scheduler_files(exposures + level3, site, tmp_path)
    text = (tmp_path / "jobs.dag").read_text()
    assert _dag_edges(text)[1] == {("jw2_nrca1_detector1", "p")}
    assert "p also needs jw1_nrca1_detector1, left out" in text
    assert "${ID[jw1_nrca1_detector1]}" not in (tmp_path / "slurm-submit-all.sh").read_text()
    request = json.loads((tmp_path / "p.batch-0.json").read_text())
    assert request["dependsOn"] == [{"jobId": "@jobId:jw2_nrca1_detector1@"}]


@pytest.fixture(scope="module")
def spectra_plan(tmp_path_factory):
    """``jwst-memest plan`` on a folder of a MIRI LRS slitless uncal file (a time series) and a NIRCam grism time
    series one, each forming a tso3 product."""
    from jwst_memest.exposures import ExposureLayout, write_header_exposures

    root = tmp_path_factory.mktemp("spectra")
    folder = root / "exposures"
    lrs = ExposureLayout(program=1234, observation=1, exp_type="MIR_LRS-SLITLESS", detectors=("MIRIMAGE",),
                         filter="P750L", pupil="N/A", subarray="SLITLESSPRISM", subarray_shape=(72, 416), nints=500,
                         tso_visit=True, suffix="uncal")
    grism = ExposureLayout(program=1234, observation=2, exp_type="NRC_TSGRISM", detectors=("NRCALONG",),
                           filter="F322W2", pupil="GRISMR", subarray="SUBGRISM64", subarray_shape=(2048, 64), nints=20,
                           suffix="uncal")
    write_header_exposures(lrs, folder)  # TSOVISIT a logical, as exposures hold it
    write_header_exposures(grism, folder)
    return _planned(folder, root)


def test_a_miri_lrs_exposure_gets_a_spec2_job_between_detector1_and_tso3(spectra_plan):
    folder, out, jobs = spectra_plan
    site = load_site("calcloud-like")
    (spec2,) = [j for j in jobs.values() if j["pipeline"] == "spec2" and "mirimage" in j["product"]]
    (parent,) = spec2["depends_on"]
    assert jobs[parent]["pipeline"] == "detector1" and jobs[parent]["product"] == spec2["product"]
    rateints = folder.resolve() / f"{spec2['product']}_rateints.fits"
    assert spec2["association"] == str(rateints)
    assert spec2["command"] == f"strun calwebb_spec2 {rateints} --output_dir={folder.resolve()}"
    assert spec2["command"] in (out / f"{spec2['name']}.sh").read_text()
    assert spec2["tier_gb"] == site.tier_for(spec2["upper_gb"])
    assert 0 < spec2["wall_time_s"] < spec2["wall_upper_s"]
    assert spec2["kill_time_s"] == site.kill_time_s(spec2["wall_upper_s"]) < site.max_time_s
    (tso3,) = [j for j in jobs.values() if j["pipeline"] == "tso3" and "miri" in j["product"]]
    assert tso3["depends_on"] == [spec2["name"]] and LEVEL2_NOT_PLANNED not in tso3["note"]
    # NIRCam's grism series is counted, not measured, at Level 2: its spec2 job has no time of its own
    # (the site's longest) and its tso3 waits on it
    (grism,) = [j for j in jobs.values() if j["pipeline"] == "tso3" and "nircam" in j["product"]]
    (parent,) = grism["depends_on"]
    assert jobs[parent]["pipeline"] == "spec2" and LEVEL2_NOT_PLANNED not in grism["note"]
    assert jobs[parent]["wall_time_s"] is None and jobs[parent]["kill_time_s"] == site.max_time_s


def test_the_spectra_plan_runs_detector1_then_spec2_then_tso3_in_every_scheduler(spectra_plan, tmp_path):
    folder, out, jobs = spectra_plan
    detector1 = {j["product"]: name for name, j in jobs.items() if j["pipeline"] == "detector1"}
    spec2, grism_spec2 = (next(n for n, j in jobs.items() if j["pipeline"] == "spec2" and key in j["product"])
                          for key in ("mirimage", "nrcalong"))
    miri, grism = (next(n for n, j in jobs.items() if j["pipeline"] == "tso3" and key in j["product"])
                   for key in ("miri", "nircam"))
    lrs = jobs[spec2]["product"]
    other = next(p for p in detector1 if p != lrs)
    _, edges = _dag_edges((out / "jobs.dag").read_text())
    assert edges == {(detector1[lrs], spec2), (spec2, miri), (detector1[other], grism_spec2), (grism_spec2, grism)}
    htcondor2 = pytest.importorskip("htcondor2")
    assert htcondor2.Submit((out / f"{spec2}.node.sub").read_text())["request_memory"].startswith("$CHOICE(retry")
    # Slurm: each job after its parents' IDs
    calls = tmp_path / "calls"
    _stub(tmp_path, "sbatch", f'n=$(( $(wc -l < {calls} 2>/dev/null || echo 0) + 100 ))\n'
                              f'echo "$n $*" >> {calls}\necho "$n;cluster"\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(out / "slurm-submit-all.sh")], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    submitted = {}
    for line in calls.read_text().splitlines():
        job_id, *arguments = line.split()
        submitted[Path(arguments[-1]).name.removesuffix(".slurm")] = (job_id, arguments[:-1])
    assert set(submitted) == set(jobs)
    for name in (spec2, miri):
        (dependency,) = [a for a in submitted[name][1] if a.startswith("--dependency=")]
        assert dependency == "--dependency=afterok:" + ":".join(submitted[p][0] for p in jobs[name]["depends_on"])
    # AWS Batch: the first attempt depends on its parents, the requests are valid SubmitJob calls
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import validate_parameters

    model = botocore_session.get_session().get_service_model("batch").operation_model("SubmitJob")
    for name in (spec2, miri):
        request = json.loads((out / f"{name}.batch-0.json").read_text())
        validate_parameters(request, model.input_shape)
        assert request["dependsOn"] == [{"jobId": f"@jobId:{p}@"} for p in jobs[name]["depends_on"]]


def test_a_miri_lrs_rateints_file_is_planned_as_its_spec2_job_alone(tmp_path):
    from jwst_memest.level2_estimate import estimate_reduction
    from jwst_memest.metadata import read_exposure_metadata
    from jwst_memest.plan.cli import exposure_stages

    path = lrs_rateints(tmp_path, 3000)
    estimates, missing = estimate_reduction(read_exposure_metadata(path))
    assert not missing
    site = load_site("calcloud-like")
    (job,) = plan_exposure_jobs(exposure_stages(estimates), tmp_path, site)
    assert job.pipeline == "spec2" and job.association == str(path.resolve()) and job.depends_on == []
    assert job.command == f"strun calwebb_spec2 {path.resolve()} --output_dir={tmp_path}"
    assert job.tier_gb == site.tier_for(estimates[0].upper_gb)
    # extract_1d's loop over 3000 integrations: minutes, not the site's longest time
    assert 60 < job.wall_time_s < job.wall_upper_s and job.kill_time_s == site.kill_time_s(job.wall_upper_s)


def test_a_soss_series_too_big_for_the_site_runs_with_its_box_extraction(tmp_path):
    from astropy.io import fits

    from jwst_memest.level2_estimate import SOSS_BOX_ARGUMENT, estimate_level2
    from jwst_memest.metadata import read_exposure_metadata
    from jwst_memest.plan.cli import exposure_stages

    primary = fits.PrimaryHDU()
    primary.header.update({"TELESCOP": "JWST", "INSTRUME": "NIRISS", "DETECTOR": "NIS", "EXP_TYPE": "NIS_SOSS",
                           "FILTER": "CLEAR", "PUPIL": "GR700XD", "TSOVISIT": True, "NGROUPS": 5, "NINTS": 10,
                           "SUBARRAY": "SUBSTRIP256", "SUBSIZE1": 2048, "SUBSIZE2": 256})
    path = tmp_path / "jw01234007001_03101_00001_nis_rateints.fits"
    fits.HDUList([primary]).writeto(path)
    estimate = estimate_level2(read_exposure_metadata(path))
    site_file = tmp_path / "small.yaml"
    site_file.write_text("name: small\ntiers_gb: [2, 4]\noverhead_gb: 0.25\nlargest_machine_gb: 4\n")
    site = load_site(site_file)
    # ATOCA's model alone is 5.4 GB: the default run fits no tier of 4 GB, its box extraction fits 2
    assert site.tier_for(estimate.upper_gb) is None
    (job,) = plan_exposure_jobs(exposure_stages([estimate]), tmp_path, site)
    assert job.status == "fits with settings" and job.tier_gb == 2 and SOSS_BOX_ARGUMENT in job.arguments
    assert job.command.endswith(SOSS_BOX_ARGUMENT) and "soss_atoca=false" in job.note
    # a site too small even for the box says so, with what the box would need
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text("name: tiny\ntiers_gb: [0.5]\noverhead_gb: 0.25\nlargest_machine_gb: 0.5\n")
    (job,) = plan_exposure_jobs(exposure_stages([estimate]), tmp_path, load_site(tiny))
    assert job.status == "fits no tier" and f"smallest with {SOSS_BOX_ARGUMENT}" in job.note
