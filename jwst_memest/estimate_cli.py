"""``jwst-memest estimate``: the step on the command line, with a parser of its own.

The association may come first or last and the options anywhere; the options are the step's own
parameters (read from its spec, with their help text and limits) and ``--output_dir`` /
``--output_file``. The Level-3 run's own arguments (``--steps.resample.pixel_scale=0.02``) are
taken as the pipeline takes them and travel in ``pipeline_arguments``.

Quiet by default: the estimate table on stdout; real warnings and the written path on stderr.
``-v`` / ``--verbose`` shows the step's log too (stpipe's parameter dump and the rest). Every bad
input or option is one line on stderr and exit status 2; status 3 when some products could not be
estimated (the others are written).
"""

from __future__ import annotations

import logging
import re
import shlex
import sys

from jwst_memest.cli_support import CommandParser, MessageFormatter, program, quiet_broken_pipe, report_error
from jwst_memest.settings import parse_boolean

__all__ = ["main", "build_parser", "OUTPUT_PARAMETERS"]

# stpipe's own parameters that mean something for this step
OUTPUT_PARAMETERS = {
    "output_dir": "directory for the annotated association (default: the current directory)",
    "output_file": "name of the annotated association (default: <association>_memest.json)",
}

_KIND = {"float": "a number", "integer": "an integer", "boolean": "true or false", "string": "a string"}


def _step_parameters() -> dict[str, tuple[str, str]]:
    """The step's parameters as (configobj check, help), its own first, then the output ones."""
    from jwst_memest.step import MemoryEstimateStep

    spec = MemoryEstimateStep.load_spec_file()
    own = re.findall(r"^\s*(\w+)\s*=", MemoryEstimateStep.spec, flags=re.MULTILINE)
    names = [name for name in own if name in spec] + [name for name in OUTPUT_PARAMETERS if name in spec]
    parameters = {}
    for name in names:
        comment = (spec.inline_comments.get(name) or "").lstrip("# ").strip()
        parameters[name] = (str(spec[name]), OUTPUT_PARAMETERS.get(name, comment))
    return parameters


def _converter(name: str, check: str):
    """The argparse ``type`` of a parameter: its kind and bounds from the configobj check."""
    from jwst_memest.step import describe_check

    kind = check.partition("(")[0].strip()
    bounds = dict(re.findall(r"\b(min|max)\s*=\s*([^,)\s]+)", check))
    allowed = describe_check(check)

    def convert(text: str):
        if kind == "boolean":
            try:
                return parse_boolean(text)
            except ValueError:
                raise _invalid(allowed, text) from None
        if kind in ("float", "integer"):
            try:
                value = float(text) if kind == "float" else int(text)
            except ValueError:
                raise _invalid(allowed, text) from None
            if value != value or ("min" in bounds and value < float(bounds["min"])) or (
                    "max" in bounds and value > float(bounds["max"])):
                raise _invalid(allowed, text)
            return value
        return text

    convert.__name__ = _KIND.get(kind, kind)  # argparse names the type in its own messages
    return convert


def _invalid(allowed: str, text: str):
    import argparse

    return argparse.ArgumentTypeError(f"must be {allowed}, not {text!r}")


_METAVARS = {"model_path": "FILE", "search_path": "DIR[:DIR...]", "pipeline_arguments": "'ARGS'",
             "pipeline_config": "FILE", "output_dir": "DIR", "output_file": "FILE", "memory_limit": "GB",
             "max_request_gb": "GB", "upper_quantile": "Q"}


def _metavar(name: str, check: str) -> str:
    kind = check.partition("(")[0].strip()
    return _METAVARS.get(name) or {"boolean": "{true,false}", "float": "X", "integer": "N"}.get(kind, "VALUE")


