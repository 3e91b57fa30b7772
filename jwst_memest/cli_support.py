"""What every command line of the package shares: its name as typed, one-line errors, quiet broken pipes.

Every command reports a bad input or a bad invocation as one line on stderr, ``PROG: error: ...``
naming the file or option and the problem, and exits with status 2: no usage text, no traceback.
``prog`` is the command the user typed: ``jwst-memest predict`` when reached through
``jwst-memest``, ``python -m jwst_memest.predict`` otherwise. Imports nothing from the package.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from typing import Iterator, NoReturn

__all__ = ["EXIT_BAD_INPUT", "CommandParser", "MessageFormatter", "program", "invoked_as", "one_line", "fail",
           "report_error", "quiet_broken_pipe"]

EXIT_BAD_INPUT = 2

# (module form, the command typed): set while ``jwst-memest X`` runs the module's main
_INVOKED_AS: tuple[str, str] | None = None


@contextlib.contextmanager
def invoked_as(module_form: str, typed: str) -> Iterator[None]:
    """Name the parsers made inside this block ``typed`` instead of ``module_form``, their sub-commands' too.

    Parameters
    ----------
    module_form : str
        The command's ``python -m`` form (``python -m jwst_memest.profile``).
    typed : str
        The command as typed (``jwst-memest profile``).

    Yields
    ------
    None
        While the parsers made are named ``typed``.
    """
    global _INVOKED_AS
    previous, _INVOKED_AS = _INVOKED_AS, (module_form, typed)
    try:
        yield
    finally:
        _INVOKED_AS = previous


def program(module_form: str) -> str:
    """The name of a command as the user typed it.

    Parameters
    ----------
    module_form : str
        Its ``python -m`` form.

    Returns
    -------
    str
        The ``jwst-memest`` form inside `invoked_as`, else ``module_form``.
    """
    if _INVOKED_AS is not None:
        form, typed = _INVOKED_AS
        if module_form == form or module_form.startswith(form + " "):
            return typed + module_form[len(form):]
    return module_form


class CommandParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``PROG: error: MESSAGE`` on stderr and exit status 2.

    Options are taken in either spelling (``--exp-modes`` for ``--exp_modes`` and the other way
    round). Made with `argparse.ArgumentParser`'s arguments.
    """

    def parse_known_args(self, args=None, namespace=None):
        """Parse the options this parser knows, in either spelling, and return the others.

        Parameters
        ----------
        args : list of str or None, optional
            The arguments (default: ``sys.argv[1:]``).
        namespace : argparse.Namespace or None, optional
            Where the values are set.

        Returns
        -------
        namespace : argparse.Namespace
            The values.
        extras : list of str
            The arguments not parsed.
        """
        return super().parse_known_args(self._spelled(sys.argv[1:] if args is None else list(args)), namespace)

    def _spelled(self, args: list[str]) -> list[str]:
        """Options in either spelling: ``--exp-modes`` for ``--exp_modes`` and the other way round."""
        known = self._option_string_actions
        spelled = []
        for index, token in enumerate(args):
            if token == "--":
                return spelled + args[index:]
            name, equals, value = token.partition("=")
            if name.startswith("--") and name not in known:
                for other in ("--" + name[2:].replace("-", "_"), "--" + name[2:].replace("_", "-")):
                    if other in known:
                        token = other + equals + value
                        break
            spelled.append(token)
        return spelled

    def error(self, message: str) -> NoReturn:
        """Report a usage error in one line and exit with status 2.

        Parameters
        ----------
        message : str
            The problem.

        Raises
        ------
        SystemExit
            Always, with status 2.
        """
        fail(message, prog=self.prog)


def one_line(exc: BaseException | str) -> str:
    """An error as one line: an OSError names its file beside its reason, line breaks are folded.

    Parameters
    ----------
    exc : BaseException or str
        The error.

    Returns
    -------
    str
        The line.
    """
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def report_error(message: BaseException | str, prog: str | None = None, status: int = EXIT_BAD_INPUT) -> int:
    """Write ``PROG: error: MESSAGE`` (one line) to stderr, for a ``main`` that returns its status.

    Parameters
    ----------
    message : BaseException or str
        The problem.
    prog : str or None, optional
        The command's name.
    status : int, optional
        The exit status to return.

    Returns
    -------
    int
        ``status``.
    """
    sys.stderr.write(f"{prog + ': ' if prog else ''}error: {one_line(message)}\n")
    sys.stderr.flush()
    return status


def fail(message: BaseException | str, prog: str | None = None, status: int = EXIT_BAD_INPUT) -> NoReturn:
    """Write ``PROG: error: MESSAGE`` (one line) to stderr and exit with ``status``.

    Parameters
    ----------
    message : BaseException or str
        The problem.
    prog : str or None, optional
        The command's name.
    status : int, optional
        The exit status.

    Raises
    ------
    SystemExit
        Always, with ``status``.
    """
    raise SystemExit(report_error(message, prog, status))


@contextlib.contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """A reader that stops early (``| head -1``) ends the command quietly, with status 0.

    Python would print ``BrokenPipeError`` and a second one when it flushes stdout at exit; the
    rest of the output goes to /dev/null instead.
    """
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None


class MessageFormatter(logging.Formatter):
    """``warning: MESSAGE``: a log record as a user reads it, without the time and the logger's name.

    Made with `logging.Formatter`'s arguments.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Format a record as ``level: message``.

        Parameters
        ----------
        record : logging.LogRecord
            The record.

        Returns
        -------
        str
            Its level in lower case and its message.
        """
        return f"{record.levelname.lower()}: {record.getMessage()}"
