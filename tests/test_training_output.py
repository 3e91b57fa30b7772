"""Training output people can read: plots, memory bins, a quiet terminal, the summary page."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_training import SMALL, make_table

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


# -- loss plot ------------------------------------------------------------------------------
def test_loss_plot_keeps_the_penalised_objective_and_the_plain_error_on_separate_axes():
    from jwst_memest.training.report import loss_figure

    epochs = np.arange(1, 11)
    history = {"loss": 2.0 / epochs, "val_loss": 2.2 / epochs, "rmse": 0.3 / epochs, "val_rmse": 0.32 / epochs,
               "test_loss": 0.01 / epochs, "test_rmse": 0.1 / epochs}
    figure = loss_figure(history, "log1p(GB)", penalized=True)
    kinds = {"loss": "objective", "val_loss": "objective", "rmse": "error", "val_rmse": "error",
             "test_rmse": "error", "test_loss": "error"}
    plotted = set()
    for axis in figure.axes:
        keys = {re.search(r"\((\w+)\)", line.get_label()).group(1) for line in axis.get_lines()}
        plotted |= keys
        assert len({kinds[k] for k in keys}) == 1, f"{axis.get_ylabel()!r} mixes {sorted(keys)}"
        penalised = {kinds[k] for k in keys} == {"objective"}
        assert ("penalty" in axis.get_ylabel()) == penalised, axis.get_ylabel()
        assert "log1p(GB)" in axis.get_ylabel()
        assert axis.get_ylabel().startswith("MSE" if penalised else "RMSE")
    assert {"loss", "val_loss", "test_rmse"} <= plotted
    unpenalised = loss_figure(history, "log(measured / baseline)", penalized=False)
    assert all("penalty" not in axis.get_ylabel() for axis in unpenalised.axes)


# -- memory bins --------------------------------------------------------------------------------
def _corpus_peaks():
    from jwst_memest.profile.fit import load_measured

    _, measured, _, _ = load_measured(sorted(map(str, (REPO / "data" / "corpus").glob("image3*.csv"))), "image3")
    return measured


def test_bins_come_from_the_data_when_the_threshold_is_above_most_of_it():
    from jwst_memest.training.report import bin_auc, memory_bins

    measured = _corpus_peaks()
    assert measured.max() < 50  # the default threshold is above every measured run
    edges = memory_bins(50, measured)
    counts = np.histogram(measured, edges)[0]
    assert len(counts) >= 4 and counts.min() >= 0.15 * measured.size, (edges, counts)
    # an estimate 10 % off still tells the bins apart only partly: the AUCs say something
    rng = np.random.default_rng(0)
    auc = bin_auc(measured, measured * rng.uniform(0.85, 1.15, measured.size), edges)
    assert sum(v is not None for v in auc.values()) >= 4
    assert min(v for v in auc.values() if v is not None) < 0.99
    # data spread around the threshold keep the threshold's bins
    spread = np.geomspace(0.5, 200, 200)
    assert list(memory_bins(32, spread)) == [0, 2, 8, 32, np.inf]
    assert list(memory_bins(32)) == [0, 2, 8, 32, np.inf]


# -- terminal ---------------------------------------------------------------------------------
@pytest.mark.slow  # a second interpreter imports tensorflow and trains three folds of 12 epochs
@pytest.mark.tensorflow
def test_a_three_fold_run_prints_a_few_dozen_lines(tmp_path):
    pytest.importorskip("tensorflow")
    make_table(tmp_path / "train-image.csv")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "jwst_memest.training", "-d", str(tmp_path), "-k", "3", "--epochs", "12",
               "--layers", "6,3", "--batch-size", "16", "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout + result.stderr
    # carriage returns count too: a progress bar redrawn in place is still a line in a log file
    lines = [line for line in re.split(r"[\r\n]+", text) if line.strip()]
    assert len(lines) <= 40, "\n".join(lines)
    assert "port.cc" not in text and "absl" not in text and "retracing" not in text
    assert re.search(r"^\s+all\s", result.stdout, re.M) and "physics_baseline_image3" in result.stdout
    assert (out / "image" / "models" / "image3_mlp.asdf").is_file()


# -- summary page ---------------------------------------------------------------------------------
IMAGE_CHECK = """
<script>
window.addEventListener("load", () => {
  const found = [...document.images].map(i => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]);
  const pre = document.createElement("pre");
  pre.id = "image-check";
  pre.textContent = JSON.stringify(found);
  document.body.appendChild(pre);
});
</script>
"""


def _rendered_images(page: Path) -> list:
    """[src, loaded] of every image of a page, as headless Chromium loads it."""
    probe = page.with_name("_image_check.html")
    probe.write_text(page.read_text().replace("</body>", IMAGE_CHECK + "</body>"))
    result = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--allow-file-access-from-files",
                             "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
                            capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="image-check">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    pytest.importorskip("tensorflow")
    from jwst_memest.training import JwstCalTrain

    root = tmp_path_factory.mktemp("summary")
    corpus = make_table(root / "image3.csv", corpus=True)
    JwstCalTrain(training_data=corpus, out=root / "run", cross_val=2, threshold=2.0, **SMALL).main(stratify=False)
    return root / "run" / "image"


@pytest.mark.tensorflow
def test_summary_page_holds_the_folds_the_plots_and_the_baseline_comparison(trained_run):
    page = (trained_run / "summary" / "index.html").read_text()
    scores = json.loads((trained_run / "summary" / "image-cv-scores.json").read_text())
    comparison = scores["physics_baseline_comparison"]
    assert set(comparison) == {"out-of-fold rows", "corpus test split"}
    for group in comparison.values():
        assert set(group) == {"image3_mlp", "physics_baseline_image3 version 4"} or len(group) == 2
        for metrics in group.values():
            assert {"median_abs_pct_error", "p90_abs_pct_error", "upper_exceeded_fraction"} <= set(metrics)
    baseline_row = comparison["out-of-fold rows"][next(k for k in comparison["out-of-fold rows"] if "physics" in k)]
    assert f"{baseline_row['median_abs_pct_error']:.1f}" in page and f"{baseline_row['p90_abs_pct_error']:.1f}" in page
    for fold in (0, 1):
        assert re.search(rf"<tr><td[^>]*>{fold}</td>", page)
        for plot in ("residuals", "loss", "roc", "precision-recall"):
            assert f"results/{fold}/fold{fold}-{plot}.png" in page
    assert "all (out-of-fold)" in page and "peak above the 95% bound" in page


@pytest.mark.tensorflow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_summary_page_images_all_load_in_chromium(trained_run):
    images = _rendered_images(trained_run / "summary" / "index.html")
    assert len(images) == 8
    assert [src for src, loaded in images if not loaded] == []
