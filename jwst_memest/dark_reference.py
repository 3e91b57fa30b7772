"""The DARK reference calwebb_detector1 will load for an exposure, when a local CRDS cache can tell.

dark_current reads its DARK whole (SCI and ERR: 8 bytes per frame-pixel), so the reference's frames,
not only the exposure's groups, set the step's memory; operational darks hold the frames of the
longest readout they serve. When a CRDS cache is present (``CRDS_PATH``, else ``~/crds_cache``) and
holds the context's mappings, CRDS selects the dark from the exposure's header exactly as the
pipeline will, locally (no server is contacted); when the selected file is in the cache, its frames
are read from its header. Otherwise nothing is known, and the estimate says what it assumed.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DarkLookup", "crds_cache", "cached_dark", "cached_reference_planes", "cached_references"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DarkLookup:
    """What the CRDS cache says of an exposure's dark.

    Parameters
    ----------
    frames : int or None
        Frames (groups of the dark, NFRAMES=1) of the selected dark, when it is in the cache.
    source : str
        Where the frames come from, or why they are not known: one line for the annotation.
    """

    frames: int | None
    source: str


def crds_cache() -> Path | None:
    """The local CRDS cache, when one with JWST mappings is present.

    Returns
    -------
    pathlib.Path or None
        ``CRDS_PATH`` (else ``~/crds_cache``) when it holds ``mappings/jwst``.
    """
    root = os.path.expanduser(os.environ.get("CRDS_PATH") or "~/crds_cache")
    return Path(root) if os.path.isdir(os.path.join(root, "mappings", "jwst")) else None


def _context(cache: Path) -> str | None:
    """The context the pipeline would use: CRDS_CONTEXT, the cache's operational context, or its newest pmap."""
    if os.environ.get("CRDS_CONTEXT"):
        return os.environ["CRDS_CONTEXT"]
    config = cache / "config" / "jwst" / "server_config"
    with contextlib.suppress(OSError, ValueError, SyntaxError):
        context = ast.literal_eval(config.read_text()).get("operational_context")
        if context:
            return str(context)
    pmaps = sorted((cache / "mappings" / "jwst").glob("jwst_*.pmap"))
    return pmaps[-1].name if pmaps else None


@contextlib.contextmanager
def _local_crds():
    """CRDS answers from the cache only while this runs (a hook's host keeps its own settings)."""
    saved = {k: os.environ.get(k) for k in ("CRDS_MODE", "CRDS_SERVER_URL")}
    os.environ["CRDS_MODE"] = "local"
    os.environ.setdefault("CRDS_SERVER_URL", "https://localhost:1")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_KEYWORD_PATHS: dict[str, list[str]] = {}


def _crds_parameters(path) -> dict:
    """The uncal's primary header as CRDS selects on it (datamodel paths, upper case), from the
    schema's own keyword map: CRDS's header reader costs about 0.2 s a file, this a few ms."""
    from astropy.io import fits
    from stdatamodels.jwst.datamodels import Level1bModel

    header = fits.getheader(path)
    model = None
    parameters = {}
    for keyword, value in header.items():
        if not keyword or keyword in ("COMMENT", "HISTORY"):
            continue
        if keyword not in _KEYWORD_PATHS:
            model = model or Level1bModel()
            _KEYWORD_PATHS[keyword] = model.find_fits_keyword(keyword)
        for where in _KEYWORD_PATHS[keyword]:
            parameters[where.upper()] = str(value).strip() if isinstance(value, str) else str(value)
    if "META.INSTRUMENT.NAME" in parameters:  # as CRDS's own reader adds it
        parameters.setdefault("META.INSTRUMENT.TYPE", parameters["META.INSTRUMENT.NAME"])
    return parameters


def _sci_planes(path: Path) -> int | None:
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdus:
        header = hdus["SCI"].header
        return int(header["NAXIS3"]) if int(header.get("NAXIS", 0)) >= 3 else None


