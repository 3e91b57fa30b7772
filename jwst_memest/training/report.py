"""Per-fold plots, the terminal metrics table and the summary page."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.atomic import atomic_write

__all__ = ["memory_bins", "bin_label", "bin_scores", "bin_auc", "loss_figure", "plot_fold", "metrics_table",
           "comparison_table", "write_summary_page", "write_summary_html"]

FOLD_TABLE_COLUMNS = ("fold", "n_train", "n_test", "epochs", "rmse_gb", "median_abs_pct_error",
                 "under_estimate_fraction", "upper_exceeded_fraction")
DPI = 80
# Threshold-scaled bins are used when three of them each hold this share of the runs; else quartiles.
MIN_BIN_SHARE = 0.05
QUANTILE_EDGES = (0.25, 0.5, 0.75)


def memory_bins(threshold: float, measured=None) -> np.ndarray:
    """Bin edges (GB) for the classification view of the regression.

    Scaled to the threshold (32 GB gives <2, 2-8, 8-32 and >=32 GB) when at least three of those bins
    each hold a share ``MIN_BIN_SHARE`` of the ``measured`` peaks. Otherwise, when the threshold lies
    above most of the data (the measured corpus tops out near 10 GB; the default threshold is 50),
    threshold bins would leave one or two classes and a meaningless AUC of 1: the bins are then the
    quartiles of the measured peaks.

    Parameters
    ----------
    threshold : float
        The large-product threshold, GB.
    measured : array_like or None, optional
        The measured peaks, GB (None: threshold bins).

    Returns
    -------
    numpy.ndarray
        The edges, from 0 to infinity.
    """
    edges = np.array([0.0, threshold / 16, threshold / 4, threshold, np.inf])
    if measured is None:
        return edges
    measured = np.asarray(measured, dtype=float)
    measured = measured[np.isfinite(measured)]
    if measured.size == 0:
        return edges
    counts = np.histogram(measured, edges)[0]
    if np.sum(counts >= MIN_BIN_SHARE * measured.size) >= 3:
        return edges
    inner = np.unique(np.quantile(measured, QUANTILE_EDGES))
    inner = inner[(inner > 0) & (inner < measured.max())]
    return np.concatenate([[0.0], inner, [np.inf]])


def bin_label(low: float, high: float) -> str:
    """A memory bin's label.

    Parameters
    ----------
    low, high : float
        The bin's edges, GB (0 and infinity for the open bins).

    Returns
    -------
    str
        Such as ``2-8 GB``, ``<2 GB`` or ``>=32 GB``.
    """
    if not np.isfinite(high):
        return f">={low:.3g} GB"
    if low <= 0:
        return f"<{high:.3g} GB"
    return f"{low:.3g}-{high:.3g} GB"


def bin_scores(predicted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Score per bin (rows x bins): minus the distance of the prediction to the bin, 0 inside it.

    Parameters
    ----------
    predicted : numpy.ndarray
        Predictions, GB.
    edges : numpy.ndarray
        Bin edges, GB.

    Returns
    -------
    numpy.ndarray
        The scores.
    """
    predicted = np.asarray(predicted, dtype=float)
    lo, hi = edges[:-1], edges[1:]
    below = np.clip(lo[None, :] - predicted[:, None], 0, None)
    above = np.clip(predicted[:, None] - hi[None, :], 0, None)
    return -(below + above)


def _save(fig, path: Path, plt) -> Path:
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, dpi=DPI, format=Path(path).suffix.lstrip("."))
    plt.close(fig)
    return path


