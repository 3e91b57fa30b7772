"""Folder mode on the command line: ``python -m jwst_memest.predict FOLDER`` (``jwst-memest predict``).

Options carry the step's parameter names (``--model_path``, ``--upper_quantile``, ``--in_memory``,
``--max_request_gb``, ``--pipeline_config``); every option is also accepted with dashes for
underscores (``--exp-modes``, ``--write-asn``, ``--on-disk``), and ``--model``, ``--quantile`` stay
accepted. The Level-3 runs' own settings are given as to the pipeline
(``--steps.resample.pixel_scale_ratio=0.6``).

Quiet by default: the table on stdout; exposures left out, products' warnings and written files on
stderr; ``-v`` for the rest of the log. Every bad input or option is one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from jwst_memest.cli_support import CommandParser, MessageFormatter, program, quiet_broken_pipe, report_error
from jwst_memest.settings import RunSettings, parse_boolean

__all__ = ["main", "build_parser"]


def _boolean(text: str) -> bool:
    try:
        return parse_boolean(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be true or false, not {text!r}") from None


def _quantile(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.5 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0.5 to 1.0, not {text!r}")
    return value


def _gigabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, not {text!r}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _exp_modes(text: str) -> list[str]:
    from jwst_memest.pipelines import EXP_MODE_PIPELINES

    modes = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in EXP_MODE_PIPELINES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f"unknown exp mode {', '.join(unknown) or repr(text)}; "
                                         f"expected one or more of {', '.join(EXP_MODE_PIPELINES)}")
    return modes


def build_parser() -> CommandParser:
    """The parser of folder mode (``python -m jwst_memest.predict``).

    Returns
    -------
    jwst_memest.cli_support.CommandParser
        The parser; the Level-3 runs' ``--steps.*`` arguments are left to the caller.
    """
    parser = CommandParser(
        prog=program("python -m jwst_memest.predict"),
        description="Estimate the peak memory (GB) of every Level-3 product a folder of JWST exposures will make.",
        epilog="The Level-3 runs' own step arguments are taken as the pipeline takes them, e.g. "
               "--steps.resample.pixel_scale_ratio=0.6 --steps.resample.enable_ctx=false. Options may also be "
               "spelled with dashes (--exp-modes). Exit status: 0 done (also when no product forms), 2 bad "
               "input or option (one line on stderr).",
    )
    parser.add_argument("input_path", help="folder of exposures")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the whole log, not only warnings")
    parser.add_argument("--pid", type=int, help="program id to select")
    parser.add_argument("--obs", type=int, help="observation number to select (with --pid)")
    parser.add_argument("--sfx", default="_uncal.fits", help="file name suffix of the exposures (default _uncal.fits)")
    parser.add_argument("--exp_modes", type=_exp_modes, default="image,spec", metavar="MODES",
                        help="comma-separated: image, spec (default both)")
    # the step's parameter names; the earlier spellings stay accepted
    parser.add_argument("--model_path", "--model", dest="model_path", metavar="FILE", help="model bundle (.asdf) to use")
    parser.add_argument("--in_memory", type=_boolean, default=True, metavar="{true,false}",
                        help="in_memory of the Level-3 runs to size (default true)")
    parser.add_argument("--on_disk", dest="in_memory", action="store_false", help="same as --in_memory=false")
    parser.add_argument("--upper_quantile", "--quantile", dest="quantile", type=_quantile, default=0.95, metavar="Q",
                        help="quantile of the calibrated upper bound, 0.5 to 1.0 (default 0.95)")
    parser.add_argument("--max_request_gb", type=_gigabytes, metavar="GB",
                        help="GB; cap of the memory request (default: no cap)")
    parser.add_argument("--discover", action="store_true", help="also run jwst's discovery pass (slower)")
    parser.add_argument("--workers", type=_workers, metavar="N",
                        help="processes generating associations (default: one per CPU this process may use)")
    parser.add_argument("--write_asn", metavar="DIR",
                        help="write the generated associations, annotated, to the directory DIR (made if absent; "
                             "associations of the same name in it are replaced); members are named by file name, "
                             "so put them beside the cal files to run the pipeline")
    parser.add_argument("--output", metavar="FILE",
                        help="write every estimate to FILE (replaced if it exists): JSON (.json) or CSV (.csv)")
    parser.add_argument("--pipeline_config", metavar="FILE",
                        help="the Level-3 runs' parameter file (.asdf or .cfg), read for the settings that change memory")
    return parser


def _check_outputs(args) -> None:
    """Refuse outputs that cannot be written before the folder is read: one line naming the path."""
    if args.output:
        output = Path(args.output)
        if output.suffix.lower() not in (".json", ".csv"):
            raise ValueError(f"{args.output}: --output must end in .json or .csv")
        if output.is_dir():
            raise ValueError(f"{args.output}: --output is a directory; give a file name ending in .json or .csv")
        if not output.parent.is_dir():
            raise ValueError(f"{args.output}: --output's directory {output.parent} does not exist")
    if args.write_asn:
        target = Path(args.write_asn)
        if target.exists() and not target.is_dir():
            raise ValueError(f"{args.write_asn}: --write_asn needs a directory, and a file of that name exists")
        parent = next((p for p in [target, *target.parents] if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise ValueError(f"{args.write_asn}: --write_asn cannot be made: {parent} is a file")


def main(argv=None) -> int:
    """Run folder mode: ``python -m jwst_memest.predict FOLDER [options]``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``); ``--steps.<step>.<name>=...``
        arguments are the Level-3 runs' own settings.

    Returns
    -------
    int
        The exit status: 0 done (also when no product forms), 2 bad input or option.
    """
    from jwst_memest.estimate_records import estimate_table
    from jwst_memest.exposure_estimate import exposure_table
    from jwst_memest.predict import JwstCalPredict

    parser = build_parser()
    args, step_arguments = parser.parse_known_args(argv)
    unknown = [a for a in step_arguments if not a.startswith("--steps.")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _configure_log(args.verbose)
    with quiet_broken_pipe():
        try:
            _check_outputs(args)
            settings = RunSettings(in_memory=args.in_memory)
            if args.pipeline_config:
                settings = RunSettings.from_parameter_file(args.pipeline_config, settings)
            settings = RunSettings.from_arguments(step_arguments, settings)
            predictor = JwstCalPredict(
                args.input_path, pid=args.pid, obs=args.obs, sfx=args.sfx, exp_modes=args.exp_modes,
                model_path=args.model_path, quantile=args.quantile, settings=settings,
                max_request_gb=args.max_request_gb, discover=args.discover, workers=args.workers,
            )
            predictor.run_inference()
            if args.write_asn:
                for path in predictor.write_associations(args.write_asn):
                    print(f"wrote {path}", file=sys.stderr)
            if args.output:
                print(f"wrote {predictor.write_estimates(args.output)}", file=sys.stderr)
        except (ValueError, OSError) as exc:
            return report_error(exc, parser.prog)
        if predictor.exposure_estimates:
            print(exposure_table(predictor.exposure_estimates), flush=True)
        if not predictor.estimates:
            print("no Level-3 products formed from these exposures", file=sys.stderr)
            return 0
        print(estimate_table(predictor.estimates), flush=True)
        for estimate in predictor.estimates:
            for warning in estimate.warnings:
                print(f"warning: {estimate.product}: {warning}", file=sys.stderr)
    return 0


def _configure_log(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MessageFormatter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


if __name__ == "__main__":
    sys.exit(main())
