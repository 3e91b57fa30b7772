"""From an association to memory estimates: the path shared by the step and folder mode."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from jwst_memest._version import __version__
from jwst_memest.association import AssociationError, first_few, load_level3_association, product_members, product_name
from jwst_memest.atomic import atomic_write
from jwst_memest.features.build import ProductFeatures, product_features
from jwst_memest.metadata import ExposureMetadata, MetadataError, product_level, read_exposure_metadata
from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
from jwst_memest.model.estimator import MemoryEstimator
from jwst_memest.model.registry import resolve_estimator
from jwst_memest.model.terms import with_settings
from jwst_memest.model.walltime import estimate_wall_times
from jwst_memest.speed import machine_speed_factor
from jwst_memest.pipelines import class_alias
from jwst_memest.settings import RunSettings


__all__ = [
    "ProductEstimate",
    "AssociationEstimate",
    "ProductEstimates",
    "estimate_products",
    "estimate_features",
    "estimate_association",
    "read_association_members",
    "annotate_association",
    "write_json_atomic",
    "resolve_estimator",
]

def _round_up(value: float, digits: int = 4) -> float:
    """Round a bound upwards, so that rounding never makes it smaller than what it bounds."""
    nearest = round(value, digits)
    if nearest >= value:  # already on the grid (value * scale can land just above a whole number)
        return nearest
    scale = 10**digits
    return math.ceil(value * scale) / scale


@dataclass
class ProductEstimate:
    """Estimated peak memory of one Level-3 product.

    Parameters
    ----------
    product : str
        The product's name.
    pipeline : str
        The Level-3 pipeline sized (``image3``, ``spec3``, ...).
    n_members : int
        Members the estimate counts.
    gb_size : float
        The estimated peak memory, GB (10^9 bytes).
    upper_bound_gb : float
        The upper bound at ``quantile``, GB.
    request_gb : float
        The memory to request: the upper bound, capped at ``max_request_gb`` when one is given.
    quantile : float
        The quantile of the upper bound.
    in_memory : bool
        ``in_memory`` of the run sized.
    estimator : dict
        The estimator's ``name``, ``version``, ``kind`` and ``checksum``.
    warnings : list of str, optional
        Warnings of the product (members left out, extrapolation, capped request, ...).
    features : jwst_memest.features.build.ProductFeatures or None, optional
        The features the estimate was made from.
    calibrated : bool, optional
        Whether the product lies inside the measured runs the bound was calibrated on.
    bound_widening : float, optional
        The factor the bound was widened by outside them.
    uncalibrated_reasons : list of str, optional
        Why the product is not calibrated.
    breakdown : dict of str to float, optional
        The peak of each modelled stage, GB.
    peak_step : str, optional
        The stage that sets the peak.
    breakdown_note : str, optional
        How the breakdown was made, when it is not the estimator's own.
    alternatives : list of dict, optional
        The estimate and bound under each other memory-changing setting of the run.
    settings : jwst_memest.settings.RunSettings, optional
        The run's settings the estimate follows.
    flags : list of str, optional
        Machine-readable findings, such as ``implausible_output_grid``.
    bound_margin_gb : float, optional
        What the bound adds in bytes (as GB) for the spread between repeats and environments.
    wall_time_s : float or None, optional
        Estimated wall time on this machine, seconds (`jwst_memest.model.walltime`).
    wall_time_upper_s : float or None, optional
        Its upper bound at ``quantile``, seconds.
    speed_factor : float, optional
        This machine's speed factor the wall times were scaled by (`jwst_memest.speed`).
    """

    product: str
    pipeline: str
    n_members: int
    gb_size: float
    upper_bound_gb: float
    request_gb: float
    quantile: float
    in_memory: bool
    estimator: dict
    warnings: list[str] = field(default_factory=list)
    features: ProductFeatures | None = None
    calibrated: bool = True  # inside the measured runs: the bound is the calibrated one
    bound_widening: float = 1.0  # factor applied outside them
    uncalibrated_reasons: list[str] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)  # stage -> GB
    peak_step: str = ""
    breakdown_note: str = ""
    alternatives: list[dict] = field(default_factory=list)  # estimates under other pipeline settings
    settings: RunSettings = field(default_factory=RunSettings)  # the run's settings the estimate follows
    flags: list[str] = field(default_factory=list)  # machine-readable findings (features.build's flags)
    bound_margin_gb: float = 0.0  # bytes (in GB) the bound adds for the spread between repeats and environments
    wall_time_s: float | None = None
    wall_time_upper_s: float | None = None
    speed_factor: float = 1.0

    @property
    def rounded_gb(self) -> float:
        """The estimate rounded to 4 decimals, as written in ``gbSize``.

        Returns
        -------
        float
            ``gb_size`` rounded to 4 decimals.
        """
        return round(self.gb_size, 4)

    def annotation(self) -> dict:
        """The ``memory_estimate`` block written beside ``gbSize``.

        Returns
        -------
        dict
            The bound (rounded up), quantile, margin, request, model, pipeline and its parameters,
            breakdown, alternatives, calibration, warnings, flags and the jwst_memest version.
        """
        return {
            "upper_bound_gb": _round_up(self.upper_bound_gb),
            "upper_bound_quantile": self.quantile,
            "upper_bound_margin_gb": round(self.bound_margin_gb, 4),
            "request_gb": _round_up(self.request_gb) if self.request_gb >= self.upper_bound_gb else round(self.request_gb, 4),
            "model": dict(self.estimator),
            "pipeline": class_alias(self.pipeline),
            "pipeline_parameters": {"in_memory": self.in_memory,
                                    **{k: v for k, v in self.settings.changed().items() if k != "in_memory"}},
            "n_members": self.n_members,
            "breakdown": {stage: round(gb, 4) for stage, gb in self.breakdown.items()},
            "peak_step": self.peak_step,
            **({"breakdown_note": self.breakdown_note} if self.breakdown_note else {}),
            "alternatives": [dict(a) for a in self.alternatives],
            "calibrated": self.calibrated,
            **({} if self.calibrated else {"uncalibrated_reasons": list(self.uncalibrated_reasons),
                                           "bound_widening": round(self.bound_widening, 4)}),
            "warnings": list(self.warnings),
            "flags": list(self.flags),
            **({} if self.wall_time_s is None else {"wall_time_s": round(self.wall_time_s, 1),
                                                    "wall_time_upper_s": math.ceil(self.wall_time_upper_s),
                                                    "speed_factor": round(self.speed_factor, 4)}),
            "jwst_memest_version": __version__,
        }


@dataclass
class AssociationEstimate:
    """The estimates of one association file.

    Parameters
    ----------
    path : pathlib.Path or None
        The association file.
    pipeline : str
        Its Level-3 pipeline.
    raw : dict
        The association as read from the file.
    products : list of ProductEstimate
        The estimates of the products that have a readable member.
    failures : dict of str to str, optional
        Each product that could not be estimated, and why.
    """
    path: Path | None
    pipeline: str
    raw: dict
    products: list[ProductEstimate]
    failures: dict[str, str] = field(default_factory=dict)  # product name -> why it could not be estimated


class ProductEstimates(list):
    """Estimates of the products that could be estimated; ``failures`` maps each other product to why not.

    A list of `ProductEstimate`.

    Parameters
    ----------
    estimates : sequence of ProductEstimate
        The estimates.
    failures : dict of str to str
        Each product that could not be estimated, and why.
    """

    def __init__(self, estimates: Sequence[ProductEstimate], failures: dict[str, str]):
        super().__init__(estimates)
        self.failures = dict(failures)


def _estimator_description(estimator: MemoryEstimator) -> dict:
    return {
        "name": estimator.name,
        "version": str(estimator.version),
        "kind": estimator.kind,
        "checksum": estimator.checksum or "",
    }


def estimate_products(
    products: Sequence[tuple[str, Sequence[ExposureMetadata]]],
    pipeline: str,
    *,
    in_memory: bool = True,
    settings: RunSettings | None = None,
    **options,
) -> list[ProductEstimate]:
    """Estimate every product from its members' metadata, in one batch through the model.

    Parameters
    ----------
    products : sequence of (str, sequence of jwst_memest.metadata.ExposureMetadata)
        Each product's name and its members' metadata.
    pipeline : str
        The Level-3 pipeline (``image3``, ``spec3``, ``coron3``, ``ami3``, ``tso3``).
    in_memory : bool, optional
        ``in_memory`` of the run sized, when ``settings`` is not given.
    settings : jwst_memest.settings.RunSettings or None, optional
        The run's settings that change memory (``in_memory`` is ``settings.in_memory`` when
        they are given).
    **options
        Passed to `estimate_features`: ``estimator``, ``model_path``, ``quantile``,
        ``max_request_gb``, ``extra_warnings``.

    Returns
    -------
    list of ProductEstimate
        One estimate per product, in order.
    """
    settings = RunSettings(in_memory=in_memory) if settings is None else settings
    named = [(name, product_features(members, pipeline, settings=settings)) for name, members in products]
    return estimate_features(named, pipeline, **options)


def estimate_features(
    named_features: Sequence[tuple[str, ProductFeatures]],
    pipeline: str,
    *,
    estimator: MemoryEstimator | None = None,
    model_path: str | None = None,
    quantile: float = 0.95,
    max_request_gb: float | None = None,
    extra_warnings: dict[str, list[str]] | None = None,
) -> list[ProductEstimate]:
    """Estimate products from their features: one model evaluation for the whole batch.

    Parameters
    ----------
    named_features : sequence of (str, jwst_memest.features.build.ProductFeatures)
        Each product's name and features.
    pipeline : str
        The Level-3 pipeline.
    estimator : jwst_memest.model.estimator.MemoryEstimator or None, optional
        The estimator; by default the one `resolve_estimator` finds for ``pipeline`` and
        ``model_path``.
    model_path : str or None, optional
        A model bundle (``.asdf``) to use instead of the installed one.
    quantile : float, optional
        The quantile of the upper bound.
    max_request_gb : float or None, optional
        Cap of the memory request, GB; a capped product gets a warning.
    extra_warnings : dict of str to list of str, optional
        More warnings per product name (from reading its members).

    Returns
    -------
    list of ProductEstimate
        One estimate per product, in order (empty for no products).
    """
    if not named_features:
        return []
    estimator = estimator or resolve_estimator(pipeline, model_path or None)
    X = np.vstack([features.vector() for _, features in named_features])
    settings = [features.settings for _, features in named_features]
    # what the measured runs cover, and the stages, come from the physics, whichever estimator is used
    baseline = estimator if estimator.kind == "physics_baseline" else load_baseline(pipeline)
    gb, upper, model_warnings = _estimate_rows(named_features, estimator, baseline, X, settings, quantile)
    stages = baseline.breakdown(_baseline_input(named_features, X, settings))
    alternatives = _alternatives(named_features, X, estimator, baseline, quantile)
    description = _estimator_description(estimator)
    unmeasured_bound = _unmeasured_bound(estimator)
    margin = getattr(baseline, "margin_gb", 0.0)
    speed = machine_speed_factor()
    wall, wall_upper = estimate_wall_times(pipeline, _baseline_input(named_features, X, settings), quantile, speed)
    results = []
    for i, ((name, feats), size, bound) in enumerate(zip(named_features, gb, upper)):
        assessment = baseline.assess(feats.values)
        breakdown, peak_step = stages[i]
        note = ""
        if baseline is not estimator:  # the model's estimate, shared out as the physics shares its own
            physics_gb = max(breakdown.values())
            scale = float(size) / physics_gb if physics_gb > 0 else 1.0
            breakdown = {stage: gb_ * scale for stage, gb_ in breakdown.items()}
            note = f"stages of {baseline.name} {baseline.version}, scaled to the {estimator.name} estimate"
        reasons = assessment.reasons + unmeasured_bound
        warnings = list((extra_warnings or {}).get(name, [])) + feats.warnings + model_warnings[i] + reasons
        # the margin in bytes goes on top of every relative bound, widened or not
        size, bound = float(size), float(max(bound, size + margin, size * assessment.factor + margin))
        request = bound
        if max_request_gb and bound > max_request_gb:
            request = float(max_request_gb)
            warnings.append(
                f"upper bound {bound:.2f} GB exceeds max_request_gb {max_request_gb:g}: memory request "
                f"capped at {max_request_gb:g} GB; process this product on disk (in_memory=False)"
            )
        results.append(
            ProductEstimate(
                product=name, pipeline=pipeline, n_members=feats.n_members, gb_size=size,
                upper_bound_gb=bound, request_gb=request, quantile=quantile,
                in_memory=bool(feats.values.get("in_memory", True)),
                estimator=description, warnings=warnings, features=feats,
                calibrated=assessment.calibrated and not unmeasured_bound, bound_widening=assessment.factor,
                uncalibrated_reasons=list(reasons),
                breakdown=breakdown, peak_step=peak_step, breakdown_note=note,
                settings=feats.settings, flags=list(feats.flags), bound_margin_gb=margin,
                alternatives=[{**a, "upper_bound_gb": _round_up(max(a["upper_bound_gb"],
                                                                    a["gbSize"] * assessment.factor + margin))}
                              for a in alternatives[i]],
                wall_time_s=None if wall is None else float(wall[i]),
                wall_time_upper_s=None if wall_upper is None else float(wall_upper[i]), speed_factor=speed,
            )
        )
    return results


def _unmeasured_bound(estimator: MemoryEstimator) -> list[str]:
    """Why the estimator's own bound says nothing (an imported model calibrated on no measured run), if it does not."""
    bound = estimator.upper_bound
    if bound.n_rows > 0:
        return []
    return [f"model {estimator.name} {estimator.version} has no calibrated upper bound ({bound.source})"]


