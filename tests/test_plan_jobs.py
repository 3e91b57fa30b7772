"""Job plans: memory tiers, kill times, out-of-memory retry ladders and jobs that fit no tier."""

from types import SimpleNamespace

import pytest

from jwst_memest.plan.jobs import plan_job, plan_jobs, plan_table
from jwst_memest.plan.site import Site, default_site, example_site_path, load_site


def _estimate(upper, alternatives=(), wall=100.0, wall_upper=150.0, product="jw01234-o001_t001_nircam_clear-f150w"):
    return SimpleNamespace(product=product, pipeline="image3", upper_bound_gb=upper, alternatives=list(alternatives),
                           wall_time_s=wall, wall_time_upper_s=wall_upper)


@pytest.fixture
def calcloud():
    return load_site("calcloud-like")


def test_shipped_site_is_calcloud_like(calcloud):
    assert example_site_path().is_file()
    assert calcloud.tiers_gb == [2, 8, 16, 64] and calcloud.max_retries == 4 and calcloud.oom_exit_codes == [137]
    assert calcloud.tier_for(1.5) == 2 and calcloud.tier_for(1.9) == 8  # 1.9 + 0.25 overhead > 2
    assert calcloud.tier_for(63.9) is None
    assert calcloud.retry_ladder(2) == [8, 16, 64] and calcloud.retry_ladder(64) == []


def test_kill_time_has_a_floor_and_a_cap(calcloud):
    assert calcloud.kill_time_s(10) == 60
    assert calcloud.kill_time_s(1000) == 1500
    assert calcloud.kill_time_s(1e6) == 48 * 3600
    assert calcloud.kill_time_s(None) == 48 * 3600


def test_default_site_is_this_machine():
    site = default_site()
    assert len(site.tiers_gb) == 1 and site.tiers_gb[0] > 0 and site.overhead_gb == 0


def test_bad_site_files_are_one_line_errors(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("tiers_gb: [8]\nmemory: 3\n")
    with pytest.raises(ValueError, match="unknown site keys memory"):
        load_site(path)
    path.write_text("tiers_gb: [8]\noverhead_gb: 9\n")
    with pytest.raises(ValueError, match="overhead_gb"):
        load_site(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_site(tmp_path / "absent.yaml")


def test_a_job_gets_the_smallest_tier_and_the_tiers_above(calcloud):
    job = plan_job(_estimate(3.79), "/data/asn.json", calcloud)
    assert (job.tier_gb, job.ladder_gb, job.status) == (8, [16, 64], "fits")
    assert job.kill_time_s == 225 and job.cpus == 1
    assert job.command == "strun calwebb_image3 /data/asn.json"
    # requests are the tier less what the site reserves, in MiB
    assert job.ladder_mib() == [int((t - 0.25) * 1e9 // 2**20) for t in (8, 16, 64)]


def test_a_job_too_large_runs_with_the_first_saving_that_fits(calcloud):
    alternatives = [{"in_memory": True, "gbSize": 70, "upper_bound_gb": 75},
                    {"in_memory": False, "gbSize": 40, "upper_bound_gb": 45},
                    {"in_memory": False, "arguments": ["--in_memory=false", "--steps.resample.enable_ctx=false"],
                     "gbSize": 30, "upper_bound_gb": 31}]
    job = plan_job(_estimate(75, alternatives), "asn.json", calcloud)
    assert job.status == "fits with settings" and job.tier_gb == 64 and job.upper_gb == 45
    assert job.arguments == ["--in_memory=false"] and job.command.endswith("--in_memory=false")
    assert "--in_memory=false" in job.note


def test_a_job_that_fits_no_tier_is_flagged_with_the_closest_setting(calcloud):
    alternatives = [{"in_memory": False, "arguments": ["--in_memory=false", "--steps.resample.enable_ctx=false"],
                     "gbSize": 90, "upper_bound_gb": 95}]
    job = plan_job(_estimate(120, alternatives), "asn.json", calcloud)
    assert job.flagged and job.status == "fits no tier" and job.ladder_gb == []
    assert "--steps.resample.enable_ctx=false" in job.note and "95.0 GB" in job.note


def test_the_table_names_every_job_and_the_flagged_ones(calcloud):
    jobs = plan_jobs([_estimate(3.0, product="a"), _estimate(120, product="b"), _estimate(1.0, product="a")],
                     {"a": "a.json", "b": "b.json"}, calcloud)
    assert [j.name for j in jobs] == ["a", "b", "a_1"]
    table = plan_table(jobs, calcloud)
    assert "site calcloud-like" in table and "fits no tier" in table and "3 jobs, 1 fit no tier" in table
    assert table.splitlines()[1].split()[:3] == ["job", "upper", "GB"]


def test_site_arguments_go_where_the_command_places_them():
    site = Site(tiers_gb=[4], command="srun strun {pipeline_class} {association} {arguments} --save_results=true")
    job = plan_job(_estimate(5, [{"in_memory": False, "gbSize": 2, "upper_bound_gb": 3}]), "a.json", site)
    assert job.command == "srun strun calwebb_image3 a.json --in_memory=false --save_results=true"


def test_a_job_run_with_a_saving_gets_that_runs_wall_time(tmp_path, monkeypatch):
    from jwst_memest.estimation import estimate_association
    from jwst_memest.example import example_association

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    estimate = estimate_association(example_association()).products[0]
    job = plan_job(estimate, "asn.json", Site(tiers_gb=[2, 3], overhead_gb=0.1))
    assert job.status == "fits with settings" and job.arguments == ["--in_memory=false"]
    # on disk, every member is read again by each step: longer than the in-memory run
    assert job.wall_time_s > estimate.wall_time_s and job.wall_upper_s > estimate.wall_time_upper_s
