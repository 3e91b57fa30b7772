"""spacekit's training tables (train-image.csv / train-spec.csv) read and trained on as they are."""

import numpy as np
import pytest

from data_files import spacekit_reference
from jwst_memest.features.schema import load_feature_set

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")


def spacekit_table(path, mode="image", n=None):
    """A table in spacekit's layout: index Dataset, its 18 encoded features, imgsize_gb, pname, date, imagesize.

    The rows and targets are spacekit's own model outputs on spread-out inputs (tests/data/spacekit).
    """
    rows = spacekit_reference(f"models-{mode}.csv").head(n)
    names = load_feature_set(f"spacekit_{mode}").names
    table = rows[["Dataset", *names]].copy()
    table["Dataset"] = [f"jw0{i:04d}-o001_t001_nircam_clear-f150w" for i in range(len(table))]
    table["imgsize_gb"] = rows["spacekit_gb"]
    table["pname"] = table["Dataset"]
    table["date"] = "2025-06-23"
    table["imagesize"] = rows["spacekit_gb"] * 1e6
    table.to_csv(path, index=False)
    return path


def test_a_spacekit_table_is_told_apart_by_its_columns(tmp_path):
    from jwst_memest.tables import load_training_data

    spacekit_table(tmp_path / "train-image.csv")
    data = load_training_data(tmp_path, "image", folds=3)
    assert data.kind == "spacekit" and data.feature_set == "spacekit_image" and not data.native
    assert data.names == load_feature_set("spacekit_image").names and data.X.shape == (64, 18)
    stored = pd.read_csv(tmp_path / "train-image.csv")
    # codes are taken as they are, continuous values untouched
    np.testing.assert_array_equal(data.X, stored[data.names].to_numpy(float))
    np.testing.assert_array_equal(data.y, stored["imgsize_gb"].to_numpy())


def test_spacekit_text_values_and_gaps_encode_with_its_codes(tmp_path):
    from jwst_memest.tables import load_training_data

    path = spacekit_table(tmp_path / "train-image.csv")
    table = pd.read_csv(path)
    table["instr"] = table["instr"].astype(object)
    table.loc[0, "instr"], table.loc[1, "instr"], table.loc[2, "channel"] = "NIRCAM", "MIRI", np.nan
    table.to_csv(path, index=False)
    X = load_training_data(path, "image", folds=None).X
    names = load_feature_set("spacekit_image").names
    assert X[0, names.index("instr")] == 2 and X[1, names.index("instr")] == 1
    assert X[2, names.index("channel")] == 0  # spacekit's NONE


def test_a_spacekit_table_of_the_other_mode_is_named(tmp_path):
    from jwst_memest.tables import load_training_data

    spacekit_table(tmp_path / "train-spec.csv", "spec")
    with pytest.raises(ValueError, match=r"train-spec.csv: a spacekit spec table \(missing image feature column\(s\) "
                                         r"channel, bkgdtarg, targ_frac\); train it with --exp-mode spec"):
        load_training_data(tmp_path / "train-spec.csv", "image")


def test_spacekit_and_own_tables_are_not_pooled(tmp_path):
    from jwst_memest.tables import load_training_data
    from test_training import make_table

    spacekit_table(tmp_path / "a.csv")
    make_table(tmp_path / "b.csv")
    with pytest.raises(ValueError, match="spacekit train-<mode>.csv and train-<mode>.csv tables cannot be pooled"):
        load_training_data([tmp_path / "a.csv", tmp_path / "b.csv"], "image")


def test_a_physics_ratio_model_needs_the_pipelines_features(tmp_path):
    from jwst_memest.training.train import JwstCalTrain

    spacekit_table(tmp_path / "train-image.csv")
    with pytest.raises(ValueError, match="physics-ratio model corrects the physics baseline"):
        JwstCalTrain(training_data=tmp_path, target="physics-ratio")


@pytest.mark.tensorflow
def test_train_on_a_spacekit_table_and_estimate_with_it(tmp_path, example_asn, capsys):
    """``python -m jwst_memest.training -d DIR --exp-mode image -k 3`` on spacekit's table; the step runs the bundle."""
    pytest.importorskip("tensorflow")
    from jwst_memest import estimate
    from jwst_memest.model.bundle import load_bundle
    from jwst_memest.training.__main__ import main

    spacekit_table(tmp_path / "train-image.csv")
    out = tmp_path / "run"
    assert main(["-d", str(tmp_path), "--exp-mode", "image", "-k", "3", "-o", str(out), "--layers", "8,4",
                 "--epochs", "3", "--batch-size", "16", "--learning-rate", "0.01"]) == 0
    bundle_path = out / "image" / "models" / "image3_spacekit_mlp.asdf"
    assert f"bundle: {bundle_path}" in capsys.readouterr().out
    for fold in range(3):
        assert (out / "image" / "models" / str(fold) / "image3_spacekit_mlp.asdf").is_file()
        assert (out / "image" / "data" / f"image-tts_{fold}.csv").is_file()
    bundle = load_bundle(bundle_path)
    assert bundle.feature_set == "spacekit_image" and bundle.pipeline == "image3"
    assert "feature_set: spacekit_image" in (out / "image" / "summary" / "image-hyperparameters.txt").read_text()
    (product,) = estimate(example_asn, model_path=str(bundle_path))
    assert product.estimator["name"] == "image3_spacekit_mlp" and product.gb_size > 0
    assert product.breakdown  # still shared out by the physics baseline's stages


def test_a_spacekit_table_missing_a_feature_names_spacekits_column(tmp_path):
    from jwst_memest.tables import load_training_data

    path = spacekit_table(tmp_path / "train-image.csv")
    pd.read_csv(path).drop(columns=["targ_frac", "numdthpt"]).to_csv(path, index=False)
    with pytest.raises(ValueError) as raised:
        load_training_data(tmp_path, "image")
    assert str(raised.value) == f"{path}: missing spacekit image feature column(s) numdthpt, targ_frac"
