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

import numpy as np

from jwst_memest.level2_estimate import image2_inputs
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.image2 import (FIRST_FIT_START, FITTED_TERMS, WFSS_EXP_TYPES, Image2Baseline, Image2Inputs,
                                      image2_file, load_image2_baseline)
from jwst_memest.model.upper import UpperBound
from jwst_memest.profile.stage_fit import StageCommand, StageModelSpec, run_stage_fit
from jwst_memest.settings import RunSettings
from jwst_memest.spec2_layout import SlitLayout
from jwst_memest.wfss_landing import ContamGeometry

__all__ = ["load_image2_runs", "image2_inputs_of_row", "image2_spec", "size_key", "main"]


def _known(value) -> float:
    """A corpus cell as a number: 0 where the run's CSV has no such column or leaves it empty."""
    return float(value) if value is not None and value == value else 0.0


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
    # an MRS run's channel and band (its cubes) are in its plan parameters
    layout = json.loads(row["layout"]) if isinstance(row.get("layout"), str) and row["layout"] else {}
    meta = ExposureMetadata(path=f"{row['run_id']}_{'rateints' if tso else 'rate'}.fits",
                            level="rateints" if tso else "rate", instrument=str(row["instrument"]),
                            detector=str(row["detector"]), exp_type=str(row["exp_type"]),
                            n_integrations=int(row["nints"]), ncols=int(row["nx"]), nrows=int(row["ny"]),
                            tso_visit=tso, channel=layout.get("channel"), band=layout.get("band"),
                            filter=layout.get("filter"), pupil=layout.get("pupil"))
    arguments = shlex.split(row["pipeline_args"]) if isinstance(row.get("pipeline_args"), str) else []
    # a WFSS run's cutouts were counted from its catalog when it ran (the catalog is gone)
    cutouts = None
    if str(row["exp_type"]).upper() in WFSS_EXP_TYPES:
        segments, dispersed = (_known(row.get(column)) for column in ("segment_pixels", "dispersed_pixels"))
        cutouts = SlitLayout(float(row["slit_pixels"]), 0.0, 0.0, int(row["slits"]), "the run's catalog",
                             segments, dispersed)
    geometry = ContamGeometry.from_json(row.get("contam_geometry"))
    return image2_inputs(meta, RunSettings.from_arguments(arguments), cutouts=cutouts, contam_geometry=geometry)


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


def size_key(row: Image2Inputs) -> tuple[str, float]:
    """What a run's size is measured by, per instrument and pipeline: its science pixels; a WFSS
    exposure's cutouts (its frame is always the detector's).

    Parameters
    ----------
    row : Image2Inputs
        The run's inputs.

    Returns
    -------
    tuple of (str, float)
        The key of ``measured_range`` and the size.
    """
    if row.wfss:
        return f"{row.instrument} WFSS", float(row.cutouts)
    return f"{row.instrument} {row.pipeline}", float(row.science_pixels)


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
        kind = ("IFU" if row.cube_voxels else "fixed slit" if row.resampled_spectrum
                else "WFSS" if row.wfss else "spectroscopic time series")
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
    return run_stage_fit(StageCommand(
        "fit-image2", __doc__.splitlines()[0], ["data/corpus/image2.csv", "data/corpus/spec2.csv", "data/corpus/spec2-wfss.csv"],
        load_image2_runs,
        image2_spec(), Image2Baseline, load_image2_baseline, image2_file,
        size_key=size_key,
        groups=lambda rows, table: [mode_of(r) for r in rows], what="Level-2", label="mode", mode_of=mode_of), argv)


if __name__ == "__main__":
    sys.exit(main())
