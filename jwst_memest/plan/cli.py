"""``jwst-memest plan ASN [ASN ...] | DIR [--site SITE.yaml] [--output-dir OUT]``: estimates become jobs.

Each Level-3 product becomes a job: the smallest memory tier of the site its upper bound fits
(plus the site's per-job overhead), a kill time from its wall-time upper bound, and the tiers it
is retried on after an out-of-memory exit. A product that fits no tier runs with the first
memory-saving setting of its estimate that fits one; one that fits none even then is flagged.
The table goes to stdout; with ``--output-dir``, each job's wrapper, HTCondor submit description,
Slurm script and AWS Batch requests, the HTCondor DAG and ``plan.json`` are written there.

A folder of Level-3 associations (``*_asn.json``) is planned as those files; a folder of exposures
is formed into products first (folder mode), its associations written to the output directory.
In folder mode each uncal file also gets a calwebb_detector1 job, and after it an imaging one a
calwebb_image2 job, a MIRI LRS (slitless time series, fixed slit), MIRI MRS or NIRISS SOSS one a calwebb_spec2 job (they
write their products beside the uncal file, where the associations name the members); each
Level-3 job waits on its members' jobs (the HTCondor DAG's ``PARENT ... CHILD``, Slurm's
``afterok``, AWS Batch's ``dependsOn``). The members of other spectroscopic modes have no Level-2
job: their Level-3 job waits on their detector1 jobs, and its note says Level 2 must run between.
Without ``--site``, the site is this machine alone (its memory the only tier).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, one_line, program

__all__ = ["main", "build_parser", "estimates_of", "ExposureStages", "exposure_stages"]

EXIT_BAD_INPUT = 2


@dataclass
class ExposureStages:
    """The stages before Level 3 of a folder's exposures, and which exposures each product is made of.

    Parameters
    ----------
    stages : list of tuple
        ``(estimate, input file)`` per exposure and stage, an exposure's stages in run order.
    members_of : dict of str to list of str
        Each Level-3 product's members by exposure name (`jwst_memest.metadata.exposure_stem`).
    folder : pathlib.Path or None
        Where the stages read and write the exposures' files.
    """

    stages: list = field(default_factory=list)
    members_of: dict = field(default_factory=dict)
    folder: Path | None = None


def exposure_stages(estimates) -> list[tuple]:
    """The file each stage before Level 3 runs on: detector1 on the uncal file, Level 2 on detector1's output.

    Parameters
    ----------
    estimates : iterable of jwst_memest.exposure_estimate.ExposureEstimate
        Folder mode's estimates of the stages before Level 3 (calwebb_detector1 from an uncal
        file, then calwebb_image2 for an imaging exposure or calwebb_spec2 for MIRI LRS and MRS, NIRISS SOSS), an
        exposure's stages in run order.

    Returns
    -------
    list of tuple
        ``(estimate, input file)`` in the same order: Level 2 (image2, spec2) of an uncal file runs on
        the rate file detector1 writes beside it (rateints: several integrations kept, a time series).
    """
    from jwst_memest.metadata import exposure_stem, product_level

    stages = []
    for estimate in estimates:
        path = Path(estimate.path).resolve()
        # a Level-2 stage of an uncal file runs on what detector1 writes beside it
        if estimate.pipeline != "calwebb_detector1" and product_level(path) == "uncal":
            level = "rateints" if int(estimate.inputs.get("nints", 1) or 1) > 1 else "rate"
            path = path.with_name(f"{exposure_stem(path)}_{level}.fits")
        stages.append((estimate, str(path)))
    return stages


def build_parser() -> CommandParser:
    """The parser of ``jwst-memest plan``.

    Returns
    -------
    jwst_memest.cli_support.CommandParser
        The parser.
    """
    parser = CommandParser(prog=program("python -m jwst_memest.plan"), description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="ASN_OR_DIR",
                        help="Level-3 association files, or one folder of associations or exposures")
    parser.add_argument("--site", help="site file (YAML; see jwst_memest/plan/site.py), or a shipped site's name "
                                       "(calcloud-like); default: this machine alone")
    parser.add_argument("--output-dir", help="write each job's scheduler files, the DAG and plan.json here")
    parser.add_argument("--scheduler", action="append", choices=("htcondor", "slurm", "aws_batch"),
                        help="which scheduler's files to write (repeatable; default: all)")
    parser.add_argument("--upper-quantile", type=float, default=0.95, help="quantile of the memory and time bounds")
    return parser


def estimates_of(inputs: list[str], output_dir: Path | None, quantile: float = 0.95):
    """The estimates of the inputs and each product's association file.

    Parameters
    ----------
    inputs : list of str
        Association files, or one folder (of associations, or of exposures).
    output_dir : pathlib.Path or None
        Where folder mode writes the associations it forms.
    quantile : float, optional
        The bounds' quantile.

    Returns
    -------
    estimates : list of jwst_memest.estimate_records.ProductEstimate
        The products' estimates.
    association_of : dict of str to str
        Each product's association file.
    failures : dict of str to str
        Products that could not be estimated, and why.
    before : ExposureStages
        Folder mode: the stages before Level 3 of the folder's uncal files (else none).

    Raises
    ------
    ValueError
        When an input cannot be read or no product can be estimated.
    """
    from jwst_memest.association import AssociationError
    from jwst_memest.estimation import estimate_association

    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and paths[0].is_dir():
        found = sorted(paths[0].glob("*_asn.json"))
        if not found:
            return _folder_estimates(paths[0], output_dir, quantile)
        paths = found
    elif any(p.is_dir() for p in paths):
        raise ValueError("give association files, or a single folder")
    estimates, association_of, failures = [], {}, {}
    for path in paths:
        try:
            result = estimate_association(path, quantile=quantile)
        except (AssociationError, OSError, ValueError) as exc:
            raise ValueError(one_line(exc)) from None
        estimates += result.products
        association_of.update({e.product: str(path.resolve()) for e in result.products})
        failures.update(result.failures)
    return estimates, association_of, failures, ExposureStages()


def _folder_estimates(folder: Path, output_dir: Path | None, quantile: float):
    from jwst_memest.atomic import write_json_atomic
    from jwst_memest.metadata import exposure_stem
    from jwst_memest.predict import JwstCalPredict

    predictor = JwstCalPredict(folder, quantile=quantile)
    predictor.run_inference()
    if not predictor.estimates and not getattr(predictor, "exposure_estimates", None):
        raise ValueError(f"{folder}: no Level-3 product formed from its exposures, and no raw ramp to reduce")
    where = output_dir.resolve() if output_dir else folder.resolve()
    if output_dir:
        # the members stay in the folder: the associations written elsewhere name them by full path
        for path in predictor.write_associations(output_dir):
            content = json.loads(path.read_text())
            for product in content.get("products", []):
                for member in product.get("members", []):
                    member["expname"] = str(folder.resolve() / member["expname"])
            write_json_atomic(content, path)
    association_of = {name: str(where / filename) for name, filename in predictor.association_of.items()}
    members_of = {product["name"]: [exposure_stem(m["expname"]) for m in product.get("members", [])]
                  for association in predictor.associations for product in association.content.get("products", [])}
    stages = exposure_stages(getattr(predictor, "exposure_estimates", []))
    return predictor.estimates, association_of, {}, ExposureStages(stages, members_of, folder.resolve())


def main(argv=None) -> int:
    """Run ``jwst-memest plan``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when every job fits a tier, 1 when some fit none (they are flagged), 2 bad input.
    """
    from jwst_memest.plan.jobs import link_to_exposures, plan_exposure_jobs, plan_jobs, plan_table
    from jwst_memest.plan.schedulers import write_scheduler_files
    from jwst_memest.plan.site import load_site

    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0.5 <= args.upper_quantile <= 1.0:
        parser.error("--upper-quantile must be from 0.5 to 1.0")
    try:
        site = load_site(args.site)
        output_dir = Path(args.output_dir) if args.output_dir else None
        estimates, association_of, failures, before = estimates_of(args.inputs, output_dir, args.upper_quantile)
    except ValueError as exc:
        print(f"{parser.prog}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    jobs = plan_jobs(estimates, association_of, site)
    if before.stages:
        # the stages before Level 3 run first: the table and the scripts list them first
        exposure_jobs = plan_exposure_jobs(before.stages, before.folder, site, args.upper_quantile)
        link_to_exposures(jobs, exposure_jobs, before.members_of)
        jobs = exposure_jobs + jobs
    print(plan_table(jobs, site), flush=True)
    for product, reason in failures.items():
        print(f"not planned: {product}: {reason}", file=sys.stderr)
    if output_dir:
        written = write_scheduler_files(jobs, site, output_dir, args.scheduler or ("htcondor", "slurm", "aws_batch"))
        plan = {"site": dataclasses.asdict(site), "jobs": [dataclasses.asdict(j) | {"request_mib": j.ladder_mib()}
                                                           for j in jobs], "not_planned": failures}
        with atomic_write(output_dir / "plan.json") as handle:
            json.dump(plan, handle, indent=2)
        print(f"wrote {len(written) + 1} files to {output_dir}", file=sys.stderr)
    return 1 if any(j.flagged for j in jobs) else 0


if __name__ == "__main__":
    sys.exit(main())
