"""Model bundles: one validated ASDF file per trained model, evaluated with numpy.

A bundle is a plain ASDF tree (no custom tag) under ``jwst_memest_bundle``,
checked on read against the schema the package serves through asdf's
``asdf.resource_mappings`` entry point, then against the package's feature
schema and its own sha256 checksum. Loading runs no code: arrays and plain
values only. The format is described in docs/bundle.md.

Two kinds: ``mlp`` (the network estimates GB on its own) and ``hybrid`` (the
network corrects the physics baseline: GB = baseline GB x exp(network output),
with the inputs clipped to the training rows' ranges first, so that beyond them
the correction stays at its boundary value and the baseline's scaling carries on).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from jwst_memest.atomic import atomic_write
from jwst_memest.features.schema import FeatureSchema, feature_set_for, load_feature_set
from jwst_memest.model.integration import BUNDLE_SCHEMA_URI
from jwst_memest.model.network import DenseLayer, forward
from jwst_memest.model.transforms import Normalizer
from jwst_memest.model.upper import UpperBound
from jwst_memest.pipelines import normalize

__all__ = ["BundleError", "ModelBundle", "load_bundle", "write_bundle", "FORMAT_VERSION", "OUTPUT_TRANSFORMS",
           "KINDS", "HYBRID_TRANSFORM"]

# 1.1: hybrid bundles (kind, baseline, input_ranges, the log_ratio output); 1.0 bundles read unchanged.
# 1.2: models on spacekit's feature sets (explicit category codes, rounded normalised inputs).
FORMAT_VERSION = "1.2.0"
KINDS = ("mlp", "hybrid")
# A hybrid's network output y is log(measured / baseline): GB = baseline GB * exp(y).
HYBRID_TRANSFORM = "log_ratio"
ROOT = "jwst_memest_bundle"
OUTPUT_TRANSFORMS = {
    "identity": lambda y: y,
    "log1p": np.expm1,
    "log10": lambda y: np.power(10.0, y),
}
# Estimates are floored here: a network can extrapolate below any real run's footprint.
MIN_GB = 0.01


class BundleError(ValueError):
    """A bundle cannot be used; the message names the file and the problem."""


def _canonical(node, digest) -> None:
    """Feed a tree into a hash in a canonical order: sorted keys, arrays by dtype, shape and bytes."""
    if isinstance(node, dict):
        digest.update(b"{")
        for key in sorted(node):
            digest.update(json.dumps(str(key)).encode())
            _canonical(node[key], digest)
        digest.update(b"}")
    elif isinstance(node, (list, tuple)):
        digest.update(b"[")
        for item in node:
            _canonical(item, digest)
        digest.update(b"]")
    elif isinstance(node, np.ndarray) or hasattr(node, "__array__") and not isinstance(node, (str, bytes)):
        array = np.ascontiguousarray(np.asarray(node), dtype=np.asarray(node).dtype.newbyteorder("<"))
        digest.update(f"ndarray:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    else:
        value = node.item() if isinstance(node, np.generic) else node
        digest.update(json.dumps(value, sort_keys=True).encode())


def checksum(tree: dict) -> str:
    """sha256 of every part of a bundle tree except its checksum.

    Parameters
    ----------
    tree : dict
        The bundle tree.

    Returns
    -------
    str
        The hex digest, over the tree in a canonical order (sorted keys, arrays by dtype, shape
        and bytes).
    """
    digest = hashlib.sha256()
    _canonical({k: v for k, v in tree.items() if k != "checksum"}, digest)
    return digest.hexdigest()


def _plain(node):
    """Copy an asdf tree into plain dicts, lists and numpy arrays (no lazy blocks, no tagged objects)."""
    if hasattr(node, "keys"):
        return {str(k): _plain(node[k]) for k in node.keys()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if isinstance(node, (str, bytes, bool, int, float, type(None))):
        return node
    if isinstance(node, np.generic):
        return node.item()
    return np.array(node)


class ModelBundle:
    """A trained model loaded from a bundle; same interface as the physics baseline.

    Made by `load_bundle`, which validates the tree first.

    Parameters
    ----------
    tree : dict
        The bundle's plain tree (under ``jwst_memest_bundle``).
    path : str, pathlib.Path or None, optional
        The file it was read from.
    """

    def __init__(self, tree: dict, path: str | Path | None = None):
        self.tree = tree
        self.path = Path(path) if path else None
        model = tree["model"]
        self.kind = str(model.get("kind", "mlp"))
        self.name, self.version = model["name"], model["version"]
        self.pipeline, self.created = model["pipeline"], model["created"]
        self.checksum = tree["checksum"]["value"]
        self.feature_set = tree["features"]["feature_set"]
        self.feature_names = [f["name"] for f in tree["features"]["features"]]
        self.upper_bound = UpperBound.from_tree(tree["upper_bound"])
        self.provenance, self.metrics = tree["provenance"], tree["metrics"]
        pre = tree["preprocessing"]
        columns = [self.feature_names.index(name) for name in pre["continuous"]]
        self.normalizer = Normalizer(pre["method"], columns, pre["lambdas"], pre["means"], pre["sigmas"],
                                     pre.get("round_decimals"))
        self.layers = [DenseLayer(l["weights"], l["bias"], l["activation"]) for l in tree["network"]["layers"]]
        self.output_transform = tree["output"]["transform"]
        self.baseline = None
        self.input_ranges = None
        if self.kind == "hybrid":
            from jwst_memest.model.baseline import load_baseline

            self.baseline = load_baseline(tree["baseline"]["pipeline"])
            ranges = tree["input_ranges"]
            self.input_ranges = (np.array([self.feature_names.index(n) for n in ranges["features"]], dtype=int),
                                 np.asarray(ranges["min"], dtype=np.float64), np.asarray(ranges["max"], dtype=np.float64))

    def clip(self, X: np.ndarray) -> np.ndarray:
        """The features a hybrid's network sees: each ranged feature clipped to its training range.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (later columns, the run
            settings, are left out of the network's input).

        Returns
        -------
        numpy.ndarray
            A clipped copy (unchanged for an mlp bundle).
        """
        X = np.array(np.atleast_2d(X), dtype=np.float64, copy=True)
        if self.input_ranges is not None:
            columns, low, high = self.input_ranges
            X[:, columns] = np.clip(X[:, columns], low, high)
        return X

    def correction(self, X: np.ndarray) -> np.ndarray:
        """A hybrid's factor on the baseline, exp(network(clipped features)); 1 for an mlp bundle.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (later columns, the run
            settings, are left out of the network's input).

        Returns
        -------
        numpy.ndarray
            The factor per row.
        """
        if self.kind != "hybrid":
            return np.ones(len(np.atleast_2d(X)))
        X = np.nan_to_num(np.atleast_2d(np.asarray(X, dtype=np.float64))[:, :len(self.feature_names)], nan=0.0)
        return np.exp(forward(self.layers, self.normalizer(self.clip(X)))[:, 0])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Peak memory in GB for each row of encoded features (schema order).

        Columns after the schema's (the run settings the physics baseline reads, ``model.terms``)
        are left out of the network's input; a hybrid's baseline reads them. Estimates are at least
        0.01 GB.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (later columns, the run
            settings, are left out of the network's input).

        Returns
        -------
        numpy.ndarray
            GB per row.
        """
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if self.kind == "hybrid":
            return np.maximum(self.baseline.predict(X) * self.correction(X), MIN_GB)
        X = np.nan_to_num(X[:, :len(self.feature_names)], nan=0.0)
        y = forward(self.layers, self.normalizer(X))[:, 0]
        return np.maximum(OUTPUT_TRANSFORMS[self.output_transform](y), MIN_GB)

    def estimate(self, X: np.ndarray, quantile: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Peak memory (GB) and its upper bound at ``quantile``, per row.

        Parameters
        ----------
        X : numpy.ndarray
            Encoded features, one row per product, in the feature set's order (later columns, the run
            settings, are left out of the network's input).
        quantile : float, optional
            The quantile of the upper bound.

        Returns
        -------
        gb : numpy.ndarray
            Estimates, GB.
        upper : numpy.ndarray
            Upper bounds, GB.
        """
        gb = self.predict(X)
        return gb, gb * self.upper_bound.factor(quantile)


def _check(tree: dict, name: str) -> None:
    """Everything the schema cannot say: versions, checksum, shapes, finiteness, feature schema."""
    version = str(tree["format_version"])
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise BundleError(f"{name}: unknown bundle format version {version} (this jwst_memest reads {FORMAT_VERSION[0]}.x)")
    if checksum(tree) != tree["checksum"]["value"]:
        raise BundleError(f"{name}: checksum mismatch: the bundle was altered after it was written")
    pipeline = tree["model"]["pipeline"]
    stored = tree["features"]
    expected: FeatureSchema = load_feature_set(stored["feature_set"])
    if expected.pipeline != feature_set_for(pipeline):
        raise BundleError(f"{name}: feature set {stored['feature_set']} describes {expected.pipeline} products, "
                          f"not {pipeline}'s")
    if stored["schema_version"] != expected.version:
        raise BundleError(f"{name}: feature schema version {stored['schema_version']}, this jwst_memest has {expected.version}")
    names = [f["name"] for f in stored["features"]]
    if names != expected.names:
        if len(names) != len(expected.names):
            raise BundleError(f"{name}: {len(names)} features, the {expected.name} schema has {len(expected.names)}")
        first = next(i for i, (a, b) in enumerate(zip(names, expected.names)) if a != b)
        raise BundleError(f"{name}: feature {first} is {names[first]!r}, the {expected.name} schema has "
                          f"{expected.names[first]!r}")
    for entry, spec in zip(stored["features"], expected.features):
        codes = [float(c) for c in entry.get("codes", [])]
        if list(entry["categories"]) != list(spec.categories) or entry["kind"] != spec.kind or codes != list(spec.codes):
            raise BundleError(f"{name}: encoding of feature {spec.name!r} differs from this jwst_memest's schema")
    unknown = set(tree["preprocessing"]["continuous"]) - set(names)
    if unknown:
        raise BundleError(f"{name}: preprocessing names unknown features {sorted(unknown)}")
    arrays = [tree["preprocessing"][k] for k in ("lambdas", "means", "sigmas")]
    for layer in tree["network"]["layers"]:
        arrays += [layer["weights"], layer["bias"]]
    if any(not np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays):
        raise BundleError(f"{name}: NaN or infinite values in the network or its normalisation")
    n_in = len(names)
    for index, layer in enumerate(tree["network"]["layers"]):
        weights, bias = np.asarray(layer["weights"]), np.asarray(layer["bias"])
        if weights.ndim != 2 or weights.shape[0] != n_in or bias.shape != (weights.shape[1],):
            raise BundleError(
                f"{name}: layer {index} has weights {weights.shape} and bias {bias.shape}; it needs {n_in} inputs"
            )
        n_in = weights.shape[1]
    if n_in != 1:
        raise BundleError(f"{name}: the network ends with {n_in} outputs, not 1")
    try:
        UpperBound.from_tree(tree["upper_bound"])
    except ValueError as exc:
        raise BundleError(f"{name}: upper bound: {exc}") from None
    kind = tree["model"].get("kind", "mlp")
    if kind == "hybrid":
        _check_hybrid(tree, name, names)
    elif tree["output"]["transform"] not in OUTPUT_TRANSFORMS:
        raise BundleError(f"{name}: output transform {tree['output']['transform']!r} needs a hybrid bundle")


def _check_hybrid(tree: dict, name: str, names: list[str]) -> None:
    """A hybrid corrects one baseline: the installed one must be that baseline; its input ranges must fit."""
    from jwst_memest.model.baseline import load_baseline

    if tree["output"]["transform"] != HYBRID_TRANSFORM:
        raise BundleError(f"{name}: a hybrid bundle's output transform is {HYBRID_TRANSFORM}, "
                          f"not {tree['output']['transform']!r}")
    recorded = tree["baseline"]
    pipeline = tree["model"]["pipeline"]
    if recorded["pipeline"] != pipeline:
        raise BundleError(f"{name}: hybrid bundle for {pipeline} corrects the {recorded['pipeline']} baseline")
    installed = load_baseline(pipeline)
    if str(recorded["version"]) != str(installed.version):
        raise BundleError(f"{name}: hybrid bundle corrects physics baseline {pipeline} version {recorded['version']}, "
                          f"the installed baseline is version {installed.version}; retrain it on this baseline")
    if recorded["checksum"] != installed.checksum:
        warnings.warn(f"{name}: the installed {pipeline} physics baseline (version {installed.version}) differs from "
                      "the one this hybrid bundle was trained on (same version, other checksum)", RuntimeWarning,
                      stacklevel=3)
    ranges = tree["input_ranges"]
    unknown = [n for n in ranges["features"] if n not in names]
    if unknown:
        raise BundleError(f"{name}: input_ranges name unknown features {unknown}")
    low, high = np.asarray(ranges["min"], dtype=np.float64), np.asarray(ranges["max"], dtype=np.float64)
    if low.shape != (len(ranges["features"]),) or high.shape != low.shape:
        raise BundleError(f"{name}: input_ranges need one min and one max per feature")
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))) or np.any(low > high):
        raise BundleError(f"{name}: input_ranges must be finite with min <= max")


def load_bundle(path: str | Path) -> ModelBundle:
    """Read, validate and check a bundle.

    Parameters
    ----------
    path : str or pathlib.Path
        The bundle file.

    Returns
    -------
    ModelBundle
        The model.

    Raises
    ------
    BundleError
        Naming the file and the problem: not found, not ASDF, not matching the bundle schema,
        altered (checksum), another feature schema, inconsistent arrays.
    """
    import asdf

    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: model bundle not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with asdf.open(path, custom_schema=BUNDLE_SCHEMA_URI, lazy_load=False, memmap=False) as af:
                af.validate()
                if ROOT not in af.tree:
                    raise BundleError(f"{path}: not a jwst_memest model bundle (no {ROOT})")
                tree = _plain(af.tree[ROOT])
    except BundleError:
        raise
    except asdf.ValidationError as exc:
        reason = str(exc.message if hasattr(exc, "message") else exc).splitlines()[0]
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", []))
        raise BundleError(f"{path}: does not match the bundle schema{f' at {where}' if where else ''}: {reason}") from None
    except Exception as exc:  # asdf/yaml raise many types on garbage; all mean the same to the user
        raise BundleError(f"{path}: not a readable ASDF file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    try:
        _check(tree, str(path))
        return ModelBundle(tree, path)
    except BundleError:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise BundleError(f"{path}: inconsistent bundle ({type(exc).__name__}: {exc})") from None


def _library_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("jwst_memest", "numpy", "asdf", "jwst", "scikit-learn", "tensorflow", "keras"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def write_bundle(
    path: str | Path,
    *,
    schema: FeatureSchema,
    preprocessing: dict,
    layers: list[dict],
    output_transform: str,
    upper_bound: UpperBound,
    model_name: str,
    model_version: str,
    provenance: dict,
    metrics: dict,
    pipeline: str | None = None,
    kind: str = "mlp",
    baseline=None,
    input_ranges: dict | None = None,
) -> Path:
    """Validate and write a bundle atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or pathlib.Path
        The file to write.
    schema : jwst_memest.features.schema.FeatureSchema
        The feature set the model was trained on.
    preprocessing : dict
        ``method``, ``continuous`` (feature names), ``lambdas``, ``means``, ``sigmas`` and
        optionally ``round_decimals``.
    layers : list of dict
        ``weights``, ``bias`` and ``activation`` per dense layer.
    output_transform : str
        One of ``OUTPUT_TRANSFORMS`` (an mlp bundle) or ``log_ratio`` (a hybrid one).
    upper_bound : jwst_memest.model.upper.UpperBound
        The calibrated upper bound.
    model_name, model_version : str
        The model's name and version.
    provenance : dict
        Training data checksum and rows, jwst version, notes, ...
    metrics : dict
        Held-out metrics and others.
    pipeline : str or None, optional
        The Level-3 pipeline (default: the schema's).
    kind : str, optional
        ``mlp`` or ``hybrid``.
    baseline : PhysicsBaseline or dict, optional
        A hybrid's baseline (or a dict with its pipeline, version and checksum).
    input_ranges : dict or None, optional
        A hybrid's ``{"features": names, "min": ..., "max": ...}`` over the training rows.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    BundleError
        When the bundle would be invalid (unknown pipeline or kind, an output transform that does
        not fit the kind, a hybrid without its baseline or input ranges, inconsistent arrays).
    """
    import asdf

    path = Path(path)
    try:
        pipeline = normalize(pipeline or schema.pipeline or schema.name)
    except ValueError as exc:
        raise BundleError(f"{path}: {exc}") from None
    if kind not in KINDS:
        raise BundleError(f"{path}: unknown bundle kind {kind!r}")
    if output_transform not in (HYBRID_TRANSFORM if kind == "hybrid" else tuple(OUTPUT_TRANSFORMS)):
        raise BundleError(f"{path}: output transform {output_transform!r} does not fit a {kind} bundle")
    if kind == "hybrid" and (baseline is None or input_ranges is None):
        raise BundleError(f"{path}: a hybrid bundle needs the baseline it corrects and its input ranges")
    tree = {
        "format_version": FORMAT_VERSION,
        "model": {
            "name": model_name, "version": str(model_version), "pipeline": pipeline, "kind": kind,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        "features": schema.to_tree(),
        "preprocessing": {
            "method": preprocessing.get("method", "yeo-johnson+standardize"),
            "continuous": list(preprocessing.get("continuous", [])),
            **{k: np.asarray(preprocessing.get(k, []), dtype=np.float64) for k in ("lambdas", "means", "sigmas")},
            **({"round_decimals": int(preprocessing["round_decimals"])}
               if preprocessing.get("round_decimals") is not None else {}),
        },
        "network": {
            "layers": [
                {
                    "weights": np.asarray(l["weights"], dtype=np.float64),
                    "bias": np.asarray(l["bias"], dtype=np.float64),
                    "activation": str(l["activation"]),
                }
                for l in layers
            ]
        },
        "output": {"transform": output_transform, "units": "GB"},
        "upper_bound": upper_bound.to_tree(),
        "provenance": {
            "training_data_sha256": "", "training_rows": 0, "jwst_version": "",
            "library_versions": _library_versions(), "notes": "", **provenance,
        },
        "metrics": {"held_out": {}, **metrics},
    }
    if kind == "hybrid":
        if not isinstance(baseline, dict):
            baseline = {"pipeline": baseline.pipeline, "version": baseline.version, "checksum": baseline.checksum,
                        "name": baseline.name}
        tree["baseline"] = {k: str(v) for k, v in baseline.items()}
        tree["input_ranges"] = {"features": [str(n) for n in input_ranges["features"]],
                                "min": np.asarray(input_ranges["min"], dtype=np.float64),
                                "max": np.asarray(input_ranges["max"], dtype=np.float64)}
    tree["checksum"] = {"algorithm": "sha256", "value": checksum(tree)}
    _check(tree, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    af = asdf.AsdfFile({ROOT: tree})
    af.validate()
    with atomic_write(path, "wb") as handle:
        af.write_to(handle)
    load_bundle(path)  # what was written must read back
    return path
