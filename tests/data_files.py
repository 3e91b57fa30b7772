"""Stored test data under tests/data/."""

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def spacekit_reference(name: str):
    """A table spacekit produced (tests/data/spacekit/README.md), as pandas reads it."""
    import pandas as pd

    return pd.read_csv(DATA / "spacekit" / name, dtype={"members": str})
