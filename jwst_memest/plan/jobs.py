"""From estimates to jobs: a memory tier, a kill time and a retry ladder per Level-3 product, and per
exposure for the stages before Level 3 that are estimated (calwebb_detector1; calwebb_image2 for
imaging, calwebb_spec2 for MIRI LRS and MRS, NIRISS SOSS).

A Level-3 job waits on the jobs making its members' files: the last planned stage of each member's
exposure (matched by exposure name: ``jw..._nrca1_uncal`` makes the ``jw..._nrca1_cal`` a product
names). A member without a planned stage adds no dependency.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from jwst_memest.metadata import exposure_stem
from jwst_memest.pipelines import CLASS_ALIAS_PREFIX, class_alias
from jwst_memest.plan.site import Site

__all__ = ["Job", "plan_job", "plan_jobs", "plan_exposure_job", "plan_exposure_jobs", "link_to_exposures",
           "plan_table", "job_name", "mib", "LEVEL2_NOT_PLANNED"]

# a Level-3 job whose members' Level 2 is not estimated (calwebb_spec2 of WFSS, of MOS without its
# MSA file) waits on detector1 only: someone else runs Level 2
LEVEL2_NOT_PLANNED = ("Level 2 of some members is not estimated, so not planned (calwebb_spec2 of WFSS is not "
                      "estimated, nor of MOS without its MSA file): this job waits on their detector1 "
                      "jobs; run their Level 2 before it")


def job_name(product: str) -> str:
    """A name safe for every scheduler (HTCondor DAG nodes, Slurm, AWS Batch: letters, digits, ``-_``).

    Parameters
    ----------
    product : str
        The product's name.

    Returns
    -------
    str
        At most 128 characters.
    """
    return re.sub(r"[^A-Za-z0-9_-]", "_", product)[:128] or "job"


@dataclass
class Job:
    """One pipeline run to submit.

    Parameters
    ----------
    name : str
        The job's name (`job_name` of the product).
    product : str
        The Level-3 product, or the exposure (its name without suffix) of a stage before Level 3.
    pipeline : str
        Its pipeline (``image3``, ..., ``detector1``, ``image2``, ``spec2``).
    association : str
        The association file the job runs on (a stage before Level 3: its input exposure file).
    upper_gb : float
        The memory upper bound the tier was chosen for, GB (the alternative's when one is used).
    tier_gb : float or None
        The tier the job runs on, GB; None when the job fits no tier.
    ladder_gb : list of float
        The tiers of the out-of-memory retries, in order.
    overhead_gb : float
        What the site reserves of each tier: a job requests its tier less this.
    wall_time_s : float or None
        The estimated wall time, seconds.
    wall_upper_s : float or None
        Its upper bound, seconds.
    kill_time_s : float
        The time after which the job is removed, seconds.
    cpus : int
        CPUs requested.
    arguments : list of str
        Settings the job runs with to fit (an alternative's), empty for the default run.
    status : str
        ``fits``, ``fits with settings`` or ``fits no tier``.
    note : str
        What a flagged job would need.
    command : str
        The command line the job runs.
    depends_on : list of str
        The names of the jobs that must end well before this one starts.
    """

    name: str
    product: str
    pipeline: str
    association: str
    upper_gb: float
    tier_gb: float | None
    ladder_gb: list = field(default_factory=list)
    overhead_gb: float = 0.0
    wall_time_s: float | None = None
    wall_upper_s: float | None = None
    kill_time_s: float = 0.0
    cpus: int = 1
    arguments: list = field(default_factory=list)
    status: str = "fits"
    note: str = ""
    command: str = ""
    depends_on: list = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        """Whether the job fits no tier.

        Returns
        -------
        bool
            True when ``tier_gb`` is None.
        """
        return self.tier_gb is None

    @property
    def request_mib(self) -> int:
        """The memory request in MiB (schedulers count in MiB): the tier less the site's overhead.

        Returns
        -------
        int
            MiB (the upper bound's, for a job that fits no tier).
        """
        return mib(self.tier_gb - self.overhead_gb if self.tier_gb is not None else self.upper_gb)

    def ladder_mib(self) -> list[int]:
        """The first request and every retry's, MiB.

        Returns
        -------
        list of int
            MiB per attempt.
        """
        return [self.request_mib] + [mib(t - self.overhead_gb) for t in self.ladder_gb]


def mib(gb: float) -> int:
    """GB (10^9 bytes) as whole MiB, rounded down (a tier's size is what the machine has).

    Parameters
    ----------
    gb : float
        GB.

    Returns
    -------
    int
        MiB.
    """
    return int(gb * 1e9 // 2**20)


def _alternative_arguments(alternative: dict) -> list[str]:
    if alternative.get("arguments"):
        return list(alternative["arguments"])
    return [] if alternative.get("in_memory", True) else ["--in_memory=false"]


def _placement(upper: float, alternatives, site: Site,
               remedy: str) -> tuple[float, float | None, dict | None, str, str]:
    """Where a job goes: the smallest tier its bound fits, else the least intrusive memory-saving setting of
    its estimate (``alternatives``, listed least intrusive first) that fits one; else flagged, with the setting
    that comes closest and ``remedy``.

    Returns the bound the tier was chosen for, the tier (None: none fits), the chosen alternative (None: the
    default run), the status and the note.
    """
    tier = site.tier_for(upper)
    if tier is not None:
        return upper, tier, None, "fits", ""
    alternatives = [a for a in alternatives or [] if _alternative_arguments(a)]
    fitting = [a for a in alternatives if site.tier_for(float(a["upper_bound_gb"])) is not None]
    largest = site.usable_gb(site.tiers_gb[-1])
    if fitting:
        chosen = fitting[0]
        bound = float(chosen["upper_bound_gb"])
        return bound, site.tier_for(bound), chosen, "fits with settings", (
            f"default run needs {upper:.1f} GB > {largest:.1f} GB usable on the largest tier; "
            f"runs with {' '.join(_alternative_arguments(chosen))}")
    note = f"needs {upper:.1f} GB > {largest:.1f} GB usable on the largest tier"
    closest = min(alternatives, key=lambda a: a["upper_bound_gb"], default=None)
    if closest is not None and closest["upper_bound_gb"] < upper:
        note += f"; smallest with {' '.join(_alternative_arguments(closest))}: {closest['upper_bound_gb']:.1f} GB"
    return upper, None, None, "fits no tier", f"{note}; {remedy}"


def _wall_times_with(estimate, arguments: list[str]) -> tuple[float | None, float | None] | None:
    """The wall time and its bound of the product run with ``arguments`` (None when it cannot be told)."""
    features = getattr(estimate, "features", None)
    if features is None:
        return None
    try:
        import numpy as np

        from jwst_memest.features.build import product_features
        from jwst_memest.model.terms import with_product_settings
        from jwst_memest.model.walltime import estimate_wall_times
        from jwst_memest.settings import RunSettings

        settings = RunSettings.from_arguments(arguments, base=estimate.settings)
        other = product_features(features.members, features.pipeline, settings=settings)
        X = with_product_settings(np.atleast_2d(other.vector()), [settings], [other])
        seconds, upper = estimate_wall_times(estimate.pipeline, X, estimate.quantile, estimate.speed_factor)
    except (ValueError, AttributeError, KeyError, TypeError):
        return None
    return None if seconds is None else (float(seconds[0]), float(upper[0]))


def _command(site: Site, pipeline_class: str, association: str, product: str, arguments: list[str]) -> str:
    text = " ".join(shlex.quote(a) for a in arguments)
    command = site.command.format(pipeline_class=pipeline_class, association=shlex.quote(association),
                                  product=shlex.quote(product), arguments=text)
    if arguments and "{arguments}" not in site.command:
        command = f"{command} {text}"
    return command.strip()


def plan_job(estimate, association: str | Path, site: Site) -> Job:
    """The job of one product's estimate at a site.

    The memory request is the smallest tier the estimate's upper bound (plus the site's per-job
    overhead) fits in. A product that fits no tier is run with the least intrusive memory-saving
    setting the estimate offers (its ``alternatives``) that fits one, and says so (its wall time
    is then estimated with that setting); one that fits none even then is flagged, with the
    setting that comes closest.

    Parameters
    ----------
    estimate : jwst_memest.estimate_records.ProductEstimate
        The product's estimate.
    association : str or pathlib.Path
        The association file the job runs on.
    site : jwst_memest.plan.site.Site
        Where it runs.

    Returns
    -------
    Job
        The job.
    """
    association = str(association)
    upper, tier, chosen, status, note = _placement(float(estimate.upper_bound_gb), estimate.alternatives, site,
                                                   "split the association or find a larger machine")
    arguments = _alternative_arguments(chosen) if chosen else []
    wall, wall_upper = getattr(estimate, "wall_time_s", None), getattr(estimate, "wall_time_upper_s", None)
    if arguments:  # a run with other settings takes another time (on disk: longer)
        wall, wall_upper = _wall_times_with(estimate, arguments) or (wall, wall_upper)
    return Job(name=job_name(estimate.product), product=estimate.product, pipeline=estimate.pipeline,
               association=association, upper_gb=upper, tier_gb=tier,
               ladder_gb=site.retry_ladder(tier) if tier is not None else [], overhead_gb=site.overhead_gb,
               wall_time_s=wall, wall_upper_s=wall_upper, kill_time_s=site.kill_time_s(wall_upper),
               cpus=site.cpus, arguments=arguments, status=status, note=note,
               command=_command(site, class_alias(estimate.pipeline), association, estimate.product, arguments))


def plan_jobs(estimates: Sequence, association_of: dict[str, str | Path], site: Site) -> list[Job]:
    """The jobs of many products' estimates.

    Parameters
    ----------
    estimates : sequence of jwst_memest.estimate_records.ProductEstimate
        The estimates.
    association_of : dict of str to str or pathlib.Path
        Each product's association file.
    site : jwst_memest.plan.site.Site
        Where they run.

    Returns
    -------
    list of Job
        One per estimate, in order; names made unique.
    """
    jobs, seen = [], {}
    for estimate in estimates:
        job = plan_job(estimate, association_of[estimate.product], site)
        count = seen.get(job.name, 0)
        seen[job.name] = count + 1
        if count:
            job.name = f"{job.name}_{count}"
        jobs.append(job)
    return jobs


def _stage_wall_times(estimate, stage: str, quantile: float) -> tuple[float | None, float | None]:
    """The stage's wall time and bound: the estimate's own, else its stage's model on the estimate's inputs."""
    if getattr(estimate, "wall_time_s", None) is not None:
        return float(estimate.wall_time_s), float(estimate.wall_time_upper_s)
    from jwst_memest.model.walltime import load_walltime
    from jwst_memest.speed import machine_speed_factor

    try:
        model = load_walltime(stage)
        if model is None or not getattr(estimate, "inputs", None):
            return None, None
        seconds, upper = model.estimate([dict(estimate.inputs)], quantile, machine_speed_factor())
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    return float(seconds[0]), float(upper[0])


def plan_exposure_job(estimate, input_path: str | Path, output_dir: str | Path, site: Site,
                      depends_on: Sequence[str] = (), quantile: float = 0.95) -> Job:
    """The job of one exposure's stage before Level 3 (calwebb_detector1, calwebb_image2 or calwebb_spec2).

    The memory request is the smallest tier the estimate's upper bound (plus the site's per-job
    overhead) fits in; the kill time comes from the wall-time bound (the site's longest time when
    the stage has no wall-time model). One that fits no tier runs with the memory-saving setting the
    estimate offers (its ``alternatives``: NIRISS SOSS extracted in a box) when that fits, and says
    so; else it is flagged. The job writes its products to ``output_dir``, where the next stage and
    the Level-3 associations look for them.

    Parameters
    ----------
    estimate : jwst_memest.exposure_estimate.ExposureEstimate
        The stage's estimate for the exposure.
    input_path : str or pathlib.Path
        The file the stage runs on (the uncal file; Level 2: the rate or rateints file detector1 writes).
    output_dir : str or pathlib.Path
        Where the stage writes its products.
    site : jwst_memest.plan.site.Site
        Where it runs.
    depends_on : sequence of str, optional
        The jobs making its input.
    quantile : float, optional
        The wall-time bound's quantile, for an estimate that carries no wall time (one made without
        its stage's wall-time model installed, or read back from a record: the model is applied to the
        estimate's inputs).

    Returns
    -------
    Job
        The job, named after the exposure and the stage.
    """
    stage = str(estimate.pipeline).lower().removeprefix(CLASS_ALIAS_PREFIX)
    stem = exposure_stem(estimate.path)
    upper, tier, chosen, status, note = _placement(float(estimate.upper_gb), getattr(estimate, "alternatives", None),
                                                   site, "find a larger machine")
    wall, wall_upper = _stage_wall_times(estimate, stage, quantile)
    if chosen and chosen.get("wall_time_s") is not None:  # the setting's own time, estimated with it
        wall, wall_upper = float(chosen["wall_time_s"]), float(chosen["wall_time_upper_s"])
    arguments = [f"--output_dir={output_dir}", *(_alternative_arguments(chosen) if chosen else [])]
    return Job(name=job_name(f"{stem}_{stage}"), product=stem, pipeline=stage, association=str(input_path),
               upper_gb=upper, tier_gb=tier, ladder_gb=site.retry_ladder(tier) if tier is not None else [],
               overhead_gb=site.overhead_gb, wall_time_s=wall, wall_upper_s=wall_upper,
               kill_time_s=site.kill_time_s(wall_upper), cpus=site.cpus, arguments=arguments, status=status, note=note,
               command=_command(site, CLASS_ALIAS_PREFIX + stage, str(input_path), stem, arguments),
               depends_on=list(depends_on))


def plan_exposure_jobs(stages: Sequence[tuple], output_dir: str | Path, site: Site,
                       quantile: float = 0.95) -> list[Job]:
    """The jobs of the stages before Level 3, each waiting on the stage before it of the same exposure.

    Parameters
    ----------
    stages : sequence of (ExposureEstimate, str) tuples
        Each stage's estimate and the file it runs on, an exposure's stages in run order
        (calwebb_detector1 before calwebb_image2 or calwebb_spec2).
    output_dir : str or pathlib.Path
        Where the stages write their products.
    site : jwst_memest.plan.site.Site
        Where they run.
    quantile : float, optional
        The wall-time bounds' quantile (for estimates that carry no wall time).

    Returns
    -------
    list of Job
        One per stage, in the order given.
    """
    jobs, last, seen = [], {}, {}
    for estimate, input_path in stages:
        stem = exposure_stem(estimate.path)
        before = [last[stem]] if stem in last else []
        job = plan_exposure_job(estimate, input_path, output_dir, site, before, quantile)
        count = seen.get(job.name, 0)
        seen[job.name] = count + 1
        if count:  # the same exposure twice in the folder (another suffix): a name of its own
            job.name = f"{job.name}_{count}"
        last[stem] = job.name
        jobs.append(job)
    return jobs


def link_to_exposures(level3_jobs: Sequence[Job], exposure_jobs: Sequence[Job],
                      members_of: dict[str, Sequence[str]]) -> None:
    """Make each Level-3 job wait on the last planned stage of each of its members' exposures.

    Parameters
    ----------
    level3_jobs : sequence of Job
        The Level-3 jobs (their ``depends_on`` is set).
    exposure_jobs : sequence of Job
        The jobs of the stages before Level 3, an exposure's stages in run order.
    members_of : dict of str to sequence of str
        Each Level-3 product's members, by exposure name (`jwst_memest.metadata.exposure_stem`).
    """
    last, stage_of = {}, {}
    for job in exposure_jobs:
        last[job.product] = job.name
        stage_of[job.name] = job.pipeline
    for job in level3_jobs:
        parents = list(dict.fromkeys(last[s] for s in members_of.get(job.product, ()) if s in last))
        job.depends_on = parents
        if any(stage_of[p] == "detector1" for p in parents):
            job.note = f"{job.note}; {LEVEL2_NOT_PLANNED}" if job.note else LEVEL2_NOT_PLANNED


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def plan_table(jobs: Sequence[Job], site: Site) -> str:
    """The plan as an aligned table, with the site in a header line and each flagged job's note below.

    Parameters
    ----------
    jobs : sequence of Job
        The jobs.
    site : jwst_memest.plan.site.Site
        Their site.

    Returns
    -------
    str
        The table.
    """
    head = ("job", "upper GB", "tier GB", "retries on GB", "wall", "wall upper", "kill after", "status")
    rows = [(j.name, f"{j.upper_gb:.2f}", "-" if j.tier_gb is None else f"{j.tier_gb:g}",
             ",".join(f"{t:g}" for t in j.ladder_gb) or "-", _duration(j.wall_time_s), _duration(j.wall_upper_s),
             _duration(j.kill_time_s), j.status) for j in jobs]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    right = {1, 2, 4, 5, 6}

    def line(row):
        return "  ".join(str(v).rjust(w) if i in right else str(v).ljust(w)
                         for i, (v, w) in enumerate(zip(row, widths))).rstrip()

    tiers = ", ".join(f"{t:g}" for t in site.tiers_gb)
    out = [f"site {site.name}: tiers {tiers} GB, overhead {site.overhead_gb:g} GB per job, "
           f"kill after wall upper x {site.time_factor:g} (at least {site.min_time_s:g} s, at most "
           f"{_duration(site.max_time_s)}), up to {site.max_retries} out-of-memory retries",
           line(head), *(line(r) for r in rows)]
    out += [f"  {j.name}: {j.note}" for j in jobs if j.note]
    flagged = sum(j.flagged for j in jobs)
    out.append(f"{len(jobs)} jobs, {flagged} fit no tier" if flagged else f"{len(jobs)} jobs, all fit a tier")
    return "\n".join(out)
