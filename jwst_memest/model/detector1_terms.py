"""What calwebb_detector1's steps allocate, counted from jwst 3.0's and stcal 1.20's source (dtype x shape).

Each function gives the bytes one step holds at its peak *above* the ramp the pipeline carries into
it (``ramp_model_bytes``), from the header drivers: integrations, groups, science rows and columns,
the raw rows of a NIRSpec IRS2 frame (3200), the pixels of the reference files the step reads and
the dark's frames, and for jump and ramp_fit the worker processes of ``maximum_cores``.
docs/detector1-terms.md derives every constant (file, function, array, dtype, shape, lifetime) and
checks the counts against tracemalloc traces of small offline runs. The physics baseline for
detector1 adds what the code cannot tell (the interpreter and libraries, metadata, each worker's
interpreter, C-side buffers).

Units: ``S = nints*ngroups*ny*nx`` ramp samples (``S_raw`` with the raw rows), ``D =
nints*(ngroups-1)*ny*nx`` group differences, ``I = nints*ny*nx`` pixel-integrations, ``P = ny*nx``
pixels; reference pixels are the reference file's own (full frame for most NIR references, which
the steps read whole and then cut).
"""

from __future__ import annotations

import numpy as np

from jwst_memest.metadata import IRS2_RAW_ROWS

__all__ = [
    "ramp_samples", "ramp_model_bytes", "uncal_open_bytes", "dq_init_bytes", "saturation_bytes",
    "superbias_bytes", "refpix_bytes", "linearity_bytes", "dark_current_bytes", "reset_bytes",
    "rscd_bytes", "jump_regime", "jump_find_crs_bytes", "jump_bytes", "jump_worker_bytes",
    "ramp_fit_bytes", "ramp_fit_worker_bytes", "gain_scale_bytes", "detector1_step_peaks",
    "IRS2_RAW_ROWS", "IRS2_TABLE_ROWS",
]

# --- the ramp the pipeline carries from step to step (RampModel) ---------------------------------
DATA_PER_SAMPLE = 4.0  # data, float32 (the uint16 SCI converted on open)
GROUPDQ_PER_SAMPLE = 1.0  # groupdq, uint8
PIXELDQ_PER_PIXEL = 4.0  # pixeldq, uint32
AVERAGE_DARK_PER_PIXEL = 4.0  # average_dark_current, float32, set by dark_current and kept
# opening the uncal: FITS int16 + BZERO read into a buffer, converted to float32, then freed
RAW_READ_PER_SAMPLE = 2.0

# --- reference files: each array read whole; a uint32 DQ is read as int32 and scaled (BZERO) ------
REF_FLOAT = 4.0  # one float32 image per reference pixel
REF_DQ = 4.0  # uint32 DQ
REF_DQ_READ = 4.0  # the int32 buffer astropy scales into the uint32 DQ (alive while the DQ is read)
ISNAN_MASK = 1.0  # bool mask of np.isnan over a reference (superbias, dark, reset)

# --- saturation ----------------------------------------------------------------------------------
# stcal flag_saturated_pixels works plane by plane (bool and uint32 flag planes, dilation)
SATURATION_PER_PLANE_PIXEL = 20.0
# traced beside the planes (1.1-1.5 B per sample on four layouts), not attributed to a line
SATURATION_PER_SAMPLE = 1.1
# jwst irs2_flag_saturation, per science pixel: each plane taken out of the IRS2 frame (float32),
# np.where outputs (int64 x2), the group-2 check's float32 frames and masks, the dilation
SATURATION_IRS2_PER_PIXEL = 48.0
SATURATION_IRS2_PER_RAW_SAMPLE = 1.0  # np.bitwise_and(groupdq, SATURATED), uint8, over the whole raw ramp

