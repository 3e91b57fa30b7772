"""Folder mode: estimate every Level-3 product a folder of exposures will make.

Products are formed by jwst's own Level-3 association rules (a pool built from
the exposures' headers, then jwst's generator), so names are the ones the
pipeline will write. Files the association tools cannot take are screened out
first and reported.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import multiprocessing
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from jwst_memest.estimation import ProductEstimate, annotate_association, estimate_products, write_json_atomic
from jwst_memest.metadata import ExposureMetadata, MetadataError, read_exposure_metadata

log = logging.getLogger("stpipe.jwst_memest.predict")

__all__ = ["JwstCalPredict", "GeneratedAssociation", "build_associations", "screen_exposures", "main", "EXP_MODE_PIPELINES"]

# Which Level-3 association types each folder-mode exposure mode covers.
EXP_MODE_PIPELINES = {
    "image": ("image3", "coron3", "ami3"),
    "spec": ("spec3", "tso3"),
}


def screen_exposures(paths: Iterable[Path]) -> tuple[dict[str, ExposureMetadata], list[str]]:
    """Metadata keyed by exposure stem for the files jwst's association tools can take.

    jwst's pool maker aborts on one unreadable file or a missing TARGNAME, and
    its generator on a missing EXP_TYPE: such files are left out and reported.
    """
    kept, rejected = {}, []
    for path in paths:
        try:
            meta = read_exposure_metadata(path)
        except MetadataError as exc:
            rejected.append(str(exc))
            continue
        missing = [k for k, v in (("EXP_TYPE", meta.exp_type), ("TARGNAME", meta.target_name)) if not v]
        if missing:
            rejected.append(f"{path}: no {' or '.join(missing)}; jwst's association rules need it")
            continue
        kept[Path(path).name.rsplit("_", 1)[0]] = meta
    return kept, rejected


@dataclass(frozen=True)
class GeneratedAssociation:
    """A Level-3 association made by jwst's generator: its file name and JSON content."""

    filename: str
    content: dict


def build_associations(exposures: dict[str, ExposureMetadata], discover: bool = False,
                       workers: int | None = None) -> list[GeneratedAssociation]:
    """Level-3 associations from jwst's rules over pools made from the exposures' headers.

    As ``asn_generate --all-candidates``: observation candidates only, so each
    program/observation gets a pool of its own (jwst's pool building and
    matching grow faster than linearly with pool size). The pools are
    independent, so they are generated in ``workers`` processes (default: one
    per CPU this process may use) when there are several. ``discover=True`` runs one pool with
    jwst's discovery pass too (``asn_generate``'s default), which finds the
    same products here at several times the cost.
    """
    if discover:
        pools = [list(exposures.values())]
    else:
        observations: dict[tuple[str, str], list[ExposureMetadata]] = {}
        for meta in exposures.values():
            program, observation = (meta.exposure_id.split("_") + ["", ""])[:2]
            observations.setdefault((program, observation), []).append(meta)
        pools = list(observations.values())
    # mkpool numbers targets (t001, t002, ...) in order of appearance within its pool: an operations pool
    # spans the whole program, so number them over all the exposures, not within each observation
    target_ids: dict[str, str] = {}
    for meta in exposures.values():
        target_ids.setdefault(str(meta.target_name), str(len(target_ids) + 1))
    jobs = [([(m.path, m.is_imprint) for m in pool], discover, target_ids) for pool in pools if pool]
    workers = min(workers or _usable_cpus(), len(jobs))
    if workers > 1:
        # jwst's generated association classes cannot be pickled: workers send back JSON.
        # fork: the workers inherit the imported jwst instead of importing it again
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as executor:
            results = list(executor.map(_generate, *zip(*jobs)))
    else:
        results = [_generate(*job) for job in jobs]
    return [GeneratedAssociation(name, json.loads(text)) for result in results for name, text in result]