def build_parser() -> CommandParser:
    """The parser of ``jwst-memest estimate``: the association and the step's parameters.

    Returns
    -------
    jwst_memest.cli_support.CommandParser
        The parser, with one option per step parameter (its kind and limits from the step's spec).
    """
    parser = CommandParser(
        prog=program("jwst-memest estimate"),
        usage="%(prog)s [options] ASSOCIATION [--steps.STEP.PARAMETER=VALUE ...]",
        description="Estimate the peak memory of every product of a Level-3 association and write the "
                    "association back, annotated; or of the stages before Level 3 of one exposure (an uncal "
                    "file: calwebb_detector1 then Level 2; a rate or rateints file: Level 2), written as "
                    "<exposure>_memest.json; or of each exposure of a Level-2 association (the memory_estimate "
                    "step; strun memory_estimate takes the same parameters).",
        epilog="The input may come first or last, the options anywhere. The run's own "
               "arguments that change memory are given as to the pipeline, e.g. "
               "--steps.resample.pixel_scale_ratio=0.6 --in_memory=false. Exit status: 0 done, 2 bad input "
               "or option (one line on stderr), 3 some products not estimated (the others are written).",
    )
    parser.add_argument("association", nargs="*", metavar="ASSOCIATION",
                        help="a Level-3 or Level-2 association (.json), or an exposure (.fits): uncal, rate or rateints")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the step's log too (its parameters, each stage), not only warnings")
    for name, (check, text) in _step_parameters().items():
        parser.add_argument(f"--{name}", type=_converter(name, check), metavar=_metavar(name, check),
                            help=text.replace("%", "%%"))
    return parser


def _split_pipeline_arguments(argv: list[str]) -> tuple[list[str], list[str]]:
    """This command's arguments, and the Level-3 run's ``--steps.*`` ones (``=value`` or a value after)."""
    own, steps = [], []
    tokens = iter(argv)
    for token in tokens:
        if token.startswith("--steps."):
            if "=" not in token:
                value = next(tokens, None)
                token = token if value is None else f"{token}={value}"
            steps.append(token)
        else:
            own.append(token)
    return own, steps


def main(argv=None) -> int:
    """Run ``jwst-memest estimate ASSOCIATION [options] [--steps.STEP.PARAMETER=VALUE ...]``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 bad input or option, 3 some products not estimated.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    own, steps = _split_pipeline_arguments(argv)
    args = parser.parse_intermixed_args(own)
    if len(args.association) != 1:
        given = "none" if not args.association else f"{len(args.association)} ({', '.join(args.association[:3])})"
        parser.error(f"expected one association file, got {given}")
    parameters = {name: value for name, value in vars(args).items()
                  if name not in ("association", "verbose") and value is not None}
    if steps:
        parameters["pipeline_arguments"] = shlex.join(
            shlex.split(parameters.get("pipeline_arguments") or "") + steps)
    with quiet_broken_pipe():
        return _run(args.association[0], parameters, args.verbose, parser.prog)


def _run(association: str, parameters: dict, verbose: bool, prog: str) -> int:
    from stpipe import _log

    from jwst_memest.estimate_records import estimate_table
    from jwst_memest.step import MemoryEstimateError, MemoryEstimateStep, ProductsNotEstimatedError

    log_config = _log.LogConfig("stderr", level=logging.INFO if verbose else logging.WARNING)
    if not verbose:
        for handler in log_config.handlers:
            handler.setFormatter(MessageFormatter())
            # the step's own error line: this command prints it once, as its last line
            handler.addFilter(lambda record: not getattr(record, "memest_exit", False))
    with log_config.context(MemoryEstimateStep.get_stpipe_loggers()):
        step = MemoryEstimateStep(**parameters)
        try:
            step.run(association)
        except ProductsNotEstimatedError as exc:
            _report(step, estimate_table)
            return report_error(exc, prog, exc.exit_status)
        except MemoryEstimateError as exc:
            return report_error(exc, prog, exc.exit_status)
    _report(step, estimate_table)
    return 0


def _report(step, estimate_table) -> None:
    """The table on stdout, the written path on stderr."""
    result = getattr(step, "estimation", None)
    if result is not None and hasattr(result, "products"):
        if result.products:
            print(estimate_table(result.products), flush=True)
    elif result is not None:  # one exposure's stages before Level 3
        from jwst_memest.exposure_estimate import exposure_table

        print(exposure_table(result if isinstance(result, list) else [result]), end="", flush=True)
    written = getattr(step, "written_path", None)
    if written is not None:
        print(f"wrote {written}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
