"""Wall-time estimates of the Level-3 pipelines: time as a non-negative sum of work terms.

Each pipeline's time is a constant start-up (imports, reference files, reading the association)
plus what its steps spend time on, each term a count of the work one step does::

    image3, one sum per step, each fitted to that step's recorded time (`term_steps`; N members of
    Npix_in pixels, G exposures, D = N Npix_in / grid the coverage depth, A a pixel's sky area):
             rest:      startup + N + Npix_out                       (imports, opening, the i2d written)
             tweakreg:  [G > 1] (N + N Npix_in + N Npix_in A)         (catalogs of the sources, the fit)
             skymatch:  N + G(G-1)/2 + G(D-1)/2 + N Npix_in (D-1)/2   (footprints, overlapping pairs)
             outlier:   N + N Npix_in + G grid                        (drizzle, blot, the median)
             resample:  N + N Npix_in + enable_err N Npix_in + Npix_out
             catalog:   1 + Npix_out + Npix_out A / ratio             (the mosaic's sources)
             and every step but the catalog: N + N Npix_in more when the members are on disk
    spec3, one sum per step, each fitted to that step's recorded time (N members, s slits or
    sources per member, Npix_in a member's pixels, V voxels; [slit] MOS and fixed slit, [wfss] WFSS):
             rest:      startup + N + input bytes + s + N s + s^2 [slit, wfss]
                                                          (regrouping by source, each source's products
                                                           written from the whole container)
             outlier:   N s + N s^2 [slit] | N [single slit] | Npix_in + N Npix_in [IFU]
             resample:  N s + N s^2 [slit]
             cube:      N Npix_in (MIRI, NIRSpec gratings, NIRSpec PRISM apart) + V [IFU]
             extract:   N s + N s^2 [slit] | N s [wfss] | 1 [single slit] | cubes [IFU]
             replace:   N s + N s^2 [slit, wfss]
             combine:   s + N s [wfss]
             trace:     N s + N s^2 [slit]
    coron3:  startup + per_input_byte * input bytes + klip * (science bytes x PSF bytes / pixels)
                     + per_member_pixel * N * Npix_in (resample)
    ami3:    startup + per_input_byte * input bytes + per_integration * N * NINTS    (ami_analyze)
    tso3, one sum per step (I = N x NINTS integrations, B input bytes):
             rest:      startup + B + I                      (reading, white_light, the tables written)
             outlier:   B + N                                (a median filter through every pixel)
             photometry: I [imaging]
             extract:   I [spectra] | 1 + I + B [NIS_SOSS]    (ATOCA's model, then each integration)

calwebb_detector1 is estimated per exposure from its ramp (`jwst_memest.model.detector1.RampInputs`,
S = NINTS x NGROUPS x rows x columns ramp samples, P_jump and P_fit the processes of jump and
ramp_fit)::

    detector1: startup + per_sample * S_raw                 (the per-group steps, on the raw rows)
                       + per_frame * NINTS * NGROUPS        (steps looping over groups: refpix)
                       + dark_frame_pixel * dark frames * pixels   (reading and averaging the dark)
                       + irs2_sample * S_raw [IRS2]         (IRS2 refpix's per-sample correction)
                       + parallel_sample * S * (1/P_jump + 1/P_fit) / 2    (jump's and ramp_fit's fits)
                       + jump_pixel * NINTS * pixels / P_jump   (jump's per-integration pixel work)
                       + pool_startup * (P_jump [P_jump > 1] + P_fit [P_fit > 1])
                                                            (each worker process started and fed)

calwebb_image2 per exposure (`jwst_memest.model.image2.Image2Inputs`)::

    image2:  startup + per_pixel * NINTS x rows x columns   (flat_field, photom on every integration)
                     + per_integration * NINTS              (a time series' per-integration work)
                     + i2d_pixel * i2d pixels               (resample, when it runs)

calwebb_spec2 per exposure (MIRI LRS and MRS, NIRISS SOSS, WFSS; the same inputs)::

    spec2:   startup + per_pixel * NINTS x rows x columns   (flat_field, photom, pixel_replace on the cube)
                     + per_integration * NINTS              (extract_1d, one integration at a time: most
                                                             of a long time series' run)
                     + resample_pixel * rows x columns [fixed slit]   (resample_spec's s2d of the frame)
                     + ifu_pixel * rows x columns [IFU]     (cube_build's point cloud of the detector)
                     + cube_voxel * voxels [IFU]            (the cubes built and extracted)
                     + atoca + atoca_integration * NINTS [SOSS]   (ATOCA's model of the orders, then
                                                             each integration fitted)
                     + soss_box_integration * NINTS [SOSS, soss_atoca false]  (a box extraction)
                     + wfss_cutout * cutouts [WFSS]         (extract_2d's WCS copy, extract_1d and the
                                                             write of each source's order)
                     + wfss_cutout_niriss * cutouts [NIRISS WFSS]  (its five-order grism WCS)
                     + wfss_cutout_squared * cutouts^2 [WFSS]  (the files written, outside the steps)
                     + wfss_contam_element * segment pixels x samples of every order / processes [WFSS, wfss_contam]
                     + wfss_contam_pool * orders [wfss_contam in several processes]  (a pool spawned per order)

Coefficients (seconds per unit of work on the machine they were measured on) live in
``walltime.yaml`` beside this module, fitted on the measured corpus' ``wall_s`` by
``python -m jwst_memest.profile fit-walltime``, with an upper bound calibrated out of fold
(`jwst_memest.model.upper.UpperBound`). On another machine, times scale by its speed factor
(``jwst-memest calibrate``, `jwst_memest.speed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Callable

import numpy as np
import yaml

from jwst_memest.features.schema import load_schema
from jwst_memest.instruments import (BYTES_PER_PIXEL_CAL, IFU_EXP_TYPES, IMAGING_PIXEL_SCALE, NIRCAM_SW_PIXEL_SCALE,
                                     NOMINAL_PIXEL_SCALE, TSO_IMAGING_EXP_TYPES, WFSS_EXP_TYPES)
from jwst_memest.model.image2 import Image2Inputs
from jwst_memest.model.terms import setting_columns
from jwst_memest.model.upper import UpperBound
from jwst_memest.pipelines import CLASS_ALIAS_PREFIX, feature_set_for, normalize
from jwst_memest.settings import RunSettings

__all__ = ["WALLTIME_TERMS", "DETECTOR1", "IMAGE2", "SPEC2", "EXPOSURE_TERMS", "detector1_work_terms",
           "image2_work_terms", "spec2_work_terms",
           "WallTimeModel", "work_terms",
           "fit_walltime_coefficients", "load_walltime", "walltime_file", "MIN_SECONDS", "estimate_wall_times",
           "forget_installed", "reference_workload_seconds", "term_steps", "STEP_OF_PREFIX"]

# runs slowed by other work on the machine are outliers of a log fit: a residual beyond this
# (log units: ~20 %) counts linearly, not squared
ROBUST_SCALE = 0.2
MIN_SECONDS = 1.0  # no estimate is below a second: the interpreter alone takes that


def _col(X: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    values = np.nan_to_num(np.asarray(X[:, :len(names)], dtype=float))
    return {name: values[:, i] for i, name in enumerate(names)}


def _pixel_area(c, codes) -> np.ndarray:
    """Sky area of one input pixel (arcsec^2) per row, from its instrument and channel (NIRCam SW where unknown)."""
    area = np.full(len(c["instrument"]), NIRCAM_SW_PIXEL_SCALE ** 2)
    for (instrument, channel), value in codes["pixel_area"].items():
        match = c["instrument"] == instrument
        if channel is not None:
            match &= c["channel"] == channel
        area = np.where(match, value, area)
    return area


def _image3_terms(c, s, codes) -> dict[str, np.ndarray]:
    n = c["n_members"]
    npix_in = c["member_pixels"] * np.maximum(c["n_integrations"], 1)
    npix_out = c["output_pixels"]
    ratio = np.where(s["output_area_ratio"] > 0, s["output_area_ratio"], 1.0)
    grid = np.where(np.isfinite(s["outlier_grid_pixels"]), s["outlier_grid_pixels"], npix_out / ratio)
    outlier = 1.0 - s["skip_outlier_detection"]
    catalog = 1.0 - s["skip_source_catalog"]
    on_disk = 1.0 - c["in_memory"]
    in_pixels = n * npix_in
    # the sky the members and the mosaic cover (arcsec^2): the sources tweakreg and source_catalog find
    # grow with it, for a field of a given density, whatever the pixels
    area = _pixel_area(c, codes)
    groups = np.maximum(c["n_exposure_groups"], 1.0)
    # tweakreg aligns exposures: with one exposure (a module's detectors) it stops before its catalogs
    aligned = (groups > 1).astype(float)
    # how many members cover a mosaic pixel on average; skymatch matches the sky of every pair of
    # exposures that overlap, about groups x (depth - 1) / 2 of them (all pairs in a tight dither,
    # neighbours in a mosaic, none in a sparse one)
    depth = in_pixels / np.maximum(grid, 1.0)
    overlap = np.clip(depth - 1.0, 0.0, None)
    overlap_pairs = np.minimum(groups * overlap / 2.0, groups * (groups - 1.0) / 2.0)
    return {
        # the rest of the run: imports, the association, opening the members, saving the products
        "startup": np.ones(len(n)),
        "startup_member": n,
        "startup_output_pixel": npix_out,
        # each step on members kept on disk opens (and, when it changes them, writes) each member
        # tweakreg: a source catalog of every member, then the fit of the catalogs
        "tweakreg_member": aligned * n,
        "tweakreg_member_pixel": aligned * in_pixels,
        "tweakreg_member_sky": aligned * in_pixels * area,
        "tweakreg_on_disk_member": on_disk * n,
        "tweakreg_on_disk_member_pixel": on_disk * in_pixels,
        # skymatch: each member's footprint and sky, each overlapping pair matched over its overlap
        "skymatch_member": n,
        "skymatch_pair": groups * (groups - 1.0) / 2.0,
        "skymatch_overlap_pair": overlap_pairs,
        "skymatch_overlap_pixel": in_pixels * overlap / 2.0,
        "skymatch_on_disk_member": on_disk * n,
        "skymatch_on_disk_member_pixel": on_disk * in_pixels,
        # outlier_detection: every member drizzled to its group's image, the median, each blotted back
        "outlier_member": outlier * n,
        "outlier_member_pixel": outlier * in_pixels,
        "outlier_median_pixel": outlier * groups * grid,
        "outlier_on_disk_member": outlier * on_disk * n,
        "outlier_on_disk_member_pixel": outlier * on_disk * in_pixels,
        # resample: every member drizzled (its variances too), the mosaic finalized
        "resample_member": n,
        "resample_member_pixel": in_pixels,
        "resample_variance_member_pixel": s["enable_err"] * in_pixels,
        "resample_output_pixel": npix_out,
        "resample_on_disk_member": on_disk * n,
        "resample_on_disk_member_pixel": on_disk * in_pixels,
        # source_catalog: segmentation and photometry of the mosaic
        "catalog": catalog,
        "catalog_pixel": catalog * npix_out,
        "catalog_sky": catalog * npix_out * area / ratio,
    }


def _spec3_terms(c, s, codes) -> dict[str, np.ndarray]:
    # each mode runs other steps; a step's work is counted in its mode's units: a slit or source of
    # a member (slits, MOS, WFSS), a detector's and a member's pixels, the cubes and their voxels (IFU)
    n = c["n_members"]
    ifu = np.isin(c["exp_type"], codes["ifu"]).astype(float)
    nirspec_ifu = (c["exp_type"] == codes["nrs_ifu"]).astype(float)
    prism = (c["grating"] == codes["prism"]).astype(float)
    wfss = np.isin(c["exp_type"], codes["wfss"]).astype(float)
    slit = (1.0 - ifu) * (1.0 - wfss) * (c["n_slits"] > 0)
    single = (1.0 - ifu) * (1.0 - wfss) * (c["n_slits"] <= 0)
    slits = np.maximum(c["n_slits"], 0.0)
    member_slits = n * np.where(single > 0, 1.0, slits)  # a single-target slit (MIRI LRS) is one region
    member_pixels = n * c["member_pixels"]
    # cube_build makes a cube per MIRI channel (one band each here) and one per NIRSpec grating
    cubes = ifu * np.maximum(sum(np.where(c["channel"] == code, count, 0.0)
                                 for code, count in codes["mrs_channels"].items()), 1.0)
    sources = (slit + wfss) * slits
    return {
        # the rest of the run: imports, the association, reading the members, regrouping them by
        # source and writing each source's products
        "startup": np.ones(len(n)),
        "startup_member": n,
        "startup_input_byte": c["total_input_bytes"],
        "startup_source": sources,
        "startup_member_source": n * sources,
        "startup_wfss_source_pair": wfss * slits ** 2,  # each source's product written from the whole container
        "startup_slit_pair": slit * slits ** 2,  # likewise each MOS or fixed-slit source's
        # outlier_detection: slit modes drizzle, median and blot each slit of each member; IFU modes
        # filter the detector (a median over the members, then each member flagged)
        "outlier_member_slit": (slit + single) * member_slits,
        "outlier_member_slit_pair": slit * n * slits ** 2,
        "outlier_single_member": single * n,
        "outlier_ifu_pixel": ifu * c["member_pixels"],
        "outlier_ifu_member_pixel": ifu * member_pixels,
        # resample_spec: each slit of each member drizzled to its s2d
        "resample_member_slit": (slit + single) * member_slits,
        "resample_member_slit_pair": slit * n * slits ** 2,
        # cube_build: every pixel of every member mapped into the cubes' voxels (NIRSpec's slices
        # cost per pixel otherwise than MIRI's)
        "cube_member_pixel": ifu * (1.0 - nirspec_ifu) * member_pixels,
        "cube_nirspec_member_pixel": nirspec_ifu * (1.0 - prism) * member_pixels,
        "cube_prism_member_pixel": nirspec_ifu * prism * member_pixels,  # fewer, wider planes
        "cube_voxel": ifu * c["cube_pixels"],
        # extract_1d: each slit or source of each member; each cube
        "extract_member_slit": slit * n * slits,
        "extract_member_slit_pair": slit * n * slits ** 2,
        "extract_member_source": wfss * n * slits,
        "extract_single": single,
        "extract_cube": cubes,
        # pixel_replace on every cutout of every member; combine_1d of each source's spectra
        "replace_member_source": wfss * n * slits,
        "replace_member_source_pair": wfss * n * slits ** 2,
        "replace_slit_member": slit * n * slits,
        "replace_slit_member_pair": slit * n * slits ** 2,
        "combine_source": wfss * slits,
        "combine_member_source": wfss * n * slits,
        # adaptive_trace_model: each slit of a slit mode
        "trace_member_slit": slit * n * slits,
        "trace_member_slit_pair": slit * n * slits ** 2,
    }


KLIP_TRUNCATE = 50  # the klip step's default: KL modes kept


def _coron3_terms(c, s, codes) -> dict[str, np.ndarray]:
    n = c["n_members"]
    total = c["total_input_bytes"]
    psf = np.where(np.isfinite(s["psf_input_bytes"]) & (s["psf_input_bytes"] > 0), s["psf_input_bytes"],
                   np.maximum(total - c["member_bytes"], 0.0))
    pixels = np.maximum(c["member_pixels"], 1.0)
    # calints hold BYTES_PER_PIXEL_CAL per pixel and integration: the integrations of each kind
    science_ints = np.maximum(total - psf, 0.0) / (BYTES_PER_PIXEL_CAL * pixels)
    psf_ints = psf / (BYTES_PER_PIXEL_CAL * pixels)
    # the PSF exposures, as many as the largest member's bytes go into theirs; the rest are science
    psf_members = np.clip(np.rint(psf / np.maximum(c["member_bytes"], 1.0)), 1.0, np.maximum(n - 1.0, 1.0))
    science_members = np.maximum(n - psf_members, 1.0)
    return {
        # the rest of the run: imports, the association, reading the members, saving the products
        "startup": np.ones(len(n)),
        "startup_member": n,
        "startup_input_byte": total,
        # stack_refs: the PSF integrations copied into one cube
        "stack_psf_byte": psf,
        # align_refs: per science exposure, a shift fitted to every PSF integration (a least-squares fit
        # whose every evaluation shifts the image by FFT: a cost per fit and per pixel), then the PSF
        # cube (data and err) shifted
        "align_member": science_members,
        "align_psf": science_members * psf_ints,
        "align_psf_pixel": science_members * psf_ints * pixels,
        # klip: per science integration, the PSF stack copied to float64 and centred, its KL basis
        # (covariance, eigenvectors) and every reference fitted with the first `truncate` modes
        "klip_member": science_members,
        "klip_pair_pixel": science_ints * psf_ints * pixels,
        "klip_basis_pixel": science_ints * psf_ints ** 2 * pixels,
        "klip_modes_pixel": science_ints * psf_ints * np.minimum(psf_ints, KLIP_TRUNCATE) * pixels,
        # outlier_detection and resample: every science integration
        "outlier_member": n,
        "outlier_integration_pixel": science_ints * pixels,
        "resample_member": science_members,
        "resample_integration_pixel": science_ints * pixels,
    }


def _ami3_terms(c, s, codes) -> dict[str, np.ndarray]:
    n = c["n_members"]
    return {
        "startup": np.ones(len(n)),
        "per_input_byte": c["total_input_bytes"],
        "per_integration": n * np.maximum(c["n_integrations"], 1),
    }


def _tso3_terms(c, s, codes) -> dict[str, np.ndarray]:
    n = c["n_members"]
    integrations = n * np.maximum(c["n_integrations"], 1)
    soss = (c["exp_type"] == codes["soss"]).astype(float)
    imaging = np.isin(c["exp_type"], codes["tso_imaging"]).astype(float)
    spectra = (1.0 - soss) * (1.0 - imaging)
    return {
        # the rest: imports, reading the members, white_light and writing the tables, per integration
        "startup": np.ones(len(n)),
        "startup_input_byte": c["total_input_bytes"],
        "startup_integration": integrations,
        # outlier_detection: a median filter through every pixel of every integration
        "outlier_input_byte": c["total_input_bytes"],
        "outlier_member": n,
        # tso_photometry and extract_1d work one integration at a time; ATOCA first models the orders
        "photometry_integration": imaging * integrations,
        "extract_integration": spectra * integrations,
        "extract_soss": soss,
        "extract_soss_integration": soss * integrations,
        "extract_soss_input_byte": soss * c["total_input_bytes"],
    }


def detector1_work_terms(rows) -> dict[str, np.ndarray]:
    """The work terms of calwebb_detector1 runs, one value per exposure.

    Parameters
    ----------
    rows : sequence of jwst_memest.model.detector1.RampInputs
        The exposures' ramps (as `jwst_memest.exposure_estimate.ramp_inputs` makes them).

    Returns
    -------
    dict of str to numpy.ndarray
        Each term's values, in the order the model lists them.
    """
    def column(get):
        return np.array([float(get(r)) for r in rows], dtype=float)

    frames = column(lambda r: r.nints * r.ngroups)
    pixels = column(lambda r: r.ny * r.nx)
    raw_pixels = column(lambda r: (r.raw_rows or r.ny) * r.nx)
    irs2 = column(lambda r: bool(r.raw_rows) and r.raw_rows != r.ny)
    jump = column(lambda r: max(int(r.jump_processes), 1))
    fit = column(lambda r: max(int(r.ramp_fit_processes), 1))
    return {
        "startup": np.ones(len(rows)),
        "per_sample": frames * raw_pixels,
        "per_frame": frames,
        "dark_frame_pixel": column(lambda r: r.dark_frames) * pixels,
        "irs2_sample": irs2 * frames * raw_pixels,
        "parallel_sample": frames * pixels * (1.0 / jump + 1.0 / fit) / 2.0,
        "jump_pixel": column(lambda r: r.nints) * pixels / jump,
        # a pool of one is no pool: jwst runs the step in the main process
        "pool_startup": np.where(jump > 1, jump, 0.0) + np.where(fit > 1, fit, 0.0),
    }


def image2_work_terms(rows) -> dict[str, np.ndarray]:
    """The work terms of calwebb_image2 runs, one value per exposure.

    Parameters
    ----------
    rows : sequence of jwst_memest.model.image2.Image2Inputs or dict
        The exposures' inputs, or their ``to_dict()`` (an estimate's ``inputs``).

    Returns
    -------
    dict of str to numpy.ndarray
        Each term's values, in the order the model lists them.
    """
    def column(name):
        return np.array([float((r.get(name) if isinstance(r, dict) else getattr(r, name)) or 0.0) for r in rows])

    return {"startup": np.ones(len(rows)), "per_pixel": column("science_pixels"),
            "per_integration": np.maximum(column("nints"), 1.0), "i2d_pixel": column("i2d_pixels")}


def spec2_work_terms(rows) -> dict[str, np.ndarray]:
    """The work terms of calwebb_spec2 runs (MIRI LRS and MRS, NIRISS SOSS), one value per exposure.

    Parameters
    ----------
    rows : sequence of jwst_memest.model.image2.Image2Inputs or dict
        The exposures' inputs, or their ``to_dict()`` (an estimate's ``inputs``).

    Returns
    -------
    dict of str to numpy.ndarray
        Each term's values, in the order the model lists them.

    Raises
    ------
    ValueError
        An exposure of a type no run timed (NIRSpec): no time is given rather than one nothing supports.
    """
    def inputs(r):
        if not isinstance(r, dict):
            return r
        # the record keeps what decides whether resample_spec runs; the references' frame does not matter here
        return Image2Inputs(instrument=str(r.get("instrument") or ""), exp_type=str(r.get("exp_type") or ""),
                            ny=int(r.get("ny") or 0), nx=int(r.get("nx") or 0), nints=int(r.get("nints") or 1),
                            full_frame_pixels=0, cube_voxels=float(r.get("cube_voxels") or 0.0),
                            cutouts=int(r.get("cutouts") or 0), slit_pixels=float(r.get("slit_pixels") or 0.0),
                            segment_pixels=float(r.get("segment_pixels") or 0.0), filter=r.get("filter"),
                            pupil=r.get("pupil"),
                            settings=RunSettings(soss_atoca=r.get("soss_atoca", True),
                                                 skip_wfss_contam=not r.get("wfss_contam", False)))

    rows = [inputs(r) for r in rows]
    untimed = sorted({r.exp_type for r in rows if not r.measured})
    if untimed:
        raise ValueError(f"{', '.join(untimed)}: no calwebb_spec2 run of this type is timed")
    return {"startup": np.ones(len(rows)),
            "per_pixel": np.array([float(r.science_pixels) for r in rows]),
            "per_integration": np.array([float(max(r.nints, 1)) for r in rows]),
            "resample_pixel": np.array([float(r.frame_pixels) if r.resampled_spectrum else 0.0 for r in rows]),
            "ifu_pixel": np.array([float(r.frame_pixels) if r.cube_voxels else 0.0 for r in rows]),
            "cube_voxel": np.array([float(r.cube_voxels) for r in rows]),
            "atoca": np.array([1.0 if r.atoca else 0.0 for r in rows]),
            "atoca_integration": np.array([float(max(r.nints, 1)) if r.atoca else 0.0 for r in rows]),
            "soss_box_integration": np.array([float(max(r.nints, 1)) if r.soss_box else 0.0 for r in rows]),
            "wfss_cutout": np.array([float(r.cutouts) if r.wfss else 0.0 for r in rows]),
            # NIRISS's grism WCS, five orders of field-dependent polynomials, evaluated for every cutout
            "wfss_cutout_niriss": np.array([float(r.cutouts) if r.wfss and r.instrument == "NIRISS" else 0.0
                                            for r in rows]),
            # the time outside the steps (the cal and x1d files written, every cutout's WCS with them)
            # grows with the cutouts squared: 56, 180, 627 s at 200, 400, 800 NIRCam cutouts
            "wfss_cutout_squared": np.array([float(r.cutouts) ** 2 if r.wfss else 0.0 for r in rows]),
            "wfss_contam_element": np.array([_contam_elements(r) for r in rows]),
            # with maximum_cores above one, a pool of spawned workers per order, each importing jwst
            "wfss_contam_pool": np.array([_contam_pools(r) for r in rows])}


def _contam_pools(inputs) -> float:
    """wfss_contam's pools of spawned workers: one per order when it runs in more than one process."""
    return float(len(inputs.contam_samples())) if inputs.contam_processes()[1] else 0.0