def _usable_cpus() -> int:
    """CPUs this process may run on (a batch job's allocation, not the whole node)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without affinity
        return os.cpu_count() or 1


def _generate(exposures: list[tuple[str, bool]], discover: bool, target_ids: dict[str, str]) -> list[tuple[str, str]]:
    """(file name, JSON) of the Level-3 associations jwst's rules make from one pool of (path, is_imprint),
    targets numbered by ``target_ids`` (target name -> id)."""
    from jwst.associations.generator.generate_per_candidate import generate_per_candidate
    from jwst.associations.lib import rules_level3
    from jwst.associations.mkpool import mkpool

    imprint = {Path(path).name: is_imprint for path, is_imprint in exposures}
    pool = mkpool([path for path, _ in exposures])
    # mkpool sets every exposure's IS_IMPRT to 'f'; NIRSpec imprints need their header value
    for row in pool:
        name = Path(str(row["filename"])).name
        if name in imprint:
            row["is_imprt"] = "t" if imprint[name] else "f"
        row["targetid"] = target_ids.get(str(row["targname"]).strip(), row["targetid"])
    pool = _as_read_from_a_pool_file(pool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        associations = generate_per_candidate(
            pool, rule_defs=[rules_level3.__file__], all_candidates=True, discover=discover, ignore_default=True
        )
    return [association.dump(format="json") for association in associations]


def _as_read_from_a_pool_file(pool):
    """The pool as operations' pool files give it to the generator: written, then read by jwst's own
    pool reader (values lowercased, "null" for absent), so product names are those made from the
    operations pool of the same exposures (no "-full"/"-none" from upper-case header values)."""
    import tempfile

    from jwst.associations.pool import AssociationPool

    with tempfile.TemporaryDirectory(prefix="memest-pool-") as scratch:
        path = Path(scratch) / "pool.csv"
        pool.write(str(path), format="ascii", delimiter="|")
        return AssociationPool.read(str(path))


class JwstCalPredict:
    """Estimate Level-3 memory for a folder of exposures.

    ``JwstCalPredict(input_path).run_inference()`` then ``.predictions`` maps
    each product name to ``{"gbSize": float}``; ``.estimates`` holds the full
    ProductEstimate objects and ``.associations`` the generated associations.
    """

    def __init__(
        self,
        input_path: str | Path,
        pid: int | None = None,
        obs: int | None = None,
        sfx: str = "_uncal.fits",
        exp_modes: Iterable[str] = ("image", "spec"),
        model_path: str | None = None,
        in_memory: bool = True,
        quantile: float = 0.95,
        max_request_gb: float | None = None,
        discover: bool = False,
        workers: int | None = None,
    ):
        self.input_path = Path(input_path)
        self.pid, self.obs, self.sfx, self.discover, self.workers = pid, obs, sfx, discover, workers
        self.exp_modes = [m.strip().lower() for m in exp_modes if m.strip()]
        unknown = [m for m in self.exp_modes if m not in EXP_MODE_PIPELINES]
        if unknown:
            raise ValueError(f"unknown exp mode {', '.join(unknown)}; expected {', '.join(EXP_MODE_PIPELINES)}")
        self.options = dict(model_path=model_path, in_memory=in_memory, quantile=quantile, max_request_gb=max_request_gb)
        self.predictions: dict[str, dict] = {}
        self.estimates: list[ProductEstimate] = []
        self.associations: list = []
        self.rejected: list[str] = []

    def input_files(self) -> list[Path]:
        if not self.input_path.is_dir():
            raise ValueError(f"{self.input_path}: not a directory")
        pattern = "jw"
        if self.pid is not None:
            pattern += f"{int(self.pid):05d}"
            if self.obs is not None:
                pattern += f"{int(self.obs):03d}"
        files = sorted(self.input_path.glob(f"{pattern}*{self.sfx}"))
        if not files:
            raise ValueError(f"{self.input_path}: no exposures matching {pattern}*{self.sfx}")
        return files

    def run_inference(self) -> dict[str, dict]:
        exposures, self.rejected = screen_exposures(self.input_files())
        for reason in self.rejected:
            log.warning("left out: %s", reason)
        wanted = {p for mode in self.exp_modes for p in EXP_MODE_PIPELINES[mode]}
        self.associations = [a for a in build_associations(exposures, self.discover, self.workers)
                             if a.content["asn_type"] in wanted]
        self.estimates = []
        for association in self.associations:
            by_pipeline = []
            asn_type = association.content["asn_type"]
            for product in association.content["products"]:
                members = [
                    exposures[Path(m["expname"]).name.rsplit("_", 1)[0]]
                    for m in product["members"]
                    if str(m.get("exptype", "science")).lower() in _member_types(asn_type)
                    and Path(m["expname"]).name.rsplit("_", 1)[0] in exposures
                ]
                if members:
                    by_pipeline.append((product["name"], members))
            self.estimates += estimate_products(by_pipeline, asn_type, **self.options)
        self.predictions = {e.product: {"gbSize": e.rounded_gb} for e in self.estimates}
        return self.predictions

    def write_associations(self, directory: str | Path, annotate: bool = True) -> list[Path]:
        """Write the generated associations, annotated with the estimates unless ``annotate=False``.

        Members that live in ``directory`` are named without a path, as
        jwst's pipelines expect; others keep their absolute path.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for association in self.associations:
            raw = copy.deepcopy(association.content)
            for product in raw["products"]:
                for member in product["members"]:
                    expname = Path(member["expname"])
                    if expname.parent.resolve() == directory.resolve():
                        member["expname"] = expname.name
            content = annotate_association(raw, self.estimates) if annotate else raw
            written.append(write_json_atomic(content, directory / association.filename))
        return written


