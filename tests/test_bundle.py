"""Model bundles: format, validation on read, numpy inference, registry and command line."""

import subprocess
import sys

import asdf
import numpy as np
import pytest

from bundles import random_network, write_random_bundle, write_random_hybrid
from jwst_memest.features.schema import load_schema
from jwst_memest.model.bundle import BundleError, load_bundle
from jwst_memest.model.registry import install_bundle, resolve_estimator
from jwst_memest.model.transforms import yeo_johnson


def _rows(pipeline="image3", n=100, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 50, (n, len(load_schema(pipeline))))


def test_round_trip(tmp_path):
    path = write_random_bundle(tmp_path / "image3.asdf")
    bundle = load_bundle(path)
    gb, upper = bundle.estimate(_rows(), 0.95)
    assert gb.shape == (100,) and np.all(gb > 0) and np.allclose(upper, gb * 1.2)
    assert bundle.pipeline == "image3" and len(bundle.checksum) == 64
    assert bundle.feature_names == load_schema("image3").names


def test_bundle_is_a_plain_asdf_tree(tmp_path):
    path = write_random_bundle(tmp_path / "b.asdf")
    text = path.read_bytes().split(b"...")[0].decode(errors="replace")
    assert "!jwst_memest" not in text and "jwst_memest_bundle:" in text
    with asdf.open(path) as af:  # no jwst_memest schema needed to open it
        assert af["jwst_memest_bundle"]["model"]["kind"] == "mlp"


def _tamper(path, change):
    with asdf.open(path, mode="rw") as af:
        change(af.tree["jwst_memest_bundle"])
        af.update()


@pytest.mark.parametrize("change,message", [
    (lambda t: t["network"]["layers"][0]["weights"].__setitem__((0, 0), 9.0), "checksum mismatch"),
    (lambda t: t["model"].__setitem__("version", "9"), "checksum mismatch"),
    (lambda t: t.__setitem__("format_version", "2.0.0"), "unknown bundle format version"),
    (lambda t: t["network"]["layers"][0].__setitem__("activation", "swish"), "bundle schema"),
    (lambda t: t.pop("upper_bound"), "bundle schema"),
])
def test_tampered_bundles_are_refused(tmp_path, change, message):
    path = write_random_bundle(tmp_path / "b.asdf")
    _tamper(path, change)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert str(path) in str(info.value) and message in str(info.value)


def _with_checksum(path, change):
    from jwst_memest.model.bundle import checksum

    def apply(tree):
        change(tree)
        plain = {k: tree[k] for k in tree}
        tree["checksum"]["value"] = checksum(plain)

    _tamper(path, apply)


@pytest.mark.parametrize("change,message", [
    (lambda t: t["features"]["features"].reverse(), "feature 0 is"),
    (lambda t: t["features"]["features"].pop(), "features, the image3 schema has"),
    (lambda t: t["features"]["features"][0]["categories"].append("WFI"), "encoding of feature 'instrument'"),
    (lambda t: t["network"]["layers"][1].__setitem__("bias", np.full(4, np.nan)), "NaN"),
    (lambda t: t["network"]["layers"][0].__setitem__("weights", np.zeros((3, 8))), "layer 0"),
])
def test_mismatched_bundles_are_refused(tmp_path, change, message):
    path = write_random_bundle(tmp_path / "b.asdf")
    _with_checksum(path, change)
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


@pytest.mark.parametrize("content", [b"not asdf at all", b"", b"#ASDF 1.0.0\n%YAML 1.1\n--- !core/asdf-1.1.0\n  : [\n"])
def test_unreadable_files_are_refused(tmp_path, content):
    path = tmp_path / "bad.asdf"
    path.write_bytes(content)
    with pytest.raises(BundleError, match="bad.asdf"):
        load_bundle(path)


def test_truncated_bundle_is_refused(tmp_path):
    path = write_random_bundle(tmp_path / "b.asdf")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BundleError, match="b.asdf"):
        load_bundle(path)


def test_writer_refuses_bad_networks(tmp_path):
    layers = random_network(5)
    with pytest.raises(BundleError, match="layer 0"):
        write_random_bundle(tmp_path / "b.asdf", layers=layers)
    assert not list(tmp_path.iterdir())


def test_yeo_johnson_matches_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.normal(0, 3, 500), rng.exponential(5, 500), -rng.exponential(2, 500)])
    transformer = preprocessing.PowerTransformer(method="yeo-johnson", standardize=False).fit(x)
    assert np.allclose(yeo_johnson(x, transformer.lambdas_), transformer.transform(x), rtol=1e-10, atol=1e-12)


def test_yeo_johnson_special_lambdas():
    x = np.array([[3.0, -3.0], [0.5, -0.5]])
    assert np.allclose(yeo_johnson(x, np.array([0.0, 2.0])), [[np.log1p(3.0), -np.log1p(3.0)], [np.log1p(0.5), -np.log1p(0.5)]])
    assert np.allclose(yeo_johnson(x, np.array([1.0, 1.0])), x)


