"""``python -m jwst_memest.model list | show PATH``: the installed estimators, a bundle's contents.

Converting spacekit's models is training's: ``python -m jwst_memest.training convert-spacekit``
(``jwst-memest train convert-spacekit``); ``import-spacekit`` here only says so.
"""

from __future__ import annotations

import argparse
import os
import sys

from jwst_memest.cli_support import CommandParser, program
from jwst_memest.model.bundle import BundleError, load_bundle
from jwst_memest.model.registry import installed_bundles, resolve_estimator


def _list() -> int:
    print(f"{'pipeline':<8}  {'estimator':<28}  {'version':<8}  source")
    for pipeline, path, source in installed_bundles():
        estimator = resolve_estimator(pipeline)
        where = f"{source}: {path}" if path else source
        print(f"{pipeline:<8}  {estimator.name:<28}  {str(estimator.version):<8}  {where}")
    return 0


def _show(path: str) -> int:
    bundle = load_bundle(path)
    tree = bundle.tree
    print(f"bundle      {path}")
    print(f"model       {bundle.name} {bundle.version} ({tree['model']['kind']}), for calwebb_{bundle.pipeline}")
    print(f"created     {bundle.created}")
    print(f"checksum    sha256:{bundle.checksum}")
    print(f"features    {len(bundle.feature_names)} ({tree['features']['feature_set']} schema v{tree['features']['schema_version']})")
    layers = " -> ".join(f"{l.weights.shape[1]} {l.activation}" for l in bundle.layers)
    print(f"network     {len(bundle.feature_names)} -> {layers}; output {tree['output']['transform']}")
    if bundle.kind == "hybrid":
        base = tree["baseline"]
        print(f"corrects    physics baseline {base['pipeline']} version {base['version']} (sha256:{base['checksum']}): "
              "GB = baseline x exp(network)")
        ranges = tree["input_ranges"]
        print(f"clipped to  training ranges of {len(ranges['features'])} features: "
              + ", ".join(f"{n} {lo:.4g}..{hi:.4g}" for n, lo, hi in zip(ranges["features"], ranges["min"], ranges["max"])))
    print("provenance")
    for key, value in tree["provenance"].items():
        print(f"  {key}: {value}")
    print("held-out metrics")
    for key, value in tree["metrics"].get("held_out", {}).items():
        print(f"  {key}: {value}")
    ub = bundle.upper_bound
    print(f"upper bound {ub.method} on {ub.n_rows} rows ({ub.source})")
    for q, f in zip(ub.quantiles, ub.factors):
        print(f"  q={q:<5} x{f:.3f}")
    return 0


MOVED = ("converting spacekit's models is a training command now: "
         "python -m jwst_memest.training convert-spacekit --out DIR (jwst-memest train convert-spacekit)")


def main(argv=None) -> int:
    parser = CommandParser(prog=program("python -m jwst_memest.model"), description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the estimator each Level-3 pipeline uses")
    show = commands.add_parser("show", help="a bundle's provenance, metrics and upper-bound calibration")
    show.add_argument("path")
    moved = commands.add_parser("import-spacekit", help="moved: python -m jwst_memest.training convert-spacekit")
    moved.add_argument("--out", default=".", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.command == "import-spacekit":
        print(f"error: {MOVED}", file=sys.stderr)
        return 2
    try:
        return _list() if args.command == "list" else _show(args.path)
    except BrokenPipeError:  # the reader stopped early (| head): not an error of this command
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (BundleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
