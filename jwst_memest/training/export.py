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
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def training_provenance(data) -> dict:
    """Provenance of a model trained on ``data`` (a TrainingData)."""
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
    """Dense layers of a Keras model as plain arrays (weights (n_in, n_out), bias (n_out,))."""
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
    """Write a fold's model as a bundle (on the pipeline's own features unless ``feature_set`` says);
    a hybrid also records its baseline and input ranges."""
    schema = load_feature_set(feature_set) if feature_set else load_schema(pipeline)
    return write_bundle(
        path, schema=schema, preprocessing=preprocessing, layers=keras_layers(model),
        output_transform=output_transform, upper_bound=upper_bound, model_name=name, model_version=version,
        provenance=provenance, metrics=metrics, pipeline=pipeline, kind=kind, baseline=baseline,
        input_ranges=input_ranges,
    )
