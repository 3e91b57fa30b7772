"""Keras MLP regressors: the seed's default shapes, or a custom architecture."""

from __future__ import annotations

__all__ = ["DEFAULT_LAYERS", "build_mlp"]

DEFAULT_LAYERS = {
    "image": (18, 36, 72, 144, 72, 36, 18, 9),
    "spec": (18, 36, 72, 144, 288, 144, 72, 36, 18),
}


def build_mlp(n_features: int, layers, activation: str = "relu", learning_rate: float = 1e-4,
              layer_kwargs: dict | None = None, decay_steps: int = 1000, name: str = "mlp"):
    """Dense layers then one linear output; Adam with exponential decay, MSE loss, RMSE metric.

    ``layer_kwargs`` maps 1-based layer numbers to extra Dense arguments
    (e.g. ``{1: {"kernel_regularizer": "l2"}}``).
    """
    import keras

    layer_kwargs = {1: {"kernel_regularizer": "l2"}} if layer_kwargs is None else layer_kwargs
    inputs = keras.Input(shape=(n_features,), name="features")
    x = inputs
    for number, size in enumerate(layers, start=1):
        x = keras.layers.Dense(size, activation=activation, name=f"dense_{number}", **layer_kwargs.get(number, {}))(x)
    outputs = keras.layers.Dense(1, activation="linear", name="memory")(x)
    model = keras.Model(inputs, outputs, name=name)
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps=decay_steps, decay_rate=0.96)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return model
