"""Keras model + fitted normalisation -> one validated numpy bundle."""

from __future__ import annotations

from pathlib import Path

from jwst_memest.features.schema import load_feature_set, load_schema
from jwst_memest.model.bundle import write_bundle
from jwst_memest.model.upper import UpperBound

__all__ = ["keras_layers", "export_bundle", "training_provenance", "library_versions"]

# Libraries whose versions decide what a trained model computes.
_LIBRARIES = ("jwst_memest", "jwst", "numpy", "pandas", "scikit-learn", "tensorflow", "tensorflow-cpu", "keras",
              "asdf")


def library_versions() -> dict:
    """Versions of the libraries a trained model depends on, those installed.

    Returns
    -------
    dict of str to str
        Package name to version.
    """
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def training_provenance(data) -> dict:
    """Provenance of a model trained on ``data``.

    Parameters
    ----------
    data : jwst_memest.tables.TrainingData
        The training data.

    Returns
    -------
    dict
        Training data checksum and rows, the jwst version of the labels, notes.
    """
    import jwst

    table = data.table
    # the corpus records the jwst that produced its measurements; that is the one the labels depend on
    labels_jwst = str(table["jwst_version"].iloc[0]) if "jwst_version" in table.columns else jwst.__version__
    return {"training_data_sha256": data.sha256, "training_rows": int(len(data.y)), "jwst_version": labels_jwst,
            "library_versions": library_versions(),
            "notes": f"jwst_memest.training on {data.label} ({data.kind} table)"}


def _activation_name(layer) -> str:
    import keras

    serialized = keras.activations.serialize(layer.activation)
    if isinstance(serialized, str):
        return serialized
    return str(serialized.get("config", {}).get("name") or serialized.get("class_name"))


def keras_layers(model) -> list[dict]:
    """Dense layers of a Keras model as plain arrays (weights (n_in, n_out), bias (n_out,)).

    Parameters
    ----------
    model : keras.Model
        The trained model.

    Returns
    -------
    list of dict
        ``weights``, ``bias`` and ``activation`` per layer.

    Raises
    ------
    ValueError
        When the model has a layer other than Dense.
    """
    import keras

    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            weights, bias = layer.get_weights()
            layers.append({"weights": weights, "bias": bias, "activation": _activation_name(layer)})
        elif layer.weights:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) cannot be exported: only Dense layers")
    return layers


def export_bundle(path: str | Path, model, *, pipeline: str, preprocessing: dict, output_transform: str,
                  upper_bound: UpperBound, name: str, version: str, provenance: dict, metrics: dict,
                  kind: str = "mlp", baseline=None, input_ranges: dict | None = None,
                  feature_set: str | None = None) -> Path:
    """Write a fold's model as a bundle (on the pipeline's own features unless ``feature_set`` says).

    A hybrid also records its baseline and input ranges.

    Parameters
    ----------
    path : str or pathlib.Path
        The bundle file.
    model : keras.Model
        The trained model.
    pipeline : str
        The Level-3 pipeline.
    preprocessing : dict
        The fitted normalisation (`jwst_memest.model.bundle.write_bundle`).
    output_transform : str
        The network output's transform.
    upper_bound : jwst_memest.model.upper.UpperBound
        The calibrated upper bound.
    name, version : str
        The model's name and version.
    provenance, metrics : dict
        The bundle's provenance and metrics.
    kind : str, optional
        ``mlp`` or ``hybrid``.
    baseline : jwst_memest.model.baseline.PhysicsBaseline, optional
        A hybrid's baseline.
    input_ranges : dict or None, optional
        A hybrid's input ranges.
    feature_set : str or None, optional
        The feature set (default: the pipeline's own).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    jwst_memest.model.bundle.BundleError
        When the bundle would be invalid.
    """
    schema = load_feature_set(feature_set) if feature_set else load_schema(pipeline)
    return write_bundle(
        path, schema=schema, preprocessing=preprocessing, layers=keras_layers(model),
        output_transform=output_transform, upper_bound=upper_bound, model_name=name, model_version=version,
        provenance=provenance, metrics=metrics, pipeline=pipeline, kind=kind, baseline=baseline,
        input_ranges=input_ranges,
    )
