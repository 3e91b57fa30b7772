"""The estimate records of Level-3 products and associations, and how they read: the ``memory_estimate``
block written beside ``gbSize``, and the table the step logs and folder mode prints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from jwst_memest._version import __version__
from jwst_memest.features.build import ProductFeatures
from jwst_memest.pipelines import class_alias
from jwst_memest.settings import RunSettings

__all__ = ["ProductEstimate", "AssociationEstimate", "ProductEstimates", "estimate_table", "round_up"]


def round_up(value: float, digits: int = 4) -> float:
    """Round a bound upwards, so that rounding never makes it smaller than what it bounds.

    Parameters
    ----------
    value : float
        The bound.
    digits : int, optional
        Decimals kept.

    Returns
    -------
    float
        The smallest number on the grid of ``digits`` decimals that is not below ``value``.
    """
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
            "upper_bound_gb": round_up(self.upper_bound_gb),
            "upper_bound_quantile": self.quantile,
            "upper_bound_margin_gb": round(self.bound_margin_gb, 4),
            "request_gb": round_up(self.request_gb) if self.request_gb >= self.upper_bound_gb else round(self.request_gb, 4),
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
