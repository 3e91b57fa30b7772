"""Pointing geometry of a product's members: offsets and output mosaic extent.

Positions are projected on the tangent plane at the product fiducial
(gnomonic projection), so offsets and footprints are in arcsec and then
detector pixels, as resample lays out the mosaic.
"""

from __future__ import annotations

import numpy as np

__all__ = ["tangent_plane", "offset_statistics", "mosaic_pixels", "mosaic_shape", "mean_pointing", "stray_members"]

_ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0


def mean_pointing(ra_deg, dec_deg) -> tuple[float, float]:
    """Mean direction of a set of pointings (unit-vector mean, safe across RA=0).

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        The pointings, degrees.

    Returns
    -------
    tuple of float
        (RA, Dec) of the mean direction, degrees.
    """
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    x, y, z = np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)
    mx, my, mz = x.mean(), y.mean(), z.mean()
    return float(np.degrees(np.arctan2(my, mx)) % 360.0), float(np.degrees(np.arctan2(mz, np.hypot(mx, my))))


def tangent_plane(ra_deg, dec_deg, ra0_deg: float, dec0_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic projection (xi east, eta north) in arcsec about (ra0, dec0).

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        The positions, degrees.
    ra0_deg, dec0_deg : float
        The tangent point, degrees.

    Returns
    -------
    xi, eta : numpy.ndarray
        The projected positions, arcsec.
    """
    ra, dec = np.radians(np.asarray(ra_deg, float)), np.radians(np.asarray(dec_deg, float))
    ra0, dec0 = np.radians(ra0_deg), np.radians(dec0_deg)
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    xi = np.cos(dec) * np.sin(ra - ra0) / cos_c
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cos_c
    return xi * _ARCSEC_PER_RAD, eta * _ARCSEC_PER_RAD


def offset_statistics(offsets_pix: np.ndarray, prefix: str) -> dict[str, float]:
    """Summary of member offsets (pixels) from a fiducial; the first offset is the reference member.

    Parameters
    ----------
    offsets_pix : numpy.ndarray
        The offsets, pixels.
    prefix : str
        Prefix of the keys.

    Returns
    -------
    dict of str to float
        ``<prefix>_ref``, ``_max``, ``_mean``, ``_sigma``, ``_err``, ``_sigma1_mean`` and
        ``_sigma1_frac`` (NaN for no offsets).
    """
    o = np.asarray(offsets_pix, dtype=float)
    names = ("ref", "max", "mean", "sigma", "err", "sigma1_mean", "sigma1_frac")
    if o.size == 0:
        return {f"{prefix}_{n}": np.nan for n in names}
    mean, sigma = o.mean(), o.std()
    above = o[o > mean + sigma] if sigma > 0 else o[:0]
    return {
        f"{prefix}_ref": float(o[0]),
        f"{prefix}_max": float(o.max()),
        f"{prefix}_mean": float(mean),
        f"{prefix}_sigma": float(sigma),
        f"{prefix}_err": float(sigma / np.sqrt(o.size)),
        f"{prefix}_sigma1_mean": float(above.mean()) if above.size else 0.0,
        f"{prefix}_sigma1_frac": float(above.size / o.size),
    }


def footprint_corners(xi, eta, roll_deg, width_arcsec, height_arcsec) -> np.ndarray:
    """Corners (N*4, 2) of rectangular footprints centred on (xi, eta) and rotated by roll.

    Parameters
    ----------
    xi, eta : array_like
        The footprints' centres, arcsec.
    roll_deg : array_like
        Their roll, degrees east of north (NaN: 0).
    width_arcsec, height_arcsec : array_like
        Their size, arcsec.

    Returns
    -------
    numpy.ndarray
        The corners, arcsec.
    """
    xi, eta = np.atleast_1d(xi), np.atleast_1d(eta)
    roll = np.radians(np.nan_to_num(np.atleast_1d(roll_deg), nan=0.0))
    w, h = np.atleast_1d(width_arcsec) / 2.0, np.atleast_1d(height_arcsec) / 2.0
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        dx, dy = sx * w, sy * h
        # roll measured east of north: rotate the detector frame onto the sky
        corners.append(
            np.stack([xi + dx * np.cos(roll) - dy * np.sin(roll), eta + dx * np.sin(roll) + dy * np.cos(roll)], -1)
        )
    return np.concatenate(corners, axis=0)


def mosaic_pixels(xi, eta, roll_deg, ncols, nrows, member_scale, output_scale: float) -> float:
    """Output pixels of a mosaic covering every member footprint (``mosaic_shape``'s product).

    Parameters
    ----------
    xi, eta : array_like
        The members' centres on the tangent plane, arcsec.
    roll_deg : array_like
        Their roll, degrees.
    ncols, nrows : array_like
        Their image size, pixels.
    member_scale : array_like
        Their pixel scale, arcsec.
    output_scale : float
        The mosaic's pixel scale, arcsec.

    Returns
    -------
    float
        Columns times rows.
    """
    width, height = mosaic_shape(xi, eta, roll_deg, ncols, nrows, member_scale, output_scale)
    return float(width * height)


def mosaic_shape(xi, eta, roll_deg, ncols, nrows, member_scale, output_scale: float) -> tuple[float, float]:
    """Columns and rows of a mosaic covering every member footprint.

    The mosaic is the bounding box of the union of footprints in a frame
    aligned with the first member's orientation, sampled at ``output_scale``
    arcsec per pixel (resample's default: the input pixel scale).

    Parameters
    ----------
    xi, eta : array_like
        The members' centres on the tangent plane, arcsec.
    roll_deg : array_like
        Their roll, degrees.
    ncols, nrows : array_like
        Their image size, pixels.
    member_scale : array_like
        Their pixel scale, arcsec.
    output_scale : float
        The mosaic's pixel scale, arcsec.

    Returns
    -------
    tuple of float
        Columns and rows, whole pixels.
    """
    member_scale = np.atleast_1d(member_scale)
    corners = footprint_corners(xi, eta, roll_deg, np.asarray(ncols) * member_scale, np.asarray(nrows) * member_scale)
    roll0 = np.radians(np.nan_to_num(np.atleast_1d(roll_deg)[0], nan=0.0))
    # rotate back into the frame of the reference member
    u = corners[:, 0] * np.cos(roll0) + corners[:, 1] * np.sin(roll0)
    v = -corners[:, 0] * np.sin(roll0) + corners[:, 1] * np.cos(roll0)
    width = (u.max() - u.min()) / output_scale
    height = (v.max() - v.min()) / output_scale
    # round off projection noise before counting whole pixels
    return float(np.ceil(round(width, 6))), float(np.ceil(round(height, 6)))


def stray_members(ra_deg, dec_deg, limit_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointings farther than ``limit_deg`` from the others' median direction.

    The median (of the unit vectors, component by component) ignores a few broken pointings, so the
    members that stretch the mosaic are the ones named, not the healthy majority.

    Parameters
    ----------
    ra_deg, dec_deg : array_like
        The pointings, degrees.
    limit_deg : float
        The distance beyond which a pointing is stray, degrees.

    Returns
    -------
    indices : numpy.ndarray
        The stray pointings' indices.
    distance : numpy.ndarray
        Every pointing's angular distance from the median direction, degrees.
    """
    ra, dec = np.radians(np.asarray(ra_deg, float)), np.radians(np.asarray(dec_deg, float))
    vectors = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)
    centre = np.median(vectors, axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    distance = np.degrees(np.arccos(np.clip(vectors @ centre, -1.0, 1.0)))
    return np.flatnonzero(distance > limit_deg), distance
