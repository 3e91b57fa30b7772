"""Fit the Level-2 model (`jwst_memest.model.image2`) on the measured image2 and spec2 corpora.

The successful runs of the training split fit what the count leaves out; the upper bound is
calibrated on their 5-fold out-of-fold estimates; the widening beyond the measured range comes
from fitting below a third of the largest peak and estimating the rest; the held-out split
measures the error. ``image2.yaml`` is written atomically.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import numpy as np
import yaml

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.level2_estimate import image2_inputs
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.image2 import FIRST_FIT_START, FITTED_TERMS, Image2Baseline, Image2Inputs, image2_file, load_image2_baseline
from jwst_memest.model.upper import UpperBound
from jwst_memest.profile.stage_fit import (StageModelSpec, extrapolation_factor, fit_terms, held_out_lines,
                                           out_of_fold_estimates)
from jwst_memest.settings import RunSettings

__all__ = ["load_image2_runs", "image2_inputs_of_row", "image2_spec", "main"]


def image2_inputs_of_row(row) -> Image2Inputs:
    """The model's inputs of one corpus row, made as the estimate makes them from a rate header.

    Parameters
    ----------
    row : mapping
        An image2 corpus row.

    Returns
    -------
    Image2Inputs
        The exposure's inputs.
    """
    tso = str(row["tso"]).strip().lower() == "true"
    meta = ExposureMetadata(path=f"{row['run_id']}_{'rateints' if tso else 'rate'}.fits",
                            level="rateints" if tso else "rate", instrument=str(row["instrument"]),
                            detector=str(row["detector"]), exp_type=str(row["exp_type"]),
                            n_integrations=int(row["nints"]), ncols=int(row["nx"]), nrows=int(row["ny"]),
                            tso_visit=tso)
    arguments = shlex.split(row["pipeline_args"]) if isinstance(row.get("pipeline_args"), str) else []
    return image2_inputs(meta, RunSettings.from_arguments(arguments))


def load_image2_runs(paths) -> tuple[list[Image2Inputs], np.ndarray, np.ndarray, list[dict], object]:
    """The successful runs of image2 corpus CSVs.

    Parameters
    ----------
    paths : iterable of str or pathlib.Path
        Corpus CSVs.

    Returns
    -------
    rows : list of Image2Inputs
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
    table = table[(table["status"] == "ok") & table["pipeline"].isin(["image2", "spec2"])].reset_index(drop=True)
    rows = [image2_inputs_of_row(r) for r in table.to_dict("records")]
    peaks = [json.loads(text) if isinstance(text, str) and text else {} for text in table["step_peaks"]]
    return rows, table["measured_gb"].to_numpy(float), (table["split"] == "test").to_numpy(), peaks, table


def image2_spec() -> StageModelSpec:
    """The image2 model as the stage fit takes it.

    Returns
    -------
    jwst_memest.profile.stage_fit.StageModelSpec
        Its builder, fitted terms and starting values.
    """
    bound = UpperBound.from_measurements([1.0, 1.0], [1.0, 1.0])
    return StageModelSpec(lambda coefficients: Image2Baseline(coefficients, bound, "fit"), FITTED_TERMS,
                          FIRST_FIT_START)


def mode_of(row) -> str:
    """A run's mode for the accuracy tables: instrument, and time series or imaging.

    Parameters
    ----------
    row : Image2Inputs
        The run's inputs.

    Returns
    -------
    str
        For example ``NIRCAM imaging`` or ``MIRI time series``.
    """
    if row.pipeline == "calwebb_spec2":
        kind = "fixed slit" if row.resampled_spectrum else "spectroscopic time series"
    else:
        kind = "time series" if row.nints > 1 else "imaging"
    return f"{row.instrument} {kind}"


def main(argv=None) -> int:
    """``python -m jwst_memest.profile fit-image2``: fit, calibrate, report, write ``image2.yaml``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments.

    Returns
    -------
    int
        0 done, 2 bad input.
    """
    parser = CommandParser(prog=program("python -m jwst_memest.profile fit-image2"), description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/image2.csv", "data/corpus/spec2.csv"],
                        help="image2 and spec2 corpus CSV(s)")
    parser.add_argument("--output", help="YAML to write (default: the package's image2.yaml)")
    parser.add_argument("--margin-bytes", type=float, default=None,
                        help="the spread between environments added to every bound (default: the Level-3 one)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    for path in args.corpus:
        if not Path(path).is_file():
            parser.error(f"{path}: corpus file not found")
    rows, measured, test, peaks, table = load_image2_runs(args.corpus)
    train = ~test
    if train.sum() < len(FITTED_TERMS) + 3:
        parser.error(f"{' '.join(args.corpus)}: {int(train.sum())} training runs, too few to fit")
    train_rows = [r for r, t in zip(rows, train) if t]
    train_peaks = [p for p, t in zip(peaks, train) if t]
    spec = image2_spec()
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
        key = f"{row.instrument} {row.pipeline}"
        measured_range[key] = max(measured_range.get(key, 0), row.science_pixels)
    previous = load_image2_baseline()
    version = str(int(previous.version) + 1) if previous and str(previous.version).isdigit() else "1"
    model = Image2Baseline(coefficients, bound, version,
                           f"fitted to {int(train.sum())} measured Level-2 runs of "
                           f"{' + '.join(Path(p).name for p in args.corpus)}; beyond the measured range: {detail}",
                           margin, measured_range, widening)
    print("coefficients:", {k: round(v, 4) for k, v in coefficients.items()})
    print(f"bound x{bound.factor(0.95):.3f} + {margin / 1e6:.1f} MB; beyond the measured range x{widening:.3f} ({detail})")
    print("\n".join(held_out_lines(model, rows, measured, test, [mode_of(r) for r in rows], label="mode")))
    if args.dry_run:
        return 0
    path = Path(args.output) if args.output else Path(image2_file())
    with atomic_write(path) as handle:
        handle.write("# calwebb_image2's fitted terms (jwst_memest.model.image2), written by\n"
                     "# `python -m jwst_memest.profile fit-image2`.\n")
        yaml.safe_dump(model.to_tree(), handle, sort_keys=False)
    load_image2_baseline.cache_clear()
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
