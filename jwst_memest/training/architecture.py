"""Keras MLP regressors: the seed's default shapes, or a custom architecture."""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["DEFAULT_LAYERS", "build_mlp", "default_layer_kwargs"]

# Dense layer sizes per exposure mode, as the seed models have them (read-only).
DEFAULT_LAYERS = MappingProxyType({
    "image": (18, 36, 72, 144, 72, 36, 18, 9),
    "spec": (18, 36, 72, 144, 288, 144, 72, 36, 18),
})
DECAY_STEPS = 1000
DECAY_RATE = 0.96


def default_layer_kwargs() -> dict:
    """Extra Dense arguments by 1-based layer number: an L2 penalty on the first layer (a fresh dict).

    Returns
    -------
    dict
        ``{1: {"kernel_regularizer": "l2"}}``.
    """
    return {1: {"kernel_regularizer": "l2"}}


def build_mlp(n_features: int, layers, activation: str = "relu", learning_rate: float = 1e-4,
              layer_kwargs: dict | None = None, name: str = "mlp", output_initializer: str = "glorot_uniform"):
    """Dense layers then one linear output; Adam with exponential decay, MSE loss, RMSE metric.

    Parameters
    ----------
    n_features : int
        The inputs.
    layers : sequence of int
        Hidden layer sizes.
    activation : str, optional
        The hidden layers' activation.
    learning_rate : float, optional
        Adam's initial learning rate.
    layer_kwargs : dict or None, optional
        Maps 1-based layer numbers to extra Dense arguments (default: `default_layer_kwargs`).
    name : str, optional
        The model's name.
    output_initializer : str, optional
        ``"zeros"`` starts the output at 0 (a hybrid's correction starts as none: the baseline
        itself).

    Returns
    -------
    keras.Model
        The compiled model.

    Raises
    ------
    ValueError
        When ``layers`` is empty.
    """
    import keras

    if not layers:
        raise ValueError("an MLP needs at least one hidden layer")
    layer_kwargs = default_layer_kwargs() if layer_kwargs is None else layer_kwargs
    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for number, size in enumerate(layers, start=1):
        x = keras.layers.Dense(int(size), activation=activation, name=f"dense_{number}",
                               **layer_kwargs.get(number, {}))(x)
    outputs = keras.layers.Dense(1, activation="linear", name="memory", kernel_initializer=output_initializer)(x)
    model = keras.Model(inputs, outputs, name=name)
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=DECAY_STEPS,
                                                           decay_rate=DECAY_RATE)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return model
