"""What the measured runs cover, and how far the upper bound widens outside them.

An upper bound calibrated on measured runs holds for products like those runs. For any other
product (a Level-3 pipeline or exposure type with no measured run, or a feature beyond the range
its mode was measured over) the estimate is an extrapolation, and the bound is widened by a
factor derived from measurements when the corpus is fitted (``profile fit-baseline``):

- ``beyond_range``: the largest measured/estimated ratio seen when the largest runs of each mode
  (top fifth by input size) are held out and estimated by a baseline fitted on the rest;
- ``unmeasured_mode``: the largest ratio seen when all runs of one mode are held out and estimated
  by a baseline fitted on the other modes, and never less than 1.25;
- ``SCENE_DEPENDENT``: a measured exposure type whose peak follows what the synthetic scene fixes
  (NIRISS SOSS: the star) widens by the spread measured between scenes.

The assessment also says why, in words and as a machine-readable ``calibrated`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Assessment", "Envelope", "ENVELOPE_FEATURES", "MINIMUM_UNMEASURED_FACTOR", "SCENE_DEPENDENT"]

# Features whose measured range bounds the calibrated region of each mode
ENVELOPE_FEATURES = {
    "image3": ("n_members", "member_pixels", "total_input_bytes", "output_pixels", "n_exposure_groups",
               "n_integrations"),
    "spec3": ("n_members", "member_pixels", "total_input_bytes", "n_slits", "cube_pixels", "n_integrations"),
}
MINIMUM_UNMEASURED_FACTOR = 1.25
# Exposure types whose peak follows the scene, which the synthetic corpus fixes: measured on one
# synthetic scene, their estimate stays uncalibrated, its bound widened by the spread measured
# between scenes of the same exposures
SCENE_DEPENDENT = {
    "NIS_SOSS": (1.28, ("NIRISS SOSS measured on one synthetic star: ATOCA's model follows the star's spectrum "
                        "(its wavelength grid), and two synthetic stars in the same 10-integration exposure "
                        "peaked at 4.98 and 6.36 GB")),
}
# relative slack on a range's ends, so that a product measured exactly at an end stays inside
_RANGE_SLACK = 1e-6


@dataclass
class Assessment:
    """Whether an estimate lies inside the measured runs, and the factor its bound is widened by if not.

    Parameters
    ----------
    calibrated : bool, optional
        Whether it lies inside them.
    reasons : list of str, optional
        Why not, and by how much the bound was widened.
    factor : float, optional
        The widening factor.
    """

    calibrated: bool = True
    reasons: list[str] = field(default_factory=list)
    factor: float = 1.0


@dataclass(frozen=True)
class Envelope:
    """Measured ranges per exposure type and the widening factors of a baseline's pipeline.

    Parameters
    ----------
    feature_set : str
        ``image3`` or ``spec3``.
    ranges : dict
        Per exposure type, per feature, the measured ``[low, high]``.
    beyond_range : float, optional
        The widening of a product beyond its mode's measured range.
    unmeasured_mode : float, optional
        The widening of an exposure type or pipeline nobody measured (at least 1.25).
    source : str, optional
        Where the widening factors were measured.
    measured_pipeline : str, optional
        Whose runs were measured (default: the pipeline named like the feature set).
    """

    feature_set: str
    ranges: dict  # exp_type -> feature -> [low, high]
    beyond_range: float = MINIMUM_UNMEASURED_FACTOR
    unmeasured_mode: float = MINIMUM_UNMEASURED_FACTOR
    source: str = ""
    measured_pipeline: str = ""  # whose runs were measured; default: the pipeline named like the feature set

    def __post_init__(self):
        if not self.measured_pipeline:
            object.__setattr__(self, "measured_pipeline", self.feature_set)

    @classmethod
    def from_tree(cls, feature_set: str, tree: dict | None, measured_pipeline: str = "") -> "Envelope":
        """The envelope stored in ``baseline.yaml``.

        Parameters
        ----------
        feature_set : str
            ``image3`` or ``spec3``.
        tree : dict or None
            ``ranges`` and ``widening``; None for nothing measured.
        measured_pipeline : str, optional
            Whose runs were measured.

        Returns
        -------
        Envelope
            The envelope.
        """
        tree = tree or {}
        widening = tree.get("widening", {})
        return cls(feature_set, {k: dict(v) for k, v in tree.get("ranges", {}).items()},
                   float(widening.get("beyond_range", MINIMUM_UNMEASURED_FACTOR)),
                   max(float(widening.get("unmeasured_mode", MINIMUM_UNMEASURED_FACTOR)), MINIMUM_UNMEASURED_FACTOR),
                   str(widening.get("source", "")), measured_pipeline)

    def to_tree(self) -> dict:
        """The envelope as stored in ``baseline.yaml``.

        Returns
        -------
        dict
            ``ranges`` and ``widening``.
        """
        return {"ranges": self.ranges, "widening": {"beyond_range": self.beyond_range,
                                                    "unmeasured_mode": self.unmeasured_mode, "source": self.source}}

    @classmethod
    def measure(cls, feature_set: str, table, beyond_range: float, unmeasured_mode: float, source: str,
                measured_pipeline: str = "") -> "Envelope":
        """Ranges of the envelope features per exposure type in a table of measured runs.

        Parameters
        ----------
        feature_set : str
            ``image3`` or ``spec3``.
        table : pandas.DataFrame
            The measured runs' raw features (``exp_type`` by name).
        beyond_range, unmeasured_mode : float
            The widening factors measured.
        source : str
            Where they were measured.
        measured_pipeline : str, optional
            Whose runs were measured.

        Returns
        -------
        Envelope
            The envelope.
        """
        ranges = {}
        for exp_type, rows in table.groupby(table["exp_type"].astype(str)):
            ranges[exp_type] = {name: [float(rows[name].astype(float).min()), float(rows[name].astype(float).max())]
                                for name in ENVELOPE_FEATURES[feature_set] if name in rows.columns}
        return cls(feature_set, ranges, float(beyond_range), max(float(unmeasured_mode), MINIMUM_UNMEASURED_FACTOR),
                   source, measured_pipeline)

    def assess(self, values: dict, pipeline: str) -> Assessment:
        """Assessment of one product from its raw feature values (exp_type by name).

        Parameters
        ----------
        values : dict
            The product's raw feature values.
        pipeline : str
            The Level-3 pipeline estimated.

        Returns
        -------
        Assessment
            Whether it is calibrated, why not, and the widening factor.
        """
        reasons = []
        factor = 1.0
        exp_type = str(values.get("exp_type"))
        if pipeline != self.measured_pipeline:
            reasons.append(f"no measured calwebb_{pipeline} runs: estimated with the calwebb_{self.measured_pipeline} terms")
            factor = max(factor, self.unmeasured_mode)
        if exp_type not in self.ranges:
            measured = ", ".join(sorted(self.ranges)) or "none"
            reasons.append(f"no measured runs of {exp_type}: estimate extrapolated from {measured}")
            factor = max(factor, self.unmeasured_mode)
        else:
            for name, (low, high) in self.ranges[exp_type].items():
                value = values.get(name)
                if value is None or not np.isfinite(float(value)):
                    continue
                value = float(value)
                if value > high * (1 + _RANGE_SLACK) or value < low * (1 - _RANGE_SLACK):
                    reasons.append(f"{name} {value:.6g} outside the measured {exp_type} range [{low:.6g}, {high:.6g}]")
                    factor = max(factor, self.beyond_range)
        source = self.source or "default widening"
        if exp_type in SCENE_DEPENDENT and exp_type in self.ranges:
            scene_factor, why = SCENE_DEPENDENT[exp_type]
            reasons.append(why)
            if scene_factor > factor:
                factor, source = scene_factor, "the spread measured between synthetic scenes"
        if reasons:
            reasons.append(f"upper bound widened x{factor:.3g} ({source})")
        return Assessment(calibrated=not reasons, reasons=reasons, factor=factor)
