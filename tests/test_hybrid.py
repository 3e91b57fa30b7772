"""Hybrid bundles: a network's correction on top of the physics baseline, evaluated with numpy."""

import subprocess
import sys
import warnings
from pathlib import Path

import asdf
import numpy as np
import pytest

from bundles import write_random_bundle, write_random_hybrid
from jwst_memest.features.schema import load_schema
from jwst_memest.model.baseline import load_baseline
from jwst_memest.model.bundle import FORMAT_VERSION, BundleError, checksum, load_bundle
from jwst_memest.model.network import forward

REPO = Path(__file__).resolve().parents[1]


def _rows(pipeline="image3", n=50, seed=1):
    """Rows of plausible image3 features inside the random bundle's ranges."""
    schema = load_schema(pipeline)
    rng = np.random.default_rng(seed)
    X = np.zeros((n, len(schema)))
    col = {name: X[:, i] for i, name in enumerate(schema.names)}
    col["instrument"][:] = 1
    col["n_members"][:] = rng.integers(2, 12, n)
    col["member_pixels"][:] = rng.choice([1024.0**2, 2048.0**2], n)
    col["output_pixels"][:] = col["member_pixels"] * rng.uniform(1, 4, n)
    col["n_exposure_groups"][:] = col["n_members"]
    col["n_integrations"][:] = 1
    col["in_memory"][:] = 1
    return X


def _ranges(X, pipeline="image3"):
    schema = load_schema(pipeline)
    continuous = [f.name for f in schema.features if f.kind in ("continuous", "count")]
    columns = [schema.names.index(n) for n in continuous]
    return columns, X[:, columns].min(axis=0), X[:, columns].max(axis=0)


def _hybrid(tmp_path, X, name="hybrid.asdf"):
    columns, low, high = _ranges(X)
    # spread the normalisation so that every column gives the network something to act on
    return write_random_hybrid(tmp_path / name, low=low, high=high,
                               preprocessing={"method": "standardize",
                                              "continuous": [load_schema("image3").names[c] for c in columns],
                                              "lambdas": np.ones(len(columns)), "means": (low + high) / 2,
                                              "sigmas": np.maximum((high - low) / 2, 1.0)})


def test_hybrid_estimate_is_the_baseline_times_the_correction(tmp_path):
    X = _rows()
    bundle = load_bundle(_hybrid(tmp_path, X))
    assert bundle.kind == "hybrid" and bundle.tree["model"]["kind"] == "hybrid"
    baseline = load_baseline("image3")
    assert bundle.tree["baseline"] == {"pipeline": "image3", "version": str(baseline.version),
                                       "checksum": baseline.checksum, "name": baseline.name}
    correction = np.exp(forward(bundle.layers, bundle.normalizer(X))[:, 0])
    assert np.ptp(correction) > 0.01  # the network does correct
    assert np.allclose(bundle.predict(X), baseline.predict(X) * correction, rtol=1e-12)
    gb, upper = bundle.estimate(X, 0.95)
    assert np.allclose(upper, gb * bundle.upper_bound.factor(0.95))


def test_outside_the_training_ranges_the_correction_holds_and_the_physics_scales(tmp_path):
    X = _rows()
    bundle = load_bundle(_hybrid(tmp_path, X))
    baseline = load_baseline("image3")
    names = load_schema("image3").names
    edge = X[[int(np.argmax(X[:, names.index("output_pixels")]))]].copy()
    edge[0, names.index("n_members")] = X[:, names.index("n_members")].max()
    edge[0, names.index("n_exposure_groups")] = X[:, names.index("n_exposure_groups")].max()
    edge[0, names.index("member_pixels")] = X[:, names.index("member_pixels")].max()
    # inside the box, at its corner; then 10x and 100x beyond it along every size
    grown = [edge.copy() for _ in range(3)]
    for factor, row in zip((1, 10, 100), grown):
        for name in ("n_members", "n_exposure_groups", "output_pixels", "member_pixels"):
            row[0, names.index(name)] *= factor
    ratios = [bundle.predict(row)[0] / baseline.predict(row)[0] for row in grown]
    assert ratios[0] != pytest.approx(1.0, abs=1e-3)  # a real correction at the boundary
    assert ratios[1] == pytest.approx(ratios[0], rel=1e-12) and ratios[2] == pytest.approx(ratios[0], rel=1e-12)
    estimates = [bundle.predict(row)[0] for row in grown]
    assert estimates[2] / estimates[1] == pytest.approx(baseline.predict(grown[2])[0] / baseline.predict(grown[1])[0])
    assert estimates[2] > 50 * estimates[1]


