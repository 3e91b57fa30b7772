"""Speed of jwst_memest on folders of header-only exposures (and of spacekit's peer when installed).

    python benchmarks/speed.py [--sizes 100,4000] [--shapes tidy,mixed] [--repeats 3] [--peer-python PY]
                               [--out benchmarks/results/speed.md]

Two folder shapes per size: ``tidy`` (NIRCam SW observations of identical layout) and ``mixed``
(an archive's mix: programs each keeping their own subset of NIRCam SW/LW, MIRI and NIRISS imaging,
NIRSpec IFU and MIRI MRS observations, no two programs alike). For each: folder mode end to end,
cold, and its peak memory, alternating with spacekit's cold run on the same folder (medians). For
the tidy folder also: cold ``strun`` for one association, header reading per file, warm estimation
per association once metadata is read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from jwst_memest.estimation import estimate_products
from jwst_memest.exposures import NIRCAM_LW_DETECTORS, NIRCAM_SW_DETECTORS, ExposureLayout, write_header_exposures
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.registry import resolve_estimator

CRDS_FREE = {
    "CRDS_SERVER_URL": "https://localhost:1",
    "CRDS_MODE": "local",
    "STPIPE_DISABLE_CRDS_STEPPARS": "True",
}


def make_folder(directory: Path, n_files: int) -> Path:
    """A folder of ``n_files`` NIRCam SW exposures: observations of 4 detectors x up to 10 dithers (40 files),
    25 observations per program, so a large folder spans several programs."""
    per_observation, detectors = 40, NIRCAM_SW_DETECTORS[:4]
    for index in range(-(-n_files // per_observation)):
        files = min(per_observation, n_files - index * per_observation)
        layout = ExposureLayout(program=1234 + index // 25, observation=index % 25 + 1, detectors=detectors,
                                dither_points=max(files // len(detectors), 1))
        write_header_exposures(layout, directory)
    return directory


# A real program's mix of modes, one observation each, from which every program of the mixed archive keeps
# its own subset: (observation, mode, exp_type, detectors it may use)
_PROGRAM_MIX = (
    (1, "nircam", "NRC_IMAGE", NIRCAM_SW_DETECTORS + NIRCAM_LW_DETECTORS),
    (2, "miri", "MIR_IMAGE", ("MIRIMAGE",)),
    (3, "niriss", "NIS_IMAGE", ("NIS",)),
    (4, "nirspec_ifu", "NRS_IFU", ("NRS1", "NRS2")),
    (5, "miri_mrs", "MIR_MRS", ("MIRIFUSHORT", "MIRIFULONG")),
    (6, "nircam", "NRC_IMAGE", NIRCAM_SW_DETECTORS + NIRCAM_LW_DETECTORS),
)
_SW_FILTERS = ("F070W", "F090W", "F115W", "F150W", "F200W", "F140M", "F162M", "F182M", "F187N", "F210M")
_LW_FILTERS = ("F277W", "F356W", "F444W", "F250M", "F300M", "F335M", "F360M", "F410M", "F430M", "F480M")
_MIRI_FILTERS = ("F560W", "F770W", "F1000W", "F1130W", "F1280W", "F1500W", "F1800W", "F2100W", "F2550W")
_NIRISS_PUPILS = ("F090W", "F115W", "F150W", "F200W", "F140M", "F158M", "F277W", "F356W", "F444W")
_IFU_SETTINGS = (("G140M", "F070LP"), ("G140M", "F100LP"), ("G140H", "F100LP"), ("G235M", "F170LP"),
                 ("G235H", "F170LP"), ("G395M", "F290LP"), ("G395H", "F290LP"), ("PRISM", "CLEAR"))
_SW_SETS = (NIRCAM_SW_DETECTORS, NIRCAM_SW_DETECTORS[:4], NIRCAM_SW_DETECTORS[4:], ("NRCA1",), ("NRCB4",))
_LW_SETS = (NIRCAM_LW_DETECTORS, NIRCAM_LW_DETECTORS[:1], NIRCAM_LW_DETECTORS[1:])


def _program_layouts(program: int, rng) -> list[ExposureLayout]:
    """One program of the mixed archive: a subset of `_PROGRAM_MIX`'s observations, each with its own
    detectors, filters and dithers (4 to 12), at the program's own target."""
    ra, dec = float(rng.uniform(0, 360)), float(rng.uniform(-80, 80))
    common = dict(program=program, target_name=f"TARGET-{program}", target_ra=ra, target_dec=dec,
                  roll=float(rng.uniform(0, 360)))
    kept = sorted(rng.choice(len(_PROGRAM_MIX), size=int(rng.integers(3, 6)), replace=False))
    layouts = []
    for index in kept:
        observation, mode, exp_type, _ = _PROGRAM_MIX[index]
        dithers = int(rng.integers(4, 13))
        here = dict(common, observation=observation, exp_type=exp_type, dither_points=dithers)
        if mode == "nircam":  # short and long wavelength channels at once, each its own filter
            sw, lw = _SW_SETS[rng.integers(len(_SW_SETS))], _LW_SETS[rng.integers(len(_LW_SETS))]
            layouts.append(ExposureLayout(**here, detectors=sw, filter=str(rng.choice(_SW_FILTERS)), pupil="CLEAR"))
            layouts.append(ExposureLayout(**here, detectors=lw, filter=str(rng.choice(_LW_FILTERS)), pupil="CLEAR"))
        elif mode == "miri":
            layouts.append(ExposureLayout(**here, detectors=("MIRIMAGE",), filter=str(rng.choice(_MIRI_FILTERS)),
                                          pupil="N/A", dither_step_arcsec=5.0))
        elif mode == "niriss":
            layouts.append(ExposureLayout(**here, detectors=("NIS",), filter="CLEAR",
                                          pupil=str(rng.choice(_NIRISS_PUPILS)), dither_step_arcsec=8.0))
        elif mode == "nirspec_ifu":
            grating, filter_ = _IFU_SETTINGS[rng.integers(len(_IFU_SETTINGS))]
            detectors = ("NRS1",) if grating == "PRISM" or filter_ == "F070LP" else ("NRS1", "NRS2")
            layouts.append(ExposureLayout(**here, detectors=detectors, grating=grating, filter=filter_, pupil="N/A",
                                          dither_step_arcsec=0.4))
        else:
            layouts.append(ExposureLayout(**here, detectors=("MIRIFUSHORT", "MIRIFULONG"), filter="N/A", pupil="N/A",
                                          band=str(rng.choice(("SHORT", "MEDIUM", "LONG"))), dither_step_arcsec=0.5))
    return layouts


