"""Small random bundles for tests."""

import numpy as np

from jwst_memest.features.schema import load_schema
from jwst_memest.model.bundle import write_bundle
from jwst_memest.model.upper import UpperBound


def random_network(n_in: int, sizes=(8, 4), seed=0, activation="relu"):
    rng = np.random.default_rng(seed)
    layers, n = [], n_in
    for size in (*sizes, 1):
        layers.append({"weights": rng.normal(0, 0.3, (n, size)), "bias": rng.normal(0, 0.1, size),
                       "activation": activation if size != 1 else "linear"})
        n = size
    return layers


def write_random_bundle(path, pipeline="image3", seed=0, **overrides):
    schema = load_schema(pipeline)
    continuous = [f.name for f in schema.features if f.kind in ("continuous", "count")]
    rng = np.random.default_rng(seed)
    options = dict(
        schema=schema,
        preprocessing={"method": "yeo-johnson+standardize", "continuous": continuous,
                       "lambdas": rng.uniform(-0.5, 0.5, len(continuous)),
                       "means": rng.normal(0, 1, len(continuous)), "sigmas": rng.uniform(0.5, 2, len(continuous))},
        layers=random_network(len(schema), seed=seed),
        output_transform="log1p",
        upper_bound=UpperBound((0.5, 0.95, 1.0), (1.0, 1.2, 1.4), 40, "test"),
        model_name=f"test_{pipeline}", model_version="0.1",
        provenance={"training_data_sha256": "0" * 64, "training_rows": 200, "jwst_version": "3.0.0"},
        metrics={"held_out": {"n_rows": 40, "median_abs_pct_error": 5.0, "rmse_gb": 0.2, "upper_exceeded_fraction": 0.05}},
        pipeline=pipeline,
    )
    options.update(overrides)
    return write_bundle(path, **options)


def write_random_hybrid(path, pipeline="image3", seed=0, low=None, high=None, **overrides):
    """A hybrid bundle with a random correction network over the installed physics baseline."""
    from jwst_memest.model.baseline import load_baseline

    schema = load_schema(pipeline)
    continuous = [f.name for f in schema.features if f.kind in ("continuous", "count")]
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 5, len(continuous)) if low is None else low
    high = low + rng.uniform(1, 50, len(continuous)) if high is None else high
    layers = random_network(len(schema), seed=seed, activation="tanh")
    layers[-1]["weights"] = layers[-1]["weights"] * 0.2  # corrections of a few tens of percent
    options = dict(kind="hybrid", output_transform="log_ratio", baseline=load_baseline(pipeline),
                   input_ranges={"features": continuous, "min": low, "max": high}, model_name=f"test_{pipeline}_hybrid",
                   preprocessing={"method": "standardize", "continuous": continuous, "lambdas": np.ones(len(continuous)),
                                  "means": (low + high) / 2, "sigmas": (high - low) / 2},
                   layers=layers)
    options.update(overrides)
    return write_random_bundle(path, pipeline, seed, **options)
