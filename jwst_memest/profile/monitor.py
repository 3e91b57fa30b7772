"""Run a command in a child process and measure its peak memory and wall time.

Two measures of the peak: the kernel's maximum resident set size of the command
(``wait4``'s ru_maxrss) and the largest sum of RSS over the whole process tree,
sampled every ``interval`` seconds.

The kernel's figure is that of one process: the largest of the command and of each
descendant it waited for, never their sum. When the command runs worker processes
at the same time (jump and ramp_fit with ``maximum_cores`` > 1), the tree's peak is
at least the larger of the two measures (``Measurement.peak_tree_gb``) and at most
the sum of every process's own high-water mark (``peak_hwm_sum_gb``, VmHWM of each
process of the tree as last seen).

The kernel keeps, across exec, the high-water mark of the memory a process had
before it: a command started straight from a large parent (a pytest or dask
worker holding gigabytes) would report that parent's peak. So the command is
started by a small launcher that forks and execs it, and reports its ru_maxrss.
The launcher and the command die with the process that started them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import datetime
import re
from dataclasses import dataclass, field
from typing import Iterator

__all__ = ["Measurement", "measure", "exit_on_termination", "step_intervals", "step_times"]

_LAUNCHER = (
    "import os, sys\n"
    # killed with the process that started it (Linux's PR_SET_PDEATHSIG, SIGKILL): a profiler killed
    # outright, or a dask worker stopped with its cluster, leaves no pipeline running on its own
    "def die_with_parent():\n"
    "    try:\n"
    "        import ctypes\n"
    "        ctypes.CDLL(None).prctl(1, 9)\n"
    "    except (OSError, AttributeError):\n"
    "        pass\n"
    "die_with_parent()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    die_with_parent()\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "with open(sys.argv[1], 'w') as handle:\n"
    "    handle.write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


@dataclass
class Measurement:
    """One monitored run: its exit status, wall time and peak memory (GB = 10^9 bytes).

    Parameters
    ----------
    returncode : int
        The command's exit status.
    wall_s : float
        Wall time, seconds.
    peak_gb : float
        The kernel's max RSS of the command.
    peak_sampled_gb : float
        The largest sampled RSS of the process tree.
    output_tail : str, optional
        The end of the command's output.
    step_peaks : dict, optional
        Step name to the largest sampled RSS while it ran, GB.
    over_limit : bool, optional
        Whether it was killed because the tree's RSS passed ``rss_limit_gb``.
    peak_hwm_sum_gb : float, optional
        Sum over the tree's processes of each one's own peak (VmHWM): an upper bound.
    """
    returncode: int
    wall_s: float
    peak_gb: float  # kernel max RSS of the command, 10^9 bytes
    peak_sampled_gb: float  # largest sampled RSS of the process tree, 10^9 bytes
    output_tail: str = ""
    step_peaks: dict = field(default_factory=dict)  # step name -> largest sampled RSS while it ran, GB
    over_limit: bool = False  # killed because the tree's RSS passed ``rss_limit_gb``
    peak_hwm_sum_gb: float = 0.0  # sum over the tree's processes of each one's own peak (VmHWM): an upper bound

    @property
    def peak_tree_gb(self) -> float:
        """Peak of the whole process tree.

        The kernel's peak of its largest process, or the largest sampled sum over its processes when
        workers ran at the same time.

        Returns
        -------
        float
            GB.
        """
        return max(self.peak_gb, self.peak_sampled_gb)


def _tree_rss(process) -> int:
    import psutil

    total = 0
    try:
        for proc in [process, *process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return total


def _high_water_marks(process, marks: dict[int, int]) -> None:
    """Record each process's VmHWM (bytes) of the tree in ``marks`` (pid -> largest seen)."""
    import psutil

    try:
        processes = [process, *process.children(recursive=True)]
    except psutil.Error:
        return
    for proc in processes:
        try:
            with open(f"/proc/{proc.pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        marks[proc.pid] = max(marks.get(proc.pid, 0), int(line.split()[1]) * 1024)
                        break
        except (OSError, ValueError):
            continue


@contextlib.contextmanager
def exit_on_termination() -> Iterator[None]:
    """Inside this block SIGTERM and SIGHUP exit through Python, as Ctrl-C does, instead of ending the process.

    A profiler stopped by ``kill``, ``timeout`` or a scheduler then runs its ``finally`` blocks: the
    command it measures is killed and its scratch directory (gigabytes of synthetic exposures) removed.
    The previous handlers are restored on leaving. Outside the main thread (where Python cannot set
    handlers) it changes nothing.

    Yields
    ------
    None
        While termination raises ``SystemExit(128 + signal number)``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    previous = {signum: signal.signal(signum, _exit) for signum in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def measure(command: list[str], *, env: dict | None = None, cwd=None, interval: float = 0.2,
            timeout: float | None = None, log_path=None, rss_limit_gb: float | None = None) -> Measurement:
    """Run ``command``; return its exit code, wall time and peak memory.

    A run whose process tree passes ``rss_limit_gb`` is killed there: on a shared machine the
    kernel's out-of-memory killer would otherwise pick a process, not necessarily this one.

    Parameters
    ----------
    command : list of str
        The command.
    env : dict or None, optional
        Its environment.
    cwd : str or pathlib.Path, optional
        Its working directory.
    interval : float, optional
        Seconds between RSS samples.
    timeout : float or None, optional
        Seconds before it is killed.
    log_path : str or pathlib.Path, optional
        Where its output is written (default: discarded).
    rss_limit_gb : float or None, optional
        The process tree's RSS (GB) at which it is killed.

    Returns
    -------
    Measurement
        The run's measurement.
    """
    import psutil

    fd, maxrss_file = tempfile.mkstemp(prefix="memest-maxrss-")
    os.close(fd)
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _LAUNCHER, maxrss_file, *command], env=env, cwd=cwd,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    watched = psutil.Process(child.pid)
    peak_sampled = 0
    samples = []  # (wall-clock time, tree RSS)
    over_limit = False
    marks: dict[int, int] = {}
    try:
        while child.poll() is None:
            rss = _tree_rss(watched)
            _high_water_marks(watched, marks)
            samples.append((time.time(), rss))
            peak_sampled = max(peak_sampled, rss)
            if rss_limit_gb and rss > rss_limit_gb * 1e9:
                over_limit = True
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                break
            if timeout and time.perf_counter() - start > timeout:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                break
            time.sleep(interval)
    finally:
        # the command runs in its own session: left alone, it would outlive a profiler that is stopped
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        if log_path:
            log.close()
    wall = time.perf_counter() - start
    status = child.returncode
    try:
        with open(maxrss_file) as handle:
            peak_kb = int(handle.read() or 0)
    except (OSError, ValueError):
        peak_kb = 0
    finally:
        os.unlink(maxrss_file)
    tail, step_peaks = "", {}
    if log_path:
        with open(log_path, errors="replace") as handle:
            lines = handle.readlines()
        tail = "".join(lines[-5:])
        step_peaks = peaks_by_step(lines, samples)
    return Measurement(status, wall, peak_kb * 1024 / 1e9, peak_sampled / 1e9, tail, step_peaks, over_limit,
                       sum(marks.values()) / 1e9)


# stpipe logs "<date> <time>,<ms> - stpipe.step - INFO - Step <name> running with args ..." and "... Step <name> done"
_STEP_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - [\w.]+ - INFO - Step (\w+) (running|done)")


def step_intervals(lines) -> list[tuple[str, float, float]]:
    """(step, start, end) wall-clock times of every step run in an stpipe log, pipelines left out.

    A step ends at its "done" line, or (skipped, failed) when the next step starts.

    Parameters
    ----------
    lines : iterable of str
        The log's lines.

    Returns
    -------
    list of tuple
        (step name, start, end) in seconds since the epoch; an unfinished step ends at infinity.
    """
    intervals, current = [], None
    for line in lines:
        match = _STEP_LINE.match(line)
        if not match:
            continue
        stamp, name, what = match.groups()
        when = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if name.endswith("Pipeline"):
            continue
        if what == "done":
            if current is not None and current[0] == name:
                intervals.append((name, current[1], when))
                current = None
            continue
        if current is not None:
            intervals.append((current[0], current[1], when))
        current = (name, when)
    if current is not None:
        intervals.append((current[0], current[1], float("inf")))
    return intervals


def peaks_by_step(lines, samples) -> dict[str, float]:
    """Largest sampled RSS (GB) while each step ran; steps run several times (per source) keep their largest.

    A step shorter than the sampling interval has no sample of its own: it gets the larger of the
    two samples around it (what it started on, what it left), so every step that ran is reported.
    """
    peaks: dict[str, float] = {}
    for name, start, end in step_intervals(lines):
        inside = [rss for when, rss in samples if start <= when <= end]
        if not inside:
            before = [rss for when, rss in samples if when < start][-1:]
            after = [rss for when, rss in samples if when > end][:1]
            inside = before + after
        if inside:
            peaks[name] = round(max(peaks.get(name, 0.0), max(inside) / 1e9), 4)
    return peaks


def step_times(lines) -> dict[str, float]:
    """Seconds each step of an stpipe log ran (summed over repeats); skipped steps take ~0.

    Parameters
    ----------
    lines : iterable of str
        The log's lines.

    Returns
    -------
    dict of str to float
        Step name to seconds.
    """
    times: dict[str, float] = {}
    for name, start, end in step_intervals(lines):
        if end != float("inf"):
            times[name] = round(times.get(name, 0.0) + end - start, 3)
    return times
