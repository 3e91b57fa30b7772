"""Level-3 associations: load with jwst's own loader, map products to member files.

A member named in the association but absent on disk is looked for under its
other processing levels (same exposure stem: cal, calints, rate, rateints,
uncal), beside the association and in the user's search path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from jwst_memest.metadata import exposure_stem
from jwst_memest.pipelines import MEMBER_EXPTYPES, PIPELINES, normalize


__all__ = [
    "AssociationError",
    "ProductMembers",
    "product_name",
    "first_few",
    "load_level3_association",
    "load_level2_association",
    "read_association_json",
    "is_level2_association",
    "LEVEL2_ASN_TYPES",
    "product_members",
    "resolve_member",
    "MEMBER_EXPTYPES",
    "SIBLING_SUFFIXES",
]

# Order in which other levels of a missing member are tried (closest to Level 2b first).
SIBLING_SUFFIXES = ("cal", "calints", "rate", "rateints", "uncal")


class AssociationError(ValueError):
    """The association cannot be estimated; the message names the file and the problem.

    Always one line: line breaks that come from the association itself (a product or
    member name) are shown escaped.

    Parameters
    ----------
    message : str
        The file and the problem.
    """

    def __init__(self, message: str):
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"))


@dataclass
class ProductMembers:
    """One Level-3 product and the member files found for it.

    Parameters
    ----------
    name : str
        The product's name.
    index : int
        Its position in the association's ``products``.
    paths : list of pathlib.Path, optional
        The members found on disk.
    missing : list of str, optional
        The members named in the association and found at no level.
    substituted : list of (str, pathlib.Path), optional
        Each member found at another level: its name in the association and the file used.
    """

    name: str
    index: int
    paths: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    substituted: list[tuple[str, Path]] = field(default_factory=list)


def product_name(product: dict, index: int) -> str:
    """A product's name, or a stand-in from its position when the association gives none.

    Parameters
    ----------
    product : dict
        The product, as in the association.
    index : int
        Its position in the association's ``products``.

    Returns
    -------
    str
        Its ``name``, else ``product_<index>``.
    """
    return str(product.get("name") or f"product_{index}")


def first_few(items: Sequence[str], limit: int = 3, separator: str = ", ") -> str:
    """The first ``limit`` items and how many more: an error line stays short for 24 or 2,000 members.

    Parameters
    ----------
    items : sequence of str
        The items.
    limit : int, optional
        How many to show.
    separator : str, optional
        What joins them.

    Returns
    -------
    str
        Such as ``a, b, c and 5 more``.
    """
    shown = separator.join(str(item) for item in items[:limit])
    more = len(items) - limit
    return f"{shown} and {more} more" if more > 0 else shown


LEVEL2_ASN_TYPES = ("image2", "spec2", "tso-image2", "tso-spec2", "nrslamp-spec2")


def read_association_json(path: str | Path) -> tuple[str, dict]:
    """The text and JSON object of an association file, or one line saying why it is not one.

    Parameters
    ----------
    path : str or pathlib.Path
        The association file.

    Returns
    -------
    text : str
        The file's text.
    raw : dict
        Its JSON object.

    Raises
    ------
    AssociationError
        Missing or unreadable file, invalid JSON, or not a JSON object.
    """
    path = Path(path)
    if path.is_dir():
        raise AssociationError(f"{path}: is a directory, not an association file")
    if not path.is_file():
        raise AssociationError(f"{path}: association file not found")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise AssociationError(f"{path}: cannot read association ({exc})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AssociationError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise AssociationError(f"{path}: JSON nested too deeply to be an association") from None
    if not isinstance(raw, dict):
        raise AssociationError(f"{path}: an association is a JSON object, not {type(raw).__name__}")
    return text, raw


def is_level2_association(raw: dict) -> bool:
    """Whether an association's JSON is a Level-2 one (calwebb_image2/spec2: one exposure a product).

    Parameters
    ----------
    raw : dict
        The association's JSON object.

    Returns
    -------
    bool
        True for jwst's Level-2 types and rules.
    """
    rule = str(raw.get("asn_rule", "")).lower()  # jwst's pool rules (Asn_Lv2...) and asn_from_list's DMSLevel2bBase
    return str(raw.get("asn_type", "")).lower() in LEVEL2_ASN_TYPES or "lv2" in rule or "level2" in rule


def _validated(path: Path, text: str):
    from jwst.associations import AssociationNotValidError
    from jwst.associations.load_asn import load_asn

    try:
        association = load_asn(text, registry=_default_registry())
    except (AssociationNotValidError, ValueError, TypeError, KeyError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AssociationError(f"{path}: not a valid association ({first_line[:200]})") from None
    products = association.get("products")
    if not isinstance(products, list) or not products:
        raise AssociationError(f"{path}: association has no products")
    return association


def load_level2_association(path: str | Path):
    """Load a Level-2 association with jwst's loader.

    Parameters
    ----------
    path : str or pathlib.Path
        The association file.

    Returns
    -------
    association : jwst.associations.Association
        The association, as jwst's ``load_asn`` loads it.
    raw : dict
        Its JSON object (what an annotated copy is made from).

    Raises
    ------
    AssociationError
        Missing or unreadable file, invalid JSON, not a valid association, not Level 2, or no
        products.
    """
    text, raw = read_association_json(path)
    if not is_level2_association(raw):
        raise AssociationError(f"{path}: asn_type {raw.get('asn_type')!r} is not a Level-2 association "
                               f"(expected one of {', '.join(LEVEL2_ASN_TYPES)})")
    return _validated(Path(path), text), raw


def load_level3_association(path: str | Path):
    """Load a Level-3 association with jwst's loader.

    Parameters
    ----------
    path : str or pathlib.Path
        The association file.

    Returns
    -------
    association : jwst.associations.Association
        The association, as jwst's ``load_asn`` loads it.
    pipeline : str
        Its Level-3 pipeline key (``image3``, ``spec3``, ...).

    Raises
    ------
    AssociationError
        Missing or unreadable file, invalid JSON, not a valid association, not Level 3, or
        no products.
    """
    path = Path(path)
    text, raw = read_association_json(path)
    if str(raw.get("asn_type", "")).strip().lower() in UNTYPED_ASN_TYPES:
        pipeline = _pipeline_of_members(path, raw)
        return _validated(path, text), pipeline
    try:
        pipeline = normalize(raw.get("asn_type", ""))
    except ValueError:
        raise AssociationError(
            f"{path}: asn_type {raw.get('asn_type')!r} is not a Level-3 association "
            f"(expected one of {', '.join(PIPELINES)})"
        ) from None
    return _validated(path, text), pipeline


# what jwst's asn_from_list writes for its Level-3 base rule (and an association without the key):
# the Level-3 pipelines run it all the same, so its pipeline is the one its science members go to
UNTYPED_ASN_TYPES = ("none", "")


def _pipeline_of_members(path: Path, raw: dict) -> str:
    """The Level-3 pipeline of an untyped association: the one its first science member's EXP_TYPE
    (and TSOVISIT) goes to, as jwst's Level-3 rules assign it."""
    from astropy.io import fits

    from jwst_memest.pipelines import pipeline_for_exposure

    products = raw.get("products") if isinstance(raw.get("products"), list) else []
    for product in products:
        for member in product.get("members", []) if isinstance(product, dict) else []:
            if not isinstance(member, dict) or str(member.get("exptype", "")).lower() != "science":
                continue
            found = resolve_member(str(member.get("expname", "")), path.parent)
            if found is None:
                continue
            try:
                header = fits.getheader(found, 0)
            except OSError as exc:
                raise AssociationError(f"{found}: cannot read its header ({exc})") from None
            return pipeline_for_exposure(header.get("EXP_TYPE"), bool(header.get("TSOVISIT", False)))
    raise AssociationError(f"{path}: asn_type {raw.get('asn_type')!r} names no pipeline and no science member "
                           f"was found to tell it (expected one of {', '.join(PIPELINES)}, or members beside it)")


