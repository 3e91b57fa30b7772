"""The package's version: its single source (pyproject.toml reads it, ``jwst_memest.__version__`` re-exports it).

A module of its own, importing nothing, so that any layer of the package may name the version
without importing the package's ``__init__``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
