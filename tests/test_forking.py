"""Work shared among forked processes: results in order, computed elsewhere, nested maps kept in one process."""

import os

from jwst_memest.forking import forked_map, usable_cpus, worker_count

BIG = list(range(1000))  # the processes inherit it: it is never pickled to them


def _pid_and_square(index):
    return os.getpid(), BIG[index] ** 2


def _inner(index):
    return [pid for pid, _ in forked_map(_pid_and_square, [index, index + 1], 2)]


def test_results_come_back_in_order_from_other_processes():
    results = forked_map(_pid_and_square, list(range(20)), 2)
    assert [square for _, square in results] == [i * i for i in range(20)]
    assert os.getpid() not in {pid for pid, _ in results}


def test_one_worker_runs_here():
    assert {pid for pid, _ in forked_map(_pid_and_square, [1, 2, 3], 1)} == {os.getpid()}
    assert forked_map(_pid_and_square, [], 2) == []


def test_a_map_inside_a_worker_stays_in_that_worker():
    for inner_pids in forked_map(_inner, [0, 1, 2], 2):
        assert len(set(inner_pids)) == 1 and os.getpid() not in inner_pids


def test_worker_count_starts_a_process_per_share_of_items_up_to_the_cpus():
    assert worker_count(1000, 400, 8) == 2 and worker_count(4000, 400, 2) == 2
    assert worker_count(100, 400, 8) == 1 and worker_count(0, 400, 8) == 1
    assert worker_count(10 ** 6, 1) == usable_cpus()
