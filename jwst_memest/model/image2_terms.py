"""calwebb_image2's arrays per step for one imaging exposure, counted from jwst's source (dtype x shape).

Notation: P science pixels (rows x columns x integrations: a time series keeps its integrations,
rateints), F pixels of one frame (rows x columns), FF the detector's full frame. Every step of
the pipeline works on the same model (a pipeline's steps do not copy their input), so each
step's peak is the model as it stands plus what that step allocates. Derivation and traces:
docs/image2.md.

- the rate model: SCI, ERR, VAR_POISSON, VAR_RNOISE (float32) and DQ (uint32): 20 B per P.
- assign_wcs: the WCS only (no array of the data's size).
- flat_field: the FLAT reference read whole (SCI, ERR float32, DQ uint32: 12 B per FF), a copy of
  its subarray when the exposure is one (12 B per F), the flat squared (4 B per F) and a mask
  (1 B per F). It replaces ERR and DQ with new arrays and adds VAR_FLAT (4 B per P); the replaced
  ERR and DQ stay alive, held by the open rate file (8 B per P, until the pipeline ends). Its last
  phase, ``match_nans_and_flags``, makes a NaN mask, a DQ test and its boolean (6 B per P): the
  step peaks at 24 + 8 + 6 = 38 B per P (the VAR_FLAT and ERR arithmetic before it holds 32).
- photom: an imaging conversion is a scalar, applied in place; the AREA reference read whole
  (float32, 4 B per FF) of which the exposure keeps its subarray (4 B per F); its own
  ``match_nans_and_flags`` (6 B per P) over the 32 B per P the model now holds.
- save: the pipeline writes the cal (calints) file at its end; astropy writes big-endian copies of
  the arrays (8 B per P above the 32 the model holds, traced), the AREA still held.
- resample (2-D imaging only: a time series is not drizzled): the calibrated model (32 B per P
  and the area) under the drizzle of one member onto its own grid, counted as calwebb_image3's
  resample with one member (`jwst_memest.model.terms.resample_output_bytes`).
"""

from __future__ import annotations

import numpy as np

from jwst_memest.model.terms import (covered_pixels, member_footprint, resample_output_bytes, setting_columns,
                                     settings_matrix)

__all__ = ["RATE_PER_PIXEL", "CALIBRATED_PER_PIXEL", "FLAT_REFERENCE_PER_PIXEL", "image2_step_bytes", "IMAGE2_STEPS",
           "spec2_step_bytes", "SPEC2_STEPS", "wfss_step_bytes",
           "contam_chunk_bytes"]

RATE_PER_PIXEL = 20.0  # SCI, ERR, VAR_POISSON, VAR_RNOISE float32; DQ uint32
# and VAR_FLAT after flat_field, with the ERR and DQ it replaced still held by the open rate file
CALIBRATED_PER_PIXEL = 32.0
MATCH_NANS_PER_PIXEL = 6.0  # match_nans_and_flags: NaN mask (bool), DQ & DO_NOT_USE (uint32) and its bool
FLAT_REFERENCE_PER_PIXEL = 12.0  # SCI, ERR float32, DQ uint32 of the full-frame FLAT
FLAT_WORK_PER_FRAME_PIXEL = 5.0  # the flat squared (float32) and the NaN mask (bool)
AREA_PER_PIXEL = 4.0  # float32
SAVE_PER_PIXEL = 8.0  # big-endian copies astropy writes (traced: 8.1-8.4 B per P)

IMAGE2_STEPS = ("assign_wcs", "flat_field", "photom", "resample", "save")


