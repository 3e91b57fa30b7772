"""How much the same run's peak moves between repeats and between environments.

The same files, the same arguments, run again and again, and run by another installation of jwst
(another venv, other builds of numpy, scipy, astropy): what the peak does then is not explained by
any feature, and a bound that is only relative (a few per cent above a small estimate) does not
cover it. Each configuration of a plan is written once and run ``repeats`` times by each ``strun``
given; one row per run is appended to the output CSV (resumable: finished runs are skipped).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.pipelines import class_alias

__all__ = ["comparable_arguments", "SPREAD_COLUMNS", "environment_of", "measure_spread", "session_runs", "spread_by_pipeline", "main"]

SPREAD_COLUMNS = ["run_id", "pipeline", "environment", "versions", "repeat", "status", "measured_gb", "wall_s"]


def environment_of(runner: str) -> str:
    """The versions of jwst and the libraries that set its memory, in the environment of ``runner``'s strun.

    Parameters
    ----------
    runner : str
        The path of an environment's ``strun``.

    Returns
    -------
    str
        The versions as JSON (``{}`` when they cannot be read).
    """
    python = Path(runner).with_name("python")
    code = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
            "('jwst', 'stcal', 'drizzle', 'numpy', 'scipy', 'astropy', 'gwcs', 'photutils')}))")
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "{}"


def _finished(path: Path) -> set[tuple[str, str, int]]:
    if not path.is_file():
        return set()
    with path.open(newline="") as handle:
        return {(r["run_id"], r["environment"], int(r["repeat"])) for r in csv.DictReader(handle)}


def measure_spread(plan_path: Path, out: Path, runners: list[str], repeats: int = 3, timeout: float = 3600,
                   rss_limit_gb: float | None = 18.0) -> int:
    """Run each configuration of the plan ``repeats`` times with each strun.

    Parameters
    ----------
    plan_path : pathlib.Path
        The plan (corpus plan format).
    out : pathlib.Path
        The CSV of runs, appended to; finished runs are skipped.
    runners : list of str
        The ``strun`` of each environment compared.
    repeats : int, optional
        Runs of each configuration per environment.
    timeout : float, optional
        Seconds before a run is killed.
    rss_limit_gb : float or None, optional
        The process tree's RSS (GB) at which a run is killed.

    Returns
    -------
    int
        The rows added.
    """
    from jwst_memest.profile.corpus import expand_plan, load_plan, prepare_configuration
    from jwst_memest.profile.monitor import measure
    from jwst_memest.profile.run import append_row, crds_free_env

    configurations = expand_plan(load_plan(plan_path))
    done = _finished(out)
    versions = {runner: environment_of(runner) for runner in runners}
    added = 0
    for configuration in configurations:
        wanted = [(runner, repeat) for repeat in range(repeats) for runner in runners
                  if (configuration.run_id, runner, repeat) not in done]
        if not wanted:
            continue
        scratch = Path(tempfile.mkdtemp(prefix="memest-spread-"))
        try:
            asn, args, pipeline = prepare_configuration(configuration, scratch)
            for runner, repeat in wanted:  # environments alternate, so a drift of the machine hits both
                with tempfile.TemporaryDirectory(prefix="memest-run-") as work:
                    result = measure([runner, class_alias(pipeline), str(asn), *args],
                                     env=crds_free_env(Path(work) / "crds"), cwd=work, timeout=timeout,
                                     log_path=Path(work) / "pipeline.log", rss_limit_gb=rss_limit_gb)
                status = "ok" if result.returncode == 0 and not result.over_limit else f"exit {result.returncode}"
                row = {"run_id": configuration.run_id, "pipeline": pipeline, "environment": runner,
                       "versions": versions[runner], "repeat": repeat, "status": status,
                       "measured_gb": round(result.peak_gb, 4), "wall_s": round(result.wall_s, 2)}
                append_row(out, row, columns=SPREAD_COLUMNS)
                added += 1
                print(f"{configuration.run_id} {runner} #{repeat}: {status} {result.peak_gb:.4f} GB", flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return added


def comparable_arguments(text) -> tuple[str, ...]:
    """A run's pipeline arguments as two sessions of one configuration share them: each path by its name.

    The synthetic references a run names live in its own scratch directory, different every run.

    Parameters
    ----------
    text : str or None
        The ``pipeline_args`` column (NaN or None: none).

    Returns
    -------
    tuple of str
        The arguments, in order, each ``--option=/some/dir/file`` as ``--option=file``.
    """
    if not isinstance(text, str):
        return ()
    arguments = []
    for argument in text.split():
        option, separator, value = argument.partition("=")
        arguments.append(f"{option}{separator}{Path(value).name}" if "/" in value else argument)
    return tuple(arguments)


def session_runs(remeasured, corpus_dir: Path):
    """The runs of corpus configurations measured again in another session, beside their first measurement.

    A run made again later on the same installation (``data/corpus/timing/``) is another
    environment for its configuration: another load on the machine, another memory pressure (the
    kernel keeps a file's pages resident, and counts them, only while memory is free). A run made
    again with other pipeline arguments (steps skipped the first time) is another configuration, not
    another session: it is left out. Each
    configuration gives one row per session, in `SPREAD_COLUMNS`.

    Parameters
    ----------
    remeasured : iterable of str or pathlib.Path
        Corpus CSVs of runs made again; each is matched with the file of the same name in ``corpus_dir``.
    corpus_dir : pathlib.Path
        Where the first measurements are.

    Returns
    -------
    pandas.DataFrame
        Two rows per configuration measured successfully both times.
    """
    import pandas as pd

    rows = []
    for path in map(Path, remeasured):
        first_path = Path(corpus_dir) / path.name
        if not first_path.is_file():
            continue
        again, first = pd.read_csv(path), pd.read_csv(first_path)
        both = first.merge(again, on="run_id", suffixes=("_first", "_again"))
        both = both[(both["status_first"] == "ok") & (both["status_again"] == "ok")]
        if "pipeline_args_first" in both:
            same = [comparable_arguments(a) == comparable_arguments(b)
                    for a, b in zip(both["pipeline_args_first"], both["pipeline_args_again"])]
            both = both[same]
        for _, row in both.iterrows():
            for session in ("first", "again"):
                rows.append({"run_id": row["run_id"], "pipeline": row[f"pipeline_{session}"],
                             "environment": f"{session} session ({path.name})", "versions": "", "repeat": 0,
                             "status": "ok", "measured_gb": row[f"measured_gb_{session}"],
                             "wall_s": row[f"wall_s_{session}"]})
    return pd.DataFrame(rows, columns=SPREAD_COLUMNS)


def spread_by_pipeline(path: Path, sessions=None) -> dict[str, dict]:
    """Per pipeline: the largest spread of one configuration's peak.

    Over repeats and environments, between repeats within one environment, and between
    environments' medians (max - min peak, bytes).

    Parameters
    ----------
    path : pathlib.Path
        The CSV of runs.
    sessions : pandas.DataFrame or None, optional
        Runs made again in another session (`session_runs`), counted as other environments.

    Returns
    -------
    dict of str to dict
        Per pipeline: ``spread_bytes``, ``repeat_bytes``, ``environment_bytes`` and more.
    """
    import pandas as pd

    table = pd.read_csv(path)
    if sessions is not None and len(sessions):
        table = pd.concat([table, sessions], ignore_index=True)
    table = table[table["status"] == "ok"]
    found = {}
    for pipeline, runs in table.groupby("pipeline"):
        total, repeat, environment = 0.0, 0.0, 0.0
        for _, one in runs.groupby("run_id"):
            peaks = one["measured_gb"] * 1e9
            total = max(total, float(peaks.max() - peaks.min()))
            by_env = one.groupby("environment")["measured_gb"]
            repeat = max(repeat, float(((by_env.max() - by_env.min()) * 1e9).max()))
            medians = by_env.median() * 1e9
            environment = max(environment, float(medians.max() - medians.min()))
        found[str(pipeline)] = {"spread_bytes": total, "repeat_bytes": repeat, "environment_bytes": environment,
                                "configurations": int(runs["run_id"].nunique()), "runs": int(len(runs))}
    return found


def margin_bytes(summary: dict[str, dict]) -> float:
    """The margin every bound adds: the largest offset between environments plus the largest spread
    between repeats in one environment, over all pipelines (a job in another installation lands
    anywhere in both)."""
    return max(v["environment_bytes"] for v in summary.values()) + max(v["repeat_bytes"] for v in summary.values())


def install_margin(summary: dict[str, dict], path: Path, source: str) -> float:
    """Write the margin into a baseline YAML (``environment_margin``); returns it in bytes."""
    import yaml

    from jwst_memest.profile.fit import write_baseline_yaml

    data = yaml.safe_load(path.read_text()) if path.is_file() else {"pipelines": {}}
    margin = round(margin_bytes(summary), -5)
    data["environment_margin"] = {"bytes": margin, "source": source}
    write_baseline_yaml(data, path)
    return margin


def main(argv=None) -> int:
    """Measure the spread: ``python -m jwst_memest.profile spread --plan P --out CSV [--strun S ...]``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 a missing strun or an unreadable plan.
    """
    parser = CommandParser(prog=program("python -m jwst_memest.profile spread"), description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True, help="YAML plan of configurations (corpus plan format)")
    parser.add_argument("--out", required=True, help="CSV of runs (appended to; finished runs are skipped)")
    parser.add_argument("--strun", action="append", default=[],
                        help="strun of an environment to compare (repeatable; default: this environment's)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration per environment")
    parser.add_argument("--sessions", nargs="*", default=[], metavar="CSV",
                        help="corpus CSVs of runs made again in another session (data/corpus/timing/*.csv): each "
                             "configuration's two measurements count as two environments")
    parser.add_argument("--summary", help="write the spread per pipeline as JSON here")
    parser.add_argument("--install-margin", nargs="?", const="", metavar="YAML",
                        help="write the margin (largest environment offset + largest repeat spread) into the "
                             "baseline YAML (default: the package's baseline.yaml)")
    args = parser.parse_args(argv)
    runners = args.strun or [shutil.which("strun") or ""]
    missing = [r for r in runners if not r or not Path(r).is_file()]
    if missing:
        print(f"error: {missing[0] or 'strun'}: not found", file=sys.stderr)
        return 2
    try:
        measure_spread(Path(args.plan), Path(args.out), runners, args.repeats)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sessions = session_runs(args.sessions, Path(args.out).parent) if args.sessions else None
    summary = spread_by_pipeline(Path(args.out), sessions)
    print(json.dumps(summary, indent=1))
    if args.summary:
        with atomic_write(Path(args.summary)) as handle:
            handle.write(json.dumps(summary, indent=1) + "\n")
    if args.install_margin is not None:
        from importlib import resources

        path = Path(args.install_margin or str(resources.files("jwst_memest.model").joinpath("baseline.yaml")))
        runs = sum(v["runs"] for v in summary.values())
        again = (f" and {len(sessions) // 2} corpus runs made again in another session "
                 f"({', '.join(sorted({Path(p).name for p in args.sessions}))})" if sessions is not None else "")
        margin = install_margin(summary, path, f"python -m jwst_memest.profile spread on {Path(args.out).name}"
                                f"{again}: {runs} runs of {len(summary)} pipelines, {len(runners)} installation(s); "
                                "the largest offset between environments plus the largest spread between repeats")
        print(f"margin {margin / 1e6:.1f} MB written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
