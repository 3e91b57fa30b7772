"""Which estimator serves each Level-3 pipeline.

Search order for a pipeline's bundle ``<pipeline>.asdf`` (image3, spec3, coron3, ami3, tso3):

1. an explicit path (the step's ``model_path``);
2. ``$JWST_MEMEST_MODEL``: one bundle, used for the pipeline it was trained for;
3. ``$JWST_MEMEST_MODEL_DIR/<pipeline>.asdf``;
4. the user directory (``~/.local/share/jwst_memest/models`` or ``$XDG_DATA_HOME``), where
   ``install_bundle`` puts bundles;
5. otherwise the physics baseline (the package ships no bundle).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.model.baseline import load_baseline
from jwst_memest.model.bundle import BundleError, ModelBundle, load_bundle
from jwst_memest.pipelines import PIPELINES, normalize

__all__ = ["resolve_estimator", "installed_bundles", "install_bundle", "user_model_dir", "bundle_candidates"]


def user_model_dir() -> Path:
    """The user directory where installed bundles live.

    Returns
    -------
    pathlib.Path
        ``$XDG_DATA_HOME/jwst_memest/models``, by default ``~/.local/share/jwst_memest/models``.
    """
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jwst_memest" / "models"


def bundle_candidates(pipeline: str) -> list[tuple[Path, str]]:
    """Where a pipeline's bundle may be, in search order, with the name of each source.

    Parameters
    ----------
    pipeline : str
        A pipeline's key or class alias.

    Returns
    -------
    list of (pathlib.Path, str)
        Each candidate path (which may not exist) and its source: ``$JWST_MEMEST_MODEL``,
        ``$JWST_MEMEST_MODEL_DIR`` or ``user``.
    """
    key = normalize(pipeline)
    candidates = []
    single = os.environ.get("JWST_MEMEST_MODEL")
    if single:
        candidates.append((Path(single), "$JWST_MEMEST_MODEL"))
    directory = os.environ.get("JWST_MEMEST_MODEL_DIR")
    if directory:
        candidates.append((Path(directory) / f"{key}.asdf", "$JWST_MEMEST_MODEL_DIR"))
    candidates.append((user_model_dir() / f"{key}.asdf", "user"))
    return candidates


def resolve_estimator(pipeline: str, model_path: str | Path | None = None):
    """The bundle configured for a pipeline, else the physics baseline.

    A configured bundle that cannot be used raises BundleError: a broken model is never
    silently replaced by another one.

    Parameters
    ----------
    pipeline : str
        A pipeline's key or class alias.
    model_path : str, pathlib.Path or None, optional
        An explicit bundle, used before any other.

    Returns
    -------
    jwst_memest.model.bundle.ModelBundle or jwst_memest.model.baseline.PhysicsBaseline
        The estimator.

    Raises
    ------
    jwst_memest.model.bundle.BundleError
        When the configured bundle cannot be read or is for another pipeline.
    """
    key = normalize(pipeline)
    if model_path:
        bundle = load_bundle(model_path)
        _same_pipeline(bundle, key, model_path)
        return bundle
    for path, source in bundle_candidates(key):
        if source == "$JWST_MEMEST_MODEL":
            bundle = load_bundle(path)
            if bundle.pipeline == key:
                return bundle
            continue
        if path.is_file():
            return load_bundle(path)
    return load_baseline(key)


def _same_pipeline(bundle: ModelBundle, key: str, path) -> None:
    if bundle.pipeline != key:
        raise BundleError(f"{path}: bundle is for {bundle.pipeline}, the association is {key}")


def installed_bundles() -> list[tuple[str, Path | None, str]]:
    """The estimator each pipeline uses now.

    Returns
    -------
    list of (str, pathlib.Path or None, str)
        Per pipeline: its key, the bundle's path (None for the physics baseline) and its source.
    """
    rows = []
    for key in PIPELINES:
        found = None
        for path, source in bundle_candidates(key):
            if path.is_file() and (source != "$JWST_MEMEST_MODEL" or _pipeline_of(path) == key):
                found = (key, path, source)
                break
        rows.append(found or (key, None, "physics baseline"))
    return rows


def _pipeline_of(path: Path) -> str | None:
    try:
        return load_bundle(path).pipeline
    except BundleError:
        return None


def install_bundle(source: str | Path, pipeline: str | None = None, directory: str | Path | None = None) -> Path:
    """Validate a bundle and copy it where the registry finds it.

    Parameters
    ----------
    source : str or pathlib.Path
        The bundle.
    pipeline : str or None, optional
        The pipeline it is installed for (default: the bundle's own; must match it).
    directory : str, pathlib.Path or None, optional
        Where to install it (default: ``$JWST_MEMEST_MODEL_DIR``, else `user_model_dir`).

    Returns
    -------
    pathlib.Path
        The installed ``<pipeline>.asdf``.

    Raises
    ------
    jwst_memest.model.bundle.BundleError
        When the bundle is invalid or for another pipeline.
    """
    bundle = load_bundle(source)
    key = normalize(pipeline or bundle.pipeline)
    _same_pipeline(bundle, key, source)
    target_dir = Path(directory or os.environ.get("JWST_MEMEST_MODEL_DIR") or user_model_dir())
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{key}.asdf"
    with open(source, "rb") as original, atomic_write(target, "wb") as copy:
        shutil.copyfileobj(original, copy)
    return target
