"""Folder mode: estimate every Level-3 product a folder of exposures will make.

Products are formed by jwst's own Level-3 association rules (a pool built from
the exposures' headers, then jwst's generator), so names are the ones the
pipeline will write. Files the association tools cannot take are screened out
first and reported.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from jwst_memest.annotation import annotate_association
from jwst_memest.association import first_few
from jwst_memest.atomic import write_json_atomic, write_text_atomic
from jwst_memest.estimate_records import ProductEstimate
from jwst_memest.estimation import estimate_products
from jwst_memest.metadata import ExposureMetadata, MetadataError, exposure_stem, read_exposure_metadata_and_header
from jwst_memest.pipelines import EXP_MODE_PIPELINES, MEMBER_EXPTYPES
from jwst_memest.pools import PoolEntry, distinct_rows, expand_members, generate_level3, generate_per_program
from jwst_memest.settings import RunSettings

log = logging.getLogger(__name__)

__all__ = ["JwstCalPredict", "GeneratedAssociation", "ScreenedFolder", "build_associations", "screen_exposures",
           "EXP_MODE_PIPELINES"]


# below this many files, starting worker processes costs more than reading the headers in one
PARALLEL_READ_MIN_FILES = 400


@dataclass
class ScreenedFolder:
    """The exposures of a folder that jwst's association tools can take, and the pool rows the generator needs.

    Parameters
    ----------
    exposures : dict of str to jwst_memest.metadata.ExposureMetadata
        The kept exposures' metadata by exposure stem, in file order.
    representatives : dict of str to jwst_memest.pools.PoolEntry
        The distinct pool rows (`jwst_memest.pools.distinct_rows`), by stem.
    followers : dict of str to list of str
        Per representative stem, the stems of the rows it stands for.
    rejected : list of str
        One line per file left out, naming it and why.
    """

    exposures: dict[str, ExposureMetadata]  # exposure stem -> metadata, in file order
    representatives: dict[str, PoolEntry]  # the distinct pool rows (pools.distinct_rows)
    followers: dict[str, list[str]]  # representative stem -> the stems of the rows it stands for
    rejected: list[str]  # one line per file left out, naming it and why


def screen_exposures(paths: Iterable[Path], workers: int | None = 1) -> ScreenedFolder:
    """Read and screen a folder's exposures.

    jwst's pool maker aborts on one unreadable file or a missing TARGNAME, and
    its generator on a missing EXP_TYPE: such files are left out and reported.

    Parameters
    ----------
    paths : iterable of pathlib.Path
        The exposures' files.
    workers : int or None, optional
        Processes reading the headers when the folder is large (None: one per usable CPU).

    Returns
    -------
    ScreenedFolder
        The kept exposures, their distinct pool rows, and the files left out.
    """
    paths = [str(p) for p in paths]
    workers = min(workers or _usable_cpus(), max(len(paths) // (PARALLEL_READ_MIN_FILES // 2), 1))
    chunks = _observation_chunks(paths, workers)
    if len(chunks) > 1:
        # fork: the workers inherit the imported modules; they send back metadata and the distinct rows only
        with ProcessPoolExecutor(len(chunks), mp_context=multiprocessing.get_context("fork")) as executor:
            screened = list(executor.map(_screen, chunks))
    else:
        screened = [_screen(chunk) for chunk in chunks]
    outcome = {path: result for results, _, _ in screened for path, result in results}
    folder = ScreenedFolder({}, {}, {}, [])
    for path in paths:
        if isinstance(outcome[path], str):
            folder.rejected.append(outcome[path])
        else:
            folder.exposures[exposure_stem(path)] = outcome[path]
    for _, representatives, followers in screened:
        folder.representatives.update((entry.stem, entry) for entry in representatives)
        folder.followers.update(followers)
    return folder


def _observation_chunks(paths: list[str], n_chunks: int) -> list[list[str]]:
    """The paths in at most ``n_chunks`` runs of whole observations (by file name), of about equal size."""
    if n_chunks <= 1:
        return [paths]
    observations: dict[str, list[str]] = {}
    for path in paths:
        match = re.match(r"jw\d{8}", Path(path).name)
        observations.setdefault(match.group(0) if match else "", []).append(path)
    size = -(-len(paths) // n_chunks)
    chunks: list[list[str]] = [[]]
    for observation in observations.values():
        if len(chunks[-1]) >= size:
            chunks.append([])
        chunks[-1].extend(observation)
    return chunks


def _screen(paths: list[str]) -> tuple[list[tuple[str, ExposureMetadata | str]], list[PoolEntry], dict[str, list[str]]]:
    """Each path's metadata or why it is left out, then the distinct pool rows of those kept."""
    results, entries = [], []
    for path in paths:
        try:
            meta, header = read_exposure_metadata_and_header(path)
        except MetadataError as exc:
            results.append((path, str(exc)))
            continue
        missing = [k for k, v in (("EXP_TYPE", meta.exp_type), ("TARGNAME", meta.target_name)) if not v]
        if missing:
            results.append((path, f"{path}: no {' or '.join(missing)}; jwst's association rules need it"))
            continue
        results.append((path, meta))
        entries.append(PoolEntry(path, header, bool(meta.is_imprint)))
    representatives, followers = distinct_rows(entries)
    return results, representatives, followers


