"""Where jobs run: a site's memory tiers, per-job overhead, time limits and retry policy.

A site file is YAML with these keys (all optional; defaults in brackets suit one workstation):

``name`` [``workstation``]
    A label for the plan's header.
``tiers_gb`` [this machine's memory]
    The memory of each tier a job can be given (container or machine sizes), GB (10^9 bytes).
``overhead_gb`` [0]
    What the scheduler or container service reserves of each tier for itself, GB: a job fits a
    tier when its memory upper bound plus this is at most the tier.
``largest_machine_gb`` [the largest tier]
    The largest machine: no tier above it is used.
``cpus`` [1]
    CPUs per job.
``time_factor`` [1.5], ``min_time_s`` [60], ``max_time_s`` [172800]
    Kill time = the wall-time upper bound x ``time_factor``, at least ``min_time_s``, at most
    ``max_time_s`` (calcloud: at least 60 s, at most 48 h).
``max_retries`` [4]
    Out-of-memory retries, each on the next tier up (fewer when fewer tiers are left).
``oom_exit_codes`` [[137]]
    Exit codes that mean a job died of memory (137: killed by SIGKILL, as the kernel's
    out-of-memory killer and container limits do).
``command`` [``strun {pipeline_class} {association}``]
    What a job runs; ``{pipeline_class}``, ``{association}``, ``{product}`` and ``{arguments}``
    (the memory-saving settings a job needs, when it needs some) are filled in. Arguments are
    appended when the command does not place them.
``htcondor``, ``slurm``, ``aws_batch``
    Scheduler options: HTCondor ``universe``, ``executable`` and ``extra`` (submit commands);
    Slurm ``partition``, ``account`` and ``extra`` (more ``#SBATCH`` options); AWS Batch
    ``job_queue`` and ``job_definition``.

The package ships ``jwst_memest/data/sites/calcloud-like.yaml`` (tiers of 2, 8, 16 and 64 GB).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import yaml

__all__ = ["Site", "load_site", "default_site", "machine_memory_gb", "example_site_path"]


def machine_memory_gb() -> float:
    """This machine's physical memory, GB (10^9 bytes).

    Returns
    -------
    float
        From psutil when installed, else ``os.sysconf``; 8 when neither can tell.
    """
    try:
        import psutil

        return psutil.virtual_memory().total / 1e9
    except ImportError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 8.0


@dataclass
class Site:
    """A site's memory tiers and job policy (see the module's documentation for each key).

    Parameters
    ----------
    name : str
        A label.
    tiers_gb : list of float
        The tiers' memory, GB, increasing.
    overhead_gb : float
        Memory reserved per job, GB.
    largest_machine_gb : float
        The largest machine, GB.
    cpus : int
        CPUs per job.
    time_factor : float
        Kill time over the wall-time upper bound.
    min_time_s : float
        Shortest kill time, seconds.
    max_time_s : float
        Longest kill time, seconds.
    max_retries : int
        Out-of-memory retries.
    oom_exit_codes : list of int
        Exit codes of a job killed for memory.
    command : str
        The command template of a job.
    htcondor : dict
        HTCondor options.
    slurm : dict
        Slurm options.
    aws_batch : dict
        AWS Batch options.

    Raises
    ------
    ValueError
        When a tier, the overhead, a time or a count is out of range.
    """

    name: str = "workstation"
    tiers_gb: list = field(default_factory=list)
    overhead_gb: float = 0.0
    largest_machine_gb: float = 0.0
    cpus: int = 1
    time_factor: float = 1.5
    min_time_s: float = 60.0
    max_time_s: float = 172800.0
    max_retries: int = 4
    oom_exit_codes: list = field(default_factory=lambda: [137])
    command: str = "strun {pipeline_class} {association}"
    htcondor: dict = field(default_factory=dict)
    slurm: dict = field(default_factory=dict)
    aws_batch: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.tiers_gb:
            self.tiers_gb = [round(machine_memory_gb(), 1)]
        self.tiers_gb = sorted(float(t) for t in self.tiers_gb)
        if not self.largest_machine_gb:
            self.largest_machine_gb = self.tiers_gb[-1]
        self.largest_machine_gb = float(self.largest_machine_gb)
        self.tiers_gb = [t for t in self.tiers_gb if t <= self.largest_machine_gb] or [self.largest_machine_gb]
        self.oom_exit_codes = [int(c) for c in self.oom_exit_codes]
        problems = []
        if self.tiers_gb[0] <= 0:
            problems.append("tiers_gb must be positive")
        if not 0 <= float(self.overhead_gb) < self.tiers_gb[-1]:
            problems.append("overhead_gb must be at least 0 and below the largest tier")
        if int(self.cpus) < 1 or int(self.max_retries) < 0:
            problems.append("cpus must be at least 1 and max_retries at least 0")
        if not (float(self.time_factor) > 0 and 0 < float(self.min_time_s) <= float(self.max_time_s)):
            problems.append("time_factor must be positive and 0 < min_time_s <= max_time_s")
        if problems:
            raise ValueError(f"site {self.name}: " + "; ".join(problems))
        self.overhead_gb, self.cpus, self.max_retries = float(self.overhead_gb), int(self.cpus), int(self.max_retries)
        self.time_factor, self.min_time_s, self.max_time_s = (float(self.time_factor), float(self.min_time_s),
                                                              float(self.max_time_s))

    def usable_gb(self, tier_gb: float) -> float:
        """What a job can use of a tier: the tier less the per-job overhead.

        Parameters
        ----------
        tier_gb : float
            The tier, GB.

        Returns
        -------
        float
            GB.
        """
        return tier_gb - self.overhead_gb

    def tier_for(self, upper_gb: float) -> float | None:
        """The smallest tier a job with this memory upper bound fits in.

        Parameters
        ----------
        upper_gb : float
            The job's memory upper bound, GB.

        Returns
        -------
        float or None
            The tier, GB, or None when it fits none.
        """
        return next((t for t in self.tiers_gb if upper_gb + self.overhead_gb <= t), None)

    def kill_time_s(self, wall_upper_s: float | None) -> float:
        """A job's kill time: its wall-time upper bound x ``time_factor``, within the site's limits.

        Parameters
        ----------
        wall_upper_s : float or None
            The wall-time upper bound, seconds (None: unknown, the longest time is given).

        Returns
        -------
        float
            Seconds.
        """
        if wall_upper_s is None:
            return self.max_time_s
        return float(min(max(wall_upper_s * self.time_factor, self.min_time_s), self.max_time_s))

    def retry_ladder(self, tier_gb: float) -> list[float]:
        """The tiers an out-of-memory job is retried on, in order.

        Parameters
        ----------
        tier_gb : float
            The job's first tier, GB.

        Returns
        -------
        list of float
            The next tiers up, at most ``max_retries``.
        """
        return [t for t in self.tiers_gb if t > tier_gb][: self.max_retries]


def default_site() -> Site:
    """The default site: this machine alone, its memory the only tier.

    Returns
    -------
    Site
        The workstation site.
    """
    return Site()


def example_site_path(name: str = "calcloud-like") -> Path:
    """A site file shipped with the package.

    Parameters
    ----------
    name : str, optional
        Its name (``calcloud-like``).

    Returns
    -------
    pathlib.Path
        The file.
    """
    return Path(str(resources.files("jwst_memest").joinpath("data", "sites", f"{name}.yaml")))


def load_site(path: str | Path | None = None) -> Site:
    """A site from its YAML file, or the default site.

    Parameters
    ----------
    path : str or pathlib.Path or None, optional
        The site file; a bare name (``calcloud-like``) names a shipped one.

    Returns
    -------
    Site
        The site.

    Raises
    ------
    ValueError
        When the file cannot be read, is not a mapping, has unknown keys or values out of range.
    """
    if path is None:
        return default_site()
    path = Path(path)
    if not path.exists() and path.suffix == "" and example_site_path(str(path)).is_file():
        path = example_site_path(str(path))
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read the site file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a site file is a mapping of keys to values")
    known = {f.name for f in fields(Site)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown site keys {', '.join(unknown)}; expected some of {', '.join(sorted(known))}")
    try:
        return Site(**data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
