"""Synthetic reference files (no CRDS here): source_catalog's, passed as step overrides, and the
MIRI LRS WCS references from which jwst's own assign_wcs code builds a spectral WCS."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_source_catalog_references", "write_lrs_wcs_references", "LRS_SLIT"]

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


# MIRI LRS slit: reference pixel (1-based, full frame), its V2/V3 (arcsec), size (arcsec), and the
# rows the spectrum covers with their wavelengths (um). Close to the real instrument so that
# output sizes (resampled 2-D spectrum, extracted rows) are of the real order.
LRS_SLIT = {"x_ref": 326.13, "y_ref": 300.70, "v2": -414.0, "v3": -400.0, "length": 4.7, "width": 0.51,
            "rows": (10.0, 390.0), "wavelengths": (14.0, 5.0)}
_MIRI_SCALE = 0.1108  # arcsec per pixel


def _reference_meta(model, reftype: str, description: str) -> None:
    model.meta.instrument.name, model.meta.instrument.detector = "MIRI", "MIRIMAGE"
    model.meta.reftype = reftype
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = description


def write_lrs_wcs_references(directory: str | Path) -> dict[str, Path]:
    """DISTORTION (affine imager pixels -> V2/V3) and SPECWCS (trace and wavelengths) for MIRI LRS
    fixed-slit exposures; returns ``{"distortion": path, "specwcs": path}``, as assign_wcs takes them."""
    from astropy.modeling import models
    from stdatamodels.jwst import datamodels

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    slit = LRS_SLIT
    x0, y0 = slit["x_ref"] - 1, slit["y_ref"] - 1
    # x runs against V2 (VPARITY = -1), as for the imager
    forward = ((models.Shift(-x0) & models.Shift(-y0)) | (models.Scale(-_MIRI_SCALE) & models.Scale(_MIRI_SCALE))
               | (models.Shift(slit["v2"]) & models.Shift(slit["v3"])))
    forward.inverse = ((models.Shift(-slit["v2"]) & models.Shift(-slit["v3"]))
                       | (models.Scale(-1 / _MIRI_SCALE) & models.Scale(1 / _MIRI_SCALE))
                       | (models.Shift(x0) & models.Shift(y0)))
    distortion = datamodels.DistortionModel()
    distortion.model = forward
    distortion.meta.input_units, distortion.meta.output_units = "pixel", "arcsec"
    _reference_meta(distortion, "distortion", "synthetic affine MIRI imager distortion for offline profiling")
    distortion_path = directory / "distortion_miri_lrs.asdf"
    distortion.save(distortion_path)

    # the real table lists rows top-down (wavelength rising as y falls); assign_wcs relies on that order
    n = 200
    y = np.linspace(slit["rows"][1], slit["rows"][0], n) - y0
    wavelength = np.linspace(slit["wavelengths"][1], slit["wavelengths"][0], n)
    x = np.zeros(n)
    half_length, half_row = slit["length"] / 2 / _MIRI_SCALE, 0.5 * abs(y[1] - y[0])
    columns = [x, y, wavelength, x - half_length, y + half_row, x + half_length, y + half_row,
               x + half_length, y - half_row, x - half_length, y - half_row]
    specwcs = datamodels.MiriLRSSpecwcsModel()
    specwcs.wavetable = np.rec.fromarrays(columns, names="x_center,y_center,wavelength,x0,y0,x1,y1,x2,y2,x3,y3")
    specwcs.meta.x_ref, specwcs.meta.y_ref = slit["x_ref"], slit["y_ref"]
    specwcs.meta.x_ref_slitless, specwcs.meta.y_ref_slitless = 38.5, 829.0
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    for number, (along, across) in enumerate(corners, start=1):
        setattr(specwcs.meta, f"v2_vert{number}", slit["v2"] + along * slit["length"] / 2)
        setattr(specwcs.meta, f"v3_vert{number}", slit["v3"] + across * slit["width"] / 2)
    _reference_meta(specwcs, "specwcs", "synthetic MIRI LRS trace and wavelengths for offline profiling")
    specwcs_path = directory / "specwcs_miri_lrs.fits"
    specwcs.save(specwcs_path)
    return {"distortion": distortion_path, "specwcs": specwcs_path}
