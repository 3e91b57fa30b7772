"""Screening a folder of exposures for folder mode: each file's metadata, the files jwst's association
tools cannot take (reported, not fatal), and the distinct pool rows the generator needs; large folders
are read by several processes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from jwst_memest.forking import forked_map, worker_count
from jwst_memest.metadata import ExposureMetadata, MetadataError, exposure_stem, read_exposure_metadata_and_header
from jwst_memest.pools import PoolEntry, distinct_rows

__all__ = ["ScreenedFolder", "screen_exposures"]


# below this many files, starting worker processes costs more than reading the headers in one
PARALLEL_READ_MIN_FILES = 400


@dataclass
class ScreenedFolder:
    """The exposures of a folder that jwst's association tools can take, and the pool rows the generator needs.

    Parameters
    ----------
    exposures : dict of str to jwst_memest.metadata.ExposureMetadata
        The kept exposures' metadata by exposure stem, in file order.
    representatives : dict of str to jwst_memest.pools.PoolEntry
        The distinct pool rows (`jwst_memest.pools.distinct_rows`), by stem.
    followers : dict of str to list of str
        Per representative stem, the stems of the rows it stands for.
    rejected : list of str
        One line per file left out, naming it and why.
    """

    exposures: dict[str, ExposureMetadata]  # exposure stem -> metadata, in file order
    representatives: dict[str, PoolEntry]  # the distinct pool rows (pools.distinct_rows)
    followers: dict[str, list[str]]  # representative stem -> the stems of the rows it stands for
    rejected: list[str]  # one line per file left out, naming it and why


def screen_exposures(paths: Iterable[Path], workers: int | None = 1) -> ScreenedFolder:
    """Read and screen a folder's exposures.

    jwst's pool maker aborts on one unreadable file or a missing TARGNAME, and
    its generator on a missing EXP_TYPE: such files are left out and reported.

    Parameters
    ----------
    paths : iterable of pathlib.Path
        The exposures' files.
    workers : int or None, optional
        Processes reading the headers when the folder is large (None: one per usable CPU).

    Returns
    -------
    ScreenedFolder
        The kept exposures, their distinct pool rows, and the files left out.
    """
    paths = [str(p) for p in paths]
    workers = worker_count(len(paths), PARALLEL_READ_MIN_FILES // 2, workers)
    chunks = _observation_chunks(paths, workers)
    # the workers send back metadata and the distinct rows only
    screened = forked_map(_screen, chunks, len(chunks))
    outcome = {path: result for results, _, _ in screened for path, result in results}
    folder = ScreenedFolder({}, {}, {}, [])
    for path in paths:
        if isinstance(outcome[path], str):
            folder.rejected.append(outcome[path])
        else:
            folder.exposures[exposure_stem(path)] = outcome[path]
    for _, representatives, followers in screened:
        folder.representatives.update((entry.stem, entry) for entry in representatives)
        folder.followers.update(followers)
    return folder


def _observation_chunks(paths: list[str], n_chunks: int) -> list[list[str]]:
    """The paths in at most ``n_chunks`` runs of whole observations (by file name), of about equal size."""
    if n_chunks <= 1:
        return [paths]
    observations: dict[str, list[str]] = {}
    for path in paths:
        match = re.match(r"jw\d{8}", Path(path).name)
        observations.setdefault(match.group(0) if match else "", []).append(path)
    size = -(-len(paths) // n_chunks)
    chunks: list[list[str]] = [[]]
    for observation in observations.values():
        if len(chunks[-1]) >= size:
            chunks.append([])
        chunks[-1].extend(observation)
    return chunks


def _screen(paths: list[str]) -> tuple[list[tuple[str, ExposureMetadata | str]], list[PoolEntry], dict[str, list[str]]]:
    """Each path's metadata or why it is left out, then the distinct pool rows of those kept."""
    results, entries = [], []
    for path in paths:
        try:
            meta, header = read_exposure_metadata_and_header(path)
        except MetadataError as exc:
            results.append((path, str(exc)))
            continue
        missing = [k for k, v in (("EXP_TYPE", meta.exp_type), ("TARGNAME", meta.target_name)) if not v]
        if missing:
            results.append((path, f"{path}: no {' or '.join(missing)}; jwst's association rules need it"))
            continue
        results.append((path, meta))
        entries.append(PoolEntry(path, header, bool(meta.is_imprint)))
    representatives, followers = distinct_rows(entries)
    return results, representatives, followers
