"""Synthetic reference files (no CRDS here), passed as step overrides: source_catalog's; coron3's
PSFMASK, ami3's NRM and THROUGHPUT, tso3's GAIN and the NIRISS SOSS references (PASTASOSS, SPECPROFILE,
SPECKERNEL, PHOTOM, WAVELENGTHRANGE); and the MIRI LRS and MRS WCS references from which jwst's own
assign_wcs code builds a spectral WCS."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from jwst_memest.atomic import atomic_write, write_datamodel
from jwst_memest.instruments import IMAGING_PIXEL_SCALE

__all__ = ["write_source_catalog_references", "write_lrs_wcs_references", "LRS_SLIT", "write_psfmask_reference",
           "write_gain_reference", "write_ami_references", "nrm_pupil", "write_soss_references", "SOSS_ORDERS",
           "soss_trace", "soss_profile", "soss_throughput"]

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


# MIRI LRS slit: reference pixel (1-based, full frame), its V2/V3 (arcsec), size (arcsec), and the
# rows the spectrum covers with their wavelengths (um). Close to the real instrument so that
# output sizes (resampled 2-D spectrum, extracted rows) are of the real order.
LRS_SLIT = {"x_ref": 326.13, "y_ref": 300.70, "v2": -414.0, "v3": -400.0, "length": 4.7, "width": 0.51,
            "rows": (10.0, 390.0), "wavelengths": (14.0, 5.0)}
_MIRI_SCALE = IMAGING_PIXEL_SCALE["MIRIMAGE"]  # arcsec per pixel


def _reference_meta(model, reftype: str, description: str) -> None:
    model.meta.instrument.name, model.meta.instrument.detector = "MIRI", "MIRIMAGE"
    model.meta.reftype = reftype
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = description


def write_lrs_wcs_references(directory: str | Path) -> dict[str, Path]:
    """DISTORTION and SPECWCS references for MIRI LRS fixed-slit exposures.

    DISTORTION maps imager pixels to V2/V3 (affine); SPECWCS gives the trace and wavelengths.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write them.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"distortion": path, "specwcs": path}``, as assign_wcs takes them.
    """
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
    write_datamodel(distortion, distortion_path)

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
    write_datamodel(specwcs, specwcs_path)
    return {"distortion": distortion_path, "specwcs": specwcs_path}


class _Folder:
    """What jwst's cubepar test fixtures ask of pytest's tmp_path_factory: a ``mktemp(name)``."""

    def __init__(self, base: Path):
        self.base = base

    def mktemp(self, name: str) -> Path:
        path = self.base / name
        path.mkdir(parents=True, exist_ok=True)
        return path


# Wavelength grids cube_build's default (drizzle) weighting reads for multi-band cubes, by instrument
_MULTIBAND_GRIDS = {
    "MIRI": (("MULTICHANNEL_DRIZ", 4.9, 27.9, 0.0019),),
    "NIRSPEC": (("MULTICHAN_PRISM_DRIZZLE", 0.6, 5.3, 0.005), ("MULTICHAN_MED_DRIZZLE", 0.7, 5.3, 0.001),
                ("MULTICHAN_HIGH_DRIZZLE", 0.7, 5.3, 0.0007)),
}


def write_cubepar_reference(instrument: str, directory: str | Path) -> Path:
    """A CUBEPAR reference for MIRI or NIRSPEC cubes: jwst's own test cubepar (spaxel sizes and spectral
    steps per band) plus the multi-band wavelength grids its drizzle weighting needs."""
    from astropy.io import fits

    directory = Path(directory)
    if instrument == "MIRI":
        from jwst.cube_build.tests.test_cube_build_step import miri_cube_pars as fixture
    else:
        from jwst.cube_build.tests.test_nirspec_cubepars import nirspec_cube_pars as fixture
    # the fixture writes its file in place: made in a scratch folder, then written here whole
    with tempfile.TemporaryDirectory(dir=directory) as scratch:
        made = Path(fixture.__wrapped__(_Folder(Path(scratch))))
        path = directory / made.relative_to(scratch)
        path.parent.mkdir(parents=True, exist_ok=True)
        with fits.open(made) as hdul:
            for name, first, last, step in _MULTIBAND_GRIDS[instrument]:
                if name not in hdul:
                    column = fits.Column(name="WAVELENGTH", format="D", array=np.arange(first, last, step),
                                         unit="micron")
                    table = fits.BinTableHDU.from_columns([column])
                    table.header["EXTNAME"] = name
                    hdul.append(table)
            with atomic_write(path, "wb") as handle:
                hdul.writeto(handle)
    return path


def write_ifu_extract1d_reference(path: str | Path, exp_type: str) -> Path:
    """An EXTRACT1D reference for IFU cubes (cannot be N/A there): a 0.5" aperture, no background."""
    from stdatamodels.jwst import datamodels

    model = datamodels.Extract1dIFUModel()
    wavelength = np.linspace(0.5, 30.0, 50).astype(np.float32)
    model.data = {
        "wavelength": wavelength, "radius": np.full_like(wavelength, 0.5),
        "inner_bkg": np.full_like(wavelength, 1.0), "outer_bkg": np.full_like(wavelength, 1.5),
        "axis_ratio": np.ones_like(wavelength), "axis_pa": np.zeros_like(wavelength),
        "wavelength_units": "micron", "radius_units": "arcsec", "inner_bkg_units": "arcsec",
        "outer_bkg_units": "arcsec", "axis_pa_units": "deg",
    }
    model.meta.subtract_background, model.meta.method, model.meta.subpixels = False, "exact", 10
    model.meta.region_type = "target"
    model.meta.exposure.type = exp_type
    model.meta.instrument.name = "MIRI" if exp_type == "MIR_MRS" else "NIRSPEC"
    model.meta.reftype = "extract1d"
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = "synthetic IFU extraction aperture for offline profiling"
    # extract_1d reads the table after the file is closed: arrays must be inline
    write_datamodel(model, path, all_array_storage="inline")
    return Path(path)


