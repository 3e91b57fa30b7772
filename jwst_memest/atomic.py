"""Writing a file so that a reader finds either its old content or the new one, never part of it."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **open_options) -> Iterator[IO]:
    """A handle (``mode`` "w": text, "wb": binary) on a temporary file that replaces ``path`` on success.

    The temporary file is beside ``path``, so that the final rename stays on one filesystem and is
    atomic, and its name is unique, so that two writers of one target never share it. Its content
    reaches the disk (fsync) before the rename. It takes the target's permissions when the target
    exists, else those a plain ``open()`` would give. On any exception it is removed and an earlier
    ``path`` is left as it was.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    mode : {"w", "wb"}, optional
        Text or binary.
    **open_options
        Passed to the handle (``encoding``, ``newline``).

    Yields
    ------
    IO
        The temporary file's handle.

    Raises
    ------
    ValueError
        When ``mode`` is neither "w" nor "wb".
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode {mode!r}; expected 'w' or 'wb'")
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, _permissions_for(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _permissions_for(path: Path) -> int:
    """The target's permission bits, else 0o666 less the umask (mkstemp's own 0o600 would hide the file)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it is to set it
        os.umask(umask)
        return 0o666 & ~umask
