"""Training: data checks, k-fold layout, bundle export equal to Keras, command line."""

import subprocess
import sys

import numpy as np
import pytest

from jwst_memest.features.schema import load_schema
from jwst_memest.model.baseline import load_baseline

pd = pytest.importorskip("pandas")


def make_table(path, n=60, exp_mode="image", seed=0, corpus=False):
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


SMALL = dict(layers=[8, 4], epochs=5, batch_size=16, learning_rate=1e-2)


@pytest.mark.tensorflow
def test_three_fold_cross_validation_writes_the_whole_layout(train_dir, tmp_path):
    pytest.importorskip("tensorflow")
    from jwst_memest.training import JwstCalTrain

    out = tmp_path / "run"
    trainer = JwstCalTrain(training_data=train_dir, out=out, cross_val=3, threshold=2.0, **SMALL)
    bundle = trainer.main(stratify=True)
    root = out / "image"
    for fold in range(3):
        assert (root / "data" / f"image-tts_{fold}.csv").is_file()
        for name in ("image3_mlp.keras", "image3_mlp.ckpt.keras", "image3_mlp.asdf"):
            assert (root / "models" / str(fold) / name).is_file(), name
        for name in ("history.npz", "loss.npz", "predictions.npy", "residuals.npy", "test_idx.npy"):
            assert (root / "results" / str(fold) / name).is_file(), name
        for plot in ("residuals", "loss", "roc", "precision-recall"):
            assert (root / "results" / str(fold) / f"fold{fold}-{plot}.png").is_file(), plot
    for name in ("image-cv-metrics.csv", "image-cv-scores.json", "image-hyperparameters.txt", "index.md"):
        assert (root / "summary" / name).is_file(), name
    assert (root / "models" / "image3_mlp.png").is_file() or (root / "models" / "image3_mlp.txt").is_file()
    assert bundle == root / "models" / "image3_mlp.asdf" and bundle.is_file()
    # every test split holds a product at or above the threshold
    y = pd.read_csv(train_dir / "train-image.csv")["imgsize_gb"].to_numpy()
    for fold in range(3):
        test_idx = np.load(root / "results" / str(fold) / "test_idx.npy")
        assert (y[test_idx] >= 2.0).any()


@pytest.mark.tensorflow
def test_exported_bundle_equals_keras(train_dir, tmp_path):
    pytest.importorskip("tensorflow")
    import keras

    from jwst_memest.model.bundle import load_bundle
    from jwst_memest.training import JwstCalTrain
    from jwst_memest.training.datasets import load_training_data
    from jwst_memest.training.preprocess import fit_normalizer

    trainer = JwstCalTrain(training_data=train_dir, out=tmp_path / "run", **SMALL)
    trainer.main(stratify=False)
    fold_dir = tmp_path / "run" / "image" / "models" / "0"
    model = keras.models.load_model(fold_dir / "image3_mlp.keras")
    bundle = load_bundle(fold_dir / "image3_mlp.asdf")
    data = load_training_data(train_dir)
    train_idx = np.setdiff1d(np.arange(len(data.y)), np.load(tmp_path / "run" / "image" / "results" / "0" / "test_idx.npy"))
    normalizer, _ = fit_normalizer(data.X[train_idx], "image3")
    expected = np.expm1(model.predict(normalizer(data.X), verbose=0)[:, 0])
    assert np.allclose(bundle.predict(data.X), np.maximum(expected, 0.01), rtol=1e-5)
    assert bundle.provenance["training_rows"] == 60 and bundle.metrics["held_out"]["n_rows"] == 12


@pytest.mark.tensorflow
def test_corpus_table_uses_its_fixed_split(tmp_path):
    pytest.importorskip("tensorflow")
    from jwst_memest.training import JwstCalTrain

    corpus = make_table(tmp_path / "image3.csv", corpus=True)
    trainer = JwstCalTrain(training_data=corpus, out=tmp_path / "run", **SMALL)
    trainer.main()
    test_idx = np.load(tmp_path / "run" / "image" / "results" / "0" / "test_idx.npy")
    assert sorted(test_idx) == list(range(0, 60, 5))


def test_duplicates_by_pname_keep_the_latest(tmp_path):
    from jwst_memest.training.datasets import load_training_data

    path = make_table(tmp_path / "train-image.csv", n=10)
    table = pd.read_csv(path)
    again = table.iloc[[0]].copy()
    again["Dataset"], again["date"], again["imgsize_gb"] = "reprocessed", "2025-01-01", 99.0
    pd.concat([table, again]).to_csv(path, index=False)
    data = load_training_data(tmp_path)
    assert len(data.y) == 10 and 99.0 in data.y


@pytest.mark.parametrize("damage,message", [
    (lambda p: p.unlink(), "not found"),
    (lambda p: pd.read_csv(p).drop(columns=["imgsize_gb"]).to_csv(p, index=False), "missing column"),
    (lambda p: pd.read_csv(p).drop(columns=["output_pixels"]).to_csv(p, index=False), "missing feature column"),
    (lambda p: pd.read_csv(p).assign(imgsize_gb=np.nan).to_csv(p, index=False), "NaN target"),
    (lambda p: pd.read_csv(p).head(4).to_csv(p, index=False), "too few for 3-fold"),
])
def test_bad_training_input(tmp_path, damage, message):
    from jwst_memest.training.train import JwstCalTrain

    path = make_table(tmp_path / "train-image.csv", n=10)
    damage(path)
    with pytest.raises(ValueError, match=message) as info:
        JwstCalTrain(training_data=tmp_path, cross_val=3)
    assert "train-image.csv" in str(info.value)


def test_command_line_error_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "jwst_memest.training", "-d", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "not found" in result.stderr
