"""Synthetic full-size spectroscopic cal exposures, one writer per calwebb_spec3 mode.

- NIRSpec MOS and fixed slit: MultiSlitModel, one 2-D spectrum per slit with a trace, the slit
  frames spec3 uses (``spec_wcs.slit_wcs``), pathloss/barshadow arrays; nods shift the source.
- NIRSpec IFU: IFUImageModel over the whole 2048x2048 detector, 30 slices (``spec_wcs.nirspec_ifu_wcs``).
- MIRI MRS: IFUImageModel with the WCS jwst's own assign_wcs builds from synthetic references.
- NIRCam / NIRISS WFSS: MultiSlitModel, one cutout per source in extract_2d's frame layout.

MIRI LRS lives in ``synthetic`` with the imaging writers it shares code with. Which spec3 steps
run and with which synthetic references is ``spec3_arguments``; docs/corpus.md says why.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.exposures import MRS_DETECTOR_CHANNELS, NIRSPEC_FIXED_SLITS, SLIT_SHAPE, ExposureLayout, instrument_of
from jwst_memest.instruments import (IMAGING_PIXEL_SCALE, SPECTRAL_PIXEL_AREA, exposure_file_name, full_frame,
                                     nirspec_wavelengths)
from jwst_memest.profile import spec_wcs
from jwst_memest.profile.synthetic import save_model

__all__ = ["SPEC3_WRITERS", "write_spec3_exposures", "spec3_arguments", "describe", "full_frame_shape", "set_subarray",
           "mrs_exposure"]

# WFSS: first wavelength and dispersion (um per pixel), and pixel scale, by instrument
_WFSS = {"NIRISS": (1.33, 0.0047, IMAGING_PIXEL_SCALE["NIS"]), "NIRCAM": (3.8, 0.001, IMAGING_PIXEL_SCALE["NRCALONG"])}

EXTRACT_1D_REFERENCES = ("extract1d", "apcorr", "pastasoss", "specprofile", "speckernel", "psf")


def _sky_offset(layout: ExposureLayout, east_arcsec: float, north_arcsec: float) -> tuple[float, float]:
    dec = layout.target_dec + north_arcsec / 3600.0
    return layout.target_ra + east_arcsec / 3600.0 / math.cos(math.radians(layout.target_dec)), dec


def describe(model, layout: ExposureLayout, detector: str, number: int, n_exposures: int) -> None:
    """Set the metadata every synthetic spectroscopic exposure carries: instrument, exposure, observation, target.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.JwstDataModel
        The exposure's model (named as a ``cal`` file).
    layout : jwst_memest.exposures.ExposureLayout
        Its layout.
    detector : str
        Its detector.
    number : int
        Its exposure number (1-based).
    n_exposures : int
        The pointings of the layout.
    """
    from jwst_memest.profile.synthetic import set_observation

    meta = model.meta
    meta.filename = exposure_file_name(layout.program, layout.observation, number, detector, "cal")
    meta.telescope = "JWST"
    meta.instrument.name, meta.instrument.detector = instrument_of(detector), detector
    if layout.filter not in (None, "N/A"):
        meta.instrument.filter = layout.filter
    if layout.pupil not in (None, "N/A"):
        meta.instrument.pupil = layout.pupil
    if layout.grating:
        meta.instrument.grating = layout.grating
    if meta.instrument.name == "NIRCAM":
        meta.instrument.channel, meta.instrument.module = "LONG" if detector.endswith("LONG") else "SHORT", detector[3]
    meta.exposure.type, meta.exposure.nints, meta.exposure.ngroups = layout.exp_type, layout.nints, layout.ngroups
    start = 60319.4 + number * 1e-3
    meta.exposure.start_time, meta.exposure.mid_time, meta.exposure.end_time = start, start + 5e-4, start + 1e-3
    meta.exposure.exposure_time = meta.exposure.measurement_time = meta.exposure.effective_exposure_time = 1000.0
    set_observation(meta, layout, number)
    meta.visit.total_exposures = n_exposures * len(layout.detectors)
    meta.dither.total_points = layout.dither_points
    meta.dither.position_number = (number - 1) % max(layout.dither_points, 1) + 1
    meta.target.catalog_name = meta.target.proposer_name = layout.target_name
    meta.target.ra, meta.target.dec, meta.target.source_type = layout.target_ra, layout.target_dec, "POINT"
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    try:
        meta.photometry.pixelarea_steradians, meta.photometry.pixelarea_arcsecsq = 1e-13, SPECTRAL_PIXEL_AREA
    except AttributeError:  # multi-slit models carry it per slit
        pass


def _fill_variances(model, shape) -> None:
    model.err = np.full(shape, 0.05, np.float32)
    for name in ("var_poisson", "var_rnoise", "var_flat"):
        setattr(model, name, np.full(shape, 1e-3, np.float32))
    model.dq = np.zeros(shape, np.uint32)


def full_frame_shape(detector: str) -> tuple[int, int]:
    """The detector's full frame.

    Parameters
    ----------
    detector : str
        DETECTOR.

    Returns
    -------
    tuple of int
        (rows, columns).
    """
    columns, rows = full_frame(detector)
    return rows, columns


def set_subarray(meta, name: str, shape: tuple[int, int]) -> None:
    """Set a full-size subarray's name, corner and size.

    Parameters
    ----------
    meta : object
        The model's ``meta``.
    name : str
        SUBARRAY.
    shape : tuple of int
        (rows, columns).
    """
    meta.subarray.name, meta.subarray.xstart, meta.subarray.ystart = name, 1, 1
    meta.subarray.ysize, meta.subarray.xsize = shape


def _nirspec_slits(layout, detector, number, n_exposures, offset, rng):
    """MOS or fixed slit: one 2-D spectrum per slit, the source displaced along the slit by the nod."""
    from stdatamodels.jwst.datamodels import MultiSlitModel, SlitModel

    model = MultiSlitModel()
    describe(model, layout, detector, number, n_exposures)
    fixed = layout.exp_type == "NRS_FIXEDSLIT"
    set_subarray(model.meta, "ALLSLITS" if fixed else "FULL", full_frame_shape(detector))
    model.meta.cal_step.assign_wcs = model.meta.cal_step.extract_2d = model.meta.cal_step.photom = "COMPLETE"
    ny, nx = SLIT_SHAPE[layout.exp_type]
    wavelengths = nirspec_wavelengths(layout.grating, detector)
    nod_pixels = offset[1] / 0.1  # the nod moves the source along the slit (0.1" pixels)
    rows = np.arange(ny)[:, None]
    trace = (5.0 * np.exp(-0.5 * ((rows - (ny - 1) / 2 - nod_pixels) / 1.2) ** 2)).astype(np.float32)
    for index in range(layout.n_slits):
        name = NIRSPEC_FIXED_SLITS[index % len(NIRSPEC_FIXED_SLITS)] if fixed else str(index + 1)
        ra, dec = _sky_offset(layout, (index % 20) * 8.0, (index // 20) * 8.0)
        slit = SlitModel()
        slit.data = rng.normal(1.0, 0.05, (ny, nx)).astype(np.float32) + trace
        _fill_variances(slit, (ny, nx))
        slit.meta.wcs = spec_wcs.slit_wcs((ny, nx), wavelengths, ra, dec, position_angle=layout.roll)
        slit.wavelength = slit.meta.wcs(*np.indices((ny, nx))[::-1])[2].astype(np.float32)
        for name_of_array in ("pathloss_point", "pathloss_uniform", "barshadow"):
            setattr(slit, name_of_array, np.ones((ny, nx), np.float32))
        slit.name, slit.xstart, slit.ystart, slit.xsize, slit.ysize = name, 400, 100 + 40 * index, nx, ny
        slit.source_id, slit.source_name, slit.source_alias = index + 1, f"source{index + 1}", f"s{index + 1}"
        slit.slitlet_id, slit.shutter_state = index + 1, "x" if fixed else "11x"
        slit.source_type, slit.source_xpos, slit.source_ypos, slit.stellarity = "POINT", 0.0, -nod_pixels * 0.02, 1.0
        slit.quadrant, slit.dispersion_direction = (5 if fixed else 1), 1
        slit.meta.wcsinfo.dispersion_direction = 1
        slit.meta.bunit_data = slit.meta.bunit_err = "MJy"
        slit.meta.photometry.pixelarea_steradians, slit.meta.photometry.pixelarea_arcsecsq = 1e-13, SPECTRAL_PIXEL_AREA
        model.slits.append(slit)
    return model


def _nirspec_ifu(layout, detector, number, n_exposures, offset, rng):
    from stdatamodels.jwst.datamodels import IFUImageModel

    ra, dec = _sky_offset(layout, *offset)
    wcs, regions = spec_wcs.nirspec_ifu_wcs(nirspec_wavelengths(layout.grating, detector), ra, dec,
                                            position_angle=layout.roll)
    shape = full_frame_shape(detector)
    model = IFUImageModel(data=rng.normal(1.0, 0.05, shape).astype(np.float32))
    model.data[regions == 0] = np.nan
    _fill_variances(model, shape)
    for name in ("pathloss_point", "pathloss_uniform"):
        setattr(model, name, np.ones(shape, np.float32))
    model.regions = regions
    model.meta.wcs = wcs
    describe(model, layout, detector, number, n_exposures)
    set_subarray(model.meta, "FULL", shape)
    model.meta.wcsinfo.ra_ref, model.meta.wcsinfo.dec_ref, model.meta.wcsinfo.roll_ref = ra, dec, layout.roll
    model.meta.wcsinfo.v2_ref, model.meta.wcsinfo.v3_ref = 299.8, -497.9
    model.meta.wcsinfo.dispersion_direction = 1
    model.meta.cal_step.assign_wcs = model.meta.cal_step.photom = "COMPLETE"
    return model


def mrs_exposure(layout: ExposureLayout, detector: str, number: int, n_exposures: int, offset, rng):
    """A full-frame MIRI MRS exposure of one detector, pointed and described, without its WCS.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (MIR_MRS and its ``band``).
    detector : str
        MIRIFUSHORT or MIRIFULONG.
    number : int
        Its exposure number (1-based).
    n_exposures : int
        The pointings of the layout.
    offset : tuple of float
        Its pointing's offset from the target, arcsec east and north.
    rng : numpy.random.Generator
        The random numbers of its data.

    Returns
    -------
    stdatamodels.jwst.datamodels.IFUImageModel
        The exposure, named as a ``cal`` file.
    """
    from stdatamodels.jwst.datamodels import IFUImageModel

    from jwst_memest.profile.spectral_references import MRS_V2V3

    shape = full_frame_shape(detector)
    model = IFUImageModel(data=rng.normal(1.0, 0.05, shape).astype(np.float32))
    _fill_variances(model, shape)
    describe(model, layout, detector, number, n_exposures)
    model.meta.instrument.channel = MRS_DETECTOR_CHANNELS[detector]
    model.meta.instrument.band = layout.band or "SHORT"
    set_subarray(model.meta, "FULL", shape)
    ra, dec = _sky_offset(layout, *offset)
    wcsinfo = model.meta.wcsinfo
    wcsinfo.ra_ref, wcsinfo.dec_ref, wcsinfo.roll_ref = ra, dec, layout.roll
    wcsinfo.v2_ref, wcsinfo.v3_ref = MRS_V2V3
    wcsinfo.v3yangle, wcsinfo.vparity = 0.0, -1
    model.meta.velocity_aberration.scale_factor = 1.0
    return model


def _miri_mrs(layout, detector, number, n_exposures, offset, rng, references):
    from jwst.assign_wcs.assign_wcs import load_wcs

    model = mrs_exposure(layout, detector, number, n_exposures, offset, rng)
    load_wcs(model, {reftype: str(path) for reftype, path in references[detector].items()})
    model.meta.cal_step.photom = "COMPLETE"
    return model


def _wfss(layout, detector, number, n_exposures, offset, rng):
    """One cutout per source; sources on a grid, the same sky positions in every exposure."""
    from stdatamodels.jwst.datamodels import MultiSlitModel, SlitModel

    model = MultiSlitModel()
    describe(model, layout, detector, number, n_exposures)
    set_subarray(model.meta, "FULL", full_frame_shape(detector))
    instrument = instrument_of(detector)
    first_wavelength, per_pixel, pixel_arcsec = _WFSS[instrument]
    ra0, dec0 = _sky_offset(layout, *offset)
    half = 1024 * pixel_arcsec / 3600
    model.meta.wcsinfo = {}
    model.meta.wcsinfo.s_region = (f"POLYGON ICRS  {ra0 - half} {dec0 - half} {ra0 + half} {dec0 - half} "
                                   f"{ra0 + half} {dec0 + half} {ra0 - half} {dec0 + half}")
    model.meta.cal_step.assign_wcs = model.meta.cal_step.extract_2d = model.meta.cal_step.photom = "COMPLETE"
    ny, nx = SLIT_SHAPE[layout.exp_type]
    columns = max(1, int(math.sqrt(layout.n_slits)))
    for index in range(layout.n_slits):
        x0 = 50 + (index % columns) * (1900 // columns)
        y0 = 50 + (index // columns) * (1900 // columns)
        slit = SlitModel()
        slit.data = rng.normal(1.0, 0.05, (ny, nx)).astype(np.float32)
        slit.data[ny // 2 - 2:ny // 2 + 3] += 5.0
        _fill_variances(slit, (ny, nx))
        slit.wavelength = np.tile((first_wavelength + per_pixel * np.arange(nx)).astype(np.float32), (ny, 1))
        slit.meta.wcs = spec_wcs.wfss_source_wcs((ny, nx), (x0, y0), (x0 + 10.0, y0 + ny / 2), 1,
                                                 first_wavelength, per_pixel, ra0, dec0, pixel_arcsec)
        slit.name, slit.source_id = str(index + 1), index + 1
        slit.source_ra = ra0 + ((x0 - 1024) * pixel_arcsec / 3600) / math.cos(math.radians(dec0))
        slit.source_dec = dec0 + (y0 - 1024) * pixel_arcsec / 3600
        slit.source_xpos = slit.source_ypos = 0.0
        slit.source_type = "POINT"
        slit.xstart, slit.ystart, slit.xsize, slit.ysize = x0, y0, nx, ny
        slit.meta.wcsinfo.spectral_order, slit.meta.wcsinfo.dispersion_direction = 1, 1
        slit.meta.wcsinfo.s_region = model.meta.wcsinfo.s_region
        slit.meta.exposure.type = layout.exp_type
        slit.meta.bunit_data = slit.meta.bunit_err = "MJy/sr"
        slit.meta.photometry.pixelarea_steradians = 1e-13
        model.slits.append(slit)
    return model


SPEC3_WRITERS = {"NRS_MSASPEC": _nirspec_slits, "NRS_FIXEDSLIT": _nirspec_slits, "NRS_IFU": _nirspec_ifu,
                 "MIR_MRS": _miri_mrs, "NIS_WFSS": _wfss, "NRC_WFSS": _wfss}


def write_spec3_exposures(layout: ExposureLayout, directory: str | Path, rng: np.random.Generator) -> list[Path]:
    """Every member of a spectroscopic layout (pointings x detectors) as a full-size cal file.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    directory : str or pathlib.Path
        Where to write them.
    rng : numpy.random.Generator
        The random numbers of the synthetic data.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writer = SPEC3_WRITERS[layout.exp_type]
    extra = {}
    if layout.exp_type == "MIR_MRS":
        from jwst_memest.profile.spectral_references import write_mrs_wcs_references

        extra["references"] = {d: write_mrs_wcs_references(directory / "refs", d, layout.band or "SHORT")
                               for d in layout.detectors}
    pointings = layout.pointings()
    paths = []
    for number, offset in enumerate(pointings, start=1):
        for detector in layout.detectors:
            model = writer(layout, detector, number, len(pointings), offset, rng, **extra)
            paths.append(save_model(model, directory))
    return paths


