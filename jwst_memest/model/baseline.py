"""Physics baseline: peak memory from what the Level-3 pipelines allocate.

Usable with no trained model. Terms, with Npix_in the pixels of one member
image, Npix_out the output mosaic pixels, N the members and G the exposure
groups (outlier detection's median cube has one plane per group)::

    image3:  base + m * N + max(in_memory * N * b_file * Npix_in                (members: metadata, arrays;
                                 + (1 - in_memory) * b_disk * Npix_in             on disk, those opened)
                                 + max(a_res * Npix_in + b_res * Npix_out,       (final resample)
                                       a_out * Npix_in + b_out * Npix_out
                                       + k_out * N * Npix_in                     (outlier_detection, per member)
                                       + in_memory * c_med * G * Npix_out),      (its median stack)
                                 b_cat * Npix_out)                               (source_catalog over the i2d)
    spec3:   base + b_spec * sum of member science pixels              (members held in memory)
                  + b_slit * N * slits per member                      (per-slit models, WCS, cutouts)
                  + b_source * slits per member                        (each source's products, over all members)
                  + b_ifu * sum of member science pixels               (what IFU steps hold per member) [IFU]
                  + max(ifu_med * Npix_detector,                       (IFU outlier detection's median filter,
                                                                         over the whole detector)
                        cube * Nvoxels)                                (cube_build's cubes)   [IFU modes]
                  + b_out * Npix_out                                   (resample_spec)  [single-slit modes: LRS]

    coron3:  base + a * input bytes (science and PSF-reference integrations)
                  + max(align * cube bytes, klip * cube bytes, resample_in * Npix_in)   (largest member's cube)
    ami3:    base + a * input bytes + per_integration * NINTS                   (ami_analyze)
    tso3:    base + a * input bytes + max(outlier * cube bytes, extract * cube bytes [+ atoca for NIS_SOSS])
                                                  (rolling median; tso_photometry or extract_1d)

Coefficients live in ``baseline.yaml`` beside this module, refitted from the
measured corpus by ``python -m jwst_memest.profile fit-baseline``.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

import numpy as np
import yaml

from jwst_memest.features.schema import load_schema
from jwst_memest.instruments import IFU_EXP_TYPES, TSO_IMAGING_EXP_TYPES, WFSS_EXP_TYPES
from jwst_memest.model.constants import GB, GIB, MEMBERS_STAGE
from jwst_memest.model.coverage import Assessment, Envelope
from jwst_memest.model.terms import (CROWDED_CATALOG_PER_PIXEL, catalog_output_bytes, covered_pixels, lingering_group_bytes, member_footprint,
                                     outlier_grid_pixels,
                                     outlier_input_bytes, outlier_output_bytes, pixmap_factor, resample_output_bytes,
                                     setting_columns)
from jwst_memest.model.upper import UpperBound
from jwst_memest.pipelines import feature_set_for, normalize

__all__ = ["PhysicsBaseline", "load_baseline", "GIB", "GB"]


class PhysicsBaseline:
    """Estimator from physical terms; same interface as a model bundle.

    Parameters
    ----------
    pipeline : str
        The Level-3 pipeline estimated.
    coefficients : dict
        The terms' coefficients, by name.
    upper_bound : jwst_memest.model.upper.UpperBound
        The calibrated upper bound, pooled over exposure types.
    version : str
        The coefficients' version.
    source : str, optional
        Where they were fitted.
    envelope : jwst_memest.model.coverage.Envelope or None, optional
        What the measured runs cover (default: nothing measured).
    upper_bound_by_mode : dict of str to jwst_memest.model.upper.UpperBound, optional
        Upper bounds calibrated per exposure type.
    terms : str or None, optional
        Whose stage formulas and measured runs: the pipeline's own, else (default) its feature
        set's pipeline.
    margin_bytes : float, optional
        Bytes every bound adds on top of its ratio (the spread between repeats and installations).
    margin_source : str, optional
        Where the margin was measured.

    Raises
    ------
    ValueError
        When ``terms`` is of a pipeline with other features.
    """

    kind = "physics_baseline"

    def __init__(self, pipeline: str, coefficients: dict, upper_bound: UpperBound, version: str, source: str = "",
                 envelope: Envelope | None = None, upper_bound_by_mode: dict[str, UpperBound] | None = None,
                 terms: str | None = None, margin_bytes: float = 0.0, margin_source: str = ""):
        self.pipeline = normalize(pipeline)
        self.feature_set = feature_set_for(self.pipeline)
        # whose stage formulas and measured runs: the pipeline's own, else its feature set's pipeline
        self.terms = terms or self.feature_set
        if feature_set_for(self.terms) != self.feature_set:
            raise ValueError(f"calwebb_{self.terms} terms cannot estimate calwebb_{self.pipeline} (other features)")
        self.coefficients = dict(coefficients)
        self.upper_bound = upper_bound
        self.version = version
        self.name = f"physics_baseline_{self.pipeline}"
        self.source = source
        self.schema = load_schema(self.feature_set)
        # identifies the exact coefficients and bound used, as a bundle's checksum does
        self.upper_bound_by_mode = dict(upper_bound_by_mode or {})
        self.envelope = envelope or Envelope(self.feature_set, {}, measured_pipeline=self.terms)
        # bytes every bound adds on top of its ratio: how far the same run's peak moves between
        # repeats and between installations (profile spread); a ratio alone is no bound for a small job
        self.margin_bytes = float(margin_bytes)
        self.margin_source = margin_source
        self.checksum = self._checksum()
        self._ifu_codes = [self.schema["exp_type"].encode(t) for t in IFU_EXP_TYPES]
        self._wfss_codes = [self.schema["exp_type"].encode(t) for t in WFSS_EXP_TYPES]
        self._slit_tree_of_code = {self.schema["exp_type"].encode(t): tree for t, tree in CORPUS_SLIT_TREE_BYTES.items()}
        self._tso_imaging_codes = [self.schema["exp_type"].encode(t) for t in TSO_IMAGING_EXP_TYPES]
        self._soss_code = self.schema["exp_type"].encode("NIS_SOSS")

    def _checksum(self) -> str:
        return hashlib.sha256(json.dumps(
            [self.pipeline, self.terms, self.coefficients, self.upper_bound.to_tree(), self.version,
             {k: v.to_tree() for k, v in sorted(self.upper_bound_by_mode.items())}, self.envelope.to_tree()]
            + ([self.margin_bytes] if self.margin_bytes else []),
            sort_keys=True).encode()).hexdigest()

    @property
    def feature_names(self) -> list[str]:
        """The feature set's names, in vector order.

        Returns
        -------
        list of str
            The names.
        """
        return self.schema.names

    def stages(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Peak (bytes) of each modelled pipeline stage, per row; NaN where a stage does not run.

        "members held in memory" is what every step runs on top of (interpreter, models kept
        resident); each step's value adds what that step allocates. The run's peak is the largest.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (with the run-settings
            columns of `jwst_memest.model.terms.with_settings` appended, when the settings are not jwst's defaults).

        Returns
        -------
        dict of str to numpy.ndarray
            Each stage's peak, bytes, per row.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        col = {name: X[:, i] for i, name in enumerate(self.schema.names)}
        if self.terms in ("image3", "coron3", "spec3"):
            return getattr(self, f"_{self.terms}_stages")(col, self.coefficients,
                                                          setting_columns(X, len(self.schema.names)))
        return getattr(self, f"_{self.terms}_stages")(col, self.coefficients)

    def _image3_stages(self, col, c, s):
        n = col["n_members"]
        npix_in = col["member_pixels"]
        npix_out = np.nan_to_num(col["output_pixels"], nan=0.0)
        ints = np.maximum(col["n_integrations"], 1)
        in_memory = col["in_memory"]
        groups = col["n_exposure_groups"]
        # every member's metadata and WCS stay in the library; its arrays only with in_memory.
        # On disk, the library opens members as a step needs them: what that holds grows with
        # one member's pixels, not with the number of members
        metadata = c["base_bytes"] + c["bytes_per_member"] * n
        resident = metadata + in_memory * n * c["bytes_per_member_pixel"] * npix_in * ints \
            + (1 - in_memory) * c["on_disk_member_pixel"] * npix_in * ints
        nan = np.full(len(n), np.nan)
        # counted from jwst's source (model/terms.py): the median stack or its sections, resample's
        # buffers and variance path, the i2d and source_catalog's arrays; fitted: each step's pixel
        # maps (per input pixel), what the count leaves out (per output pixel), per-member work
        covered = covered_pixels(n, npix_in, npix_out, s)
        # outlier_detection drizzles onto its own grid, at the members' scale
        grid = outlier_grid_pixels(npix_out, s)
        grid_covered = covered_pixels(n, npix_in, grid, dict(s, output_area_ratio=np.ones(len(n))))
        outlier = (resident + c["outlier_per_member_pixel"] * n * npix_in
                   + in_memory * outlier_input_bytes(n, s) * npix_in
                   + outlier_output_bytes(groups, in_memory, grid, grid_covered,
                                          c["outlier_in"] * pixmap_factor(s["outlier_pixmap_stepsize"]) * npix_in, s)
                   + s["outlier_resample_data"] * (c["outlier_out"] * grid + lingering_group_bytes(groups, grid)))
        return {
            MEMBERS_STAGE: resident,
            "outlier_detection": np.where(s["skip_outlier_detection"] > 0, nan, outlier),
            "resample": resident + c["resample_out"] * npix_out
            + resample_output_bytes(n, npix_in, npix_out, covered, member_footprint(npix_in, npix_out, s),
                                    c["resample_in"] * pixmap_factor(s["pixmap_stepsize"]), s),
            # the members' arrays are released once resample has run: measured, source_catalog
            # with in_memory=True peaks no higher than with it off
            "source_catalog": np.where(s["skip_source_catalog"] > 0, nan,
                                       metadata + catalog_output_bytes(n, npix_out, covered, s)
                                       + c["catalog_out"] * npix_out),
        }

    def _spec3_stages(self, col, c, s):
        n = col["n_members"]
        npix_in = col["member_pixels"]
        npix_out = np.nan_to_num(col["output_pixels"], nan=0.0)
        ifu = np.isin(col["exp_type"], self._ifu_codes)
        wfss = np.isin(col["exp_type"], self._wfss_codes)
        slits = np.nan_to_num(col["n_slits"])
        resident = c["base_bytes"] + c["spec_per_member_pixel"] * col["total_input_bytes"] / 28.0
        # per slit of each member (cutouts, WCS), and per source over all members (its products);
        # a slit's WCS as its cal file carries it, beyond the corpus's (`opened_slit_tree_bytes`)
        corpus_tree = np.array([self._slit_tree_of_code.get(code, np.nan) for code in col["exp_type"]])
        per_slit = c["per_slit_bytes"] + opened_slit_tree_bytes(s["slit_tree_bytes"], corpus_tree)
        with_slits = resident + per_slit * n * slits + c.get("per_source_bytes", 0.0) * slits
        nan = np.full(len(n), np.nan)
        # IFU steps hold more per member than the container does (slice maps, pathloss, per-pixel
        # coordinates): a term of its own, paid during both IFU steps
        ifu_members = with_slits + c["ifu_per_member_pixel"] * col["total_input_bytes"] / 28.0
        return {
            MEMBERS_STAGE: with_slits,
            "outlier_detection": np.where(ifu, ifu_members + c["ifu_median_per_pixel"] * npix_in, nan),
            "cube_build": np.where(ifu, ifu_members + c["cube_per_voxel"] * np.nan_to_num(col["cube_pixels"]), nan),
            # slit modes: the per-source loop (NIRSpec: resample_spec and extract_1d; WFSS: extract_1d)
            "resample_spec": np.where(~ifu & ~wfss, with_slits + (slits == 0) * c["spec_out"] * npix_out, nan),
            "extract_1d": np.where(wfss, with_slits, nan),
            # WFSS, after the per-source loop: the kept spectra expanded and copied into the product's
            # x1d and c1d, which are then written (counted: jwst_memest.wfss_products)
            WFSS_PRODUCTS_STAGE: np.where(wfss, with_slits + np.maximum(
                np.nan_to_num(s["wfss_products_bytes"]) - c.get("wfss_reused_bytes", 0.0), 0.0), nan),
        }

    def _tso3_stages(self, col, c):
        # calwebb_tso3 works through its members one calints cube at a time: what it keeps grows
        # with all members' integrations, what a step allocates with the largest cube
        resident = c["base_bytes"] + c["tso_per_input_byte"] * col["total_input_bytes"]
        cube = col["member_bytes"]
        imaging = np.isin(col["exp_type"], self._tso_imaging_codes)
        nan = np.full(len(cube), np.nan)
        # NIRISS SOSS is extracted by ATOCA, whose model of the orders (its wavelength grid, kernels
        # and design matrix) holds a few GB however few the integrations
        atoca = (col["exp_type"] == self._soss_code) * c["soss_atoca_bytes"]
        extraction = resident + c["extract_per_cube_byte"] * cube + atoca
        return {
            MEMBERS_STAGE: resident,
            "outlier_detection": resident + c["outlier_per_cube_byte"] * cube,
            "tso_photometry": np.where(imaging, extraction, nan),
            "extract_1d": np.where(imaging, nan, extraction),
        }

    def _coron3_stages(self, col, c, s):
        # total_input_bytes holds the science and PSF-reference integrations, all read at the start;
        # align_refs and klip then work on one science cube at a time against the whole PSF stack
        # (stack_refs' cube of every PSF integration: shifted copies, KLIP's float64 reference matrix
        # and basis); resample works on one image. Where the members do not say which are PSF
        # references, every member but the largest is taken for one (at most what they are)
        total = col["total_input_bytes"]
        resident = c["base_bytes"] + c["coron_per_input_byte"] * total
        cube = col["member_bytes"]
        psf = np.where(np.isfinite(s["psf_input_bytes"]), s["psf_input_bytes"], np.maximum(total - cube, 0.0))
        return {
            MEMBERS_STAGE: resident,
            "align_refs": resident + c["align_per_cube_byte"] * cube + c.get("align_per_psf_byte", 0.0) * psf,
            "klip": resident + c["klip_per_cube_byte"] * cube + c.get("klip_per_psf_byte", 0.0) * psf,
            "resample": resident + c["resample_in"] * col["member_pixels"],
        }

    def _ami3_stages(self, col, c):
        # ami_analyze fits one integration at a time: what it holds beyond the members is per
        # integration of the largest member
        resident = c["base_bytes"] + c["ami_per_input_byte"] * col["total_input_bytes"]
        return {
            MEMBERS_STAGE: resident,
            "ami_analyze": resident + c["analyze_per_integration"] * np.maximum(col["n_integrations"], 1),
        }

    def fit(self, X: np.ndarray, y: np.ndarray, step_peaks: list[dict] | None = None,
            step_weight: float | None = None) -> PhysicsBaseline:
        """Fit the coefficients of this pipeline's terms to measured peaks, starting from the present ones.

        The upper bound is not recalibrated here (``profile fit-baseline`` calibrates it out of fold).

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features (with settings columns), one row per measured run.
        y : numpy.ndarray
            Measured peaks, GB.
        step_peaks : list of dict or None, optional
            Per run, step name to measured peak (GB): also fits each stage to its step.
        step_weight : float or None, optional
            Weight of the step peaks (default: the pipeline's, `jwst_memest.model.fitting.step_weight_for`).

        Returns
        -------
        PhysicsBaseline
            ``self``, as scikit-learn's estimators do.
        """
        from jwst_memest.model.fitting import fit_coefficients

        X = np.atleast_2d(np.asarray(X, dtype=float))
        self.coefficients = fit_coefficients(self, X, np.asarray(y, dtype=float), step_peaks, step_weight)
        self.checksum = self._checksum()
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Peak memory in GB (10^9 bytes) for each row of encoded features: the largest stage.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (with the run-settings
            columns of `jwst_memest.model.terms.with_settings` appended, when the settings are not jwst's defaults).

        Returns
        -------
        numpy.ndarray
            GB per row.
        """
        return self._peak_gb(self.stages(X))

    @staticmethod
    def _peak_gb(stages: dict[str, np.ndarray]) -> np.ndarray:
        return np.nanmax(np.vstack(list(stages.values())), axis=0) / GB

    def breakdown(self, X: np.ndarray) -> list[tuple[dict[str, float], str]]:
        """Per row: each stage's peak (GB) and the step that sets the run's peak.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (with the run-settings
            columns of `jwst_memest.model.terms.with_settings` appended, when the settings are not jwst's defaults).

        Returns
        -------
        list of (dict of str to float, str)
            Per row, the stages that run with their peaks (GB), and the peak step.
        """
        stages = self.stages(X)
        rows = []
        for i in range(len(next(iter(stages.values())))):
            values = {name: float(v[i]) / GB for name, v in stages.items() if np.isfinite(v[i])}
            steps = {name: v for name, v in values.items() if name != MEMBERS_STAGE}
            rows.append((values, max(steps, key=steps.get) if steps else MEMBERS_STAGE))
        return rows

    def assess(self, values: dict, slit_tree_bytes: float = float("nan")):
        """Whether a product (raw feature values) lies inside the runs the coefficients were fitted to.

        Parameters
        ----------
        values : dict
            The product's raw feature values (``exp_type`` by name).
        slit_tree_bytes : float, optional
            Serialized tree bytes per slit of its multi-slit members (NaN: not known): slits that
            carry more than the measured runs' are outside them too.

        Returns
        -------
        jwst_memest.model.coverage.Assessment
            Whether it is calibrated, why not, and the bound's widening factor.
        """
        assessment = self.envelope.assess(values, self.pipeline)
        tree = slit_tree_beyond_corpus(str(values.get("exp_type")), slit_tree_bytes)
        if tree is None:
            return assessment
        reason, factor = tree
        return Assessment(calibrated=False, reasons=[*assessment.reasons, reason],
                          factor=max(assessment.factor, factor))

    def _row_factors(self, X: np.ndarray, quantile: float) -> np.ndarray:
        """Upper-bound factor per row: its exposure type's calibration where there is one, else the pooled one."""
        pooled = self.upper_bound.factor(quantile)
        if not self.upper_bound_by_mode:
            return np.full(len(X), pooled)
        exp_type = self.schema["exp_type"]
        by_mode = {name: bound.factor(quantile) for name, bound in self.upper_bound_by_mode.items()}
        return np.array([by_mode.get(exp_type.decode(code), pooled) for code in X[:, self.schema.names.index("exp_type")]])

    @property
    def margin_gb(self) -> float:
        """The bound's margin in GB.

        Returns
        -------
        float
            ``margin_bytes`` / 1e9.
        """
        return self.margin_bytes / GB

    def estimate(self, X: np.ndarray, quantile: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Estimates (GB) and upper bounds: the calibrated ratio, plus ``margin_bytes``.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (with the run-settings
            columns of `jwst_memest.model.terms.with_settings` appended, when the settings are not jwst's defaults).
        quantile : float, optional
            The quantile of the upper bound (the exposure type's calibration where there is one).

        Returns
        -------
        gb : numpy.ndarray
            Estimates, GB.
        upper : numpy.ndarray
            Upper bounds, GB.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        stages = self.stages(X)
        gb = self._peak_gb(stages)
        return gb, self._scene_peak(X, stages) * self._row_factors(X, quantile) + self.margin_gb

    def scene_peak(self, X: np.ndarray) -> np.ndarray:
        """The peak (GB) in a crowded field: what the headers cannot tell, allowed for in the bound.

        calwebb_image3's source_catalog grows with the sources it finds (segmentation, deblending,
        per-source cutouts), measured at 21-28 B per output pixel in a field of 5 stars per
        arcsec^2 (`terms.CROWDED_CATALOG_PER_PIXEL`, per output pixel the members cover); the
        estimate assumes a sparse field, the bound a crowded one. Other pipelines: the estimate itself.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features (and settings columns), one row per product.

        Returns
        -------
        numpy.ndarray
            GB.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        return self._scene_peak(X, self.stages(X))

    def _scene_peak(self, X: np.ndarray, stages: dict[str, np.ndarray]) -> np.ndarray:
        peak = self._peak_gb(stages)
        if self.terms != "image3" or "source_catalog" not in stages:
            return peak
        names = self.schema.names
        # the sources are where the members land: the covered part of the grid
        covered = covered_pixels(X[:, names.index("n_members")], X[:, names.index("member_pixels")],
                                 np.nan_to_num(X[:, names.index("output_pixels")], nan=0.0),
                                 setting_columns(X, len(names)))
        crowded = stages["source_catalog"] + CROWDED_CATALOG_PER_PIXEL * covered
        return np.fmax(peak, crowded / GB)


# the stage after calwebb_spec3's per-source loop, when a WFSS product's x1d and c1d are built and written
WFSS_PRODUCTS_STAGE = "wfss_products"


# Opened from its cal file, a slit's WCS and metadata cost in memory about 38.5 times their
# serialized tree (the file's ASDF extension over its slits) less 139 kB: traced (tracemalloc, the
# slope over files of 20 to 400 slits) 236 kB per slit for the corpus's synthetic WFSS slits (9.75 kB
# of tree each), 958 kB for NIRCam's and 1498 kB for NIRISS's grism WCS of the operational structure
# (28.5 and 43.4 kB). per_slit_bytes was fitted on the corpus's slits, so what a member's slits
# carry beyond the corpus's tree of their mode is counted here. NIRSpec's WCS of the operational
# structure cannot be built here: its slits are counted at the same rate and the estimate says so.
OPENED_BYTES_PER_TREE_BYTE = 38.5
CORPUS_SLIT_TREE_BYTES = {"NRC_WFSS": 9.75e3, "NIS_WFSS": 9.75e3, "NRS_MSASPEC": 7.8e3, "NRS_FIXEDSLIT": 8.3e3}


def opened_slit_tree_bytes(tree_bytes, corpus_tree_bytes) -> np.ndarray:
    """Bytes an opened slit holds beyond the corpus's slits of its mode, from the serialized tree bytes
    per slit of its cal file (NaN: not known, nothing added).

    Parameters
    ----------
    tree_bytes : array_like
        Serialized tree bytes per slit (``slit_tree_bytes``).
    corpus_tree_bytes : array_like
        The corpus's serialized tree bytes per slit of the same mode (NaN: a mode not counted).

    Returns
    -------
    numpy.ndarray
        Bytes per slit and member.
    """
    corpus = np.asarray(corpus_tree_bytes, float)
    tree = np.asarray(tree_bytes, float)
    beyond = np.where(np.isnan(tree) | np.isnan(corpus), 0.0, tree - np.nan_to_num(corpus))
    return OPENED_BYTES_PER_TREE_BYTE * np.maximum(beyond, 0.0)


# calwebb_spec3 run on cal files whose slits carry the grism WCS of the operational structure
# (benchmarks/spec3_wfss_wcs.py, 3 members): with the trees and the final x1d/c1d counted
# (`WFSS_PRODUCTS_STAGE`), NIRCam F444W (two orders) of 50, 100 and 200 sources peaked 1.024, 1.009
# and 1.070 times their estimates, NIRISS F200W of 150 sources 1.071; such products stay flagged
# (none of these runs is in the fit) and their bound is widened by the largest of those, rounded up.
# NIRSpec's operational WCS cannot be built here: unmeasured, its bound is widened by the spread the
# WFSS trees showed before their final products were counted
WFSS_TREE_MEASURED_RATIO = 1.071
WFSS_TREE_WIDENING = 1.08
SLIT_TREE_WIDENING = 1.30


def slit_tree_beyond_corpus(exp_type: str, tree_bytes: float) -> tuple[str, float] | None:
    """Why a multi-slit product's estimate is not calibrated by its slits' WCS, and the bound's
    widening; None when its slits carry no more than the measured runs' tree.

    Parameters
    ----------
    exp_type : str
        The members' EXP_TYPE.
    tree_bytes : float
        Serialized tree bytes per slit of its members (NaN: not known).

    Returns
    -------
    tuple of (str, float) or None
        The reason and the widening factor.
    """
    corpus = CORPUS_SLIT_TREE_BYTES.get(exp_type)
    if corpus is None or not tree_bytes > 1.5 * corpus:
        return None
    size = (f"its slits carry {tree_bytes / 1e3:.1f} kB of serialized WCS and metadata each, "
            f"{tree_bytes / corpus:.1f}x the measured {exp_type} runs'")
    if exp_type in WFSS_EXP_TYPES:
        how = (f"counted at the traced {OPENED_BYTES_PER_TREE_BYTE:g} bytes opened per serialized byte; runs on "
               f"such cal files (50-200 sources) peaked up to {WFSS_TREE_MEASURED_RATIO:.2f}x their estimate")
        factor = WFSS_TREE_WIDENING
    else:
        how = (f"counted at WFSS's traced {OPENED_BYTES_PER_TREE_BYTE:g} bytes opened per serialized byte, "
               "not measured for NIRSpec")
        factor = SLIT_TREE_WIDENING
    return f"{size}: {how}; upper bound widened x{factor:g}", factor


@cache
def _coefficients_file() -> dict:
    # libyaml's safe loader where PyYAML has it: the same values, several times faster on a cold estimate
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(resources.files(__package__).joinpath("baseline.yaml").read_text(), Loader=loader)


def load_baseline(pipeline: str = "image3") -> PhysicsBaseline:
    """The physics baseline for a Level-3 pipeline, with its calibrated upper bound.

    A pipeline with measured runs has terms of its own; one without is estimated with the terms of
    the pipeline sharing its features (coron3, ami3: image3; tso3: spec3), and its bound widens.

    Parameters
    ----------
    pipeline : str, optional
        A pipeline's key or class alias.

    Returns
    -------
    PhysicsBaseline
        Its baseline, from ``baseline.yaml``.

    Raises
    ------
    ValueError
        When ``pipeline`` is not a Level-3 pipeline.
    """
    raw = _coefficients_file()
    level3 = normalize(pipeline)
    feature_set = feature_set_for(level3)
    terms = level3 if level3 in raw["pipelines"] else feature_set
    entry = raw["pipelines"][terms]
    return PhysicsBaseline(
        pipeline,
        entry["coefficients"],
        UpperBound.from_tree(entry["upper_bound"]),
        version=str(entry.get("version", raw.get("version"))),
        source=entry.get("source", ""),
        envelope=Envelope.from_tree(feature_set, entry.get("envelope"), measured_pipeline=terms),
        upper_bound_by_mode={k: UpperBound.from_tree(v) for k, v in entry.get("upper_bound_by_mode", {}).items()},
        terms=terms,
        margin_bytes=float(raw.get("environment_margin", {}).get("bytes", 0.0)),
        margin_source=str(raw.get("environment_margin", {}).get("source", "")),
    )
