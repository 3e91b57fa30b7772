"""``python -m jwst_memest.model list | show PATH | import-spacekit``: estimators, bundles, spacekit's models."""

from __future__ import annotations

import argparse
import os
import sys

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


def _import_spacekit(out: str) -> int:
    import os

    from jwst_memest.training.spacekit_import import import_spacekit

    # tensorflow's own start-up lines are not this command's output
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        paths = import_spacekit(out)
    except ImportError as exc:  # spacekit installed without the Keras its models need
        raise ValueError(f"converting spacekit's models needs its Keras (pip install 'jwst_memest[spacekit]'): "
                         f"{exc}") from None
    for path in paths:
        bundle = load_bundle(path)
        print(f"{bundle.pipeline:<8}  {path}  ({bundle.name} {bundle.version}, {bundle.feature_set} features)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jwst_memest.model", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the estimator each Level-3 pipeline uses")
    show = commands.add_parser("show", help="a bundle's provenance, metrics and upper-bound calibration")
    show.add_argument("path")
    spacekit = commands.add_parser("import-spacekit",
                                   help="convert the installed spacekit's JWST cal models to bundles")
    spacekit.add_argument("--out", default=".",
                          help="folder for spacekit_image3.asdf and spacekit_spec3.asdf (default: .)")
    args = parser.parse_args(argv)
    try:
        if args.command == "import-spacekit":
            return _import_spacekit(args.out)
        return _list() if args.command == "list" else _show(args.path)
    except BrokenPipeError:  # the reader stopped early (| head): not an error of this command
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (BundleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
