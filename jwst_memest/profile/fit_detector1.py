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
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.exposure_estimate import ramp_inputs
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.detector1 import (FIRST_FIT_START, FITTED_TERMS, Detector1Baseline, RampInputs,
                                         detector1_file, load_detector1_baseline)
from jwst_memest.model.upper import UpperBound
from jwst_memest.profile.stage_fit import (StageModelSpec, extrapolation_factor, fit_terms, held_out_lines,
                                           out_of_fold_estimates)
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
    parser = CommandParser(prog=program("python -m jwst_memest.profile fit-detector1"), description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/detector1.csv"], help="detector1 corpus CSV(s)")
    parser.add_argument("--output", help="YAML to write (default: the package's detector1.yaml)")
    parser.add_argument("--margin-bytes", type=float, default=None,
                        help="the spread between environments added to every bound (default: the Level-3 one)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    for path in args.corpus:
        if not Path(path).is_file():
            parser.error(f"{path}: corpus file not found")
    rows, measured, test, peaks, table = load_detector1_runs(args.corpus)
    train = ~test
    if train.sum() < len(FITTED_TERMS) + 3:
        parser.error(f"{' '.join(args.corpus)}: {int(train.sum())} training runs, too few to fit")
    train_rows = [r for r, t in zip(rows, train) if t]
    train_peaks = [p for p, t in zip(peaks, train) if t]
    spec = detector1_spec()
    coefficients = fit_terms(spec, train_rows, measured[train], train_peaks)
    calibration = out_of_fold_estimates(spec, train_rows, measured[train], train_peaks)
    bound = UpperBound.from_measurements(measured[train], calibration,
                                         source=f"5-fold out-of-fold estimates of {int(train.sum())} training runs")
    widening, detail = extrapolation_factor(spec, rows, measured, peaks)
    if args.margin_bytes is None:
        from jwst_memest.model.baseline import load_baseline

        margin = load_baseline("image3").margin_bytes
    else:
        margin = args.margin_bytes
    measured_range = {}
    for row in rows:
        samples = row.nints * row.ngroups * row.ny * row.nx
        measured_range[row.instrument] = max(measured_range.get(row.instrument, 0), samples)
    previous = load_detector1_baseline()
    version = str(int(previous.version) + 1) if previous and str(previous.version).isdigit() else "1"
    model = Detector1Baseline(coefficients, bound, version,
                              f"fitted to {int(train.sum())} measured calwebb_detector1 runs of "
                              f"{' + '.join(Path(p).name for p in args.corpus)}; beyond the measured range: {detail}",
                              margin, measured_range, widening)
    print("coefficients:", {k: round(v, 4) for k, v in coefficients.items()})
    print(f"bound x{bound.factor(0.95):.3f} + {margin / 1e6:.1f} MB; beyond the measured range x{widening:.3f} ({detail})")
    print("\n".join(held_out_lines(model, rows, measured, test, table["instrument"])))
    if args.dry_run:
        return 0
    path = Path(args.output) if args.output else Path(detector1_file())
    with atomic_write(path) as handle:
        handle.write("# calwebb_detector1's fitted terms (jwst_memest.model.detector1), written by\n"
                     "# `python -m jwst_memest.profile fit-detector1`.\n")
        yaml.safe_dump(model.to_tree(), handle, sort_keys=False)
    load_detector1_baseline.cache_clear()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
