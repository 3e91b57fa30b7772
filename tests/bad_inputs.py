"""A corpus of bad inputs, each built in a copy of the example association's folder.

Each builder damages the folder and returns the association path; its outcome is "error" when
the step must refuse with one line, "warning" when it must still estimate and say what it left
out or assumed, "estimate" when nothing is lost. ``MESSAGES`` holds what the error or the
warning must say. docs/bad-inputs.md lists them.
"""

import json
from pathlib import Path

from astropy.io import fits


def _asn(folder: Path) -> Path:
    return next(folder.glob("*_asn.json"))


def _members(folder: Path) -> list[Path]:
    return sorted(folder.glob("*_uncal.fits"))


def _rewrite(folder: Path, change) -> Path:
    path = _asn(folder)
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))
    return path


def _write(folder: Path, text: str | bytes, name="bad_asn.json") -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _headers(folder: Path, change, which=slice(0, 1)) -> Path:
    for member in _members(folder)[which]:
        with fits.open(member, mode="update") as hdul:
            change(hdul)
    return _asn(folder)


def write_raw_card(path: Path, keyword: str, image: str) -> None:
    """Replace a keyword's card in the file's bytes, as writers astropy cannot parse left it."""
    data = path.read_bytes()
    start = data.index(f"{keyword:<8}=".encode())
    path.write_bytes(data[:start] + image.ljust(80).encode() + data[start + 80:])


def _without_sci(folder: Path) -> Path:
    # rewritten: an HDU popped from a file opened for update is written back all the same
    member = _members(folder)[0]
    with fits.open(member) as hdul:
        primary = fits.PrimaryHDU(header=hdul[0].header)
    fits.HDUList([primary]).writeto(member, overwrite=True)
    return _asn(folder)


def _unparsable_card(folder: Path) -> Path:
    write_raw_card(_members(folder)[0], "RA_REF", "RA_REF  = NAN")
    return _asn(folder)


def _members_list(raw):
    return raw["products"][0]["members"]


BAD_INPUTS = {
    # --- association file ---
    "missing association": (lambda f: f / "absent_asn.json", "error"),
    "association is a directory": (lambda f: (f / "dir_asn.json").mkdir() or f / "dir_asn.json", "error"),
    "empty association file": (lambda f: _write(f, ""), "error"),
    "invalid JSON": (lambda f: _write(f, '{"asn_type": "image3",'), "error"),
    "binary garbage": (lambda f: _write(f, bytes(range(256)) * 4), "error"),
    "JSON array instead of object": (lambda f: _write(f, "[]"), "error"),
    "deeply nested JSON": (lambda f: _write(f, "[" * 100000 + "]" * 100000), "error"),
    "Level-2 association of absent exposures": (lambda f: _rewrite(f, lambda r: [r.update(asn_type="image2")] + [
        m.update(expname=f"jw09999001001_01101_{i:05d}_nrca1_rate.fits") for i, m in enumerate(_members_list(r))]),
        "error"),
    "asn_type of the wrong type": (lambda f: _rewrite(f, lambda r: r.update(asn_type=["image3"])), "error"),
    "no products": (lambda f: _rewrite(f, lambda r: r.update(products=[])), "error"),
    "products not a list": (lambda f: _rewrite(f, lambda r: r.update(products="all")), "error"),
    "product without members": (lambda f: _rewrite(f, lambda r: r["products"][0].update(members=[])), "error"),
    "member without expname": (lambda f: _rewrite(f, lambda r: _members_list(r)[0].pop("expname")), "error"),
    "every member absent": (lambda f: [p.unlink() for p in _members(f)] and _asn(f), "error"),
    "member path escaping the folder": (
        lambda f: _rewrite(f, lambda r: _members_list(r)[0].update(expname="../../../../etc/passwd")), "warning"),
    "huge member list": (
        lambda f: _rewrite(f, lambda r: r["products"][0].update(members=_members_list(r) * 500)), "warning"),
    # --- member files ---
    "member is not FITS": (lambda f: _replace_member(f, b"SIMPLE? no."), "warning"),
    "member is empty": (lambda f: _replace_member(f, b""), "warning"),
    "member truncated": (lambda f: _replace_member(f, _members(f)[0].read_bytes()[:2000]), "warning"),
    "member is a directory": (lambda f: _members(f)[0].unlink() or _members_dir(f), "warning"),
    "member without INSTRUME and EXP_TYPE": (
        lambda f: _headers(f, lambda h: [h[0].header.remove(k) for k in ("INSTRUME", "EXP_TYPE")]), "warning"),
    "member without SCI extension": (_without_sci, "warning"),
    "pointing keywords missing": (
        lambda f: _headers(f, lambda h: [h[1].header.remove(k) for k in ("RA_REF", "DEC_REF", "CRVAL1", "CRVAL2")]), "warning"),
    "unparsable card": (_unparsable_card, "warning"),
    "pointing keywords NaN": (lambda f: _headers(f, lambda h: h[1].header.update(RA_REF="NaN", DEC_REF="NaN")), "warning"),
    "declination out of range": (lambda f: _headers(f, lambda h: h[1].header.update(DEC_REF=123.0, CRVAL2=123.0)), "warning"),
    "wrong-type NINTS": (lambda f: _headers(f, lambda h: h[0].header.update(NINTS="many")), "warning"),
    "negative SUBSIZE": (lambda f: _headers(f, lambda h: h[0].header.update(SUBSIZE1=-2048)), "warning"),
    "unknown EXP_TYPE": (lambda f: _headers(f, lambda h: h[0].header.update(EXP_TYPE="NRC_FUTURE"), slice(None)), "warning"),
    "unknown filter": (lambda f: _headers(f, lambda h: h[0].header.update(FILTER="F999W"), slice(None)), "warning"),
    # the geometry comes from the headers (SUBSIZE, PIXAR_A2): nothing is assumed, so nothing to warn about
    "unknown detector": (lambda f: _headers(f, lambda h: h[0].header.update(DETECTOR="NRCZ9"), slice(None)), "estimate"),
}


