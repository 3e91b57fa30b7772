"""calwebb_spec3 of WFSS on cal files whose slits carry the grism WCS of the operational structure.

Usage (from the repository root, with the project's virtualenv active)::

    python benchmarks/spec3_wfss_wcs.py --instrument nircam --sources 200 --members 3

calwebb_spec2 runs first on a synthetic full-frame WFSS rate with the references of
``jwst_memest.profile.wfss_references`` (the NIRCam or NIRISS grism WCS in the operational
structure), keeping its cal file; the cal file is copied to ``--members`` exposures (EXPOSURE and
FILENAME set apart), which form one spec3 product (jwst's ``asn_from_list``). The product is
estimated (``jwst-memest estimate``, with and without what its slits' trees add), then
calwebb_spec3 runs on it under the project's monitor (``jwst_memest.profile.run.profile_association``).
One Markdown table row per run is printed (and appended to ``--out``): tree per slit, measured,
estimated, bound, and estimate and bound without the trees' count; results in
``benchmarks/results/spec3-wfss-wcs.md``. A run of 200 NIRCam sources (400
cutouts) x 3 members takes about 80 minutes on one core (NIRISS 150 x 3: 23). Nothing contacts CRDS.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LAYOUTS = {
    "nircam": {"exp_type": "NRC_WFSS", "detectors": ["NRCALONG"], "filter": "F444W", "pupil": "GRISMR", "ngroups": 5},
    "niriss": {"exp_type": "NIS_WFSS", "detectors": ["NIS"], "filter": "GR150C", "pupil": "F200W", "ngroups": 5},
}


def _spec2_cal(params: dict, folder: Path) -> Path:
    from jwst_memest.profile.image2 import image2_layout
    from jwst_memest.profile.level2 import default_level2_reference_cache, level2_exposure
    from jwst_memest.profile.run import crds_free_env, pipeline_runner

    found = sorted(folder.glob("*_cal.fits"))
    if found:  # a cal file made by an earlier run of this script
        return found[0]
    exposure, arguments = level2_exposure("spec2", image2_layout(params), folder,
                                          Path(default_level2_reference_cache("spec2")), 1)
    with open(folder / "spec2.log", "w") as log:
        subprocess.run([pipeline_runner(), "calwebb_spec2", str(exposure), *arguments], cwd=folder,
                       env=crds_free_env(folder / "crds"), stdout=log, stderr=subprocess.STDOUT, check=True)
    return sorted(folder.glob("*_cal.fits"))[0]


def _members(cal: Path, n_members: int, folder: Path, product: str) -> Path:
    from astropy.io import fits
    from jwst.associations.asn_from_list import asn_from_list
    from jwst.associations.lib.rules_level3_base import DMS_Level3_Base

    names = []
    for number in range(1, n_members + 1):
        member = folder / cal.name.replace("_00001_", f"_{number:05d}_")
        shutil.copy(cal, member)
        with fits.open(member, mode="update") as hdul:
            hdul[0].header["EXPOSURE"] = f"{number:05d}"
            hdul[0].header["FILENAME"] = member.name
        names.append(member.name)
    association = asn_from_list(names, rule=DMS_Level3_Base, product_name=product)
    association["asn_type"] = "spec3"
    path = folder / f"{product}_asn.json"
    path.write_text(association.dump()[1])
    return path


def _estimates(asn: Path) -> tuple[float, float, float, float, float]:
    """(estimate, bound, estimate and bound without the trees' count, tree bytes per slit)."""
    from jwst_memest.estimation import estimate_association, estimate_products
    from jwst_memest.member_metadata import read_association_members

    counted = estimate_association(asn).products[0]
    _, products, _ = read_association_members(asn)
    name, members, _ = products[0]
    plain = estimate_products([(name, [dataclasses.replace(m, tree_bytes=0) for m in members])], "spec3")[0]
    return (counted.gb_size, counted.upper_bound_gb, plain.gb_size, plain.upper_bound_gb,
            counted.features.slit_tree_bytes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/spec3_wfss_wcs.py", description=__doc__.splitlines()[0])
    parser.add_argument("--instrument", choices=sorted(LAYOUTS), default="nircam")
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--work", default=None, help="folder kept between runs (default: a temporary one)")
    parser.add_argument("--out", default=None, help="Markdown table to append the row to (default: print it)")
    args = parser.parse_args(argv)

    from jwst_memest.profile.run import crds_free_env

    work = Path(args.work or tempfile.mkdtemp(prefix="memest-spec3-wcs-"))
    os.environ.update(crds_free_env(work / "crds"))
    from jwst_memest.profile.run import profile_association
    from jwst_memest.profile.spectra import spec3_arguments

    params = {**LAYOUTS[args.instrument], "n_slits": args.sources}
    spec2 = work / f"{args.instrument}-{args.sources}"
    spec2.mkdir(parents=True, exist_ok=True)
    cal = _spec2_cal(params, spec2)
    product = f"{args.instrument}_{args.sources}x{args.members}"
    spec3 = work / product
    spec3.mkdir(exist_ok=True)
    asn = _members(cal, args.members, spec3, product)
    gb, bound, plain_gb, plain_bound, tree = _estimates(asn)
    references = work / "references"
    references.mkdir(exist_ok=True)
    row = profile_association(asn, pipeline_args=spec3_arguments(params["exp_type"], references),
                              log_path=spec3 / "spec3.log")
    line = (f"| {args.instrument} | {args.sources} | {args.members} | {tree / 1e3:.1f} | {row['measured_gb']:.3f} "
            f"| {gb:.3f} | {bound:.3f} | {plain_gb:.3f}, {plain_bound:.3f} | {row['wall_s']:.0f} | {row['status']} |")
    if args.out:
        with open(args.out, "a") as table:
            table.write(line + "\n")
    print(line)
    print(f"{product}: measured {row['measured_gb']:.3f} GB; estimated {gb:.3f} (bound {bound:.3f}); "
          f"without the trees' count {plain_gb:.3f} ({plain_bound:.3f})", file=sys.stderr)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if row["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