def cached_dark(exposure) -> DarkLookup | None:
    """The dark CRDS selects for an exposure, from the local cache; None without a cache.

    Parameters
    ----------
    exposure : str, pathlib.Path or stdatamodels.jwst.datamodels.JwstDataModel
        The uncal file, or the open ramp (a hook's input).

    Returns
    -------
    DarkLookup or None
        The dark's frames when the selected file is cached, else why not; None when there is no
        CRDS cache.
    """
    return cached_reference_planes(exposure, "dark", "frames")


def cached_references(exposure, reftypes, optional=()) -> dict | str | None:
    """The files CRDS selects for an exposure from the local cache, for every reference type asked.

    Parameters
    ----------
    exposure : str, pathlib.Path or stdatamodels.jwst.datamodels.JwstDataModel
        The exposure's file, or its open model (a hook's input).
    reftypes : sequence of str
        The reference types.
    optional : sequence of str, optional
        Those of them the pipeline goes on without (``N/A``): given as the string ``N/A``.

    Returns
    -------
    dict, str or None
        reftype -> path of each (and ``context``), when every one is selected and cached; else one
        line saying why not; None without a CRDS cache.
    """
    cache = crds_cache()
    if cache is None:
        return None
    context = _context(cache)
    if context is None:
        return f"CRDS cache {cache} holds no context"
    try:
        with _local_crds():
            import crds
            from crds import config

            if isinstance(exposure, (str, Path)):
                parameters = _crds_parameters(exposure)
            else:
                parameters = exposure.get_crds_parameters()
            selected = crds.getrecommendations(parameters, reftypes=list(reftypes), context=context,
                                               observatory="jwst")
            found: dict = {"context": context}
            for reftype in reftypes:
                name = selected.get(reftype, "")
                if reftype in optional and name.upper().startswith("N/A"):
                    found[reftype] = "N/A"
                    continue
                if not name or name.upper().startswith(("NOT FOUND", "N/A")):
                    return f"CRDS context {context} selects no {reftype} ({name or 'nothing'})"
                found[reftype] = Path(config.locate_file(name, "jwst"))
    # a cache CRDS cannot read (one without its config makes CRDS exit): the estimate goes on with what it assumes
    except (Exception, SystemExit) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.debug("CRDS %s lookup failed: %s", ", ".join(reftypes), reason)
        return f"CRDS cache {cache} could not select the {', '.join(reftypes)} ({reason[:120]})"
    for reftype in reftypes:
        if isinstance(found[reftype], Path) and not found[reftype].is_file():
            return f"CRDS context {context} selects {found[reftype].name}, not in the cache"
    return found


def cached_reference_planes(exposure, reftype: str, unit: str = "planes") -> DarkLookup | None:
    """The planes (NAXIS3 of SCI) of the reference CRDS selects for an exposure, from the local cache.

    A dark's frames; a NIRSpec DFLAT's or SFLAT's wavelength planes. None without a cache.

    Parameters
    ----------
    exposure : str, pathlib.Path or stdatamodels.jwst.datamodels.JwstDataModel
        The exposure's file, or its open model (a hook's input).
    reftype : str
        The reference type (``dark``, ``dflat``, ``sflat``).
    unit : str, optional
        What a plane is, for the lookup's source line (a dark's ``frames``).

    Returns
    -------
    DarkLookup or None
        The reference's planes when the selected file is cached, else why not; None when there is
        no CRDS cache.
    """
    found = cached_references(exposure, (reftype,))
    if found is None:
        return None
    if isinstance(found, str):
        return DarkLookup(None, found)
    path, selected, context = found[reftype], found[reftype].name, found["context"]
    try:
        frames = _sci_planes(path)
    except (OSError, KeyError, ValueError) as exc:
        return DarkLookup(None, f"{path}: unreadable {reftype} header ({exc})")
    if not frames:
        return DarkLookup(None, f"{path}: no third axis in the {reftype}'s SCI header")
    return DarkLookup(frames, f"CRDS cache: {selected} (context {context}), {frames} {unit}")
