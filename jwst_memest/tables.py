"""Reading the labelled tables, shared by training and the baseline fit.

Three kinds, told apart by their columns: the measured-runs corpus; seed-style train-<mode>.csv
tables with this project's feature names ("table"); and spacekit's train-image.csv /
train-spec.csv as spacekit writes them ("spacekit": its 18 features, with its codes).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from jwst_memest.features.schema import load_feature_set, load_schema
from jwst_memest.pipelines import EXP_MODE_FEATURE_SET, class_alias, feature_set_for, normalize

log = logging.getLogger(__name__)

__all__ = ["TrainingData", "load_training_data", "EXP_MODE_PIPELINE", "TARGET", "CORPUS_REQUIRED_COLUMNS", "TABLE_REQUIRED_COLUMNS",
           "SPACEKIT_FEATURE_SETS"]

EXP_MODE_PIPELINE = EXP_MODE_FEATURE_SET  # public name of the exp modes read here, from pipelines.py
# spacekit's training tables of each exposure mode hold its features of this set
SPACEKIT_FEATURE_SETS = MappingProxyType({"image": "spacekit_image", "spec": "spacekit_spec"})
TARGET = "imgsize_gb"
# Columns besides the features that tell the two formats apart and that each needs.
CORPUS_REQUIRED_COLUMNS = ("measured_gb", "product", "status")  # plus an optional train/test "split"
TABLE_REQUIRED_COLUMNS = ("Dataset", TARGET)


@dataclass
class TrainingData:
    """A labelled table read for training or the baseline fit.

    Parameters
    ----------
    paths : tuple of pathlib.Path
        The files read.
    pipeline : str
        The Level-3 pipeline key.
    kind : str
        ``table`` (train-<mode>.csv), ``spacekit`` (spacekit's train-<mode>.csv) or ``corpus``
        (measured runs).
    table : pandas.DataFrame
        The usable rows, indexed by dataset or run.
    X : numpy.ndarray
        The encoded features, one row per table row.
    y : numpy.ndarray
        The targets, GB.
    sha256 : str
        One SHA-256 over the files' bytes.
    test_split : numpy.ndarray or None, optional
        The corpus' fixed held-out rows, if any.
    feature_set : str, optional
        The feature set (default: the pipeline's own; spacekit's for a spacekit table).
    """
    paths: tuple[Path, ...]
    pipeline: str
    kind: str  # "table" (train-<mode>.csv), "spacekit" (spacekit's train-<mode>.csv) or "corpus" (measured runs)
    table: object  # pandas DataFrame, index = dataset / run
    X: np.ndarray
    y: np.ndarray
    sha256: str
    test_split: np.ndarray | None = None  # the corpus' fixed held-out rows, if any
    feature_set: str = ""  # the pipeline's own, or spacekit's for a spacekit table

    def __post_init__(self):
        self.feature_set = self.feature_set or load_schema(self.pipeline).name

    @property
    def names(self) -> list[str]:
        """The feature names, in column order.

        Returns
        -------
        list of str
            The feature set's names.
        """
        return load_feature_set(self.feature_set).names

    @property
    def native(self) -> bool:
        """Whether the features are the pipeline's own (the physics baseline can estimate these rows).

        Returns
        -------
        bool
            True for the pipeline's own feature set.
        """
        return self.feature_set == load_schema(self.pipeline).name

    @property
    def label(self) -> str:
        """The training files' names, for provenance and reports.

        Returns
        -------
        str
            The names, joined by a plus sign.
        """
        return " + ".join(p.name for p in self.paths)


def _digest(paths) -> str:
    """One SHA-256 over the files' bytes, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _is_corpus(columns) -> bool:
    return "measured_gb" in columns and "status" in columns


def _missing(path: Path, wanted, columns, what: str) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        label = f"{what} column(s)" if what else "column(s)"
        raise ValueError(f"{path}: missing {label} {', '.join(missing)}")


# Runs that left out a step real data runs measure less than a full run: kept in the corpus (their
# pipeline_args say so) but never used as labels.
PARTIAL_RUN_ARGUMENTS = ("--steps.cube_build.skip=true", "--steps.extract_1d.skip=true")


def partial_runs(table):
    """Rows of IFU runs that skipped cube_build or extract_1d (measured before those could run offline).

    Parameters
    ----------
    table : pandas.DataFrame
        Corpus rows.

    Returns
    -------
    numpy.ndarray
        A boolean mask of those rows.
    """
    from jwst_memest.instruments import IFU_EXP_TYPES

    if "pipeline_args" not in table.columns or "exp_type" not in table.columns:
        return np.zeros(len(table), bool)
    arguments = table["pipeline_args"].fillna("").astype(str)
    skipped = np.logical_or.reduce([arguments.str.contains(a, regex=False).to_numpy() for a in PARTIAL_RUN_ARGUMENTS])
    return skipped & table["exp_type"].astype(str).isin(IFU_EXP_TYPES).to_numpy()


def _corpus_rows(path: Path, table, pipeline: str):
    _missing(path, CORPUS_REQUIRED_COLUMNS, table.columns, "corpus")
    table = table[table["status"].astype(str) == "ok"]
    partial = partial_runs(table)
    if partial.any():
        log.info("%s: %d IFU run(s) without cube_build/extract_1d left out as labels", path, int(partial.sum()))
        table = table[~partial]
    if "pipeline" in table.columns:
        table = table[table["pipeline"].astype(str).isin((pipeline, class_alias(pipeline)))]
    table = table.assign(**{TARGET: table["measured_gb"]})
    # several runs may measure one product (e.g. in_memory on and off): a run is the row
    table = table.set_index("run_id" if "run_id" in table.columns else "product")
    fixed = (table["split"].astype(str) == "test").to_numpy() if "split" in table.columns else None
    return table, fixed


def _table_rows(path: Path, table):
    import pandas as pd

    _missing(path, TABLE_REQUIRED_COLUMNS, table.columns, "")
    table = table.set_index("Dataset")
    if "pname" in table.columns:
        before = len(table)
        dates = pd.to_datetime(table["date"], errors="coerce") if "date" in table.columns else None
        order = dates if dates is not None else pd.Series(np.arange(len(table)), index=table.index)
        table = (table.assign(_order=order.to_numpy()).sort_values("_order", kind="stable", na_position="first")
                 .drop_duplicates("pname", keep="last").drop(columns="_order"))
        if before != len(table):
            log.info("%s: dropped %d duplicate product(s) by pname, keeping the latest date", path, before - len(table))
    return table


def _raw_value(spec, value):
    """A category cell is its name (NIRCAM, 12) or, when no name matches, its code (1, 1.0)."""
    if spec.kind != "category" or not isinstance(value, str):
        return value
    text = value.strip()
    if text.upper() in spec.categories:
        return text
    try:
        return float(text)
    except ValueError:
        return text


def _is_spacekit(columns, exp_mode: str) -> bool:
    """spacekit's own table: some feature only spacekit names (instr, nexposur, ...), none only this project names."""
    spacekit = set().union(*(load_feature_set(f).names for f in SPACEKIT_FEATURE_SETS.values()))
    own = set(load_schema(EXP_MODE_PIPELINE[exp_mode]).names)
    return bool((spacekit - own) & set(columns)) and not (own - spacekit) & set(columns)


def _table_schema(path: Path, exp_mode: str, pipeline: str):
    """The feature schema a CSV's columns say it holds: spacekit's for a spacekit table, else the pipeline's."""
    import pandas as pd

    try:
        columns = set(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if _is_corpus(columns) or not _is_spacekit(columns, exp_mode):
        return load_schema(pipeline)
    schema = load_feature_set(SPACEKIT_FEATURE_SETS[exp_mode])
    missing = [c for c in schema.names if c not in columns]
    if not missing:
        return schema
    other = [m for m, f in SPACEKIT_FEATURE_SETS.items() if m != exp_mode and set(load_feature_set(f).names) <= columns]
    if other:
        raise ValueError(f"{path}: a spacekit {other[0]} table (missing {exp_mode} feature column(s) "
                         f"{', '.join(missing)}); train it with --exp-mode {other[0]}")
    raise ValueError(f"{path}: missing spacekit {exp_mode} feature column(s) {', '.join(missing)}")


def _read_one(path: Path, exp_mode: str, pipeline: str):
    """One file's path, kind ('corpus', 'table' or 'spacekit'), feature schema, usable rows, targets and test flags."""
    import pandas as pd

    if path.is_dir():
        path = path / f"train-{exp_mode}.csv"
    if not path.is_file():
        raise ValueError(f"{path}: training data not found")
    schema = _table_schema(path, exp_mode, pipeline)
    try:
        # category columns as text: CHANNEL "12" is a name, and would otherwise read as the number 12
        raw = pd.read_csv(path, dtype={f.name: str for f in schema.features if f.kind == "category"})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if _is_corpus(raw.columns):
        table, test_split = _corpus_rows(path, raw, pipeline)
        kind = "corpus"
    else:
        table, test_split = _table_rows(path, raw), None
        kind = "table" if schema.name == load_schema(pipeline).name else "spacekit"
    _missing(path, schema.names, table.columns, "feature")
    y = pd.to_numeric(table[TARGET], errors="coerce").to_numpy(float)
    target = "measured_gb" if kind == "corpus" else TARGET
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{path}: {int((~np.isfinite(y)).sum())} row(s) with a missing or NaN target {target}")
    if np.any(y <= 0):
        raise ValueError(f"{path}: {int((y <= 0).sum())} row(s) with a non-positive target {target}")
    return path, kind, schema, table, y, test_split


def load_training_data(source, exp_mode: str = "image", folds: int | None = 0, pipeline: str | None = None) -> TrainingData:
    """Read a training table or corpus.

    Parameters
    ----------
    source : str, pathlib.Path or list of them
        A train_dir holding ``train-<exp_mode>.csv``, a CSV file of any of the three kinds (told
        apart by its columns), or a list of such CSVs of one kind, pooled (e.g. the measured
        corpus' files).
    exp_mode : str, optional
        ``image`` or ``spec``.
    folds : int or None, optional
        The k of the cross-validation the rows must be enough for (0: one 80/20 split; None: no
        check, just read).
    pipeline : str or None, optional
        Selects a corpus' runs of another Level-3 pipeline with the exp mode's features (tso3 with
        spec's, coron3 and ami3 with image's).

    Returns
    -------
    TrainingData
        The rows, features and targets.

    Raises
    ------
    ValueError
        One line naming the file and the problem: not found, unreadable, missing columns,
        missing or non-positive targets, kinds that cannot be pooled, too few rows.
    """
    import pandas as pd

    if exp_mode not in EXP_MODE_FEATURE_SET:
        raise ValueError(f"unknown exp mode {exp_mode!r}; expected one of {', '.join(EXP_MODE_FEATURE_SET)}")
    pipeline = normalize(pipeline or EXP_MODE_FEATURE_SET[exp_mode])
    if feature_set_for(pipeline) != EXP_MODE_FEATURE_SET[exp_mode]:
        raise ValueError(f"{class_alias(pipeline)} products are not described by the {exp_mode} features")
    sources = [source] if source is None or isinstance(source, (str, Path)) else list(source)
    parts = [_read_one(Path(s) if s is not None else Path("."), exp_mode, pipeline) for s in sources]
    paths, kinds, schemas, tables, targets, splits = zip(*parts)
    label = " + ".join(map(str, paths))
    if len(set(kinds)) > 1:
        names = {"corpus": "corpus", "table": "train-<mode>.csv", "spacekit": "spacekit train-<mode>.csv"}
        raise ValueError(f"{label}: {' and '.join(names[k] for k in dict.fromkeys(kinds))} tables cannot be pooled")
    schema = schemas[0]
    table = pd.concat(tables)
    if table.index.has_duplicates:
        repeated = ", ".join(map(str, table.index[table.index.duplicated()].unique()[:3]))
        raise ValueError(f"{label}: the same row appears in more than one file ({repeated})")
    test_split = None if any(s is None for s in splits) else np.concatenate(splits)
    # k folds need two rows per fold to train and test on; one split needs 5 for 80/20
    needed = 0 if folds is None else 2 * folds if folds > 1 else 5
    if len(table) < needed:
        split = f"{folds}-fold cross-validation" if folds > 1 else "a train/test split"
        raise ValueError(f"{label}: {len(table)} usable row(s) are too few for {split} (at least {needed})")
    records = [{name: _raw_value(schema[name], value) for name, value in row.items()}
               for row in table[schema.names].to_dict("records")]
    X = np.nan_to_num(schema.encode_many(records), nan=0.0)
    return TrainingData(paths, pipeline, kinds[0], table, X, np.concatenate(targets), _digest(paths), test_split,
                        feature_set=schema.name)
