"""Per-fold plots, the terminal metrics table and the summary page."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["memory_bins", "bin_scores", "plot_fold", "metrics_table", "write_summary_page"]

TABLE_COLUMNS = ("fold", "n_train", "n_test", "epochs", "rmse_gb", "median_abs_pct_error",
                 "under_estimate_fraction", "upper_exceeded_fraction")
DPI = 80


def memory_bins(threshold: float) -> np.ndarray:
    """Bin edges (GB) for the classification view of the regression, scaled to the threshold.

    A threshold of 32 GB gives <2, 2-8, 8-32 and >=32 GB.
    """
    return np.array([0.0, threshold / 16, threshold / 4, threshold, np.inf])


def bin_scores(predicted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Score per bin (rows x bins): minus the distance of the prediction to the bin, 0 inside it."""
    predicted = np.asarray(predicted, dtype=float)
    lo, hi = edges[:-1], edges[1:]
    below = np.clip(lo[None, :] - predicted[:, None], 0, None)
    above = np.clip(predicted[:, None] - hi[None, :], 0, None)
    return -(below + above)


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _residual_plot(plt, path, fold, measured, predicted) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.scatter(measured, predicted, s=10)
    top = max(measured.max(), predicted.max()) * 1.05
    left.plot([0, top], [0, top], "k--", lw=1)
    left.set(xlabel="measured peak (GB)", ylabel="estimated (GB)", title=f"fold {fold}: estimate vs measured")
    right.hist(predicted - measured, bins=20)
    right.set(xlabel="residual: estimated - measured (GB)", ylabel="products", title="residuals")
    return _save(fig, path, plt)


def _loss_plot(plt, path, fold, history) -> Path:
    fig, axis = plt.subplots(figsize=(6, 4))
    for key, values in history.items():
        if key.endswith("loss") and len(values):
            axis.plot(np.arange(1, len(values) + 1), values, label=key)
    axis.set(xlabel="epoch", ylabel="MSE of log1p(GB)", yscale="log", title=f"fold {fold}: train / test loss")
    axis.legend()
    return _save(fig, path, plt)


def _bin_plots(plt, directory, fold, measured, predicted, threshold) -> list[Path]:
    """ROC and precision-recall per memory bin: does the estimate land in the measured bin."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    edges = memory_bins(threshold)
    truth = np.digitize(measured, edges[1:-1])
    scores = bin_scores(predicted, edges)
    fig_roc, roc_axis = plt.subplots(figsize=(5, 4))
    fig_pr, pr_axis = plt.subplots(figsize=(5, 4))
    for b in range(len(edges) - 1):
        positives = truth == b
        label = f"{edges[b]:.3g}-{edges[b + 1]:.3g} GB"
        if positives.all() or not positives.any():
            continue  # a bin with one class only has no curve
        fpr, tpr, _ = roc_curve(positives, scores[:, b])
        roc_axis.plot(fpr, tpr, label=f"{label} (AUC {auc(fpr, tpr):.2f})")
        precision, recall, _ = precision_recall_curve(positives, scores[:, b])
        pr_axis.plot(recall, precision, label=label)
    roc_axis.plot([0, 1], [0, 1], "k:", lw=1)
    roc_axis.set(xlabel="false positive rate", ylabel="true positive rate", title=f"fold {fold}: ROC per memory bin")
    pr_axis.set(xlabel="recall", ylabel="precision", title=f"fold {fold}: precision-recall per bin")
    paths = []
    for axis, fig, name in ((roc_axis, fig_roc, "roc"), (pr_axis, fig_pr, "precision-recall")):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
        paths.append(_save(fig, directory / f"fold{fold}-{name}.png", plt))
    return paths


def plot_fold(directory: Path, fold: int, measured, predicted, history: dict, threshold: float) -> list[Path]:
    """Residuals, loss history, ROC-AUC and precision-recall per memory bin; returns the PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    measured, predicted = np.asarray(measured, dtype=float), np.asarray(predicted, dtype=float)
    return [
        _residual_plot(plt, directory / f"fold{fold}-residuals.png", fold, measured, predicted),
        _loss_plot(plt, directory / f"fold{fold}-loss.png", fold, history),
        *_bin_plots(plt, directory, fold, measured, predicted, threshold),
    ]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:>12.4g}"
    return f"{'' if value is None else value:>12}"


def metrics_table(rows: list[dict], overall: dict | None = None) -> str:
    """A fixed-width table of per-fold metrics (and the out-of-fold total) for the terminal."""
    lines = ["  ".join(f"{c[:12]:>12}" for c in TABLE_COLUMNS)]
    lines += ["  ".join(_cell(row.get(c)) for c in TABLE_COLUMNS) for row in rows]
    if overall:
        total = {**overall, "fold": "all", "n_test": overall.get("n_rows")}
        lines.append("  ".join(_cell(total.get(c)) for c in TABLE_COLUMNS))
    return "\n".join(lines)


def write_summary_page(path: Path, title: str, table: str, plots: list[Path], hyperparameters: dict,
                       bundle: Path | None = None, final_fold: int | None = None) -> Path:
    """``summary/index.md``: the metrics, hyperparameters and every plot, linked relative to the page."""
    import os

    path = Path(path)
    lines = [f"# {title}", "", "## Metrics", "",
             "Per fold on its test split; `all` is every row's out-of-fold estimate. "
             "`upper_exceeded_fraction` counts measured peaks above the 95% upper bound.", "",
             "```", table, "```", ""]
    if bundle is not None:
        link = Path(os.path.relpath(bundle, path.parent)).as_posix()
        lines += [f"Final bundle: [{Path(bundle).name}]({link}) (the model of fold {final_fold}).", ""]
    lines += ["## Hyperparameters", ""] + [f"- {k}: {v}" for k, v in hyperparameters.items()]
    lines += ["", "## Plots", ""]
    lines += [f"![{Path(p).stem}]({Path(os.path.relpath(p, path.parent)).as_posix()})" for p in plots]
    path.write_text("\n".join(lines) + "\n")
    return path
