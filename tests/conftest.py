"""Shared fixtures. CRDS is made unreachable so that any call to it fails fast."""

import gc
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

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

# The property tests draw a few dozen examples in the default run and the full count with
# `--hypothesis-profile=full` (the command that also runs the slow tests, see README).
hypothesis_settings.register_profile("quick", max_examples=30)
hypothesis_settings.register_profile("full", max_examples=150)
hypothesis_settings.load_profile("quick")  # --hypothesis-profile, read after this file, overrides it

TENSORFLOW_MISSING = importlib.util.find_spec("tensorflow") is None


def pytest_collection_modifyitems(config, items):
    """Tests marked ``tensorflow`` are skipped, with the reason, where the ``train`` extra is not installed."""
    if not TENSORFLOW_MISSING:
        return
    skip = pytest.mark.skip(reason="needs tensorflow: pip install '.[test,train]'")
    for item in items:
        if item.get_closest_marker("tensorflow"):
            item.add_marker(skip)


def _freeze_surviving_objects():
    """Every stpipe step starts with gc.collect(), which walks every object of this process (jwst,
    tensorflow, the test modules): 0.4-0.8 s a step. Objects alive between tests are moved out of the
    collector's sight, so that each collection walks only what the current test made."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session):
    _freeze_surviving_objects()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    _freeze_surviving_objects()


@pytest.fixture
def example_dir(tmp_path) -> Path:
    """A private copy of the bundled example: exposures and their association."""
    target = tmp_path / "example"
    shutil.copytree(example_association().parent, target)
    return target


@pytest.fixture
def example_asn(example_dir) -> Path:
    return next(example_dir.glob("*_asn.json"))


@pytest.fixture(scope="session")
def image3_with_the_hook(tmp_path_factory):
    """One ``strun calwebb_image3 <asn> --pre_hooks=jwst_memest.MemoryEstimateStep,`` on a copy of the example,
    read by the tests of the hook and of its log: the directory, the association, the directory's files before
    the run, and the finished process."""
    directory = tmp_path_factory.mktemp("hooked") / "example"
    shutil.copytree(example_association().parent, directory)
    asn = next(directory.glob("*_asn.json"))
    name_cal_members(asn)
    before = {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}
    result = subprocess.run(["strun", "calwebb_image3", asn.name, "--pre_hooks=jwst_memest.MemoryEstimateStep,"],
                            cwd=directory, capture_output=True, text=True, timeout=600)
    return directory, asn, before, result


def name_cal_members(asn: Path) -> None:
    """Name the association's members as calwebb_image3 takes them (_cal), as operations' associations do.

    The bundled example names its header-only uncal files, which the pipeline itself cannot open
    (no data): with cal names, the hook finds the uncal files beside them, and the pipeline starts
    on its own input and stops only when it needs pixels."""
    raw = json.loads(asn.read_text())
    for product in raw["products"]:
        for member in product["members"]:
            member["expname"] = member["expname"].replace("_uncal.fits", "_cal.fits")
    asn.write_text(json.dumps(raw, indent=2))


@pytest.fixture
def association_factory(tmp_path):
    counter = iter(range(1000))

    def factory(layout: ExposureLayout, exp_modes=("image", "spec")) -> Path:
        return write_layout_association(layout, tmp_path / f"asn{next(counter)}", exp_modes)

    return factory