MRS_V2V3 = (-503.65, -318.74)


def _mrs_meta(model, reftype: str, detector: str | None, channel: str | None, band: str | None) -> None:
    model.meta.reftype = reftype
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector, model.meta.instrument.channel, model.meta.instrument.band = detector, channel, band
    model.meta.exposure.type = "MIR_MRS"
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = f"synthetic linear MRS {reftype} for offline profiling"


def write_mrs_wcs_references(directory: str | Path, detector: str, band: str) -> dict[str, Path]:
    """DISTORTION, SPECWCS, REGIONS and WAVELENGTHRANGE references from which jwst's own MRS assign_wcs
    builds the real frame layout (detector -> alpha_beta -> v2v3 -> world), linear within each slice."""
    from astropy.modeling import models
    from stdatamodels.jwst import datamodels

    from jwst_memest.instruments import MRS_CHANNELS, MRS_WAVELENGTHS

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    channels = "12" if detector == "MIRIFUSHORT" else "34"
    regions = np.zeros((9, 1024, 1032), dtype=np.int32)
    slices, alpha, beta, x_models, y_models, wavelength = [], [], [], [], [], []
    beta_zero, beta_step, to_v2v3 = {}, {}, {}
    for channel in channels:
        x_start, n_slices, width, field_of_view, slice_arcsec = MRS_CHANNELS[channel]
        gap = (518 - n_slices * width) // (n_slices + 1)
        scale = field_of_view / width
        lam0, lam1 = MRS_WAVELENGTHS[channel + band]
        per_row = (lam1 - lam0) / 1024.0
        key = channel + band
        beta_zero[key], beta_step[key] = -(n_slices - 1) / 2 * slice_arcsec, slice_arcsec
        for k in range(n_slices):
            label = int(channel) * 100 + k + 1
            first = x_start + gap + k * (width + gap)
            centre = first + (width - 1) / 2
            regions[:, :, first:first + width] = label
            slices.append(label)
            alpha.append(models.Mapping((1,), n_inputs=2) | models.Shift(-centre) | models.Scale(scale))
            beta.append(models.Const1D(beta_zero[key] + k * slice_arcsec))
            wavelength.append(models.Mapping((0,), n_inputs=2) | models.Scale(per_row) | models.Shift(lam0))
            x_models.append(models.Mapping((1,), n_inputs=2) | models.Scale(1 / scale) | models.Shift(centre))
            y_models.append(models.Mapping((0,), n_inputs=2) | models.Shift(-lam0) | models.Scale(1 / per_row))
        to_v2v3[key] = models.Shift(MRS_V2V3[0]) & models.Shift(MRS_V2V3[1])
    distortion = datamodels.DistortionMRSModel()
    distortion.slices, distortion.alpha_model, distortion.beta_model = slices, alpha, beta
    distortion.x_model, distortion.y_model = x_models, y_models
    distortion.bzero = {"channel_band": list(beta_zero), "beta_zero": list(beta_zero.values())}
    distortion.bdel = {"channel_band": list(beta_step), "delta_beta": list(beta_step.values())}
    distortion.abv2v3_model = {"channel_band": list(to_v2v3), "model": list(to_v2v3.values())}
    _mrs_meta(distortion, "distortion", detector, channels, band)
    distortion.meta.input_units, distortion.meta.output_units = "pixel", "arcsec"
    specwcs = datamodels.SpecwcsModel()
    specwcs.slices, specwcs.model = slices, wavelength
    _mrs_meta(specwcs, "specwcs", detector, channels, band)
    specwcs.meta.input_units, specwcs.meta.output_units = "pixel", "micron"
    region_model = datamodels.RegionsModel()
    region_model.regions = regions
    _mrs_meta(region_model, "regions", detector, channels, band)
    ranges = datamodels.WavelengthrangeModel()
    ranges.waverange_selector = list(MRS_WAVELENGTHS)
    ranges.wavelengthrange = [list(v) for v in MRS_WAVELENGTHS.values()]
    _mrs_meta(ranges, "wavelengthrange", None, None, None)
    ranges.meta.wavelength_units = "micron"
    paths = {}
    for reftype, model in (("distortion", distortion), ("specwcs", specwcs), ("regions", region_model),
                           ("wavelengthrange", ranges)):
        paths[reftype] = directory / f"{reftype}_{detector.lower()}_{band.lower()}.asdf"
        write_datamodel(model, paths[reftype])
    return paths


