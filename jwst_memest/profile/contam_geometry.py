"""``python -m jwst_memest.profile contam-geometry --corpus CSV ...``: add the trace geometry to WFSS rows
measured before it was recorded.

A WFSS run's synthetic exposure and catalog follow from its layout and its id's seed, so they are
written again (never run), checked against the row's counted segment pixels, and their trace
geometry computed exactly as a new run records it (`jwst_memest.wfss_landing`). The CSV is
rewritten whole (a temporary file, then renamed), with the ``contam_geometry`` column.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from jwst_memest.atomic import atomic_write
from jwst_memest.cli_support import program, report_error

__all__ = ["add_contam_geometry", "main"]


def _geometry_of(row: dict, cache: Path) -> str:
    from jwst_memest.profile.image2 import image2_layout
    from jwst_memest.profile.level2 import cutout_columns, level2_exposure
    from jwst_memest.profile.run import seed_of

    layout = image2_layout(json.loads(row["layout"]))
    scratch = Path(tempfile.mkdtemp(prefix="memest-geometry-"))
    try:
        exposure, _ = level2_exposure("spec2", layout, scratch, cache, seed_of(row["run_id"]))
        columns = cutout_columns(exposure, layout, cache)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not columns["contam_geometry"]:
        raise ValueError(f"{row['run_id']}: its trace geometry could not be computed (logged above)")
    if abs(float(columns["segment_pixels"]) - float(row["segment_pixels"])) > 0.5:
        raise ValueError(f"{row['run_id']}: the exposure written again has {columns['segment_pixels']:g} segment "
                         f"pixels, the row {row['segment_pixels']}: not the run's catalog")
    return columns["contam_geometry"]


def add_contam_geometry(corpus: str | Path, cache: str | Path, progress=print) -> int:
    """Add ``contam_geometry`` to every WFSS row of a corpus CSV that lacks it.

    Parameters
    ----------
    corpus : str or pathlib.Path
        The CSV.
    cache : str or pathlib.Path
        The synthetic references' folder (``default_level2_reference_cache("spec2")``).
    progress : callable, optional
        Called with one line per row done.

    Returns
    -------
    int
        Rows given their geometry.
    """
    import pandas as pd

    corpus = Path(corpus)
    table = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    if "contam_geometry" not in table.columns:
        table["contam_geometry"] = ""
    done = 0
    for i, row in table.iterrows():
        if row["exp_type"] not in ("NRC_WFSS", "NIS_WFSS") or row["status"] != "ok" or row["contam_geometry"]:
            continue
        table.at[i, "contam_geometry"] = _geometry_of(row.to_dict(), Path(cache))
        done += 1
        progress(f"{row['run_id']}: geometry of {row['segment_pixels']} segment pixels")
    with atomic_write(corpus, newline="") as handle:
        table.to_csv(handle, index=False)
    return done


def main(argv=None) -> int:
    """``python -m jwst_memest.profile contam-geometry``: give each CSV's WFSS rows their trace geometry.

    Parameters
    ----------
    argv : list of str or None, optional
        The command-line arguments.

    Returns
    -------
    int
        0 done, 2 bad input.
    """
    from jwst_memest.profile.level2 import default_level2_reference_cache

    parser = argparse.ArgumentParser(prog=program("python -m jwst_memest.profile contam-geometry"),
                                     description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("--corpus", nargs="+", required=True, help="corpus CSVs of calwebb_spec2 WFSS runs")
    parser.add_argument("--reference-cache", default=None, help="the synthetic references' folder")
    args = parser.parse_args(argv)
    cache = Path(args.reference_cache or default_level2_reference_cache("spec2"))
    try:
        for path in args.corpus:
            print(f"{path}: {add_contam_geometry(path, cache)} rows given their trace geometry")
    except (OSError, ValueError, KeyError) as exc:
        return report_error(str(exc), parser.prog)
    return 0
