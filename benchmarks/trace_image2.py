"""Trace what calwebb_image2's steps allocate on one synthetic exposure, beside the counted terms.

Usage (from the repository root, with the project's virtualenv active)::

    python benchmarks/trace_image2.py --detector NRCA1 --subarray SUB640:640x640
    python benchmarks/trace_image2.py --detector NRCA3 --exp-type NRC_TSIMAGE --subarray SUB64P:64x64 --nints 2000
    python benchmarks/trace_image2.py --detector MIRIMAGE --exp-type MIR_IMAGE --filter F770W --pixel-scale-ratio 0.5

The exposure is written by ``jwst_memest.profile.image2.write_rate`` with the synthetic references
of ``jwst_memest.profile.image2_references``; each step runs in this process under ``tracemalloc``
(numpy reports its buffers to it) on the previous step's output, as the pipeline does. For each
step the traced peak above the memory traced before the pipeline opened the exposure is printed
next to ``jwst_memest.model.image2_terms.image2_step_bytes`` (the count, without the interpreter).
Nothing contacts CRDS: the environment of ``jwst_memest.profile.run.crds_free_env`` is installed
before jwst is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tracemalloc
from pathlib import Path

MB = 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/trace_image2.py", description=__doc__.splitlines()[0])
    parser.add_argument("--detector", default="NRCA1")
    parser.add_argument("--exp-type", default="NRC_IMAGE")
    parser.add_argument("--filter", default="F150W")
    parser.add_argument("--subarray", default="FULL", help="FULL or NAME:COLUMNSxROWS")
    parser.add_argument("--nints", type=int, default=1)
    parser.add_argument("--tso-visit", action="store_true")
    parser.add_argument("--pixel-scale-ratio", type=float, default=1.0)
    args = parser.parse_args(argv)

    from jwst_memest.profile.run import crds_free_env

    scratch = Path(tempfile.mkdtemp(prefix="memest-trace-image2-"))
    os.environ.update(crds_free_env(scratch / "crds"))

    import numpy as np
    from stdatamodels.jwst import datamodels

    from jwst_memest.exposures import ExposureLayout, instrument_of
    from jwst_memest.instruments import full_frame
    from jwst_memest.model.image2_terms import image2_step_bytes
    from jwst_memest.model.terms import settings_matrix, setting_columns
    from jwst_memest.profile.image2 import layout_is_tso, write_rate
    from jwst_memest.profile.image2_references import image2_reftypes, write_image2_references
    from jwst_memest.settings import RunSettings

    name, _, shape = args.subarray.partition(":")
    subarray_shape = tuple(int(v) for v in shape.split("x")) if shape else None
    pupil = None if instrument_of(args.detector) == "MIRI" else "CLEAR"
    layout = ExposureLayout(exp_type=args.exp_type, detectors=(args.detector,), filter=args.filter, pupil=pupil,
                            subarray=name, subarray_shape=subarray_shape, nints=args.nints, tso_visit=args.tso_visit)
    references = write_image2_references(args.detector, args.filter, pupil, name, 0.0, 0.0, scratch / "refs")
    path = write_rate(layout, scratch)

    from jwst.pipeline import Image2Pipeline

    # the steps of a pipeline object: a step with a parent works on its input, as in a run (a
    # standalone step would copy it first)
    reftypes = image2_reftypes()
    pipeline = Image2Pipeline(steps={
        alias: {f"override_{reftype}": str(references.get(reftype, "N/A")) for reftype in reftypes[alias]}
        for alias in ("assign_wcs", "flat_field", "photom")} | {"resample": {"pixel_scale_ratio": args.pixel_scale_ratio}})
    tso = layout_is_tso(layout)
    steps = [(alias, getattr(pipeline, alias)) for alias in ("assign_wcs", "flat_field", "photom")]
    if not tso:
        steps.append(("resample", pipeline.resample))
    tracemalloc.start()
    floor = tracemalloc.get_traced_memory()[0]
    model = datamodels.open(str(path))
    model.data, model.err, model.dq = model.data, model.err, model.dq  # read the arrays, as the pipeline does
    traced = {}
    for step_name, step in steps:
        tracemalloc.reset_peak()
        result = step.run(model)
        traced[step_name] = tracemalloc.get_traced_memory()[1] - floor
        if step_name != "resample":
            model = result
    # the pipeline then writes the cal (calints) file: astropy writes big-endian copies
    tracemalloc.reset_peak()
    model.save(str(scratch / "traced_cal.fits"))
    traced["save"] = tracemalloc.get_traced_memory()[1] - floor

    ncols, nrows = subarray_shape or full_frame(args.detector)
    frame = ncols * nrows
    science = frame * (args.nints if tso else 1)
    settings = RunSettings(pixel_scale_ratio=args.pixel_scale_ratio)
    s = setting_columns(settings_matrix([settings]), 0)
    ratio = 1.0 / args.pixel_scale_ratio**2
    columns, rows = full_frame(args.detector)
    counted = image2_step_bytes(science, frame, columns * rows, 0.0 if tso else frame * ratio, ratio, 144.0, s,
                                0.0 if tso else 1.0)
    print(f"{args.detector} {name} {args.exp_type} nints={args.nints}: P={science:.3g} F={frame:.3g} FF={columns * rows:.3g}")
    print(f"{'step':<12} {'traced MB':>10} {'counted MB':>11} {'traced/counted':>15}")
    for step_name, value in traced.items():
        count = float(np.asarray(counted.get(step_name, np.nan)).ravel()[0])
        print(f"{step_name:<12} {value / MB:10.1f} {count / MB:11.1f} {value / count:15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
