"""Build a measured corpus: synthetic exposures -> association -> real pipeline run -> one row each.

Runs fan out on dask.distributed (a LocalCluster by default, or a scheduler
address). The corpus CSV is append-only and written by this process alone:
a crash or kill loses at most the runs in flight, finished rows are never
rewritten, and a rerun skips the run ids already present.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.exposures import ExposureLayout
from jwst_memest.pipelines import PIPELINES, pipeline_for_exposure
from jwst_memest.profile.run import append_row, finished_run_ids, pipeline_runner
from jwst_memest.profile.spectra import EXTRACT_1D_REFERENCES

__all__ = ["Configuration", "expand_plan", "load_plan", "pipeline_of", "prepare_configuration", "run_configuration",
           "build_corpus"]


@dataclasses.dataclass(frozen=True)
class Configuration:
    """One run of a corpus plan: the exposures to write and the Level-3 run's settings.

    Parameters
    ----------
    run_id : str
        The run's identifier in the corpus.
    layout : dict
        The exposures' layout (`jwst_memest.exposures.ExposureLayout` fields and the writers'
        own parameters).
    in_memory : bool, optional
        The run's ``in_memory``.
    skip_source_catalog : bool, optional
        Whether source_catalog is skipped.
    settings : tuple of (str, object), optional
        Other `jwst_memest.settings.RunSettings` fields the plan sets, as (name, value).
    """
    run_id: str
    layout: dict
    in_memory: bool = True
    skip_source_catalog: bool = False
    settings: tuple[tuple[str, object], ...] = ()  # other RunSettings fields the plan sets, as (name, value)

    def run_settings(self):
        """The Level-3 run settings of this configuration (jwst's defaults where the plan sets none).

        Returns
        -------
        jwst_memest.settings.RunSettings
            The settings.
        """
        from jwst_memest.settings import RunSettings

        return RunSettings(**{"in_memory": self.in_memory, "skip_source_catalog": self.skip_source_catalog,
                              **dict(self.settings)})


def expand_plan(plan: dict) -> list[Configuration]:
    """Every configuration of a plan: each group's base layout times the product of its variations.

    Parameters
    ----------
    plan : dict
        The plan, as `load_plan` reads it.

    Returns
    -------
    list of Configuration
        The configurations, in plan order.
    """
    configurations = []
    for group in plan["groups"]:
        base = dict(group.get("base", {}))
        vary = group.get("vary", {})
        keys = list(vary)
        for values in itertools.product(*(vary[k] for k in keys)):
            params = {**base, **dict(zip(keys, values))}
            in_memory = bool(params.pop("in_memory", True))
            skip_catalog = bool(params.pop("skip_source_catalog", False))
            settings = dict(params.pop("settings", None) or {})
            identity = [params, in_memory, skip_catalog] + ([settings] if settings else [])  # earlier ids unchanged
            digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]
            configurations.append(Configuration(f"{group['name']}-{digest}", params, in_memory, skip_catalog,
                                                tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                                             for k, v in settings.items()))))
    return configurations


# MIRI LRS runs outlier detection, resample_spec and extract_1d, the latter with its default box
# aperture and no aperture correction (references N/A). cube_build and spectral_leak are IFU steps
# the pipeline would prefetch references for; photom of the 1-D spectrum is skipped too. The other
# spectroscopic modes take their arguments from ``spectra.spec3_arguments``.
LRS_ARGUMENTS = (
    *(f"--steps.extract_1d.override_{reftype}=N/A" for reftype in EXTRACT_1D_REFERENCES),
    "--steps.extract_1d.apply_apcorr=false",
    *(f"--steps.{step}.skip=true" for step in ("cube_build", "spectral_leak", "photom")),
)


def pipeline_of(layout: ExposureLayout) -> str:
    """The Level-3 pipeline (image3, spec3, coron3, ami3 or tso3) that processes the layout's exposures.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.

    Returns
    -------
    str
        The pipeline key.
    """
    return pipeline_for_exposure(layout.exp_type, layout.tso_visit)


def _make_association(paths: list[Path], directory: Path, product: str, asn_type: str = "image3") -> Path:
    """A Level-3 association made by jwst's asn_from_list with the Level-3 base rule.

    Members whose header says IS_PSF are "psf" members, as jwst's coron3 and ami3 rules mark them.
    """
    from astropy.io import fits
    from jwst.associations import asn_from_list
    from jwst.associations.lib.rules_level3_base import DMS_Level3_Base

    association = asn_from_list.asn_from_list([p.name for p in paths], rule=DMS_Level3_Base, product_name=product)
    association.data["asn_type"] = asn_type
    psf_names = {p.name for p in paths if fits.getheader(p).get("IS_PSF", False)}
    for member in association.data["products"][0]["members"]:
        if member["expname"] in psf_names:
            member["exptype"] = "psf"
    name, serialized = association.dump(format="json")
    path = directory / f"{product}_{asn_type}_asn.json"
    with atomic_write(path) as handle:
        handle.write(serialized)
    return path


def _seed(run_id: str) -> int:
    """The random seed of a run's exposures: its plan hash (so a plan's runs can be made again), else a hash of the id."""
    suffix = run_id.rsplit("-", 1)[-1]
    try:
        return int(suffix, 16) % (2**32)
    except ValueError:
        return int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16)


def prepare_configuration(configuration: Configuration, scratch: Path) -> tuple[Path, list[str], str]:
    """Write a configuration's exposures and association into ``scratch``.

    The same files can then be run as often as wanted.

    Parameters
    ----------
    configuration : Configuration
        The configuration.
    scratch : pathlib.Path
        Where to write them.

    Returns
    -------
    association : pathlib.Path
        The association written.
    arguments : list of str
        The pipeline arguments of the run.
    pipeline : str
        The Level-3 pipeline key.
    """
    from jwst_memest.profile.imaging_references import write_source_catalog_references
    from jwst_memest.profile.level3_exposures import level3_arguments, write_level3_exposures
    from jwst_memest.profile.spectra import SPEC3_WRITERS, spec3_arguments, write_spec3_exposures
    from jwst_memest.profile.synthetic import write_cal_exposures

    layout = ExposureLayout.from_plan(configuration.layout)
    settings = configuration.run_settings()
    seed = _seed(configuration.run_id)
    pipeline = pipeline_of(layout)
    per_integration = PIPELINES[pipeline].per_integration
    if per_integration:
        paths = write_level3_exposures(layout, scratch, np.random.default_rng(seed))
    elif layout.exp_type in SPEC3_WRITERS:
        paths = write_spec3_exposures(layout, scratch, np.random.default_rng(seed))
    else:
        paths = write_cal_exposures(layout, scratch, seed=seed)
    product = f"jw{layout.program:05d}-o{layout.observation:03d}_t001_synthetic"
    spec3 = pipeline == "spec3"
    asn = _make_association(paths, scratch, product, pipeline)
    instrument = paths and _instrument(paths[0])
    args = []
    if per_integration:
        args += level3_arguments(layout, scratch / "refs")
    elif layout.exp_type in SPEC3_WRITERS:
        args += spec3_arguments(layout.exp_type, scratch / "refs")
    elif spec3:
        args += LRS_ARGUMENTS
    elif not settings.skip_source_catalog:
        apcorr, abvega = write_source_catalog_references(
            instrument, layout.filter, layout.pupil, layout.subarray, scratch / "refs")
        args += [f"--steps.source_catalog.override_apcorr={apcorr}",
                 f"--steps.source_catalog.override_abvegaoffset={abvega}"]
    if pipeline == "image3":
        args += settings.arguments()
    return asn, args, pipeline


def run_configuration(configuration: Configuration, scratch_root: str | None = None, timeout: float = 3600,
                      rss_limit_gb: float | None = None) -> dict:
    """Generate the data, run its Level-3 pipeline under the monitor, delete the data; return the row.

    A failed run is recorded (its ``status`` says why), not raised.

    Parameters
    ----------
    configuration : Configuration
        The configuration.
    scratch_root : str or None, optional
        Where the scratch directory is made (default: the system's temporary directory).
    timeout : float, optional
        Seconds before the run is killed.
    rss_limit_gb : float or None, optional
        The process tree's RSS (GB) at which the run is killed.

    Returns
    -------
    dict
        The corpus row.
    """
    from jwst_memest.profile.run import profile_association

    scratch = Path(tempfile.mkdtemp(prefix="memest-corpus-", dir=scratch_root))
    try:
        asn, args, _ = prepare_configuration(configuration, scratch)
        return profile_association(asn, pipeline_args=args, run_id=configuration.run_id,
                                   layout=configuration.layout, timeout=timeout,
                                   log_path=scratch / "pipeline.log", rss_limit_gb=rss_limit_gb)
    except Exception as exc:  # a failed run is recorded, not fatal to the corpus
        return {"run_id": configuration.run_id, "status": f"error: {type(exc).__name__}: {str(exc)[:200]}",
                "layout": json.dumps(configuration.layout), "in_memory": configuration.in_memory}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _instrument(path: Path) -> str:
    from astropy.io import fits

    return fits.getval(path, "INSTRUME")


def _guard(configuration: Configuration, limit_gb: float) -> dict | None:
    """Refuse configurations whose physics-baseline upper bound exceeds the machine's budget."""
    from jwst_memest.exposures import level2b_suffix, write_header_exposures
    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata
    from jwst_memest.model.baseline import load_baseline

    layout = ExposureLayout.from_plan(configuration.layout)
    layout = dataclasses.replace(layout, suffix=level2b_suffix(layout))
    pipeline = pipeline_of(layout)
    with tempfile.TemporaryDirectory() as scratch:
        members = [read_exposure_metadata(p) for p in write_header_exposures(layout, scratch)]
    features = product_features(members, pipeline, configuration.in_memory, settings=configuration.run_settings())
    _, upper = load_baseline(pipeline).estimate(features.vector()[None, :], 0.99)
    if upper[0] > limit_gb:
        return {"run_id": configuration.run_id, "status": f"skipped: upper bound {upper[0]:.1f} GB > guard {limit_gb} GB",
                "layout": json.dumps(configuration.layout), "in_memory": configuration.in_memory}
    return None


def load_plan(path: Path) -> dict:
    """A corpus plan.

    Parameters
    ----------
    path : pathlib.Path
        The plan's YAML file.

    Returns
    -------
    dict
        The plan: a mapping with a list of ``groups``.

    Raises
    ------
    ValueError
        One line naming the file, when it is missing, unreadable, invalid YAML or not a plan.
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the plan ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        plan = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(plan, dict) or not isinstance(plan.get("groups"), list):
        raise ValueError(f"{path}: a plan is a mapping with a list of groups")
    return plan


def build_corpus(plan_path: Path, corpus: Path, scheduler: str | None = None, workers: int = 1,
                 memory_guard_gb: float = 12.0, limit: int | None = None, only=None) -> int:
    """Run every configuration of the plan not yet in the corpus.

    Configurations whose physics-baseline bound exceeds ``memory_guard_gb`` are recorded as
    refused, not run; the others run on a dask cluster and each row is appended as it finishes.

    Parameters
    ----------
    plan_path : pathlib.Path
        The plan's YAML file.
    corpus : pathlib.Path
        The corpus CSV (made or added to).
    scheduler : str or None, optional
        A dask scheduler's address (default: a local cluster of ``workers`` processes).
    workers : int, optional
        Processes of the local cluster.
    memory_guard_gb : float, optional
        GB a run may use: above it a run is refused, or killed when it outgrows it.
    limit : int or None, optional
        Run at most this many configurations.
    only : collection of str or None, optional
        Run only these run ids of the plan (default: all): configurations to measure again, in
        another session or environment.

    Returns
    -------
    int
        The number of rows added.

    Raises
    ------
    ValueError
        When the plan cannot be read, before anything runs.
    FileNotFoundError
        When strun is not on PATH, before anything runs.
    """
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm import tqdm

    plan = load_plan(Path(plan_path))
    if plan.get("pipeline") == "detector1":  # raw ramps through calwebb_detector1, run one at a time
        from jwst_memest.profile.detector1 import build_detector1_corpus

        return build_detector1_corpus(plan, Path(corpus), memory_guard_gb, limit, only=only)
    if plan.get("pipeline") in ("image2", "spec2"):  # one rate/rateints exposure through Level 2 per run
        from jwst_memest.profile.level2 import build_level2_corpus

        return build_level2_corpus(plan, Path(corpus), memory_guard_gb, limit, only=only)
    pipeline_runner()
    done = finished_run_ids(corpus)
    pending = [c for c in expand_plan(plan) if c.run_id not in done and (only is None or c.run_id in only)][:limit]
    added = 0
    guarded = []
    for configuration in pending:
        refusal = _guard(configuration, memory_guard_gb)
        if refusal:
            append_row(corpus, refusal)
            added += 1
        else:
            guarded.append(configuration)
    if not guarded:
        return added
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  memory_limit=0, dashboard_address=None)
    # the local workers' runs go under one folder of this process: a worker stopped with the cluster
    # (a build cut short) cannot remove its own, this process can
    runs_root = None if scheduler else Path(tempfile.mkdtemp(prefix="memest-corpus-runs-"))
    try:
        with Client(scheduler or cluster) as client:
            # plan order is run order: cheap, diverse groups first, so a cut-short build still spans the features
            # the guard also stops a run that outgrows it: the estimate it was admitted on may be wrong
            futures = [client.submit(run_configuration, c, pure=False, key=c.run_id, priority=len(guarded) - i,
                                     rss_limit_gb=memory_guard_gb,
                                     scratch_root=str(runs_root) if runs_root else None)
                       for i, c in enumerate(guarded)]
            with tqdm(total=len(futures), desc="corpus runs", unit="run") as progress:
                for future in as_completed(futures):
                    row = future.result()
                    append_row(corpus, row)
                    added += 1
                    progress.set_postfix_str(f"{row.get('run_id', '')[:30]} {row.get('status')} "
                                             f"{row.get('measured_gb', '')} GB")
                    progress.update()
    finally:
        if cluster is not None:
            cluster.close()
        if runs_root is not None:
            shutil.rmtree(runs_root, ignore_errors=True)
    return added


def _plan_configurations(plan_path: Path) -> list:
    """Every configuration of a plan, whatever its pipeline."""
    plan = load_plan(plan_path)
    if plan.get("pipeline") in ("detector1", "image2", "spec2"):
        from jwst_memest.profile.detector1 import expand_detector1_plan

        return expand_detector1_plan(plan)
    return expand_plan(plan)


def main(argv=None) -> int:
    parser = CommandParser(prog=program("python -m jwst_memest.profile corpus"), description=__doc__.splitlines()[0])
    parser.add_argument("--plan", required=True, help="YAML plan of configurations")
    parser.add_argument("--out", required=True, help="corpus CSV (appended to, never rewritten)")
    parser.add_argument("--scheduler", help="dask scheduler address (default: a LocalCluster)")
    parser.add_argument("--workers", type=int, default=1, help="LocalCluster workers (default 1: one run at a time)")
    parser.add_argument("--memory-guard", type=float, default=12.0, help="GB; skip runs whose upper bound exceeds it")
    parser.add_argument("--limit", type=int, help="run at most this many pending configurations")
    parser.add_argument("--run-ids", nargs="+", metavar="RUN_ID",
                        help="run only these configurations of the plan (to measure them again in another session)")
    args = parser.parse_args(argv)
    try:
        unknown = sorted(set(args.run_ids or ()) - {c.run_id for c in _plan_configurations(Path(args.plan))})
        if unknown:
            raise ValueError(f"{args.plan}: no configuration {unknown[0]!r} in the plan")
        added = build_corpus(Path(args.plan), Path(args.out), args.scheduler, args.workers, args.memory_guard,
                             args.limit, only=set(args.run_ids) if args.run_ids else None)
    except (ValueError, OSError) as exc:  # each names the file and the problem
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{added} rows added to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