def _synthetic_reference(model, reftype: str, instrument: str, description: str) -> None:
    model.meta.instrument.name = instrument
    model.meta.reftype = reftype
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = description


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
    _synthetic_reference(model, "psfmask", instrument, "synthetic PSF alignment mask for offline profiling")
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
    _synthetic_reference(model, "gain", instrument, "synthetic gain for offline profiling")
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
    _synthetic_reference(nrm, "nrm", "NIRISS", "synthetic NIRISS non-redundant mask for offline profiling")
    nrm.meta.exposure.type = "NIS_AMI"
    # top hat over the filter's half-power band (angstrom), low outside, as the filter curves are
    low, high = (edge * 1e10 for edge in filthp_d[filter_name])
    wavelength = np.linspace(low - 0.25 * (high - low), high + 0.25 * (high - low), 99)
    transmission = np.where((wavelength >= low) & (wavelength <= high), 0.9, 0.001)
    throughput = datamodels.ThroughputModel()
    throughput.filter_table = np.rec.fromarrays([wavelength.astype(np.float32), transmission.astype(np.float32)],
                                                names="wavelength,throughput")
    _synthetic_reference(throughput, "throughput", "NIRISS", "synthetic AMI filter throughput for offline profiling")
    throughput.meta.instrument.filter = filter_name
    paths = {"nrm": directory / "nrm_niriss.fits", "throughput": directory / f"throughput_{filter_name.lower()}.fits"}
    write_datamodel(nrm, paths["nrm"])
    write_datamodel(throughput, paths["throughput"])
    return paths


