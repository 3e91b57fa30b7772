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

import contextlib
import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from astropy.io import fits
from astropy.io.fits.verify import VerifyError

from jwst_memest.forking import forked_map
from jwst_memest.metadata import exposure_stem

__all__ = ["EXPOSURE_IDENTIFIERS", "PoolEntry", "distinct_rows", "expand_members", "generate_level3",
           "generate_from_distinct_rows", "generate_per_program", "program_of", "pool_table"]

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
    raw = getattr(entry.header, "cards_text", None)  # metadata.RawHeader: the cards as read
    images = raw if raw is not None else (_card_image(card) for card in entry.header.cards)
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
        row = {keyword.lower(): _pool_value(value) for keyword, value in _parsable_items(entry.header)
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


def _pool_value(value) -> str:
    """A header value as an operations pool holds it: a logical as T or F, anything else as its text.

    mkpool writes a logical as Python's ``True``/``False``, which the Level-3 rules do not read as
    true: they match TSOVISIT and BKGDTARG against ``t``/``T`` (the pool reader lowercases values),
    so a TSO visit's MIRI imaging, MIRI LRS slitless and NIRISS SOSS exposures would form no
    calwebb_tso3 product, and dedicated backgrounds would not be matched as backgrounds."""
    if isinstance(value, bool):
        return "T" if value else "F"
    return str(value)


def _parsable_items(header: fits.Header):
    """(keyword, value) of every card astropy can parse (mkpool would stop on the others)."""
    # a header read as its file holds it (metadata.RawHeader) parses its plain values itself, as astropy
    # reads them, at a fraction of the cost of astropy's Card objects
    values = header.value_items() if hasattr(header, "value_items") else None
    if values is not None:
        yield from values
        return
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



# Per program --------------------------------------------------------------------------------------
#
# Every Level-3 rule that makes an association is jwst's AsnMixin_Science, whose constraints hold
# Constraint_Base: one value of the pool's ``program`` column per association (Asn_Lv3ACQ_Reprocess
# makes none; it hands target acquisitions back to those associations). An association's product is
# named after its program, and finalizing prunes associations by product name or by identical
# members, which no two programs share. So the generator run on each program's rows alone makes the
# associations it makes on the whole pool (tests/test_pools.py checks both the rules and the outcome);
# only the sequence numbers in the association file names count within each program, as operations'
# pools, one per program, number them. jwst's generator matches every row of a candidate against every
# association made so far, so a pool of several programs costs the square of its rows.


def program_of(entry: PoolEntry) -> str:
    """The program an exposure's pool row belongs to, as the rules compare it.

    Parameters
    ----------
    entry : PoolEntry
        The exposure.

    Returns
    -------
    str
        PROGRAM, stripped and in lower case (the pool file's reader lowercases every value); empty
        when absent.
    """
    return _text(entry.header, "PROGRAM").lower()


def generate_per_program(entries: list[PoolEntry], target_ids: dict[str, str], workers: int = 1
                         ) -> list[tuple[str, dict]]:
    """`generate_level3` of the whole pool (observation candidates), run one program at a time.

    The pool is made and passed through a pool file once, as for the whole pool, then split by
    program; each program's rows go through jwst's per-candidate generation (jwst's own functions, with
    each candidate's rule registry built once per process rather than once per candidate and pool).

    Parameters
    ----------
    entries : list of PoolEntry
        The pool's rows.
    target_ids : dict of str to str
        Target name to id (`generate_level3`).
    workers : int, optional
        Processes sharing the programs (forked: they inherit the pool); 1 runs them here.

    Returns
    -------
    list of (str, dict)
        Each association's file name and content, program after program.
    """
    if not entries:
        return []
    pool = _as_read_from_a_pool_file(pool_table(entries, target_ids))
    rows: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        rows.setdefault(program_of(entry), []).append(index)
    pools = [pool[indices] for indices in rows.values()]
    order = sorted(range(len(pools)), key=lambda i: -len(pools[i]))  # largest first: the workers end together
    results = forked_map(_generate_program, [pools[i] for i in order], workers)
    by_program = dict(zip(order, results))
    return [association for i in range(len(pools)) for association in by_program[i]]


_REGISTRIES: dict = {}  # candidate id (or None: finalizing) -> jwst's rule registry for it


def _registry(candidate: str | None):
    """jwst's Level-3 rule registry constrained to one candidate (None: the one that finalizes), as
    ``generate_per_candidate`` builds it; built once per process. Its rules keep no state between
    pools: each association copies the global constraint and builds its own."""
    if candidate not in _REGISTRIES:
        from jwst.associations.generator.generate_per_pool import (
            CANDIDATE_RULESET,
            DISCOVER_RULESET,
            constrain_on_candidates,
        )
        from jwst.associations.lib import rules_level3
        from jwst.associations.registry import AssociationRegistry

        if candidate is None:
            registry = AssociationRegistry([rules_level3.__file__], include_default=False, name=DISCOVER_RULESET)
        else:
            registry = AssociationRegistry([rules_level3.__file__], include_default=False,
                                           global_constraints=constrain_on_candidates([candidate]),
                                           name=CANDIDATE_RULESET)
        _REGISTRIES[candidate] = registry
    return _REGISTRIES[candidate]


def _generate_program(pool) -> list[tuple[str, dict]]:
    """``generate_per_candidate(pool, all_candidates=True, discover=False)``, step by step with jwst's
    own functions, then each association dumped as `generate_level3` does."""
    from jwst.associations.generator.generate import generate
    from jwst.associations.generator.generate_per_candidate import ids_by_ctype, pool_from_candidate

    with warnings.catch_warnings(), _schema_checked_once():
        warnings.simplefilter("ignore")
        associations = []
        for ctype, ids in ids_by_ctype(pool).items():
            for cid in ids:
                pool_cid = pool_from_candidate(pool, cid)
                pool_cid["asn_candidate"] = [f"[('{cid}', '{ctype}')]"] * len(pool_cid)
                associations.extend(generate(pool_cid, _registry(cid), finalize=False))
        if associations:
            try:
                associations = _registry(None).callback.reduce("finalize", associations)
            except KeyError:  # as jwst: no finalizing callback
                pass
        return _dumped(associations)


class _CheckedSchemas:
    """``jsonschema`` as jwst's association module uses it (``validate``, ``ValidationError``), with each
    schema checked and its validator made once instead of at every call: jwst validates every
    association against its schema file three times (made, finalized, dumped), and checking the
    schema itself is most of that cost. What is validated, and what it raises, is unchanged."""

    def __init__(self, jsonschema):
        self.ValidationError = jsonschema.ValidationError
        self._jsonschema = jsonschema
        self._validators: dict[str, object] = {}

    def validate(self, instance, schema, cls=None, *args, **kwargs):
        if cls is not None or args or kwargs:
            return self._jsonschema.validate(instance, schema, cls, *args, **kwargs)
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            kind = self._jsonschema.validators.validator_for(schema)
            kind.check_schema(schema)
            validator = self._validators[key] = kind(schema)
        error = self._jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    def __getattr__(self, name):
        return getattr(self._jsonschema, name)


_CHECKED: _CheckedSchemas | None = None  # made once per process


@contextlib.contextmanager
def _schema_checked_once():
    """jwst's association module validating with `_CheckedSchemas` for the duration."""
    from jwst.associations import association

    global _CHECKED
    original = association.jsonschema
    if not isinstance(original, _CheckedSchemas):
        if _CHECKED is None or _CHECKED._jsonschema is not original:
            _CHECKED = _CheckedSchemas(original)
        association.jsonschema = _CHECKED
    try:
        yield
    finally:
        association.jsonschema = original


def _dumped(associations) -> list[tuple[str, dict]]:
    generated = []
    with warnings.catch_warnings():
        # members are named by their path here; write_associations names them by file name
        warnings.filterwarnings("ignore", message="Input association file contains path information",
                                category=UserWarning)
        for association in associations:
            name, text = association.dump(format="json")
            generated.append((name, json.loads(text)))
    return generated
