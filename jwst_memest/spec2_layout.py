"""The slit cutouts calwebb_spec2's extract_2d makes of a NIRSpec exposure, from its header and MSA file.

extract_2d cuts each slit's bounding box out of the frame (the slit's projection over its whole
wavelength range, padded 10 columns and 2 rows), one copy per slit, overlapping boxes copied
twice. The boxes' pixels come from NIRSpec's optical model, which is not read here; every cutout
is taken at its largest plausible size instead:

- columns: the whole detector (a grating's spectrum spans it);
- rows: a MOS slitlet of n shutters is 2.1 + 1.15 (n - 1) shutter heights tall in the slit frame
  (jwst's margins included), about 5 detector rows each; counted at ``ROWS_PER_SHUTTER_HEIGHT``,
  plus the padding and the trace's curvature across the detector (``ROWS_CURVATURE``);
- fixed slits: the five slits of a full-frame exposure (one for an S* subarray), each at most
  ``FIXED_SLIT_ROWS`` rows.

MOS's open shutters are in the MSA metadata file the header names (MSAMETFL), which calwebb_spec2
itself needs: it is looked for beside the exposure (and in the folders given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["SlitLayout", "nirspec_slit_layout", "ROWS_PER_SHUTTER_HEIGHT", "ROWS_CURVATURE", "FIXED_SLIT_ROWS"]

DETECTOR_COLUMNS = 2048
ROWS_PER_SHUTTER_HEIGHT = 6.0  # ~5 rows per shutter height at 0.1" a pixel, rounded up
ROWS_CURVATURE = 24.0  # the box's padding (4 rows) and the trace's bend across 2048 columns
FIXED_SLIT_ROWS = 64  # S200A1/A2/B1 are 3.3" long, S400A1 3.8", S1600A1 1.6": under 40 rows and the bend
FIXED_SLITS = 5


@dataclass(frozen=True)
class SlitLayout:
    """extract_2d's cutouts of one exposure, at their largest.

    Parameters
    ----------
    slit_pixels : float
        Pixels of every cutout.
    largest_slit_pixels : float
        Pixels of the largest.
    background_slit_pixels : float
        Pixels of the MOS background slitlets' cutouts.
    slits : int
        Cutouts.
    source : str
        Where the layout comes from (one line for the annotation).
    """

    slit_pixels: float
    largest_slit_pixels: float
    background_slit_pixels: float
    slits: int
    source: str


def _find(name: str, exposure: Path, search_path) -> Path | None:
    for folder in (exposure.parent, *map(Path, search_path)):
        candidate = folder / Path(name).name
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=64)
def _shutter_slitlets(path: Path, metadata_id, dither_point, modified: float) -> dict:
    """Per slitlet of this configuration and dither position: (shutters, background); read once per
    file version (a MOS visit's exposures share one MSA file)."""
    import numpy as np
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            table = hdul["SHUTTER_INFO"].data
            names = {name.lower(): name for name in table.columns.names}

            def column(name, missing):
                return np.asarray(table[names[name]]) if name in names else np.full(len(table), missing)

            slitlet = column("slitlet_id", 0).astype(int)
            config, dither = column("msa_metadata_id", -1), column("dither_point_index", -1)
            background = np.char.upper(np.char.strip(column("background", "N").astype(str))) == "Y"
            primary = np.char.upper(np.char.strip(column("primary_source", "N").astype(str))) == "Y"
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a readable MSA metadata file ({error})") from None
    used = np.ones(len(slitlet), bool)
    if metadata_id is not None and "msa_metadata_id" in names:
        used &= config.astype(int) == int(metadata_id)
    if dither_point is not None and "dither_point_index" in names:
        used &= dither.astype(int) == int(dither_point)
    return {int(i): (int((slitlet[used] == i).sum()), bool(np.all((background & ~primary)[used & (slitlet == i)])))
            for i in np.unique(slitlet[used])}


def slitlet_rows(shutters: int) -> int:
    """Rows of a MOS slitlet's cutout, at its largest.

    Parameters
    ----------
    shutters : int
        Its shutters.

    Returns
    -------
    int
        Rows (whole: a cutout's pixels are counted, not its height in the slit frame).
    """
    heights = 2.1 + 1.15 * (max(shutters, 1) - 1)
    return math.ceil(heights * ROWS_PER_SHUTTER_HEIGHT + ROWS_CURVATURE)


def nirspec_slit_layout(meta, search_path=()) -> SlitLayout:
    """extract_2d's cutouts of a NIRSpec fixed-slit or MOS exposure, at their largest.

    Parameters
    ----------
    meta : jwst_memest.metadata.ExposureMetadata
        The exposure's header.
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for the MSA metadata file in.

    Returns
    -------
    SlitLayout
        The cutouts.

    Raises
    ------
    ValueError
        A MOS exposure whose MSA metadata file is not named, not found or not readable.
    """
    exp_type = (meta.exp_type or "").upper()
    frame = float(meta.ncols * meta.nrows)
    if exp_type == "NRS_FIXEDSLIT":
        slits = FIXED_SLITS if (meta.subarray or "FULL").upper() in ("FULL", "ALLSLITS") else 1
        one = float(min(frame, DETECTOR_COLUMNS * FIXED_SLIT_ROWS))
        return SlitLayout(slits * one, one, 0.0, slits,
                          f"{slits} fixed slit{'s' if slits > 1 else ''} of at most {FIXED_SLIT_ROWS} rows")
    name = meta.msa_metadata_file
    if not name:
        raise ValueError(f"{meta.path}: a MOS exposure without MSAMETFL: its slitlets cannot be known")
    path = _find(name, Path(meta.path), search_path)
    if path is None:
        raise ValueError(f"{meta.path}: its MSA metadata file {Path(name).name} (MSAMETFL) is not beside it; "
                         "calwebb_spec2 needs it too")
    slitlets = _shutter_slitlets(path, meta.msa_metadata_id, meta.dither_point, path.stat().st_mtime)
    if not slitlets:
        raise ValueError(f"{path}: no open shutter of configuration {meta.msa_metadata_id}")
    sizes = {slitlet: slitlet_rows(shutters) * DETECTOR_COLUMNS for slitlet, (shutters, _) in slitlets.items()}
    background = sum(size for slitlet, size in sizes.items() if slitlets[slitlet][1])
    return SlitLayout(float(sum(sizes.values())), float(max(sizes.values())), float(background), len(sizes),
                      f"{len(sizes)} slitlets of {path.name}, every one on this detector, at their largest")
