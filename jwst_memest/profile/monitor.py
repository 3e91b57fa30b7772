"""Run a command in a child process and measure its peak memory and wall time.

Two measures of the peak: the kernel's maximum resident set size of the child
(``wait4``'s ru_maxrss, exact but for the child alone) and the largest sum of
RSS over the whole process tree, sampled every ``interval`` seconds.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

__all__ = ["Measurement", "measure"]


@dataclass
class Measurement:
    returncode: int
    wall_s: float
    peak_gb: float  # kernel max RSS of the child, 10^9 bytes
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

    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
    watched = psutil.Process(child.pid)
    peak_sampled = 0
    status = None
    try:
        while status is None:
            peak_sampled = max(peak_sampled, _tree_rss(watched))
            pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
            if timeout and time.perf_counter() - start > timeout:
                child.kill()
                _, wait_status, usage = os.wait4(child.pid, 0)
                status = -9
                break
            time.sleep(interval)
    finally:
        if log_path:
            log.close()
    child.returncode = status
    wall = time.perf_counter() - start
    tail = ""
    if log_path:
        with open(log_path, errors="replace") as handle:
            tail = "".join(handle.readlines()[-5:])
    return Measurement(status, wall, usage.ru_maxrss * 1024 / 1e9, peak_sampled / 1e9, tail)
