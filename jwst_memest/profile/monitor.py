"""Run a command in a child process and measure its peak memory and wall time.

Two measures of the peak: the kernel's maximum resident set size of the command
(``wait4``'s ru_maxrss) and the largest sum of RSS over the whole process tree,
sampled every ``interval`` seconds.

The kernel keeps, across exec, the high-water mark of the memory a process had
before it: a command started straight from a large parent (a pytest or dask
worker holding gigabytes) would report that parent's peak. So the command is
started by a small launcher that forks and execs it, and reports its ru_maxrss.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

__all__ = ["Measurement", "measure"]

_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "with open(sys.argv[1], 'w') as handle:\n"
    "    handle.write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


@dataclass
class Measurement:
    returncode: int
    wall_s: float
    peak_gb: float  # kernel max RSS of the command, 10^9 bytes
    peak_sampled_gb: float  # largest sampled RSS of the process tree, 10^9 bytes
    output_tail: str = ""


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


def measure(command: list[str], *, env: dict | None = None, cwd=None, interval: float = 0.2,
            timeout: float | None = None, log_path=None) -> Measurement:
    """Run ``command``; return its exit code, wall time and peak memory."""
    import psutil

    fd, maxrss_file = tempfile.mkstemp(prefix="memest-maxrss-")
    os.close(fd)
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", _LAUNCHER, maxrss_file, *command], env=env, cwd=cwd,
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    watched = psutil.Process(child.pid)
    peak_sampled = 0
    try:
        while child.poll() is None:
            peak_sampled = max(peak_sampled, _tree_rss(watched))
            if timeout and time.perf_counter() - start > timeout:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                break
            time.sleep(interval)
    finally:
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
    tail = ""
    if log_path:
        with open(log_path, errors="replace") as handle:
            tail = "".join(handle.readlines()[-5:])
    return Measurement(status, wall, peak_kb * 1024 / 1e9, peak_sampled / 1e9, tail)
