"""Work shared among forked processes: each inherits what the parent has imported, read and loaded (modules,
headers, models) and sends back only its results."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence, TypeVar

__all__ = ["forked_map", "usable_cpus", "worker_count"]

Item = TypeVar("Item")
Result = TypeVar("Result")

# the task of the forked processes, set before they fork: items are not pickled to reach them
_TASK: tuple[Callable, Sequence] | None = None


def forked_map(function: Callable[[Item], Result], items: Sequence[Item], workers: int) -> list[Result]:
    """``function(item)`` for every item, in order, shared among at most ``workers`` forked processes.

    The items reach the processes by inheritance, not pickling; only the results travel back, so
    ``function``'s results must pickle. With one worker or one item, everything runs here.

    Parameters
    ----------
    function : callable
        Called once per item.
    items : sequence
        The items.
    workers : int
        Processes at most (each taking the next item as it finishes one).

    Returns
    -------
    list
        The results, in the items' order.
    """
    global _TASK
    workers = max(1, min(int(workers), len(items)))
    if workers == 1 or _TASK is not None:  # (in a worker of an outer map, its cores are taken)
        return [function(item) for item in items]
    _TASK = (function, items)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as executor:
            return list(executor.map(_run_inherited, range(len(items))))
    finally:
        _TASK = None


def usable_cpus() -> int:
    """CPUs this process may run on (a batch job's allocation, not the whole node).

    Returns
    -------
    int
        The CPUs in this process' affinity mask, else the machine's CPU count (at least 1).
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without affinity
        return os.cpu_count() or 1


def worker_count(n_items: int, per_worker: int, workers: int | None = None) -> int:
    """Processes worth starting for ``n_items``: one per ``per_worker`` items, at most ``workers``.

    Parameters
    ----------
    n_items : int
        Items to share out.
    per_worker : int
        Items below which a further process costs more to start than it saves.
    workers : int or None, optional
        Processes at most (None: one per CPU this process may use).

    Returns
    -------
    int
        At least 1.
    """
    return max(1, min(workers or usable_cpus(), n_items // per_worker))


def _run_inherited(index: int):
    function, items = _TASK
    return function(items[index])
