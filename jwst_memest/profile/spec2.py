"""Synthetic MIRI LRS and MRS exposures for calwebb_spec2, and the references it reads offline.

calwebb_spec2 runs offline here for MIRI LRS: a slitless time series (MIR_LRS-SLITLESS, rateints)
and a fixed-slit exposure (MIR_LRS-FIXEDSLIT, rate); and for MIRI MRS (MIR_MRS, rate): jwst's own
MRS assign_wcs builds the IFU WCS from the synthetic DISTORTION, SPECWCS, REGIONS and
WAVELENGTHRANGE of `jwst_memest.profile.spectral_references`, flat_field, fringe and photom apply
synthetic full-frame references, cube_build makes one cube per channel and band (a synthetic
CUBEPAR) and extract_1d extracts each (an IFU EXTRACT1D); straylight (MRSXARTCORR) is N/A; and for
NIRISS SOSS (NIS_SOSS, rateints): assign_wcs from a synthetic SOSS SPECWCS, flat_field (a
full-frame NIRISS FLAT), extract_1d with ATOCA as in operations (the synthetic PASTASOSS,
SPECPROFILE and SPECKERNEL the tso3 corpus uses) and photom of the extracted orders.
For LRS: assign_wcs builds the spectral WCS from the
synthetic LRS DISTORTION and SPECWCS of `jwst_memest.profile.spectral_references`, flat_field divides
by a full-frame MIRI FLAT, photom applies a PHOTOM row with its relative response over wavelength,
the fixed slit is resampled (resample_spec, s2d), and extract_1d extracts every integration with its
default aperture (EXTRACT1D and APCORR N/A, no aperture correction; PATHLOSS N/A). Other spectroscopic modes need references not synthesised here (NIRSpec's
optical model); NIRCam and NIRISS WFSS run with the
synthetic references and source catalogs of `jwst_memest.profile.wfss_references`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.exposures import ExposureLayout
from jwst_memest.instruments import SPECTRAL_PIXEL_AREA, imaging_pixel_scale
from jwst_memest.profile.reference_meta import set_reference_meta

__all__ = ["SPEC2_EXP_TYPES", "write_series_rateints", "write_lrs_rate", "write_mrs_rate", "write_spec2_exposure",
           "write_spec2_references", "spec2_arguments"]

SPEC2_EXP_TYPES = ("MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT", "MIR_MRS", "NIS_SOSS", "NRC_WFSS", "NIS_WFSS")
_RESPONSE_LENGTH = 500  # the PHOTOM table's wavelength and response columns, as delivered


def write_series_rateints(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> Path:
    """Write a time series as a full-size rateints file: MIRI LRS slitless (SLITLESSPRISM) or NIRISS SOSS.

    The spectrum and header are those of the project's tso3 members, with no calibration done.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (MIR_LRS-SLITLESS, its ``subarray_shape`` and ``nints``).
    directory : str or pathlib.Path
        Where to write it.
    seed : int, optional
        The random seed.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from jwst_memest.profile import tso3_writers
    from jwst_memest.profile.image2 import as_slopes
    from jwst_memest.profile.synthetic import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    context = tso3_writers.prepare(layout, directory)
    cal = tso3_writers.member_model(layout, layout.detectors[0], 1, 1, (0.0, 0.0), False,
                                    np.random.default_rng(seed), **context)
    return save_model(as_slopes(cal, tso=True), directory)


