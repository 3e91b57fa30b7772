"""Level-2 accuracy (calwebb_image2, calwebb_spec2 for MIRI LRS and MRS): the installed model against the measured runs.

    python benchmarks/accuracy_level2.py [--corpus data/corpus/image2.csv data/corpus/spec2.csv data/corpus/spec2-wfss.csv]
        [--contam data/corpus/spec2-wfss-contam.csv data/corpus/spec2-wfss-contam-clipped.csv]
        [--out benchmarks/results/accuracy-level2.md]

Held-out runs (the corpus' test split) per mode; every run with a memory-changing setting of
resample; the largest runs, estimated by a fit below a third of the largest peak; the peak step.
The runs with wfss_contam on are listed apart: their dispersion is counted, not fitted; only the
runs of spec2-wfss-contam-clipped.csv set one of its constants (the clipping phase's resident
ratio), and the summary per instrument counts the others (held out) apart from them.
"""

import argparse
from pathlib import Path

import numpy as np

from jwst_memest.model.image2 import load_image2_baseline
from jwst_memest.profile.fit_image2 import image2_spec, load_image2_runs, mode_of
from jwst_memest.profile.stage_fit import extrapolation_factor, held_out_lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/image2.csv", "data/corpus/spec2.csv",
                                                        "data/corpus/spec2-wfss.csv"])
    parser.add_argument("--contam", nargs="*", default=["data/corpus/spec2-wfss-contam.csv",
                                                         "data/corpus/spec2-wfss-contam-clipped.csv"])
    parser.add_argument("--out", default="benchmarks/results/accuracy-level2.md")
    args = parser.parse_args(argv)
    rows, measured, test, peaks, table = load_image2_runs(args.corpus)
    model = load_image2_baseline()
    estimates = [model.estimate(r) for r in rows]
    gb = np.array([e["gb"] for e in estimates])
    upper = np.array([e["upper_gb"] for e in estimates])
    modes = [mode_of(r) for r in rows]
    lines = [f"Level 2: calwebb_image2 and calwebb_spec2 (MIRI LRS and MRS, NIRISS SOSS, NIRCam and NIRISS WFSS), jwst 3.0.0: {len(rows)} measured runs of {', '.join(args.corpus)}, "
             f"{int(test.sum())} held out; model {model.name} {model.version}; GB = 10^9 bytes; bound at q=0.95 "
             f"(x{model.upper_bound.factor(0.95):.3f} + {model.margin_bytes / 1e6:.1f} MB, x{model.beyond_range:.3f} "
             "more beyond the measured exposures).", "", *held_out_lines(model, rows, measured, test, modes, label="mode"),
             "", "Every run (fitted or held out), largest first:", "",
             "| run | mode | settings | measured GB | estimated GB | error | bound GB | peak step (measured / estimated) |",
             "|---|---|---|---|---|---|---|---|"]
    for i in np.argsort(-measured):
        settings = str(table["pipeline_args"][i]).replace("--steps.resample.", "") if isinstance(
            table["pipeline_args"][i], str) else ""
        measured_step = max(peaks[i], key=peaks[i].get) if peaks[i] else ""
        # the monitor names the step running at the peak; the pipeline's copies between photom and the
        # resampling steps fall in the windows of the skipped steps there
        if measured_step in ("adaptive_trace_model", "pixel_replace", "residual_fringe"):
            measured_step = "copies"
        held = " (held out)" if test[i] else ""
        lines.append(f"| {table['run_id'][i]}{held} | {modes[i]} | {settings} | {measured[i]:.3f} | {gb[i]:.3f} | "
                     f"{100 * (gb[i] / measured[i] - 1):+.1f} % | {upper[i]:.3f} | {measured_step} / "
                     f"{estimates[i]['peak_step']} |")
    widening, detail = extrapolation_factor(image2_spec(), rows, measured, peaks)
    above = int((measured > upper).sum())
    lines += ["", f"Above their bound: {above} of {len(rows)} runs.",
              f"Extrapolation: {detail}; the installed widening beyond the measured exposures is x{model.beyond_range:.3f}.",
              "", "Peak step named as measured (the step peaks; a time series' largest is often the cal write "
              "after them, counted as `save`): "
              f"{sum(e['peak_step'] == max(p, key=p.get) for e, p in zip(estimates, peaks) if p)} of "
              f"{sum(1 for p in peaks if p)} runs."]
    if args.contam:
        lines += ["", *_contam_lines(model, args.contam)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


CALIBRATING = "spec2-wfss-contam-clipped.csv"


def _contam_lines(model, paths) -> list[str]:
    """Each run with wfss_contam on: measured, counted, bound, and the processes it dispersed in."""
    rows, measured, _, peaks, table = load_image2_runs(paths)
    import pandas as pd

    setting = {run for p in paths if Path(p).name == CALIBRATING for run in pd.read_csv(p, usecols=["run_id"])["run_id"]}
    lines = [f"With wfss_contam on ({', '.join(paths)}; counted, not fitted: the runs of {CALIBRATING} set the "
             "clipping phase's resident ratio, marked (sets), every other run is held out):", "",
             "| run | settings | measured GB | estimated GB | error | bound GB | calibrated | peak step (measured / estimated) |",
             "|---|---|---|---|---|---|---|---|"]
    errors = []
    for i in np.argsort(-measured):
        estimate = model.estimate(rows[i])
        settings = str(table["pipeline_args"][i]).replace("--steps.wfss_contam.", "").replace("skip=False", "").strip()
        error = 100 * (estimate["gb"] / measured[i] - 1)
        sets = table["run_id"][i] in setting
        errors.append((rows[i].instrument, error, measured[i] > estimate["upper_gb"], sets))
        lines.append(f"| {table['run_id'][i]}{' (sets)' if sets else ''} | {settings} | {measured[i]:.3f} | {estimate['gb']:.3f} | {error:+.1f} % | "
                     f"{estimate['upper_gb']:.3f} | {estimate['calibrated']} | "
                     f"{max(peaks[i], key=peaks[i].get)} / {estimate['peak_step']} |")
    for instrument in sorted({e[0] for e in errors}):
        mine = [e for e in errors if e[0] == instrument and not e[3]]
        lines.append(f"\n{instrument}, held out: {len(mine)} runs, median abs error {np.median([abs(e[1]) for e in mine]):.1f} % "
                     f"(median error {np.median([e[1] for e in mine]):+.1f} %), {sum(e[2] for e in mine)} above the bound.")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