def _contam_elements(inputs) -> float:
    """wfss_contam's dispersion work: every segment pixel at every sample of every order, shared by its processes."""
    processes = inputs.contam_processes()[0]
    if not processes:
        return 0.0
    return float(inputs.segment_pixels * sum(inputs.contam_samples().values()) / processes)


DETECTOR1 = "detector1"  # the key of calwebb_detector1's model in walltime.yaml
IMAGE2 = "image2"
SPEC2 = "spec2"
# the stages before Level 3, estimated per exposure from their own inputs rather than a feature vector
EXPOSURE_TERMS: dict[str, Callable] = {DETECTOR1: detector1_work_terms, IMAGE2: image2_work_terms,
                                       SPEC2: spec2_work_terms}

WALLTIME_TERMS: dict[str, Callable] = {
    "image3": _image3_terms,
    "spec3": _spec3_terms,
    "coron3": _coron3_terms,
    "ami3": _ami3_terms,
    "tso3": _tso3_terms,
}


# the steps whose times the corpus records (``step_times``), by the prefix of the terms that follow
# each; a term of no step (``startup``) follows the rest of the run
STEP_OF_PREFIX: dict[str, dict[str, str]] = {
    "image3": {"tweakreg": "tweakreg", "skymatch": "skymatch", "outlier": "outlier_detection",
               "resample": "resample", "catalog": "source_catalog"},
    "coron3": {"stack": "stack_refs", "align": "align_refs", "klip": "klip", "outlier": "outlier_detection",
               "resample": "resample"},
    "tso3": {"outlier": "outlier_detection", "photometry": "tso_photometry", "extract": "extract_1d"},
    "spec3": {"outlier": "outlier_detection", "resample": "resample_spec", "cube": "cube_build",
              "extract": "extract_1d", "replace": "pixel_replace", "combine": "combine_1d",
              "trace": "adaptive_trace_model"},
}
# a step time below this is a skipped step (its terms are zero), not a measurement to fit
MIN_STEP_SECONDS = 0.05


