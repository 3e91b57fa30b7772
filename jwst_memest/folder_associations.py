"""Level-3 associations of a screened folder, made by jwst's own rules: the associations, the members of
each product that its pipeline sizes, and the exposures that form no product, with why."""

from __future__ import annotations

from dataclasses import dataclass

from jwst_memest.folder_screening import ScreenedFolder
from jwst_memest.forking import worker_count
from jwst_memest.metadata import ExposureMetadata, exposure_stem
from jwst_memest.pipelines import MEMBER_EXPTYPES
from jwst_memest.pools import expand_members, generate_level3, generate_per_program

__all__ = ["GeneratedAssociation", "build_associations", "product_exposures", "unused_exposures", "unused_summary"]


@dataclass(frozen=True)
class GeneratedAssociation:
    """A Level-3 association made by jwst's generator: its file name and JSON content.

    Parameters
    ----------
    filename : str
        The association's file name, as jwst's generator names it.
    content : dict
        The association, with its members expanded to every exposure.
    """

    filename: str
    content: dict


def build_associations(folder: ScreenedFolder, discover: bool = False,
                       workers: int | None = None) -> list[GeneratedAssociation]:
    """Level-3 associations from jwst's rules over pools made from the exposures' headers.

    As ``asn_generate --all-candidates``: observation candidates only, one pool per
    program as in operations (no Level-3 association spans programs; see
    `jwst_memest.pools.generate_per_program`), the programs shared among ``workers``
    processes when there are several. The generator sees only the distinct rows;
    each association's members are expanded back to every exposure.

    Parameters
    ----------
    folder : ScreenedFolder
        The screened exposures.
    discover : bool, optional
        Run one pool with jwst's discovery pass too (``asn_generate``'s default), which
        finds the same products here at several times the cost.
    workers : int or None, optional
        Processes generating associations (None: one per CPU this process may use).

    Returns
    -------
    list of GeneratedAssociation
        The associations, sorted by file name.
    """
    representatives = folder.representatives
    # mkpool numbers targets (t001, t002, ...) in order of appearance within its pool: an operations pool
    # spans the whole program, so number them over all the exposures, not within each observation
    target_ids: dict[str, str] = {}
    for meta in folder.exposures.values():
        target_ids.setdefault(str(meta.target_name), str(len(target_ids) + 1))
    rows = [representatives[stem] for stem in folder.exposures if stem in representatives]
    if discover:
        generated = generate_level3(rows, target_ids, discover=True)
    else:
        # no Level-3 association spans programs (pools.generate_per_program): one pool per program, as in
        # operations; the programs shared among processes when there are enough rows to repay starting them
        workers = worker_count(len(rows), PARALLEL_GENERATION_MIN_ROWS, workers)
        generated = generate_per_program(rows, target_ids, workers)
    order = {stem: i for i, stem in enumerate(folder.exposures)}
    # by name: the same order however the programs were shared out
    return sorted((GeneratedAssociation(name, expand_members(content, folder.followers, order))
                   for name, content in generated), key=lambda a: a.filename)


# distinct rows per generating process: below this, forking a second one costs more than it saves
PARALLEL_GENERATION_MIN_ROWS = 150


def product_exposures(association: GeneratedAssociation,
                      exposures: dict[str, ExposureMetadata]) -> list[tuple[str, list[ExposureMetadata]]]:
    """Each product of an association, with the metadata of the members its pipeline sizes.

    Parameters
    ----------
    association : GeneratedAssociation
        An association jwst's rules made from the folder.
    exposures : dict of str to jwst_memest.metadata.ExposureMetadata
        The folder's exposures by stem.

    Returns
    -------
    list of (str, list of jwst_memest.metadata.ExposureMetadata)
        Per product that has such a member among ``exposures``, in order: its name and those
        members' metadata.
    """
    found = []
    asn_type = association.content["asn_type"]
    for product in association.content["products"]:
        members = [
            exposures[exposure_stem(m["expname"])]
            for m in product["members"]
            if str(m.get("exptype", "science")).lower() in _member_types(asn_type)
            and exposure_stem(m["expname"]) in exposures
        ]
        if members:
            found.append((product["name"], members))
    return found


def unused_exposures(exposures: dict[str, ExposureMetadata], generated: list[GeneratedAssociation],
                     wanted: set[str]) -> dict[str, str]:
    """Exposures (by stem) that are a member of no estimated product, and why.

    Parameters
    ----------
    exposures : dict of str to jwst_memest.metadata.ExposureMetadata
        The folder's exposures by stem.
    generated : list of GeneratedAssociation
        Every association jwst's rules made.
    wanted : set of str
        The Level-3 pipelines (``asn_type``) estimated.

    Returns
    -------
    dict of str to str
        Each unused exposure's stem, and why it forms no estimated product.
    """
    types_of: dict[str, set[str]] = {}
    for association in generated:
        for product in association.content["products"]:
            for member in product["members"]:
                stem = exposure_stem(member["expname"])
                types_of.setdefault(stem, set()).add(association.content["asn_type"])
    unused = {}
    for stem, meta in exposures.items():
        types = types_of.get(stem, set())
        if not types:
            unused[stem] = f"{meta.exp_type}: in no Level-3 product jwst's rules make from this folder"
        elif not types & wanted:
            unused[stem] = f"only in {', '.join(sorted(types))} products, left out by the exp modes chosen"
    return unused


def unused_summary(unused: dict[str, str], shown: int = 3) -> list[str]:
    """One line per reason: how many exposures, the first few names.

    Parameters
    ----------
    unused : dict of str to str
        Each unused exposure's stem, and why (`unused_exposures`).
    shown : int, optional
        Names shown per reason.

    Returns
    -------
    list of str
        One line per reason, sorted by reason.
    """
    by_reason: dict[str, list[str]] = {}
    for stem, reason in unused.items():
        by_reason.setdefault(reason, []).append(stem)
    lines = []
    for reason, stems in sorted(by_reason.items()):
        more = f" and {len(stems) - shown} more" if len(stems) > shown else ""
        lines.append(f"{len(stems)} exposure(s) form no product ({reason}): {', '.join(stems[:shown])}{more}")
    return lines


def _member_types(asn_type: str) -> tuple[str, ...]:
    return MEMBER_EXPTYPES.get(asn_type, ("science",))