def _describe(layouts: list[ExposureLayout]) -> tuple:
    return tuple((l.observation, l.detectors, l.filter, l.pupil, l.grating, l.band, l.dither_points) for l in layouts)


def make_mixed_folder(directory: Path, n_files: int, seed: int = 24) -> Path:
    """A folder like a real archive's: ``n_files`` exposures of programs that each keep their own subset of
    one program's mix (NIRCam SW and LW imaging, MIRI imaging, NIRISS imaging, NIRSpec IFU, MIRI MRS; six
    observations, dithers of 4 to 12), with their own detectors, filters and targets. No two programs are
    alike: each program's observations and settings differ from every other's. The last program is cut
    short to make ``n_files``.

    Parameters
    ----------
    directory : pathlib.Path
        Where to write the exposures.
    n_files : int
        How many exposures.
    seed : int, optional
        The random generator's seed (the same folder for the same seed).

    Returns
    -------
    pathlib.Path
        ``directory``.
    """
    rng = np.random.default_rng(seed)
    seen: set[tuple] = set()
    written, program = 0, 1500
    while written < n_files:
        layouts = _program_layouts(program, rng)
        if _describe(layouts) in seen:  # a copy of an earlier program: draw again
            continue
        seen.add(_describe(layouts))
        for layout in layouts:
            for path in write_header_exposures(layout, directory):
                written += 1
                if written > n_files:
                    path.unlink()
        program += 1
    return directory


SHAPES = {"tidy": make_folder, "mixed": make_mixed_folder}


_MEASURE = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime)\n"
)


