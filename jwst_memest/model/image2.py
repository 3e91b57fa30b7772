"""Level 2's peak memory per exposure (calwebb_image2; calwebb_spec2 for MIRI LRS and MRS, NIRISS SOSS):
the counted bytes of each step plus what the code cannot tell.

`jwst_memest.model.image2_terms` counts what each step allocates from jwst's source. What it leaves
out is fitted on the measured image2 corpus (``python -m jwst_memest.profile fit-image2``) and
stored in ``image2.yaml``: the interpreter and libraries (a constant), the share of the FLAT
reference still resident while photom runs (the allocator does not always return it), the pixel
map's WCS evaluation (per input pixel, as for calwebb_image3), a remainder per output pixel of
the i2d, extract_1d's own arrays per science pixel (its per-integration work, traced but not
counted), cube_build's point cloud per detector pixel of an IFU exposure, and ATOCA's model of the
SOSS orders (a constant and a cost per science pixel). The upper
bound is calibrated out of fold like the other bounds, plus the measured spread between
environments in bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from jwst_memest.model.image2_terms import FLAT_REFERENCE_PER_PIXEL, image2_step_bytes, spec2_step_bytes, wfss_step_bytes
from jwst_memest.model.spec2_counts import FLAT_PLANES, UNMEASURED_SPEC2_EXP_TYPES, unmeasured_spec2_step_bytes
from jwst_memest.model.terms import settings_matrix, setting_columns
from jwst_memest.model.stage_baseline import StageBaseline, read_stage_tree

__all__ = ["Image2Inputs", "Image2Baseline", "load_image2_baseline", "image2_file", "FITTED_TERMS",
           "IMAGE2_EXP_TYPES", "SPEC2_EXP_TYPES", "LEVEL2_EXP_TYPES", "ESTIMATED_LEVEL2_EXP_TYPES",
           "UNMEASURED_REASON"]

# the imaging exposure types calwebb_image2 calibrates (drizzled to an i2d unless a time series)
IMAGE2_EXP_TYPES = ("NRC_IMAGE", "MIR_IMAGE", "NIS_IMAGE", "FGS_IMAGE", "NRC_TSIMAGE")
_DRIZZLED_EXP_TYPES = ("NRC_IMAGE", "MIR_IMAGE", "NIS_IMAGE", "FGS_IMAGE")
# the spectroscopic types whose calwebb_spec2 is measured: MIRI LRS, a time series extracted per
# integration and a fixed slit resampled to its s2d; MIRI MRS, built into cubes; NIRISS SOSS, extracted
# by ATOCA; NIRCam and NIRISS WFSS, their cutouts counted from the source catalog
WFSS_EXP_TYPES = ("NRC_WFSS", "NIS_WFSS")
SPEC2_EXP_TYPES = ("MIR_LRS-SLITLESS", "MIR_LRS-FIXEDSLIT", "MIR_MRS", "NIS_SOSS") + WFSS_EXP_TYPES
LEVEL2_EXP_TYPES = IMAGE2_EXP_TYPES + SPEC2_EXP_TYPES
# and those estimated by their count alone, uncalibrated, the bound widened (`spec2_counts`)
ESTIMATED_LEVEL2_EXP_TYPES = LEVEL2_EXP_TYPES + UNMEASURED_SPEC2_EXP_TYPES
UNMEASURED_REASON = {
    "NIRSPEC": "no calwebb_spec2 run of NIRSpec is measured (its assign_wcs needs NIRSpec's optical references)",
    "NIRCAM": ("no calwebb_spec2 run of NIRCam's grism time series is measured (its assign_wcs needs the grism "
               "dispersion references)"),
}

FITTED_TERMS = ("base_bytes", "flat_reference_kept", "resample_in", "resample_out", "extract_per_pixel",
                "ifu_per_pixel", "atoca_bytes", "atoca_per_pixel", "soss_box_per_pixel", "wfss_per_cutout_nircam",
                "wfss_per_cutout_niriss", "wfss_background_per_pixel", "wfss_extract_niriss")
# where a first fit starts: the interpreter and jwst's imports; half the FLAT reference still
# resident during photom; the pixel map's cost per input pixel fitted on calwebb_image3 (traced
# 136-144); no remainder per output pixel; extract_1d's own arrays, about 14 B per science pixel
# above the two copies it runs beside (measured on MIRI LRS slitless); cube_build's point cloud,
# about 30 float64 arrays per detector pixel; ATOCA's model of the SOSS orders, a few GB however few
# the integrations (calwebb_tso3's fit: 4.4 GB), and its per-integration work; a WFSS cutout's deep
# copy of the grism WCS and its metadata, a term per instrument since its size follows the structure
# of the instrument's SPECWCS (traced: 0.65-0.9 MB with NIRCam's references of the operational
# structure, 1.1 MB with NIRISS's five orders), and bkg_subtract's clipping, about two float64 arrays
# per frame pixel; NIRISS's extract_1d holds about 100 MB more whatever its cutouts (resident, not
# traced: its runs at 20-600 cutouts all hold it; the first fit starts at 170 MB). wfss_contam is
# counted, not fitted (`contam_chunk_bytes`)
FIRST_FIT_START = {"base_bytes": 2.7e8, "flat_reference_kept": 0.5, "resample_in": 144.0, "resample_out": 0.0,
                   "extract_per_pixel": 14.0, "ifu_per_pixel": 240.0, "atoca_bytes": 4.4e9, "atoca_per_pixel": 14.0,
                   "soss_box_per_pixel": 14.0, "wfss_per_cutout_nircam": 7.0e5, "wfss_per_cutout_niriss": 1.1e6,
                   "wfss_background_per_pixel": 16.0, "wfss_extract_niriss": 1.7e8}


@dataclass(frozen=True)
class Image2Inputs:
    """What calwebb_image2's memory depends on, for one exposure.

    Parameters
    ----------
    instrument : str
        INSTRUME.
    exp_type : str
        EXP_TYPE.
    ny, nx : int
        Rows and columns of the science frame.
    nints : int
        Integrations the science array keeps (1 for a rate file; NINTS for rateints).
    full_frame_pixels : int
        Pixels of the detector's full frame (the references' shape).
    settings : object, optional
        The run's `jwst_memest.settings.RunSettings` (None: jwst's defaults).
    output_area_ratio : float, optional
        Output pixels per input pixel of the i2d (1 at the exposure's own scale).
    output_pixels : float or None, optional
        Pixels of the i2d grid when given (``output_shape``); else the frame times the area ratio.
    cube_voxels : float, optional
        Voxels of the IFU cubes calwebb_spec2 builds of the exposure (0 for other modes).
    slit_pixels, largest_slit_pixels : float, optional
        Pixels of every slit cutout extract_2d makes, and of the largest (NIRSpec FS and MOS; WFSS).
    cutouts : int, optional
        extract_2d's cutouts (WFSS: sources x orders).
    segment_pixels : float, optional
        WFSS: the catalog sources' pixels in the segmentation map (wfss_contam disperses them).
    dispersed_pixels : float, optional
        WFSS: pixels of the sources' dispersed images in every order wfss_contam simulates.
    filter, pupil : str or None, optional
        FILTER and PUPIL (WFSS: the blocking filter sets wfss_contam's wavelength samples).
    background_slit_pixels : float, optional
        Pixels of the MOS background slitlets' cutouts.
    background_exposures : int, optional
        Background members of the exposure's Level-2 association.
    flat_planes : int, optional
        Wavelength planes of NIRSpec's DFLAT (and MOS SFLAT).
    flat_planes_known : bool, optional
        Whether they were read from the selected references (a CRDS cache), not assumed.
    contam_geometry : jwst_memest.wfss_landing.ContamGeometry or None, optional
        WFSS: each source's share of every simulated order landing on the detector, when the
        references are at hand (None: every trace counted as landing as far as it can).
    """

    instrument: str
    exp_type: str
    ny: int
    nx: int
    nints: int
    full_frame_pixels: int
    settings: object = None
    output_area_ratio: float = 1.0
    output_pixels: float | None = None
    cube_voxels: float = 0.0
    slit_pixels: float = 0.0
    largest_slit_pixels: float = 0.0
    cutouts: int = 0
    segment_pixels: float = 0.0
    dispersed_pixels: float = 0.0
    filter: str | None = None
    pupil: str | None = None
    background_slit_pixels: float = 0.0
    background_exposures: int = 0
    flat_planes: int = FLAT_PLANES
    flat_planes_known: bool = False
    contam_geometry: object = None

    @property
    def measured(self) -> bool:
        """Whether runs of the exposure's type were measured (else it is estimated by its count alone).

        Returns
        -------
        bool
            False for ``UNMEASURED_SPEC2_EXP_TYPES``.
        """
        return self.exp_type not in UNMEASURED_SPEC2_EXP_TYPES

    @property
    def wfss(self) -> bool:
        """Whether the exposure is NIRCam's or NIRISS's wide-field slitless spectroscopy.

        Returns
        -------
        bool
            True for NRC_WFSS and NIS_WFSS.
        """
        return self.exp_type in WFSS_EXP_TYPES

    @property
    def contam(self) -> bool:
        """Whether calwebb_spec2 runs wfss_contam on the exposure (a WFSS one, the step not skipped).

        Returns
        -------
        bool
            True when the contamination correction runs.
        """
        return self.wfss and not bool(getattr(self.settings, "skip_wfss_contam", True))

    def contam_samples(self) -> dict[int, int]:
        """The wavelength samples wfss_contam disperses each segment pixel at, per order it simulates.

        Returns
        -------
        dict of int to int
            Order -> samples at ``wl_oversample`` (`jwst_memest.spec2_layout.wfss_order_samples`).
        """
        from jwst_memest.spec2_layout import wfss_blocking_filter, wfss_order_samples

        return wfss_order_samples(self.exp_type, wfss_blocking_filter(self.exp_type, self.filter, self.pupil),
                                  self.settings.wfss_contam_oversample)

    def contam_processes(self, cpus: int | None = None) -> tuple[int, int]:
        """wfss_contam's processes dispersing chunks at once, and the worker interpreters it spawns.

        Parameters
        ----------
        cpus : int or None, optional
            Cores of the machine (``maximum_cores`` of half or all).

        Returns
        -------
        tuple of (int, int)
            Chunks dispersed at once (at most the chunks there are); workers spawned (0 when it
            disperses in the pipeline's own process); zeros when the step does not run.
        """
        if not self.contam or self.segment_pixels <= 0:
            return 0, 0
        from jwst_memest.model.detector1 import worker_processes

        cores = worker_processes(self.settings.wfss_contam_maximum_cores, cpus)
        chunks = int(np.ceil(self.segment_pixels / float(self.settings.wfss_contam_max_pixels)))
        return min(cores, chunks), cores if cores > 1 else 0

    def contam_dispersion(self, cpus: int | None = None) -> tuple[float, int]:
        """wfss_contam's chunks dispersed at once, at their peak, and the worker interpreters it spawns.

        The chunks are ``max_pixels_per_chunk`` segment pixels each (the last the rest); each peaks
        at its largest order (`contam_chunk_bytes`). With the trace geometry known
        (``contam_geometry``) each chunk's sources land their own share; the ``maximum_cores``
        largest chunks are then taken as dispersed at once. Without it, the first chunks are
        counted, every trace landing as far as it can. With several processes the sum assumes
        the workers peak together.

        Parameters
        ----------
        cpus : int or None, optional
            Cores of the machine (``maximum_cores`` of half or all).

        Returns
        -------
        tuple of (float, int)
            Bytes of the chunks at once; worker interpreters (0 when it disperses in the pipeline's
            own process); zeros when the step does not run.
        """
        at_once, workers = self.contam_processes(cpus)
        if not at_once:
            return 0.0, 0
        from jwst_memest.model.image2_terms import contam_chunk_bytes

        per_chunk = float(self.settings.wfss_contam_max_pixels)
        samples = self.contam_samples()
        oversample = self.settings.wfss_contam_oversample
        if self.contam_geometry is not None:
            chunks = sorted((contam_chunk_bytes(pixels, samples, oversample, landing=shares)
                             for pixels, shares in self.contam_geometry.chunk_landing(per_chunk)), reverse=True)
            return sum(chunks[:at_once]), workers
        dispersing = sum(contam_chunk_bytes(min(per_chunk, self.segment_pixels - k * per_chunk), samples, oversample)
                         for k in range(at_once))
        return dispersing, workers

    @property
    def frame_pixels(self) -> int:
        """Pixels of one frame.

        Returns
        -------
        int
            Rows times columns.
        """
        return self.ny * self.nx

    @property
    def science_pixels(self) -> int:
        """Pixels of the science array, integrations included.

        Returns
        -------
        int
            Frame pixels times integrations.
        """
        return self.frame_pixels * max(self.nints, 1)

    @property
    def pipeline(self) -> str:
        """The Level-2 pipeline that calibrates the exposure.

        Returns
        -------
        str
            ``calwebb_spec2`` for the measured spectroscopic types, else ``calwebb_image2``.
        """
        spectra = SPEC2_EXP_TYPES + UNMEASURED_SPEC2_EXP_TYPES
        return "calwebb_spec2" if self.exp_type in spectra else "calwebb_image2"

    @property
    def resampled_spectrum(self) -> bool:
        """Whether calwebb_spec2 resamples the exposure to an s2d (a MIRI LRS fixed slit's rate).

        Returns
        -------
        bool
            True for a fixed slit's single slope image.
        """
        return self.exp_type == "MIR_LRS-FIXEDSLIT" and self.nints <= 1

    @property
    def atoca(self) -> bool:
        """Whether calwebb_spec2's extract_1d models the exposure with ATOCA (NIRISS SOSS, ``soss_atoca``).

        Returns
        -------
        bool
            True for NIS_SOSS unless the run sets ``soss_atoca`` false.
        """
        return self.exp_type == "NIS_SOSS" and bool(getattr(self.settings, "soss_atoca", True))

    @property
    def soss_box(self) -> bool:
        """Whether calwebb_spec2's extract_1d extracts NIRISS SOSS in a box (``soss_atoca`` false).

        Returns
        -------
        bool
            True for NIS_SOSS run without ATOCA.
        """
        return self.exp_type == "NIS_SOSS" and not self.atoca

    @property
    def drizzled(self) -> bool:
        """Whether resample makes an i2d of the exposure (2-D imaging, not skipped).

        Returns
        -------
        bool
            True when resample runs.
        """
        skipped = bool(getattr(self.settings, "skip_resample", False))
        return self.exp_type in _DRIZZLED_EXP_TYPES and self.nints <= 1 and not skipped

    @property
    def i2d_pixels(self) -> float:
        """Pixels of the i2d grid (0 when not drizzled).

        Returns
        -------
        float
            Pixels.
        """
        if not self.drizzled:
            return 0.0
        if self.output_pixels:
            return float(self.output_pixels)
        return float(self.frame_pixels) * self.output_area_ratio

    def to_dict(self) -> dict:
        """The inputs as a JSON-ready dict (the annotation's record of what was estimated).

        Returns
        -------
        dict
            Shape, integrations, i2d pixels.
        """
        record = {"instrument": self.instrument, "exp_type": self.exp_type, "ny": self.ny, "nx": self.nx,
                  "nints": self.nints, "science_pixels": self.science_pixels, "i2d_pixels": self.i2d_pixels}
        if self.cube_voxels:
            record["cube_voxels"] = self.cube_voxels
        if self.exp_type == "NIS_SOSS":
            record["soss_atoca"] = self.atoca
        if self.wfss:
            record.update(cutouts=self.cutouts, slit_pixels=self.slit_pixels, segment_pixels=self.segment_pixels,
                          dispersed_pixels=self.dispersed_pixels,
                          filter=self.filter, pupil=self.pupil, wfss_contam=self.contam)
            if self.contam:  # where the traces were taken to land
                record["wfss_contam_traces"] = (self.contam_geometry.source if self.contam_geometry is not None
                                                else "every trace landing as far as the detector allows "
                                                     "(no grism references at hand)")
        if not self.measured:
            record.update(slit_pixels=self.slit_pixels, largest_slit_pixels=self.largest_slit_pixels,
                          background_slit_pixels=self.background_slit_pixels,
                          background_exposures=self.background_exposures, flat_planes=self.flat_planes,
                          flat_planes_known=self.flat_planes_known)
        return record


class Image2Baseline(StageBaseline):
    """calwebb_image2's peak per exposure: counted steps, fitted interpreter, reference and pixel-map costs.

    Parameters
    ----------
    coefficients : dict
        ``FITTED_TERMS`` values.
    upper_bound : UpperBound
        The calibrated ratio of the bound to the estimate.
    version : str
        The fit's version.
    source : str, optional
        What it was fitted on.
    margin_bytes : float, optional
        Added to every bound: the measured spread between environments.
    measured_range : dict, optional
        The largest measured science pixels, per instrument: beyond it the bound is widened by
        ``beyond_range``.
    beyond_range : float, optional
        The widening of a bound beyond the measured range.
    unmeasured_mode : float, optional
        The widening of a bound of an exposure type no run measured (at least 1.25).
    """

    name = "physics_baseline_image2"
    first_fit_start = FIRST_FIT_START

    def stages(self, inputs: Image2Inputs) -> dict[str, float]:
        """Peak bytes of each step for one exposure (NaN-free: steps that do not run are left out).

        Parameters
        ----------
        inputs : Image2Inputs
            The exposure.

        Returns
        -------
        dict of str to float
            Bytes per step.
        """
        c = self.coefficients
        if not inputs.measured:
            counted = unmeasured_spec2_step_bytes(
                inputs.exp_type, inputs.frame_pixels, inputs.nints, inputs.full_frame_pixels, inputs.slit_pixels,
                inputs.largest_slit_pixels, inputs.background_slit_pixels, inputs.cube_voxels,
                inputs.background_exposures, inputs.nx, inputs.flat_planes)
            return {step: c["base_bytes"] + float(np.asarray(value).ravel()[0]) for step, value in counted.items()}
        if inputs.wfss:
            dispersing, workers = inputs.contam_dispersion()
            per_cutout = f"wfss_per_cutout_{'niriss' if inputs.instrument == 'NIRISS' else 'nircam'}"
            fitted = {term: c.get(term, FIRST_FIT_START[term])
                      for term in (per_cutout, "wfss_background_per_pixel")}
            counted = wfss_step_bytes(inputs.frame_pixels, inputs.full_frame_pixels, inputs.slit_pixels,
                                      inputs.cutouts, fitted[per_cutout], fitted["wfss_background_per_pixel"],
                                      c["extract_per_pixel"], dispersing, workers, inputs.dispersed_pixels)
            kept = {"photom": c["flat_reference_kept"] * FLAT_REFERENCE_PER_PIXEL * inputs.full_frame_pixels,
                    "extract_1d": c.get("wfss_extract_niriss", 0.0) if inputs.instrument.upper() == "NIRISS" else 0.0}
            return {step: c["base_bytes"] + float(np.asarray(value).ravel()[0]) + kept.get(step, 0.0)
                    for step, value in counted.items()}
        if inputs.pipeline == "calwebb_spec2":
            counted = spec2_step_bytes(inputs.science_pixels, inputs.frame_pixels, inputs.full_frame_pixels,
                                       c["resample_in"], resampled=inputs.resampled_spectrum,
                                       cube_voxels=inputs.cube_voxels, ifu_per_pixel=c.get("ifu_per_pixel", 0.0))
        else:
            s = setting_columns(settings_matrix([inputs.settings]), 0)
            counted = image2_step_bytes(inputs.science_pixels, inputs.frame_pixels, inputs.full_frame_pixels,
                                        inputs.i2d_pixels, inputs.output_area_ratio, c["resample_in"], s,
                                        float(inputs.drizzled))
        extra = {"photom": c["flat_reference_kept"] * FLAT_REFERENCE_PER_PIXEL * inputs.full_frame_pixels,
                 "resample": c["resample_out"] * inputs.i2d_pixels,
                 # extract_1d's own arrays grow with the cube it runs over, not with a fixed slit's small s2d
                 # (nor with an IFU exposure's detector: it extracts the cubes); ATOCA models the orders
                 "extract_1d": self._extract_bytes(inputs)}
        stages = {}
        for step, value in counted.items():
            value = float(np.asarray(value).ravel()[0])
            if np.isfinite(value):
                stages[step] = c["base_bytes"] + value + extra.get(step, 0.0)
        return stages

    def _extract_bytes(self, inputs: Image2Inputs) -> float:
        """extract_1d's own arrays: a time series' per integration (ATOCA's model of the SOSS orders, or
        its box), none for a fixed slit's small s2d or an IFU exposure's cubes (counted with them)."""
        c = self.coefficients
        pixels = inputs.science_pixels
        if inputs.resampled_spectrum or inputs.cube_voxels:
            return 0.0
        if inputs.atoca:
            return c.get("atoca_bytes", 0.0) + c.get("atoca_per_pixel", 0.0) * pixels
        if inputs.soss_box:
            return c.get("soss_box_per_pixel", 0.0) * pixels
        return c["extract_per_pixel"] * pixels

    def beyond(self, inputs: Image2Inputs) -> bool:
        """Whether the exposure is larger than any measured one of its instrument.

        Parameters
        ----------
        inputs : Image2Inputs
            The exposure.

        Returns
        -------
        bool
            True beyond the measured range (or for an instrument never measured).
        """
        if inputs.wfss:  # its frame is always the detector's: its size is its cutouts
            largest = self.measured_range.get(f"{inputs.instrument.upper()} WFSS")
            return largest is None or inputs.cutouts > largest
        largest = self.measured_range.get(f"{inputs.instrument.upper()} {inputs.pipeline}",
                                          self.measured_range.get(inputs.instrument.upper()))
        return largest is None or inputs.science_pixels > largest

    def uncalibrated_reasons(self, inputs: Image2Inputs) -> list[str]:
        """Why a measured type's exposure is outside the measured runs: a type never measured (estimated
        as imaging), or larger than any measured exposure of its instrument and pipeline (a type only
        counted gives `unmeasured_reason` instead).

        Parameters
        ----------
        inputs : Image2Inputs
            The exposure.

        Returns
        -------
        list of str
            One line per reason; empty when calibrated.
        """
        reasons = []
        if inputs.exp_type not in LEVEL2_EXP_TYPES:
            reasons.append(f"{inputs.exp_type}: no measured Level-2 run of this type; estimated as imaging")
        if self.beyond(inputs):
            size = f"{inputs.cutouts} cutouts are" if inputs.wfss else f"{inputs.science_pixels:.3g} science pixels are"
            reasons.append(f"{size} beyond the measured {inputs.instrument} runs")
        if inputs.contam and inputs.instrument.upper() == "NIRISS" and inputs.contam_geometry is None:
            reasons.append("wfss_contam: every order's trace counted as landing on the detector (NIRISS's orders 2 "
                           "and 3 land far from their sources, partly off it; no local CRDS cache held the grism "
                           "references that tell how far): an upper count, up to 33 % above the measured NIRISS runs")
        return reasons

    def unmeasured_reason(self, inputs: Image2Inputs) -> str | None:
        """Why no calwebb_spec2 run of the exposure's type is measured, for a type only counted.

        Parameters
        ----------
        inputs : Image2Inputs
            The exposure.

        Returns
        -------
        str or None
            One line (what the count assumed, the widening); None for a measured type.
        """
        if inputs.measured:
            return None
        why = UNMEASURED_REASON.get(inputs.instrument, f"no calwebb_spec2 run of {inputs.exp_type} is measured")
        planes = "read from the CRDS cache" if inputs.flat_planes_known else "assumed: no CRDS cache holds them"
        unknowns = f" (NIRSpec flats of {inputs.flat_planes} planes, {planes})" if inputs.instrument == "NIRSPEC" else ""
        return (f"{inputs.exp_type}: {why}; counted from jwst's allocations, every unknown at its largest"
                f"{unknowns}; upper bound widened x{self.unmeasured_mode:.3g}")


def image2_file() -> str:
    """The installed ``image2.yaml``.

    Returns
    -------
    str
        Its path.
    """
    return str(resources.files(__package__).joinpath("image2.yaml"))


@cache
def load_image2_baseline() -> Image2Baseline | None:
    """The installed image2 model, or None when none is installed.

    Returns
    -------
    Image2Baseline or None
        The model.
    """
    tree = read_stage_tree("image2.yaml")
    return Image2Baseline.from_tree(tree) if tree else None
