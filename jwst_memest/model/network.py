"""Dense network forward pass in numpy: the Keras MLP's arithmetic, without Keras."""

from __future__ import annotations

import numpy as np

__all__ = ["ACTIVATIONS", "DenseLayer", "forward"]

_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805

ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))),
    "selu": lambda x: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0))),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),  # Keras' default negative slope
}


class DenseLayer:
    """One dense layer: ``activation(x @ weights + bias)``.

    Parameters
    ----------
    weights : array_like
        (n_in, n_out) weights.
    bias : array_like
        (n_out,) bias.
    activation : str
        One of ``ACTIVATIONS``.

    Raises
    ------
    ValueError
        When the activation is unknown or the shapes do not fit.
    """

    def __init__(self, weights, bias, activation: str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}")
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        if self.weights.ndim != 2 or self.bias.shape != (self.weights.shape[1],):
            raise ValueError(f"layer weights {self.weights.shape} and bias {self.bias.shape} do not fit")
        self.activation = activation

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ACTIVATIONS[self.activation](x @ self.weights + self.bias)


def forward(layers: list[DenseLayer], X: np.ndarray) -> np.ndarray:
    """Network output for a batch.

    Parameters
    ----------
    layers : list of DenseLayer
        The layers, in order.
    X : numpy.ndarray
        (n, n_in) inputs.

    Returns
    -------
    numpy.ndarray
        (n, n_out) outputs.
    """
    out = np.asarray(X, dtype=np.float64)
    for layer in layers:
        out = layer(out)
    return out
