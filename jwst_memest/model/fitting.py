"""Fitting the physics baseline's coefficients to measured runs (what ``PhysicsBaseline.fit`` does).

Bounded least squares on relative residuals (the model is a max() of stages, so a linear solver
does not fit it), optionally with each stage's error against the measured peak of the step it is
named after.
"""

from __future__ import annotations

import numpy as np

from jwst_memest.model.constants import GB, MEMBERS_STAGE

__all__ = ["TERMS", "FIRST_FIT_START", "STEP_WEIGHT", "DEFAULT_STEP_WEIGHT", "step_weight_for", "fit_coefficients"]

# each pipeline's fitted terms, in the order the fit scales them
TERMS = {
    "image3": ("base_bytes", "bytes_per_member_pixel", "resample_in", "resample_out", "outlier_in", "outlier_out",
               "catalog_out", "outlier_per_member_pixel", "bytes_per_member", "on_disk_member_pixel"),
    "spec3": ("base_bytes", "spec_per_member_pixel", "per_slit_bytes", "per_source_bytes", "ifu_per_member_pixel",
              "ifu_median_per_pixel", "cube_per_voxel", "spec_out", "wfss_reused_bytes"),
    "tso3": ("base_bytes", "tso_per_input_byte", "outlier_per_cube_byte", "extract_per_cube_byte", "soss_atoca_bytes"),
    "coron3": ("base_bytes", "coron_per_input_byte", "align_per_cube_byte", "klip_per_cube_byte", "resample_in",
               "align_per_psf_byte", "klip_per_psf_byte"),
    "ami3": ("base_bytes", "ami_per_input_byte", "analyze_per_integration"),
}
# where a first fit of a pipeline's own terms starts: the interpreter and jwst's imports, and one
# byte per byte of input (the least squares scale each term by its starting value)
FIRST_FIT_START = {"base_bytes": 3e8, "per_slit_bytes": 1e6, "per_source_bytes": 1e6, "bytes_per_member": 1e6,
                   "soss_atoca_bytes": 5e9, "wfss_reused_bytes": 3e7, "align_per_psf_byte": 0.5, "klip_per_psf_byte": 0.5}
# weight of each stage's error against its measured step peak, where not given. Since image3's stages
# count what each step allocates (model/terms.py), the step peaks need no more weight than the other
# pipelines': at 0.5 the held-out runs are estimated best (median 1.8 %, p90 4.5 %, none above the
# bound; at 2.0: 1.9 %, 5.8 %, one above)
STEP_WEIGHT: dict[str, float] = {}
DEFAULT_STEP_WEIGHT = 0.5


def step_weight_for(terms: str) -> float:
    """The weight a pipeline's stages are fitted to their step peaks at, unless one is given.

    Parameters
    ----------
    terms : str
        The pipeline whose terms are fitted.

    Returns
    -------
    float
        ``STEP_WEIGHT``'s, else ``DEFAULT_STEP_WEIGHT``.
    """
    return STEP_WEIGHT.get(terms, DEFAULT_STEP_WEIGHT)


def fit_coefficients(start, X: np.ndarray, measured: np.ndarray, step_peaks: list[dict] | None = None,
                     step_weight: float | None = None) -> dict:
    """Non-negative coefficients of ``start``'s terms minimising relative error (robust loss) on measured runs.

    Parameters
    ----------
    start : jwst_memest.model.baseline.PhysicsBaseline
        The baseline whose terms are fitted, from its present coefficients.
    X : numpy.ndarray
        Encoded features (with settings columns), one row per run.
    measured : numpy.ndarray
        Measured peaks, GB.
    step_peaks : list of dict or None, optional
        Per run, step name to sampled peak GB (or empty): adds each modelled stage's error
        against the measured peak of the step it is named after, so that the stages are each
        step's memory, not only terms whose largest matches the run's peak.
    step_weight : float or None, optional
        The weight of those errors (default: `step_weight_for`).

    Returns
    -------
    dict of str to float
        The fitted coefficients of the pipeline's terms.

    Raises
    ------
    ValueError
        When ``step_peaks`` does not have one record per run.
    """
    from scipy.optimize import least_squares

    terms = TERMS[start.terms]
    # a term new to the installed coefficients starts from its first-fit value
    scale = np.array([start.coefficients.get(t, FIRST_FIT_START.get(t, 1.0)) for t in terms], dtype=float)
    scale[scale == 0] = 1.0
    targets = _stage_targets(start, len(X), step_peaks)
    if step_weight is None:
        step_weight = step_weight_for(start.terms)

    def residuals(theta):
        # the start's own class (a PhysicsBaseline) with the trial coefficients
        trial = type(start)(start.pipeline, {**start.coefficients, **dict(zip(terms, theta * scale))},
                            start.upper_bound, "fit", terms=start.terms)
        parts = [(trial.predict(X) - measured) / measured]
        if targets:
            stages = trial.stages(X)
            for stage, (rows, peak_gb) in targets.items():
                predicted = np.nan_to_num(stages[stage][rows] / GB, nan=0.0)
                parts.append(step_weight * (predicted - peak_gb) / peak_gb)
        return np.concatenate(parts)

    fit = least_squares(residuals, np.ones(len(terms)), bounds=(0, np.inf), loss="soft_l1", f_scale=0.05)
    return {term: float(value) for term, value in zip(terms, fit.x * scale)}


def _stage_targets(start, n_rows: int, step_peaks) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per modelled stage: the runs that measured the step it is named after, and those peaks (GB)."""
    if not step_peaks:
        return {}
    if len(step_peaks) != n_rows:
        raise ValueError(f"{len(step_peaks)} step-peak records for {n_rows} runs")
    stage_names = [name for name in start.stages(np.zeros((1, len(start.feature_names)))) if name != MEMBERS_STAGE]
    targets = {}
    for stage in stage_names:
        rows = [i for i, peaks in enumerate(step_peaks) if peaks and peaks.get(stage, 0) > 0]
        if rows:
            targets[stage] = (np.array(rows), np.array([step_peaks[i][stage] for i in rows], dtype=float))
    return targets
