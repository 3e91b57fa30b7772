"""Synthetic MIRI spectroscopic reference files (no CRDS here): the LRS and MRS WCS references from
which jwst's own assign_wcs code builds a spectral WCS, the CUBEPAR of cube_build and the EXTRACT1D
of IFU cubes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from jwst_memest.atomic import atomic_write, write_datamodel
from jwst_memest.instruments import IMAGING_PIXEL_SCALE

__all__ = ["write_lrs_wcs_references", "mrs_reference_meta", "LRS_SLIT", "write_cubepar_reference", "write_ifu_extract1d_reference",
           "write_mrs_wcs_references", "MRS_V2V3"]

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
    """A CUBEPAR reference for MIRI or NIRSPEC cubes.

    jwst's own test cubepar (spaxel sizes and spectral steps per band) plus the multi-band
    wavelength grids its drizzle weighting needs.

    Parameters
    ----------
    instrument : str
        ``MIRI`` or ``NIRSPEC``.
    directory : str or pathlib.Path
        Where to write it.

    Returns
    -------
    pathlib.Path
        The file written.
    """
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
    """An EXTRACT1D reference for IFU cubes (cannot be N/A there): a 0.5" aperture, no background.

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    exp_type : str
        ``MIR_MRS`` or ``NRS_IFU``.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
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


def mrs_reference_meta(model, reftype: str, detector: str | None, channel: str | None, band: str | None) -> None:
    """Set the metadata of a synthetic MIRI MRS reference.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ReferenceFileModel
        The reference.
    reftype : str
        Its reference type.
    detector, channel, band : str or None
        What it applies to (None: any).
    """
    model.meta.reftype = reftype
    model.meta.instrument.name = "MIRI"
    model.meta.instrument.detector, model.meta.instrument.channel, model.meta.instrument.band = detector, channel, band
    try:
        model.meta.exposure.type = "MIR_MRS"
    except AttributeError:  # FLAT and FRINGE schemas have no exposure type: an override needs none
        pass
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = f"synthetic linear MRS {reftype} for offline profiling"


def write_mrs_wcs_references(directory: str | Path, detector: str, band: str) -> dict[str, Path]:
    """DISTORTION, SPECWCS, REGIONS and WAVELENGTHRANGE references for MIRI MRS.

    From them jwst's own MRS assign_wcs builds the real frame layout (detector -> alpha_beta ->
    v2v3 -> world), linear within each slice.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write them.
    detector : str
        ``MIRIFUSHORT`` or ``MIRIFULONG``.
    band : str
        ``SHORT``, ``MEDIUM`` or ``LONG``.

    Returns
    -------
    dict of str to pathlib.Path
        Each reference type's file.
    """
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
    mrs_reference_meta(distortion, "distortion", detector, channels, band)
    distortion.meta.input_units, distortion.meta.output_units = "pixel", "arcsec"
    specwcs = datamodels.SpecwcsModel()
    specwcs.slices, specwcs.model = slices, wavelength
    mrs_reference_meta(specwcs, "specwcs", detector, channels, band)
    specwcs.meta.input_units, specwcs.meta.output_units = "pixel", "micron"
    region_model = datamodels.RegionsModel()
    region_model.regions = regions
    mrs_reference_meta(region_model, "regions", detector, channels, band)
    ranges = datamodels.WavelengthrangeModel()
    ranges.waverange_selector = list(MRS_WAVELENGTHS)
    ranges.wavelengthrange = [list(v) for v in MRS_WAVELENGTHS.values()]
    mrs_reference_meta(ranges, "wavelengthrange", None, None, None)
    ranges.meta.wavelength_units = "micron"
    paths = {}
    for reftype, model in (("distortion", distortion), ("specwcs", specwcs), ("regions", region_model),
                           ("wavelengthrange", ranges)):
        paths[reftype] = directory / f"{reftype}_{detector.lower()}_{band.lower()}.asdf"
        write_datamodel(model, paths[reftype])
    return paths
