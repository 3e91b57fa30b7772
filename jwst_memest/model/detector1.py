"""calwebb_detector1's peak memory per exposure: the counted bytes of each step plus what the code cannot tell.

`jwst_memest.model.detector1_terms` counts what each step allocates from jwst's and stcal's source
(dtype x shape, checked against allocation traces). What it leaves out is fitted on the measured
detector1 corpus (``python -m jwst_memest.profile fit-detector1``) and stored in ``detector1.yaml``:
the interpreter and libraries (a constant), each worker process's interpreter when jump or
ramp_fit run on several cores, a remainder per frame-pixel of the dark, and a scale on jump's own
arrays (partly traced rather than counted). The
upper bound is calibrated out of fold like the Level-3 bounds, plus the measured spread between
environments in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

from jwst_memest.model.detector1_terms import (dark_current_bytes, detector1_step_peaks, jump_worker_bytes, ramp_fit_worker_bytes,
                                               ramp_model_bytes)
from jwst_memest.model.stage_baseline import StageBaseline, read_stage_tree

__all__ = ["RampInputs", "Detector1Baseline", "load_detector1_baseline", "detector1_file", "FITTED_TERMS",
           "worker_processes", "dark_frames_needed"]

# the fitted terms, in the order the fit scales them
FITTED_TERMS = ("base_bytes", "worker_bytes", "dark_per_frame_pixel", "jump_scale", "averaged_dark_scale",
                "irs2_refpix_scale")
# where a first fit starts: the interpreter and jwst's imports, one
# interpreter per worker (traced: about 43 MB), and a remainder per frame-pixel of the dark (reading
# a large dark costs more resident memory than its arrays: measured up to 10 % over the count), and
# a scale on jump's own arrays (its difference search is partly traced, not counted: 51 D + 103 P
# on ramps of 10 groups or fewer), and one on the dark averaged into the exposure's groups when
# the readout averages frames (traced on one readout only), and one on IRS2 refpix's own arrays
# (traced on 3 groups, 1 integration))
FIRST_FIT_START = {"base_bytes": 3e8, "worker_bytes": 4.3e7, "dark_per_frame_pixel": 1.0,
                   "jump_scale": 1.0, "averaged_dark_scale": 1.0, "irs2_refpix_scale": 1.0}
# the steps that split the ramp among worker processes with maximum_cores
MULTIPROCESS_STEPS = ("jump", "ramp_fit")


def worker_processes(maximum_cores, cpus: int | None = None) -> int:
    """Processes jump or ramp_fit use for ``maximum_cores`` on a machine of ``cpus`` cores.

    Parameters
    ----------
    maximum_cores : str or int or None
        The step parameter: ``none`` (1), ``quarter``, ``half``, ``all``, or a number.
    cpus : int or None, optional
        The cores of the machine the job runs on (default: this machine's).

    Returns
    -------
    int
        At least 1.

    Raises
    ------
    ValueError
        A value jwst would refuse.
    """
    import os

    cpus = cpus or os.cpu_count() or 1
    text = str(maximum_cores if maximum_cores is not None else "none").strip().lower()
    fractions = {"none": 0.0, "quarter": 0.25, "half": 0.5, "all": 1.0}
    if text in fractions:
        return max(1, int(cpus * fractions[text])) if text != "none" else 1
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"maximum_cores: {maximum_cores!r} is not none, quarter, half, all or a number") from None
    if number < 1:
        raise ValueError(f"maximum_cores: {maximum_cores!r} must be at least 1")
    return min(number, cpus)


def dark_frames_needed(ngroups: int, nframes: int = 1, groupgap: int = 0) -> int:
    """Frames a dark must hold to serve a readout: every frame up to the last group's.

    Parameters
    ----------
    ngroups, nframes, groupgap : int
        The exposure's NGROUPS, NFRAMES, GROUPGAP.

    Returns
    -------
    int
        ``ngroups * nframes + (ngroups - 1) * groupgap``.
    """
    return int(ngroups * nframes + (ngroups - 1) * groupgap)


@dataclass(frozen=True)
class RampInputs:
    """What one exposure's calwebb_detector1 memory depends on: its ramp, its references, its cores.

    Parameters
    ----------
    nints, ngroups : int
        NINTS, NGROUPS.
    ny, nx : int
        Science rows and columns (IRS2: 2048 science rows).
    instrument : str
        INSTRUME (MIRI follows its own step order).
    raw_rows : int or None
        Raw rows of an IRS2 frame (3200); None otherwise.
    dark_frames : int
        Frames of the dark reference the run will load.
    full_frame_pixels : int
        The detector's full frame (most references are full frame, cut on reading).
    jump_processes, ramp_fit_processes : int
        Processes of jump and ramp_fit (``maximum_cores``).
    frames_averaged : bool
        The readout averages or drops frames (NFRAMES > 1 or GROUPGAP > 0): dark_current averages
        the dark's frames into a new dark of the exposure's groups.
    """

    nints: int
    ngroups: int
    ny: int
    nx: int
    instrument: str = "NIRCAM"
    raw_rows: int | None = None
    dark_frames: int = 0
    full_frame_pixels: int = 2048 * 2048
    jump_processes: int = 1
    ramp_fit_processes: int = 1
    frames_averaged: bool = False

    def counted(self) -> dict[str, float]:
        """Counted bytes at each step's peak in the main process (`detector1_step_peaks`).

        Returns
        -------
        dict of str to float
            Bytes per step, the uncal's opening as ``open``.
        """
        shared = dict(instrument=self.instrument, raw_rows=self.raw_rows,
                      dark_frames=self.dark_frames or self.ngroups, full_frame_pixels=self.full_frame_pixels)
        peaks = detector1_step_peaks(self.nints, self.ngroups, self.ny, self.nx, processes=1, **shared)
        for step, processes in (("jump", self.jump_processes), ("ramp_fit", self.ramp_fit_processes)):
            if processes > 1:
                peaks[step] = detector1_step_peaks(self.nints, self.ngroups, self.ny, self.nx,
                                                   processes=processes, **shared)[step]
        return peaks

    def averaged_dark(self) -> float:
        """Counted bytes dark_current adds when it averages the dark's frames into the exposure's groups.

        Returns
        -------
        float
            Bytes (0 when the readout neither averages nor drops frames).
        """
        if not self.frames_averaged:
            return 0.0
        dark = dict(dark_frames=self.dark_frames or self.ngroups, dark_pixels=self.ny * self.nx,
                    instrument=self.instrument)
        return float(dark_current_bytes(self.nints, self.ngroups, self.ny, self.nx, averaged=True, **dark)
                     - dark_current_bytes(self.nints, self.ngroups, self.ny, self.nx, averaged=False, **dark))

    def worker_counted(self) -> dict[str, float]:
        """Counted bytes of every worker process together, for the steps that have them.

        Returns
        -------
        dict of str to float
            Bytes per multiprocess step (0 with one process).
        """
        jump = self.jump_processes * float(jump_worker_bytes(self.nints, self.ngroups, self.ny, self.nx,
                                                              self.jump_processes)) if self.jump_processes > 1 else 0.0
        ramp = self.ramp_fit_processes * float(ramp_fit_worker_bytes(self.nints, self.ngroups, self.ny, self.nx,
                                                                      self.ramp_fit_processes)) \
            if self.ramp_fit_processes > 1 else 0.0
        return {"jump": jump, "ramp_fit": ramp}

    def to_dict(self) -> dict:
        """The inputs as plain values (for an annotation or a table row).

        Returns
        -------
        dict
            Field name to value.
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Detector1Baseline(StageBaseline):
    """calwebb_detector1's peak per exposure: counted steps, fitted interpreter and worker costs.

    Parameters
    ----------
    coefficients : dict
        ``FITTED_TERMS`` values.
    upper_bound : UpperBound
        The calibrated ratio of the bound to the estimate.
    version : str
        The fit's version.
    source : str, optional
        What it was fitted on.
    margin_bytes : float, optional
        Added to every bound: the measured spread between environments.
    measured_range : dict, optional
        The largest measured ramp samples, per instrument, and overall (``all``): beyond it the bound
        is widened by ``beyond_range``.
    beyond_range : float, optional
        The widening of a bound beyond the measured range.
    unmeasured_mode : float, optional
        The widening of a bound of an exposure type no run measured (at least 1.25).
    """

    name = "physics_baseline_detector1"
    first_fit_start = FIRST_FIT_START

    def stages(self, inputs: RampInputs) -> dict[str, float]:
        """Peak bytes of each step (workers included) for one exposure.

        Parameters
        ----------
        inputs : RampInputs
            The exposure.

        Returns
        -------
        dict of str to float
            Bytes per step.
        """
        c = self.coefficients
        counted = inputs.counted()
        workers = inputs.worker_counted()
        stages = {}
        for step, value in counted.items():
            extra = 0.0
            if step in MULTIPROCESS_STEPS:
                processes = inputs.jump_processes if step == "jump" else inputs.ramp_fit_processes
                if processes > 1:
                    extra = workers[step] + c["worker_bytes"] * processes
            if step == "jump":  # the ramp carried into it stays counted; its own arrays are scaled
                carried = float(ramp_model_bytes(inputs.nints, inputs.ngroups, inputs.ny, inputs.nx, after_dark=True))
                value = carried + c["jump_scale"] * (value - carried)
            if step == "refpix" and inputs.raw_rows:  # IRS2: its own arrays scaled, the raw ramp carried
                carried = float(ramp_model_bytes(inputs.nints, inputs.ngroups, inputs.raw_rows, inputs.nx))
                value = carried + c["irs2_refpix_scale"] * (value - carried)
            if step == "dark_current":
                extra += (c["dark_per_frame_pixel"] * (inputs.dark_frames or inputs.ngroups) * inputs.ny * inputs.nx
                          + c["averaged_dark_scale"] * inputs.averaged_dark())
            stages[step] = c["base_bytes"] + value + extra
        return stages

    def beyond(self, inputs: RampInputs) -> bool:
        """Whether the exposure's ramp is larger than any measured one of its instrument.

        Parameters
        ----------
        inputs : RampInputs
            The exposure.

        Returns
        -------
        bool
            True beyond the measured range (or for an instrument never measured).
        """
        samples = inputs.nints * inputs.ngroups * inputs.ny * inputs.nx
        largest = self.measured_range.get(inputs.instrument.upper())
        return largest is None or samples > largest

    def uncalibrated_reasons(self, inputs: RampInputs) -> list[str]:
        """Why the exposure is outside the measured runs: a ramp larger than any of its instrument.

        Parameters
        ----------
        inputs : RampInputs
            The exposure.

        Returns
        -------
        list of str
            One line per reason; empty when calibrated.
        """
        if not self.beyond(inputs):
            return []
        return [f"a ramp of {inputs.nints * inputs.ngroups * inputs.ny * inputs.nx:.3g} samples is beyond "
                f"the measured {inputs.instrument} runs"]


def detector1_file() -> str:
    """The installed ``detector1.yaml``.

    Returns
    -------
    str
        Its path.
    """
    return str(resources.files(__package__).joinpath("detector1.yaml"))


@cache
def load_detector1_baseline() -> Detector1Baseline | None:
    """The installed detector1 model, or None when none is installed.

    Returns
    -------
    Detector1Baseline or None
        The model.
    """
    tree = read_stage_tree("detector1.yaml")
    return Detector1Baseline.from_tree(tree) if tree else None
