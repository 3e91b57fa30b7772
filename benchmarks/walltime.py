"""Held-out accuracy of the wall-time model, per Level-3 pipeline and for calwebb_detector1, image2 and spec2.

    python benchmarks/walltime.py [--corpus data/corpus/*.csv] [--out benchmarks/results/walltime.md]

Fits each pipeline's work terms on the training split of the measured corpus (as
``python -m jwst_memest.profile fit-walltime`` does), calibrates the upper bound out of fold,
and judges both on the held-out runs (``split == "test"``): median and p90 absolute % error, how
many runs exceed the upper bound at q=0.95 and how many the kill time a plan would give them
(the bound x the default site's time factor). Also measures the noise floor: how far repeated
runs of one configuration lie from their median. calwebb_detector1, calwebb_image2 and calwebb_spec2
(MIRI LRS) are judged per exposure, on ``data/corpus/detector1.csv``, ``image2.csv`` and ``spec2.csv``
(their own held-out splits).

Two checks beyond the held-out split: the *largest runs* (each pipeline refitted on the runs below a third
of its largest wall time, the rest estimated: does the shape of the terms carry to bigger products?) and
the *sessions* (the fitted model's median residual per measuring session with at least three runs: how
much the machine's load in a session moves every run in it, which no input can predict).
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_text_atomic
from jwst_memest.model.walltime import DETECTOR1, IMAGE2, SPEC2
from jwst_memest.profile.fit_walltime import (PIPELINES, corpus_files_for, fit_pipeline, largest_runs_check,
                                              load_walltime_runs, session_residuals, step_seconds_of, step_timed_files)

QUANTILE = 0.95
TIME_FACTOR = 1.5  # the default site's kill-time factor on the bound (jwst_memest.plan.site)
MIN_SESSION_RUNS = 3  # a session's median residual from fewer runs is a run's, not the session's


def configurations(table, pipeline: str) -> list[tuple]:
    """What identifies a run's configuration: its inputs and settings (repeats share it)."""
    # a corpus whose runs all take the defaults reads the column as float NaN
    args = table["pipeline_args"].map(lambda a: a if isinstance(a, str) else "").map(
        lambda a: " ".join(x for x in a.split() if "override" not in x))
    if pipeline == DETECTOR1:
        return list(zip(table["instrument"].astype(str), table["readpatt"].astype(str), table["nints"],
                        table["ngroups"], table["ny"], table["nx"], table["maximum_cores"], args))
    if pipeline in (IMAGE2, SPEC2):
        return list(zip(table["exp_type"].astype(str), table["nints"], table["ny"], table["nx"], args))
    return list(zip(table["exp_type"].astype(str), table["n_members"], table["member_pixels"], table["output_pixels"],
                    table["in_memory"], table["n_integrations"], table["total_input_bytes"], args))


def modes_of(table, pipeline: str) -> np.ndarray:
    """Each run's exposure type (detector1: with IRS2 readouts apart, their refpix being another step)."""
    modes = table["exp_type"].astype(str)
    if pipeline == DETECTOR1:
        modes = modes + np.where(table["readpatt"].astype(str).str.contains("IRS2"), " IRS2", "")
    return modes.to_numpy()


def repeat_noise(table, wall: np.ndarray, pipeline: str) -> tuple[float, int]:
    """Median |wall / median - 1| (%) over runs whose configuration was measured more than once."""
    keys = configurations(table, pipeline)
    groups: dict = {}
    for key, w in zip(keys, wall):
        groups.setdefault(key, []).append(w)
    deviations = [abs(w / np.median(ws) - 1) * 100 for ws in groups.values() if len(ws) > 1 for w in ws]
    return (float(np.median(deviations)) if deviations else float("nan")), len(deviations)


