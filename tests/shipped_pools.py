"""jwst's association test pools as folders of header-only exposures (one per pool row)."""

import re
from pathlib import Path

import jwst
from astropy.io import fits

POOLS = Path(jwst.__file__).parent / "associations" / "tests" / "data"
# keywords mkpool derives itself, or that are not header keywords
_DERIVED = {"filename", "asn_candidate", "targetid", "obs_num"}


def expanded_pool(name):
    from jwst.associations.tests.helpers import combine_pools

    return combine_pools(str(POOLS / name))


def write_exposures(pool, directory: Path) -> int:
    written = 0
    for row in pool:
        observation = re.search(r"'o(\d+)', 'observation'", str(row["asn_candidate"]))
        if not observation:  # a pool's comment-like rows
            continue
        header = fits.Header()
        for column in pool.colnames:
            value = str(row[column])
            if column in _DERIVED or value.lower() in ("null", ""):
                continue
            header[("HIERARCH " if len(column) > 8 else "") + column.upper()] = value
        header["OBSERVTN"] = observation.group(1)
        # mkpool numbers targets by first appearance of TARGNAME; one name per target id does that
        header["TARGNAME"] = f"target{row['targetid']}"
        fits.HDUList([fits.PrimaryHDU(header=header), fits.ImageHDU(name="SCI")]).writeto(
            directory / str(row["filename"]), overwrite=True)
        written += 1
    return written