def image2_step_bytes(science_pixels, frame_pixels, full_frame_pixels, output_pixels, output_area_ratio,
                      pixmap_per_input, settings: dict[str, np.ndarray], drizzled) -> dict[str, np.ndarray]:
    """Counted bytes (beyond the interpreter) each step of calwebb_image2 holds at its peak.

    Parameters
    ----------
    science_pixels : array_like
        P: pixels of the science array (integrations included).
    frame_pixels : array_like
        F: pixels of one frame.
    full_frame_pixels : array_like
        FF: pixels of the detector's full frame (the references' shape).
    output_pixels : array_like
        Pixels of the exposure's i2d grid (0 where not drizzled).
    output_area_ratio : array_like
        Output pixels per input pixel (1 at the exposure's own scale).
    pixmap_per_input : array_like
        Bytes per input pixel of the pixel map (the WCS evaluation; fitted with calwebb_image3).
    settings : dict of str to numpy.ndarray
        resample's settings columns (`jwst_memest.model.terms.setting_columns`).
    drizzled : array_like
        1 where resample runs (2-D imaging, not skipped), else 0.

    Returns
    -------
    dict of str to numpy.ndarray
        Bytes per step; NaN for resample where it does not run.
    """
    P = np.asarray(science_pixels, float)
    F = np.asarray(frame_pixels, float)
    FF = np.asarray(full_frame_pixels, float)
    subarray = (F < FF).astype(float)
    rate = RATE_PER_PIXEL * P
    flat = ((CALIBRATED_PER_PIXEL + MATCH_NANS_PER_PIXEL) * P + FLAT_REFERENCE_PER_PIXEL * FF
            + subarray * FLAT_REFERENCE_PER_PIXEL * F + FLAT_WORK_PER_FRAME_PIXEL * F)
    calibrated = CALIBRATED_PER_PIXEL * P + AREA_PER_PIXEL * F
    photom = calibrated + MATCH_NANS_PER_PIXEL * P + AREA_PER_PIXEL * FF
    save = calibrated + SAVE_PER_PIXEL * P + AREA_PER_PIXEL * FF
    npix_out = np.nan_to_num(np.asarray(output_pixels, float))
    s = dict(settings, output_area_ratio=np.asarray(output_area_ratio, float))
    one = np.ones_like(P)
    drizzle = resample_output_bytes(one, F, npix_out, covered_pixels(one, F, npix_out, s),
                                     member_footprint(F, npix_out, s), pixmap_per_input, s)
    resample = np.where(np.asarray(drizzled) > 0, calibrated + drizzle, np.nan)
    return {"assign_wcs": rate, "flat_field": flat, "photom": photom, "resample": resample, "save": save}


SPEC2_STEPS = ("assign_wcs", "flat_field", "photom", "copies", "resample_spec", "cube_build", "extract_1d", "save")
COPY_PER_PIXEL = 24.0  # a deep copy of the calibrated model's arrays (SCI, ERR, three variances, DQ)
CONVERSION_PER_FRAME_PIXEL = 16.0  # photom's wavelength per pixel and 2-D conversion, float64, one frame
# cube_build's voxels (an IFU exposure): the cube being built (flux, weight, variance and iflux float64,
# DQ uint32) and every finished cube of the exposure (SCI, ERR, WMAP float32, DQ uint32), which the
# pipeline keeps for extract_1d: counted as if every cube were both
CUBE_BUILD_PER_VOXEL = 36.0
CUBE_PER_VOXEL = 16.0


