"""Reading an association's members: each product's members' metadata, and a warning for each member
substituted, absent or left out."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from jwst_memest.association import AssociationError, first_few, load_level3_association, product_members
from jwst_memest.metadata import ExposureMetadata, MetadataError, product_level, read_exposure_metadata

__all__ = ["read_members", "read_association_members"]


def read_members(paths: Iterable[Path], cache: dict | None = None) -> tuple[list[ExposureMetadata], list[str]]:
    """Metadata of the readable members, and one warning per member left out.

    A file listed several times is read once (``cache`` may be shared across products).

    Parameters
    ----------
    paths : iterable of pathlib.Path
        The members' files.
    cache : dict or None, optional
        Metadata (or the error reading it) per file already read.

    Returns
    -------
    members : list of jwst_memest.metadata.ExposureMetadata
        The readable members, once per entry.
    warnings : list of str
        One per unreadable member, and one when entries repeat a file.
    """
    cache = {} if cache is None else cache
    members, warnings = [], []
    for path in paths:
        key = str(path)
        if key not in cache:
            try:
                cache[key] = read_exposure_metadata(path)
            except MetadataError as exc:
                cache[key] = exc
        found = cache[key]
        if isinstance(found, MetadataError):
            warnings.append(f"member left out: {found}")
        else:
            members.append(found)
    listed = [str(p) for p in paths]
    repeats = len(listed) - len(set(listed))
    if repeats:
        warnings.append(f"{repeats} member entries name a file already listed; each entry is counted, as the pipeline loads each")
    return members, warnings


def read_association_members(
    path: str | Path, search_path: Iterable[str | Path] = ()
) -> tuple[str, list[tuple[str, list[ExposureMetadata], list[str]]], dict[str, str]]:
    """Read an association and its members' metadata.

    Parameters
    ----------
    path : str or pathlib.Path
        The Level-3 association file.
    search_path : iterable of str or pathlib.Path, optional
        More directories where members are looked for.

    Returns
    -------
    pipeline : str
        The association's Level-3 pipeline.
    products : list of (str, list of jwst_memest.metadata.ExposureMetadata, list of str)
        Per product that has a readable member: its name, its members' metadata and the
        warnings gathering them gave (substituted, absent or unreadable members).
    failures : dict of str to str
        Per product that has none, why.

    Raises
    ------
    jwst_memest.association.AssociationError
        One line naming the file, when the association cannot be read or no product has a
        readable member.
    """
    path = Path(path)
    association, pipeline = load_level3_association(path)
    products, failures, cache = [], {}, {}
    for found in product_members(association, pipeline, path.parent.resolve(), search_path):
        warnings = []
        if found.substituted:
            levels = sorted({product_level(sub) for _, sub in found.substituted})
            first_name, first_sub = found.substituted[0]
            warnings.append(
                f"{len(found.substituted)} member(s) not found as named; used the same exposures' "
                f"{', '.join(levels)} files (e.g. {first_name} -> {first_sub.name})"
            )
        if found.missing:
            warnings.append(f"{len(found.missing)} member(s) not found beside the association or in search_path: "
                            f"{first_few(found.missing)}")
        members, unreadable = read_members(found.paths, cache)
        if members:
            products.append((found.name, members, warnings + unreadable))
        else:
            problems = warnings + ([f"{len(unreadable)} member(s) left out: {first_few(unreadable, separator='; ')}"]
                                   if unreadable else [])
            failures[found.name] = f"no member found ({'; '.join(problems) or 'the product lists no members'})"
    if not products:
        name, reason = next(iter(failures.items()))
        others = f" (and {len(failures) - 1} more products without a member)" if len(failures) > 1 else ""
        raise AssociationError(f"{path}: product {name}: {reason}{others}")
    return pipeline, products, failures
