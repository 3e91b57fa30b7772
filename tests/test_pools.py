"""Folder mode gives jwst's generator only the distinct rows of a pool, and gets the same associations back."""

import re
import warnings
from pathlib import Path

import jwst
import pytest
from shipped_pools import expanded_pool, write_exposures

from jwst_memest.exposures import NIRCAM_SW_DETECTORS, ExposureLayout, write_header_exposures
from jwst_memest.metadata import read_exposure_metadata_and_header
from jwst_memest.pools import (
    EXPOSURE_IDENTIFIERS,
    PoolEntry,
    distinct_rows,
    expand_members,
    generate_from_distinct_rows,
    generate_level3,
    pool_table,
)

# the pools jwst ships whose rows repeat (the grouping has work to do) and a spread of the others;
# the default run takes one of the first, the slow run all nine
SHIPPED_POOLS = [
    "pool_023_nirspec_msa_3nod.csv",
    *(pytest.param(name, marks=pytest.mark.slow) for name in (
        "pool_019_niriss_wfss.csv", "pool_024b_nirspec_fss_nods.csv", "pool_024c_nirspec_fss_nods.csv",
        "pool_003_image_nircam.csv", "pool_007_spec_miri.csv", "pool_018_all_exptypes.csv", "pool_021_tso.csv",
        "jw87800_20180412T163456_pool.csv")),
]


def _entries(folder: Path, sfx: str) -> list[PoolEntry]:
    found = [(path, *read_exposure_metadata_and_header(path)) for path in sorted(folder.glob(f"*{sfx}"))]
    return [PoolEntry(str(path), header, bool(meta.is_imprint)) for path, meta, header in found]