def _residual_plot(plt, path, fold, measured, predicted, baseline=None) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if baseline is not None:
        left.scatter(measured, baseline, s=10, marker="x", color="0.6", label="physics baseline")
    left.scatter(measured, predicted, s=10, label="this model")
    top = max(measured.max(), predicted.max()) * 1.05
    left.plot([0, top], [0, top], "k--", lw=1)
    left.set(xlabel="measured peak (GB)", ylabel="estimated (GB)", title=f"fold {fold}: estimate vs measured")
    if baseline is not None:
        left.legend(fontsize=8)
    percent = 100 * (predicted - measured) / measured
    others = [] if baseline is None else [100 * (baseline - measured) / measured]
    edges = np.histogram_bin_edges(np.concatenate([percent, *others]), bins=20)  # one binning for both
    right.hist(percent, bins=edges, label="this model")
    if baseline is not None:
        right.hist(others[0], bins=edges, histtype="step", color="0.2", lw=1.5, label="physics baseline")
        right.legend(fontsize=8)
    right.set(xlabel="error: (estimated - measured) / measured (%)", ylabel="test products",
              title="relative errors on the test split")
    return _save(fig, path, plt)


# Per-epoch series of the history and the panel each belongs to: the training objective (what the
# optimiser minimises: the loss plus any weight penalty) and the plain error of the target.
OBJECTIVE_SERIES = {"loss": "train", "val_loss": "validation"}
ERROR_SERIES = {"rmse": "train", "val_rmse": "validation", "test_rmse": "test"}


def loss_figure(history: dict, target_label: str = "log1p(GB)", penalized: bool = True, fold=None):
    """Two panels: the training objective (train and validation) and the plain RMSE of the target.

    Keras' ``loss`` and ``val_loss`` include the weight penalty (the L2 term of the first layer by
    default) and so are not comparable with a plain error; the test rows' error is plain RMSE, on
    the right panel with the train and validation RMSE.

    Parameters
    ----------
    history : dict
        Keras' history, with the test rows' ``test_loss`` and ``test_rmse``.
    target_label : str, optional
        What the target is, for the axes.
    penalized : bool, optional
        Whether the objective includes a weight penalty (said in the title).
    fold : int or None, optional
        The fold, for the title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (objective, error) = plt.subplots(1, 2, figsize=(10, 4))
    for axis, series in ((objective, OBJECTIVE_SERIES), (error, ERROR_SERIES)):
        for key, label in series.items():
            values = np.asarray(history.get(key, []), dtype=float)
            if values.size:
                axis.plot(np.arange(1, values.size + 1), values, label=f"{label} ({key})")
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=8)
        axis.set(xlabel="epoch", yscale="log")
    penalty = " + weight penalty" if penalized else ""
    prefix = f"fold {fold}: " if fold is not None else ""
    objective.set(ylabel=f"MSE of {target_label}{penalty}", title=f"{prefix}training objective")
    error.set(ylabel=f"RMSE of {target_label}", title=f"{prefix}error of the target (no penalty)")
    return fig


def _loss_plot(plt, path, fold, history, target_label, penalized) -> Path:
    return _save(loss_figure(history, target_label, penalized, fold), path, plt)


def bin_auc(measured, predicted, edges) -> dict:
    """ROC-AUC per memory bin.

    Parameters
    ----------
    measured : array_like
        Measured peaks, GB.
    predicted : array_like
        Predictions, GB.
    edges : numpy.ndarray
        Bin edges, GB.

    Returns
    -------
    dict
        Bin label to AUC; None for a bin with one class only in ``measured``.
    """
    from sklearn.metrics import roc_auc_score

    truth = np.digitize(measured, edges[1:-1])
    scores = bin_scores(predicted, edges)
    result = {}
    for b in range(len(edges) - 1):
        positives = truth == b
        label = bin_label(edges[b], edges[b + 1])
        result[label] = None if positives.all() or not positives.any() else float(
            roc_auc_score(positives, scores[:, b]))
    return result


def _bin_plots(plt, directory, fold, measured, predicted, edges) -> list[Path]:
    """ROC and precision-recall per memory bin: does the estimate land in the measured bin."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    truth = np.digitize(measured, edges[1:-1])
    scores = bin_scores(predicted, edges)
    fig_roc, roc_axis = plt.subplots(figsize=(5, 4))
    fig_pr, pr_axis = plt.subplots(figsize=(5, 4))
    for b in range(len(edges) - 1):
        positives = truth == b
        label = f"{bin_label(edges[b], edges[b + 1])}, {int(positives.sum())} run(s)"
        if positives.all() or not positives.any():
            continue  # a bin with one class only has no curve
        fpr, tpr, _ = roc_curve(positives, scores[:, b])
        roc_axis.plot(fpr, tpr, label=f"{label} (AUC {auc(fpr, tpr):.2f})")
        precision, recall, _ = precision_recall_curve(positives, scores[:, b])
        pr_axis.plot(recall, precision, label=f"{label} (AP {average_precision_score(positives, scores[:, b]):.2f})")
    roc_axis.plot([0, 1], [0, 1], "k:", lw=1)
    roc_axis.set(xlabel="false positive rate", ylabel="true positive rate", title=f"fold {fold}: ROC per memory bin")
    pr_axis.set(xlabel="recall", ylabel="precision", title=f"fold {fold}: precision-recall per bin")
    paths = []
    for axis, fig, name in ((roc_axis, fig_roc, "roc"), (pr_axis, fig_pr, "precision-recall")):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
        paths.append(_save(fig, directory / f"fold{fold}-{name}.png", plt))
    return paths


