"""Scheduler files of a plan: HTCondor submit descriptions and a DAG, Slurm job scripts, AWS Batch SubmitJob requests.

Every job runs through a small shell wrapper (``NAME.sh``) that runs its command and turns a
Python ``MemoryError`` into exit status 137, so that every scheduler sees one out-of-memory
signal (137: killed by SIGKILL, as the kernel's out-of-memory killer and container limits do).

- **HTCondor** ``NAME.sub``: ``request_memory`` climbs the retry ladder with ``NumJobStarts``;
  ``max_retries`` / ``retry_until`` retry only an out-of-memory exit; ``periodic_remove``
  removes a job running longer than its kill time. ``jobs.dag`` runs every job as a DAG node
  (``NAME.node.sub``: ``request_memory = $CHOICE(retry, ...)`` on DAGMan's ``$(RETRY)``, ``RETRY``
  on any exit but 1, the pipeline's own failure), and ``PARENT ... CHILD`` makes a job wait on the
  jobs making its inputs (detector1 -> image2 or spec2 -> Level 3); DAGMan retries a node in place, so a
  child waits on its parent's retries too.
- **Slurm** ``NAME.slurm``: ``#SBATCH --mem/--time/--cpus-per-task``; on an out-of-memory exit
  the script submits itself again with the next tier's ``--mem``, and moves the pending jobs
  waiting on it (``afterok``) onto the new job. ``slurm-submit-all.sh`` submits every job in
  dependency order, each with ``--dependency=afterok:`` on the jobs making its inputs.
- **AWS Batch** ``NAME.batch-N.json``: one SubmitJob request per tier of the ladder (memory is
  fixed per job in Batch: a retry on more memory is a new job, as calcloud submits it);
  ``retryStrategy`` ends the attempt on exit 137 (the same memory would fail again) and retries a
  lost host. A job's first request ``dependsOn`` the jobs making its inputs, each named
  ``@jobId:NAME@`` until submitted: ``aws-batch-submit-all.sh`` submits the first requests in
  dependency order, putting in the job IDs Batch returned. A request retried on more memory is a
  new job: its children are submitted again, depending on it.
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
           "slurm_script", "slurm_submit_all", "aws_batch_requests", "aws_batch_submit_all", "batch_job_id_placeholder",
           "aws_batch_gathers", "submission_order", "write_scheduler_files", "OOM_EXIT", "BATCH_MAX_DEPENDENCIES"]

OOM_EXIT = 137
BATCH_MAX_DEPENDENCIES = 20  # AWS Batch's limit on one job's dependsOn


def submission_order(jobs: Sequence[Job]) -> list[Job]:
    """The jobs that fit a tier, each after the jobs it depends on (otherwise in plan order).

    Parameters
    ----------
    jobs : sequence of jwst_memest.plan.jobs.Job
        The jobs.

    Returns
    -------
    list of jwst_memest.plan.jobs.Job
        The jobs to submit, parents first.

    Raises
    ------
    ValueError
        When the dependencies form a cycle.
    """
    runnable = {j.name: j for j in jobs if not j.flagged}
    ordered, done, visiting = [], set(), set()

    def visit(job):
        if job.name in done:
            return
        if job.name in visiting:
            raise ValueError(f"job {job.name} depends on itself")
        visiting.add(job.name)
        for parent in job.depends_on:
            if parent in runnable:
                visit(runnable[parent])
        visiting.discard(job.name)
        done.add(job.name)
        ordered.append(job)

    for job in runnable.values():
        visit(job)
    return ordered


def _parents(job: Job, runnable: set) -> tuple[list[str], list[str]]:
    """The job's parents that are submitted, and those left out (they fit no tier)."""
    return [p for p in job.depends_on if p in runnable], [p for p in job.depends_on if p not in runnable]


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
    lines = ["# Jobs planned by jwst-memest; each node is retried on the next memory tier, unless it",
             "# exits 1 (the pipeline's own failure), and starts once the nodes making its inputs are done."]
    runnable = {j.name for j in jobs if not j.flagged}
    for job in jobs:
        if job.flagged:
            lines.append(f"# {job.name}: fits no tier, left out ({job.note})")
            continue
        lines.append(f"JOB {job.name} {job.name}.node.sub")
        lines.append(f'VARS {job.name} retry="$(RETRY)"')
        if job.ladder_gb:
            lines.append(f"RETRY {job.name} {len(job.ladder_gb)} UNLESS-EXIT 1")
    for job in submission_order(jobs):
        parents, missing = _parents(job, runnable)
        if parents:
            lines.append(f"PARENT {' '.join(parents)} CHILD {job.name}")
        lines += [f"# {job.name} also needs {p}, left out: run {p} elsewhere first" for p in missing]
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
        f'    NEW=$(sbatch --parsable --mem="${{LADDER[$NEXT]}}M" --export=ALL,JWST_MEMEST_ATTEMPT=$NEXT '
        f'{shlex.quote(str(directory / (job.name + ".slurm")))})',
        '    NEW=${NEW%%;*}',
        "    # the jobs waiting on this one (afterok) wait on its retry instead: Slurm would never start them",
        '    if [ -n "$NEW" ] && [ -n "$SLURM_JOB_ID" ]; then',
        '        squeue -h -t PENDING -u "$USER" -o "%i %E" | while read -r id dependency; do',
        '            case "$dependency" in',
        '                *":$SLURM_JOB_ID"["(:,"]*|*":$SLURM_JOB_ID")',
        '                    scontrol update JobId="$id" Dependency="$(printf %s "$dependency" '
        '| sed -e \'s/([^)]*)//g\' -e "s/:$SLURM_JOB_ID\\([:,]\\|\\$\\)/:$NEW\\1/g")" ;;',
        "            esac",
        "        done",
        "    fi",
        "fi",
        'exit "$status"',
        "",
    ]
    return "\n".join(header + body)


