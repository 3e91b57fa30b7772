"""From estimates to jobs: memory tiers, kill times, out-of-memory retries and scheduler files.

`site` describes where jobs run, `jobs` turns estimates into jobs, `schedulers` writes HTCondor,
Slurm and AWS Batch files, and `cli` is ``jwst-memest plan``.
"""

from jwst_memest.plan.jobs import Job, plan_job, plan_jobs, plan_table
from jwst_memest.plan.site import Site, default_site, load_site

__all__ = ["Job", "Site", "default_site", "load_site", "plan_job", "plan_jobs", "plan_table"]