# --- refpix --------------------------------------------------------------------------------------
# NIR subarray: pixeldq widened to the full frame (uint32) and its masks (& and == / !=) to find
# the reference pixels: 10 B per full-frame pixel, whatever the subarray
REFPIX_SUBARRAY_PER_FULL_PIXEL = 10.0
# NIR full frame: one group at a time (float32 copies in and out of detector orientation, the
# float64 side-pixel running median); nothing scales with the groups
REFPIX_FULL_FRAME_PER_PIXEL = 36.0
# IRS2: the reference table (8 float32 columns) and alpha/beta as complex64 (4 x rows/2 each); the raw
# frame's rows (IRS2_RAW_ROWS) as the header reader knows them
IRS2_TABLE_ROWS = 2 * 712 * 2048
IRS2_TABLE_PER_ROW = 32.0
IRS2_ALPHA_BETA_PER_ROW = 32.0
# subtract_reference, per integration: the five outputs padded to 712 columns (float32, zeros and
# a copy), and per output the FFTs (complex64) of its interpolated reference and of the reference
# output, their products and the inverse FFT; per raw sample of one integration (3200 x 2048)
IRS2_SUBTRACT_PER_RAW_SAMPLE = 19.6

# --- linearity -----------------------------------------------------------------------------------
LINEARITY_COEFFS = 5  # coefficients per pixel of a typical LINEARITY reference (float32 each)
LINEARITY_PER_GROUP_PIXEL = 4.0  # apply_polynomial's float32 result, one integration at a time

# --- dark_current --------------------------------------------------------------------------------
DARK_PER_FRAME_PIXEL = 8.0  # SCI + ERR float32 of every frame of the reference (read whole)
DARK_MIRI_DQ_PER_FRAME_PIXEL = 4.0  # DarkMIRIModel's DQ is 4-D (uint32)
# subtract_dark deep-copies the science data: data, groupdq and pixeldq, then ORs the dark DQ
DARK_COPY_PER_SAMPLE = DATA_PER_SAMPLE + GROUPDQ_PER_SAMPLE
DARK_COPY_PER_PIXEL = PIXELDQ_PER_PIXEL + 4.0  # pixeldq copy and the dark DQ plane OR-ed into it
AVERAGED_DARK_PER_GROUP_PIXEL = 8.0  # frame-averaged dark (float32 data + uint32 dq) when NFRAMES/GROUPGAP differ

# --- MIRI reset, rscd ----------------------------------------------------------------------------
RESET_PER_FRAME_PIXEL = 8.0  # ResetModel SCI + ERR float32, 4-D
RSCD_PER_PIXEL_INT = 20.0  # int64 skip array, bool masks and their uint8 temporaries, for integrations 2..n

# --- jump (stcal twopoint_difference) ------------------------------------------------------------
JUMP_DATA_PER_SAMPLE = 4.0  # data * gain (float32 copy of the ramp)
JUMP_PER_PIXEL = 4.0  # readnoise * gain (float32)
REF_CUT_PER_PIXEL = 8.0  # gain and readnoise cut to a subarray (float32 each), in jump and ramp_fit
# first_diffs = np.diff(data)/dt_group: dt_group is a float64 array, so first_diffs is float64 (8)
# beside np.diff's float32 (4) while dividing; then np.isfinite (bool, 1) is kept
JUMP_SINGLE_PASS_PER_DIFF = 12.0
# the division's peak comes before median_diffs and sigma: readnoise squared (float32) and the flag
# masks' temporaries (traced: 9 B per pixel, benchmarks/trace_jump.py)
JUMP_SINGLE_PASS_PER_PIXEL = 9.0
# fewer than min_diffs_single_pass (10) differences: iterative_jump, whose peak is the larger of two
# moments (traced, benchmarks/trace_jump.py: the first below 8 differences per pixel, the second above).
# The first pass: first_diffs (8) and finite (1), their absolute value (8), calc_med_first_diffs'
# copy and numpy's NaN median over it; per pixel its int64/float64 planes, sigma and median.
JUMP_ITERATIVE_FIRST_PER_DIFF = 43.0
JUMP_ITERATIVE_FIRST_PER_PIXEL = 120.0
# a later pass (pixels with a new CR): a new e_jump (float32) and ratio (float64, and abs's float32
# temporary) beside the previous ratio, then the comparisons with its maximum
JUMP_ITERATIVE_LATER_PER_DIFF = 52.0
JUMP_ITERATIVE_LATER_PER_PIXEL = 52.0
# nints >= minimum_sigclip_groups (100; only_use_ints): astropy sigma_clip over first_diffs
# (float64 masked copy and masks) beside first_diffs and finite
JUMP_SIGMA_CLIP_PER_DIFF = 20.0
JUMP_SIGMA_CLIP_PER_PIXEL = 20.0
MIN_DIFFS_SINGLE_PASS = 10  # jump step default
MINIMUM_SIGCLIP_GROUPS = 100  # jump step default (compared with nints: only_use_ints=True)
# maximum_cores > 1: the process tree peaks while the workers run find_crs; the parent's slices are
# views and its pickles already sent, so it holds only a finished slice's groupdq coming back (the
# received bytes and the array made from them: 2 per slice sample)
JUMP_RESULT_PER_SLICE_SAMPLE = 2.0
JUMP_WORKER_SLICE_PER_SAMPLE = 5.0
# a worker unpickling its slice holds the received bytes beside the arrays made from them
UNPICKLE_PER_SLICE_SAMPLE = 10.0

