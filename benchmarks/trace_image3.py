"""Trace what calwebb_image3's stages allocate, step by step, on small synthetic NIRCam exposures.

Usage (from the repository root, with the project's virtualenv active)::

    python benchmarks/trace_image3.py --dithers 2 --subarray 640x640 --out /tmp/trace.json
    python benchmarks/trace_image3.py --tiles 2x1 --tile-step 15 --dithers 1 --on-disk
    python benchmarks/trace_image3.py --dithers 4 --dither-step 1 --resample default,noctx,noerr,novar,off,psr0.5
    python benchmarks/trace_image3.py compare /tmp/trace.json [more.json ...] [--c-pix 144]

Options: ``--dithers`` (exposures per tile), ``--tiles NXxNY`` with ``--tile-step`` (arcsec),
``--dither-step`` (arcsec), ``--subarray NCOLSxNROWS`` (a SUB640-like subarray by default),
``--detectors`` (comma-separated, default NRCA1), ``--on-disk`` (ModelLibrary on disk, i.e.
calwebb_image3 ``in_memory=False``), ``--no-resample-data`` (outlier_detection median of the
input images), ``--resample`` (comma-separated variants of the final resample: default, noctx
(enable_ctx=False), noerr (enable_err=False), novar (report_var=False), off (all three False),
psrX (pixel_scale_ratio=X), stepX (pixmap_stepsize=X)), ``--skip-catalog``, ``--out`` (JSON file).
``compare`` prints, for each traced step of the given JSON files, the traced increment (peak minus
the traced memory at the step's start) next to the count of docs/memory-terms.md.

The whole run happens in one process under ``tracemalloc`` (numpy reports its array buffers to
it). Each step is run with its own ``Step.run`` on the previous step's output, as the pipeline
does, after ``tracemalloc.reset_peak()``; the record of a step is the traced memory at its start,
its peak and its end. Inside the steps, a few functions of jwst / stcal / drizzle are wrapped so
that each also gets its own peak (the largest over its calls) and its largest increment over the
traced memory at its entry. Nothing contacts CRDS: the environment of
``jwst_memest.profile.run.crds_free_env`` is installed before jwst is imported, and the
source_catalog reference files are the synthetic ones of ``jwst_memest.profile.imaging_references``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import math
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

MB = 1 << 20


class PhaseTracker:
    """Peak traced memory of wrapped functions, nested calls included."""

    def __init__(self):
        self.stack = []  # [name, entry_current, peak]
        self.phases = {}
        self.prefix = ""

    def enter(self, name):
        current, peak = tracemalloc.get_traced_memory()
        for frame in self.stack:
            frame[2] = max(frame[2], peak)
        tracemalloc.reset_peak()
        self.stack.append([f"{self.prefix}{name}", current, current])

    def exit(self):
        _, peak = tracemalloc.get_traced_memory()
        for frame in self.stack:
            frame[2] = max(frame[2], peak)
        name, entry, frame_peak = self.stack.pop()
        record = self.phases.setdefault(name, {"calls": 0, "peak": 0, "increment": 0, "entry": entry})
        record["calls"] += 1
        record["peak"] = max(record["peak"], frame_peak)
        record["increment"] = max(record["increment"], frame_peak - entry)

    def wrap(self, owner, attribute, name):
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            self.enter(name)
            try:
                return original(*args, **kwargs)
            finally:
                self.exit()

        setattr(owner, attribute, wrapper)

    def step_peak_correction(self):
        """Phases reset tracemalloc's peak; the step's own peak is the max over them and tracemalloc's."""
        return max([p["peak"] for n, p in self.phases.items() if n.startswith(self.prefix)] or [0])


TRACKER = PhaseTracker()