@pytest.mark.tensorflow
@pytest.mark.parametrize("activation", ["relu", "tanh", "elu", "sigmoid", "leaky_relu"])
def test_numpy_forward_pass_reproduces_keras(tmp_path, activation):
    keras = pytest.importorskip("keras")
    schema = load_schema("image3")
    inputs = keras.Input(shape=(len(schema),))
    x = inputs
    for size in (18, 36, 9):
        x = keras.layers.Dense(size, activation=activation)(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    layers = [{"weights": l.get_weights()[0], "bias": l.get_weights()[1], "activation": l.get_config()["activation"]}
              for l in model.layers if isinstance(l, keras.layers.Dense)]
    path = write_random_bundle(tmp_path / "k.asdf", layers=layers, output_transform="identity",
                               preprocessing={"method": "none", "continuous": [], "lambdas": [], "means": [], "sigmas": []})
    X = np.random.default_rng(4).normal(0, 1, (100, len(schema)))
    expected = model.predict(X, verbose=0)[:, 0]
    from jwst_memest.model.network import forward

    got = forward(load_bundle(path).layers, X)[:, 0]
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_estimation_path_imports_no_tensorflow(tmp_path):
    """One interpreter estimates with a network bundle, a hybrid bundle and the default model."""
    path = write_random_bundle(tmp_path / "b.asdf")
    hybrid = write_random_hybrid(tmp_path / "h.asdf")
    code = (
        "import sys, numpy as np\n"
        "from jwst_memest.model.bundle import load_bundle\n"
        "from jwst_memest.estimation import estimate_association\n"
        "from jwst_memest.example import example_association\n"
        f"b = load_bundle({str(path)!r}); b.predict(np.zeros((3, len(b.feature_names))))\n"
        f"estimate_association(example_association(), model_path={str(path)!r})\n"
        f"assert estimate_association(example_association(), model_path={str(hybrid)!r})\n"
        "assert estimate_association(example_association())\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'pandas', 'torch') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_registry_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_estimator("image3").kind == "physics_baseline"
    installed = install_bundle(write_random_bundle(tmp_path / "mine.asdf"))
    assert installed == tmp_path / "xdg" / "jwst_memest" / "models" / "image3.asdf"
    assert resolve_estimator("image3").kind == "mlp"
    assert resolve_estimator("spec3").kind == "physics_baseline"
    assert resolve_estimator("coron3").kind == "physics_baseline"  # an image3 bundle is not a coron3 model
    other = write_random_bundle(tmp_path / "dir" / "image3.asdf", seed=5)
    monkeypatch.setenv("JWST_MEMEST_MODEL_DIR", str(other.parent))
    assert resolve_estimator("image3").checksum == load_bundle(other).checksum
    single = write_random_bundle(tmp_path / "single.asdf", seed=6)
    monkeypatch.setenv("JWST_MEMEST_MODEL", str(single))
    assert resolve_estimator("image3").checksum == load_bundle(single).checksum
    spec = write_random_bundle(tmp_path / "spec.asdf", pipeline="spec3")
    with pytest.raises(BundleError, match="bundle is for spec3"):
        resolve_estimator("image3", spec)


def test_step_uses_a_bundle_and_reports_it(example_asn, tmp_path):
    from jwst_memest.step import MemoryEstimateStep

    path = write_random_bundle(tmp_path / "image3.asdf")
    (estimate,) = MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), model_path=str(path)).values()
    assert estimate["model"] == {"name": "test_image3", "version": "0.1", "kind": "mlp",
                                 "checksum": load_bundle(path).checksum}
    assert estimate["upper_bound_gb"] == pytest.approx(estimate["gbSize"] * 1.2, rel=1e-3)


def test_step_refuses_a_broken_bundle_in_one_line(example_asn, tmp_path):
    from jwst_memest.step import MemoryEstimateError, MemoryEstimateStep

    bad = tmp_path / "image3.asdf"
    bad.write_text("garbage")
    with pytest.raises(MemoryEstimateError, match="image3.asdf: not a readable ASDF"):
        MemoryEstimateStep.call(str(example_asn), output_dir=str(tmp_path), model_path=str(bad))


@pytest.mark.parametrize("module", [pytest.param("jwst_memest.model", marks=pytest.mark.slow), "jwst_memest.models"])
def test_models_command_line(tmp_path, module):
    path = write_random_bundle(tmp_path / "b.asdf")
    shown = subprocess.run([sys.executable, "-m", module, "show", str(path)], capture_output=True, text=True)
    assert shown.returncode == 0 and "test_image3 0.1" in shown.stdout and "median_abs_pct_error: 5.0" in shown.stdout
    listed = subprocess.run([sys.executable, "-m", module, "list"], capture_output=True, text=True)
    assert listed.returncode == 0 and "physics_baseline_spec3" in listed.stdout
    bad = subprocess.run([sys.executable, "-m", module, "show", str(tmp_path / "none.asdf")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "not found" in bad.stderr
