"""The stages before Level 3 for one exposure, from one header: calwebb_detector1, then Level 2.

An uncal file is sized for calwebb_detector1 and then for the Level-2 run of its rate (rateints
for a time series); a rate or rateints file for its Level-2 run only. calwebb_image2 is estimated
for the imaging types it calibrates, calwebb_spec2 for MIRI LRS (slitless time series and fixed
slit), MIRI MRS, NIRISS SOSS and NIRCam and NIRISS WFSS, wfss_contam included (the spectroscopic
modes measured here) and, by their count alone, uncalibrated, for NIRSpec and NIRCam's grism time
series; another spectroscopic mode (MIRI WFSS, NIRSpec lamps) is reported as not estimated rather
than given a number nothing supports.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.exposure_estimate import ExposureEstimate, estimate_from_metadata
from jwst_memest.features.build import cube_pixels
from jwst_memest.instruments import full_frame, imaging_pixel_scale
from jwst_memest.metadata import ExposureMetadata
from jwst_memest.model.image2 import ESTIMATED_LEVEL2_EXP_TYPES, WFSS_EXP_TYPES, Image2Inputs, load_image2_baseline
from jwst_memest.dark_reference import cached_reference_planes
from jwst_memest.model.spec2_counts import FLAT_PLANES, UNMEASURED_SPEC2_EXP_TYPES
from jwst_memest.spec2_layout import SlitLayout, nirspec_slit_layout, wfss_slit_layout
from jwst_memest.model.walltime import load_walltime
from jwst_memest.settings import RunSettings
from jwst_memest.speed import machine_speed_factor
from jwst_memest.wfss_landing import exposure_contam_geometry

__all__ = ["estimate_level2_association", "level2_host", "keeps_integrations", "image2_inputs", "estimate_level2", "estimate_reduction", "write_reduction_estimate",
           "LEVEL2_INPUT_LEVELS", "SPEC2_NOT_ESTIMATED", "SOSS_BOX_ARGUMENT"]

# the file levels a Level-2 run can be sized from: the raw ramp (before detector1) and its slopes
LEVEL2_INPUT_LEVELS = ("uncal", "rate", "rateints")
SPEC2_NOT_ESTIMATED = ("calwebb_spec2: not estimated (measured: MIRI LRS, slitless and fixed slit, MIRI MRS, "
                       "NIRISS SOSS, NIRCam and NIRISS WFSS; counted, uncalibrated: NIRSpec fixed slit, MOS, IFU and BOTS, NIRCam grism time "
                       "series)")
# NIRISS SOSS extracted in a box instead of by ATOCA: the memory-saving setting of calwebb_spec2
SOSS_BOX_ARGUMENT = "--steps.extract_1d.soss_atoca=false"
# time series whose slopes stay per integration (rateints) into Level 2, whatever TSOVISIT says
_TSO_TYPES = ("NRC_TSIMAGE", "NRC_TSGRISM", "NRS_BRIGHTOBJ", "NIS_SOSS", "MIR_LRS-SLITLESS")


def level2_host(host):
    """The calwebb_image2 or calwebb_spec2 pipeline a hook runs in (its host, or the host's parents), if any.

    Parameters
    ----------
    host : stpipe.step.Step or None
        The hook's parent: the pipeline (a pipeline's pre-hook) or one of its steps.

    Returns
    -------
    stpipe.pipeline.Pipeline or None
        jwst's Image2Pipeline or Spec2Pipeline (or a subclass), else None.
    """
    while host is not None:
        if any(cls.__name__ in ("Image2Pipeline", "Spec2Pipeline") for cls in type(host).__mro__):
            return host
        host = getattr(host, "parent", None)
    return None


def keeps_integrations(meta: ExposureMetadata) -> bool:
    """Whether the exposure's Level-2 input is per integration (rateints), not one slope image (rate).

    Parameters
    ----------
    meta : ExposureMetadata
        An uncal, rate or rateints header.

    Returns
    -------
    bool
        True for a rateints file, and for a time series' uncal.
    """
    if meta.level == "rateints":
        return True
    if meta.level == "rate":
        return False
    return meta.tso_visit or (meta.exp_type or "").upper() in _TSO_TYPES


def image2_inputs(meta: ExposureMetadata, settings: RunSettings | None = None, search_path=(),
                  background_exposures: int = 0, cutouts: SlitLayout | None = None,
                  source_catalog: str | Path | None = None, contam_geometry=None) -> Image2Inputs:
    """The image2 model's inputs of one exposure.

    Parameters
    ----------
    meta : ExposureMetadata
        An uncal, rate or rateints header.
    settings : RunSettings or None, optional
        The image2 run's settings (resample's grid and switches).
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for a MOS exposure's MSA metadata file in.
    background_exposures : int, optional
        Background members of the exposure's Level-2 association (bkg_subtract runs on them).
    cutouts : SlitLayout or None, optional
        A WFSS exposure's cutouts when already counted (a corpus row); else they are counted from its
        source catalog.
    source_catalog : str or pathlib.Path or None, optional
        A WFSS exposure's catalog (a Level-2 association's ``sourcecat``), instead of SCATFILE's.
    contam_geometry : jwst_memest.wfss_landing.ContamGeometry or None, optional
        A WFSS exposure's trace geometry when already known (a corpus row); else, with wfss_contam
        on, computed from the grism references a local CRDS cache selects, when it holds them.

    Returns
    -------
    Image2Inputs
        The inputs.

    Raises
    ------
    ValueError
        The header has no science shape, or a MOS exposure's MSA metadata file or a WFSS exposure's
        source catalog cannot be read.
    """
    settings = settings or RunSettings()
    if not meta.ncols or not meta.nrows:
        raise ValueError(f"{meta.path}: no science array shape in the header")
    columns, rows = full_frame(meta.detector)
    scale = meta.pixel_scale if meta.pixel_scale == meta.pixel_scale else imaging_pixel_scale(meta.detector)
    output_pixels = settings.output_shape[0] * settings.output_shape[1] if settings.output_shape else None
    exp_type = (meta.exp_type or "").upper()
    # calwebb_spec2 builds an IFU exposure into its cubes: one per channel and band it covers
    voxels = cube_pixels([meta], exp_type, 0.0) if exp_type in ("MIR_MRS", "NRS_IFU") else 0.0
    if exp_type in ("NRS_FIXEDSLIT", "NRS_MSASPEC"):
        slits = nirspec_slit_layout(meta, search_path)
    elif exp_type in WFSS_EXP_TYPES:
        slits = cutouts or wfss_slit_layout(meta, search_path, nbright=settings.wfss_nbright,
                                            mmag_extract=settings.wfss_mmag_extract, catalog=source_catalog)
    else:
        slits = SlitLayout(0.0, 0.0, 0.0, 0, "")
    planes = nirspec_flat_planes(meta) if exp_type in UNMEASURED_SPEC2_EXP_TYPES and exp_type.startswith("NRS") else None
    if (contam_geometry is None and exp_type in WFSS_EXP_TYPES and cutouts is None
            and not getattr(settings, "skip_wfss_contam", True)):
        contam_geometry = exposure_contam_geometry(meta, _grism_overrides(settings), search_path,
                                                   source_catalog)[0]
    return Image2Inputs(instrument=(meta.instrument or "NIRCAM").upper(), exp_type=(meta.exp_type or "").upper(),
                        ny=meta.nrows, nx=meta.ncols,
                        nints=meta.n_integrations if keeps_integrations(meta) else 1,
                        full_frame_pixels=columns * rows, settings=settings,
                        output_area_ratio=settings.area_ratio(scale), output_pixels=output_pixels,
                        cube_voxels=voxels, slit_pixels=slits.slit_pixels,
                        largest_slit_pixels=slits.largest_slit_pixels, cutouts=slits.slits,
                        segment_pixels=slits.segment_pixels,
                        dispersed_pixels=slits.dispersed_pixels, filter=meta.filter, pupil=meta.pupil,
                        background_slit_pixels=slits.background_slit_pixels,
                        background_exposures=int(background_exposures) if exp_type in UNMEASURED_SPEC2_EXP_TYPES else 0,
                        flat_planes=planes or FLAT_PLANES, flat_planes_known=planes is not None,
                        contam_geometry=contam_geometry)


def _grism_overrides(settings: RunSettings) -> dict | None:
    """The grism WCS's references the run is pointed at (assign_wcs's ``override_<reftype>``), when
    its DISTORTION, SPECWCS and WAVELENGTHRANGE all are (a FILTEROFFSET not given is taken as none:
    an offset of a few pixels); else None, and a local CRDS cache is asked."""
    given = {"distortion": settings.wfss_distortion, "specwcs": settings.wfss_specwcs,
             "wavelengthrange": settings.wfss_wavelengthrange}
    if not all(path and path.upper() != "N/A" for path in given.values()):
        return None
    return {**given, "filteroffset": settings.wfss_filteroffset or "N/A"}


def nirspec_flat_planes(meta: ExposureMetadata) -> int | None:
    """The wavelength planes of the NIRSpec flats CRDS selects for the exposure, when a local cache holds them.

    Parameters
    ----------
    meta : ExposureMetadata
        A NIRSpec rate, rateints or uncal header.

    Returns
    -------
    int or None
        The most planes of its DFLAT (and MOS SFLAT); None unless every one is in the cache.
    """
    reftypes = ("dflat", "sflat") if (meta.exp_type or "").upper() == "NRS_MSASPEC" else ("dflat",)
    if not Path(str(meta.path)).is_file():  # a hook's open model: no header file to select from
        return None
    found = [cached_reference_planes(meta.path, reftype) for reftype in reftypes]
    planes = [lookup.frames for lookup in found if lookup is not None and lookup.frames]
    return max(planes) if len(planes) == len(reftypes) else None


def estimate_level2(meta: ExposureMetadata, settings: RunSettings | None = None,
                    quantile: float = 0.95, search_path=(), background_exposures: int = 0,
                    source_catalog: str | Path | None = None) -> ExposureEstimate:
    """calwebb_image2's estimate of one imaging exposure.

    Parameters
    ----------
    meta : ExposureMetadata
        An uncal, rate or rateints header of an imaging type.
    settings : RunSettings or None, optional
        The image2 run's settings.
    quantile : float, optional
        The upper bound's quantile.
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for a MOS exposure's MSA metadata file in.
    background_exposures : int, optional
        Background members of its Level-2 association.
    source_catalog : str or pathlib.Path or None, optional
        A WFSS exposure's source catalog from its Level-2 association (else SCATFILE's).

    Returns
    -------
    ExposureEstimate
        The estimate (``pipeline`` calwebb_image2 or calwebb_spec2).

    Raises
    ------
    ValueError
        Not an imaging exposure, no shape, or no image2 model installed.
    """
    if (meta.exp_type or "").upper() not in ESTIMATED_LEVEL2_EXP_TYPES:
        raise ValueError(f"{meta.path}: {meta.exp_type}: {SPEC2_NOT_ESTIMATED}")
    model = load_image2_baseline()
    if model is None:
        raise ValueError("no calwebb_image2 model is installed")
    inputs = image2_inputs(meta, settings, search_path, background_exposures, source_catalog=source_catalog)
    result = model.estimate(inputs, quantile)
    timing = load_walltime(inputs.pipeline)
    speed = machine_speed_factor() if timing is not None else 1.0
    wall, wall_upper = _wall_times(timing, inputs, quantile, speed)
    alternatives = []
    for arguments, changed in _lighter_settings(inputs):
        lighter = dataclasses.replace(inputs, settings=dataclasses.replace(inputs.settings or RunSettings(), **changed))
        smaller = model.estimate(lighter, quantile)
        if smaller["upper_gb"] < result["upper_gb"]:
            lighter_wall, lighter_wall_upper = _wall_times(timing, lighter, quantile, speed)
            alternatives.append({"arguments": arguments, "gbSize": round(smaller["gb"], 4),
                                 "upper_bound_gb": round(smaller["upper_gb"], 4),
                                 **({} if lighter_wall is None else {"wall_time_s": round(lighter_wall, 1),
                                                                     "wall_time_upper_s": math.ceil(lighter_wall_upper)})})
    return ExposureEstimate(path=str(meta.path), gb=result["gb"], upper_gb=result["upper_gb"],
                            peak_step=result["peak_step"], breakdown=result["breakdown"],
                            calibrated=result["calibrated"], reasons=result["reasons"], inputs=inputs.to_dict(),
                            model=f"{model.name} {model.version}", pipeline=inputs.pipeline,
                            wall_time_s=wall, wall_time_upper_s=wall_upper, speed_factor=speed,
                            alternatives=alternatives)


def _lighter_settings(inputs: Image2Inputs) -> list[tuple[list[str], dict]]:
    """Settings that lower the exposure's memory: (their arguments, the RunSettings fields they change).

    A box extraction holds no ATOCA model (gigabytes less for a short series); wfss_contam in one
    process spawns no worker and disperses one chunk at a time, and half the chunk halves the
    dispersion's arrays.
    """
    lighter = []
    if inputs.atoca:
        lighter.append(([SOSS_BOX_ARGUMENT], {"soss_atoca": False}))
    if inputs.contam:
        if inputs.contam_processes()[1]:
            lighter.append((["--steps.wfss_contam.maximum_cores=none"], {"wfss_contam_maximum_cores": "none"}))
        half = int(inputs.settings.wfss_contam_max_pixels) // 2
        if half >= 1 and inputs.segment_pixels > half:
            lighter.append(([f"--steps.wfss_contam.max_pixels_per_chunk={half}"], {"wfss_contam_max_pixels": half}))
    return lighter


def _wall_times(timing, inputs: Image2Inputs, quantile: float, speed: float) -> tuple[float | None, float | None]:
    if timing is None or not inputs.measured:  # no time for a type no run timed
        return None, None
    seconds, upper = timing.estimate([inputs], quantile, speed)
    return float(seconds[0]), float(upper[0])


def estimate_reduction(meta: ExposureMetadata, settings: RunSettings | None = None, quantile: float = 0.95,
                       cpus: int | None = None, dark_frames: int | None = None, search_path=(),
                       background_exposures: int = 0,
                       source_catalog: str | Path | None = None) -> tuple[list[ExposureEstimate], list[str]]:
    """Every stage before Level 3 that runs from this file, and what is not estimated.

    Parameters
    ----------
    meta : ExposureMetadata
        An uncal, rate or rateints header.
    settings : RunSettings or None, optional
        The runs' settings (detector1's ``maximum_cores``, image2's resample).
    quantile : float, optional
        The upper bounds' quantile.
    cpus : int or None, optional
        Cores of the machine detector1 runs on.
    dark_frames : int or None, optional
        Frames of detector1's dark reference, when known.
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for a MOS exposure's MSA metadata file in.
    background_exposures : int, optional
        Background members of its Level-2 association (calwebb_spec2's bkg_subtract).
    source_catalog : str or pathlib.Path or None, optional
        A WFSS exposure's source catalog from its Level-2 association (else SCATFILE's).

    Returns
    -------
    estimates : list of ExposureEstimate
        calwebb_detector1 (from an uncal file), then calwebb_image2 (imaging).
    not_estimated : list of str
        One line per stage that runs but is not estimated.

    Raises
    ------
    ValueError
        The file is not an uncal, rate or rateints file, or its header cannot be used.
    """
    if meta.level not in LEVEL2_INPUT_LEVELS:
        raise ValueError(f"{meta.path}: a {meta.level} file; the stages before Level 3 are sized from an uncal, "
                         "rate or rateints file")
    estimates, not_estimated = [], []
    if meta.level == "uncal":
        estimates.append(estimate_from_metadata(meta, settings, quantile, cpus, dark_frames))
    if (meta.exp_type or "").upper() in ESTIMATED_LEVEL2_EXP_TYPES:
        try:
            estimates.append(estimate_level2(meta, settings, quantile, search_path, background_exposures,
                                             source_catalog))
        except ValueError as error:  # a MOS exposure's MSA metadata file, a WFSS one's catalog, not at hand
            not_estimated.append(f"calwebb_spec2: not estimated: {error}")
    else:
        not_estimated.append(SPEC2_NOT_ESTIMATED)
    return estimates, not_estimated


def write_reduction_estimate(path, estimates: list[ExposureEstimate], not_estimated: list[str],
                             output_dir=".") -> Path:
    """Write an exposure's stage estimates as ``<exposure stem>_memest.json`` in ``output_dir`` (atomically).

    Parameters
    ----------
    path : str or pathlib.Path
        The exposure's file.
    estimates : list of ExposureEstimate
        Its stages' estimates, in the order they run.
    not_estimated : list of str
        The stages that run but are not estimated.
    output_dir : str or pathlib.Path, optional
        The directory.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    name = Path(path).name
    target = Path(output_dir) / f"{name.rsplit('.', 1)[0]}_memest.json"
    record = {"exposure": name, "stages": [e.annotation() for e in estimates], "not_estimated": list(not_estimated)}
    with atomic_write(target) as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")
    return target


