"""Scheduler files of a plan: HTCondor submit descriptions and a DAG, Slurm job scripts, AWS Batch SubmitJob requests.

Every job runs through a small shell wrapper (``NAME.sh``) that runs its command and turns a
Python ``MemoryError`` into exit status 137, so that every scheduler sees one out-of-memory
signal (137: killed by SIGKILL, as the kernel's out-of-memory killer and container limits do).

- **HTCondor** ``NAME.sub``: ``request_memory`` climbs the retry ladder with ``NumJobStarts``;
  ``max_retries`` / ``retry_until`` retry only an out-of-memory exit; ``periodic_remove``
  removes a job running longer than its kill time. ``jobs.dag`` runs every job as a DAG node
  (``NAME.node.sub``: ``request_memory = $CHOICE(retry, ...)`` on DAGMan's ``$(RETRY)``, ``RETRY``
  on any exit but 1, the pipeline's own failure).
- **Slurm** ``NAME.slurm``: ``#SBATCH --mem/--time/--cpus-per-task``; on an out-of-memory exit
  the script submits itself again with the next tier's ``--mem``.
- **AWS Batch** ``NAME.batch-N.json``: one SubmitJob request per tier of the ladder (memory is
  fixed per job in Batch: a retry on more memory is a new job, as calcloud submits it);
  ``retryStrategy`` ends the attempt on exit 137 (the same memory would fail again) and retries a
  lost host.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path
from typing import Sequence

from jwst_memest.atomic import atomic_write
from jwst_memest.plan.jobs import Job
from jwst_memest.plan.site import Site

__all__ = ["wrapper_script", "htcondor_submit", "htcondor_dag_node_submit", "htcondor_dag", "slurm_time",
           "slurm_script", "aws_batch_requests", "write_scheduler_files", "OOM_EXIT"]

OOM_EXIT = 137


def _write(path: Path, text: str, executable: bool = False) -> Path:
    with atomic_write(path) as handle:
        handle.write(text)
    if executable:
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def wrapper_script(job: Job) -> str:
    """The job's shell wrapper: run the command, exit 137 on a ``MemoryError``.

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job.

    Returns
    -------
    str
        A POSIX shell script.
    """
    return "\n".join([
        "#!/bin/sh",
        f"# {job.name}: calwebb_{job.pipeline} for {job.product} (written by jwst-memest plan)",
        'errors="${TMPDIR:-/tmp}/jwst-memest-$$.err"',
        f"{job.command} 2> \"$errors\"",
        "status=$?",
        'cat "$errors" >&2',
        f'if [ "$status" -ne 0 ] && grep -q "MemoryError" "$errors"; then status={OOM_EXIT}; fi',
        'rm -f "$errors"',
        'exit "$status"',
        "",
    ])


def _memory_ladder_expression(job: Job) -> str:
    ladder = job.ladder_mib()
    expression = str(ladder[-1])
    for attempt in range(len(ladder) - 2, -1, -1):
        expression = f"ifThenElse(NumJobStarts =?= undefined || NumJobStarts <= {attempt}, {ladder[attempt]}, {expression})"
    return expression


def _oom_expression(site: Site) -> str:
    codes = " || ".join(f"ExitCode =?= {c}" for c in site.oom_exit_codes)
    return f"(ExitBySignal =?= true && ExitSignal =?= 9) || {codes}"


def _common_submit_lines(job: Job, site: Site, directory: Path) -> list[str]:
    options = site.htcondor
    lines = [
        f"# {job.name}: calwebb_{job.pipeline} for {job.product}; upper bound {job.upper_gb:.2f} GB, tier "
        f"{job.tier_gb:g} GB, kill after {job.kill_time_s:.0f} s",
        f"universe = {options.get('universe', 'vanilla')}",
        f"executable = {directory / (job.name + '.sh')}",
        f"initialdir = {directory}",
        f"output = {job.name}.out",
        f"error = {job.name}.err",
        f"log = {job.name}.log",
        f"request_cpus = {job.cpus}",
        f"+JwstMemestProduct = \"{job.product}\"",
        f"+JwstMemestUpperGB = {job.upper_gb:.4f}",
        # the job is removed once it has run longer than its kill time
        f"periodic_remove = (JobStatus == 2) && (time() - EnteredCurrentStatus > {int(-(-job.kill_time_s // 1))})",
    ]
    lines += [f"{k} = {v}" for k, v in (options.get("extra") or {}).items()]
    return lines


def htcondor_submit(job: Job, site: Site, directory: Path) -> str:
    """An HTCondor submit description of one job, retried on the next tier after an out-of-memory exit.

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job (one that fits a tier).
    site : jwst_memest.plan.site.Site
        Its site.
    directory : pathlib.Path
        Where the job's files are.

    Returns
    -------
    str
        The submit description.
    """
    lines = _common_submit_lines(job, site, directory)
    lines += [
        f"# memory (MiB) per attempt: {', '.join(map(str, job.ladder_mib()))}",
        f"request_memory = {_memory_ladder_expression(job)}",
        f"max_retries = {len(job.ladder_gb)}",
        # no more retries unless the last attempt died of memory
        f"retry_until = !({_oom_expression(site)})",
        "queue",
        "",
    ]
    return "\n".join(lines)


def htcondor_dag_node_submit(job: Job, site: Site, directory: Path) -> str:
    """The submit description of a job as a DAG node: the memory follows DAGMan's retry count.

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job.
    site : jwst_memest.plan.site.Site
        Its site.
    directory : pathlib.Path
        Where the job's files are.

    Returns
    -------
    str
        The submit description (``retry`` set by the DAG's ``VARS``).
    """
    lines = _common_submit_lines(job, site, directory)
    lines += [
        "retry = 0",
        f"request_memory = $CHOICE(retry, {', '.join(map(str, job.ladder_mib()))})",
        "queue",
        "",
    ]
    return "\n".join(lines)


def htcondor_dag(jobs: Sequence[Job]) -> str:
    """A DAG running every job that fits a tier, each retried on the next tier up.

    Parameters
    ----------
    jobs : sequence of jwst_memest.plan.jobs.Job
        The jobs (those that fit no tier are left out).

    Returns
    -------
    str
        The DAG file (node submit files are ``NAME.node.sub`` beside it).
    """
    lines = ["# Level-3 jobs planned by jwst-memest; each node is retried on the next memory tier,",
             "# unless it exits 1 (the pipeline's own failure)."]
    for job in jobs:
        if job.flagged:
            lines.append(f"# {job.name}: fits no tier, left out ({job.note})")
            continue
        lines.append(f"JOB {job.name} {job.name}.node.sub")
        lines.append(f'VARS {job.name} retry="$(RETRY)"')
        if job.ladder_gb:
            lines.append(f"RETRY {job.name} {len(job.ladder_gb)} UNLESS-EXIT 1")
    return "\n".join(lines) + "\n"


def slurm_time(seconds: float) -> str:
    """Seconds as Slurm's ``--time`` ``days-hours:minutes:seconds``, rounded up to a whole second.

    Parameters
    ----------
    seconds : float
        Seconds (positive).

    Returns
    -------
    str
        E.g. ``0-01:30:00``.
    """
    total = int(-(-seconds // 1))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}-{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def slurm_script(job: Job, site: Site, directory: Path) -> str:
    """A Slurm batch script of one job; it submits itself again on the next tier after an out-of-memory exit.

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job.
    site : jwst_memest.plan.site.Site
        Its site.
    directory : pathlib.Path
        Where the job's files are.

    Returns
    -------
    str
        The script.
    """
    options = site.slurm
    ladder = job.ladder_mib()
    header = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job.name}",
        f"#SBATCH --mem={ladder[0]}M",
        f"#SBATCH --time={slurm_time(job.kill_time_s)}",
        f"#SBATCH --cpus-per-task={job.cpus}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --output={directory / job.name}-%j.out",
    ]
    if options.get("partition"):
        header.append(f"#SBATCH --partition={options['partition']}")
    if options.get("account"):
        header.append(f"#SBATCH --account={options['account']}")
    header += [f"#SBATCH {line}" for line in options.get("extra") or []]
    oom = " || ".join(f'[ "$status" -eq {c} ]' for c in site.oom_exit_codes)
    body = [
        f"# calwebb_{job.pipeline} for {job.product}: upper bound {job.upper_gb:.2f} GB; memory per attempt "
        f"(MiB): {' '.join(map(str, ladder))}",
        f"LADDER=({' '.join(map(str, ladder))})",
        "ATTEMPT=${JWST_MEMEST_ATTEMPT:-0}",
        f"{shlex.quote(str(directory / (job.name + '.sh')))}",
        "status=$?",
        f"if ({oom}) && [ $((ATTEMPT + 1)) -lt ${{#LADDER[@]}} ]; then",
        '    NEXT=$((ATTEMPT + 1))',
        f'    echo "out of memory with ${{LADDER[$ATTEMPT]}} MiB: resubmitting with ${{LADDER[$NEXT]}} MiB" >&2',
        f'    sbatch --mem="${{LADDER[$NEXT]}}M" --export=ALL,JWST_MEMEST_ATTEMPT=$NEXT '
        f'{shlex.quote(str(directory / (job.name + ".slurm")))}',
        "fi",
        'exit "$status"',
        "",
    ]
    return "\n".join(header + body)


def aws_batch_requests(job: Job, site: Site, directory: Path) -> list[dict]:
    """AWS Batch SubmitJob requests of one job: one per tier of its ladder, the first submitted first.

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job.
    site : jwst_memest.plan.site.Site
        Its site.
    directory : pathlib.Path
        Where the job's files are.

    Returns
    -------
    list of dict
        SubmitJob parameters (boto3's ``batch.submit_job(**request)``).
    """
    options = site.aws_batch
    requests = []
    for attempt, memory in enumerate(job.ladder_mib()):
        requests.append({
            "jobName": f"{job.name}-tier{attempt}"[:128],
            "jobQueue": str(options.get("job_queue", "jwst-level3")),
            "jobDefinition": str(options.get("job_definition", "jwst-pipeline")),
            "containerOverrides": {
                "command": ["/bin/sh", str(directory / (job.name + ".sh"))],
                "resourceRequirements": [{"type": "MEMORY", "value": str(memory)},
                                         {"type": "VCPU", "value": str(job.cpus)}],
                "environment": [{"name": "JWST_MEMEST_ATTEMPT", "value": str(attempt)},
                                {"name": "JWST_MEMEST_PRODUCT", "value": job.product}],
            },
            # AWS Batch's shortest timeout is 60 s
            "timeout": {"attemptDurationSeconds": max(60, int(-(-job.kill_time_s // 1)))},
            "retryStrategy": {
                "attempts": 2,
                "evaluateOnExit": [
                    *({"onExitCode": str(code), "action": "EXIT"} for code in site.oom_exit_codes),
                    {"onStatusReason": "Host EC2*", "action": "RETRY"},
                    {"onReason": "*", "action": "EXIT"},
                ],
            },
            "tags": {"jwst_memest_product": job.product[:256], "jwst_memest_tier": str(attempt)},
        })
    return requests


def write_scheduler_files(jobs: Sequence[Job], site: Site, directory: str | Path,
                          schedulers: Sequence[str] = ("htcondor", "slurm", "aws_batch")) -> list[Path]:
    """Write each job's wrapper and scheduler files, and the DAG, into ``directory``.

    Jobs that fit no tier get none (the plan's table says why).

    Parameters
    ----------
    jobs : sequence of jwst_memest.plan.jobs.Job
        The jobs.
    site : jwst_memest.plan.site.Site
        Their site.
    directory : str or pathlib.Path
        Where to write (made when absent).
    schedulers : sequence of str, optional
        Which of ``htcondor``, ``slurm`` and ``aws_batch``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for job in jobs:
        if job.flagged:
            continue
        written.append(_write(directory / f"{job.name}.sh", wrapper_script(job), executable=True))
        if "htcondor" in schedulers:
            written.append(_write(directory / f"{job.name}.sub", htcondor_submit(job, site, directory)))
            written.append(_write(directory / f"{job.name}.node.sub", htcondor_dag_node_submit(job, site, directory)))
        if "slurm" in schedulers:
            written.append(_write(directory / f"{job.name}.slurm", slurm_script(job, site, directory), executable=True))
        if "aws_batch" in schedulers:
            for attempt, request in enumerate(aws_batch_requests(job, site, directory)):
                written.append(_write(directory / f"{job.name}.batch-{attempt}.json", json.dumps(request, indent=2) + "\n"))
    if "htcondor" in schedulers and jobs:
        written.append(_write(directory / "jobs.dag", htcondor_dag(jobs)))
    return written
