"""Batch estimation on a dask.distributed cluster: many associations or a whole archive folder, one JSON-lines file.

``jwst-memest batch INPUT... --output results.jsonl [--scheduler ADDRESS]`` estimates every input
on an existing cluster (``--scheduler tcp://host:8786``) or a LocalCluster on this machine. An
input is an association file, or an observation of a folder of exposures (the folder's exposures
are grouped by program and observation, each group formed into its Level-3 products as folder
mode does). Each finished input is one line of the output, written as it arrives::

    {"input": "...", "status": "ok", "products": [{"product": ..., "gbSize": ..., "memory_estimate": {...}}]}
    {"input": "...", "status": "failed", "reason": "..."}

Resumable: inputs already in the output are skipped, so a run killed half way continues where it
stopped (a line cut short by the kill is dropped). Memory stays flat in the number of inputs: at
most ``--in-flight`` inputs are submitted at a time and each result is written and released as
it arrives.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

__all__ = ["batch_inputs", "estimate_input", "finished_inputs", "run_batch", "main"]

_OBSERVATION = re.compile(r"^jw(\d{5})(\d{3})")
SEPARATOR = "#"


def batch_inputs(paths: Iterable[str | Path], suffix: str = "_uncal.fits") -> Iterator[str]:
    """The inputs of a batch: association files as given, folders as their associations or observations.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Association files and folders.
    suffix : str, optional
        The file name suffix of a folder's exposures.

    Yields
    ------
    str
        An association file's path, or ``FOLDER#PPPPPOOO`` for an observation of a folder.

    Raises
    ------
    ValueError
        When a path does not exist.
    """
    for path in map(Path, paths):
        if path.is_file():
            yield str(path.resolve())
        elif path.is_dir():
            associations = sorted(path.glob("*_asn.json"))
            if associations:
                yield from (str(p.resolve()) for p in associations)
                continue
            observations = set()
            with os.scandir(path) as entries:
                for entry in entries:
                    match = _OBSERVATION.match(entry.name)
                    if match and entry.name.endswith(suffix):
                        observations.add(match.group(1) + match.group(2))
            yield from (f"{path.resolve()}{SEPARATOR}{key}" for key in sorted(observations))
        else:
            raise ValueError(f"{path}: no such file or folder")


def estimate_input(key: str, quantile: float = 0.95, suffix: str = "_uncal.fits") -> dict:
    """Estimate one input of a batch (runs on a worker).

    Parameters
    ----------
    key : str
        An association file, or ``FOLDER#PPPPPOOO`` (`batch_inputs`).
    quantile : float, optional
        The bounds' quantile.
    suffix : str, optional
        The file name suffix of a folder's exposures.

    Returns
    -------
    dict
        The output line: ``input``, ``status`` (``ok`` or ``failed``), ``products`` or ``reason``.
    """
    try:
        if SEPARATOR in key and not Path(key).is_file():
            from jwst_memest.predict import JwstCalPredict

            folder, observation = key.rsplit(SEPARATOR, 1)
            predictor = JwstCalPredict(folder, pid=int(observation[:5]), obs=int(observation[5:]), sfx=suffix,
                                       quantile=quantile, workers=1)
            predictor.run_inference()
            products = predictor.records()
        else:
            from jwst_memest.estimation import estimate_association

            result = estimate_association(key, quantile=quantile)
            products = [{"product": e.product, "gbSize": e.rounded_gb, "memory_estimate": e.annotation()}
                        for e in result.products]
            products += [{"product": name, "memory_estimate": {"status": "failed", "reason": reason}}
                         for name, reason in result.failures.items()]
        return {"input": key, "status": "ok", "products": products}
    except Exception as exc:  # noqa: BLE001 - one input's failure is its line, not the batch's end
        return {"input": key, "status": "failed", "reason": " ".join(f"{type(exc).__name__}: {exc}".split())}


def finished_inputs(path: str | Path) -> set[str]:
    """The inputs an output file already holds; a last line cut short is removed from the file.

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON-lines output.

    Returns
    -------
    set of str
        The inputs of its complete lines (empty when the file does not exist).
    """
    path = Path(path)
    if not path.is_file():
        return set()
    done, good_end = set(), 0
    with open(path, "rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                done.add(json.loads(line)["input"])
            except (ValueError, KeyError, TypeError):
                break
            good_end += len(line)
    if good_end < path.stat().st_size:
        with open(path, "r+b") as handle:  # drop what a kill left half written
            handle.truncate(good_end)
    return done


def run_batch(inputs: Iterable[str], output: str | Path, client=None, scheduler: str | None = None,
              workers: int | None = None, in_flight: int | None = None, quantile: float = 0.95,
              progress=None) -> dict:
    """Estimate every input not yet in ``output`` on a dask cluster, appending one line per input.

    Parameters
    ----------
    inputs : iterable of str
        The inputs (`batch_inputs`).
    output : str or pathlib.Path
        The JSON-lines file (appended to).
    client : dask.distributed.Client or None, optional
        A client to use (default: one for ``scheduler``, else a new LocalCluster).
    scheduler : str or None, optional
        The address of an existing dask scheduler.
    workers : int or None, optional
        Workers of the LocalCluster (default: the usable CPUs).
    in_flight : int or None, optional
        Inputs submitted at a time (default: 4 per worker thread).
    quantile : float, optional
        The bounds' quantile.
    progress : callable or None, optional
        Called with each output line's dict as it is written.

    Returns
    -------
    dict
        ``skipped`` (already done), ``done`` and ``failed`` counts of this run.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    output = Path(output)
    done = finished_inputs(output)
    own = client is None
    cluster = None
    if own:
        if scheduler:
            client = Client(scheduler)
        else:
            cluster = LocalCluster(n_workers=workers or max(1, len(os.sched_getaffinity(0))), threads_per_worker=1,
                                   processes=True, dashboard_address=":0")
            client = Client(cluster)
    counts = {"skipped": 0, "done": 0, "failed": 0}
    try:
        threads = max(1, sum(client.nthreads().values()))
        limit = in_flight or 4 * threads

        def not_done():
            for key in inputs:
                if key in done:
                    counts["skipped"] += 1
                else:
                    yield key

        pending = not_done()
        running = as_completed()
        for key in pending:
            running.add(client.submit(estimate_input, key, quantile, pure=False))
            if running.count() >= limit:
                break
        with open(output, "a", encoding="utf-8") as handle:
            for future in running:
                line = future.result()
                future.release()
                handle.write(json.dumps(line) + "\n")
                handle.flush()
                counts["done" if line["status"] == "ok" else "failed"] += 1
                if progress:
                    progress(line)
                next_key = next(pending, None)
                if next_key is not None:
                    running.add(client.submit(estimate_input, next_key, quantile, pure=False))
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()
    return counts