@dataclass(frozen=True)
class GeneratedAssociation:
    """A Level-3 association made by jwst's generator: its file name and JSON content.

    Parameters
    ----------
    filename : str
        The association's file name, as jwst's generator names it.
    content : dict
        The association, with its members expanded to every exposure.
    """

    filename: str
    content: dict


def build_associations(folder: ScreenedFolder, discover: bool = False,
                       workers: int | None = None) -> list[GeneratedAssociation]:
    """Level-3 associations from jwst's rules over pools made from the exposures' headers.

    As ``asn_generate --all-candidates``: observation candidates only, one pool per
    program as in operations (no Level-3 association spans programs; see
    `jwst_memest.pools.generate_per_program`), the programs shared among ``workers``
    processes when there are several. The generator sees only the distinct rows;
    each association's members are expanded back to every exposure.

    Parameters
    ----------
    folder : ScreenedFolder
        The screened exposures.
    discover : bool, optional
        Run one pool with jwst's discovery pass too (``asn_generate``'s default), which
        finds the same products here at several times the cost.
    workers : int or None, optional
        Processes generating associations (None: one per CPU this process may use).

    Returns
    -------
    list of GeneratedAssociation
        The associations, sorted by file name.
    """
    representatives = folder.representatives
    # mkpool numbers targets (t001, t002, ...) in order of appearance within its pool: an operations pool
    # spans the whole program, so number them over all the exposures, not within each observation
    target_ids: dict[str, str] = {}
    for meta in folder.exposures.values():
        target_ids.setdefault(str(meta.target_name), str(len(target_ids) + 1))
    rows = [representatives[stem] for stem in folder.exposures if stem in representatives]
    if discover:
        generated = generate_level3(rows, target_ids, discover=True)
    else:
        # no Level-3 association spans programs (pools.generate_per_program): one pool per program, as in
        # operations; the programs shared among processes when there are enough rows to repay starting them
        workers = min(workers or _usable_cpus(), max(len(rows) // PARALLEL_GENERATION_MIN_ROWS, 1))
        generated = generate_per_program(rows, target_ids, workers)
    order = {stem: i for i, stem in enumerate(folder.exposures)}
    # by name: the same order however the programs were shared out
    return sorted((GeneratedAssociation(name, expand_members(content, folder.followers, order))
                   for name, content in generated), key=lambda a: a.filename)


# distinct rows per generating process: below this, forking a second one costs more than it saves
PARALLEL_GENERATION_MIN_ROWS = 150


def _usable_cpus() -> int:
    """CPUs this process may run on (a batch job's allocation, not the whole node)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # platforms without affinity
        return os.cpu_count() or 1


class JwstCalPredict:
    """Estimate Level-3 memory for a folder of exposures.

    ``JwstCalPredict(input_path).run_inference()`` then ``.predictions`` maps
    each product name to ``{"gbSize": float}``; ``.estimates`` holds the full
    ProductEstimate objects and ``.associations`` the generated associations.

    Parameters
    ----------
    input_path : str or pathlib.Path
        The folder of exposures.
    pid : int or None, optional
        Only the exposures of this program.
    obs : int or None, optional
        Only those of this observation (with ``pid``).
    sfx : str, optional
        File name suffix of the exposures.
    exp_modes : iterable of str, optional
        The exposure modes whose products are estimated (``image``, ``spec``, ...; default all).
    model_path : str or None, optional
        A model bundle (``.asdf``) to use instead of the installed one.
    in_memory : bool, optional
        ``in_memory`` of the Level-3 runs sized, when ``settings`` is not given.
    quantile : float, optional
        The quantile of the upper bound.
    max_request_gb : float or None, optional
        Cap of the memory request, GB.
    discover : bool, optional
        Also run jwst's discovery pass (slower; see `build_associations`).
    workers : int or None, optional
        Processes reading headers and generating associations (None: one per usable CPU).
    settings : jwst_memest.settings.RunSettings or None, optional
        The Level-3 runs' settings that change memory (``in_memory`` is theirs when given).

    Raises
    ------
    ValueError
        When an exposure mode is unknown.
    """

    def __init__(
        self,
        input_path: str | Path,
        pid: int | None = None,
        obs: int | None = None,
        sfx: str = "_uncal.fits",
        exp_modes: Iterable[str] = tuple(EXP_MODE_PIPELINES),
        model_path: str | None = None,
        in_memory: bool = True,
        quantile: float = 0.95,
        max_request_gb: float | None = None,
        discover: bool = False,
        workers: int | None = None,
        settings: RunSettings | None = None,
    ):
        self.input_path = Path(input_path)
        self.pid, self.obs, self.sfx, self.discover, self.workers = pid, obs, sfx, discover, workers
        self.exp_modes = [m.strip().lower() for m in exp_modes if m.strip()]
        unknown = [m for m in self.exp_modes if m not in EXP_MODE_PIPELINES]
        if unknown:
            raise ValueError(f"unknown exp mode {', '.join(unknown)}; expected {', '.join(EXP_MODE_PIPELINES)}")
        # the Level-3 runs' settings that change memory (``in_memory`` is theirs when they are given)
        settings = RunSettings(in_memory=in_memory) if settings is None else settings
        self.options = dict(model_path=model_path, settings=settings, quantile=quantile, max_request_gb=max_request_gb)
        self.predictions: dict[str, dict] = {}
        self.estimates: list[ProductEstimate] = []
        self.associations: list = []
        self.rejected: list[str] = []
        self.association_of: dict[str, str] = {}  # product -> association file name
        self.unused: dict[str, str] = {}  # exposure -> why it forms no product

    def input_files(self) -> list[Path]:
        """The folder's exposures matching the program, observation and suffix asked for.

        Returns
        -------
        list of pathlib.Path
            The matching files, sorted.

        Raises
        ------
        ValueError
            When the input path is not a directory, or no file matches.
        """
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
        """Form the folder's Level-3 products with jwst's rules and estimate each.

        Fills ``predictions``, ``estimates``, ``associations``, ``rejected`` (files left out) and
        ``unused`` (exposures that form no product, and why), and logs the files and exposures
        left out.

        Returns
        -------
        dict of str to dict
            ``predictions``: ``{"gbSize": float}`` per product name.

        Raises
        ------
        ValueError
            When the input path is not a directory or holds no matching exposure.
        """
        folder = screen_exposures(self.input_files(), self.workers)
        exposures, self.rejected = folder.exposures, folder.rejected
        for reason in self.rejected:
            log.warning("left out: %s", reason)
        wanted = {p for mode in self.exp_modes for p in EXP_MODE_PIPELINES[mode]}
        generated = build_associations(folder, self.discover, self.workers)
        self.associations = [a for a in generated if a.content["asn_type"] in wanted]
        self.unused = unused_exposures(exposures, generated, wanted)
        for line in _unused_summary(self.unused):
            log.warning("%s", line)
        self.estimates = []
        for association in self.associations:
            by_pipeline = []
            asn_type = association.content["asn_type"]
            for product in association.content["products"]:
                members = [
                    exposures[exposure_stem(m["expname"])]
                    for m in product["members"]
                    if str(m.get("exptype", "science")).lower() in _member_types(asn_type)
                    and exposure_stem(m["expname"]) in exposures
                ]
                if members:
                    by_pipeline.append((product["name"], members))
            self.estimates += estimate_products(by_pipeline, asn_type, **self.options)
            self.association_of.update({name: association.filename for name, _ in by_pipeline})
        self.predictions = {e.product: {"gbSize": e.rounded_gb} for e in self.estimates}
        self.exposure_estimates = self._estimate_exposure_stages(exposures)
        return self.predictions

    def _estimate_exposure_stages(self, exposures: dict[str, ExposureMetadata]) -> list:
        """The stages before Level 3 of each uncal, rate or rateints file among the exposures (from
        the headers read): calwebb_detector1 from a raw ramp, then calwebb_image2 for imaging."""
        from jwst_memest.level2_estimate import LEVEL2_INPUT_LEVELS, estimate_reduction

        found, not_estimated = [], {}
        for meta in exposures.values():
            if meta.level not in LEVEL2_INPUT_LEVELS or (meta.level == "uncal" and not meta.n_groups):
                continue
            try:
                stages, missing = estimate_reduction(meta, self.options["settings"], self.options["quantile"])
            except ValueError as exc:
                log.warning("%s: stages before Level 3 not estimated: %s", Path(meta.path).name, exc)
                continue
            found += stages
            for line in missing:
                not_estimated.setdefault(line, []).append(Path(meta.path).name)
        for line, names in not_estimated.items():  # one line per stage, not one per exposure
            log.warning("%s for %d exposure(s) (%s)", line, len(names), first_few(names))
        return found

    def write_associations(self, directory: str | Path, annotate: bool = True) -> list[Path]:
        """Write the generated associations, annotated with the estimates unless ``annotate=False``.

        Members are named as a pipeline run reads them: the file name only (jwst looks for members
        beside the association), at the level the pipeline takes (jwst's rules name ``_cal`` or
        ``_calints`` files whatever level the folder holds).

        Parameters
        ----------
        directory : str or pathlib.Path
            Where to write them (made when absent).
        annotate : bool, optional
            Write ``gbSize`` and ``memory_estimate`` into each product.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for association in self.associations:
            raw = copy.deepcopy(association.content)
            for product in raw["products"]:
                for member in product["members"]:
                    member["expname"] = Path(member["expname"]).name
            content = annotate_association(raw, self.estimates) if annotate else raw
            written.append(write_json_atomic(content, directory / association.filename))
        return written

    def records(self) -> list[dict]:
        """One record per estimated product, then one per exposure and stage before Level 3.

        Returns
        -------
        list of dict
            ``exposure``, ``pipeline``, ``gbSize`` and ``memory_estimate`` per exposure and stage
            (calwebb_detector1, calwebb_image2); ``product``, ``association``, ``gbSize`` and
            ``memory_estimate`` per Level-3 product.
        """
        products = [{"product": e.product, "association": self.association_of.get(e.product, ""),
                     "gbSize": e.rounded_gb, "memory_estimate": e.annotation()} for e in self.estimates]
        # the stages before: one record per exposure and stage (its detector1 run, its image2 run)
        exposures = [{"exposure": Path(e.path).name, "pipeline": e.pipeline, "gbSize": round(e.gb, 4),
                      "memory_estimate": e.annotation()}
                     for e in getattr(self, "exposure_estimates", [])]
        return products + exposures

    def write_estimates(self, path: str | Path) -> Path:
        """Every estimate as JSON (``.json``: the records) or CSV (``.csv``: one flat row per product).

        Parameters
        ----------
        path : str or pathlib.Path
            The file to write; its suffix chooses the format.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        ValueError
            When ``path`` ends in neither ``.json`` nor ``.csv``.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            return write_json_atomic(self.records(), path)
        if suffix == ".csv":
            return write_text_atomic(_as_csv(self.records()), path)
        raise ValueError(f"{path}: output must end in .json or .csv")


# Flat columns of the CSV output, from the records' memory_estimate blocks
CSV_COLUMNS = ("product", "association", "pipeline", "n_members", "gbSize", "upper_bound_gb", "upper_bound_quantile",
               "request_gb", "in_memory", "peak_step", "model", "model_version", "calibrated", "warnings")


def _as_csv(records: list[dict]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        block = record["memory_estimate"]
        if "exposure" in record:  # an exposure's stage before Level 3
            writer.writerow({
                "product": record["exposure"], "association": "", "pipeline": block["pipeline"], "n_members": 1,
                "gbSize": record["gbSize"], "upper_bound_gb": block["upper_bound_gb"], "upper_bound_quantile": "",
                "request_gb": block["upper_bound_gb"], "in_memory": "", "peak_step": block["peak_step"],
                "model": block["model"], "model_version": "", "calibrated": block["calibrated"],
                "warnings": "; ".join(block["reasons"]),
            })
            continue
        writer.writerow({
            "product": record["product"], "association": record["association"], "pipeline": block["pipeline"],
            "n_members": block["n_members"], "gbSize": record["gbSize"], "upper_bound_gb": block["upper_bound_gb"],
            "upper_bound_quantile": block["upper_bound_quantile"], "request_gb": block["request_gb"],
            "in_memory": block["pipeline_parameters"]["in_memory"], "peak_step": block["peak_step"],
            "model": block["model"].get("name", ""), "model_version": block["model"].get("version", ""),
            "calibrated": block["calibrated"], "warnings": "; ".join(block["warnings"]),
        })
    return out.getvalue()


def unused_exposures(exposures: dict[str, ExposureMetadata], generated: list[GeneratedAssociation],
                     wanted: set[str]) -> dict[str, str]:
    """Exposures (by stem) that are a member of no estimated product, and why.

    Parameters
    ----------
    exposures : dict of str to jwst_memest.metadata.ExposureMetadata
        The folder's exposures by stem.
    generated : list of GeneratedAssociation
        Every association jwst's rules made.
    wanted : set of str
        The Level-3 pipelines (``asn_type``) estimated.

    Returns
    -------
    dict of str to str
        Each unused exposure's stem, and why it forms no estimated product.
    """
    types_of: dict[str, set[str]] = {}
    for association in generated:
        for product in association.content["products"]:
            for member in product["members"]:
                stem = exposure_stem(member["expname"])
                types_of.setdefault(stem, set()).add(association.content["asn_type"])
    unused = {}
    for stem, meta in exposures.items():
        types = types_of.get(stem, set())
        if not types:
            unused[stem] = f"{meta.exp_type}: in no Level-3 product jwst's rules make from this folder"
        elif not types & wanted:
            unused[stem] = f"only in {', '.join(sorted(types))} products, left out by the exp modes chosen"
    return unused


def _unused_summary(unused: dict[str, str], shown: int = 3) -> list[str]:
    """One line per reason: how many exposures, the first few names."""
    by_reason: dict[str, list[str]] = {}
    for stem, reason in unused.items():
        by_reason.setdefault(reason, []).append(stem)
    lines = []
    for reason, stems in sorted(by_reason.items()):
        more = f" and {len(stems) - shown} more" if len(stems) > shown else ""
        lines.append(f"{len(stems)} exposure(s) form no product ({reason}): {', '.join(stems[:shown])}{more}")
    return lines


def _member_types(asn_type: str) -> tuple[str, ...]:
    return MEMBER_EXPTYPES.get(asn_type, ("science",))


if __name__ == "__main__":
    # python -m jwst_memest.predict: folder mode's command line, an entry point above this module
    import runpy

    runpy.run_module("jwst_memest.predict_cli", run_name="__main__", alter_sys=True)