def _model_inputs(named_features, estimator: MemoryEstimator, X: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """The estimator's inputs: the pipeline's own features ``X``, or a model's own feature set
    (spacekit's) computed from the same members, with the warnings computing it gave."""
    wanted = estimator.feature_set
    if wanted == named_features[0][1].feature_set:
        return X, [[] for _ in named_features]
    rows, warnings = [], []
    for _, features in named_features:
        other = product_features(features.members, features.pipeline, feature_set=wanted, settings=features.settings)
        rows.append(other.vector())
        warnings.append([w for w in other.warnings if w not in features.warnings])
    return np.vstack(rows), warnings


def _baseline_input(named_features, X: np.ndarray, settings: list[RunSettings]) -> np.ndarray:
    """The physics baseline's input: the features ``X``, run with ``settings``, and what the members
    say beyond the schema (``model.terms.SETTING_COLUMNS``)."""
    features = [f for _, f in named_features]
    return with_settings(X, settings, [f.output_area_ratio for f in features], [f.psf_input_bytes for f in features],
                         [f.outlier_grid_pixels for f in features])


def _estimate_rows(named_features, estimator: MemoryEstimator, baseline: PhysicsBaseline, X: np.ndarray,
                   settings: list[RunSettings], quantile: float):
    """Estimates, bounds and per-row warnings of the estimator under each row's run settings.

    The physics baseline reads the settings itself. A trained model knows the features only (runs
    at jwst's default settings): its estimate is scaled by the ratio the baseline gives the
    settings against the defaults, and says so.
    """
    if estimator is baseline:  # its bound holds the margin already
        gb, upper = estimator.estimate(_baseline_input(named_features, X, settings), quantile)
        return gb, upper, [[] for _ in named_features]
    X_model, model_warnings = _model_inputs(named_features, estimator, X)
    gb, upper = estimator.estimate(X_model, quantile)
    defaults = [RunSettings(in_memory=s.in_memory) for s in settings]
    # the features already follow the output grid's scale: only what they cannot say is scaled
    ratio = (baseline.predict(_baseline_input(named_features, X, settings))
             / baseline.predict(_baseline_input(named_features, X, defaults)))
    for i, (s, r) in enumerate(zip(settings, ratio)):
        changed = [k for k in s.changed() if k != "in_memory"]
        if changed and abs(r - 1.0) > 1e-9:
            model_warnings[i] = model_warnings[i] + [
                f"{estimator.name} was trained on runs at jwst's default settings: its estimate is scaled "
                f"x{r:.3f} for {', '.join(changed)}, as {baseline.name} {baseline.version} scales them"]
    return gb * ratio, upper * ratio + getattr(baseline, "margin_gb", 0.0), model_warnings


# The memory-saving settings offered beside each calwebb_image3 estimate (after in_memory both ways),
# on top of the run's own, least intrusive first: no context image; no err (and so no variances);
# all of them, on disk. jwst 3.0's source_catalog needs the i2d's err (without it: TypeError in
# isnan), so a setting that drops err is offered with source_catalog skipped, and says so.
MEMORY_SAVINGS = (
    ({"enable_ctx": False}, ""),
    ({"enable_err": False, "skip_source_catalog": True},
     "jwst 3.0's source_catalog fails without the err array: offered with source_catalog skipped"),
    ({"in_memory": False, "enable_ctx": False, "enable_err": False, "skip_source_catalog": True},
     "jwst 3.0's source_catalog fails without the err array: offered with source_catalog skipped"),
)


def _alternatives(named_features, X: np.ndarray, estimator: MemoryEstimator, baseline: PhysicsBaseline,
                  quantile: float) -> list[list[dict]]:
    """Per row, the estimate and bound under each setting of the Level-3 run that changes its memory.

    calwebb_image3 (and the pipelines estimated with its terms) offers in_memory both ways, then the
    memory-saving settings of ``MEMORY_SAVINGS`` on top of the run's own, each with the arguments that
    give it. calwebb_spec3 in jwst 3.0 has no such setting (outlier_detection's own in_memory is
    ignored inside the pipeline). A model whose features do not include in_memory (spacekit's)
    cannot tell the settings apart.
    """
    names = baseline.feature_names
    if baseline.feature_set != "image3" or "in_memory" not in names:
        return [[] for _ in X]
    if estimator.feature_set != baseline.feature_set:
        return [[] for _ in X]
    column = names.index("in_memory")
    image3 = getattr(baseline, "terms", None) == "image3"  # its own terms count the savings
    found = [[] for _ in X]
    trials = [({"in_memory": setting}, "") for setting in (True, False)] + (list(MEMORY_SAVINGS) if image3 else [])
    for change, note in trials:
        settings = [dataclasses.replace(f.settings, **change) for _, f in named_features]
        trial = X.copy()
        trial[:, column] = [float(s.in_memory) for s in settings]
        trial_features = [(name, dataclasses.replace(f, settings=s, values=dict(f.values, in_memory=s.in_memory)))
                          for (name, f), s in zip(named_features, settings)]
        gb, upper, _ = _estimate_rows(trial_features, estimator, baseline, trial, settings, quantile)
        for i, s in enumerate(settings):
            entry = {"in_memory": s.in_memory}
            if len(change) > 1 or "in_memory" not in change:
                entry["arguments"] = s.arguments()
            entry.update({"gbSize": round(float(gb[i]), 4), "upper_bound_gb": _round_up(float(max(upper[i], gb[i])))})
            if note:
                entry["note"] = note
            found[i].append(entry)
    return found


def read_members(paths: Iterable[Path], cache: dict | None = None) -> tuple[list[ExposureMetadata], list[str]]:
    """Metadata of the readable members, and one warning per member left out.

    A file listed several times is read once (``cache`` may be shared across products).

    Parameters
    ----------
    paths : iterable of pathlib.Path
        The members' files.
    cache : dict or None, optional
        Metadata (or the error reading it) per file already read.

    Returns
    -------
    members : list of jwst_memest.metadata.ExposureMetadata
        The readable members, once per entry.
    warnings : list of str
        One per unreadable member, and one when entries repeat a file.
    """
    cache = {} if cache is None else cache
    members, warnings = [], []
    for path in paths:
        key = str(path)
        if key not in cache:
            try:
                cache[key] = read_exposure_metadata(path)
            except MetadataError as exc:
                cache[key] = exc
        found = cache[key]
        if isinstance(found, MetadataError):
            warnings.append(f"member left out: {found}")
        else:
            members.append(found)
    listed = [str(p) for p in paths]
    repeats = len(listed) - len(set(listed))
    if repeats:
        warnings.append(f"{repeats} member entries name a file already listed; each entry is counted, as the pipeline loads each")
    return members, warnings


def read_association_members(
    path: str | Path, search_path: Iterable[str | Path] = ()
) -> tuple[str, list[tuple[str, list[ExposureMetadata], list[str]]], dict[str, str]]:
    """Read an association and its members' metadata.

    Parameters
    ----------
    path : str or pathlib.Path
        The Level-3 association file.
    search_path : iterable of str or pathlib.Path, optional
        More directories where members are looked for.

    Returns
    -------
    pipeline : str
        The association's Level-3 pipeline.
    products : list of (str, list of jwst_memest.metadata.ExposureMetadata, list of str)
        Per product that has a readable member: its name, its members' metadata and the
        warnings gathering them gave (substituted, absent or unreadable members).
    failures : dict of str to str
        Per product that has none, why.

    Raises
    ------
    jwst_memest.association.AssociationError
        One line naming the file, when the association cannot be read or no product has a
        readable member.
    """
    path = Path(path)
    association, pipeline = load_level3_association(path)
    products, failures, cache = [], {}, {}
    for found in product_members(association, pipeline, path.parent.resolve(), search_path):
        warnings = []
        if found.substituted:
            levels = sorted({product_level(sub) for _, sub in found.substituted})
            first_name, first_sub = found.substituted[0]
            warnings.append(
                f"{len(found.substituted)} member(s) not found as named; used the same exposures' "
                f"{', '.join(levels)} files (e.g. {first_name} -> {first_sub.name})"
            )
        if found.missing:
            warnings.append(f"{len(found.missing)} member(s) not found beside the association or in search_path: "
                            f"{first_few(found.missing)}")
        members, unreadable = read_members(found.paths, cache)
        if members:
            products.append((found.name, members, warnings + unreadable))
        else:
            problems = warnings + ([f"{len(unreadable)} member(s) left out: {first_few(unreadable, separator='; ')}"]
                                   if unreadable else [])
            failures[found.name] = f"no member found ({'; '.join(problems) or 'the product lists no members'})"
    if not products:
        name, reason = next(iter(failures.items()))
        others = f" (and {len(failures) - 1} more products without a member)" if len(failures) > 1 else ""
        raise AssociationError(f"{path}: product {name}: {reason}{others}")
    return pipeline, products, failures


def estimate_association(
    path: str | Path,
    *,
    search_path: Iterable[str | Path] = (),
    **options,
) -> AssociationEstimate:
    """Estimate every product of a Level-3 association file that has a readable member.

    The others are listed, with the reason, in the result's ``failures``.

    Parameters
    ----------
    path : str or pathlib.Path
        The Level-3 association file.
    search_path : iterable of str or pathlib.Path, optional
        More directories where members are looked for.
    **options
        Passed to `estimate_products`: ``in_memory``, ``settings``, ``estimator``,
        ``model_path``, ``quantile``, ``max_request_gb``.

    Returns
    -------
    AssociationEstimate
        The association, its pipeline, the estimates and the failures.

    Raises
    ------
    jwst_memest.association.AssociationError
        One line naming the file, when the association cannot be read or no product has a
        readable member.
    """
    path = Path(path)
    pipeline, products, failures = read_association_members(path, search_path)
    estimates = estimate_products([(name, members) for name, members, _ in products], pipeline,
                                  extra_warnings={name: warnings for name, _, warnings in products}, **options)
    return AssociationEstimate(path=path, pipeline=pipeline, raw=json.loads(path.read_text()), products=estimates,
                               failures=failures)


def annotate_association(raw: dict, estimates: Sequence[ProductEstimate], failures: dict[str, str] | None = None) -> dict:
    """Copy an association with the estimates written into its products.

    Parameters
    ----------
    raw : dict
        The association as read from its file.
    estimates : sequence of ProductEstimate
        The estimates, matched to products by name.
    failures : dict of str to str or None, optional
        Each product that could not be estimated, and why.

    Returns
    -------
    dict
        A copy of the association with ``gbSize`` and ``memory_estimate`` in each estimated
        product, and ``memory_estimate: {"status": "failed", "reason": ...}`` (no ``gbSize``) in
        each failed one.
    """
    annotated = json.loads(json.dumps(raw))
    by_name = {e.product: e for e in estimates}
    for index, product in enumerate(annotated.get("products", [])):
        name = product_name(product, index)
        if name in (failures or {}):
            product.pop("gbSize", None)  # an earlier annotation's size no longer holds
            product["memory_estimate"] = {"status": "failed", "reason": failures[name], "jwst_memest_version": __version__}
            continue
        estimate = by_name.get(name)
        if estimate is None:
            continue
        product["gbSize"] = estimate.rounded_gb
        product["memory_estimate"] = estimate.annotation()
    return annotated


def write_json_atomic(data, path: str | Path) -> Path:
    """Write JSON to a temporary file beside ``path``, then rename: never half-written.

    Parameters
    ----------
    data : object
        What to write (indented, with a final newline).
    path : str or pathlib.Path
        The file to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        When ``path``'s directory does not exist or cannot be written.
    """
    return write_text_atomic(json.dumps(data, indent=4) + "\n", path)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write text to a temporary file beside ``path``, then rename: never half-written.

    Parameters
    ----------
    text : str
        What to write.
    path : str or pathlib.Path
        The file to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        When ``path``'s directory does not exist or cannot be written.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OSError(f"{directory}: output directory does not exist")
    with atomic_write(path) as handle:
        handle.write(text)
    return path


def estimate_table(products: Sequence[ProductEstimate]) -> str:
    """The estimates as the aligned table the step logs and folder mode prints.

    Parameters
    ----------
    products : sequence of ProductEstimate
        The estimates, one line each.

    Returns
    -------
    str
        The table: product, members, gbSize, upper, request, wall time (seconds), peak step and model.
    """
    width = max([len(p.product) for p in products] + [7])
    steps = max([len(p.peak_step) for p in products] + [9])
    lines = [f"{'product':<{width}}  {'members':>7}  {'gbSize':>9}  {'upper':>9}  {'request':>9}  {'wall s':>7}  "
             f"{'peak step':<{steps}}  model"]
    for p in products:
        lines.append(
            f"{p.product:<{width}}  {p.n_members:>7d}  {p.gb_size:>9.3f}  {p.upper_bound_gb:>9.3f}  "
            f"{p.request_gb:>9.3f}  {'-' if p.wall_time_s is None else f'{p.wall_time_s:.0f}':>7}  {p.peak_step:<{steps}}  {p.estimator['name']} {p.estimator['version']}"
            + ("" if p.calibrated else "  (uncalibrated)")
        )
    return "\n".join(lines)