def install_wrappers():
    import jwst.outlier_detection.imaging as od_imaging
    import jwst.outlier_detection.utils as od_utils
    import jwst.resample.resample as jresample
    import jwst.source_catalog.source_catalog_step as sc_step
    import jwst.tweakreg.tweakreg_catalog as twcat
    import stcal.outlier_detection.median as median
    import stcal.outlier_detection.utils as so_utils
    import stcal.resample.resample as sresample
    from jwst.source_catalog.source_catalog import JWSTSourceCatalog

    t = TRACKER
    t.wrap(sresample, "calc_pixmap", "calc_pixmap")
    t.wrap(so_utils, "calc_pixmap", "calc_pixmap")
    t.wrap(sresample, "build_driz_weight", "build_driz_weight")
    t.wrap(sresample.Resample, "add_model", "add_model")
    t.wrap(sresample.Resample, "resample_variance_arrays", "resample_variance_arrays")
    t.wrap(sresample.Resample, "_resample_one_variance_array", "resample_one_variance")
    t.wrap(sresample.Resample, "finalize", "finalize")
    t.wrap(sresample.Resample, "finalize_resample_variance", "finalize_resample_variance")
    t.wrap(jresample.ResampleImage, "resample_group", "resample_group")
    t.wrap(jresample.ResampleImage, "resample_many_to_one", "resample_many_to_one")
    t.wrap(median.MedianComputer, "evaluate", "median_evaluate")
    t.wrap(od_imaging, "flag_resampled_model_crs", "flag_resampled_model_crs")
    t.wrap(od_imaging, "flag_model_crs", "flag_model_crs")
    t.wrap(od_utils, "gwcs_blot", "gwcs_blot")
    t.wrap(sc_step, "make_tweakreg_catalog", "make_tweakreg_catalog")
    t.wrap(twcat, "_sourcefinder_wrapper", "sourcefinder")
    t.wrap(twcat, "_convolve_data", "convolve")
    t.wrap(twcat, "Background2D", "background2d_stats")
    from photutils.background import Background2D

    t.wrap(Background2D, "_calculate_image", "background_image")
    t.wrap(JWSTSourceCatalog, "__init__", "catalog_init")


def parse_pair(text, sep="x"):
    a, b = text.lower().split(sep)
    return (int(a), int(b)) if "." not in a + b else (float(a), float(b))


RESAMPLE_VARIANTS = {
    "default": {},
    "noctx": {"enable_ctx": False},
    "noerr": {"enable_err": False},
    "novar": {"report_var": False},
    "off": {"enable_ctx": False, "enable_err": False, "report_var": False},
}


def variant_kwargs(name):
    if name in RESAMPLE_VARIANTS:
        return dict(RESAMPLE_VARIANTS[name])
    if name.startswith("psr"):
        return {"pixel_scale_ratio": float(name[3:])}
    if name.startswith("step"):
        return {"pixmap_stepsize": float(name[4:])}
    raise ValueError(f"unknown resample variant {name}")


# ---------------------------------------------------------------------------------------------
# The count (docs/memory-terms.md): bytes a step allocates above the traced memory at its start.
# n_in: one member's pixels, n_out: the mosaic's, N members, G exposure groups, P context planes,
# m: output pixels one member covers (n_in / r**2 for pixel_scale_ratio r, at most n_out),
# c_wcs: the peak of one pixel-map computation per input pixel (WCS evaluation; measured).
MEMBER_BYTES = 28  # data, err, var_poisson, var_rnoise, var_flat, area (float32) + dq (uint32)


def counted_resample(n_in, n_out, n_members, enable_ctx=True, enable_err=True, ratio=1.0, c_pix=144.0):
    planes = (n_members - 1) // 32 + 1 if enable_ctx else 0
    m = min(n_in / ratio**2, n_out)
    core = 8 + 4 * planes  # drizzle data + wht (float32) + context (int32 planes)
    if not enable_err:
        return {"pixmap": core * n_out + c_pix * n_in, "drizzle": core * n_out + (24 + 13) * n_in}
    steady = core + 24 + 12  # + wsum/wt per variance + the three drizzled variances of the last member
    return {
        "pixmap": steady * n_out + c_pix * n_in,
        "variance_drizzle": (steady + 12) * n_out + 24 * n_in,
        "variance_accumulate": (steady + 9) * n_out + 46 * m + 24 * n_in,
        "finalize": (steady + 16) * n_out,
    }


def counted_outlier(n_in, n_out, n_members, n_groups, in_memory=True, resample_data=True, c_pix=144.0):
    if not resample_data:
        return {"median_cube": (4 * n_members + 4 + 13) * n_in, "evaluate": (4 * n_members + 4) * n_in,
                "flag": (4 + 17) * n_in}
    member = 0 if in_memory else MEMBER_BYTES
    cube = 4 * n_groups if in_memory else 0
    median = 4 if in_memory else 4 + 4  # on disk: the median image and one section read back
    return {
        "pixmap": (cube + 8) * n_out + (member + c_pix) * n_in,
        "group_reset": (cube + 16) * n_out,
        "evaluate": (cube + median + 8) * n_out,
        "flag": 12 * n_out + (member + max(c_pix, 36)) * n_in,
    }