def _pct(value: float, signed: bool = False) -> str:
    # a term the smaller runs leave unconstrained can put the larger ones' estimates off by orders of magnitude
    if abs(value) > 1000:
        return f"{'>' if value > 0 else '<'} {'+' if signed and value > 0 else ''}{1000 if value > 0 else -1000}"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def timed_whole_lines(model, corpus, pipeline: str) -> list[str]:
    """The model fitted by step against the runs timed only whole, file by file (measured / estimated)."""
    from jwst_memest.profile.fit import load_measured

    files = corpus_files_for(corpus, pipeline)
    timed = set(step_timed_files(files, pipeline))
    lines = []
    for path in files:
        if path in timed:
            continue
        X, _, _, table = load_measured([path], pipeline)
        wall = table["wall_s"].astype(float).to_numpy()
        ok = np.isfinite(wall) & (wall > 0)
        if not ok.any():
            continue
        ratio = wall[ok] / model.predict(X[ok])
        largest = int(np.argmax(wall[ok]))
        lines.append(f"| {pipeline} | {path.name} | {int(ok.sum())} | {np.median(ratio):.2f} | "
                     f"{np.percentile(ratio, 10):.2f} .. {np.percentile(ratio, 90):.2f} | "
                     f"{wall[ok][largest]:.0f} s / {wall[ok][largest] / ratio[largest]:.0f} s |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+",
                        default=sorted(glob.glob("data/corpus/*.csv") + glob.glob("data/corpus/timing/*.csv")))
    parser.add_argument("--out", default="benchmarks/results/walltime.md")
    args = parser.parse_args(argv)
    rows, modes, checks, whole = [], [], [], []
    for pipeline in PIPELINES:
        X, wall, split, table = load_walltime_runs(args.corpus, pipeline)
        steps = step_seconds_of(table, pipeline)
        model = fit_pipeline(X, wall, split, pipeline, step_seconds=steps)
        test = split == "test"
        seconds, upper = model.estimate(X[test], QUANTILE)
        pct = 100 * np.abs(seconds - wall[test]) / wall[test]
        noise, n_noise = repeat_noise(table, wall, pipeline)
        sessions = table["timestamp"].astype(str).str[:13].nunique()
        rows.append(f"| {pipeline} | {int((~test).sum())} | {int(test.sum())} | {np.median(pct):.1f} | "
                    f"{np.percentile(pct, 90):.1f} | {int((wall[test] > upper).sum())} | "
                    f"{int((wall[test] > upper * TIME_FACTOR).sum())} | {model.upper_bound.factor(QUANTILE):.2f} | "
                    f"{f'{noise:.1f} ({n_noise} runs)' if n_noise else '- (no repeats)'} | {sessions} |")
        exp_types = modes_of(table, pipeline)[test]
        for mode in sorted(set(exp_types)):
            m = exp_types == mode
            modes.append(f"| {pipeline} | {mode} | {int(m.sum())} | {np.median(pct[m]):.1f} | "
                         f"{int((wall[test][m] > upper[m]).sum())} |")
        n_large, signed = largest_runs_check(X, wall, pipeline, step_seconds=steps)
        if steps is not None:
            whole += timed_whole_lines(model, args.corpus, pipeline)
        by_session = session_residuals(model, X, wall, table["timestamp"].astype(str).str[:13], MIN_SESSION_RUNS)
        checks.append(f"| {pipeline} | {wall.max():.0f} | "
                      + (f"{n_large} | {_pct(np.median(signed), True)} | {_pct(np.median(np.abs(signed)))} | "
                         if n_large else "0 | - | - | ")
                      + (f"{min(by_session.values()):+.1f} .. {max(by_session.values()):+.1f} ({len(by_session)}) |"
                         if by_session else "- |"))
        print(rows[-1], flush=True)
    text = "\n".join([
        "# Wall-time estimates: held-out accuracy",
        "",
        "Generated by `python benchmarks/walltime.py`. Each pipeline's work terms "
        "(`jwst_memest/model/walltime.py`) are fitted on the training split of the measured corpus "
        "(`data/corpus/*.csv`, successful runs, `wall_s`), the upper bound calibrated on 5-fold out-of-fold "
        "estimates of the training runs, and both judged on the held-out runs (`split == \"test\"`, the split the "
        "memory benchmarks use); calwebb_detector1's, calwebb_image2's and calwebb_spec2's per exposure, from the "
        "exposure's inputs (`data/corpus/detector1.csv`, `image2.csv`, `spec2.csv`). "
        f"Bound at q={QUANTILE}; kill time = bound x {TIME_FACTOR} (the default site's "
        "`time_factor`).",
        "",
        "**How the corpus was timed.** Every run was measured on one 2-core machine, in sessions spread over "
        "several days, often with other work (other measurements, test suites) running beside it. The same "
        "configuration measured in different sessions differs by up to 3x (spec3 MIRI MRS: 40 s to 122 s); "
        "the *repeat noise* column is the median distance of such repeats from their configuration's median, "
        "a floor no model of the inputs can go below. Times on another machine scale by its speed factor "
        "(`jwst-memest calibrate`); the load on a shared machine does not, which is what the bound and the "
        "kill-time factor are for. **calwebb_image3 and calwebb_coron3 were measured again** "
        "(`data/corpus/timing/image3.csv`, `coron3.csv`: the runs of `data/corpus/plan-image3.yaml` and "
        "`plan-coron3.yaml`, in quiet sessions, with each step's seconds): their terms are fitted step by "
        "step, each step's terms to that step's time (`step_times`) and the start-up to the rest, on those "
        "runs alone; the runs timed only whole are compared with them below. **calwebb_spec3 was measured "
        "again** the same way (`timing/spec3*.csv`: every mode, the configurations of `plan-spec3-modes.yaml` "
        "as far as they were timed) and is fitted by step too; a configuration timed again supersedes its "
        "earlier time (the latest successful run of each, `latest_measurements`), since the first spec3 runs "
        "skipped cube_build and extract_1d or shared the machine. MOS and fixed-slit products grow with their "
        "slits squared (each source's products written from the whole container, each step through slit "
        "pairs: 2 members of 25, 50, 100, 200 slits took 82, 182, 455, 1283 s), which terms per slit pair "
        "follow.",
        "",
        "| pipeline | training runs | held-out runs | median abs % error | p90 abs % error | above bound | "
        "above kill time | bound factor | repeat noise, median % | sessions |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Per exposure type (held-out runs):",
        "",
        "| pipeline | exposure type | runs | median abs % error | above bound |",
        "|---|---|---|---|---|",
        *modes,
        "",
        "**Largest runs and sessions.** *Largest runs*: each pipeline refitted on all its runs (both splits) "
        "below a third of its largest wall time, the rest estimated (signed: negative is an estimate below the "
        "measured time; a run needing a term none of the smaller runs has, whose coefficient that fit never "
        "sets, is left out). *Sessions*: the fitted model's median signed residual per measuring session (the "
        f"timestamp's hour) of at least {MIN_SESSION_RUNS} runs, lowest .. highest (sessions counted). A spread "
        "of sessions' medians far wider than the repeat noise is the machine's load in those sessions, which "
        "moves every run of a session alike and which no work term can follow. The Level-3 corpus files "
        "other than `timing/` record each step's memory peak (`step_peaks`) but not its time; every Level-3 "
        "pipeline has been timed again into `timing/` with step times (tso3's four plans, ami3's), and tso3 "
        "is fitted step by step like image3, spec3 and coron3 (ami3's time is ami_analyze's, one term).",
        "",
        "| pipeline | largest wall time, s | runs above a third | median signed % error | median abs % error | "
        "session median residuals, % |",
        "|---|---|---|---|---|---|",
        *checks,
        "",
        "**Runs timed only whole, against the model fitted by step** (measured / estimated wall time per corpus "
        "file: above 1 is a run slower than the quiet session's model, as the machine's other work made it; "
        "the largest run of each file, measured and estimated, shows whether the terms carry to the biggest "
        "mosaics, none of which the timed runs reach):",
        "",
        "| pipeline | corpus file | runs | median measured / estimated | p10 .. p90 | "
        "largest run: measured / estimated |",
        "|---|---|---|---|---|---|",
        *whole,
        "",
    ])
    write_text_atomic(text, Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
