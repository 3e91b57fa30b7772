"""Held-out accuracy metrics shared by the baseline fit, training and the benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ["held_out_metrics"]


def held_out_metrics(measured, estimated, upper=None) -> dict:
    """Median absolute percent error, RMSE (GB), bias, the share of measured peaks above the bound and the largest excess.

    Parameters
    ----------
    measured : array_like
        Measured peaks, GB.
    estimated : array_like
        The estimates, GB.
    upper : array_like or None, optional
        The upper bounds, GB.

    Returns
    -------
    dict
        ``n_rows``, ``median_abs_pct_error``, ``p90_abs_pct_error``, ``rmse_gb``,
        ``under_estimate_fraction`` and, with ``upper``, ``upper_exceeded_fraction`` and
        ``max_pct_above_upper``.
    """
    measured = np.asarray(measured, dtype=float)
    estimated = np.asarray(estimated, dtype=float)
    pct = 100.0 * np.abs(estimated - measured) / measured
    result = {
        "n_rows": int(measured.size),
        "median_abs_pct_error": float(np.median(pct)) if measured.size else float("nan"),
        "p90_abs_pct_error": float(np.percentile(pct, 90)) if measured.size else float("nan"),
        "rmse_gb": float(np.sqrt(np.mean((estimated - measured) ** 2))) if measured.size else float("nan"),
        "under_estimate_fraction": float(np.mean(estimated < measured)) if measured.size else float("nan"),
    }
    if upper is not None:
        upper = np.asarray(upper, dtype=float)
        result["upper_exceeded_fraction"] = float(np.mean(measured > upper)) if measured.size else float("nan")
        # how far the worst run went above its bound (0 when none did)
        result["max_pct_above_upper"] = float(max(0.0, 100.0 * np.max(measured / upper - 1))) if measured.size else 0.0
    return result