def _member_types(asn_type: str) -> tuple[str, ...]:
    from jwst_memest.association import MEMBER_EXPTYPES

    return MEMBER_EXPTYPES.get(asn_type, ("science",))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jwst_memest.predict",
        description="Estimate the peak memory (GB) of every Level-3 product a folder of JWST exposures will make.",
    )
    parser.add_argument("input_path", help="folder of exposures")
    parser.add_argument("--pid", type=int, help="program id to select")
    parser.add_argument("--obs", type=int, help="observation number to select (with --pid)")
    parser.add_argument("--sfx", default="_uncal.fits", help="file name suffix of the exposures (default _uncal.fits)")
    parser.add_argument("--exp-modes", default="image,spec", help="comma-separated: image, spec (default both)")
    parser.add_argument("--model", dest="model_path", help="model bundle (.asdf) to use")
    parser.add_argument("--on-disk", action="store_true", help="size runs made with in_memory=False")
    parser.add_argument("--quantile", type=float, default=0.95, help="quantile of the upper bound (default 0.95)")
    parser.add_argument("--discover", action="store_true", help="also run jwst's discovery pass (slower)")
    parser.add_argument("--workers", type=int, help="processes generating associations (default: one per CPU this process may use)")
    parser.add_argument("--write-asn", metavar="DIR", help="write the generated associations, annotated, to DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        predictor = JwstCalPredict(
            args.input_path, pid=args.pid, obs=args.obs, sfx=args.sfx, exp_modes=args.exp_modes.split(","),
            model_path=args.model_path, in_memory=not args.on_disk, quantile=args.quantile, discover=args.discover,
            workers=args.workers,
        )
        predictor.run_inference()
        if args.write_asn:
            for path in predictor.write_associations(args.write_asn):
                print(f"wrote {path}", file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    width = max([len(e.product) for e in predictor.estimates] + [7])
    print(f"{'product':<{width}}  {'members':>7}  {'gbSize':>9}  {'upper':>9}")
    for e in predictor.estimates:
        print(f"{e.product:<{width}}  {e.n_members:>7d}  {e.gb_size:>9.3f}  {e.upper_bound_gb:>9.3f}")
    if not predictor.estimates:
        print("no Level-3 products formed from these exposures", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