def main(argv=None) -> int:
    """Run ``jwst-memest batch``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 done (failed inputs are lines of the output), 2 bad input.
    """
    from jwst_memest.cli_support import CommandParser, one_line, program

    parser = CommandParser(prog=program("python -m jwst_memest.batch"), description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="ASN_OR_DIR", help="association files and folders")
    parser.add_argument("--output", required=True, help="JSON-lines file to append to (resumed when it exists)")
    parser.add_argument("--scheduler", help="address of a running dask scheduler (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, help="LocalCluster workers (default: the usable CPUs)")
    parser.add_argument("--in-flight", type=int, help="inputs submitted at a time (default: 4 per worker thread)")
    parser.add_argument("--suffix", default="_uncal.fits", help="file name suffix of a folder's exposures")
    parser.add_argument("--upper-quantile", type=float, default=0.95, help="quantile of the bounds")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1 or args.in_flight is not None and args.in_flight < 1:
        parser.error("--workers and --in-flight must be at least 1")
    try:
        inputs = list(batch_inputs(args.inputs, args.suffix))
    except ValueError as exc:
        print(f"{parser.prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    seen = defaultdict(int)

    def progress(line):
        seen[line["status"]] += 1
        if not args.quiet:
            print(f"[{sum(seen.values())}] {line['status']}: {line['input']}", file=sys.stderr, flush=True)

    counts = run_batch(inputs, args.output, scheduler=args.scheduler, workers=args.workers, in_flight=args.in_flight,
                       quantile=args.upper_quantile, progress=progress)
    print(f"{counts['done']} inputs estimated, {counts['failed']} failed, {counts['skipped']} already in "
          f"{args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
