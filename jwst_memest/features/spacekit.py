"""spacekit's JWST cal features of a product, from its members' metadata.

spacekit (``spacekit.skopes.jwst.cal``) describes a Level-3 product by 18 features: the header
values of one member, the detectors and MRS bands of all, and statistics of the members' pointing
offsets from the product's centre and from the target. Computed here from the same
``ExposureMetadata`` as this project's own features, so that its training tables and pretrained
models can be used by the step. The facts (keywords, scales, encodings) live in ``schema.yaml``.

How spacekit measures, and this module follows:

- a member's pointing is CRVAL1/CRVAL2 of its SCI header for imaging, RA_REF/DEC_REF for
  spectroscopy; a member without one is left out (and not counted in ``nexposur``);
- its footprint is a square in RA/Dec (no cos(Dec) factor) of the instrument's detector size at a
  fixed pixel scale, and the product centre the middle of the box holding every footprint corner,
  taken on unit vectors;
- an offset is the angular separation (Vincenty) in arcsec over the member's pixel scale;
- the product's header values are those of the member nearest the centre (the first, on a tie).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from jwst_memest.features.geometry import offset_statistics
from jwst_memest.features.schema import FeatureSchema, spacekit_geometry
from jwst_memest.metadata import ExposureMetadata

__all__ = ["spacekit_values", "angular_separation_arcsec", "spacekit_detector", "spacekit_band"]

_ARCSEC_PER_DEG = 3600.0
_GROUPED_SUBARRAYS = ("MASK", "SUB", "WFSS")
_MISSING_BAND = "NAN"  # spacekit reads an absent BAND as the text NaN, which then joins the others


def angular_separation_arcsec(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Angular separation (arcsec) by Vincenty's formula, stable at every distance.

    Parameters
    ----------
    ra1, dec1 : array_like
        The first positions, degrees.
    ra2, dec2 : array_like
        The second positions, degrees.

    Returns
    -------
    numpy.ndarray
        The separations, arcsec.
    """
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    delta = ra2 - ra1
    across = np.hypot(np.cos(dec2) * np.sin(delta),
                      np.cos(dec1) * np.sin(dec2) - np.sin(dec1) * np.cos(dec2) * np.cos(delta))
    along = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(delta)
    return np.degrees(np.arctan2(across, along)) * _ARCSEC_PER_DEG


def _pixel_scale(member: ExposureMetadata) -> float:
    scales = spacekit_geometry()["pixel_scale"]
    instrument = member.instrument or ""
    channel = member.channel or ""
    if instrument == "NIRCAM":
        # NIRCam by channel; without one, by the detector's name as the channel would say
        if channel not in ("SHORT", "LONG"):
            channel = "LONG" if (member.detector or "").endswith("LONG") else "SHORT"
        return scales[f"NIRCAM_{channel}"]
    if instrument == "MIRI":
        return scales["MIRI_MRS" if member.exp_type == "MIR_MRS" else "MIRI"]
    return scales.get(instrument, math.nan)


def _pointing(member: ExposureMetadata, keywords: str) -> tuple[float, float]:
    if keywords == "CRVAL":
        return member.crval1, member.crval2
    if member.pointing_keywords == "RA_REF":
        return member.ra_ref, member.dec_ref
    return math.nan, math.nan


def _product_centre(ra: np.ndarray, dec: np.ndarray, scale: np.ndarray, shapes: np.ndarray) -> tuple[float, float]:
    """Middle of the box (on unit vectors) holding the corners of every member's footprint."""
    half_x = shapes[:, 0] / 2 * scale / _ARCSEC_PER_DEG
    half_y = shapes[:, 1] / 2 * scale / _ARCSEC_PER_DEG
    corner_ra = np.concatenate([ra - half_x, ra + half_x, ra + half_x, ra - half_x])
    corner_dec = np.concatenate([dec - half_y, dec - half_y, dec + half_y, dec + half_y])
    lon, lat = np.radians(corner_ra), np.radians(corner_dec)
    x, y, z = np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)
    mx, my, mz = ((v.max() + v.min()) / 2.0 for v in (x, y, z))
    return float(np.degrees(np.arctan2(my, mx)) % 360.0), float(np.degrees(np.arctan2(mz, np.hypot(mx, my))))


# spacekit's names for the offset summary that geometry.offset_statistics computes
_SPACEKIT_OFFSET_NAMES = {"max_offset": "max", "mean_offset": "mean", "sigma_offset": "sigma", "err_offset": "err",
                          "sigma1_mean": "sigma1_mean", "frac": "sigma1_frac"}


def _statistics(offsets: np.ndarray, prefix: str = "") -> dict[str, float]:
    stats = offset_statistics(offsets, "offset")
    return {f"{prefix}{name}": stats[f"offset_{ours}"] for name, ours in _SPACEKIT_OFFSET_NAMES.items()}