# NIRISS SOSS (GR700XD + CLEAR): the three spectral orders as the synthetic references lay them out,
# in SUBSTRIP256 pixels (0-based, dispersion along x, wavelength falling as x grows, as on the detector).
# Per order: the columns the trace covers (PASTASOSS's cutoff), the wavelengths (um) at its first and last
# column, and its row at the first, middle and last column. Close to the instrument's, so that extract_1d
# models as many pixels and wavelengths as with the real references: order 1 crosses the whole
# detector, order 2 starts beside it (the overlap ATOCA decontaminates) and climbs, order 3 is short.
SOSS_ORDERS = {
    1: {"cutoff": 2048, "wavelengths": (2.84, 0.84), "rows": (86.0, 70.0, 84.0)},
    2: {"cutoff": 1783, "wavelengths": (1.42, 0.60), "rows": (104.0, 160.0, 232.0)},
    3: {"cutoff": 1134, "wavelengths": (0.95, 0.60), "rows": (150.0, 195.0, 245.0)},
}
# Rows of each subarray in SUBSTRIP256 pixels (PASTASOSS moves the traces up 10 rows for SUBSTRIP96)
SOSS_SUBARRAY_ROWS = {"SUBSTRIP256": (0, 256), "SUBSTRIP96": (10, 106)}
SOSS_COLUMNS = 2048
# Commanded pupil wheel position (deg); the exposures are written at it, so the traces are not rotated
SOSS_PWCPOS = 245.76
# Spatial profile: the defocused GR700XD trace has two horns; their offset from the trace centre and width (pixels)
_SOSS_HORN_OFFSET, _SOSS_HORN_SIGMA = 6.0, 3.0
# Spectral kernel: oversampling, half width (native pixels), core and wing widths, the wing's share
_SOSS_KERNEL_OVERSAMPLING, _SOSS_KERNEL_HALFWIDTH = 6, 7
_SOSS_KERNEL_CORE, _SOSS_KERNEL_WING, _SOSS_KERNEL_WING_SHARE = 0.85, 3.0, 0.05
_SOSS_WAVEMAP_RANGE = (0.5, 5.5, 5001)  # um: PASTASOSS's wavelength grid for the wavelength maps


