"""Encoded image3 feature rows of synthetic products, for fitting the physics baseline to known coefficients."""

import numpy as np


def image3_rows(names, rng: np.random.Generator, n: int, max_members: int, member_pixels, output_factor: float,
                in_memory: int | None = None) -> np.ndarray:
    """``n`` rows over the feature ``names``: 2 to ``max_members`` - 1 members of one of ``member_pixels``,
    a mosaic 1 to ``output_factor`` times a member, one group per member, one integration; ``in_memory``
    as given, else drawn per row."""
    X = np.zeros((n, len(names)))
    X[:, names.index("n_members")] = rng.integers(2, max_members, n)
    X[:, names.index("member_pixels")] = rng.choice(member_pixels, n)
    X[:, names.index("output_pixels")] = X[:, names.index("member_pixels")] * rng.uniform(1, output_factor, n)
    X[:, names.index("n_exposure_groups")] = X[:, names.index("n_members")]
    X[:, names.index("in_memory")] = rng.integers(0, 2, n) if in_memory is None else in_memory
    X[:, names.index("n_integrations")] = 1
    return X