# --- ramp_fit (stcal OLS_C) ----------------------------------------------------------------------
RAMP_FIT_CHARGELOSS_PER_SAMPLE = 2.0  # groupdq & CHARGELOSS (uint8) and its > 0 (bool)
# rate and rateints: slope, var_poisson, var_rnoise, err (float32) and dq (uint32)
RATE_PER_PIXEL = 20.0
RATEINTS_PER_PIXEL_INT = 20.0
# CubeModel(shape) / ImageModel(shape) make default data, err and dq before the fitted arrays replace them
MODEL_DEFAULTS_PER_PIXEL = 12.0
# maximum_cores > 1: the parent copies every slice (data, groupdq; pixeldq and average dark per
# pixel) and keeps the copies to the end; it pickles one slice at a time to send it, then holds the
# workers' results beside the assembled outputs
RAMP_FIT_SLICES_PER_SAMPLE = 5.0
RAMP_FIT_SLICES_PER_PIXEL = 8.0
RAMP_FIT_PICKLE_PER_SLICE_SAMPLE = 5.0
RAMP_FIT_WORKER_SLICE_PER_SAMPLE = 5.0


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _references(gain_pixels, readnoise_pixels, pixels) -> np.ndarray:
    """GAIN and READNOISE read whole (float32 data), and their cuts when they are not the science shape."""
    gain, noise = _f(gain_pixels), _f(readnoise_pixels)
    cut = np.where((gain != pixels) | (noise != pixels), REF_CUT_PER_PIXEL * pixels, 0.0)
    return REF_FLOAT * (gain + noise) + cut


def ramp_samples(nints, ngroups, ny, nx) -> np.ndarray:
    """Samples of a ramp: ``nints * ngroups * ny * nx``.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        Integrations, groups, rows and columns.

    Returns
    -------
    numpy.ndarray
        Samples per row.
    """
    return _f(nints) * _f(ngroups) * _f(ny) * _f(nx)