_REGISTRY: list = []


def _default_registry():
    """The rule registry jwst's ``load_asn`` builds for every call (jwst's default rules), built once:
    building it executes jwst's rule modules again, and the step loads its association twice (checked
    before stpipe's run, then estimated). Loading keeps nothing in it."""
    if not _REGISTRY:
        from jwst.associations.registry import AssociationRegistry

        _REGISTRY.append(AssociationRegistry())
    return _REGISTRY[0]


def resolve_member(expname: str, asn_dir: Path, search_path: Sequence[Path] = ()) -> Path | None:
    """Path of a member on disk: as named, else a sibling level of the same exposure.

    Parameters
    ----------
    expname : str
        The member's ``expname`` in the association.
    asn_dir : pathlib.Path
        The association's directory (relative names are found from it).
    search_path : sequence of pathlib.Path, optional
        More directories to look in.

    Returns
    -------
    pathlib.Path or None
        The file found (levels tried in ``SIBLING_SUFFIXES`` order), or None.
    """
    named = Path(expname)
    directories = [asn_dir, *search_path]
    candidates = [named] if named.is_absolute() else [d / named for d in directories]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    stem = exposure_stem(named)
    if stem == named.name.split(".")[0]:  # no product suffix: nothing to swap
        return None
    for directory in [named.parent if named.is_absolute() else asn_dir, *search_path]:
        for suffix in SIBLING_SUFFIXES:
            candidate = Path(directory) / f"{stem}_{suffix}.fits"
            if candidate.is_file():
                return candidate
    return None


def product_members(
    association, pipeline: str, asn_dir: Path, search_path: Iterable[str | Path] = ()
) -> list[ProductMembers]:
    """Member files of every product, for the member types the pipeline loads.

    Parameters
    ----------
    association : dict or jwst.associations.Association
        The loaded association.
    pipeline : str
        Its Level-3 pipeline key.
    asn_dir : pathlib.Path
        The association's directory.
    search_path : iterable of str or pathlib.Path, optional
        More directories to look for members in.

    Returns
    -------
    list of ProductMembers
        One per product, in the association's order.
    """
    search = [Path(p) for p in search_path if str(p)]
    exptypes = MEMBER_EXPTYPES[pipeline]
    result = []
    for index, product in enumerate(association["products"]):
        found = ProductMembers(name=product_name(product, index), index=index)
        for member in product.get("members", []):
            if str(member.get("exptype", "science")).lower() not in exptypes:
                continue
            expname = str(member["expname"])
            path = resolve_member(expname, asn_dir, search)
            if path is None:
                found.missing.append(expname)
            else:
                if path.name != Path(expname).name:
                    found.substituted.append((expname, path))
                found.paths.append(path)
        result.append(found)
    return result