def spacekit_detector(detectors: Sequence[str]) -> str:
    """The members' detectors as spacekit names them: joined with ``|``, NIRCam's by module and count.

    Parameters
    ----------
    detectors : sequence of str
        The members' DETECTOR values.

    Returns
    -------
    str
        Such as ``NRC-M`` (both NIRCam modules), ``NRCA-M``, ``NRC-S`` (one detector), or the
        detectors joined (``NONE`` for none).
    """
    joined = "|".join(sorted(set(detectors))) or "NONE"
    module_a, module_b = "NRCA" in joined, "NRCB" in joined
    if module_a and module_b:
        return "NRC-M"
    if module_a or module_b:
        return ("NRC-S" if "|" not in joined else "NRCA-M" if module_a else "NRCB-M")
    return joined


def spacekit_band(bands: Sequence[str | None]) -> str:
    """MIRI MRS bands of the members, each once, joined with ``|`` in reverse alphabetical order.

    Parameters
    ----------
    bands : sequence of str or None
        The members' BAND values (an absent one is spacekit's text NaN).

    Returns
    -------
    str
        The bands joined, or ``NONE``.
    """
    found: list[str] = []
    for band in bands:
        for part in (band or _MISSING_BAND).split("-"):
            if part.upper() not in found:
                found.append(part.upper())
    if not found or found == [_MISSING_BAND]:
        return "NONE"
    return "|".join(sorted(found, reverse=True))


def _subarray(value: str | None) -> str | None:
    value = _text(value)
    if value is None:
        return None
    return next((prefix for prefix in _GROUPED_SUBARRAYS if value.startswith(prefix)), value)


def _text(value: str | None) -> str | None:
    """A header value, with the placeholders spacekit reads as missing (N/A, NaN) as None."""
    return None if value is None or str(value).upper() in ("N/A", "NAN") else value


def spacekit_values(members: Sequence[ExposureMetadata], schema: FeatureSchema) -> tuple[dict, list[str]]:
    """Raw values of a spacekit feature set for one product, and warnings.

    Parameters
    ----------
    members : sequence of jwst_memest.metadata.ExposureMetadata
        The product's members (those without a usable pointing are left out).
    schema : jwst_memest.features.schema.FeatureSchema
        The spacekit feature set (``spacekit_image`` or ``spacekit_spec``).

    Returns
    -------
    values : dict
        Raw values by feature name (all zero when no member has a usable pointing).
    warnings : list of str
        One per member left out.
    """
    warnings: list[str] = []
    geometry = spacekit_geometry()
    pointed, ra, dec = [], [], []
    for member in members:
        member_ra, member_dec = _pointing(member, schema.pointing)
        scale = _pixel_scale(member)
        if not (math.isfinite(member_ra) and math.isfinite(member_dec) and math.isfinite(scale)):
            keywords = "CRVAL1/CRVAL2" if schema.pointing == "CRVAL" else "RA_REF/DEC_REF"
            warnings.append(f"{member.path}: no {keywords} or unknown instrument; left out of {schema.name}'s features")
            continue
        pointed.append(member)
        ra.append(member_ra)
        dec.append(member_dec)
    values = {name: 0.0 for name in schema.names}
    if not pointed:
        warnings.append(f"no member has a usable pointing: {schema.name}'s features are zero")
        return values, warnings
    ra, dec = np.array(ra), np.array(dec)
    scale = np.array([_pixel_scale(m) for m in pointed])
    shapes = np.array([geometry["detector_shape"].get(m.instrument, (2048, 2048)) for m in pointed], dtype=float)
    centre_ra, centre_dec = _product_centre(ra, dec, scale, shapes)
    offsets = angular_separation_arcsec(ra, dec, centre_ra, centre_dec) / scale
    reference = pointed[int(np.argmin(offsets))]
    values.update(_statistics(offsets))
    # spacekit takes the target of the first member, as listed
    target_ra, target_dec = members[0].targ_ra, members[0].targ_dec
    if math.isfinite(target_ra) and math.isfinite(target_dec):
        target_offsets = angular_separation_arcsec(ra, dec, target_ra, target_dec) / scale
        values.update(_statistics(target_offsets, prefix="targ_"))
    values.update({
        "instr": _text(reference.instrument),
        "detector": spacekit_detector([m.detector for m in pointed if m.detector]),
        "visitype": _text(reference.visit_type),
        "filter": _text(reference.filter),
        "pupil": _text(reference.pupil),
        "grating": _text(reference.grating),
        "channel": _text(reference.channel),
        "subarray": _subarray(reference.subarray),
        "band": spacekit_band([m.band for m in pointed]),
        "bkgdtarg": reference.background_target,
        "nexposur": len(pointed),
        "numdthpt": reference.n_dither_points or 0,
        "offset": float(offsets.min()),
    })
    return {name: values[name] for name in schema.names}, warnings
