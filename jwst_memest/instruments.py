"""Instrument facts shared by the header reader's features and the synthetic writers.

Both sides read them from here, so that the measured corpus and the estimator agree on a detector's
size and pixel scale, on what a NIRSpec grating covers or how large an IFU cube is. Cube sampling
(spaxel size, spectral step) follows the CUBEPAR values jwst's cube_build is given in the measured runs.
"""

from __future__ import annotations

import re

__all__ = ["BYTES_PER_PIXEL_CAL", "FULL_FRAME", "full_frame", "IMAGING_PIXEL_SCALE", "NIRCAM_SW_PIXEL_SCALE",
           "imaging_pixel_scale", "NOMINAL_PIXEL_SCALE", "SPECTRAL_PIXEL_AREA", "EXPOSURE_STEM", "exposure_file_name",
           "NIRSPEC_RANGE", "nirspec_wavelengths", "NIRSPEC_IFU_FIELD", "NIRSPEC_CUBE_STEP", "NIRSPEC_SPAXEL",
           "MRS_CHANNELS", "MRS_WAVELENGTHS", "MRS_CUBE_SAMPLING", "IFU_EXP_TYPES", "WFSS_EXP_TYPES",
           "MULTI_SLIT_EXP_TYPES", "TSO_IMAGING_EXP_TYPES"]

# A Level-2b model holds data, err, dq, var_poisson, var_rnoise, var_flat and area
# at 4 bytes each: 28 bytes per pixel per integration.
BYTES_PER_PIXEL_CAL = 28

# Full-frame science image (columns, rows) of the detectors that are not 2048 x 2048.
FULL_FRAME = {"MIRIMAGE": (1032, 1024), "MIRIFUSHORT": (1032, 1024), "MIRIFULONG": (1032, 1024)}
_FULL_FRAME_2048 = (2048, 2048)

# Pixel scale (arcsec) of the imaging detectors; any other NIRCam one is short-wavelength.
IMAGING_PIXEL_SCALE = {"NRCALONG": 0.063, "NRCBLONG": 0.063, "MIRIMAGE": 0.1108, "NIS": 0.0656}
NIRCAM_SW_PIXEL_SCALE = 0.0311
# Nominal pixel scale (arcsec) of the other detectors, for a header that gives no pixel area.
NOMINAL_PIXEL_SCALE = {"MIRIFUSHORT": 0.196, "MIRIFULONG": 0.196, "GUIDER1": 0.069, "GUIDER2": 0.069,
                       "NRS1": 0.1, "NRS2": 0.1}
# Pixel area (arcsec^2) the synthetic spectroscopic exposures declare: the spectral WCS, not this
# area, places their pixels on the sky.
SPECTRAL_PIXEL_AREA = 0.01

# Stem of an exposure's file name: jw<program><observation><visit>_<visit group, sequence, activity>_<exposure>_<detector>
EXPOSURE_STEM = re.compile(r"^jw(\d{5})(\d{3})(\d{3})_\d{5}_\d{5}_[a-z0-9]+$", re.IGNORECASE)


def full_frame(detector: str | None) -> tuple[int, int]:
    """(columns, rows) of a detector's full-frame science image.

    Parameters
    ----------
    detector : str or None
        DETECTOR.

    Returns
    -------
    tuple of int
        (columns, rows); 2048 x 2048 unless ``FULL_FRAME`` says otherwise.
    """
    return FULL_FRAME.get(detector or "", _FULL_FRAME_2048)


def imaging_pixel_scale(detector: str) -> float:
    """Pixel scale (arcsec) of an imaging detector.

    Parameters
    ----------
    detector : str
        DETECTOR (``NIS`` for NIRISS).

    Returns
    -------
    float
        Arcsec per pixel; NIRCam short-wavelength's for a detector not listed.
    """
    return IMAGING_PIXEL_SCALE.get(detector, NIRCAM_SW_PIXEL_SCALE)