def term_steps(pipeline: str, names: list[str]) -> list[str | None]:
    """The step each work term's time is spent in (None: the rest of the run).

    Parameters
    ----------
    pipeline : str
        A pipeline's key or class alias.
    names : list of str
        Its terms (`work_terms`).

    Returns
    -------
    list of str or None
        One step name per term; all None for a pipeline whose terms are not split by step.
    """
    prefixes = STEP_OF_PREFIX.get(_key(pipeline), {})
    return [prefixes.get(name.split("_")[0]) for name in names]


def _encoded(schema, name: str, value: str):
    """A category's code, or None where the feature set has no such feature."""
    try:
        return schema[name].encode(value)
    except (KeyError, ValueError):
        return None


@cache
def _codes(feature_set: str) -> dict:
    schema = load_schema(feature_set)
    exp_type = schema["exp_type"]
    # the sky one pixel sees (arcsec^2) per instrument and channel: a field's sources per pixel follow it
    instrument, channel = schema["instrument"], schema["channel"]
    areas = {(instrument.encode("NIRCAM"), channel.encode("SHORT")): NIRCAM_SW_PIXEL_SCALE ** 2,
             (instrument.encode("NIRCAM"), channel.encode("LONG")): IMAGING_PIXEL_SCALE["NRCALONG"] ** 2,
             (instrument.encode("MIRI"), None): IMAGING_PIXEL_SCALE["MIRIMAGE"] ** 2,
             (instrument.encode("NIRISS"), None): IMAGING_PIXEL_SCALE["NIS"] ** 2,
             (instrument.encode("FGS"), None): NOMINAL_PIXEL_SCALE["GUIDER1"] ** 2}
    return {"pixel_area": areas, "ifu": [exp_type.encode(t) for t in IFU_EXP_TYPES],
            "soss": exp_type.encode("NIS_SOSS"), "nrs_ifu": exp_type.encode("NRS_IFU"),
            "mrs_channels": {channel.encode(name): len(name) for name in channel.categories if name.isdigit()},
            "prism": _encoded(schema, "grating", "PRISM"),
            "wfss": [exp_type.encode(t) for t in WFSS_EXP_TYPES],
            "tso_imaging": [exp_type.encode(t) for t in TSO_IMAGING_EXP_TYPES]}


