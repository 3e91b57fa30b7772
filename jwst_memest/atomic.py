"""Writing a file so that a reader finds either its old content or the new one, never part of it.

Every file the package writes goes through this module, except rows appended to a CSV that
already has its header (finished rows are never rewritten). ``atomic_write`` gives a handle;
``atomic_path`` a temporary path, for writers that take only a path (Keras, CRDS);
``write_datamodel`` saves a datamodel; and ``write_json_atomic`` and ``write_text_atomic`` write
JSON or text whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_write", "atomic_path", "write_datamodel", "write_json_atomic", "write_text_atomic"]


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", exclusive: bool = False, **open_options) -> Iterator[IO]:
    """A handle (``mode`` "w": text, "wb": binary) on a temporary file that replaces ``path`` on success.

    The temporary file is beside ``path``, so that the final rename stays on one filesystem and is
    atomic, and its name is unique, so that two writers of one target never share it. Its content
    reaches the disk (fsync) before the rename. It takes the target's permissions when the target
    exists, else those a plain ``open()`` would give. On any exception it is removed and an earlier
    ``path`` is left as it was. ``open_options`` (``encoding``, ``newline``) are passed to the handle.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    mode : {"w", "wb"}, optional
        Text or binary.
    exclusive : bool, optional
        Only create ``path``: when it exists (another writer made it first), raise
        `FileExistsError` and leave it as it is.
    **open_options
        Passed to the handle (``encoding``, ``newline``).

    Yields
    ------
    file object
        The temporary file's handle.
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
        _move_into_place(temporary, path, exclusive)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path``, with its suffix, that replaces ``path`` once written.

    For writers that take only a path (a Keras model, a plot, CRDS' checksum update): the same
    guarantees as `atomic_write`. The writer must have closed the file when the block ends.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.

    Yields
    ------
    pathlib.Path
        Where to write it.
    """
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        _move_into_place(temporary, path, exclusive=False)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_datamodel(model, path: str | Path, **options) -> Path:
    """Save a datamodel (FITS or ASDF, by the suffix) as ``model.save(path)`` would, through `atomic_write`.

    Parameters
    ----------
    model : stdatamodels.DataModel
        The model; its ``meta.filename`` becomes the file's name, as ``save`` sets it.
    path : str or pathlib.Path
        A ``.fits`` or ``.asdf`` file.
    **options
        Passed to ``to_fits`` or ``to_asdf`` (e.g. ``all_array_storage="inline"``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if path.suffix not in (".fits", ".asdf"):
        raise ValueError(f"{path}: a datamodel is saved as .fits or .asdf")
    model.meta.filename = path.name
    with atomic_write(path, "wb") as handle:
        if path.suffix == ".fits":
            model.to_fits(handle, **options)
        else:
            model.to_asdf(handle, **options)
    return path


def write_json_atomic(data, path: str | Path) -> Path:
    """Write JSON to a temporary file beside ``path``, then rename: never half-written.

    Parameters
    ----------
    data : object
        What to write (indented, with a final newline).
    path : str or pathlib.Path
        The file to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        When ``path``'s directory does not exist or cannot be written.
    """
    return write_text_atomic(json.dumps(data, indent=4) + "\n", path)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write text to a temporary file beside ``path``, then rename: never half-written.

    Parameters
    ----------
    text : str
        What to write.
    path : str or pathlib.Path
        The file to write.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OSError
        When ``path``'s directory does not exist or cannot be written.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OSError(f"{directory}: output directory does not exist")
    with atomic_write(path) as handle:
        handle.write(text)
    return path


def _move_into_place(temporary: str, path: Path, exclusive: bool) -> None:
    os.chmod(temporary, _permissions_for(path))
    if exclusive:
        os.link(temporary, path)  # FileExistsError when another writer made it first
        os.unlink(temporary)
    else:
        os.replace(temporary, path)


def _permissions_for(path: Path) -> int:
    """The target's permission bits, else 0o666 less the umask (mkstemp's own 0o600 would hide the file)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # the only way to read it is to set it
        os.umask(umask)
        return 0o666 & ~umask
