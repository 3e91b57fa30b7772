"""Profile one association: run its Level-3 pipeline under the monitor, append one corpus row."""

from __future__ import annotations

import csv
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jwst_memest.association import AssociationError
from jwst_memest.atomic import atomic_path, atomic_write
from jwst_memest.cli_support import CommandParser, program, report_error
from jwst_memest.member_metadata import read_association_members
from jwst_memest.features.build import product_features
from jwst_memest.features.schema import load_schema
from jwst_memest.pipelines import class_alias, normalize
from jwst_memest.profile.monitor import measure
from jwst_memest.settings import RunSettings

__all__ = ["CORPUS_COLUMNS", "profile_association", "append_row", "finished_run_ids", "crds_free_env", "pipeline_runner",
           "split_of", "seed_of"]

RUN_COLUMNS = [
    "run_id", "product", "pipeline", "status", "measured_gb", "peak_sampled_gb", "wall_s",
    "pipeline_args", "jwst_version", "timestamp", "split", "layout", "step_peaks", "step_times",
]
CORPUS_COLUMNS = RUN_COLUMNS + list(dict.fromkeys(load_schema("image3").names + load_schema("spec3").names))


# A CRDS cache that names a context: steps that end by recording the context of their override
# reference files (extract_1d does) read it instead of a server. The context's only rules say
# "not applicable" for reference types a pipeline prefetches although no step lets them be
# overridden and none reads them: calwebb_tso3 prefetches READNOISE. Any other lookup still fails.
OFFLINE_CONTEXT = "jwst_0000.pmap"
OFFLINE_NOT_APPLICABLE = ("readnoise",)
_OFFLINE_INSTRUMENTS = ("NIRCAM", "NIRISS", "NIRSPEC", "MIRI", "FGS")


def _write_offline_context(crds_path: Path) -> None:
    """The pipeline (pmap) and instrument (imap) mappings of ``OFFLINE_CONTEXT``, with their checksums."""
    from crds.refactoring.checksum import update_checksum

    mappings = crds_path / "mappings" / "jwst"
    mappings.mkdir(parents=True, exist_ok=True)

    def write(name: str, header: dict, selector: dict) -> None:
        header = {"derived_from": "jwst_memest offline profiling", "name": name, "observatory": "JWST",
                  **header, "sha1sum": ""}
        # CRDS adds the checksum in place: to the temporary file, before it takes the mapping's name
        with atomic_path(mappings / name) as path:
            path.write_text(f"header = {header!r}\n\nselector = {selector!r}\n")
            update_checksum(str(path))

    instrument_maps = {instrument: f"jwst_{instrument.lower()}_0000.imap" for instrument in _OFFLINE_INSTRUMENTS}
    for instrument, name in instrument_maps.items():
        write(name, {"instrument": instrument, "mapping": "INSTRUMENT", "parkey": ("REFTYPE",)},
              {reftype: "N/A" for reftype in OFFLINE_NOT_APPLICABLE})
    write(OFFLINE_CONTEXT, {"mapping": "PIPELINE", "parkey": ("META.INSTRUMENT.NAME",)}, instrument_maps)


def crds_free_env(crds_path: str | Path | None = None) -> dict:
    """Environment in which stpipe and jwst never reach a CRDS server.

    ``crds_path`` receives a server_config naming ``OFFLINE_CONTEXT`` and that context's mappings,
    so questions about the context in use, and prefetches of the ``OFFLINE_NOT_APPLICABLE``
    reference types, are answered locally.

    Parameters
    ----------
    crds_path : str, pathlib.Path or None, optional
        The CRDS cache to use (default: a new temporary folder).

    Returns
    -------
    dict
        The environment (a copy of this process' with the CRDS variables set).
    """
    crds_path = Path(crds_path or tempfile.mkdtemp(prefix="crds-"))
    config = crds_path / "config" / "jwst" / "server_config"
    config.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(config) as handle:
        handle.write(repr({
            "observatory": "jwst", "operational_context": OFFLINE_CONTEXT, "edit_context": OFFLINE_CONTEXT,
            "last_synced": "never", "force_remote_mode": False, "bad_files_list": [],
        }))
    _write_offline_context(crds_path)
    return dict(
        os.environ,
        CRDS_SERVER_URL="https://localhost:1",
        CRDS_MODE="local",
        CRDS_PATH=str(crds_path),
        CRDS_CONTEXT=OFFLINE_CONTEXT,
        STPIPE_DISABLE_CRDS_STEPPARS="True",
    )