def exposure_file_name(program: int, observation: int, number: int, detector: str, suffix: str) -> str:
    """File name of exposure ``number`` of the first visit of an observation, as the synthetic writers name it.

    Parameters
    ----------
    program, observation, number : int
        Program, observation and exposure numbers.
    detector : str
        DETECTOR.
    suffix : str
        Product suffix (``uncal``, ``cal``, ...).

    Returns
    -------
    str
        Such as ``jw01234001001_03101_00001_nrca1_uncal.fits``.
    """
    return f"jw{program:05d}{observation:03d}001_03101_{number:05d}_{detector.lower()}_{suffix}.fits"


IFU_EXP_TYPES = ("MIR_MRS", "NRS_IFU")
WFSS_EXP_TYPES = ("NIS_WFSS", "NRC_WFSS", "MIR_WFSS")
# Time series that calwebb_tso3 measures by photometry (tso_photometry) rather than by spectra (extract_1d)
TSO_IMAGING_EXP_TYPES = ("NRC_TSIMAGE", "MIR_IMAGE")
# Exposure types whose cal files hold one SCI extension per slit or source
MULTI_SLIT_EXP_TYPES = ("NRS_MSASPEC", "NRS_FIXEDSLIT", "NRS_AUTOFLAT", "NRS_AUTOWAVE", "NIS_WFSS", "NRC_WFSS",
                        "MIR_WFSS")

# NIRSpec wavelength coverage (um) by grating: first, last, and where NRS1 hands over to NRS2
NIRSPEC_RANGE = {"PRISM": (0.6, 5.3, 3.0), "G140M": (0.97, 1.89, 1.42), "G140H": (0.97, 1.89, 1.42),
                 "G235M": (1.66, 3.17, 2.40), "G235H": (1.66, 3.17, 2.40),
                 "G395M": (2.87, 5.27, 4.05), "G395H": (2.87, 5.27, 4.05)}
NIRSPEC_IFU_FIELD = (3.1, 3.1)  # arcsec
NIRSPEC_SPAXEL = 0.1  # arcsec
NIRSPEC_CUBE_STEP = {"PRISM": 0.005, "G140M": 0.0006, "G140H": 0.0002, "G235M": 0.001, "G235H": 0.0004,
                     "G395M": 0.0017, "G395H": 0.0007}  # um per cube plane

# MIRI MRS per channel: first column of its detector half, slices, slice width (pixels),
# field of view along the slice and slice width (arcsec)
MRS_CHANNELS = {"1": (0, 21, 22, 3.2, 0.177), "2": (513, 17, 28, 4.0, 0.280),
                "3": (513, 16, 30, 5.2, 0.390), "4": (0, 12, 40, 6.6, 0.656)}
MRS_WAVELENGTHS = {
    "1SHORT": (4.90, 5.74), "1MEDIUM": (5.66, 6.63), "1LONG": (6.53, 7.65),
    "2SHORT": (7.51, 8.77), "2MEDIUM": (8.67, 10.13), "2LONG": (10.02, 11.70),
    "3SHORT": (11.55, 13.47), "3MEDIUM": (13.34, 15.57), "3LONG": (15.41, 17.98),
    "4SHORT": (17.70, 20.95), "4MEDIUM": (20.69, 24.48), "4LONG": (24.19, 27.90),
}
MRS_CUBE_SAMPLING = {"1": (0.13, 0.001), "2": (0.17, 0.002), "3": (0.2, 0.003), "4": (0.35, 0.006)}  # arcsec, um


def nirspec_wavelengths(grating: str | None, detector: str) -> tuple[float, float]:
    """Wavelength range (um) a NIRSpec detector records with a grating (G395M when unknown).

    Parameters
    ----------
    grating : str or None
        GRATING.
    detector : str
        ``NRS1`` or ``NRS2``.

    Returns
    -------
    tuple of float
        First and last wavelength, um.
    """
    first, last, split = NIRSPEC_RANGE.get(grating or "", NIRSPEC_RANGE["G395M"])
    return (first, split) if detector == "NRS1" else (split, last)
