"""Training: data checks, splits, k-fold layout, bundle export equal to Keras, command line."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from jwst_memest.features.schema import load_schema
from jwst_memest.model.baseline import load_baseline

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

N_ROWS = 60
# Tiny networks and few epochs: each fit takes about a second.
SMALL = dict(layers=[8, 4], epochs=5, batch_size=16, learning_rate=1e-2)


def make_table(path, n=N_ROWS, exp_mode="image", seed=0, corpus=False):
    """A small training table whose target follows the physics baseline, with noise."""
    pipeline = {"image": "image3", "spec": "spec3"}[exp_mode]
    names = load_schema(pipeline).names
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(names)))
    columns = {name: X[:, i] for i, name in enumerate(names)}
    columns["instrument"][:] = rng.integers(1, 3, n)
    columns["n_members"][:] = rng.integers(2, 24, n)
    columns["member_pixels"][:] = rng.choice([640**2, 1032 * 1024, 2048**2], n)
    columns["output_pixels"][:] = columns["member_pixels"] * rng.uniform(1, 6, n)
    columns["n_exposure_groups"][:] = columns["n_members"]
    columns["in_memory"][:] = rng.integers(0, 2, n)
    columns["n_integrations"][:] = 1
    columns["member_bytes"][:] = 28 * columns["member_pixels"]
    columns["total_input_bytes"][:] = columns["member_bytes"] * columns["n_members"]
    y = load_baseline(pipeline).predict(X) * rng.uniform(0.95, 1.05, n)
    table = pd.DataFrame(X, columns=names)
    if corpus:
        table.insert(0, "run_id", [f"run{i}" for i in range(n)])
        table.insert(1, "product", "jw01234-o001_t001_synthetic")
        table["measured_gb"], table["status"], table["pipeline"] = y, "ok", pipeline
        table["split"] = np.where(np.arange(n) % 5 == 0, "test", "train")
    else:
        table.insert(0, "Dataset", [f"jw0{i:04d}-o001_t001_nircam" for i in range(n)])
        table["imgsize_gb"], table["pname"] = y, table["Dataset"]
        table["date"], table["imagesize"] = "2024-01-01", y * 1e6
    table.to_csv(path, index=False)
    return path


@pytest.fixture
def train_dir(tmp_path):
    make_table(tmp_path / "train-image.csv")
    return tmp_path


# -- splits (no tensorflow) ------------------------------------------------------------
def _home_covers_every_row_once(folds, n):
    homes = np.concatenate([f.home for f in folds])
    return sorted(homes) == list(range(n))


@pytest.mark.parametrize("n_large", [5, 2, 1])
def test_stratified_folds_keep_a_large_product_in_every_test_split(n_large):
    from jwst_memest.training.crossval import make_folds

    y = np.full(40, 1.0)
    y[np.arange(n_large) * 7] = 60.0
    folds = make_folds(y, 4, stratify=True, threshold=50, seed=1)
    assert len(folds) == 4 and _home_covers_every_row_once(folds, 40)
    for fold in folds:
        assert (y[fold.test] >= 50).any()
        assert not np.intersect1d(fold.train, fold.test).size
        assert len(fold.train) + len(fold.test) == 40


def test_unstratified_folds_partition_the_rows():
    from jwst_memest.training.crossval import make_folds

    folds = make_folds(np.ones(30), 3, stratify=False, seed=0)
    assert sorted(np.concatenate([f.test for f in folds])) == list(range(30))
    assert all(np.array_equal(f.test, f.home) for f in folds)


def test_single_split_is_80_20_and_repeatable():
    from jwst_memest.training.crossval import make_folds

    y = np.r_[np.ones(49), 60.0]
    (fold,) = make_folds(y, 0, stratify=True, threshold=50, seed=3)
    assert len(fold.test) in (10, 11) and 49 in fold.test
    (again,) = make_folds(y, 0, stratify=True, threshold=50, seed=3)
    assert np.array_equal(fold.test, again.test)
    (fixed,) = make_folds(y, 0, stratify=False, fixed_test=np.arange(50) < 5)
    assert list(fixed.test) == [0, 1, 2, 3, 4]


def test_validation_rows_come_from_the_training_rows():
    from jwst_memest.training.crossval import validation_rows

    fit, val = validation_rows(np.arange(10, 50), seed=0)
    assert len(val) == 6 and not np.intersect1d(fit, val).size and sorted(np.r_[fit, val]) == list(range(10, 50))
    fit, val = validation_rows(np.arange(4), seed=0)
    assert len(val) == 0 and list(fit) == [0, 1, 2, 3]


# -- training data -----------------------------------------------------------------------
def test_duplicates_by_pname_keep_the_latest(tmp_path, caplog):
    from jwst_memest.tables import load_training_data

    path = make_table(tmp_path / "train-image.csv", n=10)
    table = pd.read_csv(path)
    again = table.iloc[[0]].copy()
    again["Dataset"], again["date"], again["imgsize_gb"] = "reprocessed", "2025-01-01", 99.0
    pd.concat([again, table]).to_csv(path, index=False)
    with caplog.at_level("INFO", logger="jwst_memest.tables"):
        data = load_training_data(tmp_path)
    assert len(data.y) == 10 and 99.0 in data.y and "dropped 1 duplicate" in caplog.text


def test_corpus_rows_not_ok_or_of_another_pipeline_are_dropped(tmp_path):
    from jwst_memest.tables import load_training_data

    path = make_table(tmp_path / "image3.csv", n=20, corpus=True)
    table = pd.read_csv(path)
    table.loc[0, "status"] = "failed"
    table.loc[1, "measured_gb"] = np.nan  # a failed run has no measurement: dropped, not an error
    table.loc[1, "status"] = "timeout"
    table.loc[2, "pipeline"] = "spec3"
    table.to_csv(path, index=False)
    data = load_training_data(path, "image")
    assert data.kind == "corpus" and len(data.y) == 17 and data.test_split.sum() == 3
    assert data.sha256 and len(data.sha256) == 64


def test_corpus_files_are_pooled_with_their_fixed_splits(tmp_path):
    from jwst_memest.tables import load_training_data

    first = make_table(tmp_path / "image3.csv", n=20, corpus=True)
    second = make_table(tmp_path / "image3-extra.csv", n=10, corpus=True, seed=3)
    pd.read_csv(second).assign(run_id=[f"extra{i}" for i in range(10)]).to_csv(second, index=False)
    data = load_training_data([first, second], "image")
    alone = load_training_data(first, "image")
    assert len(data.y) == 30 and data.test_split.sum() == 4 + 2
    assert np.array_equal(data.X[:20], alone.X) and data.sha256 != alone.sha256
    assert data.label == "image3.csv + image3-extra.csv"


@pytest.mark.parametrize("second_kind,message", [("corpus", "the same row appears in more than one file (run0"),
                                                 ("table", "cannot be pooled")])
def test_pooled_files_must_be_distinct_runs_of_one_format(tmp_path, second_kind, message):
    from jwst_memest.tables import load_training_data

    first = make_table(tmp_path / "image3.csv", n=10, corpus=True)
    second = make_table(tmp_path / "other.csv", n=10, corpus=second_kind == "corpus")
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_training_data([first, second], "image")
    assert "image3.csv + " in str(info.value) and "\n" not in str(info.value)


def _drop(column):
    return lambda p: pd.read_csv(p).drop(columns=[column]).to_csv(p, index=False)


@pytest.mark.parametrize("damage,message", [
    (lambda p: p.unlink(), "training data not found"),
    (_drop("imgsize_gb"), "missing column(s) imgsize_gb"),
    (_drop("Dataset"), "missing column(s) Dataset"),
    (lambda p: pd.read_csv(p).drop(columns=["output_pixels", "n_members"]).to_csv(p, index=False),
     "missing feature column(s) n_members, output_pixels"),
    (lambda p: pd.read_csv(p).assign(imgsize_gb=np.nan).to_csv(p, index=False), "NaN target imgsize_gb"),
    (lambda p: pd.read_csv(p).assign(imgsize_gb=-1.0).to_csv(p, index=False), "non-positive target"),
    (lambda p: pd.read_csv(p).head(4).to_csv(p, index=False), "too few for 3-fold cross-validation"),
    (lambda p: p.write_text(""), "not a readable CSV"),
])
def test_bad_training_input(tmp_path, damage, message):
    from jwst_memest.training.train import JwstCalTrain

    path = make_table(tmp_path / "train-image.csv", n=10)
    damage(path)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        JwstCalTrain(training_data=tmp_path, cross_val=3)
    assert "train-image.csv" in str(info.value) and "\n" not in str(info.value)


def test_bad_corpus_input(tmp_path):
    from jwst_memest.tables import load_training_data

    path = make_table(tmp_path / "image3.csv", n=10, corpus=True)
    pd.read_csv(path).drop(columns=["product"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"image3.csv: missing corpus column\(s\) product"):
        load_training_data(path)
    make_table(path, n=10, corpus=True)
    pd.read_csv(path).assign(status="failed").to_csv(path, index=False)
    with pytest.raises(ValueError, match="0 usable row"):
        load_training_data(path)


def test_bad_settings_are_refused(train_dir):
    from jwst_memest.training.train import JwstCalTrain

    with pytest.raises(ValueError, match="early_stopping must be one of"):
        JwstCalTrain(training_data=train_dir, early_stopping="val_acc")
    with pytest.raises(ValueError, match="unknown exp mode"):
        JwstCalTrain(training_data=train_dir, exp_mode="tso")


def test_command_line_error_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "jwst_memest.training", "-d", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {tmp_path / 'train-image.csv'}: training data not found"


def test_importing_training_loads_no_tensorflow():
    code = "import jwst_memest, jwst_memest.training, sys; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.strip() == "False False"


# -- training ------------------------------------------------------------------------------
@pytest.mark.tensorflow
def test_three_fold_cross_validation_writes_the_whole_layout(train_dir, tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from jwst_memest.training import JwstCalTrain

    out = tmp_path / "run"
    trainer = JwstCalTrain(training_data=train_dir, out=out, cross_val=3, threshold=2.0, early_stopping="val_rmse",
                           **SMALL)
    bundle = trainer.main(stratify=True)
    root = out / "image"
    y = pd.read_csv(train_dir / "train-image.csv")["imgsize_gb"].to_numpy()
    for fold in range(3):
        tts = pd.read_csv(root / "data" / f"image-tts_{fold}.csv", index_col="Dataset")
        assert set(tts["split"]) == {"train", "test"} and len(tts) == N_ROWS
        for name in ("image3_mlp.keras", "image3_mlp.ckpt.keras", "image3_mlp.asdf"):
            assert (root / "models" / str(fold) / name).is_file(), name
        results = root / "results" / str(fold)
        for name in ("history.npz", "loss.npz", "predictions.npy", "residuals.npy", "test_idx.npy"):
            assert (results / name).is_file(), name
        for plot in ("residuals", "loss", "roc", "precision-recall"):
            assert (results / f"fold{fold}-{plot}.png").is_file(), plot
        test_idx = np.load(results / "test_idx.npy")
        assert sorted(tts.index[tts["split"] == "test"]) == sorted(tts.index[test_idx])
        assert np.allclose(np.load(results / "residuals.npy"), np.load(results / "predictions.npy") - y[test_idx])
        history = np.load(results / "history.npz")
        assert {"loss", "val_loss", "val_rmse", "test_loss"} <= set(history.files)
        # stratified: every test split holds a product at or above the threshold
        assert (y[test_idx] >= 2.0).any()
    summary = root / "summary"
    for name in ("image-cv-metrics.csv", "image-cv-scores.json", "image-hyperparameters.txt", "index.md"):
        assert (summary / name).is_file(), name
    assert len(pd.read_csv(summary / "image-cv-metrics.csv")) == 3
    scores = json.loads((summary / "image-cv-scores.json").read_text())
    assert scores["out_of_fold"]["n_rows"] == N_ROWS
    assert "layers: [8, 4]" in (summary / "image-hyperparameters.txt").read_text()
    page = (summary / "index.md").read_text()
    linked = re.findall(r"!\[[^]]*\]\(([^)]+)\)", page)
    assert len(linked) == 12 and all((summary / link).is_file() for link in linked)
    assert (root / "models" / "image3_mlp.png").is_file() or (root / "models" / "image3_mlp.txt").is_file()
    assert bundle == root / "models" / "image3_mlp.asdf" and bundle.is_file()
    table = capsys.readouterr().out
    assert "rmse_gb" in table and re.search(r"^\s+all\s", table, re.M)


@pytest.mark.tensorflow
@pytest.mark.parametrize("norm", [1, pytest.param(0, marks=pytest.mark.slow)])
def test_exported_bundle_equals_keras(train_dir, tmp_path, norm):
    pytest.importorskip("tensorflow")
    import keras

    bundle_module = pytest.importorskip("jwst_memest.model.bundle")
    from jwst_memest.model.bundle import MIN_GB
    from jwst_memest.training import JwstCalTrain
    from jwst_memest.training.preprocess import fit_normalizer

    trainer = JwstCalTrain(training_data=train_dir, out=tmp_path / "run", norm=norm, **SMALL)
    final = trainer.main(stratify=False)
    root = tmp_path / "run" / "image"
    model = keras.models.load_model(root / "models" / "0" / "image3_mlp.keras")
    bundle = bundle_module.load_bundle(final)
    data = trainer.data
    test_idx = np.load(root / "results" / "0" / "test_idx.npy")
    train_idx = np.setdiff1d(np.arange(len(data.y)), test_idx)
    normalizer, _ = fit_normalizer(data.X[train_idx], "image3", norm)
    expected = np.expm1(model.predict(normalizer(data.X), verbose=0)[:, 0].astype(np.float64))
    assert np.allclose(bundle.predict(data.X), np.maximum(expected, MIN_GB), rtol=1e-5, atol=1e-6)
    assert np.allclose(bundle.predict(data.X[test_idx]), np.load(root / "results" / "0" / "predictions.npy"),
                       rtol=1e-5, atol=1e-6)
    assert bundle.provenance["training_rows"] == N_ROWS and len(bundle.provenance["training_data_sha256"]) == 64
    assert {"tensorflow", "scikit-learn", "numpy"} <= set(bundle.provenance["library_versions"]) or \
        {"tensorflow-cpu", "scikit-learn", "numpy"} <= set(bundle.provenance["library_versions"])
    held_out = bundle.metrics["held_out"]
    assert held_out["n_rows"] == 12
    assert {"median_abs_pct_error", "rmse_gb", "upper_exceeded_fraction"} <= set(held_out)
    assert bundle.upper_bound.n_rows == 12


@pytest.mark.slow
@pytest.mark.tensorflow
def test_same_seed_same_model(train_dir, tmp_path):
    pytest.importorskip("tensorflow")
    from jwst_memest.training import JwstCalTrain

    predictions = []
    for run in ("a", "b"):
        JwstCalTrain(training_data=train_dir, out=tmp_path / run, seed=7, **SMALL).main()
        predictions.append(np.load(tmp_path / run / "image" / "results" / "0" / "predictions.npy"))
    assert np.array_equal(*predictions)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_corpus_table_uses_its_fixed_split(tmp_path):
    pytest.importorskip("tensorflow")
    from jwst_memest.training import JwstCalTrain

    corpus = make_table(tmp_path / "image3.csv", corpus=True)
    trainer = JwstCalTrain(training_data=corpus, out=tmp_path / "run", **SMALL)
    trainer.main()
    test_idx = np.load(tmp_path / "run" / "image" / "results" / "0" / "test_idx.npy")
    assert sorted(test_idx) == list(range(0, N_ROWS, 5))


@pytest.mark.slow
@pytest.mark.tensorflow
def test_command_line_trains_adds_to_a_folder_and_installs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tensorflow")
    from jwst_memest.training.__main__ import main

    make_table(tmp_path / "train-image.csv")
    make_table(tmp_path / "train-spec.csv", exp_mode="spec", seed=1)
    out, models = tmp_path / "2024-01-01_1704067200", tmp_path / "models"
    monkeypatch.setenv("JWST_MEMEST_MODEL_DIR", str(models))
    common = ["-d", str(tmp_path), "-o", str(out), "--layers", "6,3", "--epochs", "3", "--batch-size", "16",
              "--learning-rate", "0.01"]
    # in-process: the command line's parsing and flow without paying for a second tensorflow import
    assert main([*common, "--exp-mode", "image", "-k", "2", "--stratify", "--threshold", "2"]) == 0
    assert main([*common, "--exp-mode", "spec", "--install", "--early-stopping", "val_loss"]) == 0
    printed = capsys.readouterr().out
    assert (out / "image" / "models" / "image3_mlp.asdf").is_file()
    assert (out / "image" / "results" / "1" / "test_idx.npy").is_file()
    assert (out / "spec" / "models" / "spec3_mlp.asdf").is_file()
    assert (models / "spec3.asdf").is_file() and f"installed: {models / 'spec3.asdf'}" in printed
    assert main([*common, "--layers", "6,x"]) == 2
    assert "--layers '6,x': expected comma-separated integers" in capsys.readouterr().err


@pytest.mark.tensorflow
def test_hybrid_target_learns_a_correction_on_the_physics_baseline(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    import keras

    from jwst_memest.model.bundle import MIN_GB, load_bundle
    from jwst_memest.training.__main__ import main
    from jwst_memest.tables import load_training_data
    from jwst_memest.training.preprocess import fit_normalizer

    corpus = make_table(tmp_path / "image3.csv", corpus=True)
    table = pd.read_csv(corpus)
    # a held-out run bigger than every training run: the network sees it clipped to the training ranges
    for name, factor in (("n_members", 3), ("n_exposure_groups", 3), ("output_pixels", 10)):
        table.loc[0, name] = table[name].max() * factor
    table.to_csv(corpus, index=False)
    data = load_training_data(corpus, "image")
    baseline = load_baseline("image3")
    # measured peaks follow the baseline within 5 %, as make_table draws them
    table["measured_gb"] = baseline.predict(data.X) * np.random.default_rng(1).uniform(0.95, 1.05, len(table))
    table.to_csv(corpus, index=False)
    data = load_training_data(corpus, "image")
    out = tmp_path / "run"
    assert main(["-d", str(corpus), "-o", str(out), "--target", "physics-ratio", "--layers", "8,4", "--epochs", "5",
                 "--batch-size", "16", "--learning-rate", "0.01"]) == 0
    assert "image3_hybrid.asdf" in capsys.readouterr().out
    root = out / "image"
    bundle = load_bundle(root / "models" / "image3_hybrid.asdf")
    assert bundle.kind == "hybrid" and bundle.output_transform == "log_ratio"
    assert bundle.tree["baseline"]["version"] == str(baseline.version)
    assert bundle.tree["baseline"]["checksum"] == baseline.checksum
    test_idx = np.load(root / "results" / "0" / "test_idx.npy")
    train_idx = np.setdiff1d(np.arange(len(data.y)), test_idx)
    assert 0 in test_idx
    ranges = bundle.tree["input_ranges"]
    columns = [data.names.index(n) for n in ranges["features"]]
    assert np.array_equal(ranges["min"], data.X[train_idx][:, columns].min(axis=0))
    assert np.array_equal(ranges["max"], data.X[train_idx][:, columns].max(axis=0))
    assert data.X[0, data.names.index("output_pixels")] > ranges["max"][ranges["features"].index("output_pixels")]
    # Keras on the clipped, normalised features, times the baseline on the raw ones
    clipped = data.X.copy()
    clipped[:, columns] = np.clip(clipped[:, columns], ranges["min"], ranges["max"])
    normalizer, _ = fit_normalizer(clipped[train_idx], "image3", 1)
    model = keras.models.load_model(root / "models" / "0" / "image3_hybrid.keras")
    correction = np.exp(model.predict(normalizer(clipped), verbose=0)[:, 0].astype(np.float64))
    expected = np.maximum(baseline.predict(data.X) * correction, MIN_GB)
    assert np.allclose(bundle.predict(data.X), expected, rtol=1e-5)
    held_out = np.load(root / "results" / "0" / "predictions.npy")
    assert np.allclose(bundle.predict(data.X[test_idx]), held_out, rtol=1e-5)
    # the network learnt log(measured / baseline): a small correction, so the estimates stay near the peaks
    assert np.median(np.abs(held_out / data.y[test_idx] - 1)) < 0.1
    assert "target: physics-ratio" in (root / "summary" / "image-hyperparameters.txt").read_text()
