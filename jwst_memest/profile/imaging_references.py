"""Synthetic imaging reference files (no CRDS here), passed as step overrides: source_catalog's
APCORR and ABVEGAOFFSET, coron3's PSFMASK, ami3's NRM and THROUGHPUT, and the GAIN of tso3's
photometry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.profile.reference_meta import set_reference_meta

__all__ = ["write_source_catalog_references", "write_psfmask_reference", "write_gain_reference",
           "write_ami_references", "nrm_pupil", "NRM_HOLE_CENTRES"]

_EE_FRACTIONS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


def write_source_catalog_references(instrument: str, filter_name: str, pupil: str | None,
                                    subarray: str, directory: str | Path) -> tuple[Path, Path]:
    """APCORR and ABVEGAOFFSET files covering one filter.

    Parameters
    ----------
    instrument : str
        INSTRUME.
    filter_name : str
        FILTER.
    pupil : str or None
        PUPIL.
    subarray : str
        SUBARRAY.
    directory : str or pathlib.Path
        Where to write them.

    Returns
    -------
    tuple of pathlib.Path
        The APCORR and ABVEGAOFFSET files.
    """
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
    write_datamodel(model, apcorr)

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
    write_datamodel(offset, abvega)
    return apcorr, abvega


def _subarray_meta(model, subarray: str, shape: tuple[int, int]) -> None:
    """The subarray a reference covers: the science subarray itself, so no cut-out is needed."""
    rows, columns = shape
    model.meta.subarray.name, model.meta.subarray.xstart, model.meta.subarray.ystart = subarray, 1, 1
    model.meta.subarray.xsize, model.meta.subarray.ysize = columns, rows
    model.meta.subarray.fastaxis, model.meta.subarray.slowaxis = 1, 2


def write_psfmask_reference(path: str | Path, instrument: str, subarray: str, shape: tuple[int, int]) -> Path:
    """PSFMASK for align_refs: the weights of the PSF alignment, zero under the occulter at the centre.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    instrument : str
        INSTRUME.
    subarray : str
        SUBARRAY.
    shape : tuple of int
        The subarray's shape.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from stdatamodels.jwst import datamodels

    rows, columns = np.indices(shape)
    radius = np.hypot(rows - (shape[0] - 1) / 2, columns - (shape[1] - 1) / 2)
    model = datamodels.PsfMaskModel(data=np.where(radius < 0.05 * min(shape), 0.0, 1.0).astype(np.float32))
    set_reference_meta(model, "psfmask", instrument, "synthetic PSF alignment mask for offline profiling")
    _subarray_meta(model, subarray, shape)
    write_datamodel(model, path)
    return Path(path)


def write_gain_reference(path: str | Path, instrument: str, detector: str, subarray: str,
                         shape: tuple[int, int]) -> Path:
    """GAIN over the science subarray (tso_photometry converts DN/s with it; calints in MJy/sr skip that).

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    instrument : str
        INSTRUME.
    detector : str
        DETECTOR.
    subarray : str
        SUBARRAY.
    shape : tuple of int
        The subarray's shape.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from stdatamodels.jwst import datamodels

    model = datamodels.GainModel(data=np.full(shape, 2.0, np.float32))
    set_reference_meta(model, "gain", instrument, "synthetic gain for offline profiling")
    model.meta.instrument.detector = detector
    _subarray_meta(model, subarray, shape)
    write_datamodel(model, path)
    return Path(path)


# NIRISS non-redundant mask as designed: hole centres (m) in the order the NRM reference lists them,
# hole flat-to-flat size, active and circumscribed pupil diameters (m)
NRM_HOLE_CENTRES = ((0.0, -2.64), (-2.28631, 0.0), (2.28631, -1.32), (-2.28631, 1.32), (-1.14315, 1.98),
                    (2.28631, 1.32), (1.14315, 1.98))
NRM_HOLE_FLAT_TO_FLAT, NRM_DIAMETER, NRM_CIRCUMSCRIBED = 0.80, 6.559348, 6.603464
_NRM_PUPIL_PIXELS = 1024  # the real NRM pupil image's size


def nrm_pupil() -> np.ndarray:
    """The mask's pupil image: seven hexagonal holes across a 1024-pixel, 6.6 m pupil.

    Returns
    -------
    numpy.ndarray
        The pupil image.
    """
    metres = (np.arange(_NRM_PUPIL_PIXELS) - (_NRM_PUPIL_PIXELS - 1) / 2) * NRM_CIRCUMSCRIBED / _NRM_PUPIL_PIXELS
    x, y = np.meshgrid(metres, metres)
    pupil = np.zeros(x.shape, np.float32)
    half = NRM_HOLE_FLAT_TO_FLAT / 2
    for cx, cy in NRM_HOLE_CENTRES:
        dx, dy = np.abs(x - cx), np.abs(y - cy)
        pupil[(dy <= half) & (dx * math.sqrt(3) / 2 + dy / 2 <= half)] = 1.0  # flat top and bottom
    return pupil


def write_ami_references(directory: str | Path, filter_name: str) -> dict[str, Path]:
    """NRM (mask geometry and pupil image) and THROUGHPUT (the filter's top-hat band) for ami_analyze.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write them.
    filter_name : str
        FILTER.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"nrm": path, "throughput": path}``.
    """
    from jwst.ami.bp_fix import filthp_d
    from stdatamodels.jwst import datamodels

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    nrm = datamodels.NRMModel()
    nrm.nrm = nrm_pupil()
    nrm.flat_to_flat, nrm.diameter, nrm.pupil_circumscribed = NRM_HOLE_FLAT_TO_FLAT, NRM_DIAMETER, NRM_CIRCUMSCRIBED
    for number, (x, y) in enumerate(NRM_HOLE_CENTRES, start=1):
        setattr(nrm, f"x_a{number}", x)
        setattr(nrm, f"y_a{number}", y)
    set_reference_meta(nrm, "nrm", "NIRISS", "synthetic NIRISS non-redundant mask for offline profiling")
    nrm.meta.exposure.type = "NIS_AMI"
    # top hat over the filter's half-power band (angstrom), low outside, as the filter curves are
    low, high = (edge * 1e10 for edge in filthp_d[filter_name])
    wavelength = np.linspace(low - 0.25 * (high - low), high + 0.25 * (high - low), 99)
    transmission = np.where((wavelength >= low) & (wavelength <= high), 0.9, 0.001)
    throughput = datamodels.ThroughputModel()
    throughput.filter_table = np.rec.fromarrays([wavelength.astype(np.float32), transmission.astype(np.float32)],
                                                names="wavelength,throughput")
    set_reference_meta(throughput, "throughput", "NIRISS", "synthetic AMI filter throughput for offline profiling")
    throughput.meta.instrument.filter = filter_name
    paths = {"nrm": directory / "nrm_niriss.fits", "throughput": directory / f"throughput_{filter_name.lower()}.fits"}
    write_datamodel(nrm, paths["nrm"])
    write_datamodel(throughput, paths["throughput"])
    return paths
