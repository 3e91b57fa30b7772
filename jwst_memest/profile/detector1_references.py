"""Synthetic calwebb_detector1 references for one exposure layout, written once into a cache folder.

Every reference type a default-on detector1 step reads gets a file of the real model (MaskModel,
SaturationModel, SuperBiasModel, LinearityModel, DarkModel / DarkNirspecModel / DarkMIRIModel,
GainModel, ReadnoiseModel, MIRI ResetModel and RSCDModel, NIRSpec IRS2Model) at the real shape:

- mask, saturation, linearity, gain and readnoise cover the detector's full frame, as CRDS delivers
  most of them, and are cut out for subarrays by the steps (``jwst.lib.reffile_utils``);
- superbias, dark and (MIRI) reset cover the exposure's subarray, as CRDS's subarray darks do;
- NIRSpec IRS2: mask and superbias are 3200 x 2048 (raw), saturation 2048 x 2048
  (``saturation.irs2_flag_saturation`` works on the de-interleaved frame), and what follows refpix
  (linearity, dark, gain, readnoise) 2048 x 2048; the IRS2 refpix table has 2 x 712 x 2048 rows.
- the dark holds one frame per group (NFRAMES=1, GROUPGAP=0) and as many frames as the readout
  spans (``Detector1Exposure.frames``), or ``dark_frames`` when given; MIRI darks are 4-D with
  min(nints, 2) integrations of ngroups groups.

Files are named by detector, subarray and (dark, reset) size, and written through
``atomic.write_datamodel``, so a cache folder shared by several runs never holds a half-written file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.profile.detector1_layouts import Detector1Exposure

__all__ = ["write_detector1_references", "detector1_arguments", "reference_shape", "dark_frames_of",
           "DETECTOR1_REFTYPES"]

# step -> the reference types it reads (what the pipeline would otherwise prefetch from CRDS)
DETECTOR1_REFTYPES = {
    "dq_init": ("mask",),
    "saturation": ("saturation", "superbias"),
    "ipc": ("ipc",),
    "superbias": ("superbias",),
    "refpix": ("refpix", "sirskernel"),
    "linearity": ("linearity",),
    "dark_current": ("dark",),
    "reset": ("reset",),
    "rscd": ("rscd",),
    "jump": ("gain", "readnoise"),
    "ramp_fit": ("gain", "readnoise"),
    "gain_scale": ("gain",),
}

_AUTHOR = "jwst_memest synthetic"


def dark_frames_of(exposure: Detector1Exposure, dark_frames: int | None = None) -> int:
    """Frames (= groups at NFRAMES=1) of the exposure's dark: at least those its readout spans.

    Parameters
    ----------
    exposure : jwst_memest.profile.detector1_layouts.Detector1Exposure
        The exposure.
    dark_frames : int or None, optional
        Frames asked for (MIRI's dark has the exposure's groups whatever is asked).

    Returns
    -------
    int
        Frames.
    """
    return max(int(dark_frames or 0), exposure.frames) if exposure.instrument != "MIRI" else exposure.ngroups


def reference_shape(exposure: Detector1Exposure, reftype: str) -> tuple[int, int]:
    """(rows, columns) of a reference type's images for the exposure.

    Parameters
    ----------
    exposure : jwst_memest.profile.detector1_layouts.Detector1Exposure
        The exposure.
    reftype : str
        The reference type (``mask``, ``superbias``, ``dark``, ...).

    Returns
    -------
    tuple of int
        Rows and columns.
    """
    full = exposure.full_shape
    if exposure.irs2:
        return (3200, 2048) if reftype in ("mask", "superbias") else (2048, 2048)
    if reftype in ("superbias", "dark", "reset"):
        return exposure.ysize, exposure.xsize
    return full


def _meta(model, exposure: Detector1Exposure, reftype: str, shape: tuple[int, int] | None) -> None:
    meta = model.meta
    meta.reftype = reftype
    meta.author = meta.pedigree = _AUTHOR
    meta.useafter = "2020-01-01T00:00:00"
    meta.description = f"synthetic {reftype} reference for offline detector1 profiling"
    meta.instrument.name = exposure.instrument
    meta.instrument.detector = exposure.detector
    if shape is None:  # a table (RSCD, IRS2): no exposure or subarray block
        return
    meta.exposure.type = exposure.exp_type
    subarray = shape == (exposure.ysize, exposure.xsize) or (exposure.irs2 and shape[1] == exposure.nx)
    if subarray:
        meta.subarray.name = exposure.subarray
        meta.subarray.xstart, meta.subarray.ystart = exposure.xstart, exposure.ystart
        meta.subarray.xsize, meta.subarray.ysize = exposure.xsize, exposure.ysize
    else:
        meta.subarray.name = "FULL"
        meta.subarray.xstart = meta.subarray.ystart = 1
        meta.subarray.ysize, meta.subarray.xsize = exposure.full_shape
    meta.subarray.fastaxis, meta.subarray.slowaxis = exposure.fastaxis, exposure.slowaxis


def _save(model, path: Path) -> Path:
    write_datamodel(model, path)
    model.close()
    return path


def _zeros_dq(shape) -> np.ndarray:
    return np.zeros(shape, dtype=np.uint32)


def _write_mask(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "mask")
    dq = _zeros_dq(shape)
    if not exposure.irs2 and exposure.instrument != "MIRI":  # 4-pixel reference border
        dq[:4, :] = dq[-4:, :] = dq[:, :4] = dq[:, -4:] = 2**31  # REFERENCE_PIXEL
    dq.flat[::9973] |= 1  # a few dead pixels (DO_NOT_USE)
    model = datamodels.MaskModel(dq=dq)
    _meta(model, exposure, "mask", shape)
    return _save(model, path)


def _write_saturation(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "saturation")
    model = datamodels.SaturationModel(data=np.full(shape, 60000.0, np.float32), dq=_zeros_dq(shape))
    _meta(model, exposure, "saturation", shape)
    return _save(model, path)


def _write_superbias(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "superbias")
    model = datamodels.SuperBiasModel(data=np.full(shape, 12000.0, np.float32),
                                      err=np.full(shape, 5.0, np.float32), dq=_zeros_dq(shape))
    _meta(model, exposure, "superbias", shape)
    return _save(model, path)


def _write_linearity(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "linearity")
    coeffs = np.zeros((5, *shape), np.float32)
    coeffs[1] = 1.0
    coeffs[2] = 1e-7
    model = datamodels.LinearityModel(coeffs=coeffs, dq=_zeros_dq(shape))
    _meta(model, exposure, "linearity", shape)
    return _save(model, path)


def _write_dark(exposure, path, frames):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "dark")
    if exposure.instrument == "MIRI":
        nints = min(exposure.nints, 2)
        cube = (nints, frames, *shape)
        model = datamodels.DarkMIRIModel(data=np.zeros(cube, np.float32), err=np.full(cube, 0.1, np.float32),
                                         dq=np.zeros(cube, np.uint32))
        model.meta.exposure.nints = nints
    else:
        cls = datamodels.DarkNirspecModel if exposure.instrument == "NIRSPEC" else datamodels.DarkModel
        cube = (frames, *shape)
        model = cls(data=np.zeros(cube, np.float32), err=np.full(cube, 0.1, np.float32), dq=_zeros_dq(shape))
    model.data[...] = 0.01 * np.arange(1, frames + 1, dtype=np.float32).reshape(-1, 1, 1)
    model.meta.exposure.nframes = 1
    model.meta.exposure.groupgap = 0
    model.meta.exposure.ngroups = frames
    model.meta.exposure.readpatt = exposure.readpatt
    _meta(model, exposure, "dark", shape)
    return _save(model, path)


def _write_gain(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "gain")
    model = datamodels.GainModel(data=np.full(shape, 2.0, np.float32))
    _meta(model, exposure, "gain", shape)
    return _save(model, path)


def _write_readnoise(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "readnoise")
    model = datamodels.ReadnoiseModel(data=np.full(shape, 10.0, np.float32))
    _meta(model, exposure, "readnoise", shape)
    return _save(model, path)


def _write_reset(exposure, path):
    from stdatamodels.jwst import datamodels

    shape = reference_shape(exposure, "reset")
    nints, ngroups = min(exposure.nints, 2), exposure.ngroups
    cube = (nints, ngroups, *shape)
    model = datamodels.ResetModel(data=np.zeros(cube, np.float32), err=np.zeros(cube, np.float32),
                                  dq=_zeros_dq(shape))
    model.meta.exposure.nints, model.meta.exposure.ngroups = nints, ngroups
    model.meta.exposure.readpatt = exposure.readpatt
    _meta(model, exposure, "reset", shape)
    return _save(model, path)


def _write_rscd(exposure, path):
    from stdatamodels.jwst import datamodels

    dtype = [("subarray", "S17"), ("readpatt", "S12"), ("group_skip1", "<i4"), ("group_skip", "<i4")]
    rows = [(subarray, readpatt, 1, 2) for subarray in ("FULL", "SUB256", "SUB128", "SUB64", "BRIGHTSKY",
                                                        "MASK1065", "MASK1140", "MASK1550", "MASKLYOT",
                                                        "SLITLESSPRISM")
            for readpatt in ("FASTR1", "SLOWR1", "FAST", "SLOW")]
    model = datamodels.RSCDModel()
    model.rscd_group_skip_table = np.array(rows, dtype=dtype)
    _meta(model, exposure, "rscd", None)
    return _save(model, path)


def _write_irs2(exposure, path):
    from stdatamodels.jwst import datamodels

    n = 2 * 712 * 2048
    names = [f"{kind}_{i}" for kind in ("alpha", "beta") for i in range(4)]
    table = np.zeros(n, dtype=[(name, "<f4") for name in names])
    # alpha (real part) 1 and beta 0: the reference-pixel correction of the IRS2 algorithm, run in full
    for i in range(4):
        table[f"alpha_{i}"][0::2] = 1.0
    dq_table = np.array([(i + 1, j, 0) for i in range(4) for j in (1, 2)],
                        dtype=[("output", "<u2"), ("odd_even", "<u2"), ("mask", "<u4")])
    model = datamodels.IRS2Model(irs2_table=table, dq_table=dq_table)
    _meta(model, exposure, "refpix", None)
    return _save(model, path)


def write_detector1_references(exposure: Detector1Exposure, cache: str | Path,
                               dark_frames: int | None = None) -> dict[str, Path]:
    """reftype -> file for the exposure, each written into ``cache`` unless already there.

    Parameters
    ----------
    exposure : jwst_memest.profile.detector1_layouts.Detector1Exposure
        The exposure.
    cache : str or pathlib.Path
        The reference cache folder.
    dark_frames : int or None, optional
        Frames of the dark (`dark_frames_of`).

    Returns
    -------
    dict of str to pathlib.Path
        Each reference type's file.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    irs2 = "_irs2" if exposure.irs2 else ""
    full = f"{exposure.detector.lower()}{irs2}_full"
    sub = f"{exposure.detector.lower()}{irs2}_{exposure.subarray.lower()}_{exposure.xstart}_{exposure.ystart}"
    frames = dark_frames_of(exposure, dark_frames)
    writers = {
        "mask": (f"{full}_mask.fits", _write_mask),
        "saturation": (f"{full}_saturation.fits", _write_saturation),
        "linearity": (f"{full}_linearity.fits", _write_linearity),
        "gain": (f"{full}_gain.fits", _write_gain),
        "readnoise": (f"{full}_readnoise.fits", _write_readnoise),
    }
    if exposure.instrument == "MIRI":
        nints = min(exposure.nints, 2)
        writers["dark"] = (f"{sub}_dark_{nints}x{frames}.fits", lambda e, p: _write_dark(e, p, frames))
        writers["reset"] = (f"{sub}_reset_{nints}x{exposure.ngroups}.fits", _write_reset)
        writers["rscd"] = ("miri_rscd.fits", _write_rscd)
    else:
        writers["superbias"] = (f"{sub}_superbias.fits", _write_superbias)
        writers["dark"] = (f"{sub}_dark_{frames}.fits", lambda e, p: _write_dark(e, p, frames))
        if exposure.irs2:
            writers["refpix"] = (f"{exposure.detector.lower()}_irs2_refpix.fits", _write_irs2)
    paths = {}
    for reftype, (name, writer) in writers.items():
        path = cache / name
        if not path.is_file():
            writer(exposure, path)
        paths[reftype] = path
    return paths


def detector1_arguments(references: dict[str, Path]) -> list[str]:
    """``--steps.<step>.override_<reftype>=PATH|N/A`` for every step of detector1 that reads a reference.

    Parameters
    ----------
    references : dict of str to pathlib.Path
        Each reference type's file (`write_detector1_references`); the others are N/A.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    arguments = []
    for step, reftypes in DETECTOR1_REFTYPES.items():
        for reftype in reftypes:
            arguments.append(f"--steps.{step}.override_{reftype}={references.get(reftype, 'N/A')}")
    return arguments
