"""Synthetic reference files for source_catalog, passed as step overrides (no CRDS here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_source_catalog_references"]

_EE_FRACTIONS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


def write_source_catalog_references(instrument: str, filter_name: str, pupil: str | None,
                                    subarray: str, directory: str | Path) -> tuple[Path, Path]:
    """APCORR and ABVEGAOFFSET files covering one filter; returns their paths."""
    from astropy.table import Table
    from stdatamodels.jwst import datamodels

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ee = np.array(_EE_FRACTIONS, dtype=np.float32)
    radius = (1.0 + 12.0 * ee**3).astype(np.float32)
    common = {"eefraction": ee, "radius": radius, "apcorr": (1.0 / ee).astype(np.float32),
              "skyin": np.full(ee.size, 14.0, np.float32), "skyout": np.full(ee.size, 20.0, np.float32)}
    n = ee.size
    if instrument == "MIRI":
        model = datamodels.MirImgApcorrModel()
        second, second_value = "subarray", subarray
    elif instrument == "NIRISS":
        model = datamodels.NisImgApcorrModel()
        second, second_value = "pupil", pupil or "CLEARP"
    else:
        model = datamodels.NrcImgApcorrModel()
        second, second_value = "pupil", pupil or "CLEAR"
    dtype = [("filter", "U12"), (second, "U17" if second == "subarray" else "U15"),
             *[(name, "f4") for name in ("eefraction", "radius", "apcorr", "skyin", "skyout")]]
    columns = {"filter": [filter_name] * n, second: [second_value] * n, **common}
    model.apcorr_table = np.rec.fromarrays([columns[name] for name, _ in dtype], dtype=dtype)
    model.meta.instrument.name = instrument
    model.meta.reftype = "apcorr"
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = "synthetic aperture corrections for offline profiling"
    # FITS, as CRDS delivers it: its ascii columns compare equal to str, an ASDF copy holds bytes
    apcorr = directory / f"apcorr_{instrument.lower()}.fits"
    model.save(apcorr)

    offset = datamodels.ABVegaOffsetModel()
    offset_columns = {"filter": [filter_name], "abvega_offset": [1.0]}
    if instrument != "MIRI":
        offset_columns["pupil"] = [pupil or "CLEAR"]
    offset.abvega_offset = Table(offset_columns)
    offset.meta.instrument.name = instrument
    offset.meta.reftype = "abvegaoffset"
    offset.meta.author = offset.meta.pedigree = "jwst_memest synthetic"
    offset.meta.useafter = "2020-01-01T00:00:00"
    offset.meta.description = "synthetic AB-Vega offsets for offline profiling"
    abvega = directory / f"abvegaoffset_{instrument.lower()}.asdf"
    offset.save(abvega)
    return apcorr, abvega
