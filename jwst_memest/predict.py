"""Folder mode: estimate every Level-3 product a folder of exposures will make.

Products are formed by jwst's own Level-3 association rules (a pool built from
the exposures' headers, then jwst's generator), so names are the ones the
pipeline will write. Files the association tools cannot take are screened out
first and reported. `JwstCalPredict` runs the steps: screening
(`jwst_memest.folder_screening`), the associations (`jwst_memest.folder_associations`),
the estimates (`jwst_memest.estimation`) and the output (`jwst_memest.folder_output`).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Iterable

from jwst_memest.annotation import annotate_association
from jwst_memest.association import first_few
from jwst_memest.atomic import write_json_atomic, write_text_atomic
from jwst_memest.estimate_records import ProductEstimate
from jwst_memest.estimation import estimate_products
from jwst_memest.folder_associations import build_associations, product_exposures, unused_exposures, unused_summary
from jwst_memest.folder_output import folder_records, records_csv
from jwst_memest.folder_screening import screen_exposures
from jwst_memest.forking import forked_map, worker_count
from jwst_memest.level2_estimate import LEVEL2_INPUT_LEVELS, estimate_reduction
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.pipelines import EXP_MODE_PIPELINES
from jwst_memest.settings import RunSettings

log = logging.getLogger(__name__)

__all__ = ["JwstCalPredict", "EXP_MODE_PIPELINES"]


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
        Also run jwst's discovery pass (slower; see `jwst_memest.folder_associations.build_associations`).
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
        for line in unused_summary(self.unused):
            log.warning("%s", line)
        products = [(association, product_exposures(association, exposures)) for association in self.associations]
        staged = [meta for meta in exposures.values() if _has_stages_before_level3(meta)]
        # the estimates are independent: a large folder's are shared among processes (each a slice of the
        # products and of the exposures), which inherit the models loaded here and send back the estimates
        shares = worker_count(len(exposures), PARALLEL_ESTIMATE_MIN_EXPOSURES, self.workers)
        slices = [(products[k::shares], staged[k::shares]) for k in range(shares)]
        results = forked_map(self._estimate_slice, slices, shares)
        product_estimates, stage_outcomes = [None] * len(products), [None] * len(staged)
        for k, (estimated, stage_results) in enumerate(results):  # back in the folder's order
            product_estimates[k::shares] = estimated
            stage_outcomes[k::shares] = stage_results
        self.estimates = []
        for (association, by_pipeline), estimates in zip(products, product_estimates):
            self.estimates += estimates
            self.association_of.update({name: association.filename for name, _ in by_pipeline})
        self.predictions = {e.product: {"gbSize": e.rounded_gb} for e in self.estimates}
        self.exposure_estimates = self._report_stage_outcomes(staged, stage_outcomes)
        return self.predictions

    def _estimate_slice(self, work: tuple[list, list]) -> tuple[list, list]:
        """The estimates of some of the folder's products, and the stages before Level 3 of some of its
        exposures: per exposure, (its stage estimates, the stages not estimated) or why none is."""
        products, staged = work
        # one batch through each pipeline's model (an estimate does not depend on the batch it is in)
        by_type: dict[str, list[int]] = {}
        for index, (association, _) in enumerate(products):
            by_type.setdefault(association.content["asn_type"], []).append(index)
        estimated: list = [None] * len(products)
        for asn_type, indices in by_type.items():
            batch = iter(estimate_products([p for i in indices for p in products[i][1]], asn_type, **self.options))
            for i in indices:
                estimated[i] = [next(batch) for _ in products[i][1]]
        outcomes = []
        for meta in staged:
            try:
                outcomes.append(estimate_reduction(meta, self.options["settings"], self.options["quantile"]))
            except ValueError as exc:
                outcomes.append(str(exc))
        return estimated, outcomes

    @staticmethod
    def _report_stage_outcomes(staged: list[ExposureMetadata], outcomes: list) -> list:
        """The stage estimates before Level 3, in the folder's order; logs the exposures and stages not
        estimated, one line per stage rather than one per exposure."""
        found, not_estimated = [], {}
        for meta, outcome in zip(staged, outcomes):
            if isinstance(outcome, str):
                log.warning("%s: stages before Level 3 not estimated: %s", Path(meta.path).name, outcome)
                continue
            stages, missing = outcome
            found += stages
            for line in missing:
                not_estimated.setdefault(line, []).append(Path(meta.path).name)
        for line, names in not_estimated.items():
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
        return folder_records(self.estimates, self.association_of, getattr(self, "exposure_estimates", []))

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
            return write_text_atomic(records_csv(self.records()), path)
        raise ValueError(f"{path}: output must end in .json or .csv")


# exposures per estimating process: below this, starting a second one costs more than it saves
PARALLEL_ESTIMATE_MIN_EXPOSURES = 400


def _has_stages_before_level3(meta: ExposureMetadata) -> bool:
    """Whether the file is one the stages before Level 3 start from (a raw ramp with its groups, or a
    rate or rateints file)."""
    return meta.level in LEVEL2_INPUT_LEVELS and not (meta.level == "uncal" and not meta.n_groups)


if __name__ == "__main__":
    # python -m jwst_memest.predict: folder mode's command line, an entry point above this module
    import runpy

    runpy.run_module("jwst_memest.predict_cli", run_name="__main__", alter_sys=True)
