"""``jwst-memest <command> ...``: every jwst_memest tool behind one command.

Each command runs the same code as its ``python -m`` / ``strun`` form, with the same options.
Exit status everywhere: 0 done, 2 bad input (a file, an option or a parameter), and the
command's own documented codes (``estimate``: 3 when some products could not be estimated).
"""

from __future__ import annotations

import importlib
import shlex
import sys

__all__ = ["COMMANDS", "main"]

# command -> (module whose main(argv) runs it, what it does)
COMMANDS = {
    "estimate": ("jwst_memest.cli:_estimate", "estimate every product of a Level-3 association (the stpipe step)"),
    "predict": ("jwst_memest.predict", "folder mode: form the Level-3 products of a folder of exposures and estimate them"),
    "train": ("jwst_memest.training.__main__", "train and export a model bundle from corpus or training tables"),
    "ingest": ("jwst_memest.training.ingest", "turn operations metadata into training tables"),
    "models": ("jwst_memest.model.__main__", "list the installed estimators, show a bundle, import spacekit's models"),
    "profile": ("jwst_memest.profile.__main__", "measure real pipeline runs: run, corpus, fit-baseline"),
}

_USAGE = "usage: jwst-memest {" + ",".join(COMMANDS) + "} ...\n\n" + "\n".join(
    f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()
) + "\n\n`jwst-memest COMMAND --help` for a command's options.\n"


def _estimate(argv: list[str]) -> int:
    """``strun jwst_memest.MemoryEstimateStep ARGS``: the step's own parameters, parameter files and exit codes."""
    from stpipe import Step
    from stpipe.exceptions import StpipeExitException

    argv = _positionals_first(argv)
    # the Level-3 run's own step arguments, written as for the pipeline, travel in pipeline_arguments
    steps = [a for a in argv if a.startswith("--steps.")]
    if steps:
        argv = [a for a in argv if not a.startswith("--steps.")] + ["--pipeline_arguments=" + shlex.join(steps)]
    try:
        Step.from_cmdline(["jwst_memest.MemoryEstimateStep", *argv])
    except StpipeExitException as exc:
        return exc.exit_status
    except SystemExit as exc:  # argparse's --help (0) and usage errors (2)
        return int(exc.code or 0)
    return 0


def _positionals_first(argv: list[str]) -> list[str]:
    """The association(s) before the options: stpipe's parser takes its positionals first only.

    An option written ``--name value`` keeps its value; ``--name=value`` and flags stand alone.
    """
    positionals, options, expecting_value = [], [], False
    for token in argv:
        if expecting_value:
            options.append(token)
            expecting_value = False
        elif token.startswith("-"):
            options.append(token)
            expecting_value = "=" not in token and token not in ("-h", "--help", "--verbose", "-v", "--debug")
        else:
            positionals.append(token)
    return positionals + options


def _runner(target: str):
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function or "main")


def main(argv=None) -> int:
    """Run ``jwst-memest COMMAND ...``: one of ``COMMANDS``, with its own options.

    Parameters
    ----------
    argv : list of str or None, optional
        The command and its arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The command's exit status: 0 done, 2 bad input or an unknown command, and the
        command's own codes (``estimate``: 3 when some products were not estimated).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(_USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        sys.stderr.write(f"error: unknown command {command!r}; expected one of {', '.join(COMMANDS)}\n")
        return 2
    try:
        return int(_runner(COMMANDS[command][0])(rest) or 0)
    except SystemExit as exc:  # a command's argparse: --help exits 0, a usage error 2
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


if __name__ == "__main__":
    sys.exit(main())
