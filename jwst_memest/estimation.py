"""From an association, or the features of its products, to memory estimates: the path shared by the
step and folder mode. Nothing here writes a file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from jwst_memest.estimate_records import AssociationEstimate, ProductEstimate, round_up
from jwst_memest.features.build import ProductFeatures, product_features
from jwst_memest.member_metadata import read_association_members
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.baseline import PhysicsBaseline, load_baseline
from jwst_memest.model.estimator import MemoryEstimator
from jwst_memest.model.registry import resolve_estimator
from jwst_memest.model.terms import with_product_settings
from jwst_memest.model.walltime import estimate_wall_times
from jwst_memest.speed import machine_speed_factor
from jwst_memest.settings import RunSettings


__all__ = [
    "estimate_products",
    "estimate_features",
    "estimate_association",
]


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
        assessment = baseline.assess(feats.values, feats.slit_tree_bytes)
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
                alternatives=[{**a, "upper_bound_gb": round_up(max(a["upper_bound_gb"],
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
    return with_product_settings(X, settings, [f for _, f in named_features])


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
            entry.update({"gbSize": round(float(gb[i]), 4), "upper_bound_gb": round_up(float(max(upper[i], gb[i])))})
            if note:
                entry["note"] = note
            found[i].append(entry)
    return found


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