# WFSS: a cutout's arrays (SCI, ERR, three variances float32, DQ uint32, WAVELENGTH float32)
CUTOUT_PER_PIXEL = 28.0
# WFSS: bkg_subtract's MASK (uint32), kept on the model from then on
MASK_PER_PIXEL = 4.0
# WFSS bkg_subtract: the WFSSBKG reference read whole (SCI, ERR float32, DQ uint32), the boolean mask,
# and the copies of SCI, ERR squared and the background it scales (float32)
BACKGROUND_REFERENCE_PER_PIXEL = 12.0
BACKGROUND_COPIES_PER_PIXEL = 13.0
# wfss_contam, traced (jwst 3.0): while the grism WCS maps one chunk of segment pixels at every wavelength
# sample of an order (sky and direct-image positions, repeated wavelengths, grism positions and the
# transforms' temporaries) it holds 96 B per pixel and sample; once they are clipped to detector pixels,
# 58 B per clipped pixel (int32 indices, float64 areas, wavelengths, fluxes, sensitivities and counts,
# then their copies sorted by source). The two phases follow one another: the chunk's peak is the larger
CONTAM_PER_SAMPLE = 96.0
CONTAM_PER_CLIPPED = 58.0
# the resident pages while dispersing exceed the traced bytes (freed temporaries whose pages the
# allocator keeps). Mapping: measured 1.124-1.132 on the four single-process NIRCam runs of
# data/corpus/spec2-wfss-contam.csv whose peak it sets (1.09 between a traced run's start and its
# high-water mark). Clipping, whose many smaller arrays leave more behind: 1.148-1.226 on the five runs
# of data/corpus/spec2-wfss-contam-clipped.csv whose peak it sets (their median; the six such runs
# measured before it was set need 1.160-1.239)
CONTAM_RESIDENT_MAPPING = 1.13
CONTAM_RESIDENT_CLIPPING = 1.16
# a pixel-wide footprint at a fractional position covers 2 x 2 detector pixels (traced 3.4-4.0 where the
# whole trace lands on the detector)
CLIPPED_PER_SAMPLE = 4.0
# the Observation's frames: the direct image (float32), the segmentation map (uint32), the direct image's
# background-subtracted copy and the simulated frame (float64)
CONTAM_FRAMES_PER_FULL_FRAME_PIXEL = 24.0
# every source's dispersed image in every simulated order, kept as a float32 slit until the step ends
DISPERSED_PER_PIXEL = 4.0
# a spawned worker before its chunk: the interpreter and jwst.wfss_contam's imports (measured 145 MB)
CONTAM_WORKER_BYTES = 1.5e8


def contam_chunk_bytes(pixels, order_samples, oversample=2, along_pixels=2048.0, landing=None) -> float:
    """Peak resident bytes one process holds dispersing one chunk of segment pixels, over the orders.

    Each sample of a pixel's trace covers ``CLIPPED_PER_SAMPLE`` detector pixels where it lands on
    the detector. With the chunk's ``landing`` known (`jwst_memest.wfss_landing`: each order's
    share of samples on the detector, from the trace geometry of the references and where the
    sources sit), that share lands. Otherwise every order's trace is counted as landing as far as it
    can: a trace longer than the detector along the dispersion lands for at most the detector's
    length, whichever source it comes from (an upper count: traces of sources near an edge, and
    NIRISS's higher orders far from their source, partly fall off).

    Parameters
    ----------
    pixels : float
        Segment pixels of the chunk.
    order_samples : dict of int to int
        Wavelength samples per simulated order.
    oversample : int, optional
        ``wl_oversample``: samples per pixel of the trace.
    along_pixels : float, optional
        The detector's pixels along the dispersion.
    landing : dict of int to float or None, optional
        Order -> share of the chunk's samples landing on the detector (None: the upper count).

    Returns
    -------
    float
        Resident bytes at the chunk's peak: each phase's traced bytes times its resident ratio
        (``CONTAM_RESIDENT_MAPPING``, ``CONTAM_RESIDENT_CLIPPING``).
    """
    peak = 0.0
    for order, samples in order_samples.items():
        elements = float(pixels) * samples
        if landing is not None:
            share = float(landing.get(order, 1.0))
        else:
            trace = samples / max(oversample, 1)
            share = min(1.0, along_pixels / trace) if trace > 0 else 1.0
        peak = max(peak, CONTAM_RESIDENT_MAPPING * CONTAM_PER_SAMPLE * elements,
                   CONTAM_RESIDENT_CLIPPING * CONTAM_PER_CLIPPED * CLIPPED_PER_SAMPLE * elements * share)
    return peak