def counted_catalog(n_out):
    return {"convolve": (1 + 8 + 4 + 4 + 28) * n_out, "background_stats": (1 + 14) * n_out}


def counted_for(report, step, c_pix):
    n_in, n_members, n_groups = report["npix_in"], report["N"], report["G"]
    if step.startswith("resample["):
        variant = step[len("resample["):-1]
        kw = variant_kwargs(variant)
        n_out = math.prod(report["outputs"][variant]["shape"])
        pix = 32.0 if kw.get("pixmap_stepsize", 1) > 1 else c_pix
        terms = counted_resample(n_in, n_out, n_members, kw.get("enable_ctx", True), kw.get("enable_err", True),
                                 kw.get("pixel_scale_ratio", 1.0), pix)
    elif step == "outlier_detection":
        first = next(iter(report["outputs"].values()))
        n_out = report.get("outlier_npix_out") or math.prod(first["shape"])
        terms = counted_outlier(n_in, n_out, n_members, n_groups, report["in_memory"], report["resample_data"], c_pix)
    elif step == "source_catalog":
        n_out = math.prod(next(iter(report["outputs"].values()))["shape"])
        terms = counted_catalog(n_out)
    else:
        return None, None
    return terms, n_out


def compare(paths, c_pix):
    rows = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        for step in report["steps"]:
            terms, n_out = counted_for(report, step["step"], c_pix)
            if terms is None:
                continue
            counted = max(terms.values())
            traced = step["increment_mb"] * MB
            rows.append((Path(path).stem, step["step"], report["npix_in"], n_out, report["N"], report["G"],
                         step["start_mb"], step["peak_mb"], traced / MB, counted / MB, traced / counted,
                         max(terms, key=terms.get)))
    print("| run | step | Npix_in | Npix_out | N | G | start MB | peak MB | traced incr. MB | counted MB "
          "| ratio | counted peak phase |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]:.1f} | {r[7]:.1f} | {r[8]:.1f} "
              f"| {r[9]:.1f} | {r[10]:.2f} | {r[11]} |")


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "compare":
        parser = argparse.ArgumentParser(description="counted vs traced increments of trace JSON files")
        parser.add_argument("command")
        parser.add_argument("--c-pix", type=float, default=144.0,
                            help="peak bytes per input pixel of one pixel-map computation (default 144)")
        parser.add_argument("files", nargs="+")
        args = parser.parse_args()
        compare(args.files, args.c_pix)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dithers", type=int, default=2)
    parser.add_argument("--dither-step", type=float, default=3.0)
    parser.add_argument("--tiles", default="1x1")
    parser.add_argument("--tile-step", type=float, default=40.0)
    parser.add_argument("--subarray", default="640x640")
    parser.add_argument("--detectors", default="NRCA1")
    parser.add_argument("--on-disk", action="store_true")
    parser.add_argument("--no-resample-data", action="store_true")
    parser.add_argument("--resample", default="default")
    parser.add_argument("--skip-catalog", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from jwst_memest.profile.run import crds_free_env

    scratch = Path(tempfile.mkdtemp(prefix="trace-image3-"))
    os.environ.update(crds_free_env(scratch / "crds"))
    os.chdir(scratch)  # on-disk libraries and median sections write their temporary files here

    import numpy as np

    from jwst_memest.exposures import ExposureLayout
    from jwst_memest.profile.imaging_references import write_source_catalog_references
    from jwst_memest.profile.synthetic import write_cal_exposures
    from jwst_memest.profile.corpus import _make_association

    ncols, nrows = parse_pair(args.subarray)
    layout = ExposureLayout(
        detectors=tuple(args.detectors.split(",")), filter="F150W", pupil="CLEAR", subarray="SUB640",
        subarray_shape=(ncols, nrows), dither_points=args.dithers, dither_step_arcsec=args.dither_step,
        mosaic_tiles=parse_pair(args.tiles), tile_step_arcsec=args.tile_step, suffix="cal",
    )
    t0 = time.time()
    paths = write_cal_exposures(layout, scratch / "data", seed=args.seed)
    asn = _make_association(paths, scratch / "data", "jw01234-o001_t001_trace", "image3")
    apcorr, abvega = write_source_catalog_references("NIRCAM", layout.filter, layout.pupil, layout.subarray,
                                                     scratch / "refs")
    print(f"wrote {len(paths)} members in {time.time() - t0:.1f}s under {scratch}", file=sys.stderr)

    from jwst.datamodels import ModelLibrary
    from jwst.pipeline import Image3Pipeline

    install_wrappers()
    tracemalloc.start()
    library = ModelLibrary(str(asn), asn_exptypes=["science"], on_disk=args.on_disk)
    n_members = len(library)
    n_groups = len(library.group_names)
    steps = []

    def run_step(label, make_step, data):
        gc.collect()
        TRACKER.prefix = f"{label}:"
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        t = time.time()
        result = make_step().run(data)
        peak = max(tracemalloc.get_traced_memory()[1], TRACKER.step_peak_correction())
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
        record = {"step": label, "start_mb": start / MB, "peak_mb": peak / MB,
                  "increment_mb": (peak - start) / MB, "end_mb": end / MB, "wall_s": time.time() - t,
                  "phases": {k[len(label) + 1:]: {"calls": v["calls"], "peak_mb": v["peak"] / MB,
                                                  "increment_mb": v["increment"] / MB}
                             for k, v in TRACKER.phases.items() if k.startswith(f"{label}:")}}
        steps.append(record)
        print(f"{label:24s} start {start / MB:8.1f} peak {peak / MB:8.1f} end {end / MB:8.1f} MB "
              f"({record['wall_s']:.1f}s)", file=sys.stderr)
        return result

    # the steps are the children of a calwebb_image3 pipeline, configured as its ``process`` does,
    # so that they behave as within the pipeline (no defensive copy of their input model)
    pipe = Image3Pipeline(in_memory=not args.on_disk)
    pipe.outlier_detection.suffix = "crf"
    pipe.outlier_detection.mode = "imaging"
    pipe.outlier_detection.resample_data = not args.no_resample_data
    pipe.outlier_detection.in_memory = not args.on_disk
    pipe.resample.suffix = "i2d"
    pipe.source_catalog.override_apcorr = str(apcorr)
    pipe.source_catalog.override_abvegaoffset = str(abvega)
    for step in (pipe.tweakreg, pipe.skymatch, pipe.outlier_detection, pipe.resample, pipe.source_catalog):
        step.save_results = False
    resample_defaults = {k: getattr(pipe.resample, k) for k in
                         ("enable_ctx", "enable_err", "report_var", "pixel_scale_ratio", "pixmap_stepsize")}

    def configured_resample(kwargs):
        for key, value in {**resample_defaults, **kwargs}.items():
            setattr(pipe.resample, key, value)
        return pipe.resample

    library = run_step("tweakreg", lambda: pipe.tweakreg, library)
    library = run_step("skymatch", lambda: pipe.skymatch, library)
    library = run_step("outlier_detection", lambda: pipe.outlier_detection, library)

    # member (input) shape and arrays held per member
    with library:
        model = library.borrow(0)
        in_shape = model.data.shape
        library.shelve(model, 0, modify=False)
        del model

    outputs = {}
    catalog_info = None
    for number, variant in enumerate(args.resample.split(",")):
        kwargs = variant_kwargs(variant)
        result = run_step(f"resample[{variant}]", lambda: configured_resample(kwargs), library)
        arrays = {name: [list(getattr(result, name).shape), str(getattr(result, name).dtype)]
                  for name in ("data", "wht", "con", "err", "var_rnoise", "var_flat", "var_poisson")
                  if result.hasattr(name) and getattr(result, name) is not None}
        outputs[variant] = {"shape": list(result.data.shape), "arrays": arrays,
                            "covered": int(np.count_nonzero(result.wht > 0))}
        if number == 0 and not args.skip_catalog:
            # as in the pipeline, source_catalog runs on the first (the configured) resample output
            cat = run_step("source_catalog", lambda: pipe.source_catalog, result)
            catalog_info = {"n_sources": 0 if cat is None else len(cat)}
            del cat
        del result

    report = {
        "layout": {"dithers": args.dithers, "dither_step": args.dither_step, "tiles": args.tiles,
                   "tile_step": args.tile_step, "subarray": args.subarray, "detectors": args.detectors},
        "in_memory": not args.on_disk, "resample_data": not args.no_resample_data,
        "N": n_members, "G": n_groups, "in_shape": list(in_shape), "npix_in": int(np.prod(in_shape)),
        "outputs": outputs, "catalog": catalog_info, "steps": steps,
    }
    text = json.dumps(report, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    import shutil

    os.chdir("/")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