def plot_fold(directory: Path, fold: int, measured, predicted, history: dict, bins,
              target_label: str = "log1p(GB)", baseline=None, penalized: bool = True) -> list[Path]:
    """Residuals, loss history, ROC-AUC and precision-recall per memory bin.

    Parameters
    ----------
    directory : pathlib.Path
        Where the PNGs are written.
    fold : int
        The fold.
    measured : array_like
        Its test rows' measured peaks, GB.
    predicted : array_like
        Their predictions, GB.
    history : dict
        The fold's training history.
    bins : numpy.ndarray or float
        Bin edges in GB (`memory_bins`), or a threshold in GB to scale them to.
    target_label : str, optional
        What the target is.
    baseline : array_like or None, optional
        The physics baseline's estimates of the same rows, drawn beside the model's.
    penalized : bool, optional
        Whether the objective includes a weight penalty.

    Returns
    -------
    list of pathlib.Path
        The PNGs written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    measured, predicted = np.asarray(measured, dtype=float), np.asarray(predicted, dtype=float)
    edges = memory_bins(float(bins)) if np.ndim(bins) == 0 else np.asarray(bins, dtype=float)
    return [
        _residual_plot(plt, directory / f"fold{fold}-residuals.png", fold, measured, predicted,
                       None if baseline is None else np.asarray(baseline, dtype=float)),
        _loss_plot(plt, directory / f"fold{fold}-loss.png", fold, history, target_label, penalized),
        *_bin_plots(plt, directory, fold, measured, predicted, edges),
    ]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:>12.4g}"
    return f"{'' if value is None else value:>12}"


def metrics_table(rows: list[dict], overall: dict | None = None) -> str:
    """A fixed-width table of per-fold metrics (and the out-of-fold total) for the terminal.

    Parameters
    ----------
    rows : list of dict
        Each fold's metrics.
    overall : dict or None, optional
        The out-of-fold metrics, as a last row ``all``.

    Returns
    -------
    str
        The table.
    """
    lines = ["  ".join(f"{c[:12]:>12}" for c in FOLD_TABLE_COLUMNS)]
    lines += ["  ".join(_cell(row.get(c)) for c in FOLD_TABLE_COLUMNS) for row in rows]
    if overall:
        total = {**overall, "fold": "all", "n_test": overall.get("n_rows")}
        lines.append("  ".join(_cell(total.get(c)) for c in FOLD_TABLE_COLUMNS))
    return "\n".join(lines)


COMPARISON_COLUMNS = (("n_rows", "rows", "{:d}"), ("median_abs_pct_error", "median abs % error", "{:.1f}"),
                      ("p90_abs_pct_error", "p90 abs % error", "{:.1f}"), ("rmse_gb", "RMSE (GB)", "{:.3f}"),
                      ("under_estimate_fraction", "estimate below peak", "{:.0%}"),
                      ("upper_exceeded_fraction", "peak above the 95% bound", "{:.0%}"))
# the same columns, short enough for a terminal
SHORT_TITLES = ("rows", "median %", "p90 %", "RMSE GB", "est<peak", "peak>bound")
COMPARISON_NOTE = ("The model's bound is judged leave-one-out (each row by the bound calibrated without it). "
                   "The physics baseline's coefficients and per-mode bounds were fitted by fit-baseline on the "
                   "measured corpus' train split, so on rows of that split its figures are in-sample; the "
                   "corpus test split, when the data has one, is held out from both.")


def _format(value, pattern: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    return pattern.format(int(value) if pattern == "{:d}" else value)


def comparison_table(comparison: dict) -> str:
    """The comparison with the physics baseline as fixed-width text (terminal and index.md).

    Parameters
    ----------
    comparison : dict
        Per group of rows, per estimator, its metrics.

    Returns
    -------
    str
        The table.
    """
    lines = []
    width = max([len(name) for rows in comparison.values() for name in rows] + [10])
    for group, estimators in comparison.items():
        lines.append(f"{group}:")
        lines.append(f"  {'estimator':<{width}}  " + "  ".join(f"{title:>10}" for title in SHORT_TITLES))
        for name, m in estimators.items():
            cells = "  ".join(f"{_format(m.get(key), pattern):>10}" for key, _, pattern in COMPARISON_COLUMNS)
            lines.append(f"  {name:<{width}}  {cells}")
    return "\n".join(lines)


def _relative(target, page: Path) -> str:
    import os

    return Path(os.path.relpath(target, page.parent)).as_posix()


def _flat(plots) -> list[Path]:
    """Plot paths from a list of paths or of (fold, paths) pairs."""
    flat = []
    for item in plots:
        flat += list(item[1]) if isinstance(item, tuple) else [item]
    return flat


def write_summary_page(path: Path, title: str, table: str, plots, hyperparameters: dict,
                       bundle: Path | None = None, final_fold: int | None = None, comparison: dict | None = None) -> Path:
    """``summary/index.md``: the metrics, the baseline comparison, hyperparameters and every plot.

    Parameters
    ----------
    path : pathlib.Path
        The page.
    title : str
        Its title.
    table : str
        The metrics table (`metrics_table`).
    plots : list
        The plots' paths (nested per fold).
    hyperparameters : dict
        The run's hyperparameters.
    bundle : pathlib.Path or None, optional
        The final bundle.
    final_fold : int or None, optional
        The fold it comes from.
    comparison : dict or None, optional
        The comparison with the physics baseline.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    lines = [f"# {title}", "", "## Metrics", "",
             "Per fold on its test split; `all` is every row's out-of-fold estimate. "
             "`upper_exceeded_fraction` counts measured peaks above the 95% upper bound.", "",
             "```", table, "```", ""]
    if comparison:
        lines += ["## Compared with the physics baseline", "", COMPARISON_NOTE, "",
                  "```", comparison_table(comparison), "```", ""]
    if bundle is not None:
        lines += [f"Final bundle: [{Path(bundle).name}]({_relative(bundle, path)}) (the model of fold {final_fold}).", ""]
    lines += ["## Hyperparameters", ""] + [f"- {k}: {v}" for k, v in hyperparameters.items()]
    lines += ["", "## Plots", ""]
    lines += [f"![{Path(p).stem}]({_relative(p, path)})" for p in _flat(plots)]
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return path


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; }
td { text-align: right; } td.name, th.name { text-align: left; }
tr.total td { font-weight: bold; background: #f3f3f3; }
figure { display: inline-block; margin: 0 0.5em 1em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
p.note { color: #555; font-size: 0.9em; max-width: 900px; }
"""


def _html_table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    from html import escape

    out = ["<table>", "<tr>" + "".join(f'<th class="{"name" if i == 0 else ""}">{escape(h)}</th>'
                                       for i, h in enumerate(header)) + "</tr>"]
    for r, row in enumerate(rows):
        css = f' class="{classes[r]}"' if classes and classes[r] else ""
        out.append(f"<tr{css}>" + "".join(f'<td class="{"name" if i == 0 else ""}">{escape(str(c))}</td>'
                                          for i, c in enumerate(row)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


FOLD_COLUMNS = (("fold", "fold", "{}"), ("n_train", "train rows", "{:d}"), ("n_test", "test rows", "{:d}"),
                ("epochs", "epochs", "{:d}"), ("rmse_gb", "RMSE (GB)", "{:.3f}"),
                ("median_abs_pct_error", "median abs % error", "{:.1f}"), ("p90_abs_pct_error", "p90 abs % error", "{:.1f}"),
                ("under_estimate_fraction", "estimate below peak", "{:.0%}"),
                ("upper_exceeded_fraction", "peak above the 95% bound", "{:.0%}"))


def write_summary_html(path: Path, title: str, folds: list[dict], overall: dict, plots, hyperparameters: dict,
                       comparison: dict | None = None, bundle: Path | None = None, final_fold: int | None = None,
                       bins=None) -> Path:
    """``summary/index.html``: the baseline comparison, the per-fold table, every plot, the settings.

    Self-contained apart from the plots, which are linked relative to the page (the run folder can
    be moved or copied whole).

    Parameters
    ----------
    path : pathlib.Path
        The page.
    title : str
        Its title.
    folds : list of dict
        Each fold's metrics.
    overall : dict
        The out-of-fold metrics.
    plots : list
        The plots' paths (nested per fold).
    hyperparameters : dict
        The run's hyperparameters.
    comparison : dict or None, optional
        The comparison with the physics baseline.
    bundle : pathlib.Path or None, optional
        The final bundle.
    final_fold : int or None, optional
        The fold it comes from.
    bins : numpy.ndarray or None, optional
        The memory bins' edges, GB.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from html import escape

    path = Path(path)
    body = [f"<h1>{escape(title)}</h1>"]
    if comparison:
        body.append("<h2>Held out: this model and the physics baseline</h2>")
        for group, estimators in comparison.items():
            rows = [[name] + [_format(m.get(key), pattern) for key, _, pattern in COMPARISON_COLUMNS]
                    for name, m in estimators.items()]
            body.append(f"<h3>{escape(group)}</h3>")
            body.append(_html_table(["estimator"] + [t for _, t, _ in COMPARISON_COLUMNS], rows))
        body.append(f'<p class="note">{escape(COMPARISON_NOTE)}</p>')
    body.append("<h2>Per fold (test split of each)</h2>")
    rows = [[_format(row.get(key), pattern) if key != "fold" else str(row.get(key)) for key, _, pattern in FOLD_COLUMNS]
            for row in [*folds, {**overall, "fold": "all (out-of-fold)", "n_test": overall.get("n_rows")}]]
    classes = [""] * len(folds) + ["total"]
    body.append(_html_table([t for _, t, _ in FOLD_COLUMNS], rows, classes))
    if bundle is not None:
        body.append(f'<p>Final bundle: <a href="{escape(_relative(bundle, path))}">{escape(Path(bundle).name)}</a> '
                    f"(the model of fold {final_fold}, lowest held-out RMSE).</p>")
    body.append("<h2>Plots</h2>")
    if bins is not None:
        edges = np.asarray(bins, dtype=float)
        labels = ", ".join(bin_label(lo, hi) for lo, hi in zip(edges[:-1], edges[1:]))
        body.append(f'<p class="note">Memory bins of the ROC and precision-recall plots: {escape(labels)}. '
                    "A product's score for a bin is minus the distance of its estimate to the bin.</p>")
    grouped = plots if plots and isinstance(plots[0], tuple) else [(None, plots)]
    for fold, paths in grouped:
        if fold is not None:
            body.append(f"<h3>Fold {fold}</h3>")
        for plot in paths:
            body.append(f'<figure><img src="{escape(_relative(plot, path))}" alt="{escape(Path(plot).stem)}">'
                        f"<figcaption>{escape(Path(plot).stem)}</figcaption></figure>")
    body.append("<h2>Hyperparameters</h2>")
    body.append(_html_table(["setting", "value"], [[k, v] for k, v in hyperparameters.items()]))
    html = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
    with atomic_write(path) as handle:
        handle.write(html)
    return path