def spec3_arguments(exp_type: str, references_dir: Path) -> list[str]:
    """calwebb_spec3 arguments that let a mode run offline with every step real data runs.

    IFU modes build cubes (cube_build with a synthetic CUBEPAR) and extract them (an IFU
    EXTRACT1D aperture); slit and WFSS modes extract with extract_1d's defaults (reference N/A).
    Aperture corrections are off (no APCORR); spectral_leak (MRS only, needs MRSPTCORR) and
    photom of the 1-D products are skipped; both are small next to the peak.

    Parameters
    ----------
    exp_type : str
        The members' EXP_TYPE.
    references_dir : pathlib.Path
        Where the synthetic reference files are written.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    from jwst_memest.profile.spectral_references import write_cubepar_reference, write_ifu_extract1d_reference

    args = ["--steps.extract_1d.apply_apcorr=false", "--steps.spectral_leak.skip=true", "--steps.photom.skip=true"]
    if exp_type in ("MIR_MRS", "NRS_IFU"):
        instrument = "MIRI" if exp_type == "MIR_MRS" else "NIRSPEC"
        references_dir.mkdir(parents=True, exist_ok=True)
        cubepar = write_cubepar_reference(instrument, references_dir)
        extract1d = write_ifu_extract1d_reference(references_dir / f"extract1d_{instrument.lower()}.asdf", exp_type)
        args += [f"--steps.cube_build.override_cubepar={cubepar}", f"--steps.extract_1d.override_extract1d={extract1d}"]
        args += [f"--steps.extract_1d.override_{r}=N/A" for r in EXTRACT_1D_REFERENCES if r != "extract1d"]
    else:
        args += ["--steps.cube_build.skip=true"]
        args += [f"--steps.extract_1d.override_{r}=N/A" for r in EXTRACT_1D_REFERENCES]
    return args
