"""Per-fold plots, the metrics table and the summary page."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["memory_bins", "plot_fold", "metrics_table", "write_summary_page"]


def memory_bins(threshold: float) -> np.ndarray:
    """Bin edges (GB) for the classification view of a regression: scaled to the threshold."""
    return np.array([0.0, threshold / 16, threshold / 4, threshold, np.inf])


def _bin_scores(predicted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Score per bin: minus the distance of the prediction to the bin (0 inside it)."""
    lo, hi = edges[:-1], edges[1:]
    below = np.clip(lo[None, :] - predicted[:, None], 0, None)
    above = np.clip(predicted[:, None] - hi[None, :], 0, None)
    return -(below + above)


def plot_fold(directory: Path, fold: int, measured, predicted, history: dict, threshold: float) -> list[Path]:
    """Residuals, loss history, ROC-AUC and precision-recall per memory bin; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    directory.mkdir(parents=True, exist_ok=True)
    measured, predicted = np.asarray(measured), np.asarray(predicted)
    paths = []

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.scatter(measured, predicted, s=10)
    top = max(measured.max(), predicted.max()) * 1.05
    left.plot([0, top], [0, top], "k--", lw=1)
    left.set(xlabel="measured peak (GB)", ylabel="estimated (GB)", title=f"fold {fold}: estimate vs measured")
    right.hist(predicted - measured, bins=20)
    right.set(xlabel="residual (GB)", ylabel="products", title="residuals")
    paths.append(directory / f"fold{fold}-residuals.png")
    fig.tight_layout(); fig.savefig(paths[-1], dpi=80); plt.close(fig)

    fig, axis = plt.subplots(figsize=(6, 4))
    for key, values in history.items():
        if "loss" in key:
            axis.plot(values, label=key)
    axis.set(xlabel="epoch", ylabel="MSE", yscale="log", title=f"fold {fold}: train / test loss")
    axis.legend()
    paths.append(directory / f"fold{fold}-loss.png")
    fig.tight_layout(); fig.savefig(paths[-1], dpi=80); plt.close(fig)

    edges = memory_bins(threshold)
    truth = np.digitize(measured, edges[1:-1])
    scores = _bin_scores(predicted, edges)
    fig_roc, roc_axis = plt.subplots(figsize=(5, 4))
    fig_pr, pr_axis = plt.subplots(figsize=(5, 4))
    for b in range(len(edges) - 1):
        positives = truth == b
        label = f"{edges[b]:.3g}-{edges[b + 1]:.3g} GB"
        if positives.all() or not positives.any():
            continue
        fpr, tpr, _ = roc_curve(positives, scores[:, b])
        roc_axis.plot(fpr, tpr, label=f"{label} (AUC {auc(fpr, tpr):.2f})")
        precision, recall, _ = precision_recall_curve(positives, scores[:, b])
        pr_axis.plot(recall, precision, label=label)
    roc_axis.set(xlabel="false positive rate", ylabel="true positive rate", title=f"fold {fold}: ROC per memory bin")
    pr_axis.set(xlabel="recall", ylabel="precision", title=f"fold {fold}: precision-recall per bin")
    for axis, fig, name in ((roc_axis, fig_roc, "roc"), (pr_axis, fig_pr, "precision-recall")):
        axis.legend(fontsize=7)
        paths.append(directory / f"fold{fold}-{name}.png")
        fig.tight_layout(); fig.savefig(paths[-1], dpi=80); plt.close(fig)
    return paths


def metrics_table(rows: list[dict]) -> str:
    """A fixed-width table of per-fold metrics for the terminal."""
    columns = ["fold", "n_test", "rmse_gb", "median_abs_pct_error", "under_estimate_fraction", "upper_exceeded_fraction", "epochs"]
    lines = ["  ".join(f"{c:>12.12}" for c in columns)]
    for row in rows:
        lines.append("  ".join(f"{row.get(c, ''):>12.4g}" if isinstance(row.get(c), float) else f"{row.get(c, ''):>12}"
                               for c in columns))
    return "\n".join(lines)


def write_summary_page(path: Path, title: str, table: str, plots: list[Path], hyperparameters: dict) -> Path:
    lines = [f"# {title}", "", "## Per-fold metrics", "", "```", table, "```", "", "## Hyperparameters", ""]
    lines += [f"- {k}: {v}" for k, v in hyperparameters.items()]
    lines += ["", "## Plots", ""]
    lines += [f"![{p.stem}]({Path('..') / p.relative_to(path.parent.parent)})" for p in plots]
    path.write_text("\n".join(lines) + "\n")
    return path