def _replace_member(folder: Path, content: bytes) -> Path:
    _members(folder)[0].write_bytes(content)
    return _asn(folder)


def _members_dir(folder: Path) -> Path:
    raw = json.loads(_asn(folder).read_text())
    name = Path(_members_list(raw)[0]["expname"]).name.rsplit("_", 1)[0] + "_uncal.fits"
    (folder / name).mkdir()
    return _asn(folder)


# What the error, or one of the product's warnings, must say.
MESSAGES = {
    "missing association": "association file not found",
    "association is a directory": "is a directory, not an association file",
    "empty association file": "invalid JSON",
    "invalid JSON": "invalid JSON",
    "binary garbage": "cannot read association",
    "JSON array instead of object": "an association is a JSON object",
    "deeply nested JSON": "JSON nested too deeply",
    "Level-2 association of absent exposures": "no exposure estimated",
    "asn_type of the wrong type": "is not a Level-3 association",
    "no products": "association has no products",
    "products not a list": "not a valid association",
    "product without members": "the product lists no members",
    "member without expname": "not a valid association",
    "every member absent": "16 member(s) not found",
    "member path escaping the folder": "passwd",
    "huge member list": "member entries name a file already listed",
    "member is not FITS": "not a readable FITS file",
    "member is empty": "not a readable FITS file",
    "member truncated": "not a readable FITS file",
    "member is a directory": "1 member(s) not found",
    "member without INSTRUME and EXP_TYPE": "no INSTRUME or EXP_TYPE keyword",
    "member without SCI extension": "no usable pointing",
    "pointing keywords missing": "no usable pointing",
    "unparsable card": "RA_REF: value of its card cannot be parsed",
    "pointing keywords NaN": "RA_REF is 'NaN'",
    "declination out of range": "no usable pointing",
    "wrong-type NINTS": "NINTS='many' is not a number",
    "negative SUBSIZE": "image size -2048 x 2048 is not usable",
    "unknown EXP_TYPE": "unknown category exp_type=NRC_FUTURE",
    "unknown filter": "unknown category filter=F999W",
}

# profiling measures Level-3 runs only: what it says where the step says otherwise
PROFILE_MESSAGES = {
    "Level-2 association of absent exposures": "is not a Level-3 association",
}
