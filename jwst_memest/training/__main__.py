"""``python -m jwst_memest.training -d train_dir [...]``: train, cross-validate, report, package.

``python -m jwst_memest.training convert-spacekit [--out DIR]`` (``jwst-memest train convert-spacekit``)
converts the installed spacekit's pretrained JWST cal models to bundles.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from jwst_memest.cli_support import CommandParser, program
from jwst_memest.atomic import atomic_write
from jwst_memest.pipelines import EXP_MODE_FEATURE_SET

__all__ = ["main", "convert_spacekit"]


def _layer_sizes(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        sizes = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--layers {text!r}: expected comma-separated integers such as 18,36,72") from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--layers {text!r}: expected positive layer sizes")
    return sizes


@contextlib.contextmanager
def _native_stderr_to_file():
    """Send what native libraries write to file descriptor 2 to a file; Python's ``sys.stderr`` keeps the terminal.

    tensorflow writes a few lines through absl before its logging is initialised, and no
    environment variable silences them (TF_CPP_MIN_LOG_LEVEL does not reach them in
    tensorflow 2.21). Only done when ``sys.stderr`` is the process' own (not under a capture);
    yields the file's path, or None when nothing was redirected.
    """
    if sys.stderr is not sys.__stderr__:
        yield None
        return
    sys.stderr.flush()
    saved = os.dup(2)
    fd, path = tempfile.mkstemp(prefix="jwst_memest-tensorflow-", suffix=".log")
    os.dup2(fd, 2)
    os.close(fd)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace")
    try:
        yield Path(path)
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def convert_spacekit(argv=None) -> int:
    """``convert-spacekit [--out DIR]``: the installed spacekit's JWST cal models as bundles in DIR.

    Prints each bundle written; a missing spacekit or Keras, or a folder that cannot be written,
    is one line on stderr and exit status 2.
    """
    from jwst_memest.model.bundle import BundleError, load_bundle

    parser = CommandParser(prog=program("python -m jwst_memest.training convert-spacekit"),
                                     description="convert the installed spacekit's JWST cal models to bundles")
    parser.add_argument("--out", default=".",
                        help="folder for spacekit_image3.asdf and spacekit_spec3.asdf (default: .)")
    args = parser.parse_args(argv)
    # tensorflow's own start-up lines are not this command's output
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from jwst_memest.training import spacekit_import

    try:
        try:
            paths = spacekit_import.import_spacekit(args.out)
        except ImportError as exc:  # spacekit installed without the Keras its models need
            raise ValueError(f"converting spacekit's models needs its Keras (pip install 'jwst_memest[spacekit]'): "
                             f"{exc}") from None
        for path in paths:
            bundle = load_bundle(path)
            print(f"{bundle.pipeline:<8}  {path}  ({bundle.name} {bundle.version}, {bundle.feature_set} features)")
    except (BundleError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["convert-spacekit"]:
        return convert_spacekit(argv[1:])
    parser = CommandParser(
        prog=program("python -m jwst_memest.training"), description=__doc__.splitlines()[0],
        epilog="python -m jwst_memest.training convert-spacekit [--out DIR]: convert the installed spacekit's "
               "JWST cal models to bundles")
    parser.add_argument("-d", "--data", required=True, nargs="+",
                        help="train_dir holding train-<mode>.csv, or CSV(s) of one format (corpus or table), pooled")
    parser.add_argument("--exp-mode", default="image", choices=list(EXP_MODE_FEATURE_SET))
    parser.add_argument("--early-stopping", choices=["val_rmse", "val_loss"])
    parser.add_argument("-k", "--cross-val", type=int, default=0, help="folds (0: one 80/20 split)")
    parser.add_argument("--norm", type=int, default=1, choices=[0, 1], help="Yeo-Johnson + standardisation (1)")
    parser.add_argument("--threshold", type=float, default=50, help="GB: large products spread over test splits")
    parser.add_argument("--stratify", action="store_true", help="keep a product >= threshold in every test split")
    parser.add_argument("-o", "--out", help="output folder (default YYYY-MM-DD_<unix time>); an existing one is added to")
    parser.add_argument("--layers", help="comma-separated layer sizes (default: the seed's for the mode)")
    parser.add_argument("--activation", default="relu")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--target", default="log1p", choices=["log1p", "physics-ratio"],
                        help="what the network learns: log1p(GB) (default), or physics-ratio: a hybrid correction "
                             "log(measured / physics baseline) applied to the baseline")
    parser.add_argument("--install", action="store_true", help="install the final bundle where the step finds it")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show tensorflow's own logging and Keras' per-epoch lines")
    args = parser.parse_args(argv)
    if args.verbose:
        return _run(args)[0]
    # read once, when tensorflow is imported: before anything imports it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_to_file() as native_log:
        status, out = _run(args)
    if native_log is not None:
        # kept beside the run's outputs for diagnosis
        if out is not None and out.is_dir() and native_log.stat().st_size:
            with native_log.open("rb") as written, atomic_write(out / "tensorflow.log", "wb") as kept:
                shutil.copyfileobj(written, kept)
            native_log.unlink()
        else:
            native_log.unlink(missing_ok=True)
    return status


def _run(args) -> tuple[int, Path | None]:
    """Train as the arguments say; returns the exit status and the run's output folder (None before it exists)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    from jwst_memest.training.train import JwstCalTrain

    out = None
    try:
        trainer = JwstCalTrain(
            training_data=args.data, out=args.out, exp_mode=args.exp_mode, norm=args.norm, cross_val=args.cross_val,
            early_stopping=args.early_stopping, threshold=args.threshold,
            layers=_layer_sizes(args.layers), activation=args.activation,
            epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
            target=args.target, verbose=args.verbose,
        )
        out = trainer.out
        bundle = trainer.main(stratify=args.stratify)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2, out
    except ImportError as exc:  # tensorflow, pandas, scikit-learn, matplotlib or tqdm missing
        print(f"error: training needs the train extra (pip install 'jwst_memest[train]'): {exc}", file=sys.stderr)
        return 2, out
    print(f"bundle: {bundle}")
    if args.install:
        from jwst_memest.model.registry import install_bundle

        try:
            print(f"installed: {install_bundle(bundle, trainer.data.pipeline)}")
        except ValueError as exc:  # BundleError: the message names the file and the problem
            print(f"error: {exc}", file=sys.stderr)
            return 2, out
    return 0, out


if __name__ == "__main__":
    sys.exit(main())