def estimate_level2_association(path, settings: RunSettings | None = None, quantile: float = 0.95,
                                search_path=()) -> tuple[dict, list[ExposureEstimate], dict[str, str]]:
    """Each product (exposure) of a Level-2 association estimated, and the association annotated.

    Parameters
    ----------
    path : str or pathlib.Path
        The Level-2 association.
    settings : RunSettings or None, optional
        The Level-2 run's settings.
    quantile : float, optional
        The upper bounds' quantile.
    search_path : sequence of str or pathlib.Path, optional
        More directories to look for members in.

    Returns
    -------
    annotated : dict
        A copy of the association with ``gbSize`` and ``memory_estimate`` (the stages, what is
        not estimated) in each estimated product, ``memory_estimate: {"status": "failed", ...}``
        in each other.
    estimates : list of ExposureEstimate
        The products' estimates.
    failures : dict of str to str
        Each product not estimated, and why.

    Raises
    ------
    jwst_memest.association.AssociationError
        The file is not a Level-2 association.
    """
    from jwst_memest.association import load_level2_association, product_name, resolve_member
    from jwst_memest.metadata import read_exposure_metadata

    _, raw = load_level2_association(path)
    annotated = json.loads(json.dumps(raw))
    estimates, failures = [], {}
    for index, product in enumerate(annotated["products"]):
        name = product_name(product, index)
        science = [m for m in product.get("members", []) if str(m.get("exptype", "")).lower() == "science"]
        try:
            if not science:
                raise ValueError("no science member")
            member = resolve_member(science[0]["expname"], Path(path).parent, [Path(p) for p in search_path])
            if member is None:
                raise ValueError(f"{science[0]['expname']}: member not found")
            backgrounds = [m for m in product.get("members", [])
                           if str(m.get("exptype", "")).lower() == "background"]
            catalogs = [m for m in product.get("members", []) if str(m.get("exptype", "")).lower() == "sourcecat"]
            catalog = ((resolve_member(catalogs[0]["expname"], Path(path).parent, [Path(p) for p in search_path])
                        or catalogs[0]["expname"]) if catalogs else None)
            stages, not_estimated = estimate_reduction(read_exposure_metadata(member), settings, quantile,
                                                       search_path=[Path(path).parent, *map(Path, search_path)],
                                                       background_exposures=len(backgrounds),
                                                       source_catalog=catalog)
            level2 = [s for s in stages if s.pipeline != "calwebb_detector1"]
            if not level2:
                raise ValueError("; ".join(not_estimated) or "no Level-2 stage estimated")
        except (ValueError, OSError) as exc:
            failures[name] = str(exc)
            product.pop("gbSize", None)
            product["memory_estimate"] = {"status": "failed", "reason": str(exc)}
            continue
        estimates.extend(level2)
        product["gbSize"] = math.ceil(max(s.gb for s in level2) * 1e4) / 1e4  # rounded up: a size, not a guess
        product["memory_estimate"] = {"stages": [s.annotation() for s in level2], "not_estimated": not_estimated}
    return annotated, estimates, failures
