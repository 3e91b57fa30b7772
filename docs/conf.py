"""Sphinx configuration of the jwst_memest documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` after
``pip install ".[docs]"``. Nothing here needs the network.
"""

import os
import sys
from importlib.metadata import PackageNotFoundError, version

sys.path.insert(0, os.path.abspath(".."))
# the API reference imports the package; CRDS is never contacted while documenting it
os.environ.setdefault("CRDS_MODE", "local")
os.environ.setdefault("CRDS_SERVER_URL", "https://localhost:1")

project = "jwst_memest"
author = "jwst_memest developers"
copyright = "jwst_memest developers"
try:
    release = version("jwst_memest")
except PackageNotFoundError:  # documenting a source tree that is not installed
    release = "0.0.0"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# markdown pages: heading anchors for the pages' links to one another's sections
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# API reference: one page per public module and per public object, from the modules' __all__
autosummary_generate = True
autosummary_ignore_module_all = False
autosummary_imported_members = False
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# training is documented without tensorflow: its modules import it only inside functions
autodoc_mock_imports = ["tensorflow", "keras", "spacekit"]

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = {"PR01", "PR02", "RT01", "SS01", "GL08"}
# constructors that are not the project's own, whose parameters are documented where they come from:
# a typing.Protocol's (never called), argparse's and logging's; these classes' methods are checked
numpydoc_validation_exclude = {r"\.MemoryEstimator$", r"\.CommandParser$", r"\.MessageFormatter$"}

html_theme = "sphinx_rtd_theme"
html_title = f"jwst_memest {release}"
html_static_path = []
