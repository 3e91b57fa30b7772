"""calwebb_detector1 accuracy: the installed model against the measured detector1 corpus.

    python benchmarks/accuracy_detector1.py [--corpus data/corpus/detector1.csv] [--out benchmarks/results/accuracy-detector1.md]

Held-out runs (the corpus' test split) per instrument; the runs at 1 and 2 processes of jump and
ramp_fit (``maximum_cores``) side by side; the largest runs, estimated by a fit below a third of
the largest peak.
"""

import argparse
from pathlib import Path

import numpy as np

from jwst_memest.model.detector1 import load_detector1_baseline
from jwst_memest.profile.fit_detector1 import detector1_spec, load_detector1_runs
from jwst_memest.profile.stage_fit import extrapolation_factor, held_out_lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["data/corpus/detector1.csv"])
    parser.add_argument("--out", default="benchmarks/results/accuracy-detector1.md")
    args = parser.parse_args(argv)
    rows, measured, test, peaks, table = load_detector1_runs(args.corpus)
    model = load_detector1_baseline()
    estimates = [model.estimate(r) for r in rows]
    gb = np.array([e["gb"] for e in estimates])
    upper = np.array([e["upper_gb"] for e in estimates])
    lines = [f"calwebb_detector1 (jwst 3.0.0): {len(rows)} measured runs of {', '.join(args.corpus)}, "
             f"{int(test.sum())} held out; model {model.name} {model.version}; GB = 10^9 bytes; bound at q=0.95 "
             f"(x{model.upper_bound.factor(0.95):.3f} + {model.margin_bytes / 1e6:.1f} MB, x{model.beyond_range:.3f} "
             "more beyond the measured ramps).", "", *held_out_lines(model, rows, measured, test, table["instrument"]), "",
             "Runs with jump and ramp_fit on 2 processes (`maximum_cores=2`) beside the same exposure on 1 "
             "(every run, fitted or not):", "",
             "| layout | processes | measured GB | estimated GB | error | above the bound |", "|---|---|---|---|---|---|"]
    processes = np.array([r.jump_processes for r in rows])
    layouts = table["layout"].astype(str).to_numpy()
    for i in np.argsort(layouts, kind="stable"):
        if (processes > 1).any() and any(layouts[j] == layouts[i] for j in np.flatnonzero(processes > 1)):
            lines.append(f"| {table['run_id'][i]} | {processes[i]} | {measured[i]:.3f} | {gb[i]:.3f} | "
                         f"{100 * (gb[i] / measured[i] - 1):+.1f} % | {'yes' if measured[i] > upper[i] else 'no'} |")
    widening, detail = extrapolation_factor(detector1_spec(), rows, measured, peaks)
    lines += ["", f"Extrapolation: {detail}; the installed widening beyond the measured ramps is x{model.beyond_range:.3f}.",
              "", "Peak step named as measured: "
              f"{sum(e['peak_step'] == max(p, key=p.get) for e, p in zip(estimates, peaks) if p)} of "
              f"{sum(1 for p in peaks if p)} runs with step peaks."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
