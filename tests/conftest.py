"""Shared fixtures. CRDS is made unreachable so that any call to it fails fast."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ["CRDS_SERVER_URL"] = "https://localhost:1"
os.environ["CRDS_MODE"] = "local"
os.environ.setdefault("CRDS_PATH", tempfile.mkdtemp(prefix="crds-"))
os.environ["STPIPE_DISABLE_CRDS_STEPPARS"] = "True"
# strun and the other commands the tests start are those of the interpreter running the tests,
# whether or not its environment is activated
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
for variable in ("JWST_MEMEST_MODEL", "JWST_MEMEST_MODEL_DIR", "JWST_MEMEST_MEMORY_LIMIT", "JWST_MEMEST_MAX_REQUEST_GB"):
    os.environ.pop(variable, None)

from jwst_memest.example import example_association, write_layout_association  # noqa: E402
from jwst_memest.exposures import ExposureLayout  # noqa: E402


@pytest.fixture
def example_dir(tmp_path) -> Path:
    """A private copy of the bundled example: exposures and their association."""
    target = tmp_path / "example"
    shutil.copytree(example_association().parent, target)
    return target


@pytest.fixture
def example_asn(example_dir) -> Path:
    return next(example_dir.glob("*_asn.json"))


@pytest.fixture
def association_factory(tmp_path):
    counter = iter(range(1000))

    def factory(layout: ExposureLayout, exp_modes=("image", "spec")) -> Path:
        return write_layout_association(layout, tmp_path / f"asn{next(counter)}", exp_modes)

    return factory
