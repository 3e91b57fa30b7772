"""Operations metadata -> training tables, with the same feature code as the step.

Input: a folder of CSVs named ``YYYY-MM-DD_DOY.csv``. Each row is a Level-1 exposure or a
Level-3 product, named by ``DagNodeName`` (an exposure stem such as
``jw01234001001_03101_00001_nrca1``, or a product name such as
``jw01234-o001_t001_nircam_clear-f150w``), with FITS keyword columns (INSTRUME, DETECTOR,
EXP_TYPE, FILTER, PUPIL, RA_REF, ...) and, for products, ``ImageSize``: the measured peak
memory in kB (10^3 bytes).

Output: ``train-image.csv`` and ``train-spec.csv`` (updated in place: a reprocessed product
takes the newer measurement) and ``ingest.csv``, the exposures no product matched yet, which
the next ingest reads back.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import CommandParser, program
from jwst_memest.features.build import product_features
from jwst_memest.features.schema import load_schema
from jwst_memest.instruments import EXPOSURE_STEM
from jwst_memest.metadata import metadata_from_headers
from jwst_memest.pipelines import EXP_MODE_FEATURE_SET, exp_mode_for, pipeline_for_exposure

log = logging.getLogger(__name__)

__all__ = ["ingest", "parse_product_name", "main"]

_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{3})\.csv$")
# jw<program>-<o|c|a><association id>_<t target | s source>[-epoch<n>]_<instrument>_<optical elements>[-<subarray>]
_PRODUCT = re.compile(r"^jw(\d{5})-([oca])(\d{3,4})_([ts]\d+)(?:-epoch\d+)?_([a-z]+)_(.+)$", re.IGNORECASE)
# Name tokens that are filters, pupils or gratings (not subarrays, channels or bands).
_OPTICAL = re.compile(r"^(f\d{3,4}[a-z0-9]*|clear|clearp|g\d{3}[a-z]|prism|mirror|gr\d{3}[a-z]*|gr150[cr]|"
                      r"grism[a-z0-9]*|p750l|mask[a-z]+|nrm|wl[mp]\d|opaque|fnd|flens)$")
_OPEN_POSITIONS = {"clear", "clearp", "n/a", "none", ""}
CARRY = "ingest.csv"
TABLE_EXTRA_COLUMNS = ("imgsize_gb", "pname", "date", "imagesize")


def parse_product_name(name: str) -> dict | None:
    """Program, association type and observation, instrument and name tokens of a Level-3 product name.

    Parameters
    ----------
    name : str
        The product name, such as ``jw01234-o001_t001_nircam_clear-f150w``.

    Returns
    -------
    dict or None
        ``program``, ``observation`` (None for candidate and archive associations, which span
        observations), ``instrument`` and ``elements`` (the name's tokens); None when the name is
        not a Level-3 product name.
    """
    match = _PRODUCT.match(str(name).strip())
    if not match:
        return None
    program, kind, number, _, instrument, elements = match.groups()
    tokens = {t for t in re.split(r"[-_]", elements.lower()) if t}
    # candidate (c) and archive (a) associations span observations: matched within the program
    observation = number[-3:] if kind.lower() == "o" else None
    return {"program": program, "observation": observation, "instrument": instrument.upper(), "elements": tokens}


def _exposure_keys(row) -> tuple[str, str]:
    match = EXPOSURE_STEM.match(str(row["DagNodeName"]).strip())
    if match:
        return match.group(1), match.group(2)
    return str(row.get("PROGRAM", "")).strip().zfill(5), str(row.get("OBSERVTN", "")).strip().zfill(3)


def _optical_elements(row) -> set[str]:
    return {str(row.get(k, "")).strip().lower() for k in ("FILTER", "PUPIL", "GRATING")} - {""}


def _matches(product: dict, row) -> bool:
    """Same instrument, and the optical elements of the name and of the exposure agree both ways."""
    program, observation = _exposure_keys(row)
    if program != product["program"] or (product["observation"] and observation != product["observation"]):
        return False
    if str(row.get("INSTRUME", "")).strip().upper() != product["instrument"]:
        return False
    elements = _optical_elements(row)
    named = {t for t in product["elements"] if _OPTICAL.match(t)}
    if not (named - _OPEN_POSITIONS) <= elements:
        return False
    # an exposure through an element the name does not list belongs to another product
    used = {e for e in elements if _OPTICAL.match(e)} - _OPEN_POSITIONS
    if not used <= product["elements"]:
        return False
    channels = {t[2:] for t in product["elements"] if re.match(r"^ch\d$", t)}
    channel = str(row.get("CHANNEL", "")).strip()
    return not (channels and channel and not channels & set(channel))


def _read_day(path: Path):
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if "DagNodeName" not in table.columns:
        raise ValueError(f"{path}: missing column DagNodeName")
    table["_date"] = _FILE.match(path.name).group(1)
    return table


def _headers(row) -> dict:
    """A header-like dict of a CSV row: text as in the FITS header, empty values left out.

    Values stay strings ("01234", "12"): metadata_from_headers parses the numeric
    keywords itself, and categories such as CHANNEL=12 must not become 12.0.
    """
    return {key: value for key, value in row.items()
            if not key.startswith("_") and key not in ("DagNodeName", "ImageSize") and str(value).strip() != ""}


def _measured_kb(row) -> float:
    try:
        value = float(str(row.get("ImageSize", "")).strip() or "nan")
    except ValueError:
        return math.nan
    return value if math.isfinite(value) and value > 0 else math.nan


def _members_of_one_pipeline(metadata: list) -> tuple[str, list]:
    """The Level-3 pipeline of most members, and those members (a parallel instrument mode is left out)."""
    pipelines = [pipeline_for_exposure(m.exp_type) for m in metadata]
    pipeline = max(sorted(set(pipelines)), key=pipelines.count)
    return pipeline, [m for m, own in zip(metadata, pipelines) if own == pipeline]


def ingest(raw_dir: str | Path, out_dir: str | Path, prefix: str = "") -> dict[str, int]:
    """Ingest every ``YYYY-MM-DD_DOY.csv`` in ``raw_dir``.

    Parameters
    ----------
    raw_dir : str or pathlib.Path
        The folder of operations metadata.
    out_dir : str or pathlib.Path
        The train_dir written (``train-image.csv``, ``train-spec.csv``).
    prefix : str, optional
        Only files whose name starts with it (e.g. ``2024-``).

    Returns
    -------
    dict of str to int
        Rows written per exp mode.

    Raises
    ------
    ValueError
        When ``raw_dir`` is not a directory or holds no such file.
    """
    import pandas as pd

    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise ValueError(f"{raw_dir}: not a directory")
    days = sorted(p for p in raw_dir.iterdir() if _FILE.match(p.name) and p.name.startswith(prefix))
    if not days:
        raise ValueError(f"{raw_dir}: no YYYY-MM-DD_DOY.csv files{f' starting with {prefix}' if prefix else ''}")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = [_read_day(p) for p in days]
    carried = out_dir / CARRY
    if carried.is_file():
        frames.insert(0, pd.read_csv(carried, dtype=str, keep_default_na=False))
    # an exposure seen twice (carried over, then listed again) counts once
    rows = pd.concat(frames, ignore_index=True).drop_duplicates("DagNodeName", keep="last").reset_index(drop=True)
    is_product = rows["DagNodeName"].map(lambda n: parse_product_name(n) is not None)
    exposures, products = rows[~is_product], rows[is_product]
    # exposures grouped by program and instrument, so each product is matched against its own candidates only
    keys = exposures.apply(lambda r: (*_exposure_keys(r), str(r.get("INSTRUME", "")).strip().upper()), axis=1,
                           result_type="expand") if len(exposures) else pd.DataFrame(columns=[0, 1, 2])
    candidates = keys.groupby([keys[0], keys[2]]).groups if len(exposures) else {}
    used: set[int] = set()
    new_rows: dict[str, list[dict]] = {"image": [], "spec": []}
    remeasured: dict[str, tuple[str, float]] = {}
    for _, product_row in products.sort_values("_date", kind="stable").iterrows():
        name = product_row["DagNodeName"].strip()
        size_kb = _measured_kb(product_row)
        if not math.isfinite(size_kb):
            log.warning("%s (%s): no usable ImageSize %r; left out", name, product_row["_date"],
                        product_row.get("ImageSize"))
            continue
        product = parse_product_name(name)
        index = candidates.get((product["program"], product["instrument"]), [])
        members = [(i, exposures.loc[i]) for i in index if _matches(product, exposures.loc[i])]
        if not members:
            # a reprocessed product whose exposures were ingested earlier: new measurement only
            remeasured[name] = (product_row["_date"], size_kb)
            continue
        used.update(i for i, _ in members)
        metadata = [metadata_from_headers(r["DagNodeName"] + "_uncal.fits", _headers(r), None) for _, r in members]
        # each product's features as its own pipeline computes them (coron3, ami3 and tso3 count
        # every integration), in the table of the feature set that describes them
        pipeline, metadata = _members_of_one_pipeline(metadata)
        mode = exp_mode_for(pipeline)
        features = product_features(metadata, pipeline)
        for warning in features.warnings:
            log.debug("%s: %s", name, warning)
        new_rows[mode].append({"Dataset": name, **features.values, "imgsize_gb": size_kb / 1e6, "pname": name,
                               "date": product_row["_date"], "imagesize": size_kb})
    written = {}
    for mode, fresh in new_rows.items():
        path = out_dir / f"train-{mode}.csv"
        table = pd.DataFrame(fresh)
        if path.is_file():
            table = pd.concat([_remeasure(pd.read_csv(path), remeasured), table], ignore_index=True)
        if len(table):
            # a reprocessed product keeps its newest measurement
            table = table.sort_values("date", kind="stable").drop_duplicates("pname", keep="last")
            columns = ["Dataset", *load_schema(EXP_MODE_FEATURE_SET[mode]).names, *TABLE_EXTRA_COLUMNS]
            _write_csv_atomic(table.reindex(columns=columns), path)
        written[mode] = len(fresh)
    known = set()
    for mode in new_rows:
        path = out_dir / f"train-{mode}.csv"
        if path.is_file():
            known.update(pd.read_csv(path, usecols=["pname"])["pname"])
    for name in sorted(set(remeasured) - known):
        log.warning("%s: no Level-1 exposure matches and no earlier row; left out", name)
    leftover = exposures.drop(index=list(used))
    _write_csv_atomic(leftover, carried)
    log.info("ingested %s; %d exposure(s) carried to the next ingest", written, len(leftover))
    return written


def _remeasure(table, remeasured: dict):
    """Rows of products measured again: newer date and size, same features."""
    for name, (date, size_kb) in remeasured.items():
        hit = (table["pname"] == name) & (table["date"].astype(str) <= date)
        table.loc[hit, ["date", "imagesize", "imgsize_gb"]] = [date, size_kb, size_kb / 1e6]
    return table


def _write_csv_atomic(table, path: Path) -> None:
    with atomic_write(path, newline="") as handle:
        table.to_csv(handle, index=False)


def main(argv=None) -> int:
    """Ingest operations metadata: ``python -m jwst_memest.training.ingest -i RAW -o TRAIN_DIR``.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 done, 2 bad input.
    """
    parser = CommandParser(prog=program("python -m jwst_memest.training.ingest"), description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--input", required=True, help="folder of YYYY-MM-DD_DOY.csv files")
    parser.add_argument("-o", "--output", required=True, help="train_dir to write train-image.csv/train-spec.csv to")
    parser.add_argument("--pfx", default="", help="only files whose name starts with this (e.g. 2024-)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        written = ingest(args.input, args.output, args.pfx)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(", ".join(f"{n} {mode} product(s)" for mode, n in written.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