def pipeline_runner() -> str:
    """Path of ``strun``, which runs the pipelines being measured.

    Returns
    -------
    str
        The path.

    Raises
    ------
    FileNotFoundError
        One line, when it is not on PATH: every run would otherwise fail at once and be recorded
        as a measurement of the failure.
    """
    found = shutil.which("strun")
    if found is None:
        raise FileNotFoundError("strun: not found on PATH; it comes with jwst: activate the environment jwst is installed in")
    return found


def finished_run_ids(corpus: Path) -> set[str]:
    """The run ids a corpus already holds.

    Parameters
    ----------
    corpus : pathlib.Path
        The corpus CSV.

    Returns
    -------
    set of str
        Its rows' ``run_id`` (empty when the file does not exist).
    """
    if not corpus.is_file():
        return set()
    with corpus.open(newline="") as handle:
        return {row["run_id"] for row in csv.DictReader(handle)}


def append_row(corpus: Path, row: dict, columns: list[str] | None = None) -> None:
    """Append one row and force it to disk: finished rows are never rewritten.

    A new file takes ``columns``. An existing file keeps its own columns (a file started before a
    column was added stays consistent: the new column is left out of its rows, never shifted into
    another).

    Parameters
    ----------
    corpus : pathlib.Path
        The CSV file.
    row : dict
        The row, by column.
    columns : list of str or None, optional
        A new file's columns (default: the corpus columns).
    """
    corpus.parent.mkdir(parents=True, exist_ok=True)
    new = not corpus.is_file() or corpus.stat().st_size == 0
    columns = columns or CORPUS_COLUMNS
    if new:
        # the header whole or not at all; only if no other writer has just made the file
        try:
            with atomic_write(corpus, newline="", exclusive=not corpus.exists()) as handle:
                csv.DictWriter(handle, fieldnames=columns).writeheader()
        except FileExistsError:
            pass
    with corpus.open(newline="") as handle:
        columns = next(csv.reader(handle))
    with corpus.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writerow(row)
        handle.flush()
        os.fsync(handle.fileno())


def split_of(run_id: str, test_fraction: float = 0.2) -> str:
    """Fixed held-out split from a hash of the run id: the same run is always on the same side.

    Parameters
    ----------
    run_id : str
        The run's id.
    test_fraction : float, optional
        The share of runs held out.

    Returns
    -------
    str
        ``"test"`` or ``"train"``.
    """
    import hashlib

    value = int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if value < test_fraction else "train"


def seed_of(run_id: str) -> int:
    """The random seed of a run's synthetic exposures: a hash of its id (the same run writes the same data).

    Parameters
    ----------
    run_id : str
        The run's id.

    Returns
    -------
    int
        The seed.
    """
    import hashlib

    return int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)


