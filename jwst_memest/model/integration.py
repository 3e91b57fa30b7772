"""asdf entry point: serve the bundle schema so it validates anywhere jwst_memest is installed."""

from pathlib import Path

__all__ = ["get_resource_mappings", "BUNDLE_SCHEMA_URI"]

BUNDLE_SCHEMA_URI = "asdf://jwst-memest.org/jwst_memest/schemas/bundle-1.2.0"


def get_resource_mappings():
    """The resource mapping serving the bundle schema to asdf (the ``asdf.resource_mappings`` entry point).

    Returns
    -------
    list of asdf.resource.DirectoryResourceMapping
        The package's ``resources/schemas`` under ``asdf://jwst-memest.org/jwst_memest/schemas/``.
    """
    from asdf.resource import DirectoryResourceMapping

    return [
        DirectoryResourceMapping(
            Path(__file__).parent / "resources" / "schemas",
            "asdf://jwst-memest.org/jwst_memest/schemas/",
        )
    ]
