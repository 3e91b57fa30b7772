"""spacekit's pretrained JWST cal models as bundles: ``python -m jwst_memest.training convert-spacekit``.

spacekit (``pip install 'jwst_memest[spacekit]'``) ships its image and spec regressors as Keras
files with their normalisation (Yeo-Johnson lambdas, means and sigmas of the offset features) in
one archive. Conversion reads them with Keras, once; the bundles it writes are evaluated with numpy
like any other, on spacekit's 18 features computed from the members' headers.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from jwst_memest.features.schema import load_feature_set
from jwst_memest.model.bundle import write_bundle
from jwst_memest.model.upper import UpperBound

__all__ = ["SpacekitModel", "SPACEKIT_MODELS", "SpacekitImportError", "spacekit_archive", "import_spacekit"]

# spacekit normalises its inputs and rounds them to this many decimals before the network sees them
SPACEKIT_ROUND_DECIMALS = 5
_ARCHIVE = Path("builder") / "trained_networks" / "jwst_cal.zip"


class SpacekitImportError(ValueError):
    """spacekit or one of its model files cannot be used; the message names it and the problem."""


@dataclass(frozen=True)
class SpacekitModel:
    """One of spacekit's pretrained JWST cal models.

    Parameters
    ----------
    mode : str
        spacekit's exposure mode: ``image`` or ``spec``.
    keras_name : str
        The network's name in spacekit's archive.
    feature_set : str
        Its feature set (``spacekit_image`` or ``spacekit_spec``).
    pipeline : str
        The Level-3 pipeline it estimates.
    """
    mode: str  # spacekit's exposure mode: image or spec
    keras_name: str  # the network's name in spacekit's archive
    feature_set: str
    pipeline: str

    @property
    def bundle_name(self) -> str:
        """The converted bundle's name.

        Returns
        -------
        str
            ``spacekit_<pipeline>``.
        """
        return f"spacekit_{self.pipeline}"


SPACEKIT_MODELS = (
    SpacekitModel("image", "img3_reg", "spacekit_image", "image3"),
    SpacekitModel("spec", "spec3_reg", "spacekit_spec", "spec3"),
)


def _spacekit_version() -> str:
    try:
        return importlib.metadata.version("spacekit")
    except importlib.metadata.PackageNotFoundError:
        raise SpacekitImportError("spacekit is not installed in this environment "
                                  "(pip install 'jwst_memest[spacekit]')") from None


def spacekit_archive() -> Path:
    """The archive of JWST cal models the installed spacekit ships (found without importing spacekit).

    Returns
    -------
    pathlib.Path
        The archive.

    Raises
    ------
    SpacekitImportError
        When spacekit or its archive is not installed.
    """
    _spacekit_version()
    found = importlib.util.find_spec("spacekit")
    locations = list(found.submodule_search_locations or []) if found else []
    for location in locations:
        if (Path(location) / _ARCHIVE).is_file():
            return Path(location) / _ARCHIVE
    where = locations[0] if locations else "spacekit"
    raise SpacekitImportError(f"{Path(where) / _ARCHIVE}: spacekit's JWST cal models not found")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _member(folder: Path, name: str, archive: Path) -> Path:
    found = sorted(folder.rglob(name))
    if not found:
        raise SpacekitImportError(f"{archive}: no {name} in spacekit's model archive")
    return found[0]


def _spacekit_columns(mode: str) -> tuple[list[str], list[str]]:
    """spacekit's input order and normalised columns for a mode, from its own configuration."""
    from spacekit.skopes.jwst.cal.config import COLUMN_ORDER, NORM_COLS

    return list(COLUMN_ORDER[mode.upper()]), list(NORM_COLS[mode.upper()])


def _normalisation(path: Path, normalised: list[str]) -> dict:
    try:
        data = json.loads(path.read_text())
        lambdas, means, sigmas = (list(map(float, data[key])) for key in ("lambdas", "mu", "sigma"))
    except (ValueError, KeyError, TypeError) as exc:
        raise SpacekitImportError(f"{path}: not spacekit's normalisation ({type(exc).__name__}: {exc})") from None
    if not len(lambdas) == len(means) == len(sigmas) == len(normalised):
        raise SpacekitImportError(f"{path}: {len(lambdas)} lambdas for {len(normalised)} normalised features")
    return {"method": "yeo-johnson+standardize", "continuous": normalised, "lambdas": lambdas, "means": means,
            "sigmas": sigmas, "round_decimals": SPACEKIT_ROUND_DECIMALS}


def _convert(model: SpacekitModel, folder: Path, archive: Path, out: Path, version: str) -> Path:
    import keras

    from jwst_memest.training.export import keras_layers, library_versions

    schema = load_feature_set(model.feature_set)
    columns, normalised = _spacekit_columns(model.mode)
    if columns != schema.names:
        raise SpacekitImportError(f"{archive}: spacekit {version}'s {model.mode} features ({', '.join(columns)}) are "
                                  f"not this jwst_memest's {model.feature_set} ({', '.join(schema.names)})")
    keras_file = _member(folder, f"{model.keras_name}.keras", archive)
    tx_file = _member(folder, f"tx_data-{model.mode}.json", archive)
    network = keras.models.load_model(keras_file, compile=False)
    if network.input_shape[-1] != len(schema):
        raise SpacekitImportError(f"{keras_file.name} in {archive}: {network.input_shape[-1]} inputs, "
                                  f"not {len(schema)}")
    provenance = {
        "training_data_sha256": "", "training_rows": 0, "jwst_version": "",
        "library_versions": {**library_versions(), "spacekit": version},
        "spacekit_version": version,
        "notes": (f"spacekit {version}'s pretrained {model.keras_name} ({archive.name}: {keras_file.name} sha256 "
                  f"{_sha256(keras_file)}, {tx_file.name} sha256 {_sha256(tx_file)}), imported as it is; "
                  "its training data and held-out accuracy are not shipped with it"),
    }
    bound = UpperBound((1.0,), (1.0,), 0, f"none: spacekit {version} ships no calibration, the bound is the estimate")
    return write_bundle(
        out / f"{model.bundle_name}.asdf", schema=schema, preprocessing=_normalisation(tx_file, normalised),
        layers=keras_layers(network), output_transform="identity", upper_bound=bound,
        model_name=f"spacekit_{model.keras_name}", model_version=version, provenance=provenance,
        metrics={"held_out": {}}, pipeline=model.pipeline,
    )


def import_spacekit(out: str | Path = ".") -> list[Path]:
    """Convert the installed spacekit's image and spec models into bundles in ``out``.

    Parameters
    ----------
    out : str or pathlib.Path, optional
        The folder written to.

    Returns
    -------
    list of pathlib.Path
        The bundles written (``spacekit_image3.asdf``, ``spacekit_spec3.asdf``).

    Raises
    ------
    SpacekitImportError
        When ``out`` is not a directory, or spacekit or its archive cannot be read.
    """
    version = _spacekit_version()
    archive = spacekit_archive()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SpacekitImportError(f"{out}: not a directory")
    with tempfile.TemporaryDirectory(prefix="jwst_memest-spacekit-") as scratch:
        try:
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(scratch)
        except (zipfile.BadZipFile, OSError) as exc:
            raise SpacekitImportError(f"{archive}: not a readable zip archive ({exc})") from None
        return [_convert(model, Path(scratch), archive, out, version) for model in SPACEKIT_MODELS]
