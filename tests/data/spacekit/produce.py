"""Produce the spacekit reference values in this folder (see README.md here).

Two steps, in two environments:

  python tests/data/spacekit/produce.py exposures DIR            # this project's environment
  SPACEKIT_PYTHON tests/data/spacekit/produce.py reference DIR   # an environment with spacekit installed

The first writes each layout of tests/spacekit_layouts.py as header-only exposures in DIR/<layout>/;
the second runs spacekit's own JWST cal feature extraction on every folder and its pretrained
models on the result, and writes features-image.csv, features-spec.csv and models-image.csv,
models-spec.csv here.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODES = {"image": "IMAGE", "spec": "SPEC"}


def write_exposures(directory: Path) -> None:
    sys.path.insert(0, str(HERE.parents[1]))
    from spacekit_layouts import LAYOUTS

    from jwst_memest.exposures import write_header_exposures

    for layouts in LAYOUTS.values():
        for name, layout in layouts.items():
            write_header_exposures(layout, directory / name)


def _products(scrubber, mode: str) -> dict:
    return {"IMAGE": scrubber.img_products, "SPEC": scrubber.spec_products}[mode]


def write_reference(directory: Path) -> None:
    import importlib.metadata

    import numpy as np
    import pandas as pd
    from spacekit.preprocessor.scrub import JwstCalScrubber
    from spacekit.skopes.jwst.cal.config import COLUMN_ORDER, KEYPAIR_DATA
    from spacekit.skopes.jwst.cal.predict import JwstCalPredict

    predictor = JwstCalPredict(input_path=None)
    models = {"IMAGE": predictor.img3_reg.model, "SPEC": predictor.spec3_reg.model}
    for mode, label in MODES.items():
        rows = []
        for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
            scrubber = JwstCalScrubber(str(folder), sfx="_uncal.fits", encoding_pairs=KEYPAIR_DATA)
            table = scrubber.scrub_inputs(exp_type=label)
            if table is None:
                continue
            inputs = predictor.normalize_inputs(table, order=label)
            outputs = np.asarray(models[label].predict(inputs, verbose=0))[:, 0]
            for (product, row), output in zip(table.iterrows(), outputs):
                members = sorted(_products(scrubber, label)[product])
                rows.append({"layout": folder.name, "product": product, "members": ";".join(members),
                             **{c: row[c] for c in COLUMN_ORDER[label]}, "spacekit_gb": float(output)})
        pd.DataFrame(rows).to_csv(HERE / f"features-{mode}.csv", index=False, float_format="%.17g")
        _write_model_inputs(mode, label, predictor, models[label])
    (HERE / "spacekit-version.json").write_text(json.dumps(
        {"spacekit": importlib.metadata.version("spacekit"), "tensorflow": importlib.metadata.version("tensorflow")},
        indent=2) + "\n")


def _write_model_inputs(mode, label, predictor, model) -> None:
    """A spread of raw feature rows (codes and offsets as spacekit's tables hold them) and spacekit's output."""
    import numpy as np
    import pandas as pd
    from spacekit.skopes.jwst.cal.config import COLUMN_ORDER

    rng = np.random.default_rng(11)
    columns = COLUMN_ORDER[label]
    n = 64
    table = pd.DataFrame({
        "instr": rng.integers(1, 5, n), "detector": rng.integers(0, 17, n), "visitype": rng.integers(0, 7, n),
        "filter": rng.integers(0, 52, n), "pupil": rng.integers(0, 27, n), "grating": rng.integers(0, 9, n),
        "channel": rng.integers(0, 5, n), "subarray": rng.integers(0, 8, n), "band": rng.integers(0, 2, n),
        "bkgdtarg": rng.integers(0, 2, n), "nexposur": rng.integers(1, 200, n), "numdthpt": rng.integers(1, 9, n),
        "offset": rng.lognormal(3, 2, n), "frac": rng.uniform(0, 0.5, n), "targ_frac": rng.uniform(0, 0.5, n),
    }, index=[f"row{i:02d}" for i in range(n)])
    table["max_offset"] = table["offset"] * rng.uniform(1, 3, n)
    table["mean_offset"] = (table["offset"] + table["max_offset"]) / 2
    table["sigma_offset"] = (table["max_offset"] - table["offset"]) / 3
    table["err_offset"] = table["sigma_offset"] / np.sqrt(table["nexposur"])
    table["sigma1_mean"] = table["max_offset"] * rng.uniform(0.8, 1.0, n)
    table["targ_max_offset"] = table["max_offset"] * rng.uniform(0.5, 2, n)
    table = table[columns]
    inputs = predictor.normalize_inputs(table.astype(float), order=label)
    table["spacekit_gb"] = np.asarray(model.predict(inputs, verbose=0))[:, 0]
    table.to_csv(HERE / f"models-{mode}.csv", index_label="Dataset", float_format="%.17g")


if __name__ == "__main__":
    command, folder = sys.argv[1], Path(sys.argv[2])
    write_exposures(folder) if command == "exposures" else write_reference(folder)