def profile_association(asn_path: str | Path, *, pipeline_args: list[str] = (), run_id: str | None = None,
                        layout: dict | None = None, timeout: float | None = None, log_path=None,
                        pipeline: str | None = None, rss_limit_gb: float | None = None) -> dict:
    """Run the association's Level-3 pipeline and return the corpus row (features + measurement).

    A run passing ``rss_limit_gb`` is killed and recorded with that status, not as a measurement.

    Parameters
    ----------
    asn_path : str or pathlib.Path
        The association.
    pipeline_args : list of str, optional
        More ``strun`` arguments.
    run_id : str or None, optional
        The row's run id (default: one made from the association and arguments).
    layout : dict or None, optional
        The synthetic layout, recorded in the row.
    timeout : float or None, optional
        Seconds before the run is killed.
    log_path : str or pathlib.Path, optional
        Where the pipeline's output is written.
    pipeline : str or None, optional
        ``calwebb_image3`` or ``image3``: overrides the one the association's asn_type names.
    rss_limit_gb : float or None, optional
        The process tree's RSS (GB) at which the run is killed.

    Returns
    -------
    dict
        The corpus row.

    Raises
    ------
    jwst_memest.association.AssociationError
        When the association cannot be read or a product has no readable member.
    """
    import jwst

    runner = pipeline_runner()
    asn_path = Path(asn_path).resolve()
    asn_pipeline, products, failures = read_association_members(asn_path)
    if failures:  # the pipeline would fail on this product: measure nothing
        name, reason = next(iter(failures.items()))
        raise AssociationError(f"{asn_path}: product {name}: {reason}")
    pipeline = normalize(pipeline or asn_pipeline)
    product, members, _ = products[0]
    settings = RunSettings.from_arguments(pipeline_args)
    in_memory = settings.in_memory
    features = product_features(members, pipeline, in_memory, settings=settings)
    from jwst_memest.profile.monitor import step_times

    command = [runner, class_alias(pipeline), str(asn_path), *pipeline_args]
    with tempfile.TemporaryDirectory(prefix="memest-run-") as scratch:
        # the log also dates each step, which is how the per-step peaks are found
        log_path = log_path or Path(scratch) / "pipeline.log"
        result = measure(command, env=crds_free_env(Path(scratch) / "crds"), cwd=scratch, timeout=timeout, log_path=log_path,
                         rss_limit_gb=rss_limit_gb)
        # each step's seconds, for wall-time terms per step (read before the scratch folder goes)
        with open(log_path, errors="replace") as handle:
            times = step_times(handle.readlines())
    run_id = run_id or f"{product}-{datetime.datetime.now():%Y%m%dT%H%M%S}"
    row = {
        "run_id": run_id,
        "product": product,
        "pipeline": pipeline,
        "status": (f"killed: memory above {rss_limit_gb:g} GB" if result.over_limit
                   else "ok" if result.returncode == 0 else f"exit {result.returncode}"),
        "measured_gb": round(result.peak_gb, 4),
        "peak_sampled_gb": round(result.peak_sampled_gb, 4),
        "wall_s": round(result.wall_s, 2),
        "n_members": len(members),
        "in_memory": in_memory,
        "pipeline_args": " ".join(pipeline_args),
        "jwst_version": jwst.__version__,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "split": split_of(run_id),
        "layout": json.dumps(layout or {}),
        "step_peaks": json.dumps(result.step_peaks, sort_keys=True) if result.step_peaks else "",
        "step_times": json.dumps(times, sort_keys=True) if times else "",
        **features.values,
    }
    return row


def main(argv=None) -> int:
    parser = CommandParser(
        prog=program("python -m jwst_memest.profile run"),
        usage="%(prog)s [-h] [--corpus CSV] [--pipeline PIPELINE] [--run-id RUN_ID] asn [-- PIPELINE_ARGS ...]",
        description="Run a Level-3 pipeline on an association, measure its peak memory, append a corpus row.",
        epilog="Arguments after -- are passed to the pipeline, e.g. -- --in_memory=false",
    )
    parser.add_argument("asn")
    parser.add_argument("--corpus", default="corpus.csv", help="corpus CSV to append to (default corpus.csv)")
    parser.add_argument("--pipeline", help="Level-3 pipeline to run, e.g. calwebb_image3 (default: the asn_type's)")
    parser.add_argument("--run-id")
    argv = list(sys.argv[1:] if argv is None else argv)
    # split by hand: argparse's REMAINDER after the association would also swallow this command's own options
    own, extra = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = parser.parse_args(own)
    try:
        _check_corpus(Path(args.corpus))  # before the run, not after it
        row = profile_association(args.asn, pipeline_args=extra, run_id=args.run_id, pipeline=args.pipeline)
        if row["status"] == "exit 2":  # strun refused the association or the arguments: not a measurement
            raise ValueError(f"{args.asn}: the pipeline refused its input or arguments ({' '.join(extra) or 'none'}: "
                             f"strun exit status 2); nothing recorded")
        append_row(Path(args.corpus), row)
    except (ValueError, OSError) as exc:
        return report_error(exc, parser.prog)
    print(f"{row['product']}: {row['status']}, peak {row['measured_gb']} GB, {row['wall_s']} s -> {args.corpus}")
    return 0 if row["status"] == "ok" else 1


def _check_corpus(corpus: Path) -> None:
    """A corpus path that cannot be appended to: one line naming it (ValueError)."""
    if corpus.is_dir():
        raise ValueError(f"{corpus}: --corpus is a directory; give a CSV file")
    blocking = next((p for p in corpus.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"{corpus}: --corpus cannot be made: {blocking} is a file")
