"""Folder mode's output: one record per Level-3 product and per exposure's stage before Level 3, and the
same records as flat CSV rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from jwst_memest.estimate_records import ProductEstimate

if TYPE_CHECKING:  # folder mode imports the stages before Level 3 only when it estimates them
    from jwst_memest.exposure_estimate import ExposureEstimate

__all__ = ["folder_records", "records_csv"]


def folder_records(estimates: Sequence[ProductEstimate], association_of: dict[str, str],
                   exposure_estimates: Sequence[ExposureEstimate] = ()) -> list[dict]:
    """One record per estimated product, then one per exposure and stage before Level 3.

    Parameters
    ----------
    estimates : sequence of jwst_memest.estimate_records.ProductEstimate
        The Level-3 products' estimates.
    association_of : dict of str to str
        Each product's association file name.
    exposure_estimates : sequence of jwst_memest.exposure_estimate.ExposureEstimate, optional
        The estimates of each exposure's stages before Level 3.

    Returns
    -------
    list of dict
        ``product``, ``association``, ``gbSize`` and ``memory_estimate`` per Level-3 product;
        ``exposure``, ``pipeline``, ``gbSize`` and ``memory_estimate`` per exposure and stage
        (calwebb_detector1, calwebb_image2).
    """
    products = [{"product": e.product, "association": association_of.get(e.product, ""),
                 "gbSize": e.rounded_gb, "memory_estimate": e.annotation()} for e in estimates]
    # the stages before: one record per exposure and stage (its detector1 run, its image2 run)
    exposures = [{"exposure": Path(e.path).name, "pipeline": e.pipeline, "gbSize": round(e.gb, 4),
                  "memory_estimate": e.annotation()}
                 for e in exposure_estimates]
    return products + exposures


# Flat columns of the CSV output, from the records' memory_estimate blocks
CSV_COLUMNS = ("product", "association", "pipeline", "n_members", "gbSize", "upper_bound_gb", "upper_bound_quantile",
               "request_gb", "in_memory", "peak_step", "model", "model_version", "calibrated", "warnings")


def records_csv(records: list[dict]) -> str:
    """The records as CSV: a header of `CSV_COLUMNS`, then one flat row per record.

    Parameters
    ----------
    records : list of dict
        `folder_records`' records.

    Returns
    -------
    str
        The CSV text, one line per row.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        block = record["memory_estimate"]
        if "exposure" in record:  # an exposure's stage before Level 3
            writer.writerow({
                "product": record["exposure"], "association": "", "pipeline": block["pipeline"], "n_members": 1,
                "gbSize": record["gbSize"], "upper_bound_gb": block["upper_bound_gb"], "upper_bound_quantile": "",
                "request_gb": block["upper_bound_gb"], "in_memory": "", "peak_step": block["peak_step"],
                "model": block["model"], "model_version": "", "calibrated": block["calibrated"],
                "warnings": "; ".join(block["reasons"]),
            })
            continue
        writer.writerow({
            "product": record["product"], "association": record["association"], "pipeline": block["pipeline"],
            "n_members": block["n_members"], "gbSize": record["gbSize"], "upper_bound_gb": block["upper_bound_gb"],
            "upper_bound_quantile": block["upper_bound_quantile"], "request_gb": block["request_gb"],
            "in_memory": block["pipeline_parameters"]["in_memory"], "peak_step": block["peak_step"],
            "model": block["model"].get("name", ""), "model_version": block["model"].get("version", ""),
            "calibrated": block["calibrated"], "warnings": "; ".join(block["warnings"]),
        })
    return out.getvalue()