def soss_trace(order: int, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row (SUBSTRIP256 pixels) and wavelength (um) of an order's trace at the given columns.

    Parameters
    ----------
    order : int
        The spectral order (1, 2 or 3).
    columns : numpy.ndarray
        Detector columns.

    Returns
    -------
    rows : numpy.ndarray
        The trace's row at each column.
    wavelength : numpy.ndarray
        Its wavelength, um.
    """
    spec = SOSS_ORDERS[order]
    u = np.asarray(columns, float) / (spec["cutoff"] - 1)
    first, middle, last = spec["rows"]
    rows = first + (4 * middle - 3 * first - last) * u + (2 * first - 4 * middle + 2 * last) * u**2
    wavelength = spec["wavelengths"][0] + (spec["wavelengths"][1] - spec["wavelengths"][0]) * u
    return rows, wavelength


def soss_throughput(order: int, wavelength: np.ndarray) -> np.ndarray:
    """GR700XD throughput of an order: a broad bump (order 1 peaks near 1.2 um, orders 2 and 3 near 0.75).

    Parameters
    ----------
    order : int
        The spectral order.
    wavelength : numpy.ndarray
        Wavelengths, um.

    Returns
    -------
    numpy.ndarray
        The throughput (at least 0.005).
    """
    peak, centre, width = {1: (0.37, 1.25, 0.7), 2: (0.12, 0.75, 0.25), 3: (0.03, 0.75, 0.15)}[order]
    return np.maximum(peak * np.exp(-0.5 * ((wavelength - centre) / width) ** 2), 0.005)


def soss_profile(order: int, subarray: str) -> np.ndarray:
    """An order's spatial profile over the subarray (rows, 2048).

    Two horns about the trace, each column summing to 1 over the full SUBSTRIP256 height (the part
    a subarray cuts off is lost), zero past the cutoff.

    Parameters
    ----------
    order : int
        The spectral order.
    subarray : str
        SUBARRAY (``SUBSTRIP256`` or ``SUBSTRIP96``).

    Returns
    -------
    numpy.ndarray
        The profile.
    """
    first, last = SOSS_SUBARRAY_ROWS[subarray]
    columns = np.arange(SOSS_ORDERS[order]["cutoff"])
    centre, _ = soss_trace(order, columns)
    rows = np.arange(-40, 296)[:, None]  # wide enough that each column's whole profile is summed
    horns = sum(np.exp(-0.5 * ((rows - centre[None, :] - side * _SOSS_HORN_OFFSET) / _SOSS_HORN_SIGMA) ** 2)
                for side in (-1, 1))
    horns /= horns.sum(axis=0, keepdims=True)
    profile = np.zeros((last - first, SOSS_COLUMNS), np.float32)
    profile[:, :columns.size] = horns[first + 40:last + 40]
    return profile


def _soss_meta(model, reftype: str, description: str, subarray: str | None = None) -> None:
    _synthetic_reference(model, reftype, "NIRISS", description)
    model.meta.instrument.detector = "NIS"
    model.meta.exposure.type = "NIS_SOSS"
    if hasattr(model.meta.instrument, "filter"):
        model.meta.instrument.filter = "CLEAR"
    if subarray:
        model.meta.subarray.name = subarray


def _write_pastasoss(path: Path) -> Path:
    """PASTASOSS: per order the trace (x, y), a linear wavelength solution in x and the throughput."""
    from stdatamodels.jwst import datamodels

    model = datamodels.PastasossModel()
    wlmin, wlmax, nwl = _SOSS_WAVEMAP_RANGE
    meta = model.meta
    meta.order2_separation_cutoff = [0.77, 0.95]
    meta.pwcpos_cmd, meta.pwcpos_bounds = SOSS_PWCPOS, [SOSS_PWCPOS - 0.25, SOSS_PWCPOS + 0.25]
    meta.soss_xdim, meta.soss_ydim, meta.subarray_ymin = SOSS_COLUMNS, 300, 1792
    meta.wavemap_wlmin, meta.wavemap_wlmax, meta.wavemap_nwl = wlmin, wlmax, nwl
    traces, wavecal, throughputs = [], [], []
    grid = np.linspace(wlmin, wlmax, 501)
    for order, spec in SOSS_ORDERS.items():
        columns = np.arange(spec["cutoff"], dtype=np.float64)
        rows, _ = soss_trace(order, columns)
        middle = (spec["cutoff"] - 1) / 2
        traces.append({"spectral_order": order, "pivot_x": middle, "pivot_y": float(soss_trace(order, [middle])[0][0]),
                       "trace": np.column_stack([columns, rows]), "oversampling": 1, "cutoff": spec["cutoff"]})
        # coefficients (C00, C10, C01) of wavelength in x and the pupil wheel offset, each scaled to [0, 1]
        first, last = spec["wavelengths"]
        wavecal.append({"spectral_order": order, "polynomial_degree": 1,
                        "coefficients": np.array([first, last - first, 0.0]),
                        "coefficient_labels": "c00, c10, c01",
                        "scale_extents": np.array([[0.0, -0.25], [spec["cutoff"] - 1.0, 0.25]])})
        throughputs.append({"spectral_order": order, "wavelength": grid, "throughput": soss_throughput(order, grid)})
    model.traces, model.wavecal_models, model.throughputs = traces, wavecal, throughputs
    _soss_meta(model, "pastasoss", "synthetic SOSS trace positions and wavelengths for offline profiling")
    write_datamodel(model, path)
    return path


def _write_specprofile(path: Path, subarray: str) -> Path:
    """SPECPROFILE: one spatial profile per order over the subarray (no padding, no oversampling)."""
    from stdatamodels.jwst import datamodels

    model = datamodels.SpecProfileModel()
    for order in SOSS_ORDERS:
        single = datamodels.SpecProfileSingleModel(data=soss_profile(order, subarray))
        single.order, single.oversampling, single.padding = order, 1, 0
        model.profile.append(single)
    _soss_meta(model, "specprofile", "synthetic SOSS spatial profiles for offline profiling", subarray)
    write_datamodel(model, path)
    return path


def _write_speckernel(path: Path) -> Path:
    """SPECKERNEL: the spectral resolution kernel, a core and broad wings over +-7 pixels, every 0.025 um."""
    from stdatamodels.jwst import datamodels

    oversampling, halfwidth = _SOSS_KERNEL_OVERSAMPLING, _SOSS_KERNEL_HALFWIDTH
    pixels = np.linspace(-halfwidth, halfwidth, oversampling * (2 * halfwidth + 1) - (oversampling - 1))
    wavelengths = np.arange(_SOSS_WAVEMAP_RANGE[0], _SOSS_WAVEMAP_RANGE[1] + 1e-6, 0.025)
    share = _SOSS_KERNEL_WING_SHARE
    shape = ((1 - share) * np.exp(-0.5 * (pixels / _SOSS_KERNEL_CORE) ** 2) / _SOSS_KERNEL_CORE
             + share * np.exp(-0.5 * (pixels / _SOSS_KERNEL_WING) ** 2) / _SOSS_KERNEL_WING)
    shape /= shape.sum()
    model = datamodels.SpecKernelModel()
    model.kernels = np.repeat(shape[:, None], wavelengths.size, axis=1).astype(np.float32)
    model.wavelengths = np.repeat(wavelengths[None, :], pixels.size, axis=0).astype(np.float32)
    meta = model.meta
    meta.nwave, meta.wavemin, meta.wavemax = wavelengths.size, float(wavelengths[0]), float(wavelengths[-1])
    meta.spectral_oversampling, meta.halfwidth, meta.centroid_index = oversampling, halfwidth, pixels.size // 2
    _soss_meta(model, "speckernel", "synthetic SOSS spectral kernels for offline profiling")
    write_datamodel(model, path)
    return path


def _write_soss_photom(path: Path) -> Path:
    """PHOTOM for the extracted SOSS orders (calwebb_tso3 calibrates them): a flat relative response."""
    from stdatamodels.jwst import datamodels

    n = 100
    model = datamodels.NisSossPhotomModel()
    # the schema leaves the array columns' length open: a fixed length, as the delivered files have
    dtype = [(name, kind, (n,)) if name in ("wavelength", "relresponse", "reluncertainty") else (name, kind)
             for name, kind in model.get_dtype("phot_table").descr]
    rows = []
    for order, spec in SOSS_ORDERS.items():
        wavelength = np.zeros(n, np.float32)
        wavelength[:50] = np.linspace(min(spec["wavelengths"]) - 0.1, max(spec["wavelengths"]) + 0.1, 50)
        response = np.where(wavelength > 0, 1.0, 0.0).astype(np.float32)
        rows.append(("CLEAR", "GR700XD", order, 1e-9, 1e-11, 50, wavelength, response, 0.01 * response))
    model.phot_table = np.array(rows, dtype=dtype)
    _soss_meta(model, "photom", "synthetic SOSS flux conversion for offline profiling")
    model.meta.photometry.pixelarea_steradians, model.meta.photometry.pixelarea_arcsecsq = 1.0e-13, 4.3e-3
    write_datamodel(model, path)
    return path


def _write_soss_wavelengthrange(path: Path) -> Path:
    """WAVELENGTHRANGE: the wavelengths white_light sums per order (each order's whole trace)."""
    from stdatamodels.jwst import datamodels

    ranges = [[order, "CLEAR", min(spec["wavelengths"]), max(spec["wavelengths"])] for order, spec in SOSS_ORDERS.items()]
    model = datamodels.WavelengthrangeModel(wrange=ranges, wrange_selector=["CLEAR"], order=list(SOSS_ORDERS),
                                            wunits="micron")
    _soss_meta(model, "wavelengthrange", "synthetic SOSS white-light wavelength ranges for offline profiling")
    write_datamodel(model, path)
    return path


def write_soss_references(directory: str | Path, subarray: str) -> dict[str, Path]:
    """The references calwebb_tso3 asks for NIS_SOSS, consistent with ``SOSS_ORDERS``.

    extract_1d's PASTASOSS, SPECPROFILE (of the subarray) and SPECKERNEL, photom's PHOTOM and
    white_light's WAVELENGTHRANGE.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write them.
    subarray : str
        SUBARRAY.

    Returns
    -------
    dict of str to pathlib.Path
        ``{reftype: path}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "pastasoss": _write_pastasoss(directory / "pastasoss_niriss.asdf"),
        "specprofile": _write_specprofile(directory / f"specprofile_{subarray.lower()}.fits", subarray),
        "speckernel": _write_speckernel(directory / "speckernel_niriss.fits"),
        "photom": _write_soss_photom(directory / "photom_soss.fits"),
        "wavelengthrange": _write_soss_wavelengthrange(directory / "wavelengthrange_niriss.asdf"),
    }