def ramp_model_bytes(nints, ngroups, ny, nx, after_dark=False) -> np.ndarray:
    """Bytes of the RampModel carried between steps: data, groupdq, pixeldq (and the average dark).

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp's shape (for NIRSpec IRS2 before refpix, ``ny`` is the raw rows).
    after_dark : bool or array_like, optional
        From dark_current on, the model also holds ``average_dark_current`` (float32 per pixel).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    pixels = _f(ny) * _f(nx)
    return ((DATA_PER_SAMPLE + GROUPDQ_PER_SAMPLE) * ramp_samples(nints, ngroups, ny, nx)
            + (PIXELDQ_PER_PIXEL + AVERAGE_DARK_PER_PIXEL * _f(after_dark)) * pixels)


def uncal_open_bytes(nints, ngroups, raw_rows, nx) -> np.ndarray:
    """Peak bytes of opening the uncal as a RampModel (the pipeline's prepare_output).

    The int16 read buffer and the float32 data, then (buffer freed) groupdq and pixeldq.

    Parameters
    ----------
    nints, ngroups, raw_rows, nx : array_like
        The raw SCI array's shape.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    samples = ramp_samples(nints, ngroups, raw_rows, nx)
    converting = (DATA_PER_SAMPLE + RAW_READ_PER_SAMPLE) * samples
    return np.maximum(converting, ramp_model_bytes(nints, ngroups, raw_rows, nx))


def dq_init_bytes(mask_pixels) -> np.ndarray:
    """Peak bytes of dq_init above the ramp: the MASK reference's DQ and its read buffer.

    Parameters
    ----------
    mask_pixels : array_like
        Pixels of the MASK reference (full frame: 2048*2048; IRS2 3200*2048).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    return (REF_DQ + REF_DQ_READ) * _f(mask_pixels)


def saturation_bytes(nints, ngroups, ny, nx, saturation_pixels, superbias_pixels, raw_rows=None) -> np.ndarray:
    """Peak bytes of saturation above the ramp.

    The larger of reading the SATURATION reference (data, DQ and its read buffer) and flagging:
    the reference kept (data, DQ), its cut to the science shape, the SUPERBIAS reference (data, err,
    DQ) and the per-plane temporaries (IRS2: per science pixel and one uint8 pass over the raw ramp).

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp (science rows).
    saturation_pixels, superbias_pixels : array_like
        Pixels of the two references (superbias 0 for MIRI).
    raw_rows : array_like or None, optional
        Raw rows of an IRS2 frame (3200); None for every other readout.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    sat, bias, pixels = _f(saturation_pixels), _f(superbias_pixels), _f(ny) * _f(nx)
    load = (2 * REF_FLOAT + REF_DQ_READ) * sat
    kept = 2 * REF_FLOAT * sat + np.where(sat != pixels, 2 * REF_FLOAT * pixels, 0.0) + 3 * REF_FLOAT * bias
    if raw_rows is None:
        flag = (kept + SATURATION_PER_PLANE_PIXEL * pixels
                + SATURATION_PER_SAMPLE * ramp_samples(1, ngroups, ny, nx) * _f(nints))
    else:
        raw = _f(ngroups) * _f(raw_rows) * _f(nx)
        flag = kept + SATURATION_IRS2_PER_PIXEL * pixels + SATURATION_IRS2_PER_RAW_SAMPLE * raw
    return np.maximum(load, flag)


def superbias_bytes(superbias_pixels) -> np.ndarray:
    """Peak bytes of superbias above the ramp: the reference (data, err, DQ) and its NaN mask.

    The subtraction is in place (``output.data -= bias``).

    Parameters
    ----------
    superbias_pixels : array_like
        Pixels of the SUPERBIAS reference.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    return (2 * REF_FLOAT + REF_DQ + ISNAN_MASK) * _f(superbias_pixels)


def refpix_bytes(nints, ngroups, ny, nx, full_frame_pixels, instrument="NIRCAM", raw_rows=None) -> np.ndarray:
    """Peak bytes of refpix above the ramp.

    NIR subarray: full-frame DQ planes; NIR full frame: one group's working planes; MIRI subarray:
    nothing; NIRSpec IRS2 (``raw_rows`` given): the IRS2 table, alpha/beta and one integration's
    padded outputs and FFTs.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp (science rows).
    full_frame_pixels : array_like
        Pixels of the detector's full frame.
    instrument : str, optional
        "MIRI" or a near-infrared instrument.
    raw_rows : array_like or None, optional
        Raw rows of an IRS2 frame (3200); None otherwise.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    pixels, full = _f(ny) * _f(nx), _f(full_frame_pixels)
    if raw_rows is not None:
        per_integration = IRS2_SUBTRACT_PER_RAW_SAMPLE * _f(ngroups) * _f(raw_rows) * _f(nx)
        return (IRS2_TABLE_PER_ROW + IRS2_ALPHA_BETA_PER_ROW) * IRS2_TABLE_ROWS + per_integration
    if instrument.upper() == "MIRI":
        return np.where(pixels < full, 0.0, 8.0 * _f(nints) * pixels)  # full frame: float64 first reads
    return np.where(pixels < full, REFPIX_SUBARRAY_PER_FULL_PIXEL * full, REFPIX_FULL_FRAME_PER_PIXEL * pixels)


def linearity_bytes(ngroups, ny, nx, linearity_pixels, ncoeffs=LINEARITY_COEFFS) -> np.ndarray:
    """Peak bytes of linearity above the ramp.

    The larger of reading the reference (coefficients, DQ, its read buffer) and correcting: the
    reference kept, its cut and copy for a subarray, one integration's corrected groups.

    Parameters
    ----------
    ngroups, ny, nx : array_like
        Groups, science rows and columns.
    linearity_pixels : array_like
        Pixels of the LINEARITY reference.
    ncoeffs : array_like, optional
        Its coefficients per pixel.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    ref, pixels, coeffs = _f(linearity_pixels), _f(ny) * _f(nx), _f(ncoeffs)
    per_ref = REF_FLOAT * coeffs + REF_DQ
    load = (per_ref + REF_DQ_READ) * ref
    cut = np.where(ref != pixels, 2 * per_ref * pixels, 0.0)
    correct = per_ref * ref + cut + LINEARITY_PER_GROUP_PIXEL * _f(ngroups) * pixels
    return np.maximum(load, correct)


def dark_current_bytes(nints, ngroups, ny, nx, dark_frames, dark_pixels=None, dark_ints=1,
                       instrument="NIRCAM", averaged=False) -> np.ndarray:
    """Peak bytes of dark_current above the ramp.

    The whole DARK reference (every frame it holds, not the exposure's groups), its NaN mask, the
    frame-averaged dark when the readouts differ, and subtract_dark's deep copy of the science data.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp.
    dark_frames : array_like
        Frames (groups) of the reference.
    dark_pixels : array_like or None, optional
        Pixels of one dark frame (default: the science pixels, as CRDS delivers subarray darks).
    dark_ints : array_like, optional
        Integrations of a MIRI 4-D dark (1 for the 3-D NIR darks).
    instrument : str, optional
        "MIRI" reads DarkMIRIModel, whose DQ is 4-D.
    averaged : bool, optional
        The science NFRAMES/GROUPGAP differ from the dark's (frames are averaged into a new dark).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    pixels = _f(ny) * _f(nx)
    dpix = pixels if dark_pixels is None else _f(dark_pixels)
    frames = _f(dark_frames) * _f(dark_ints) * dpix
    if instrument.upper() == "MIRI":
        reference = (DARK_PER_FRAME_PIXEL + DARK_MIRI_DQ_PER_FRAME_PIXEL) * frames
    else:
        reference = DARK_PER_FRAME_PIXEL * frames + (REF_DQ + REF_DQ_READ) * dpix
    dark_ints_used = _f(nints) if instrument.upper() == "MIRI" else 1.0
    averaged_dark = _f(averaged) * AVERAGED_DARK_PER_GROUP_PIXEL * dark_ints_used * _f(ngroups) * pixels
    copy = DARK_COPY_PER_SAMPLE * ramp_samples(nints, ngroups, ny, nx) + DARK_COPY_PER_PIXEL * pixels
    return reference + np.maximum(ISNAN_MASK * frames, averaged_dark + copy)


def reset_bytes(reset_ints, ngroups, reset_pixels) -> np.ndarray:
    """Peak bytes of MIRI reset above the ramp: the 4-D reference (SCI, ERR), its DQ and NaN mask.

    Parameters
    ----------
    reset_ints, ngroups : array_like
        Integrations and groups of the RESET reference.
    reset_pixels : array_like
        Pixels of one of its frames.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    frames = _f(reset_ints) * _f(ngroups) * _f(reset_pixels)
    return (RESET_PER_FRAME_PIXEL + ISNAN_MASK) * frames + (REF_DQ + REF_DQ_READ) * _f(reset_pixels)


def rscd_bytes(nints, ny, nx) -> np.ndarray:
    """Peak bytes of MIRI rscd above the ramp: the skip array and masks for integrations 2..nints.

    Parameters
    ----------
    nints, ny, nx : array_like
        Integrations, rows and columns.

    Returns
    -------
    numpy.ndarray
        Bytes per row (0 for one integration).
    """
    return RSCD_PER_PIXEL_INT * np.maximum(_f(nints) - 1.0, 0.0) * _f(ny) * _f(nx)


def jump_regime(nints, ngroups) -> np.ndarray:
    """Which two-point-difference path stcal takes: 0 single pass, 1 iterative, 2 sigma clipping.

    Parameters
    ----------
    nints, ngroups : array_like
        Integrations and groups (no groups flagged DO_NOT_USE throughout).

    Returns
    -------
    numpy.ndarray
        The regime per row.
    """
    nints, ngroups = _f(nints), _f(ngroups)
    sigclip = nints >= MINIMUM_SIGCLIP_GROUPS
    iterative = (ngroups - 1.0) < MIN_DIFFS_SINGLE_PASS
    return np.where(sigclip, 2, np.where(iterative, 1, 0))


def jump_find_crs_bytes(nints, ngroups, ny, nx) -> np.ndarray:
    """Peak bytes of stcal's ``find_crs`` on a ramp (the two-point differences and their statistics).

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp (or one worker's slice of rows).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    diffs = _f(nints) * (_f(ngroups) - 1.0) * _f(ny) * _f(nx)
    pixels = _f(ny) * _f(nx)
    regime = jump_regime(nints, ngroups)
    iterative = np.maximum(JUMP_ITERATIVE_FIRST_PER_DIFF * diffs + JUMP_ITERATIVE_FIRST_PER_PIXEL * pixels,
                           JUMP_ITERATIVE_LATER_PER_DIFF * diffs + JUMP_ITERATIVE_LATER_PER_PIXEL * pixels)
    return np.choose(regime, [JUMP_SINGLE_PASS_PER_DIFF * diffs + JUMP_SINGLE_PASS_PER_PIXEL * pixels, iterative,
                              JUMP_SIGMA_CLIP_PER_DIFF * diffs + JUMP_SIGMA_CLIP_PER_PIXEL * pixels])


def jump_bytes(nints, ngroups, ny, nx, gain_pixels, readnoise_pixels, processes=1) -> np.ndarray:
    """Bytes of jump above the ramp in the pipeline's own process, at the step's peak.

    GAIN and READNOISE read whole, the gain-scaled ramp, per-pixel planes, and either find_crs
    (one process) or, with workers, what the parent holds while they run find_crs (the process
    tree's peak): a finished slice's groupdq coming back. Its own higher point, pickling the slices,
    comes before the workers hold more than their received slices.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp.
    gain_pixels, readnoise_pixels : array_like
        Pixels of the two references.
    processes : array_like, optional
        Slices stcal makes (``maximum_cores`` resolved, at most the rows).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    samples = ramp_samples(nints, ngroups, ny, nx)
    pixels = _f(ny) * _f(nx)
    base = (_references(gain_pixels, readnoise_pixels, pixels) + JUMP_DATA_PER_SAMPLE * samples
            + JUMP_PER_PIXEL * pixels)
    single = jump_find_crs_bytes(nints, ngroups, ny, nx)
    n = np.maximum(_f(processes), 1.0)
    return base + np.where(n > 1, JUMP_RESULT_PER_SLICE_SAMPLE * samples / n, single)


def jump_worker_bytes(nints, ngroups, ny, nx, processes) -> np.ndarray:
    """Bytes one jump worker holds (its interpreter not included): its slice and find_crs on it.

    The larger of unpickling the slice (the received bytes beside the arrays) and find_crs.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The whole ramp.
    processes : array_like
        Slices (workers); 1 gives 0 (no worker).

    Returns
    -------
    numpy.ndarray
        Bytes per row, per worker.
    """
    n = np.maximum(_f(processes), 1.0)
    rows = np.ceil(_f(ny) / n)
    samples = ramp_samples(nints, ngroups, rows, nx)
    slice_bytes = np.maximum(UNPICKLE_PER_SLICE_SAMPLE * samples,
                             JUMP_WORKER_SLICE_PER_SAMPLE * samples + jump_find_crs_bytes(nints, ngroups, rows, nx))
    return np.where(n > 1, slice_bytes, 0.0)


def ramp_fit_bytes(nints, ngroups, ny, nx, gain_pixels, readnoise_pixels, processes=1) -> np.ndarray:
    """Peak bytes of ramp_fit (OLS_C) above the ramp, in the pipeline's own process.

    GAIN and READNOISE read whole, then the larger of the CHARGELOSS check over groupdq and the
    outputs (rate, rateints) with the default arrays a CubeModel makes before they are replaced;
    with workers, the parent's copies of every slice (kept), one slice's pickle, and the workers'
    results beside the assembled outputs.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The ramp.
    gain_pixels, readnoise_pixels : array_like
        Pixels of the two references.
    processes : array_like, optional
        Slices stcal makes (``maximum_cores`` resolved, at most the rows).

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    samples = ramp_samples(nints, ngroups, ny, nx)
    pixels = _f(ny) * _f(nx)
    ints = _f(nints) * pixels
    refs = _references(gain_pixels, readnoise_pixels, pixels)
    outputs = RATEINTS_PER_PIXEL_INT * ints + RATE_PER_PIXEL * pixels
    single = np.maximum(RAMP_FIT_CHARGELOSS_PER_SAMPLE * samples, outputs + MODEL_DEFAULTS_PER_PIXEL * ints)
    n = np.maximum(_f(processes), 1.0)
    slices = RAMP_FIT_SLICES_PER_SAMPLE * samples + RAMP_FIT_SLICES_PER_PIXEL * pixels
    multi = np.maximum(slices + np.maximum(RAMP_FIT_PICKLE_PER_SLICE_SAMPLE * samples / n, 2 * outputs),
                       outputs + MODEL_DEFAULTS_PER_PIXEL * ints)
    return refs + np.where(_f(processes) > 1, multi, single)


def ramp_fit_worker_bytes(nints, ngroups, ny, nx, processes) -> np.ndarray:
    """Bytes one ramp_fit worker holds (its interpreter not included): its slice and its outputs.

    The larger of unpickling the slice (the received bytes beside the arrays) and fitting it.

    Parameters
    ----------
    nints, ngroups, ny, nx : array_like
        The whole ramp.
    processes : array_like
        Slices (workers); 1 gives 0 (no worker).

    Returns
    -------
    numpy.ndarray
        Bytes per row, per worker.
    """
    n = np.maximum(_f(processes), 1.0)
    rows = np.ceil(_f(ny) / n)
    pixels = rows * _f(nx)
    samples = ramp_samples(nints, ngroups, rows, nx)
    slice_bytes = np.maximum(UNPICKLE_PER_SLICE_SAMPLE * samples,
                             RAMP_FIT_WORKER_SLICE_PER_SAMPLE * samples
                             + RATEINTS_PER_PIXEL_INT * _f(nints) * pixels + RATE_PER_PIXEL * pixels)
    return np.where(n > 1, slice_bytes, 0.0)


def gain_scale_bytes(gain_pixels) -> np.ndarray:
    """Peak bytes of gain_scale: the GAIN reference, read to look for GAINFACT (no-op without it).

    Parameters
    ----------
    gain_pixels : array_like
        Pixels of the GAIN reference.

    Returns
    -------
    numpy.ndarray
        Bytes per row.
    """
    return REF_FLOAT * _f(gain_pixels)


def detector1_step_peaks(nints, ngroups, ny, nx, *, instrument="NIRCAM", raw_rows=None, dark_frames=None,
                         dark_ints=1, full_frame_pixels=2048 * 2048, processes=1) -> dict[str, float]:
    """Counted bytes at each default-on step's peak: the ramp carried into it plus the step's own.

    References are taken at the sizes CRDS delivers most: mask, saturation, linearity, gain and
    readnoise over the full frame (IRS2: mask and superbias 3200 rows); superbias, dark and reset
    over the science array. Worker processes' bytes are not included (``jump_worker_bytes``).

    Parameters
    ----------
    nints, ngroups, ny, nx : int
        The ramp after refpix (IRS2: 2048 science rows).
    instrument : str, optional
        "MIRI" follows MIRI's step order and references.
    raw_rows : int or None, optional
        Raw rows of an IRS2 frame (3200); None otherwise.
    dark_frames : int or None, optional
        Frames of the dark (default: ngroups).
    dark_ints : int, optional
        Integrations of a MIRI dark and reset.
    full_frame_pixels : int, optional
        The detector's full frame.
    processes : int, optional
        jump and ramp_fit slices.

    Returns
    -------
    dict of str to float
        Bytes per step.
    """
    miri = instrument.upper() == "MIRI"
    rows_in = raw_rows if raw_rows is not None else ny
    full = full_frame_pixels
    sci = ny * nx
    raw_pixels = rows_in * nx
    dark_frames = ngroups if dark_frames is None else dark_frames
    before = float(ramp_model_bytes(nints, ngroups, rows_in, nx))
    # IRS2: after refpix the data is a view of the raw frame until dark_current copies it
    between = float(DATA_PER_SAMPLE * ramp_samples(nints, ngroups, rows_in, nx)
                    + GROUPDQ_PER_SAMPLE * ramp_samples(nints, ngroups, ny, nx) + PIXELDQ_PER_PIXEL * sci)
    after = float(ramp_model_bytes(nints, ngroups, ny, nx, after_dark=True))
    peaks = {"open": float(uncal_open_bytes(nints, ngroups, rows_in, nx)),
             "dq_init": before + float(dq_init_bytes(raw_pixels if raw_rows else full))}
    peaks["saturation"] = before + float(saturation_bytes(nints, ngroups, ny, nx, full, 0 if miri else raw_pixels,
                                                          raw_rows=raw_rows))
    if miri:
        peaks["reset"] = before + float(reset_bytes(dark_ints, ngroups, sci))
        peaks["linearity"] = before + float(linearity_bytes(ngroups, ny, nx, full))
        peaks["rscd"] = before + float(rscd_bytes(nints, ny, nx))
        peaks["dark_current"] = before + float(dark_current_bytes(nints, ngroups, ny, nx, dark_frames, sci,
                                                                  dark_ints, "MIRI"))
        peaks["refpix"] = after + float(refpix_bytes(nints, ngroups, ny, nx, full, "MIRI"))
    else:
        peaks["superbias"] = before + float(superbias_bytes(raw_pixels))
        peaks["refpix"] = before + float(refpix_bytes(nints, ngroups, ny, nx, full, instrument, raw_rows))
        peaks["linearity"] = between + float(linearity_bytes(ngroups, ny, nx, full))
        peaks["dark_current"] = between + float(dark_current_bytes(nints, ngroups, ny, nx, dark_frames, sci))
    peaks["jump"] = after + float(jump_bytes(nints, ngroups, ny, nx, full, full, processes))
    peaks["ramp_fit"] = after + float(ramp_fit_bytes(nints, ngroups, ny, nx, full, full, processes))
    products = RATEINTS_PER_PIXEL_INT * nints * sci + RATE_PER_PIXEL * sci
    peaks["gain_scale"] = products + float(gain_scale_bytes(full))
    return peaks