def timed(command, cwd, env, cpu: bool = False) -> tuple[float, ...]:
    """Wall seconds and peak RSS (GB) of one child command, measured in a wrapper of its own; with ``cpu``,
    also the CPU seconds (user and system) of the command and all its children and threads."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=cwd, env=env, check=True,
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak, cpu_s = result.stdout.split()[-2:]
    return (wall, int(peak) * 1024 / 1e9, float(cpu_s)) if cpu else (wall, int(peak) * 1024 / 1e9)


def bench_jwst_memest(folder: Path, env) -> dict:
    files = sorted(folder.glob("*_uncal.fits"))
    start = time.perf_counter()
    metadata = [read_exposure_metadata(p) for p in files]
    header_ms = (time.perf_counter() - start) / len(files) * 1e3

    estimator = resolve_estimator("image3")
    groups = [metadata[i : i + 40] for i in range(0, len(metadata), 40)]
    products = [(f"product{i}", group) for i, group in enumerate(groups)]
    estimate_products(products[:1], "image3", estimator=estimator)  # warm up
    repeats = max(1, 200 // len(products))
    start = time.perf_counter()
    for _ in range(repeats):
        estimate_products(products, "image3", estimator=estimator)
    warm_ms = (time.perf_counter() - start) / (repeats * len(products)) * 1e3

    out = Path(tempfile.mkdtemp())
    asn_dir = Path(tempfile.mkdtemp())
    subprocess.run([sys.executable, "-m", "jwst_memest.predict", str(folder), "--pid", "1234", "--obs", "1",
                    "--write-asn", str(asn_dir)], env=env, check=True, capture_output=True)
    asn = next(asn_dir.glob("*_asn.json"))
    cold_strun, rss_strun = timed(["strun", "memory_estimate", str(asn), "--search_path", str(folder)], out, env)
    return {
        "files": len(files),
        "header_ms_per_file": header_ms,
        "warm_ms_per_association_40": warm_ms,
        "cold_strun_s_one_asn": cold_strun,
        "cold_strun_peak_gb": rss_strun,
    }


# what every `strun` of a step name pays before the step: stpipe resolves the name by loading every
# installed package's step list, and jwst's (jwst.stpipe.integration) imports jwst.stpipe and its datamodels
_ALIAS_LOOKUP = "from stpipe import entry_points; entry_points.get_steps()"


def bench_strun_floor(env, repeats: int = 5) -> dict:
    """Cold `strun memory_estimate` of the bundled example against `strun --help` and against stpipe's own
    look-up of a step name, in rounds (one of each per round, so that each round sees the same load);
    medians."""
    from jwst_memest.example import example_association

    asn = str(example_association())
    rows = {"help": [], "lookup": [], "estimate": []}
    for _ in range(repeats):
        out = Path(tempfile.mkdtemp())
        # stpipe's strun exits 2 on --help alone (it wants a step too): its time is what is measured
        rows["help"].append(timed(["sh", "-c", "strun --help >/dev/null 2>&1 || true"], out, env)[0])
        rows["lookup"].append(timed([sys.executable, "-c", _ALIAS_LOOKUP], out, env)[0])
        rows["estimate"].append(timed(["strun", "memory_estimate", asn], out, env)[0])
    medians = {k: float(np.median(v)) for k, v in rows.items()}
    return {**medians, "runs": {k: [round(t, 2) for t in v] for k, v in rows.items()}}


def bench_spacekit(folder: Path, env, python: str | None) -> dict | None:
    """spacekit's JwstCalPredict on the same folder, cold (fresh interpreter) and warm.

    ``python`` is an interpreter with spacekit installed (it pins its own tensorflow, so a
    separate virtual environment is the usual home); None skips the peer.
    """
    if python is None:
        return None
    script = (
        "import logging, sys, time\n"
        "logging.disable(logging.CRITICAL)\n"
        "t = time.perf_counter()\n"
        "from spacekit.skopes.jwst.cal.predict import JwstCalPredict\n"
        "p = JwstCalPredict(input_path=sys.argv[1])\n"
        "p.run_inference()\n"
        "t1 = time.perf_counter()\n"
        "p2 = JwstCalPredict(input_path=sys.argv[1]); p2.run_inference()\n"
        "print(t1 - t, time.perf_counter() - t1)\n"
    )
    start = time.perf_counter()
    # spacekit unpacks its models and writes its log into the working directory
    result = subprocess.run([python, "-c", script, str(folder)], env=env, capture_output=True, text=True,
                            cwd=tempfile.mkdtemp())
    wall = time.perf_counter() - start
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    cold, warm = (float(x) for x in result.stdout.split()[-2:])
    return {"cold_s": wall, "first_inference_s": cold, "warm_s": warm}


_SPACEKIT_ONCE = (
    "import logging, sys\n"
    "logging.disable(logging.CRITICAL)\n"
    "from spacekit.skopes.jwst.cal.predict import JwstCalPredict\n"
    "JwstCalPredict(input_path=sys.argv[1]).run_inference()\n"
)


def bench_folder_mode(folder: Path, env, python: str | None, repeats: int) -> dict:
    """Cold folder mode and, when ``python`` has spacekit, spacekit's cold run on the same folder, alternating
    (ours, theirs, ours, ...) so that both see the same load; medians of ``repeats`` runs each.

    Each run is a fresh interpreter: import, read the folder, group, estimate. Peak memory is the
    largest process's (folder mode's header-reading and generating workers are forked children).
    """
    ours, theirs, peaks, ours_cpu, theirs_cpu = [], [], [], [], []
    for _ in range(repeats):
        wall, peak, cpu = timed([sys.executable, "-m", "jwst_memest.predict", str(folder)], Path(tempfile.mkdtemp()),
                                env, cpu=True)
        ours.append(wall)
        peaks.append(peak)
        ours_cpu.append(cpu)
        if python is not None:
            try:  # spacekit unpacks its models and writes its log into the working directory
                wall, _, cpu = timed([python, "-c", _SPACEKIT_ONCE, str(folder)], Path(tempfile.mkdtemp()), env,
                                     cpu=True)
            except subprocess.CalledProcessError:
                continue
            theirs.append(wall)
            theirs_cpu.append(cpu)
    return {
        "folder_mode_s": float(np.median(ours)), "folder_mode_runs_s": [round(t, 2) for t in ours],
        "folder_mode_cpu_s": float(np.median(ours_cpu)), "folder_mode_peak_gb": max(peaks),
        "spacekit_s": float(np.median(theirs)) if theirs else None,
        "spacekit_runs_s": [round(t, 2) for t in theirs],
        "spacekit_cpu_s": float(np.median(theirs_cpu)) if theirs_cpu else None,
        "load_average": round(os.getloadavg()[0], 1),
    }


def _python_with_spacekit() -> str | None:
    try:
        import spacekit  # noqa: F401
    except ImportError:
        return None
    return sys.executable


def bench_bundle_batch(n_products: int = 100) -> float:
    """Milliseconds per product to evaluate a bundle of the seed's image architecture on a batch."""
    from jwst_memest.features.schema import load_schema
    from jwst_memest.model.bundle import load_bundle, write_bundle
    from jwst_memest.model.upper import UpperBound

    schema = load_schema("image3")
    continuous = [f.name for f in schema.features if f.kind in ("continuous", "count")]
    rng = np.random.default_rng(0)
    sizes, layers, n_in = (18, 36, 72, 144, 72, 36, 18, 9, 1), [], len(schema)
    for size in sizes:
        layers.append({"weights": rng.normal(0, 0.1, (n_in, size)), "bias": np.zeros(size),
                       "activation": "relu" if size > 1 else "linear"})
        n_in = size
    path = write_bundle(
        Path(tempfile.mkdtemp()) / "image3.asdf", schema=schema,
        preprocessing={"method": "yeo-johnson+standardize", "continuous": continuous,
                       "lambdas": np.full(len(continuous), 0.1), "means": np.zeros(len(continuous)),
                       "sigmas": np.ones(len(continuous))},
        layers=layers, output_transform="log1p", upper_bound=UpperBound((0.95,), (1.1,), 1),
        model_name="benchmark", model_version="0", provenance={}, metrics={},
    )
    bundle = load_bundle(path)
    X = rng.uniform(0, 100, (n_products, len(schema)))
    bundle.estimate(X)
    repeats = 200
    start = time.perf_counter()
    for _ in range(repeats):
        bundle.estimate(X)
    return (time.perf_counter() - start) / (repeats * n_products) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,4000")
    parser.add_argument("--shapes", default="tidy,mixed", help="folder shapes: tidy (one instrument, "
                        "identical observations), mixed (an archive's mix of programs, no two alike)")
    parser.add_argument("--repeats", type=int, default=3, help="paired cold runs of folder mode and spacekit")
    parser.add_argument("--out", default="benchmarks/results/speed.md")
    parser.add_argument("--peer-python", help="python of an environment with spacekit installed (pip install spacekit)")
    args = parser.parse_args(argv)
    env = dict(os.environ, **CRDS_FREE, CRDS_PATH=tempfile.mkdtemp())
    peer_python = args.peer_python or _python_with_spacekit()
    tidy_rows, folder_rows = [], []
    for size in (int(s) for s in args.sizes.split(",")):
        for shape in args.shapes.split(","):
            folder = SHAPES[shape](Path(tempfile.mkdtemp()), size)
            if shape == "tidy":
                ours = bench_jwst_memest(folder, env)
                peer = bench_spacekit(folder, env, peer_python)
                tidy_rows.append((ours, peer))
                print(json.dumps({"jwst_memest": ours, "spacekit": peer}, indent=1))
            paired = bench_folder_mode(folder, env, peer_python, args.repeats)
            programs = len({p.name[2:7] for p in folder.glob("*_uncal.fits")})
            folder_rows.append((shape, size, programs, paired))
            print(json.dumps({"shape": shape, "files": size, "programs": programs, **paired}, indent=1))
            shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "Folder mode against spacekit, cold (a fresh interpreter each: import, read, group, estimate), "
        f"median of {args.repeats} alternating runs each; CPU s: user and system time of the run and all its "
        "processes and threads; load: the 1-minute load average after the runs (2-core machine).",
        "",
        "| folder | files | programs | folder mode s | runs | CPU s | folder peak GB (largest process) | "
        "spacekit s | runs | CPU s | spacekit / ours (wall; CPU) | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape, size, programs, paired in folder_rows:
        sk, sk_cpu = paired["spacekit_s"], paired["spacekit_cpu_s"]
        ratio = (f"{sk / paired['folder_mode_s']:.1f}x; {sk_cpu / paired['folder_mode_cpu_s']:.1f}x" if sk else "n/a")
        lines.append(
            f"| {shape} | {size} | {programs} | {paired['folder_mode_s']:.2f} | {paired['folder_mode_runs_s']} | "
            f"{paired['folder_mode_cpu_s']:.1f} | {paired['folder_mode_peak_gb']:.2f} | "
            f"{f'{sk:.2f}' if sk else 'n/a'} | {paired['spacekit_runs_s']} | {f'{sk_cpu:.1f}' if sk_cpu else 'n/a'} | "
            f"{ratio} | {paired['load_average']} |"
        )
    if tidy_rows:
        lines += [
            "",
            "Tidy folder (NIRCam SW, observations of 4 detectors x 10 dithers):",
            "",
            "| files | header read ms/file | warm ms/asn (40) | cold strun s (one asn) | strun peak GB | "
            "spacekit warm s |",
            "|---|---|---|---|---|---|",
        ]
        for ours, peer in tidy_rows:
            sk_warm = peer.get("warm_s") if peer else None
            lines.append(
                f"| {ours['files']} | {ours['header_ms_per_file']:.2f} | {ours['warm_ms_per_association_40']:.2f} | "
                f"{ours['cold_strun_s_one_asn']:.2f} | {ours['cold_strun_peak_gb']:.2f} | "
                f"{f'{sk_warm:.2f}' if sk_warm else 'n/a'} |"
            )
    floor = bench_strun_floor(env)
    gap = floor["estimate"] - floor["help"]
    lookup = floor["lookup"] - floor["help"]
    lines += [
        "",
        f"Cold `strun memory_estimate` of the bundled example: {floor['estimate']:.2f} s against "
        f"{floor['help']:.2f} s for `strun --help` (medians of {len(floor['runs']['help'])} rounds, one of each "
        f"per round): {gap:.2f} s more. Of it, {lookup:.2f} s is stpipe's look-up of the step's name, which every "
        "`strun` of a step pays and `strun --help` does not: stpipe loads every installed package's step list, "
        "and jwst's imports jwst.stpipe and its datamodels (`python -c '" + _ALIAS_LOOKUP + "'`, "
        f"{floor['lookup']:.2f} s, minus `strun --help`, which imports stpipe too); the rest, {gap - lookup:.2f} s, "
        "is the step's own import and run. "
        f"Runs (s): {floor['runs']}.",
    ]
    per_product = bench_bundle_batch()
    lines += ["", f"Bundle evaluation (seed image architecture, numpy), batch of 100 products: {per_product * 1e3:.1f} µs per product."]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