def slurm_submit_all(jobs: Sequence[Job], directory: Path) -> str:
    """A bash script submitting every job's Slurm script, each after the jobs making its inputs (``afterok``).

    Parameters
    ----------
    jobs : sequence of jwst_memest.plan.jobs.Job
        The jobs (those that fit no tier are left out).
    directory : pathlib.Path
        Where the jobs' scripts are.

    Returns
    -------
    str
        The script (``slurm-submit-all.sh``).
    """
    runnable = {j.name for j in jobs if not j.flagged}
    lines = ["#!/bin/bash",
             "# Submits the jobs planned by jwst-memest, each starting once the jobs making its inputs ended well.",
             "set -e",
             "declare -A ID",
             'submit() { local out; out=$(sbatch --parsable "$@"); echo "${out%%;*}"; }']
    for job in submission_order(jobs):
        parents, missing = _parents(job, runnable)
        lines += [f"# {job.name} also needs {p}, which fits no tier: run it elsewhere first" for p in missing]
        dependency = f'--dependency=afterok:{":".join(f"${{ID[{p}]}}" for p in parents)} ' if parents else ""
        lines.append(f"ID[{job.name}]=$(submit {dependency}{shlex.quote(str(directory / (job.name + '.slurm')))})")
    lines += ['echo "submitted ${#ID[@]} jobs"', ""]
    return "\n".join(lines)


def batch_job_id_placeholder(name: str) -> str:
    """What a request's ``dependsOn`` names a job by until it is submitted and has an ID.

    Parameters
    ----------
    name : str
        The job's name.

    Returns
    -------
    str
        ``@jobId:NAME@``.
    """
    return f"@jobId:{name}@"


def _placeholder_names(request: dict) -> list[str]:
    prefix = batch_job_id_placeholder("")[:-1]
    return [d["jobId"][len(prefix):-1] for d in request.get("dependsOn", [])]


def aws_batch_submit_all(jobs: Sequence[Job], site: Site, directory: Path) -> str:
    """A shell script submitting every job's first AWS Batch request in dependency order (AWS CLI).

    Each request's ``dependsOn`` placeholders (`batch_job_id_placeholder`) are replaced by the job
    IDs Batch returned for its parents.

    Parameters
    ----------
    jobs : sequence of jwst_memest.plan.jobs.Job
        The jobs (those that fit no tier are left out).
    site : jwst_memest.plan.site.Site
        Their site.
    directory : pathlib.Path
        Where the requests are (gathering jobs' too: ``NAME.json``).

    Returns
    -------
    str
        The script (``aws-batch-submit-all.sh``).
    """
    runnable = {j.name for j in jobs if not j.flagged}
    lines = ["#!/bin/bash",
             "# Submits the first request of each job planned by jwst-memest, parents first; a request's",
             "# dependsOn names its parents @jobId:NAME@ until they have IDs.",
             "set -e",
             "declare -A ID",
             'request=$(mktemp)',
             'trap \'rm -f "$request"\' EXIT',
             "submit() {",
             '    local file=$1; shift',
             '    cp "$file" "$request"',
             '    for pair in "$@"; do sed -i "s/@jobId:${pair%%=*}@/${pair#*=}/g" "$request"; done',
             '    aws batch submit-job --cli-input-json "file://$request" --query jobId --output text',
             "}"]
    def submit(name: str, path: Path, parents: Sequence[str]) -> str:
        pairs = "".join(f' "{p}=${{ID[{p}]}}"' for p in parents)
        return f"ID[{name}]=$(submit {shlex.quote(str(path))}{pairs})"

    for job in submission_order(jobs):
        parents, _ = _parents(job, runnable)
        gathers, depends_on = aws_batch_gathers(job, site, parents)
        lines += [submit(name, directory / f"{name}.json", _placeholder_names(request))
                  for name, request in gathers]
        lines.append(submit(job.name, directory / f"{job.name}.batch-0.json", depends_on))
    lines += ['echo "submitted ${#ID[@]} jobs"', ""]
    return "\n".join(lines)


