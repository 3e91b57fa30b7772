"""Keras model + fitted normalisation -> one validated numpy bundle."""

from __future__ import annotations

from pathlib import Path

from jwst_memest.features.schema import load_schema
from jwst_memest.model.bundle import write_bundle
from jwst_memest.model.upper import UpperBound

__all__ = ["keras_layers", "export_bundle"]


def keras_layers(model) -> list[dict]:
    """Dense layers of a Keras model as plain arrays."""
    import keras

    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            weights, bias = layer.get_weights()
            activation = keras.activations.serialize(layer.activation)
            name = activation if isinstance(activation, str) else activation.get("config", {}).get("name", activation.get("class_name"))
            layers.append({"weights": weights, "bias": bias, "activation": str(name)})
    return layers


def export_bundle(path: str | Path, model, *, pipeline: str, preprocessing: dict, output_transform: str,
                  upper_bound: UpperBound, name: str, version: str, provenance: dict, metrics: dict) -> Path:
    return write_bundle(
        path, schema=load_schema(pipeline), preprocessing=preprocessing, layers=keras_layers(model),
        output_transform=output_transform, upper_bound=upper_bound, model_name=name, model_version=version,
        provenance=provenance, metrics=metrics, pipeline=pipeline,
    )
