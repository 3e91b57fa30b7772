"""spacekit's pretrained models as bundles: numpy predictions equal spacekit's, and the step runs them.

The stored bundles (tests/data/spacekit/spacekit_*.asdf) were written by
``python -m jwst_memest.training convert-spacekit`` from spacekit 1.1.4; the stored outputs by spacekit itself
(tests/data/spacekit/README.md). Where spacekit is installed, the conversion is run and checked again.
"""

import importlib.metadata
import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from data_files import DATA, spacekit_reference
from jwst_memest.exposures import write_header_exposures
from jwst_memest.features.schema import load_feature_set
from jwst_memest.model.bundle import load_bundle
from spacekit_layouts import LAYOUTS

pd = pytest.importorskip("pandas")

RTOL = 1e-4
BUNDLES = {"image": DATA / "spacekit" / "spacekit_image3.asdf", "spec": DATA / "spacekit" / "spacekit_spec3.asdf"}
PIPELINE = {"image": "image3", "spec": "spec3"}
HAS_SPACEKIT = importlib.util.find_spec("spacekit") is not None


def _relative_difference(found, expected):
    return np.max(np.abs(np.asarray(found) / np.asarray(expected) - 1.0))


@pytest.mark.parametrize("mode", ["image", "spec"])
def test_numpy_predictions_equal_spacekits_on_stored_inputs(mode):
    bundle = load_bundle(BUNDLES[mode])
    schema = load_feature_set(f"spacekit_{mode}")
    assert bundle.feature_set == schema.name and bundle.pipeline == PIPELINE[mode]
    for table in ("models", "features"):
        rows = spacekit_reference(f"{table}-{mode}.csv")
        predicted = bundle.predict(rows[schema.names].to_numpy(float))
        assert _relative_difference(predicted, rows["spacekit_gb"]) < RTOL


@pytest.mark.parametrize("mode", ["image", "spec"])
def test_from_headers_to_spacekits_estimate(mode, tmp_path):
    """The members' headers, this project's spacekit features, the imported bundle: spacekit's own number."""
    from jwst_memest.estimation import estimate_products
    from jwst_memest.metadata import read_exposure_metadata

    rows = spacekit_reference(f"features-{mode}.csv")
    products = []
    for layout in sorted(set(rows["layout"])):
        write_header_exposures(LAYOUTS[mode][layout], tmp_path / layout)
    for _, row in rows.iterrows():
        folder = tmp_path / row["layout"]
        members = [read_exposure_metadata(folder / f"{m}_uncal.fits") for m in row["members"].split(";")]
        products.append((row["product"], members))
    estimates = estimate_products(products, PIPELINE[mode], estimator=load_bundle(BUNDLES[mode]))
    assert _relative_difference([e.gb_size for e in estimates], rows["spacekit_gb"]) < RTOL
    # spacekit's model comes with no measured calibration, and cannot tell in_memory settings apart
    assert all(not e.calibrated and e.alternatives == [] for e in estimates)
    assert "no calibrated upper bound" in estimates[0].uncalibrated_reasons[-1]


def test_the_step_runs_a_spacekit_bundle(example_asn, tmp_path):
    from jwst_memest import MemoryEstimateStep

    estimates = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), model_path=str(BUNDLES["image"]))
    (written,) = tmp_path.glob("*_memest.json")
    (product,) = json.loads(written.read_text())["products"]
    assert product["memory_estimate"]["model"]["name"] == "spacekit_img3_reg"
    assert product["gbSize"] == pytest.approx(next(iter(estimates.values()))["gbSize"])
    assert product["memory_estimate"]["calibrated"] is False


def test_rounding_of_normalised_inputs_is_part_of_the_model():
    """spacekit's networks saw inputs rounded to 5 decimals; the bundle rounds them too."""
    bundle = load_bundle(BUNDLES["image"])
    assert bundle.normalizer.round_decimals == 5
    rows = spacekit_reference("models-image.csv")
    X = rows[bundle.feature_names].to_numpy(float)
    normalised = bundle.normalizer(X)[:, bundle.normalizer.columns]
    np.testing.assert_array_equal(normalised, np.round(normalised, 5))


def test_bundle_records_spacekit_as_its_source():
    bundle = load_bundle(BUNDLES["spec"])
    assert bundle.provenance["spacekit_version"] == "1.1.4" == bundle.version
    assert "spec3_reg.keras sha256" in bundle.provenance["notes"]
    assert bundle.upper_bound.n_rows == 0


