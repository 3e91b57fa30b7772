"""Instrument facts (mostly spectroscopic) shared by the header reader's features and the synthetic writers.

Both sides read them from here, so that the measured corpus and the estimator agree on what a
NIRSpec grating covers or how large an IFU cube is. Cube sampling (spaxel size, spectral step)
follows the CUBEPAR values jwst's cube_build is given in the measured runs.
"""

from __future__ import annotations

__all__ = ["NIRSPEC_RANGE", "nirspec_wavelengths", "NIRSPEC_IFU_FIELD", "NIRSPEC_CUBE_STEP", "NIRSPEC_SPAXEL",
           "MRS_CHANNELS", "MRS_WAVELENGTHS", "MRS_CUBE_SAMPLING", "IFU_EXP_TYPES", "WFSS_EXP_TYPES",
           "MULTI_SLIT_EXP_TYPES", "TSO_IMAGING_EXP_TYPES"]

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
    """Wavelength range (um) a NIRSpec detector records with a grating (G395M when unknown)."""
    first, last, split = NIRSPEC_RANGE.get(grating or "", NIRSPEC_RANGE["G395M"])
    return (first, split) if detector == "NRS1" else (split, last)