def _key(pipeline: str) -> str:
    text = str(pipeline).lower().removeprefix(CLASS_ALIAS_PREFIX)
    return text if text in EXPOSURE_TERMS else normalize(pipeline)


def work_terms(X, pipeline: str) -> tuple[list[str], np.ndarray]:
    """The work terms of a pipeline's runs: one column per term, one row per run.

    Parameters
    ----------
    X : numpy.ndarray or sequence
        Level 3: encoded features in the pipeline's feature-set order, with the run-settings columns
        of `jwst_memest.model.terms.with_settings` appended when the settings are not jwst's
        defaults (the physics baseline's input). calwebb_detector1: the exposures' RampInputs;
        calwebb_image2 and calwebb_spec2: their Image2Inputs (or an estimate's ``inputs``).
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.

    Returns
    -------
    names : list of str
        The terms, in column order.
    matrix : numpy.ndarray
        The terms' values (non-negative), shape (runs, terms).
    """
    pipeline = _key(pipeline)
    if pipeline in EXPOSURE_TERMS:
        rows = [X] if hasattr(X, "nints") or isinstance(X, dict) else list(X)
        terms = EXPOSURE_TERMS[pipeline](rows)
        return list(terms), np.clip(np.column_stack(list(terms.values())), 0.0, None)
    feature_set = feature_set_for(pipeline)
    names = load_schema(feature_set).names
    X = np.atleast_2d(np.asarray(X, dtype=float))
    terms = WALLTIME_TERMS[pipeline](_col(X, names), setting_columns(X, len(names)), _codes(feature_set))
    return list(terms), np.clip(np.column_stack([np.asarray(v, float) for v in terms.values()]), 0.0, None)


