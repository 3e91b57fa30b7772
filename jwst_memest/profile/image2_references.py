"""Synthetic references of calwebb_image2's imaging steps (no CRDS here), of the operational shapes.

assign_wcs builds the WCS from a DISTORTION (detector -> V2/V3, an affine map at the detector's
plate scale) and, for MIRI, a FILTEROFFSET; flat_field divides by a full-frame FLAT; photom
scales by a PHOTOM row and attaches a full-frame pixel AREA map. Every array has the dtype and
full-frame shape of the delivered reference, because flat_field and photom load them whole and
cut the subarray out afterwards: the references' memory is the point of running them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.instruments import full_frame, imaging_pixel_scale
from jwst_memest.exposures import instrument_of
from jwst_memest.profile.reference_meta import set_reference_meta

__all__ = ["image2_reftypes", "write_image2_references", "image2_arguments"]


def image2_reftypes() -> dict[str, tuple[str, ...]]:
    """The steps of calwebb_image2 and the reference types each asks for, as jwst declares them.

    Every one must be answered offline (a file or N/A), or stpipe asks CRDS.

    Returns
    -------
    dict of str to tuple of str
        Step alias -> reference types.
    """
    from jwst.pipeline import Image2Pipeline

    return {alias: tuple(step.reference_file_types) for alias, step in Image2Pipeline.step_defs.items()
            if step.reference_file_types}


def _meta(model, reftype: str, detector: str, description: str) -> None:
    instrument = instrument_of(detector)
    set_reference_meta(model, reftype, instrument, description)
    model.meta.instrument.detector = detector
    if instrument == "NIRCAM":
        model.meta.instrument.channel = "LONG" if detector.endswith("LONG") else "SHORT"
        model.meta.instrument.module = detector[3]
        model.meta.instrument.p_pupil = "ANY|"


def _write_distortion(detector: str, v2_ref: float, v3_ref: float, path: Path) -> None:
    from astropy.modeling import models
    from stdatamodels.jwst import datamodels

    ncols, nrows = full_frame(detector)
    scale = imaging_pixel_scale(detector)
    x0, y0 = (ncols - 1) / 2, (nrows - 1) / 2
    # x runs against V2 (VPARITY = -1), as on every JWST imager
    forward = ((models.Shift(-x0) & models.Shift(-y0)) | (models.Scale(-scale) & models.Scale(scale))
               | (models.Shift(v2_ref) & models.Shift(v3_ref)))
    forward.inverse = ((models.Shift(-v2_ref) & models.Shift(-v3_ref))
                       | (models.Scale(-1 / scale) & models.Scale(1 / scale))
                       | (models.Shift(x0) & models.Shift(y0)))
    model = datamodels.DistortionModel()
    model.model = forward
    model.meta.input_units, model.meta.output_units = "pixel", "arcsec"
    _meta(model, "distortion", detector, "synthetic affine imaging distortion for offline profiling")
    write_datamodel(model, path)


def _write_filteroffset(detector: str, filter_name: str, path: Path) -> None:
    from stdatamodels.jwst import datamodels

    model = datamodels.FilteroffsetModel()
    model.filters = [{"name": filter_name, "column_offset": 0.0, "row_offset": 0.0}]
    _meta(model, "filteroffset", detector, "synthetic zero filter offsets for offline profiling")
    write_datamodel(model, path)


def _write_flat(detector: str, path: Path) -> None:
    from stdatamodels.jwst import datamodels

    ncols, nrows = full_frame(detector)
    rng = np.random.default_rng(7)
    model = datamodels.FlatModel(data=rng.normal(1.0, 0.01, (nrows, ncols)).astype(np.float32))
    model.dq = np.zeros((nrows, ncols), np.uint32)
    model.err = np.full((nrows, ncols), 0.005, np.float32)
    _meta(model, "flat", detector, "synthetic full-frame flat for offline profiling")
    model.meta.subarray.name = "FULL"
    model.meta.subarray.xstart, model.meta.subarray.ystart = 1, 1
    model.meta.subarray.xsize, model.meta.subarray.ysize = ncols, nrows
    write_datamodel(model, path)


def _write_photom(detector: str, filter_name: str, pupil: str | None, subarray: str, path: Path) -> None:
    from stdatamodels.jwst import datamodels

    instrument = instrument_of(detector)
    if instrument == "MIRI":
        model = datamodels.MirImgPhotomModel()
        rows = [(filter_name, subarray, 1.0, 0.01)]
        names = "filter,subarray,photmjsr,uncertainty"
    else:
        model = {"NIRCAM": datamodels.NrcImgPhotomModel, "NIRISS": datamodels.NisImgPhotomModel}[instrument]()
        rows = [(filter_name, pupil or "CLEAR", 0, 1.0, 0.01)] if instrument == "NIRCAM" else \
            [(filter_name, pupil or "CLEARP", 1.0, 0.01)]
        names = "filter,pupil,order,photmjsr,uncertainty" if instrument == "NIRCAM" else \
            "filter,pupil,photmjsr,uncertainty"
    model.phot_table = np.rec.fromrecords(rows, names=names)
    _meta(model, "photom", detector, "synthetic imaging photometric calibration for offline profiling")
    write_datamodel(model, path)


def _write_area(detector: str, path: Path) -> None:
    from stdatamodels.jwst import datamodels

    ncols, nrows = full_frame(detector)
    scale = imaging_pixel_scale(detector)
    model = datamodels.PixelAreaModel(data=np.ones((nrows, ncols), np.float32))
    model.meta.photometry.pixelarea_arcsecsq = scale**2
    model.meta.photometry.pixelarea_steradians = scale**2 * (math.pi / 180 / 3600) ** 2
    _meta(model, "area", detector, "synthetic full-frame pixel area map for offline profiling")
    write_datamodel(model, path)


def write_image2_references(detector: str, filter_name: str, pupil: str | None, subarray: str,
                            v2_ref: float, v3_ref: float, cache: str | Path) -> dict[str, Path]:
    """reftype -> file for an imaging exposure, each written into ``cache`` unless already there.

    Parameters
    ----------
    detector : str
        DETECTOR.
    filter_name, pupil : str
        FILTER and PUPIL (PHOTOM's row and MIRI's FILTEROFFSET match them).
    subarray : str
        SUBARRAY (MIRI's PHOTOM row matches it).
    v2_ref, v3_ref : float
        Where the detector's centre lands in the telescope frame (arcsec).
    cache : str or pathlib.Path
        The reference cache folder.

    Returns
    -------
    dict of str to pathlib.Path
        Each reference type's file; the types not listed are not applicable.
    """
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    name = detector.lower()
    optics = f"{name}_{filter_name}_{pupil or 'none'}_{subarray}".lower()
    writers = {
        "distortion": (f"{name}_{v2_ref:g}_{v3_ref:g}_distortion.asdf",
                       lambda p: _write_distortion(detector, v2_ref, v3_ref, p)),
        "flat": (f"{name}_flat.fits", lambda p: _write_flat(detector, p)),
        "photom": (f"{optics}_photom.fits", lambda p: _write_photom(detector, filter_name, pupil, subarray, p)),
        "area": (f"{name}_area.fits", lambda p: _write_area(detector, p)),
    }
    if instrument_of(detector) == "MIRI":
        writers["filteroffset"] = (f"{name}_{filter_name.lower()}_filteroffset.asdf",
                                   lambda p: _write_filteroffset(detector, filter_name, p))
    paths = {}
    for reftype, (file_name, writer) in writers.items():
        path = cache / file_name
        if not path.is_file():
            writer(path)
        paths[reftype] = path
    return paths


def image2_arguments(references: dict[str, Path]) -> list[str]:
    """``--steps.<step>.override_<reftype>=PATH|N/A`` for every reference calwebb_image2 asks for.

    Parameters
    ----------
    references : dict of str to pathlib.Path
        Each reference type's file (`write_image2_references`); the others are N/A.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    return [f"--steps.{step}.override_{reftype}={references.get(reftype, 'N/A')}"
            for step, reftypes in image2_reftypes().items() for reftype in reftypes]
