"""Work shared among forked processes: each inherits what the parent has imported, read and loaded (modules,
headers, models) and sends back only its results."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence, TypeVar

__all__ = ["forked_map"]

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
    if workers == 1:
        return [function(item) for item in items]
    if _TASK is not None:  # a worker of an outer map: its own cores are taken
        return [function(item) for item in items]
    _TASK = (function, items)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as executor:
            return list(executor.map(_run_inherited, range(len(items))))
    finally:
        _TASK = None


def _run_inherited(index: int):
    function, items = _TASK
    return function(items[index])