def wfss_step_bytes(frame_pixels, full_frame_pixels, cutout_pixels, cutouts, per_cutout,
                    background_per_pixel, extract_per_pixel, contam_bytes=0.0, contam_workers=0,
                    dispersed_pixels=0.0, worker_bytes=CONTAM_WORKER_BYTES) -> dict[str, np.ndarray]:
    """Counted bytes (beyond the interpreter) each step of calwebb_spec2 holds for a WFSS exposure.

    bkg_subtract scales the WFSSBKG reference to the source-masked frame (its iterative clipping,
    ``background_per_pixel``, fitted) and leaves a MASK on the model; flat_field works as for
    imaging; extract_2d then cuts one cutout per source and order (G pixels in all, n cutouts),
    each with its own deep copy of the exposure's grism WCS and metadata (``per_cutout``, fitted:
    its size follows the WCS references' structure); the pipeline copies the cutouts twice for
    extract_1d (resampled, x1d), which runs beside all three (``extract_per_pixel`` of its own per
    cutout pixel, fitted). The frame stays open under everything.

    wfss_contam (when not skipped) simulates the whole dispersed frame: each of its processes
    disperses one chunk of segment pixels at every wavelength sample of an order at once
    (``contam_bytes`` resident for the chunks dispersed at once, `contam_chunk_bytes`), beside the
    direct image,
    segmentation map and simulated frame, and every source's dispersed image of the orders done;
    with ``maximum_cores`` above 1 it spawns that many worker interpreters (``worker_bytes`` each).

    Parameters
    ----------
    frame_pixels : array_like
        P: pixels of the frame.
    full_frame_pixels : array_like
        FF: pixels of the detector's full frame (the references' shape).
    cutout_pixels : array_like
        G: pixels of every cutout.
    cutouts : array_like
        n: cutouts (sources x orders).
    per_cutout : array_like
        Bytes each cutout holds beyond its pixels.
    background_per_pixel : array_like
        bkg_subtract's clipping arrays per frame pixel.
    extract_per_pixel : array_like
        extract_1d's own bytes per cutout pixel.
    contam_bytes : array_like, optional
        wfss_contam's chunks dispersed at once, resident at their peak (0: the step is skipped).
    contam_workers : int, optional
        Worker interpreters spawned (0 when it runs in the pipeline's process).
    dispersed_pixels : array_like, optional
        Pixels of every source's dispersed image in every simulated order.
    worker_bytes : array_like, optional
        One worker interpreter before its chunk.

    Returns
    -------
    dict of str to numpy.ndarray
        Bytes per step.
    """
    P = np.asarray(frame_pixels, float)
    FF = np.asarray(full_frame_pixels, float)
    G = np.asarray(cutout_pixels, float)
    n = np.asarray(cutouts, float)
    rate = RATE_PER_PIXEL * P
    frame = CALIBRATED_PER_PIXEL * P + MASK_PER_PIXEL * P
    counted = image2_step_bytes(P, P, FF, 0.0, 1.0, 0.0, setting_columns(settings_matrix([None]), 0), 0.0)
    one = CUTOUT_PER_PIXEL * G + np.asarray(per_cutout, float) * n
    steps = {"assign_wcs": rate,
             "bkg_subtract": (rate + MASK_PER_PIXEL * P + BACKGROUND_REFERENCE_PER_PIXEL * FF
                              + (BACKGROUND_COPIES_PER_PIXEL + np.asarray(background_per_pixel, float)) * P),
             "flat_field": counted["flat_field"] + MASK_PER_PIXEL * P,
             "extract_2d": frame + one, "photom": frame + one + MATCH_NANS_PER_PIXEL * G,
             "copies": frame + 3 * one,
             "extract_1d": frame + 3 * one + np.asarray(extract_per_pixel, float) * G,
             "save": frame + 2 * one}
    if np.any(np.asarray(contam_bytes, float) > 0):
        steps["wfss_contam"] = (frame + one + CONTAM_FRAMES_PER_FULL_FRAME_PIXEL * FF
                                + DISPERSED_PER_PIXEL * np.asarray(dispersed_pixels, float)
                                + np.asarray(contam_bytes, float)
                                + contam_workers * np.asarray(worker_bytes, float))
    return steps


