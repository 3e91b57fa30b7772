"""Inputs of runs the tests make up: image3 feature rows, their times under known coefficients, and a
MIRI LRS slitless rateints header."""

from pathlib import Path

import numpy as np
from astropy.io import fits

from jwst_memest.features.schema import load_schema
from jwst_memest.model.walltime import work_terms

# seconds per unit of a few image3 work terms; every other term takes none
KNOWN_IMAGE3_COEFFICIENTS = {"startup": 8.0, "startup_member": 1.5, "resample_member_pixel": 4e-6,
                             "resample_output_pixel": 5e-7}


def image3_rows(n_rows: int, seed: int = 0) -> np.ndarray:
    """Encoded image3 feature rows of made-up products: 2-39 members of three sizes, in memory or on disk."""
    names = load_schema("image3").names
    rng = np.random.default_rng(seed)
    X = np.zeros((n_rows, len(names)))
    col = {name: i for i, name in enumerate(names)}
    X[:, col["n_members"]] = rng.integers(2, 40, n_rows)
    X[:, col["n_exposure_groups"]] = X[:, col["n_members"]]
    X[:, col["member_pixels"]] = rng.choice([65536, 409600, 4194304], n_rows)
    X[:, col["output_pixels"]] = X[:, col["member_pixels"]] * rng.uniform(1, 8, n_rows)
    X[:, col["n_integrations"]] = 1
    X[:, col["in_memory"]] = rng.integers(0, 2, n_rows)
    return X


def known_image3_seconds(X: np.ndarray) -> np.ndarray:
    """The rows' wall times under `KNOWN_IMAGE3_COEFFICIENTS`."""
    names, A = work_terms(X, "image3")
    return A @ np.array([KNOWN_IMAGE3_COEFFICIENTS.get(n, 0.0) for n in names])


def lrs_rateints(folder: Path, nints: int) -> Path:
    """A header-only MIRI LRS slitless rateints file of a TSO visit (10 groups, ``nints`` integrations)."""
    primary = fits.PrimaryHDU()
    primary.header.update(dict(TELESCOP="JWST", NFRAMES=1, GROUPGAP=0, INSTRUME="MIRI", DETECTOR="MIRIMAGE",
                               EXP_TYPE="MIR_LRS-SLITLESS", TSOVISIT=True, NGROUPS=10, NINTS=nints,
                               SUBARRAY="SLITLESSPRISM", SUBSIZE1=72, SUBSIZE2=416))
    path = Path(folder) / "jw01234004001_01101_00001_mirimage_rateints.fits"
    fits.HDUList([primary]).writeto(path)
    return path