def _gather_request(name: str, parents: Sequence[str], site: Site, product: str) -> dict:
    options = site.aws_batch
    return {"jobName": name, "jobQueue": str(options.get("job_queue", "jwst-level3")),
            "jobDefinition": str(options.get("job_definition", "jwst-pipeline")),
            "containerOverrides": {"command": ["/bin/sh", "-c", "true"]},
            "dependsOn": [{"jobId": batch_job_id_placeholder(p)} for p in parents],
            "tags": {"jwst_memest_product": product[:256], "jwst_memest_gather": "true"}}


def aws_batch_gathers(job: Job, site: Site,
                      parents: Sequence[str] | None = None) -> tuple[list[tuple[str, dict]], list[str]]:
    """Jobs doing nothing but wait, so that a job can wait on more parents than Batch lets one job name.

    Batch takes at most `BATCH_MAX_DEPENDENCIES` jobs in a ``dependsOn``: a Level-3 product of
    more members waits on gathering jobs, each waiting on up to that many parents (and on
    gathering jobs in turn, for more than its square).

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job.
    site : jwst_memest.plan.site.Site
        Its site (the queue and job definition).
    parents : sequence of str or None, optional
        The parents submitted (default: all the job's).

    Returns
    -------
    gathers : list of (str, dict)
        Each gathering job's name and SubmitJob request, parents first.
    depends_on : list of str
        What the job's own first request depends on (at most `BATCH_MAX_DEPENDENCIES`).
    """
    parents = list(job.depends_on if parents is None else parents)
    gathers, level = [], 0
    while len(parents) > BATCH_MAX_DEPENDENCIES:
        names = []
        for k in range(0, len(parents), BATCH_MAX_DEPENDENCIES):
            name = f"{job.name[:110]}-after{level}-{k // BATCH_MAX_DEPENDENCIES}"
            gathers.append((name, _gather_request(name, parents[k:k + BATCH_MAX_DEPENDENCIES], site, job.product)))
            names.append(name)
        parents, level = names, level + 1
    return gathers, parents


def aws_batch_requests(job: Job, site: Site, directory: Path, parents: Sequence[str] | None = None) -> list[dict]:
    """AWS Batch SubmitJob requests of one job: one per tier of its ladder, the first submitted first.

    Parameters
    ----------
    job : jwst_memest.plan.jobs.Job
        The job.
    site : jwst_memest.plan.site.Site
        Its site.
    directory : pathlib.Path
        Where the job's files are.
    parents : sequence of str or None, optional
        The parents submitted (default: all the job's).

    Returns
    -------
    list of dict
        SubmitJob parameters (boto3's ``batch.submit_job(**request)``); the first ``dependsOn``
        the job's parents (or, beyond Batch's limit, their `aws_batch_gathers`), by
        `batch_job_id_placeholder` until they are submitted.
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
    # a retry on more memory starts after its first attempt ran, when the parents had ended well
    _, depends_on = aws_batch_gathers(job, site, parents)
    if depends_on and requests:
        requests[0]["dependsOn"] = [{"jobId": batch_job_id_placeholder(p)} for p in depends_on]
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
    runnable = {j.name for j in jobs if not j.flagged}
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
            parents, _ = _parents(job, runnable)
            for name, request in aws_batch_gathers(job, site, parents)[0]:
                written.append(_write(directory / f"{name}.json", json.dumps(request, indent=2) + "\n"))
            for attempt, request in enumerate(aws_batch_requests(job, site, directory, parents)):
                written.append(_write(directory / f"{job.name}.batch-{attempt}.json", json.dumps(request, indent=2) + "\n"))
    if "htcondor" in schedulers and jobs:
        written.append(_write(directory / "jobs.dag", htcondor_dag(jobs)))
    if "slurm" in schedulers and jobs:
        written.append(_write(directory / "slurm-submit-all.sh", slurm_submit_all(jobs, directory), executable=True))
    if "aws_batch" in schedulers and jobs:
        written.append(_write(directory / "aws-batch-submit-all.sh", aws_batch_submit_all(jobs, site, directory),
                              executable=True))
    return written