@pytest.mark.skipif(HAS_SPACEKIT, reason="spacekit is installed here: the conversion itself is tested")
def test_import_without_spacekit_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "jwst_memest.training", "convert-spacekit", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: spacekit is not installed in this environment "
                                     "(pip install 'jwst_memest[spacekit]')")
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(not HAS_SPACEKIT, reason="spacekit is not installed (pip install 'jwst_memest[spacekit]')")
def test_import_spacekit_equals_spacekits_own_predictions(tmp_path, monkeypatch):
    """Convert the installed spacekit's models and compare with spacekit's normalisation and Keras, live."""
    from spacekit.skopes.jwst.cal.predict import JwstCalPredict

    monkeypatch.chdir(tmp_path)  # spacekit unpacks its models and writes its log in the working directory
    result = subprocess.run([sys.executable, "-m", "jwst_memest.training", "convert-spacekit", "--out", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    predictor = JwstCalPredict(input_path=None)
    networks = {"image": predictor.img3_reg.model, "spec": predictor.spec3_reg.model}
    for mode, stored in BUNDLES.items():
        bundle = load_bundle(tmp_path / stored.name)
        assert bundle.provenance["spacekit_version"] == importlib.metadata.version("spacekit")
        rows = spacekit_reference(f"models-{mode}.csv")[bundle.feature_names].astype(float)
        expected = np.asarray(networks[mode].predict(predictor.normalize_inputs(rows, order=mode.upper()),
                                                     verbose=0))[:, 0]
        assert _relative_difference(bundle.predict(rows.to_numpy()), expected) < RTOL
        # and the stored bundle is what the conversion gives
        np.testing.assert_allclose(bundle.predict(rows.to_numpy()), load_bundle(stored).predict(rows.to_numpy()),
                                   rtol=1e-12)


def _edited(tmp_path, change):
    """The stored image bundle with one change, re-checksummed so only the change is judged."""
    import asdf

    from jwst_memest.model.bundle import checksum

    with asdf.open(BUNDLES["image"], lazy_load=False, memmap=False) as af:
        tree = af.tree["jwst_memest_bundle"]
        tree = {k: tree[k] for k in tree}
        change(tree)
        tree["checksum"] = {"algorithm": "sha256", "value": checksum(tree)}
        path = tmp_path / "edited.asdf"
        asdf.AsdfFile({"jwst_memest_bundle": tree}).write_to(path)
    return path


@pytest.mark.parametrize("change,message", [
    (lambda t: t["features"]["features"][0].update(codes=[1.0, 2.0, 3.0, 4.0, 5.0]), "encoding of feature 'instr'"),
    (lambda t: t["model"].update(pipeline="spec3"), "describes image3 products, not spec3's"),
    (lambda t: t["preprocessing"].update(round_decimals=-1), "does not match the bundle schema"),
    (lambda t: t["features"].update(feature_set="spacekit_tac"), "does not match the bundle schema"),
])
def test_spacekit_bundles_are_checked_on_load(tmp_path, change, message):
    from jwst_memest.model.bundle import BundleError

    with pytest.raises(BundleError, match=message) as raised:
        load_bundle(_edited(tmp_path, change))
    assert str(raised.value).startswith(str(tmp_path)) and "\n" not in str(raised.value)


def test_import_without_keras_is_one_line_exit_2(monkeypatch, capsys):
    from jwst_memest.training import spacekit_import
    from jwst_memest.training.__main__ import main

    def missing_keras(out):
        raise ModuleNotFoundError("No module named 'keras'")

    monkeypatch.setattr(spacekit_import, "import_spacekit", missing_keras)
    assert main(["convert-spacekit"]) == 2
    assert capsys.readouterr().err == ("error: converting spacekit's models needs its Keras "
                                       "(pip install 'jwst_memest[spacekit]'): No module named 'keras'\n")


def test_the_older_spellings_reach_the_training_command(monkeypatch, capsys, tmp_path):
    """``models import-spacekit`` runs training's convert-spacekit; the model package's command only names it."""
    from jwst_memest import models
    from jwst_memest.model.__main__ import main as model_main
    from jwst_memest.training import spacekit_import

    converted = []
    monkeypatch.setattr(spacekit_import, "import_spacekit", lambda out: converted.append(out) or [])
    assert models.main(["import-spacekit", "--out", str(tmp_path)]) == 0 and converted == [str(tmp_path)]
    assert model_main(["import-spacekit"]) == 2 and converted == [str(tmp_path)]
    assert "python -m jwst_memest.training convert-spacekit" in capsys.readouterr().err
