"""Features of one Level-3 product from its members' metadata.

The one implementation used by the step, folder mode, ingest, profiling and
training: ``product_features`` returns raw values keyed by schema name, and
``FeatureSchema.encode`` turns them into the model's vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from jwst_memest.features.geometry import mean_pointing, mosaic_shape, offset_statistics, stray_members, tangent_plane
from jwst_memest.features.schema import feature_set_for, load_feature_set, load_schema
from jwst_memest.instruments import BYTES_PER_PIXEL_CAL
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.pipelines import PIPELINES, normalize
from jwst_memest.settings import RunSettings
from jwst_memest.wfss_products import wfss_products_bytes

__all__ = ["ProductFeatures", "product_features", "cube_pixels", "BYTES_PER_PIXEL_CAL"]

_INTS_LEVELS = {"rateints", "calints"}

# No JWST Level-3 mosaic spans this much sky; a grid this wide comes from a broken WCS or pointing
# (jwst #5081, #5638, #6154 tried to allocate terabytes). The estimate stays what the pipeline would
# try to allocate, and says so.
IMPLAUSIBLE_GRID_DEG = 1.5
IMPLAUSIBLE_GRID_FLAG = "implausible_output_grid"


@dataclass
class ProductFeatures:
    """Raw feature values of a product plus what went into them.

    ``values`` are those of ``feature_set`` (the pipeline's own unless asked otherwise); the
    members are kept so that a model trained on another feature set gets its vector too.

    Parameters
    ----------
    pipeline : str
        The Level-3 pipeline key.
    values : dict
        Raw values by feature name.
    n_members : int
        The members counted.
    warnings : list of str, optional
        Warnings computing them gave.
    feature_set : str, optional
        The feature set of ``values`` (default: the pipeline's own).
    members : tuple of jwst_memest.metadata.ExposureMetadata, optional
        The members' metadata.
    settings : jwst_memest.settings.RunSettings, optional
        The run's settings these features assume.
    flags : list of str, optional
        Machine-readable findings, e.g. an implausible output grid.
    output_area_ratio : float, optional
        Output pixels per member pixel of the same sky (the output grid's scale).
    psf_input_bytes : float, optional
        ``member_bytes`` of the PSF references among the members (coron3, ami3).
    outlier_grid_pixels : float, optional
        outlier_detection's grid: the mosaic at the members' scale.
    slit_tree_bytes : float, optional
        Serialized tree bytes per slit of the multi-slit members (their ASDF extension over their
        slits, the largest member's); NaN when none says.
    wfss_products_bytes : float, optional
        Bytes calwebb_spec3 adds after its per-source loop to build and write a WFSS product's x1d
        and c1d, from its members' cutouts (`jwst_memest.wfss_products.wfss_products_bytes`); NaN
        when no member lists them.
    """

    pipeline: str
    values: dict
    n_members: int
    warnings: list[str] = field(default_factory=list)
    feature_set: str = ""
    members: tuple[ExposureMetadata, ...] = ()
    settings: RunSettings = field(default_factory=RunSettings)  # the run's settings these features assume
    flags: list[str] = field(default_factory=list)  # machine-readable findings, e.g. an implausible output grid
    output_area_ratio: float = 1.0  # output pixels per member pixel of the same sky (the output grid's scale)
    psf_input_bytes: float = 0.0  # member_bytes of the PSF references among the members (coron3, ami3)
    outlier_grid_pixels: float = math.nan  # outlier_detection's grid: the mosaic at the members' scale
    slit_tree_bytes: float = math.nan  # serialized tree bytes per slit of the multi-slit members
    wfss_products_bytes: float = math.nan  # a WFSS product's final x1d and c1d, from its members' cutouts

    def __post_init__(self):
        self.feature_set = self.feature_set or feature_set_for(self.pipeline)

    def vector(self, feature_set: str | None = None) -> np.ndarray:
        """The encoded vector of these values, or of the same members' features of another feature set.

        Parameters
        ----------
        feature_set : str or None, optional
            The feature set wanted (default: ``feature_set``).

        Returns
        -------
        numpy.ndarray
            The encoded vector.

        Raises
        ------
        ValueError
            When another feature set is asked for and the members were not kept.
        """
        if feature_set is None or feature_set == self.feature_set:
            return load_feature_set(self.feature_set).encode(self.values)
        if not self.members:
            raise ValueError(f"features of {self.feature_set} cannot give {feature_set}'s without their members")
        other = product_features(self.members, self.pipeline, self.settings.in_memory, feature_set,
                                 settings=self.settings)
        return other.vector()

    def unknown_categories(self) -> list[str]:
        """The category values the feature set does not know (placeholders such as N/A left out).

        Returns
        -------
        list of str
            ``name=value`` of each.
        """
        schema = load_feature_set(self.feature_set)
        found = []
        for spec in schema.features:
            value = self.values.get(spec.name)
            if spec.kind == "category" and value not in (None, "N/A", "NONE", "ANY") and not spec.is_known(value):
                found.append(f"{spec.name}={value}")
        return found


def _subarray_group(value: str | None) -> str | None:
    if value is None:
        return None
    for prefix in ("FULL", "SUB", "MASK", "WFSS"):
        if value.startswith(prefix):
            return prefix
    return "OTHER"


def _detector_layout(members: Sequence[ExposureMetadata]) -> str:
    detectors = {m.detector for m in members if m.detector}
    if len(detectors) <= 1:
        return "SINGLE"
    modules = {m.module or (d[3] if d.startswith("NRC") and len(d) > 3 else d) for m, d in
               ((m, m.detector) for m in members if m.detector)}
    return "MODULE" if len(modules) == 1 else "MULTIPLE_MODULES"


def _common(members, attribute) -> str | None:
    """The members' shared value, or MULTIPLE when they differ."""
    values = {getattr(m, attribute) for m in members if getattr(m, attribute) is not None}
    if not values:
        return None
    return values.pop() if len(values) == 1 else "MULTIPLE"


def _channel(members) -> str | None:
    """The members' channel; MIRI MRS channels of several detectors join as one (12 + 34 -> 1234)."""
    values = {m.channel for m in members if m.channel is not None}
    if len(values) > 1 and all(v.isdigit() for v in values):
        return "".join(sorted(set("".join(values))))
    return _common(members, "channel")


def cube_pixels(members, exp_type: str | None, offset_max_pixels: float) -> float:
    """Voxels of the IFU cubes cube_build makes from these members (0 for other modes).

    Spatially: the field of view plus the dither extent, over the cube's spaxel size; spectrally:
    the wavelength range recorded, over the cube's spectral step. MIRI MRS makes one cube per
    channel and band; NIRSpec one per grating, over the detectors' combined range.

    Parameters
    ----------
    members : sequence of jwst_memest.metadata.ExposureMetadata
        The product's members.
    exp_type : str or None
        The product's EXP_TYPE (``NRS_IFU``, ``MIR_MRS``, or another).
    offset_max_pixels : float
        The largest member offset from the product's centre, pixels.

    Returns
    -------
    float
        The voxels.
    """
    from jwst_memest.instruments import (MRS_CHANNELS, MRS_CUBE_SAMPLING, MRS_WAVELENGTHS, NIRSPEC_CUBE_STEP,
                                         NIRSPEC_IFU_FIELD, NIRSPEC_SPAXEL, nirspec_wavelengths)

    scale = min((m.pixel_scale for m in members if math.isfinite(m.pixel_scale)), default=0.1)
    extent = 2.0 * (offset_max_pixels if math.isfinite(offset_max_pixels or math.nan) else 0.0) * scale  # arcsec
    if exp_type == "NRS_IFU":
        grating = _common(members, "grating")
        ranges = [nirspec_wavelengths(grating, m.detector or "NRS1") for m in members]
        planes = (max(r[1] for r in ranges) - min(r[0] for r in ranges)) / NIRSPEC_CUBE_STEP.get(grating, 0.0017)
        spaxels = ((NIRSPEC_IFU_FIELD[0] + extent) / NIRSPEC_SPAXEL) * ((NIRSPEC_IFU_FIELD[1] + extent) / NIRSPEC_SPAXEL)
        return float(spaxels * planes)
    if exp_type == "MIR_MRS":
        bands = {(channel, m.band or "SHORT") for m in members for channel in (m.channel or "")
                 if channel in MRS_CHANNELS}
        total = 0.0
        for channel, band in bands:
            _, n_slices, _, along, across = MRS_CHANNELS[channel]
            spaxel, step = MRS_CUBE_SAMPLING[channel]
            first, last = MRS_WAVELENGTHS.get(channel + band, MRS_WAVELENGTHS[channel + "SHORT"])
            total += ((along + extent) / spaxel) * ((n_slices * across + extent) / spaxel) * ((last - first) / step)
        return float(total)
    return 0.0


def _max_int(members, attribute) -> int:
    values = [getattr(m, attribute) for m in members if getattr(m, attribute) is not None]
    return int(max(values)) if values else 0


def _geometry(members, warnings, settings: RunSettings, flags: list[str]) -> dict:
    pointed = [m for m in members if m.has_pointing]
    for m in members:
        if not m.has_pointing:
            warnings.append(f"{m.path}: no usable pointing; left out of the offset statistics")
    stats = {}
    stats.update(offset_statistics(np.array([]), "offset"))
    stats.update(offset_statistics(np.array([]), "target_offset"))
    if not pointed:
        largest = max(members, key=lambda m: m.pixels)
        scale = largest.pixel_scale if math.isfinite(largest.pixel_scale) else settings.pixel_scale or 1.0
        stats["output_area_ratio"] = settings.area_ratio(scale)
        stats["output_pixels"] = float(largest.pixels) * stats["output_area_ratio"]
        if settings.output_shape:
            stats["output_pixels"] = float(settings.output_shape[0] * settings.output_shape[1])
        return stats
    ra = np.array([m.ra_ref for m in pointed])
    dec = np.array([m.dec_ref for m in pointed])
    scale = np.array([m.pixel_scale for m in pointed])
    ra0, dec0 = mean_pointing(ra, dec)
    xi, eta = tangent_plane(ra, dec, ra0, dec0)
    stats.update(offset_statistics(np.hypot(xi, eta) / scale, "offset"))
    targets = [(m.targ_ra, m.targ_dec) for m in pointed if math.isfinite(m.targ_ra) and math.isfinite(m.targ_dec)]
    if targets:
        tra, tdec = targets[0]
        txi, teta = tangent_plane(ra, dec, tra, tdec)
        stats.update(offset_statistics(np.hypot(txi, teta) / scale, "target_offset"))
    output_scale = settings.output_scale(float(scale.min()))
    stats["output_area_ratio"] = settings.area_ratio(float(scale.min()))
    width, height = mosaic_shape(
        xi, eta, [m.roll_ref for m in pointed],
        [m.ncols for m in pointed], [m.nrows for m in pointed], scale,
        output_scale=output_scale,
    )
    mosaic = width * height
    _check_grid(pointed, width, height, output_scale, warnings, flags)
    native = (width, height) if output_scale == float(scale.min()) else mosaic_shape(
        xi, eta, [m.roll_ref for m in pointed], [m.ncols for m in pointed], [m.nrows for m in pointed], scale,
        output_scale=float(scale.min()))
    stats["outlier_grid_pixels"] = max(native[0] * native[1], float(max(m.pixels for m in pointed)))
    # the mosaic holds every member's footprint: never fewer pixels than the largest member (at the
    # output scale), even when nonsense pointing or pixel-area keywords collapse the footprints numerically
    largest = max(m.pixels * (m.pixel_scale / output_scale) ** 2 if math.isfinite(m.pixel_scale) else m.pixels
                  for m in pointed)
    stats["output_pixels"] = max(mosaic, float(largest))
    if settings.output_shape:  # resample's grid is then the user's, whatever the footprints
        stats["output_pixels"] = float(settings.output_shape[0] * settings.output_shape[1])
    return stats


def _check_grid(pointed, width, height, output_scale, warnings, flags) -> None:
    """One warning and a flag when the members' footprints span more sky than any real mosaic."""
    across_deg = max(width, height) * output_scale / 3600.0
    if across_deg <= IMPLAUSIBLE_GRID_DEG:
        return
    stray, distance = stray_members([m.ra_ref for m in pointed], [m.dec_ref for m in pointed], IMPLAUSIBLE_GRID_DEG / 2)
    named = ", ".join(f"{Path(pointed[i].path).name} ({distance[i]:.2f} deg)"
                      for i in stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
    who = f"members far from the others' median pointing: {named}" if len(stray) else \
        "the members' pointings spread evenly: no single member stands out"
    warnings.append(f"implausible output grid {width:.0f} x {height:.0f} pixels ({across_deg:.1f} deg across, "
                    f"{width * height:.3g} pixels): no JWST mosaic spans more than {IMPLAUSIBLE_GRID_DEG:g} deg; "
                    f"a broken WCS or pointing? {who}; the estimate is what resample would try to allocate")
    flags.append(IMPLAUSIBLE_GRID_FLAG)


def product_features(
    members: Sequence[ExposureMetadata], pipeline: str = "image3", in_memory: bool = True,
    feature_set: str | None = None, *, settings: RunSettings | None = None,
) -> ProductFeatures:
    """Raw feature values of one product from its science members' metadata.

    Parameters
    ----------
    members : sequence of jwst_memest.metadata.ExposureMetadata
        The product's science members.
    pipeline : str, optional
        The Level-3 pipeline.
    in_memory : bool, optional
        ``in_memory`` of the run; ignored when ``settings`` is given.
    feature_set : str or None, optional
        Default: the pipeline's own; ``spacekit_image`` and ``spacekit_spec`` give spacekit's
        features of the same members.
    settings : jwst_memest.settings.RunSettings or None, optional
        The run's settings that change memory (the output grid follows resample's pixel scale and
        shape).

    Returns
    -------
    ProductFeatures
        The values (schema names only), warnings and flags.

    Raises
    ------
    ValueError
        When there are no members, or the feature set does not describe the pipeline's products.
    """
    if not members:
        raise ValueError("a product needs at least one member to estimate")
    settings = RunSettings(in_memory=in_memory) if settings is None else settings
    in_memory = settings.in_memory
    level3 = normalize(pipeline)
    if feature_set is not None and feature_set != feature_set_for(level3):
        return _other_features(members, level3, feature_set)
    schema = load_schema(pipeline)
    warnings: list[str] = [w for m in members for w in m.warnings]
    ints = PIPELINES[level3].per_integration or any(m.level in _INTS_LEVELS for m in members)
    member_bytes = [
        BYTES_PER_PIXEL_CAL * m.science_pixels * (max(m.n_integrations, 1) if ints else 1) for m in members
    ]
    values = {
        "instrument": _common(members, "instrument"),
        "detector": _detector_layout(members),
        "exp_type": _common(members, "exp_type"),
        "visit_type": _common(members, "visit_type"),
        "filter": _common(members, "filter"),
        "pupil": _common(members, "pupil"),
        "grating": _common(members, "grating"),
        "channel": _channel(members),
        "band": _common(members, "band"),
        "subarray": _subarray_group(_common(members, "subarray")),
        "background_target": any(m.background_target for m in members),
        "in_memory": bool(in_memory),
        "n_members": len(members),
        "n_exposures": _max_int(members, "n_exposures") or len({m.exposure_id for m in members}),
        "n_dither_points": _max_int(members, "n_dither_points"),
        "n_detectors": len({m.detector for m in members if m.detector}) or 1,
        "n_exposure_groups": len({m.exposure_id for m in members}),
        "member_pixels": float(max(m.pixels for m in members)),
        "n_integrations": _max_int(members, "n_integrations") or 1,
        "n_groups": _max_int(members, "n_groups"),
        "member_bytes": float(max(member_bytes)),
        "total_input_bytes": float(sum(member_bytes)),
        "n_slits": max(m.n_slits for m in members),
    }
    flags: list[str] = []
    geometry = _geometry(members, warnings, settings, flags)
    area_ratio = geometry.pop("output_area_ratio", 1.0)
    outlier_grid = geometry.pop("outlier_grid_pixels", math.nan)
    values.update(geometry)
    values["cube_pixels"] = cube_pixels(members, values["exp_type"], values["offset_max"])
    features = ProductFeatures(pipeline=level3, values=values, n_members=len(members), warnings=warnings,
                               members=tuple(members), settings=settings, flags=flags,
                               output_area_ratio=area_ratio,
                               psf_input_bytes=float(sum(b for m, b in zip(members, member_bytes) if m.is_psf)),
                               outlier_grid_pixels=outlier_grid, slit_tree_bytes=_slit_tree_bytes(members),
                               wfss_products_bytes=_wfss_products_bytes(members))
    for unknown in features.unknown_categories():
        features.warnings.append(f"unknown category {unknown}; encoded as unknown")
    # keep only schema names plus nothing else: one source of truth
    features.values = {name: values.get(name) for name in schema.names}
    return features


def _other_features(members: Sequence[ExposureMetadata], level3: str, feature_set: str) -> ProductFeatures:
    """Features of a set other than the pipeline's own (spacekit's)."""
    from jwst_memest.features.spacekit import spacekit_values

    schema = load_feature_set(feature_set)
    if not feature_set.startswith("spacekit_"):
        raise ValueError(f"feature set {feature_set!r} does not describe {level3} products")
    values, warnings = spacekit_values(members, schema)
    features = ProductFeatures(pipeline=level3, values=values, n_members=len(members),
                               warnings=[w for m in members for w in m.warnings] + warnings,
                               feature_set=feature_set, members=tuple(members))
    for unknown in features.unknown_categories():
        features.warnings.append(f"unknown category {unknown}; encoded as spacekit encodes a value it has not seen")
    return features


def _slit_tree_bytes(members) -> float:
    """Serialized tree bytes per slit of the multi-slit members (the largest member's), NaN when none
    records its ASDF extension."""
    per_slit = [m.tree_bytes / m.n_slits for m in members if m.tree_bytes and m.n_slits]
    return float(max(per_slit)) if per_slit else math.nan


def _wfss_products_bytes(members) -> float:
    """What building and writing a WFSS product's x1d and c1d adds, NaN when no member lists its cutouts."""
    if not any(m.slit_spectra for m in members):
        return math.nan
    return wfss_products_bytes([(m.exposure_id, m.slit_spectra) for m in members])
