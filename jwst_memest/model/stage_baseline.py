"""What every per-exposure stage model (calwebb_detector1, Level 2) shares: its fitted terms, the
calibrated bound, the measured range, the estimate of one exposure and its YAML form.

A subclass gives its ``name``, the starting values of its fitted terms (``first_fit_start``), each
step's bytes (``stages``) and why an exposure is outside what was measured (``uncalibrated_reasons``);
each reason widens the bound by ``beyond_range``; an exposure type no run measured (the subclass's
``unmeasured_reason``) widens it by ``unmeasured_mode`` instead.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import yaml

from jwst_memest.model.constants import GB
from jwst_memest.model.coverage import MINIMUM_UNMEASURED_FACTOR
from jwst_memest.model.upper import UpperBound

__all__ = ["StageBaseline", "read_stage_tree"]


class StageBaseline:
    """A per-exposure stage model: counted steps plus fitted terms, with a calibrated upper bound.

    Parameters
    ----------
    coefficients : dict
        The fitted terms' values (the subclass's ``first_fit_start`` where missing).
    upper_bound : UpperBound
        The calibrated ratio of the bound to the estimate.
    version : str
        The fit's version.
    source : str, optional
        What it was fitted on.
    margin_bytes : float, optional
        Added to every bound: the measured spread between environments.
    measured_range : dict, optional
        The largest measured size per instrument (and mode): beyond it the bound is widened by
        ``beyond_range``.
    beyond_range : float, optional
        The widening of a bound beyond the measured range.
    unmeasured_mode : float, optional
        The widening of a bound of an exposure type no run measured (at least 1.25): the largest
        measured/estimated ratio of a mode's runs estimated by a fit on the other modes.
    """

    name = "stage_baseline"
    first_fit_start: dict = {}

    def __init__(self, coefficients: dict, upper_bound: UpperBound, version: str, source: str = "",
                 margin_bytes: float = 0.0, measured_range: dict | None = None, beyond_range: float = 1.25,
                 unmeasured_mode: float = MINIMUM_UNMEASURED_FACTOR):
        self.coefficients = {t: float(coefficients.get(t, start)) for t, start in self.first_fit_start.items()}
        self.upper_bound = upper_bound
        self.version = str(version)
        self.source = source
        self.margin_bytes = float(margin_bytes)
        self.measured_range = dict(measured_range or {})
        self.beyond_range = float(beyond_range)
        self.unmeasured_mode = max(float(unmeasured_mode), MINIMUM_UNMEASURED_FACTOR)
        self._estimates: dict = {}  # an exposure's estimate by its inputs and the terms in force

    def stages(self, inputs) -> dict[str, float]:
        """Peak bytes of each step for one exposure.

        Parameters
        ----------
        inputs : object
            The exposure's inputs.

        Returns
        -------
        dict of str to float
            Bytes per step.
        """
        raise NotImplementedError

    def uncalibrated_reasons(self, inputs) -> list[str]:
        """Why the exposure is outside the measured runs (each reason widens the bound).

        Parameters
        ----------
        inputs : object
            The exposure's inputs.

        Returns
        -------
        list of str
            One line per reason; empty when calibrated.
        """
        raise NotImplementedError

    def unmeasured_reason(self, inputs) -> str | None:
        """Why no run measured the exposure's type, if none did (its bound widens by ``unmeasured_mode``).

        Parameters
        ----------
        inputs : object
            The exposure's inputs.

        Returns
        -------
        str or None
            One line; None for a measured type (the default: every type is).
        """
        return None

    def widenings(self, inputs) -> list[tuple[str, float]]:
        """Why the exposure is outside the measured runs, each reason with the factor it widens the bound by.

        Parameters
        ----------
        inputs : object
            The exposure's inputs.

        Returns
        -------
        list of (str, float)
            A type no run measured: its one reason and ``unmeasured_mode``; else each reason of
            `uncalibrated_reasons` and ``beyond_range``; empty when calibrated.
        """
        unmeasured = self.unmeasured_reason(inputs)
        if unmeasured is not None:
            return [(unmeasured, self.unmeasured_mode)]
        return [(reason, self.beyond_range) for reason in self.uncalibrated_reasons(inputs)]

    def predict(self, rows: list) -> np.ndarray:
        """Peak memory (GB) of each exposure: its largest step.

        Parameters
        ----------
        rows : list
            The exposures' inputs.

        Returns
        -------
        numpy.ndarray
            GB (10^9 bytes).
        """
        return np.array([max(self.stages(r).values()) for r in rows]) / GB

    def estimate(self, inputs, quantile: float = 0.95) -> dict:
        """The estimate of one exposure: GB, upper bound, peak step, breakdown, calibrated or not.

        Parameters
        ----------
        inputs : object
            The exposure's inputs.
        quantile : float, optional
            The bound's quantile.

        Returns
        -------
        dict
            ``gb``, ``upper_gb``, ``peak_step``, ``breakdown`` (GB per step), ``calibrated`` and
            ``reasons`` (why not, when not).
        """
        # a folder holds many exposures of one readout and shape: each distinct one is worked out once
        try:
            key = (inputs, quantile, tuple(self.coefficients.values()), id(self.upper_bound), self.margin_bytes,
                   self.beyond_range, self.unmeasured_mode)
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._estimates:
            found = self._estimates[key]
            return {**found, "breakdown": dict(found["breakdown"]), "reasons": list(found["reasons"])}
        stages = self.stages(inputs)
        peak_step = max(stages, key=stages.get)
        gb = stages[peak_step] / GB
        widenings = self.widenings(inputs)
        reasons = [reason for reason, _ in widenings]
        factor = self.upper_bound.factor(quantile)
        for _, widening in widenings:
            factor *= widening
        result = {"gb": gb, "upper_gb": gb * factor + self.margin_bytes / GB, "peak_step": peak_step,
                  "breakdown": {k: round(v / GB, 4) for k, v in stages.items()}, "calibrated": not reasons,
                  "reasons": reasons}
        if key is not None:
            self._estimates[key] = {**result, "breakdown": dict(result["breakdown"]), "reasons": list(reasons)}
        return result

    def to_tree(self) -> dict:
        """The fitted model as a YAML-ready tree.

        Returns
        -------
        dict
            Version, source, coefficients, bound, margin and measured range.
        """
        return {"version": self.version, "source": self.source,
                "coefficients": {k: round(v, 4) for k, v in self.coefficients.items()},
                "upper_bound": self.upper_bound.to_tree(), "environment_margin_bytes": self.margin_bytes,
                "measured_range": self.measured_range, "beyond_range": round(self.beyond_range, 4),
                "unmeasured_mode": round(self.unmeasured_mode, 4)}

    @classmethod
    def from_tree(cls, tree: dict) -> "StageBaseline":
        """The model a `to_tree` tree describes.

        Parameters
        ----------
        tree : dict
            As written by `to_tree`.

        Returns
        -------
        StageBaseline
            The model, of the class it is called on.
        """
        return cls(tree["coefficients"], UpperBound.from_tree(tree["upper_bound"]), tree["version"],
                   tree.get("source", ""), tree.get("environment_margin_bytes", 0.0), tree.get("measured_range"),
                   tree.get("beyond_range", 1.25), tree.get("unmeasured_mode", MINIMUM_UNMEASURED_FACTOR))


def read_stage_tree(file_name: str) -> dict | None:
    """The tree of an installed stage model's YAML (read with libyaml's safe loader where PyYAML has it).

    Parameters
    ----------
    file_name : str
        The YAML's name in ``jwst_memest.model``.

    Returns
    -------
    dict or None
        The tree; None when the file is not installed or empty.
    """
    try:
        text = resources.files(__package__).joinpath(file_name).read_text()
    except FileNotFoundError:
        return None
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or None