def _retag(path, change):
    with asdf.open(path, mode="rw") as af:
        tree = af.tree["jwst_memest_bundle"]
        change(tree)
        tree["checksum"]["value"] = checksum({k: tree[k] for k in tree})
        af.update()


def test_a_hybrid_of_another_baseline_version_is_refused_in_one_line(tmp_path):
    path = _hybrid(tmp_path, _rows())
    _retag(path, lambda t: t["baseline"].__setitem__("version", "0"))
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    message = str(info.value)
    installed = load_baseline("image3").version
    assert "\n" not in message and str(path) in message
    assert "version 0" in message and f"installed baseline is version {installed}" in message


def test_a_hybrid_of_another_baseline_checksum_loads_with_a_warning(tmp_path):
    path = _hybrid(tmp_path, _rows())
    _retag(path, lambda t: t["baseline"].__setitem__("checksum", "0" * 64))
    with pytest.warns(RuntimeWarning, match="other checksum"):
        assert load_bundle(path).kind == "hybrid"


@pytest.mark.parametrize("change,message", [
    (lambda t: t.pop("baseline"), "bundle schema"),
    (lambda t: t.pop("input_ranges"), "bundle schema"),
    (lambda t: t["output"].__setitem__("transform", "log1p"), "bundle schema"),
    (lambda t: t["input_ranges"].__setitem__("min", np.asarray(t["input_ranges"]["max"]) + 1), "min <= max"),
    (lambda t: t["input_ranges"]["features"].__setitem__(0, "nonsense"), "unknown features"),
    (lambda t: t["baseline"].__setitem__("pipeline", "spec3"), "corrects the spec3 baseline"),
])
def test_inconsistent_hybrids_are_refused(tmp_path, change, message):
    path = _hybrid(tmp_path, _rows())
    _retag(path, change)
    with pytest.raises(BundleError, match=message):
        load_bundle(path)


def test_an_mlp_bundle_cannot_claim_the_hybrid_output(tmp_path):
    path = write_random_bundle(tmp_path / "mlp.asdf")
    _retag(path, lambda t: t["output"].__setitem__("transform", "log_ratio"))
    with pytest.raises(BundleError, match="bundle schema"):
        load_bundle(path)
    with pytest.raises(BundleError, match="does not fit a mlp bundle"):
        write_random_bundle(tmp_path / "other.asdf", output_transform="log_ratio")
    with pytest.raises(BundleError, match="needs the baseline it corrects"):
        write_random_bundle(tmp_path / "other.asdf", kind="hybrid", output_transform="log_ratio")


def test_format_1_0_bundles_still_load_and_1_0_readers_refuse_hybrids(tmp_path):
    shipped = REPO / "data" / "models" / "image3_mlp.asdf"
    with asdf.open(shipped) as af:
        assert af["jwst_memest_bundle"]["format_version"] == "1.0.0"
    old = load_bundle(shipped)
    assert old.kind == "mlp" and old.input_ranges is None
    assert np.all(old.predict(_rows()) > 0)
    new = write_random_bundle(tmp_path / "mlp.asdf")
    with asdf.open(new) as af:
        assert af["jwst_memest_bundle"]["format_version"] == FORMAT_VERSION == "1.2.0"
    hybrid = _hybrid(tmp_path, _rows())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with asdf.open(new, custom_schema="asdf://jwst-memest.org/jwst_memest/schemas/bundle-1.0.0") as af:
            af.validate()  # a plain network is still a valid 1.0 tree
        with pytest.raises(asdf.ValidationError):
            with asdf.open(hybrid, custom_schema="asdf://jwst-memest.org/jwst_memest/schemas/bundle-1.0.0") as af:
                af.validate()


@pytest.mark.slow  # the default run's check: test_bundle's test_estimation_path_imports_no_tensorflow (a hybrid too)
def test_hybrid_estimation_imports_no_tensorflow(tmp_path):
    path = _hybrid(tmp_path, _rows())
    code = (
        "import sys, numpy as np\n"
        "from jwst_memest.estimation import estimate_association\n"
        "from jwst_memest.example import example_association\n"
        f"estimates = estimate_association(example_association(), model_path={str(path)!r})\n"
        "assert estimates\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn', 'pandas', 'torch') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