def _fit_log(A: np.ndarray, y: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Non-negative coefficients of the columns of A fitted to y on the log scale (robust)."""
    from scipy.optimize import least_squares

    # each term in units of its median over the runs where it is non-zero: a well-scaled problem
    scale = np.array([np.median(col[col > 0]) if np.any(col > 0) else 1.0 for col in A.T])
    An = A / scale
    if start is not None:
        x0 = start * scale
    else:
        x0 = np.full(A.shape[1], float(np.median(y)) / A.shape[1])
        x0[0] = float(np.min(y)) * 0.5
    x0 = np.clip(x0, 1e-9, None)

    def residuals(x):
        return np.log(np.maximum(An @ x, 1e-6) / y)

    fitted = least_squares(residuals, x0, bounds=(0.0, np.inf), x_scale="jac", method="trf",
                           loss="soft_l1", f_scale=ROBUST_SCALE)
    return fitted.x / scale


def fit_walltime_coefficients(X: np.ndarray, wall_s: np.ndarray, pipeline: str,
                              start: dict | None = None, step_seconds: dict | None = None) -> dict[str, float]:
    """Non-negative coefficients of the pipeline's work terms fitted to measured wall times.

    Bounded least squares (`scipy.optimize.least_squares`, every coefficient >= 0) on the log of
    estimated / measured time, so that a short run weighs as much as a long one. When the runs'
    step times are given and the pipeline's terms are split by step (`term_steps`), each step's
    terms are fitted to that step's time, and the rest of the run's terms to the wall time left
    over: a term then cannot take time that another step spent.

    Parameters
    ----------
    X : numpy.ndarray
        The runs' baseline input (features and settings columns; detector1, image2, spec2: their inputs).
    wall_s : numpy.ndarray
        Measured wall times, seconds.
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
    start : dict or None, optional
        Starting coefficients (default: a start-up of the fastest run, the rest shared out).
    step_seconds : dict of str to numpy.ndarray or None, optional
        Seconds each step ran, per run (0 for a step the run skipped, NaN for every step of a run
        whose steps were not timed: such runs are left out of a fit by step).

    Returns
    -------
    dict of str to float
        Seconds per unit of each term.

    Raises
    ------
    ValueError
        When fewer runs than terms have a positive wall time.
    """
    names, A = work_terms(X, pipeline)
    wall_s = np.asarray(wall_s, dtype=float)
    steps = term_steps(pipeline, names)
    by_step = step_seconds is not None and any(steps)
    timed = np.ones(len(wall_s), dtype=bool)
    if by_step:
        timed = np.all([np.isfinite(np.asarray(v, float)) for v in step_seconds.values()], axis=0)
        by_step = bool(timed.any())
    ok = np.isfinite(wall_s) & (wall_s > 0) & timed
    # a term no run has (a mode none of them ran) is not fitted: only the terms present need runs
    present = int(np.any(A[ok] > 0, axis=0).sum())
    if ok.sum() < present and not by_step:
        raise ValueError(f"{int(ok.sum())} runs with a wall time are too few for {present} terms")
    if not by_step:
        x0 = np.array([float(start.get(name, 0.0)) for name in names]) if start else None
        return dict(zip(names, map(float, _fit_log(A[ok], wall_s[ok], x0))))
    recorded = np.sum([np.nan_to_num(np.asarray(v, float)) for v in step_seconds.values()], axis=0)
    coefficients = {}
    for step in dict.fromkeys(steps):
        cols = [i for i, s in enumerate(steps) if s == step]
        target = (wall_s - recorded if step is None
                  else np.asarray(step_seconds.get(step, np.full(len(wall_s), np.nan)), float))
        fit_rows = ok & np.isfinite(target) & (target > MIN_STEP_SECONDS) & np.any(A[:, cols] > 0, axis=1)
        if fit_rows.sum() < len(cols):
            raise ValueError(f"{int(fit_rows.sum())} runs with a time of {step or 'the rest of the run'} are too "
                             f"few for its {len(cols)} terms")
        x0 = np.array([float(start.get(names[i], 0.0)) for i in cols]) if start else None
        fitted = _fit_log(A[fit_rows][:, cols], target[fit_rows], x0)
        coefficients.update({names[i]: float(v) for i, v in zip(cols, fitted)})
    return {name: coefficients[name] for name in names}


@dataclass
class WallTimeModel:
    """Wall time of a pipeline's runs from its work terms, with a calibrated upper bound.

    Level-3 pipelines per product; calwebb_detector1 (``detector1``), calwebb_image2 (``image2``)
    and calwebb_spec2 (``spec2``) per exposure.

    Parameters
    ----------
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
    coefficients : dict of str to float
        Seconds per unit of each work term (`work_terms`), on the reference machine.
    upper_bound : jwst_memest.model.upper.UpperBound
        Factors on the estimate per quantile, calibrated on out-of-fold estimates.
    version : str, optional
        The coefficients' version.
    source : str, optional
        What they were fitted on.
    held_out : dict, optional
        Held-out metrics of the fit.
    """

    pipeline: str
    coefficients: dict
    upper_bound: UpperBound
    version: str = "0"
    source: str = ""
    held_out: dict = field(default_factory=dict)
    # one exposure's estimate by its inputs, quantile, speed and the terms in force (exposure pipelines)
    _estimates: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def predict(self, X: np.ndarray, speed_factor: float = 1.0) -> np.ndarray:
        """Estimated wall time of each run, seconds.

        Parameters
        ----------
        X : numpy.ndarray
            The runs' baseline input (features and settings columns; detector1, image2, spec2: their inputs).
        speed_factor : float, optional
            How much longer this machine takes than the reference machine (2.0: twice as slow).

        Returns
        -------
        numpy.ndarray
            Seconds per run (at least `MIN_SECONDS`).
        """
        names, A = work_terms(X, self.pipeline)
        c = np.array([float(self.coefficients.get(name, 0.0)) for name in names])
        return np.maximum(A @ c, MIN_SECONDS) * float(speed_factor)

    def estimate(self, X: np.ndarray, quantile: float = 0.95,
                 speed_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Estimated wall times and their upper bounds at ``quantile``, seconds.

        Parameters
        ----------
        X : numpy.ndarray
            The runs' baseline input (features and settings columns; detector1, image2, spec2: their inputs).
        quantile : float, optional
            The upper bound's quantile.
        speed_factor : float, optional
            How much longer this machine takes than the reference machine.

        Returns
        -------
        seconds : numpy.ndarray
            Estimates.
        upper : numpy.ndarray
            Upper bounds.
        """
        key = None
        if self.pipeline in EXPOSURE_TERMS and isinstance(X, (list, tuple)) and len(X) == 1:
            # one exposure's inputs (frozen): a folder's exposures of one readout and shape share the answer
            try:
                key = (X[0], quantile, float(speed_factor), tuple(self.coefficients.items()), id(self.upper_bound))
                hash(key)
            except TypeError:
                key = None
        if key is not None and key in self._estimates:
            seconds, upper = self._estimates[key]
            return seconds.copy(), upper.copy()
        seconds = self.predict(X, speed_factor)
        upper = seconds * self.upper_bound.factor(quantile)
        if key is not None:
            self._estimates[key] = (seconds.copy(), upper.copy())
        return seconds, upper

    def to_tree(self) -> dict:
        """The model as stored in ``walltime.yaml``.

        Returns
        -------
        dict
            ``version``, ``source``, ``coefficients``, ``upper_bound`` and ``held_out``.
        """
        return {"version": str(self.version), "source": self.source,
                "coefficients": {k: float(f"{v:.6g}") for k, v in self.coefficients.items()},
                "upper_bound": self.upper_bound.to_tree(), "held_out": dict(self.held_out)}

    @classmethod
    def from_tree(cls, pipeline: str, tree: dict) -> "WallTimeModel":
        """A model as stored in ``walltime.yaml``.

        Parameters
        ----------
        pipeline : str
            The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
        tree : dict
            As `to_tree` writes it.

        Returns
        -------
        WallTimeModel
            The model.
        """
        return cls(_key(pipeline), {k: float(v) for k, v in tree["coefficients"].items()},
                   UpperBound.from_tree(tree["upper_bound"]), str(tree.get("version", "0")),
                   str(tree.get("source", "")), dict(tree.get("held_out", {})))


def walltime_file() -> str:
    """The installed coefficients file, ``walltime.yaml`` beside this module.

    Returns
    -------
    str
        Its path.
    """
    return str(resources.files(__package__).joinpath("walltime.yaml"))


def forget_installed() -> None:
    """Read ``walltime.yaml`` again at the next use (after it was rewritten)."""
    _installed.cache_clear()
    _installed_model.cache_clear()


@cache
def _installed() -> dict:
    try:
        # libyaml's safe loader where PyYAML has it: the same values, several times faster on a cold estimate
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(resources.files(__package__).joinpath("walltime.yaml").read_text(), Loader=loader) or {}
    except FileNotFoundError:
        return {}


def load_walltime(pipeline: str = "image3") -> WallTimeModel | None:
    """The installed wall-time model of a pipeline (Level 3, calwebb_detector1, calwebb_image2, calwebb_spec2).

    Parameters
    ----------
    pipeline : str, optional
        A pipeline's key or class alias.

    Returns
    -------
    WallTimeModel or None
        Its model, or None when none is installed for it.
    """
    return _installed_model(_key(pipeline))


@cache
def _installed_model(pipeline: str) -> WallTimeModel | None:
    # built once per process: a folder's thousands of exposures share it
    entry = _installed().get("pipelines", {}).get(pipeline)
    return WallTimeModel.from_tree(pipeline, entry) if entry else None


def reference_workload_seconds() -> float | None:
    """The calibration workload's time on the machine the coefficients were measured on.

    Returns
    -------
    float or None
        Seconds (median of several runs), or None when not recorded.
    """
    reference = _installed().get("reference_machine", {})
    return float(reference["workload_s"]) if "workload_s" in reference else None


def estimate_wall_times(pipeline: str, X: np.ndarray, quantile: float = 0.95, speed_factor: float = 1.0
                        ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Wall-time estimates and upper bounds of products on a machine ``speed_factor`` times slower.

    Parameters
    ----------
    pipeline : str
        The Level-3 pipeline, ``detector1``, ``image2`` or ``spec2``.
    X : numpy.ndarray
        The products' baseline input (features and settings columns).
    quantile : float, optional
        The upper bound's quantile.
    speed_factor : float, optional
        The machine's speed factor (`jwst_memest.speed.speed_factor`): 1 on the corpus machine.

    Returns
    -------
    seconds : numpy.ndarray or None
        Estimates, seconds (None when no model is installed for ``pipeline``).
    upper : numpy.ndarray or None
        Upper bounds, seconds.
    """
    model = load_walltime(pipeline)
    if model is None:
        return None, None
    return model.estimate(X, quantile, speed_factor)
