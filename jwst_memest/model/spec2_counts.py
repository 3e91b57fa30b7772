"""calwebb_spec2's arrays per step for the spectroscopic modes no run measures, counted from jwst's source.

NIRSpec's assign_wcs needs its optical references (not made offline here), so calwebb_spec2 of
NIRSpec fixed slit, MOS, IFU and BOTS is not measured; nor is NIRCam's grism time series (its
assign_wcs needs the grism dispersion references). Their estimates are these counts (dtype x shape, jwst 3.0) plus the
interpreter fitted on the measured modes; every unknown is taken at its largest plausible size
and the bound is widened as for any unmeasured type (`jwst_memest.model.image2`). Derivation,
with the lines of jwst each term comes from: docs/image2.md.

Notation: P frame pixels (rows x columns), N integrations, FF the detector's full frame (the
NIRSpec flats' shape), S the pixels of every slit cutout extract_2d makes (FS, MOS; WFSS: every
source's), S1 the largest one, V the IFU cube's voxels, B background exposures of a Level-2
association. Rules that hold in every mode:

- the rate model (SCI, ERR, VAR_POISSON, VAR_RNOISE float32, DQ uint32: 20 B per P) stays open
  until the exposure is done, under every model made from it;
- steps inside the pipeline do not copy their input; the pipeline copies the calibrated model
  before resampling (and once more before extract_1d), and both copies live beside it;
- NIRSpec's flats are read whole whatever the subarray: the DFLAT's SCI is a cube of wavelength
  planes over the full frame (ERR and DQ are planes), MOS's SFLAT is three such cubes. Their plane
  counts are set by the reference, not the exposure: ``FLAT_PLANES`` is assumed unless a CRDS
  cache tells.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UNMEASURED_SPEC2_EXP_TYPES", "FLAT_PLANES", "nirspec_flat_bytes", "unmeasured_spec2_step_bytes"]

UNMEASURED_SPEC2_EXP_TYPES = ("NRS_FIXEDSLIT", "NRS_MSASPEC", "NRS_IFU", "NRS_BRIGHTOBJ", "NRC_TSGRISM")
# NIRCam's grism time series: extract_2d keeps the first rows of the subarray (tsgrism_extract_height)
TSGRISM_ROWS = 64
# wavelength planes of a NIRSpec DFLAT (and MOS SFLAT) cube when no CRDS cache tells: more than the
# operational detector flat holds (its planes run from 0.6 to 5.3 um)
FLAT_PLANES = 48
RATE = 20.0  # B per pixel: SCI, ERR, VAR_POISSON, VAR_RNOISE float32, DQ uint32
# a slit cutout after extract_2d: the rate's arrays and WAVELENGTH (float32)
CUTOUT = 24.0
# a fixed slit after photom: + VAR_FLAT, FLATFIELD_POINT/UNIFORM, PATHLOSS_POINT/UNIFORM, PHOTOM_POINT/UNIFORM
FS_CALIBRATED = 52.0
# a MOS slitlet after photom: + VAR_FLAT, PATHLOSS_POINT/UNIFORM, BARSHADOW
MOS_CALIBRATED = 40.0
INTERPOLATED_FLAT = 16.0  # each slit's interpolated flat (SCI, DQ, ERR, WAVELENGTH), kept until flat_field returns
RESAMPLED = 32.0  # an s2d slit: SCI, WHT, CON, ERR, three variances, WAVELENGTH
FLAT_WORK = 300.0  # flat_field's float64 grids and interpolation, the slit being worked on
WCS_WORK = 200.0  # a slit's float64 pixel grid through the WCS (bounding box, resample's pixel map)
# IFU: the IFU image after photom (24 B of arrays, REGIONS int32, WAVELENGTH, PATHLOSS_POINT/UNIFORM,
# the slice map inside the WCS, int64), held twice from the pipeline's copy on
IFU_IMAGE = 48.0
IFU_POINT_CLOUD = 483.0  # cube_build's per-pixel coordinates, corners and weights (float64), every pixel valid
IFU_VOXEL = 84.0  # cube_build's float64 accumulators, those the C drizzle returns, and the final cube
IFU_FLAT = 60.0  # flat_field on the IFU image: the full-frame interpolated flat, VAR_FLAT and temporaries
IFU_PATHLOSS = 116.0
IFU_PHOTOM = 88.0
# BOTS extract_1d: N spectra as tables (17 float64 columns and one uint32 per wavelength), then
# the time-series table of the same width
SPECTRUM_ROW = 420.0
BACKGROUND_AVERAGE = 33.0  # bkg_subtract: each background's float64 data and error, sigma clipping
BACKGROUND_FIXED = 88.0  # bkg_subtract: the science, the last background opened, the average, overlaps


def nirspec_flat_bytes(exp_type: str, full_frame_pixels, planes: int = FLAT_PLANES):
    """Bytes of the NIRSpec flats flat_field holds at once (read whole, whatever the subarray).

    Parameters
    ----------
    exp_type : str
        EXP_TYPE.
    full_frame_pixels : array_like
        The detector's full frame.
    planes : int, optional
        Wavelength planes of the DFLAT (and MOS SFLAT) cubes.

    Returns
    -------
    numpy.ndarray
        The DFLAT (SCI cube float32; ERR, DQ planes), plus MOS's SFLAT (SCI, ERR float32 and DQ
        uint32 cubes) and its four-quadrant FFLAT (171 x 365 shutters per plane), plus an IFU's
        SFLAT (one plane).
    """
    FF = np.asarray(full_frame_pixels, float)
    dflat = (4.0 * planes + 8.0) * FF
    if exp_type == "NRS_MSASPEC":
        return dflat + 12.0 * planes * FF + 4 * 12.0 * planes * 171 * 365
    if exp_type == "NRS_IFU":
        return dflat + 12.0 * FF
    return dflat


def unmeasured_spec2_step_bytes(exp_type: str, frame_pixels, nints, full_frame_pixels, slit_pixels=0.0,
                                largest_slit_pixels=0.0, background_slit_pixels=0.0, cube_voxels=0.0,
                                background_exposures=0, spectrum_length=0.0,
                                flat_planes: int = FLAT_PLANES) -> dict[str, np.ndarray]:
    """Counted bytes (beyond the interpreter) each step of calwebb_spec2 holds, for a mode no run measures.

    Parameters
    ----------
    exp_type : str
        One of ``UNMEASURED_SPEC2_EXP_TYPES``.
    frame_pixels : array_like
        P.
    nints : array_like
        N (1 for a rate file).
    full_frame_pixels : array_like
        FF.
    slit_pixels, largest_slit_pixels : array_like, optional
        S and S1 (FS, MOS); a BOTS cutout is at most the frame.
    background_slit_pixels : array_like, optional
        Pixels of MOS background slitlets (master_background_mos runs when there are some).
    cube_voxels : array_like, optional
        V (IFU).
    background_exposures : int, optional
        B: background members of the Level-2 association (bkg_subtract runs when there are some).
    spectrum_length : array_like, optional
        Wavelengths of one extracted spectrum (BOTS: the frame's columns).
    flat_planes : int, optional
        Planes of the DFLAT (and MOS SFLAT).

    Returns
    -------
    dict of str to numpy.ndarray
        Bytes per step (steps that do not run are left out).
    """
    P = np.asarray(frame_pixels, float)
    N = np.maximum(np.asarray(nints, float), 1.0)
    S = np.asarray(slit_pixels, float)
    S1 = np.asarray(largest_slit_pixels, float)
    flats = nirspec_flat_bytes(exp_type, full_frame_pixels, flat_planes) if exp_type.startswith("NRS") else 0.0
    rate = RATE * P
    steps = {}
    if background_exposures:
        steps["bkg_subtract"] = (BACKGROUND_FIXED + BACKGROUND_AVERAGE * background_exposures) * P
    if exp_type == "NRS_FIXEDSLIT":
        steps.update(assign_wcs=rate + WCS_WORK * S1,
                     flat_field=rate + FS_CALIBRATED * S + flats + FLAT_WORK * S1,
                     resample_spec=rate + 2 * FS_CALIBRATED * S + RESAMPLED * S + WCS_WORK * S1,
                     extract_1d=rate + FS_CALIBRATED * S + 2 * RESAMPLED * S)
    elif exp_type == "NRS_MSASPEC":
        B = np.asarray(background_slit_pixels, float)
        steps.update(assign_wcs=rate + WCS_WORK * S1,
                     flat_field=rate + (CUTOUT + 4.0 + INTERPOLATED_FLAT) * S + flats + FLAT_WORK * S1,
                     resample_spec=rate + 2 * MOS_CALIBRATED * S + RESAMPLED * S + WCS_WORK * S1,
                     extract_1d=rate + MOS_CALIBRATED * S + RESAMPLED * S)
        if np.any(B > 0):
            # the slits copied twice to calibrate the background forward and back, the background's s2d
            steps["master_background_mos"] = (rate + (CUTOUT + 2 * MOS_CALIBRATED + INTERPOLATED_FLAT) * S
                                              + RESAMPLED * B + flats + FLAT_WORK * S1)
    elif exp_type == "NRS_IFU":
        V = np.asarray(cube_voxels, float)
        steps.update(assign_wcs=rate + 12.0 * P, flat_field=(IFU_FLAT * P + flats),
                     pathloss=IFU_PATHLOSS * P, photom=IFU_PHOTOM * P,
                     cube_build=2 * IFU_IMAGE * P + IFU_POINT_CLOUD * P + IFU_VOXEL * V,
                     extract_1d=IFU_IMAGE * P + 44.0 * V)
    elif exp_type == "NRC_TSGRISM":
        # flat_field before extract_2d, on the whole series (VAR_FLAT, the new ERR and DQ, their
        # temporaries, match_nans_and_flags); extract_2d's one cutout of the first rows; photom keeps
        # the full-frame AREA alive; the calibrated cutout three times in extract_1d (the pipeline's
        # two copies), beside the series, and the spectra tables (280 B per wavelength and integration)
        FF = np.asarray(full_frame_pixels, float)
        rows = np.minimum(np.asarray(frame_pixels, float) / np.maximum(np.asarray(spectrum_length, float), 1.0),
                          TSGRISM_ROWS)
        cutout = N * rows * np.asarray(spectrum_length, float)
        series = 24.0 * N * P  # the flat-fielded series, VAR_FLAT added
        steps.update(assign_wcs=rate * N, flat_field=32.0 * N * P + 7.0 * N * P + 12.0 * FF + 25.0 * P,
                     extract_2d=series + 24.0 * cutout + 4.0 * FF,
                     extract_1d=series + 79.0 * cutout + 4.0 * FF + 8.0 * P
                     + 280.0 * N * np.asarray(spectrum_length, float))
    elif exp_type == "NRS_BRIGHTOBJ":
        # the S1600A1 cutout is at most the subarray; the cube is copied twice for extract_1d
        series = RATE * N * P
        steps.update(assign_wcs=series + WCS_WORK * P,
                     flat_field=series + (CUTOUT + 8.0) * N * P + flats + FLAT_WORK * P,
                     extract_1d=series + 3 * CUTOUT * N * P + 12.0 * P
                     + SPECTRUM_ROW * N * np.asarray(spectrum_length, float))
    else:
        raise ValueError(f"{exp_type}: no count of calwebb_spec2 for this type")
    return steps
