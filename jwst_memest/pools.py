"""Level-3 associations of a folder of exposures, by jwst's generator, at the cost of its distinct rows.

jwst's generator matches every pool row against every Level-3 rule, and its pool maker opens every
file again; both costs grow with the number of exposures. Yet a visit's dithers are rows the rules
cannot tell apart: they differ only in columns no Level-3 rule reads (the file name, the exposure
and pattern counters, the times). Such rows are interchangeable, so the generator runs on the first
of each set of them (the first two where a rule counts a product's members: nodded MIRI LRS and
NIRISS SOSS backgrounds, wavefront-sensing pairs) and each association's members are expanded back
to the whole set. The pool holds what jwst's ``mkpool`` would make of the primary headers already read
(``pool_table``), written and read back as operations' pool files are, so products carry the names
the pipeline gives.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.io.fits.verify import VerifyError

from jwst_memest.metadata import exposure_stem

__all__ = ["EXPOSURE_IDENTIFIERS", "PoolEntry", "distinct_rows", "expand_members", "generate_level3",
           "generate_from_distinct_rows", "pool_table"]

# Primary-header keywords that change from one exposure of an activity to the next and that no
# Level-3 rule reads (tests/test_pools.py searches jwst's Level-3 rule modules for each). FILENAME is
# read only to tell members apart, which is what expanding the associations restores.
EXPOSURE_IDENTIFIERS = frozenset({
    "FILENAME", "DATE", "DATE-OBS", "TIME-OBS", "DATE-BEG", "DATE-AVG", "DATE-END", "MJD-BEG", "MJD-AVG",
    "MJD-END", "TDB-BEG", "TDB-MID", "TDB-END", "EXPSTART", "EXPMID", "EXPEND", "BSTRTIME", "BMIDTIME",
    "BENDTIME", "HSTRTIME", "HMIDTIME", "HENDTIME", "EXPOSURE", "EXPCOUNT", "PATT_NUM", "SUBPXNUM",
    "XOFFSET", "YOFFSET", "CHECKSUM", "DATASUM",
})
# Level-3 rules whose outcome depends on how many members a product has, not only on their values:
# nodded MIRI LRS and NIRISS SOSS products gain background members only with two science exposures or
# more (Asn_Lv3SpectralTarget), wavefront-sensing products are pairs (Asn_Lv3WFSCMB). The generator
# sees two rows of such sets; tests/test_pools.py checks that no other Level-3 rule counts members.
COUNTED_EXP_TYPES = frozenset({"MIR_LRS-FIXEDSLIT", "NIS_SOSS"})
COUNTED_PATTERN_TYPES = frozenset({"WFSC"})


def representatives_needed(entry: PoolEntry) -> int:
    """How many rows of this entry's set the generator must see for its rules to count them right.

    Parameters
    ----------
    entry : PoolEntry
        An exposure of the set.

    Returns
    -------
    int
        2 for nodded MIRI LRS, NIRISS SOSS and wavefront-sensing patterns, else 1.
    """
    exp_type, pattern = _text(entry.header, "EXP_TYPE"), _text(entry.header, "PATTTYPE")
    return 2 if exp_type in COUNTED_EXP_TYPES or pattern in COUNTED_PATTERN_TYPES else 1


def _text(header: fits.Header, keyword: str) -> str:
    try:
        return str(header.get(keyword, "")).strip().upper()
    except VerifyError:  # an unparsable card reads as absent, as everywhere else
        return ""


@dataclass(frozen=True)
class PoolEntry:
    """One exposure of the pool: its file, primary header and whether it is a NIRSpec imprint.

    Parameters
    ----------
    path : str
        The exposure's file.
    header : astropy.io.fits.Header
        Its primary header.
    is_imprint : bool, optional
        Whether it is a NIRSpec imprint exposure.
    """

    path: str
    header: fits.Header
    is_imprint: bool = False

    @property
    def stem(self) -> str:
        """The exposure's stem (`jwst_memest.metadata.exposure_stem`).

        Returns
        -------
        str
            The file name without directory, product suffix and extension.
        """
        return exposure_stem(self.path)


def _signature(entry: PoolEntry) -> tuple:
    """What the Level-3 rules can see of an exposure: every primary card but its identifiers."""
    images = (_card_image(card) for card in entry.header.cards)
    return tuple(image for image in images if image[:8].rstrip() not in EXPOSURE_IDENTIFIERS), entry.is_imprint


def _card_image(card: fits.Card) -> str:
    """The card's 80 characters. A card read from a file keeps them as read (astropy's ``_image``); the
    public ``image`` verifies and reformats the card first, which costs more than reading the file."""
    image = getattr(card, "_image", None)
    return image if isinstance(image, str) and len(image) == 80 and not card._modified else card.image


def distinct_rows(entries: list[PoolEntry], keep: int | None = None) -> tuple[list[PoolEntry], dict[str, list[str]]]:
    """The entries the generator needs, and for each representative the stems of the exposures it stands for.

    The first ``keep`` entries of each set of interchangeable rows are kept, in pool order; the
    rest follow the first of them.

    Parameters
    ----------
    entries : list of PoolEntry
        The pool's exposures.
    keep : int or None, optional
        Rows kept per set (None: as many as `representatives_needed`).

    Returns
    -------
    kept : list of PoolEntry
        The representatives, in pool order.
    followers : dict of str to list of str
        Per representative stem, the stems of the rows it stands for.
    """
    kept, followers, first_of, limit = [], {}, {}, {}
    seen: dict[tuple, int] = {}
    for entry in entries:
        key = _signature(entry)
        count = seen.get(key, 0)
        seen[key] = count + 1
        if count == 0:
            first_of[key] = entry.stem
            limit[key] = keep or representatives_needed(entry)
        if count < limit[key]:
            kept.append(entry)
        else:
            followers.setdefault(first_of[key], []).append(entry.stem)
    return kept, followers


def expand_members(content: dict, followers: dict[str, list[str]], order: dict[str, int]) -> dict:
    """An association made from representatives, with every member repeated for the exposures it stands for.

    A member derived from a representative's name (e.g. an LRS nod background ``..._x1d.fits``) is
    repeated under each follower's name. Within each run of members of one type the members are in
    pool order, as the generator adds them.

    Parameters
    ----------
    content : dict
        The association; changed in place.
    followers : dict of str to list of str
        Per representative stem, the stems it stands for (`distinct_rows`).
    order : dict of str to int
        Each stem's position in the pool.

    Returns
    -------
    dict
        ``content``, expanded.
    """
    for product in content.get("products", []):
        runs: list[list[dict]] = []
        for member in product["members"]:
            if not runs or runs[-1][0].get("exptype") != member.get("exptype"):
                runs.append([])
            runs[-1].append(member)
            stem = exposure_stem(member["expname"])
            for follower in followers.get(stem, []):
                copy = dict(member)
                copy["expname"] = member["expname"].replace(stem, follower)
                runs[-1].append(copy)
        product["members"] = [m for run in runs for m in sorted(run, key=lambda m: order.get(exposure_stem(m["expname"]), 0))]
    return content


def generate_level3(entries: list[PoolEntry], target_ids: dict[str, str], discover: bool = False
                    ) -> list[tuple[str, dict]]:
    """The Level-3 associations jwst's generator makes from a pool of these rows.

    Parameters
    ----------
    entries : list of PoolEntry
        The pool's rows.
    target_ids : dict of str to str
        Target name to id: numbers targets as an operations pool of the whole program does
        (mkpool would number them within this pool only).
    discover : bool, optional
        Run jwst's discovery pass too.

    Returns
    -------
    list of (str, dict)
        Each association's file name and content.
    """
    from jwst.associations.generator.generate_per_candidate import generate_per_candidate
    from jwst.associations.lib import rules_level3

    pool = pool_table(entries, target_ids)
    pool = _as_read_from_a_pool_file(pool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        associations = generate_per_candidate(
            pool, rule_defs=[rules_level3.__file__], all_candidates=True, discover=discover, ignore_default=True
        )
    generated = []
    with warnings.catch_warnings():
        # members are named by their path here; write_associations names them by file name
        warnings.filterwarnings("ignore", message="Input association file contains path information",
                                category=UserWarning)
        for association in associations:
            name, text = association.dump(format="json")
            generated.append((name, json.loads(text)))
    return generated


def generate_from_distinct_rows(entries: list[PoolEntry], target_ids: dict[str, str], discover: bool = False,
                                representatives: int | None = None) -> list[tuple[str, dict]]:
    """`generate_level3` of the whole pool, run on its distinct rows and expanded back.

    Parameters
    ----------
    entries : list of PoolEntry
        The pool's rows.
    target_ids : dict of str to str
        Target name to id.
    discover : bool, optional
        Run jwst's discovery pass too.
    representatives : int or None, optional
        Rows kept per set of interchangeable rows (None: as many as `representatives_needed`).

    Returns
    -------
    list of (str, dict)
        Each association's file name and content.
    """
    order = {entry.stem: i for i, entry in enumerate(entries)}
    kept, followers = distinct_rows(entries, representatives)
    return [(name, expand_members(content, followers, order))
            for name, content in generate_level3(kept, target_ids, discover)]


def pool_table(entries: list[PoolEntry], target_ids: dict[str, str]):
    """The pool jwst's ``mkpool`` makes from these exposures' primary headers, built in one go.

    mkpool adds its rows one at a time (each copies every column) and reads each file again; this
    takes the headers already read and gives the same columns, values and defaults (tests/test_pools.py
    compares the two). NIRSpec imprints keep their header's IS_IMPRT (mkpool sets every row to 'f') and
    targets are numbered by ``target_ids``, over the whole program.

    Parameters
    ----------
    entries : list of PoolEntry
        The pool's rows.
    target_ids : dict of str to str
        Target name to id.

    Returns
    -------
    jwst.associations.AssociationPool
        The pool.
    """
    from jwst.associations import AssociationPool
    from jwst.associations.mkpool import IGNORE_KEYS, NON_HEADER_COLS

    rows, first_seen = [], {}
    for entry in entries:
        row = {keyword.lower(): str(value) for keyword, value in _parsable_items(entry.header)
               if keyword not in IGNORE_KEYS}
        row["filename"] = entry.path
        row.update(NON_HEADER_COLS)
        row["asn_candidate"] = str([(f"o{entry.header.get('OBSERVTN', '')}", "observation")])
        row["is_imprt"] = "t" if entry.is_imprint else "f"
        target = row.get("targname", "null")
        first_seen.setdefault(target, str(len(first_seen) + 1))  # mkpool's own numbering, within this pool
        row["targetid"] = target_ids.get(target.strip(), first_seen[target])
        rows.append(row)
    columns = sorted({column for row in rows for column in row})
    return AssociationPool(rows=[[row.get(column, "null") for column in columns] for row in rows] or None,
                           names=columns, dtype=[object] * len(columns))


def _parsable_items(header: fits.Header):
    """(keyword, value) of every card astropy can parse (mkpool would stop on the others)."""
    for card in header.cards:
        try:
            yield card.keyword, card.value
        except (VerifyError, ValueError):
            continue


def _as_read_from_a_pool_file(pool):
    """The pool as operations' pool files give it to the generator: written, then read by jwst's own
    pool reader (values lowercased, "null" for absent), so product names are those made from the
    operations pool of the same exposures (no "-full"/"-none" from upper-case header values)."""
    from jwst.associations.pool import AssociationPool

    with tempfile.TemporaryDirectory(prefix="memest-pool-") as scratch:
        path = Path(scratch) / "pool.csv"
        pool.write(str(path), format="ascii", delimiter="|")
        return AssociationPool.read(str(path))