def _generated(folder: Path, sfx: str, whole: bool = False, keep: int | None = None):
    """The associations of the folder's exposures: of the whole pool, or of its distinct rows expanded back."""
    entries = _entries(folder, sfx)
    targets: dict[str, str] = {}
    for entry in entries:
        targets.setdefault(str(entry.header["TARGNAME"]), str(len(targets) + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = (generate_level3(entries, targets) if whole
                 else generate_from_distinct_rows(entries, targets, representatives=keep))
    # file names carry the time of generation: compare what the associations hold
    return sorted(
        (content["asn_type"], content["asn_id"], content["asn_rule"],
         [(p["name"], [(Path(m["expname"]).name, m["exptype"]) for m in p["members"]]) for p in content["products"]])
        for _, content in found
    )


@pytest.mark.parametrize("pool_file", SHIPPED_POOLS)
def test_the_distinct_rows_of_each_shipped_pool_make_the_associations_of_the_whole_pool(tmp_path, pool_file):
    assert write_exposures(expanded_pool(pool_file), tmp_path) > 0
    whole = _generated(tmp_path, ".fits", whole=True)
    assert whole
    assert _generated(tmp_path, ".fits") == whole


@pytest.mark.parametrize("layout", [
    ExposureLayout(detectors=NIRCAM_SW_DETECTORS[:4], dither_points=10),
    ExposureLayout(detectors=["NRCA1"], dither_points=3, mosaic_tiles=(2, 2)),
    ExposureLayout(detectors=["MIRIMAGE"], exp_type="MIR_IMAGE", filter="F770W", pupil="N/A", dither_points=5),
], ids=["nircam-4-detectors-10-dithers", "nircam-mosaic", "miri-dithers"])
def test_a_visits_dithers_are_generated_once_and_expanded_back(tmp_path, layout):
    write_header_exposures(layout, tmp_path)
    whole = _generated(tmp_path, "_uncal.fits", whole=True)
    entries = _entries(tmp_path, "_uncal.fits")
    kept, _ = distinct_rows(entries)
    assert len(kept) < len(entries)  # the dithers are interchangeable to the rules
    assert _generated(tmp_path, "_uncal.fits") == whole


def test_rows_differing_only_in_their_identifiers_follow_the_first_two(tmp_path):
    from astropy.io import fits

    def entry(name, detector, exposure):
        header = fits.Header({"EXP_TYPE": "NRC_IMAGE", "DETECTOR": detector, "EXPOSURE": exposure,
                              "FILENAME": name, "EXPSTART": 60000.0 + exposure})
        return PoolEntry(f"/data/{name}_uncal.fits", header)

    entries = [entry(f"jw_{k}_{d.lower()}", d, k) for k in range(1, 5) for d in ("NRCA1", "NRCA2")]
    kept, followers = distinct_rows(entries)
    assert [e.stem for e in kept] == ["jw_1_nrca1", "jw_1_nrca2"]
    assert followers == {"jw_1_nrca1": ["jw_2_nrca1", "jw_3_nrca1", "jw_4_nrca1"],
                         "jw_1_nrca2": ["jw_2_nrca2", "jw_3_nrca2", "jw_4_nrca2"]}
    assert [e.stem for e in distinct_rows(entries, keep=2)[0]] == ["jw_1_nrca1", "jw_1_nrca2", "jw_2_nrca1",
                                                                   "jw_2_nrca2"]
    # a difference in any other card keeps the row
    entries[-1].header["FILTER"] = "F200W"
    assert "jw_4_nrca2" in [e.stem for e in distinct_rows(entries)[0]]


def test_expanded_members_keep_pool_order_within_each_member_type():
    content = {"products": [{"name": "p", "members": [
        {"expname": "/d/a1_cal.fits", "exptype": "science"}, {"expname": "/d/b1_cal.fits", "exptype": "science"},
        {"expname": "/d/a1_x1d.fits", "exptype": "background"},
    ]}]}
    order = {"a1": 0, "b1": 1, "a2": 2, "b2": 3}
    expand_members(content, {"a1": ["a2"], "b1": ["b2"]}, order)
    assert [(m["expname"], m["exptype"]) for m in content["products"][0]["members"]] == [
        ("/d/a1_cal.fits", "science"), ("/d/b1_cal.fits", "science"), ("/d/a2_cal.fits", "science"),
        ("/d/b2_cal.fits", "science"), ("/d/a1_x1d.fits", "background"), ("/d/a2_x1d.fits", "background")]


def test_no_level3_rule_reads_a_keyword_the_grouping_ignores():
    """Each ignored keyword is absent from every module the Level-3 generator runs (level-2 rules excluded)."""
    package = Path(jwst.__file__).parent / "associations"
    sources = [p for p in package.rglob("*.py")
               if "tests" not in p.parts and not p.name.startswith("rules_level2") and p.name != "mkpool.py"]
    assert any(p.name == "rules_level3.py" for p in sources)
    text = "\n".join(p.read_text() for p in sources).lower()
    read = [k for k in EXPOSURE_IDENTIFIERS - {"FILENAME"} if re.search(rf"[\"']{re.escape(k.lower())}[\"']", text)]
    assert read == []


@pytest.mark.parametrize("pool_file", ["pool_018_all_exptypes.csv", "pool_023_nirspec_msa_3nod.csv"])
def test_the_pool_is_the_one_mkpool_makes_from_the_same_files(tmp_path, pool_file):
    from jwst.associations.mkpool import mkpool

    write_exposures(expanded_pool(pool_file), tmp_path)
    entries = _entries(tmp_path, ".fits")
    entries[0] = PoolEntry(entries[0].path, entries[0].header, True)  # an imprint keeps its flag
    targets = {"target1": "7"}
    ours = pool_table(entries, targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = mkpool([entry.path for entry in entries])
    for row, entry in zip(theirs, entries):  # what folder mode sets beyond mkpool
        row["targetid"] = targets.get(str(row["targname"]).strip(), row["targetid"])
        row["is_imprt"] = "t" if entry.is_imprint else "f"
    # logicals as operations' pools hold them (T, F), where mkpool writes Python's True, False
    logical = {"True": "T", "False": "F"}
    assert ours.colnames == theirs.colnames
    assert [list(map(str, row)) for row in ours] == [[logical.get(str(v), str(v)) for v in row] for row in theirs]
    assert any(str(v) in logical for row in theirs for v in row)  # the pools hold logicals to compare


def test_nodded_lrs_keeps_its_background_members(tmp_path):
    """The rule that adds nod backgrounds counts the science exposures: the generator must see two nods."""
    write_header_exposures(ExposureLayout(detectors=["MIRIMAGE"], exp_type="MIR_LRS-FIXEDSLIT", filter="P750L",
                                          pupil="N/A", dither_points=2, dither_step_arcsec=0.0, suffix="cal",
                                          extra={"PATTTYPE": "ALONG-SLIT-NOD"}), tmp_path)
    whole = _generated(tmp_path, "_cal.fits", whole=True)
    members = [exptype for _, _, _, products in whole for _, listed in products for _, exptype in listed]
    assert members.count("background") == 2
    assert _generated(tmp_path, "_cal.fits") == whole
    assert _generated(tmp_path, "_cal.fits", keep=1) != whole  # one nod alone gets no background


def test_no_other_level3_rule_counts_members():
    """Where jwst's Level-3 rules take a length, as of the version this grouping was checked against: the
    nod-background count (make_fixedslit_bkg, used by Asn_Lv3SpectralTarget), the WFSC pair, the
    observation count of a candidate and two log lines. A new one must be looked at."""
    import inspect

    from jwst.associations.lib import rules_level3, rules_level3_base

    lengths = sorted(line.strip() for module in (rules_level3, rules_level3_base)
                     for line in inspect.getsource(module).splitlines() if "len(" in line)
    assert lengths == sorted([
        "return len(self.current_product[\"members\"]) == count",
        "if len(science_exps) < 2:",
        'result_list.append("{} with {} products".format(self.asn_name, len(self.data["products"])))',
        '"\\t{} with {} members".format(product["name"], len(product["members"]))',
        'if len(self.constraints["obs_num"].found_values) <= 1:',
    ])
    target = inspect.getsource(rules_level3.Asn_Lv3SpectralTarget)
    assert "make_fixedslit_bkg" in target and "mir_lrs-fixedslit|nis_soss" in target
    assert 'value="wfsc"' in inspect.getsource(rules_level3.Asn_Lv3WFSCMB)


def test_an_unparsable_pattern_card_reads_as_absent(tmp_path):
    from bad_inputs import write_raw_card

    write_header_exposures(ExposureLayout(detectors=["NRCA1"], dither_points=3), tmp_path)
    first = sorted(tmp_path.glob("*_uncal.fits"))[0]
    write_raw_card(first, "PATTTYPE", "PATTTYPE= NAN")
    entries = _entries(tmp_path, "_uncal.fits")
    kept, followers = distinct_rows(entries)
    assert len(kept) + sum(len(f) for f in followers.values()) == 3


def _mixed_programs(directory: Path) -> Path:
    """Three programs sharing observation numbers, a target name and some settings, each its own mix."""
    common = dict(target_name="SHARED-FIELD")
    layouts = []
    for program, filters in ((1501, ("F150W", "F444W")), (1502, ("F150W", "F356W")), (1503, ("F200W", "F444W"))):
        layouts += [
            ExposureLayout(program=program, observation=1, detectors=NIRCAM_SW_DETECTORS[:2], filter=filters[0],
                           dither_points=3, **common),
            ExposureLayout(program=program, observation=1, detectors=("NRCALONG",), filter=filters[1],
                           dither_points=3, **common),
            ExposureLayout(program=program, observation=2, detectors=("MIRIMAGE",), exp_type="MIR_IMAGE",
                           filter="F770W", pupil="N/A", dither_points=program % 3 + 2, **common),
        ]
    layouts += [
        ExposureLayout(program=1502, observation=3, exp_type="NRS_IFU", detectors=("NRS1", "NRS2"), filter="F290LP",
                       pupil="N/A", grating="G395H", dither_points=4, dither_step_arcsec=0.4, **common),
        ExposureLayout(program=1503, observation=3, exp_type="MIR_MRS", detectors=("MIRIFUSHORT", "MIRIFULONG"),
                       filter="N/A", pupil="N/A", band="SHORT", dither_points=4, dither_step_arcsec=0.5, **common),
        ExposureLayout(program=1501, observation=4, exp_type="MIR_LRS-FIXEDSLIT", detectors=("MIRIMAGE",),
                       filter="P750L", pupil="N/A", dither_points=2, dither_step_arcsec=0.0,
                       extra={"PATTTYPE": "ALONG-SLIT-NOD"}, **common),
    ]
    for layout in layouts:
        write_header_exposures(layout, directory)
    return directory


def test_every_level3_rule_that_makes_associations_keeps_to_one_program():
    """Per-program generation rests on this: each Level-3 rule that can make an association requires one
    value of the pool's program column (Constraint_Base, all of whose parts must hold)."""
    from jwst.associations.lib import rules_level3
    from jwst.associations.lib.constraint import Constraint
    from jwst.associations.lib.rules_level3_base import AsnMixin_Science, Constraint_Base
    from jwst.associations.registry import AssociationRegistry

    rules = AssociationRegistry([rules_level3.__file__], include_default=False)
    assert len(rules) > 20
    for name, rule in rules.items():
        if not issubclass(rule, AsnMixin_Science):
            assert name.endswith("Asn_Lv3ACQ_Reprocess")  # makes none: it fails every item on purpose
            continue
        top = rule().constraints
        assert top.reduce is Constraint.all, name
        bases = [c for c in top.constraints if isinstance(c, Constraint_Base)]
        assert bases, name
        program = bases[0]["program"]
        assert bases[0].reduce is Constraint.all and program.sources == ["program"] and program.force_unique, name


@pytest.fixture(scope="module")
def mixed_pool(tmp_path_factory):
    """The mixed programs' folder, and the associations jwst's generator makes of the whole pool and of each
    program's pool on its own (generated once for the tests of both worker counts)."""
    folder = _mixed_programs(tmp_path_factory.mktemp("mixed"))
    entries = _entries(folder, "_uncal.fits")
    targets = {"SHARED-FIELD": "1"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = generate_level3(entries, targets)
        alone = [name for program in ("01501", "01502", "01503")
                 for name, _ in generate_level3([e for e in entries if e.header["PROGRAM"] == program], targets)]
    return folder, targets, whole, alone


@pytest.mark.parametrize("workers", [1, 2])
def test_per_program_generation_makes_the_associations_of_the_whole_pool(mixed_pool, workers):
    from jwst_memest.pools import generate_per_program

    folder, targets, whole, alone = mixed_pool
    entries = _entries(folder, "_uncal.fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        per_program = generate_per_program(entries, targets, workers=workers)

    def held(found):
        return sorted((c["asn_type"], c["asn_id"], c["asn_rule"], c["program"],
                       [(p["name"], [(Path(m["expname"]).name, m["exptype"]) for m in p["members"]])
                        for p in c["products"]]) for _, c in found)

    assert len({c["program"] for _, c in whole}) == 3
    assert held(per_program) == held(whole)
    # file names differ only in their sequence number, which counts within each program here
    assert sorted(re.sub(r"_\d{5}_asn", "", n) for n, _ in per_program) == sorted(
        re.sub(r"_\d{5}_asn", "", n) for n, _ in whole)
    # ... and are those of each program's pool on its own, as operations make one pool per program
    assert sorted(n for n, _ in per_program) == sorted(alone)


def test_a_header_read_as_its_file_holds_it_gives_the_pool_the_values_astropy_gives(tmp_path):
    import numpy as np
    from astropy.io import fits

    from jwst_memest.metadata import RawHeader
    from jwst_memest.pools import _parsable_items

    write_header_exposures(ExposureLayout(detectors=["NRCA1"], dither_points=1), tmp_path)
    path = sorted(tmp_path.glob("*.fits"))[0]
    data = bytearray(path.read_bytes())
    # cards astropy reads in its own ways, and one it cannot parse, put in place of blank cards
    tricky = ["EXPONENT=              1.5D-03 / a Fortran exponent", "QUOTED  = 'O''Brien  '         ",
              "EMPTYSTR= ''                  ", "NEGATIVE=                  -42", "RA_REF  =                  NAN",
              "LOGICAL =                    F", "UNDEFVAL=                      ", "HISTORY written by a test",
              "AFTERBAD= 'still read'        "]
    blank = b" " * 80
    end = data.index(b"END" + b" " * 77)
    room = [i for i in range(0, end, 80) if data[i:i + 80] == blank]
    if len(room) < len(tricky):  # no blank cards to spare: insert before END, still within the block
        assert end % 2880 + 80 * (len(tricky) + 1) <= 2880
        data[end + 80 * len(tricky):end + 80 * (len(tricky) + 1)] = data[end:end + 80]
        room = [end + 80 * k for k in range(len(tricky))]
    for position, card in zip(room, tricky):
        data[position:position + 80] = card.ljust(80).encode()
    path.write_bytes(bytes(data))
    _, header = read_exposure_metadata_and_header(path)
    assert isinstance(header, RawHeader)
    ours = list(_parsable_items(header))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = list(_parsable_items(fits.getheader(path)))
    theirs = [(k, v) for k, v in theirs if k not in ("", "COMMENT", "HISTORY")]
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert [str(v) for _, v in ours] == [str(v) for _, v in theirs]
    keys = dict(ours)
    assert keys["EXPONENT"] == pytest.approx(1.5e-3) and keys["QUOTED"] == "O'Brien" and keys["AFTERBAD"] == "still read"
    assert "RA_REF" not in keys or not np.isfinite(keys["RA_REF"])


@pytest.mark.parametrize("exp_type, detector, filt, pupil", [
    ("MIR_IMAGE", "MIRIMAGE", "F770W", "N/A"),
    ("MIR_LRS-SLITLESS", "MIRIMAGE", "P750L", "N/A"),
    ("NIS_SOSS", "NIS", "CLEAR", "GR700XD"),
])
def test_a_tso_visit_known_only_by_tsovisit_forms_a_tso3_product(tmp_path, exp_type, detector, filt, pupil):
    """Headers hold TSOVISIT as a FITS logical; operations' pools hold it as T, which the rules match (mkpool's
    True they do not): these exposure types are TSO only by TSOVISIT."""
    write_header_exposures(ExposureLayout(exp_type=exp_type, detectors=[detector], filter=filt, pupil=pupil,
                                          dither_points=1, nints=50, tso_visit=True, suffix="calints"), tmp_path)
    path = next(tmp_path.glob("*_calints.fits"))
    from astropy.io import fits

    assert fits.getheader(path)["TSOVISIT"] is True
    generated = _generated(tmp_path, "_calints.fits")
    assert [asn_type for asn_type, *_ in generated] == ["tso3"]