def write_lrs_rate(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> Path:
    """Write a MIRI LRS fixed-slit exposure as a full-frame rate file (the source at the slit centre).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (MIR_LRS-FIXEDSLIT).
    directory : str or pathlib.Path
        Where to write it.
    seed : int, optional
        The random seed.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from jwst_memest.profile.image2 import as_slopes
    from jwst_memest.profile.spectral_references import write_lrs_wcs_references
    from jwst_memest.profile.synthetic import make_lrs_cal_model, save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    references = write_lrs_wcs_references(directory / "wcs")
    cal = make_lrs_cal_model(layout, 1, 1, 0.0, references, np.random.default_rng(seed))
    return save_model(as_slopes(cal, tso=False), directory)


def write_mrs_rate(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> Path:
    """Write a MIRI MRS exposure as a full-frame rate file of its detector (no WCS: assign_wcs makes it).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout (MIR_MRS, its detector and ``band``).
    directory : str or pathlib.Path
        Where to write it.
    seed : int, optional
        The random seed.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    from jwst_memest.profile.spectra import mrs_exposure
    from jwst_memest.profile.synthetic import save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = mrs_exposure(layout, layout.detectors[0], 1, 1, (0.0, 0.0), np.random.default_rng(seed))
    del model.var_flat  # a rate: flat_field has not run
    model.meta.filename = model.meta.filename.rsplit("_", 1)[0] + "_rate.fits"
    model.meta.bunit_data = model.meta.bunit_err = "DN/s"
    return save_model(model, directory)


def write_spec2_exposure(layout: ExposureLayout, directory: str | Path, seed: int = 0) -> Path:
    """Write the layout's exposure as calwebb_spec2 takes it (rateints slitless, rate fixed slit).

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    directory : str or pathlib.Path
        Where to write it.
    seed : int, optional
        The random seed.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        For a mode that does not run offline here.
    """
    from jwst_memest.profile.wfss_references import write_wfss_rate

    writers = {"MIR_LRS-SLITLESS": write_series_rateints, "MIR_LRS-FIXEDSLIT": write_lrs_rate,
               "MIR_MRS": write_mrs_rate, "NIS_SOSS": write_series_rateints, "NRC_WFSS": write_wfss_rate,
               "NIS_WFSS": write_wfss_rate}
    if layout.exp_type not in writers:
        raise ValueError(f"calwebb_spec2 of {layout.exp_type} does not run offline here "
                         f"(measured: {', '.join(SPEC2_EXP_TYPES)})")
    return writers[layout.exp_type](layout, directory, seed)


def _write_lrs_photom(path: Path) -> None:
    from stdatamodels.jwst import datamodels

    columns = [("filter", "S12"), ("subarray", "S17"), ("photmjsr", "<f4"), ("uncertainty", "<f4"), ("nelem", "<i2"),
               ("wavelength", "<f4", (_RESPONSE_LENGTH,)), ("relresponse", "<f4", (_RESPONSE_LENGTH,)),
               ("reluncertainty", "<f4", (_RESPONSE_LENGTH,))]
    table = np.zeros(2, dtype=columns)
    used = 100
    wavelength = np.zeros(_RESPONSE_LENGTH, np.float32)
    wavelength[:used] = np.linspace(4.0, 15.0, used)
    response = np.zeros(_RESPONSE_LENGTH, np.float32)
    response[:used] = 1.0
    for row, subarray in enumerate(("SLITLESSPRISM", "FULL")):  # slitless, and the fixed slit's full frame
        table[row] = ("P750L", subarray, 1.0, 0.01, used, wavelength, response, 0.01 * response)
    model = datamodels.MirLrsPhotomModel()
    model.phot_table = table
    set_reference_meta(model, "photom", "MIRI", "synthetic MIRI LRS photometric response for offline profiling")
    model.meta.instrument.detector = "MIRIMAGE"
    scale = imaging_pixel_scale("MIRIMAGE")
    model.meta.photometry.pixelarea_arcsecsq = scale**2
    model.meta.photometry.pixelarea_steradians = scale**2 * (math.pi / 180 / 3600) ** 2
    write_datamodel(model, path)


def _write_mrs_frame_references(directory: Path, detector: str, band: str) -> dict[str, Path]:
    """FLAT, FRINGE and PHOTOM of an MRS detector and band: full-frame arrays of ones (written unless there)."""
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile import spectra
    from jwst_memest.profile.spectral_references import mrs_reference_meta

    shape = spectra.full_frame_shape(detector)
    paths = {}
    for reftype, model_class in (("flat", datamodels.FlatModel), ("fringe", datamodels.FringeModel),
                                 ("photom", datamodels.MirMrsPhotomModel)):
        path = directory / f"{reftype}_{detector.lower()}_{band.lower()}.fits"
        paths[reftype] = path
        if path.is_file():
            continue
        model = model_class(data=np.ones(shape, np.float32))
        model.err = np.zeros(shape, np.float32)
        model.dq = np.zeros(shape, np.uint32)
        if reftype == "photom":
            model.pixsiz = np.full(shape, SPECTRAL_PIXEL_AREA, np.float32)
            model.meta.photometry.conversion_megajanskys = 1.0
        mrs_reference_meta(model, reftype, detector, "12" if detector == "MIRIFUSHORT" else "34", band)
        write_datamodel(model, path)
    return paths


def write_spec2_references(layout: ExposureLayout, cache: str | Path) -> dict[str, Path]:
    """reftype -> file for a MIRI LRS or MRS exposure, each written into ``cache`` unless there.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    cache : str or pathlib.Path
        The reference cache folder.

    Returns
    -------
    dict of str to pathlib.Path
        LRS: DISTORTION, SPECWCS, FLAT and PHOTOM; MRS: DISTORTION, SPECWCS, REGIONS, WAVELENGTHRANGE,
        FLAT, FRINGE, PHOTOM, CUBEPAR and EXTRACT1D; SOSS: SPECWCS, FLAT, PASTASOSS, SPECPROFILE,
        SPECKERNEL, PHOTOM and WAVELENGTHRANGE; WFSS: DISTORTION, FILTEROFFSET, SPECWCS,
        WAVELENGTHRANGE, BKG, FLAT and PHOTOM (`jwst_memest.profile.wfss_references`); every other
        type is N/A.
    """
    from jwst_memest.profile.image2_references import write_image2_references
    from jwst_memest.profile.spectral_references import write_lrs_wcs_references

    if layout.exp_type not in SPEC2_EXP_TYPES:
        raise ValueError(f"calwebb_spec2 of {layout.exp_type} does not run offline here "
                         f"(measured: {', '.join(SPEC2_EXP_TYPES)})")
    cache = Path(cache)
    if layout.exp_type in ("NRC_WFSS", "NIS_WFSS"):
        from jwst_memest.profile.wfss_references import write_wfss_references

        return write_wfss_references(layout, cache / "wfss")
    if layout.exp_type == "MIR_MRS":
        from jwst_memest.profile.spectral_references import (write_cubepar_reference, write_ifu_extract1d_reference,
                                                             write_mrs_wcs_references)

        detector, band = layout.detectors[0], layout.band or "SHORT"
        references = dict(write_mrs_wcs_references(cache / "mrs", detector, band))
        references.update(_write_mrs_frame_references(cache / "mrs", detector, band))
        references["cubepar"] = write_cubepar_reference("MIRI", cache / "mrs")
        extract1d = cache / "mrs" / "extract1d_miri_mrs.asdf"
        references["extract1d"] = extract1d if extract1d.is_file() else write_ifu_extract1d_reference(extract1d,
                                                                                                     "MIR_MRS")
        return references
    if layout.exp_type == "NIS_SOSS":
        from jwst_memest.profile.soss_references import write_soss_references, write_soss_specwcs

        references = dict(write_soss_references(cache / "soss", layout.subarray))
        references["specwcs"] = write_soss_specwcs(cache / "soss" / "specwcs_soss.asdf")
        references["flat"] = write_image2_references("NIS", layout.filter, layout.pupil, layout.subarray, 0.0, 0.0,
                                                     cache / "imaging")["flat"]
        return references
    references = dict(write_lrs_wcs_references(cache / "lrs"))
    references["flat"] = write_image2_references("MIRIMAGE", layout.filter, None, layout.subarray, 0.0, 0.0,
                                                 cache / "imaging")["flat"]
    photom = cache / "miri_lrs_photom_v2.fits"
    if not photom.is_file():
        _write_lrs_photom(photom)
    references["photom"] = photom
    return references


def spec2_arguments(references: dict[str, Path], wfss: bool = False) -> list[str]:
    """``--steps.<step>.override_<reftype>=PATH|N/A`` for every reference calwebb_spec2's steps ask for,
    and extract_1d without aperture correction.

    Parameters
    ----------
    references : dict of str to pathlib.Path
        Each reference type's file (`write_spec2_references`); the others are N/A.
    wfss : bool, optional
        A WFSS exposure: assign_wcs's FITS SIP approximation off (jwst asks CRDS for it again,
        ignoring the overrides; it only writes header keywords).

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    from jwst.pipeline import Spec2Pipeline

    arguments = []
    for alias, step in Spec2Pipeline.step_defs.items():
        reftypes = step.reference_file_types
        if isinstance(reftypes, property):  # a pipeline within (master_background_mos): its steps answer for it
            continue
        arguments += [f"--steps.{alias}.override_{reftype}={references.get(reftype, 'N/A')}" for reftype in reftypes]
    arguments.append("--steps.extract_1d.apply_apcorr=false")
    return arguments + (["--steps.assign_wcs.sip_approx=false"] if wfss else [])
