"""``jwst-memest <command> ...``: every jwst_memest tool behind one command.

Each command runs the same code as its ``python -m`` / ``strun`` form, with the same options.
Exit status everywhere: 0 done, 2 bad input (a file, an option or a parameter), and the
command's own documented codes (``estimate``: 3 when some products could not be estimated).
"""

from __future__ import annotations

import importlib
import sys

from jwst_memest.cli_support import EXIT_BAD_INPUT, invoked_as, quiet_broken_pipe, report_error

__all__ = ["COMMANDS", "main"]

# command -> (module whose main(argv) runs it, its ``python -m`` form, what it does)
COMMANDS = {
    "estimate": ("jwst_memest.estimate_cli", "jwst-memest estimate",
                 "estimate every product of a Level-3 association (the memory_estimate step)"),
    "predict": ("jwst_memest.predict_cli", "python -m jwst_memest.predict",
                "folder mode: form the Level-3 products of a folder of exposures and estimate them"),
    "train": ("jwst_memest.training.__main__", "python -m jwst_memest.training",
              "train and export a model bundle from corpus or training tables; convert-spacekit: spacekit's models"),
    "ingest": ("jwst_memest.training.ingest", "python -m jwst_memest.training.ingest",
               "turn operations metadata into training tables"),
    "models": ("jwst_memest.model.__main__", "python -m jwst_memest.model",
               "list the installed estimators, show a bundle"),
    "profile": ("jwst_memest.profile.__main__", "python -m jwst_memest.profile",
                "measure real pipeline runs: run, corpus, fit-baseline, spread"),
    "plan": ("jwst_memest.plan.cli", "python -m jwst_memest.plan",
             "turn estimates into jobs: memory tiers, kill times, retries, scheduler files"),
    "calibrate": ("jwst_memest.calibrate_cli", "python -m jwst_memest.calibrate_cli",
                  "time a short workload and save this machine's wall-time speed factor"),
    "batch": ("jwst_memest.batch", "python -m jwst_memest.batch",
              "estimate many associations or folders on a dask cluster into one JSON-lines file, resumably"),
}

_USAGE = "usage: jwst-memest {" + ",".join(COMMANDS) + "} ...\n\n" + "\n".join(
    f"  {name:<9} {text}" for name, (_, _, text) in COMMANDS.items()
) + "\n\n`jwst-memest COMMAND --help` for a command's options.\n"


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
    try:
        with quiet_broken_pipe():
            if argv and argv[0] in ("-h", "--help"):
                sys.stdout.write(_USAGE)
                return 0
            if not argv or argv[0] not in COMMANDS:
                what = f"unknown command {argv[0]!r}" if argv else "no command"
                return report_error(f"{what}; expected one of {', '.join(COMMANDS)} (jwst-memest --help)",
                                    "jwst-memest")
            module, module_form, _ = COMMANDS[argv[0]]
            with invoked_as(module_form, f"jwst-memest {argv[0]}"):
                return int(importlib.import_module(module).main(argv[1:]) or 0)
    except SystemExit as exc:  # a command's argparse: --help exits 0, a usage error 2
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_BAD_INPUT)


if __name__ == "__main__":
    sys.exit(main())
