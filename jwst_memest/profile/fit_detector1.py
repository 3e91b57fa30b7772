"""Fit the detector1 model (`jwst_memest.model.detector1`) on the measured detector1 corpus.

The successful runs of the training split fit what the count leaves out (least squares on relative
error, robust loss, non-negative); the upper bound is calibrated on their 5-fold out-of-fold
estimates; the widening beyond the measured range comes from fitting below a third of the largest
peak and estimating the rest; the held-out split measures the error. ``detector1.yaml`` is written
atomically.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from jwst_memest.exposure_estimate import ramp_inputs
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.detector1 import (FIRST_FIT_START, FITTED_TERMS, Detector1Baseline, RampInputs,
                                         detector1_file, load_detector1_baseline)
from jwst_memest.model.upper import UpperBound
from jwst_memest.profile.stage_fit import StageCommand, StageModelSpec, run_stage_fit
from jwst_memest.settings import RunSettings

__all__ = ["load_detector1_runs", "inputs_of_row", "detector1_spec", "main"]

IRS2_SCIENCE_ROWS = 2048  # an IRS2 corpus row records the raw frame's 3200 rows


def inputs_of_row(row) -> RampInputs:
    """The model's inputs of one corpus row, made as the estimate makes them from an uncal header.

    Parameters
    ----------
    row : mapping
        A detector1 corpus row (the uncal header's values it records).

    Returns
    -------
    RampInputs
        The exposure's inputs.
    """
    irs2 = str(row["readpatt"]).upper().startswith("NRSIRS2")
    cores = str(row.get("maximum_cores", 1))
    processes = int(float(cores)) if cores.replace(".", "", 1).isdigit() else 1
    meta = ExposureMetadata(path=f"{row['run_id']}_uncal.fits", level="uncal", instrument=str(row["instrument"]),
                            detector=str(row["detector"]), readout_pattern=str(row["readpatt"]),
                            n_frames=int(row.get("nframes", 1)), group_gap=int(row.get("groupgap", 0)),
                            n_groups=int(row["ngroups"]), n_integrations=int(row["nints"]), ncols=int(row["nx"]),
                            nrows=IRS2_SCIENCE_ROWS if irs2 else int(row["ny"]), raw_rows=int(row["ny"]))
    settings = RunSettings(jump_maximum_cores=str(processes), ramp_fit_maximum_cores=str(processes))
    inputs, _ = ramp_inputs(meta, settings, cpus=processes, dark_frames=int(row["dark_frames"]))
    return inputs


def load_detector1_runs(paths) -> tuple[list[RampInputs], np.ndarray, np.ndarray, list[dict], object]:
    """The successful runs of detector1 corpus CSVs.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Corpus CSVs.

    Returns
    -------
    rows : list of RampInputs
        Each run's inputs.
    measured : numpy.ndarray
        Peaks, GB.
    test : numpy.ndarray
        True for the held-out split.
    step_peaks : list of dict
        Each run's measured step peaks, GB.
    table : pandas.DataFrame
        The runs.
    """
    import pandas as pd

    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    table = table[(table["status"] == "ok") & (table["pipeline"] == "detector1")].reset_index(drop=True)
    rows = [inputs_of_row(r) for r in table.to_dict("records")]
    peaks = [json.loads(text) if isinstance(text, str) and text else {} for text in table["step_peaks"]]
    return rows, table["measured_gb"].to_numpy(float), (table["split"] == "test").to_numpy(), peaks, table


def detector1_spec() -> StageModelSpec:
    """The detector1 model as the stage fit takes it.

    Returns
    -------
    jwst_memest.profile.stage_fit.StageModelSpec
        Its builder, fitted terms and starting values.
    """
    bound = UpperBound.from_measurements([1.0, 1.0], [1.0, 1.0])
    return StageModelSpec(lambda coefficients: Detector1Baseline(coefficients, bound, "fit"), FITTED_TERMS,
                          FIRST_FIT_START)


def main(argv=None) -> int:
    """``python -m jwst_memest.profile fit-detector1``: fit, calibrate, report, write ``detector1.yaml``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments.

    Returns
    -------
    int
        0 done, 2 bad input.
    """
    return run_stage_fit(StageCommand(
        "fit-detector1", __doc__.splitlines()[0], ["data/corpus/detector1.csv"], load_detector1_runs,
        detector1_spec(), Detector1Baseline, load_detector1_baseline, detector1_file,
        size_key=lambda row: (row.instrument, row.nints * row.ngroups * row.ny * row.nx),
        groups=lambda rows, table: table["instrument"], what="calwebb_detector1"), argv)


if __name__ == "__main__":
    sys.exit(main())
