"""Header-only JWST exposures for examples, tests and benchmarks.

Writes small FITS files (a primary header and an empty SCI extension) with the
keywords the pipeline and jwst's association rules read, laid out as real
programs are: several detectors per exposure, dither points, mosaic tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from astropy.io import fits

from jwst_memest.atomic import atomic_write
from jwst_memest.pipelines import AMI_EXP_TYPES, CORON_EXP_TYPES, TSO_EXP_TYPES, pipeline_for_exposure
from jwst_memest.instruments import (IMAGING_PIXEL_SCALE, SPECTRAL_PIXEL_AREA, WFSS_EXP_TYPES, exposure_file_name,
                                     full_frame, imaging_pixel_scale)

__all__ = [
    "ExposureLayout",
    "write_header_exposures",
    "detector_offset",
    "instrument_of",
    "NIRCAM_SW_DETECTORS",
    "NIRCAM_LW_DETECTORS",
    "SLIT_SHAPE",
    "NIRSPEC_FIXED_SLITS",
    "MRS_DETECTOR_CHANNELS",
    "CORON_EXP_TYPES",
    "AMI_EXP_TYPES",
    "TSO_EXP_TYPES",
    "level3_pipeline_of",
    "level2b_suffix",
]

NIRCAM_SW_DETECTORS = ("NRCA1", "NRCA2", "NRCA3", "NRCA4", "NRCB1", "NRCB2", "NRCB3", "NRCB4")
NIRCAM_LW_DETECTORS = ("NRCALONG", "NRCBLONG")

# Detector centre offsets from the boresight (arcsec, V2/V3-like) for multi-detector layouts.
_NIRCAM_OFFSETS = {
    "NRCA1": (-80, -32), "NRCA2": (-80, 32), "NRCA3": (-16, -32), "NRCA4": (-16, 32),
    "NRCB1": (48, 32), "NRCB2": (48, -32), "NRCB3": (112, 32), "NRCB4": (112, -32),
    "NRCALONG": (-48, 0), "NRCBLONG": (80, 0),
}
_INSTRUMENT_OF = {"NRC": "NIRCAM", "MIR": "MIRI", "NIS": "NIRISS", "NRS": "NIRSPEC", "FGS": "FGS"}
# Size (rows, columns) of one extracted 2-D spectrum (one SCI extension of a multi-slit cal file) by
# exposure type: dispersion along columns, the slit or the source's cross-dispersion along rows.
SLIT_SHAPE = {"NRS_MSASPEC": (35, 1300), "NRS_FIXEDSLIT": (45, 1500), "NIS_WFSS": (40, 200), "NRC_WFSS": (40, 1100)}
# NIRSpec fixed slits in the order a fixed-slit exposure lists them
NIRSPEC_FIXED_SLITS = ("S200A1", "S200A2", "S400A1", "S1600A1", "S200B1")
MRS_DETECTOR_CHANNELS = {"MIRIFUSHORT": "12", "MIRIFULONG": "34"}
# Exposure types whose Level-3 pipeline is calwebb_coron3, calwebb_ami3 or calwebb_tso3; their Level-2b
# members are per-integration ``calints`` products. MIR_IMAGE is TSO only in a TSO visit (TSOVISIT).


@dataclass
class ExposureLayout:
    """An observation to write: detectors x dither points x mosaic tiles.

    Parameters
    ----------
    program, observation : int, optional
        Program and observation numbers.
    exp_type : str, optional
        EXP_TYPE of the exposures.
    detectors : tuple of str, optional
        The detectors of each exposure.
    filter, pupil : str, optional
        FILTER and PUPIL.
    grating, band, channel : str or None, optional
        GRATING, BAND and CHANNEL, when given (MRS detectors always record their own channels;
        NIRCam's channel follows the detector).
    subarray : str, optional
        SUBARRAY.
    subarray_shape : tuple of int or None, optional
        (columns, rows) of the subarray; the detector's full frame when None.
    dither_points : int, optional
        Dither points per mosaic tile.
    dither_step_arcsec : float, optional
        Dither step, arcsec.
    mosaic_tiles : tuple of int, optional
        Tiles along x and y.
    tile_step_arcsec : float, optional
        Tile step, arcsec.
    target_ra, target_dec : float, optional
        The target, degrees.
    roll : float, optional
        Roll angle, degrees.
    nints, ngroups : int, optional
        Integrations and groups.
    suffix : str, optional
        Product suffix of the file names (``uncal``, ``cal``, ...).
    target_name : str, optional
        TARGNAME.
    visit_type : str, optional
        VISITYPE.
    n_slits : int, optional
        Slits (NIRSpec MOS/FS) or sources (WFSS) per exposure, each its own SCI extension.
    psf_exposures : int, optional
        PSF reference exposures (coron3, ami3), written after the science ones with IS_PSF.
    tso_visit : bool, optional
        A TSO visit (TSOVISIT): makes MIR_IMAGE exposures calwebb_tso3's.
    star_density : float, optional
        Stars per arcsec^2 in the synthetic cal files' scene (headers carry none).
    extra : dict, optional
        More primary header keywords.
    """

    program: int = 1234
    observation: int = 1
    exp_type: str = "NRC_IMAGE"
    detectors: tuple[str, ...] = ("NRCA1",)
    filter: str = "F150W"
    pupil: str = "CLEAR"
    grating: str | None = None
    band: str | None = None
    channel: str | None = None
    subarray: str = "FULL"
    subarray_shape: tuple[int, int] | None = None
    dither_points: int = 1
    dither_step_arcsec: float = 3.0
    mosaic_tiles: tuple[int, int] = (1, 1)
    tile_step_arcsec: float = 40.0
    target_ra: float = 53.16
    target_dec: float = -27.78
    roll: float = 0.0
    nints: int = 1
    ngroups: int = 5
    suffix: str = "uncal"
    target_name: str = "EXAMPLE-FIELD"
    visit_type: str = "PRIME_TARGETED_FIXED"
    n_slits: int = 0  # slits (NIRSpec MOS/FS) or sources (WFSS) per exposure, each its own SCI extension
    psf_exposures: int = 0  # PSF reference exposures (coron3, ami3), written after the science ones with IS_PSF
    tso_visit: bool = False  # a TSO visit (TSOVISIT): makes MIR_IMAGE exposures calwebb_tso3's
    star_density: float = 0.05  # stars per arcsec^2 in the synthetic cal files' scene (headers carry none)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_plan(cls, params: dict) -> "ExposureLayout":
        """The layout a corpus plan's (or a corpus row's ``layout``) parameters describe.

        Keys that are not layout fields (run settings, PSF counts of other writers) are left out;
        lists become tuples.

        Parameters
        ----------
        params : dict
            The plan's parameters.

        Returns
        -------
        ExposureLayout
            The layout.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in names})

    def pointings(self) -> list[tuple[float, float]]:
        """Boresight offsets (arcsec) of every exposure: tiles, then dither points within a tile.

        Returns
        -------
        list of tuple of float
            (x, y) offsets, arcsec.
        """
        nx, ny = self.mosaic_tiles
        out = []
        for j in range(ny):
            for i in range(nx):
                for d in range(self.dither_points):
                    angle = 2 * math.pi * d / max(self.dither_points, 1)
                    r = self.dither_step_arcsec * (1 + d // 4) if d else 0.0
                    out.append((i * self.tile_step_arcsec + r * math.cos(angle),
                                j * self.tile_step_arcsec + r * math.sin(angle)))
        return out


def level3_pipeline_of(layout: ExposureLayout) -> str | None:
    """coron3, ami3 or tso3 for the exposure types those pipelines take; None for image3/spec3 ones.

    Parameters
    ----------
    layout : ExposureLayout
        The layout.

    Returns
    -------
    str or None
        The pipeline key, or None.
    """
    pipeline = pipeline_for_exposure(layout.exp_type, layout.tso_visit)
    return None if pipeline in ("image3", "spec3") else pipeline


def level2b_suffix(layout: ExposureLayout) -> str:
    """Suffix of the layout's Level-2b members: calints for the per-integration pipelines, else cal.

    Parameters
    ----------
    layout : ExposureLayout
        The layout.

    Returns
    -------
    str
        ``calints`` or ``cal``.
    """
    return "calints" if level3_pipeline_of(layout) else "cal"


def _offset_sky(ra0, dec0, dx_arcsec, dy_arcsec, roll_deg):
    roll = math.radians(roll_deg)
    east = dx_arcsec * math.cos(roll) - dy_arcsec * math.sin(roll)
    north = dx_arcsec * math.sin(roll) + dy_arcsec * math.cos(roll)
    dec = dec0 + north / 3600.0
    ra = ra0 + east / 3600.0 / math.cos(math.radians(dec0))
    return ra % 360.0, dec


def write_header_exposures(layout: ExposureLayout, directory: str | Path) -> list[Path]:
    """Write the layout's exposures as header-only FITS files.

    PSF reference exposures (``psf_exposures``) follow the science ones, at the target, with IS_PSF true.

    Parameters
    ----------
    layout : ExposureLayout
        The exposures to write.
    directory : str or pathlib.Path
        Where to write them (made when absent).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    pointings = layout.pointings()
    n_exposures = len(pointings) + layout.psf_exposures
    for number, (bx, by) in enumerate(pointings, start=1):
        for detector in layout.detectors:
            paths.append(_write_one(layout, directory, number, n_exposures, detector, bx, by))
    for number in range(len(pointings) + 1, n_exposures + 1):
        for detector in layout.detectors:
            paths.append(_write_one(layout, directory, number, n_exposures, detector, 0.0, 0.0, is_psf=True))
    return paths


def instrument_of(detector: str) -> str:
    """Instrument name of a detector name (NRCA1 -> NIRCAM, MIRIMAGE -> MIRI, ...).

    Parameters
    ----------
    detector : str
        DETECTOR.

    Returns
    -------
    str
        INSTRUME, or ``UNKNOWN``.
    """
    if detector.startswith("GUIDER"):
        return "FGS"
    return _INSTRUMENT_OF.get(detector[:3] if not detector.startswith("MIRI") else "MIR", "UNKNOWN")


def detector_offset(layout: ExposureLayout, detector: str) -> tuple[float, float]:
    """Offset (arcsec east, north at roll 0) of a detector's centre from the boresight.

    Parameters
    ----------
    layout : ExposureLayout
        The layout (single-detector layouts are centred on the boresight).
    detector : str
        DETECTOR.

    Returns
    -------
    tuple of float
        The offset, arcsec.
    """
    return _NIRCAM_OFFSETS.get(detector, (0.0, 0.0)) if len(layout.detectors) > 1 else (0.0, 0.0)


def _write_one(layout, directory, number, n_exposures, detector, bx, by, is_psf=False) -> Path:
    instrument = instrument_of(detector)
    ncols, nrows = layout.subarray_shape or full_frame(detector)
    dx, dy = detector_offset(layout, detector)
    ra, dec = _offset_sky(layout.target_ra, layout.target_dec, bx + dx, by + dy, layout.roll)
    visit, visit_group, sequence, activity = 1, "03", "1", "01"
    # as operations write it: one per activity (visit, then visit group, sequence and activity), not per exposure
    obs_id = f"V{layout.program:05d}{layout.observation:03d}{visit:03d}P00000000{visit_group}{sequence}{activity}"
    name = exposure_file_name(layout.program, layout.observation, number, detector, layout.suffix)
    channel = layout.channel
    if detector in MRS_DETECTOR_CHANNELS:  # each MRS detector records two channels, whatever the layout says
        channel = MRS_DETECTOR_CHANNELS[detector]
    elif channel is None and instrument == "NIRCAM":
        channel = "LONG" if detector.endswith("LONG") else "SHORT"
    module = detector[3] if instrument == "NIRCAM" else None
    primary = fits.Header()
    cards = {
        "TELESCOP": "JWST", "ORIGIN": "STSCI", "FILENAME": name, "DATAMODL": "Level1bModel",
        "DATE-OBS": "2024-01-10", "TIME-OBS": f"10:{number % 60:02d}:00.000",
        "EXPSTART": 60319.4 + number * 1e-3, "EXPMID": 60319.4 + number * 1e-3 + 5e-4,
        "EXPEND": 60319.4 + number * 1e-3 + 1e-3,
        "PROGRAM": f"{layout.program:05d}", "OBSERVTN": f"{layout.observation:03d}", "VISIT": f"{visit:03d}",
        "VISITGRP": visit_group, "SEQ_ID": sequence, "ACT_ID": activity, "EXPOSURE": f"{number:05d}",
        "OBS_ID": obs_id, "VISIT_ID": f"{layout.program:05d}{layout.observation:03d}{visit:03d}",
        "TEMPLATE": "NIRCam Imaging" if instrument == "NIRCAM" else f"{instrument} Imaging",
        "VISITYPE": layout.visit_type, "VISITSTA": "SUCCESSFUL", "NEXPOSUR": n_exposures * len(layout.detectors),
        "TARGPROP": layout.target_name, "TARGNAME": layout.target_name, "TARGTYPE": "FIXED",
        "TARG_RA": layout.target_ra, "TARG_DEC": layout.target_dec,
        "INSTRUME": instrument, "DETECTOR": detector, "FILTER": layout.filter, "PUPIL": layout.pupil,
        "EXP_TYPE": layout.exp_type, "EXPCOUNT": number, "EXPRIPAR": "PRIME",
        "NINTS": layout.nints, "NGROUPS": layout.ngroups, "NFRAMES": 1, "READPATT": "MEDIUM8",
        "SUBARRAY": layout.subarray, "SUBSTRT1": 1, "SUBSTRT2": 1, "SUBSIZE1": ncols, "SUBSIZE2": nrows,
        "FASTAXIS": -1, "SLOWAXIS": 2,
        "PATTTYPE": "FULL" if layout.dither_points > 1 else "NONE",
        "NUMDTHPT": layout.dither_points, "PATT_NUM": (number - 1) % max(layout.dither_points, 1) + 1,
        "BKGDTARG": False, "IS_PSF": is_psf, "IS_IMPRT": False,
        "TSOVISIT": level3_pipeline_of(layout) == "tso3",
        "PNTG_SEQ": 1, "EXSEGNUM": 1, "EXSEGTOT": 1,
    }
    for key, value in (("MODULE", module), ("CHANNEL", channel), ("GRATING", layout.grating), ("BAND", layout.band)):
        if value is not None:
            cards[key] = value
    cards.update(layout.extra)
    for key, value in cards.items():
        primary[key] = value
    extensions = _slit_headers(layout) or [fits.ImageHDU(name="SCI")]
    wcs = {
        "RA_REF": ra, "DEC_REF": dec, "ROLL_REF": layout.roll, "V2_REF": 0.0, "V3_REF": 0.0, "V3I_YANG": 0.0,
        "VPARITY": -1, "CRVAL1": ra, "CRVAL2": dec, "CRPIX1": ncols / 2, "CRPIX2": nrows / 2,
        "PIXAR_A2": _pixel_area(detector, instrument),
    }
    for key, value in wcs.items():
        extensions[0].header[key] = value
    path = directory / name
    with atomic_write(path, "wb") as handle:
        fits.HDUList([fits.PrimaryHDU(header=primary), *extensions]).writeto(handle)
    return path


def _pixel_area(detector: str, instrument: str) -> float:
    """PIXAR_A2 (arcsec^2): the imaging detectors' own, the synthetic spectroscopic exposures' otherwise."""
    if detector in IMAGING_PIXEL_SCALE or instrument == "NIRCAM":
        return imaging_pixel_scale(detector) ** 2
    return SPECTRAL_PIXEL_AREA


def _slit_headers(layout: ExposureLayout) -> list[fits.ImageHDU]:
    """Data-less SCI extensions, one per slit or source, with the cutout size a cal file's slit carries
    (SLTSIZE1/SLTSIZE2): a header reader sees what it would see in the real multi-slit file."""
    if not layout.n_slits:
        return []
    ny, nx = SLIT_SHAPE.get(layout.exp_type, (40, 1000))
    extensions = []
    for number in range(1, layout.n_slits + 1):
        hdu = fits.ImageHDU(name="SCI", ver=number)
        hdu.header["SLTNAME"] = (NIRSPEC_FIXED_SLITS[(number - 1) % len(NIRSPEC_FIXED_SLITS)]
                                 if layout.exp_type == "NRS_FIXEDSLIT" else str(number))
        hdu.header["SLTSIZE1"], hdu.header["SLTSIZE2"] = nx, ny
        if layout.exp_type in WFSS_EXP_TYPES:
            # one first-order cutout per source, dispersed along its rows (as the synthetic cal files)
            hdu.header["SOURCEID"], hdu.header["SPORDER"], hdu.header["DISPAXIS"] = number, 1, 1
        extensions.append(hdu)
    return extensions