def spec2_step_bytes(science_pixels, frame_pixels, full_frame_pixels, pixmap_per_input,
                     resampled: bool, cube_voxels=0.0, ifu_per_pixel=0.0) -> dict[str, np.ndarray]:
    """Counted bytes (beyond the interpreter) each step of calwebb_spec2 holds for a MIRI LRS or MRS exposure.

    assign_wcs, flat_field and photom work as for imaging (photom's conversion is per pixel of one
    frame, applied in place to every integration). The pipeline then copies the calibrated model
    for the resampling steps. A fixed slit (``resampled``) is drizzled to its s2d by resample_spec,
    whose pixel map covers the input frame, and extract_1d works on the small s2d; a time series is
    not resampled, and the pipeline copies the cube again for extract_1d, which runs beside the
    calibrated model and both copies (NIRISS SOSS too: ATOCA's model of the orders is added by the
    fit). An IFU exposure (``cube_voxels`` > 0) is copied once and built into its cubes by
    cube_build: its per-pixel point cloud (each pixel's coordinates, wavelength, flux, error and
    region of interest, float64: ``ifu_per_pixel``, fitted) and the cubes' voxels; extract_1d then
    runs on the finished cubes. The cal write comes after the copies are released.

    Parameters
    ----------
    science_pixels : array_like
        P: pixels of the science array (integrations included).
    frame_pixels : array_like
        F: pixels of one frame.
    full_frame_pixels : array_like
        FF: pixels of the detector's full frame (the references' shape).
    pixmap_per_input : array_like
        Bytes per input pixel of resample_spec's pixel map (the WCS evaluation; fitted).
    resampled : bool
        A fixed slit (resample_spec runs) rather than a time series.
    cube_voxels : array_like, optional
        Voxels of the IFU cubes cube_build makes of the exposure (0: not an IFU exposure).
    ifu_per_pixel : array_like, optional
        Bytes per detector pixel of cube_build's point cloud (fitted).

    Returns
    -------
    dict of str to numpy.ndarray
        Bytes per step; ``copies`` is the pipeline's code between photom and the resampling steps;
        resample_spec is NaN for a time series and an IFU exposure, cube_build NaN but for an IFU exposure.
    """
    P = np.asarray(science_pixels, float)
    F = np.asarray(frame_pixels, float)
    FF = np.asarray(full_frame_pixels, float)
    voxels = np.asarray(cube_voxels, float)
    counted = image2_step_bytes(P, F, FF, 0.0, 1.0, 0.0, setting_columns(settings_matrix([None]), 0), 0.0)
    calibrated = CALIBRATED_PER_PIXEL * P + AREA_PER_PIXEL * F
    one_copy = calibrated + COPY_PER_PIXEL * P
    steps = {"assign_wcs": counted["assign_wcs"], "flat_field": counted["flat_field"],
             "photom": calibrated + MATCH_NANS_PER_PIXEL * P + CONVERSION_PER_FRAME_PIXEL * F, "save": counted["save"],
             "cube_build": np.full_like(P, np.nan)}
    if np.any(voxels > 0):
        cubes = CUBE_PER_VOXEL * voxels
        steps.update(copies=one_copy, resample_spec=np.full_like(P, np.nan),
                     cube_build=one_copy + np.asarray(ifu_per_pixel, float) * F + CUBE_BUILD_PER_VOXEL * voxels + cubes,
                     extract_1d=one_copy + cubes)
    elif resampled:
        steps.update(copies=one_copy, resample_spec=one_copy + np.asarray(pixmap_per_input, float) * F,
                     extract_1d=one_copy)
    else:
        steps.update(copies=one_copy + COPY_PER_PIXEL * P, resample_spec=np.full_like(P, np.nan),
                     extract_1d=one_copy + COPY_PER_PIXEL * P)
    return steps
