"""Writing estimates into an association: ``gbSize`` and the ``memory_estimate`` block in each product
estimated, and why not in each product that could not be."""

from __future__ import annotations

import json
from typing import Sequence

from jwst_memest._version import __version__
from jwst_memest.association import product_name
from jwst_memest.estimate_records import ProductEstimate

__all__ = ["annotate_association"]


def annotate_association(raw: dict, estimates: Sequence[ProductEstimate], failures: dict[str, str] | None = None) -> dict:
    """Copy an association with the estimates written into its products.

    Parameters
    ----------
    raw : dict
        The association as read from its file.
    estimates : sequence of ProductEstimate
        The estimates, matched to products by name.
    failures : dict of str to str or None, optional
        Each product that could not be estimated, and why.

    Returns
    -------
    dict
        A copy of the association with ``gbSize`` and ``memory_estimate`` in each estimated
        product, and ``memory_estimate: {"status": "failed", "reason": ...}`` (no ``gbSize``) in
        each failed one.
    """
    annotated = json.loads(json.dumps(raw))
    by_name = {e.product: e for e in estimates}
    for index, product in enumerate(annotated.get("products", [])):
        name = product_name(product, index)
        if name in (failures or {}):
            product.pop("gbSize", None)  # an earlier annotation's size no longer holds
            product["memory_estimate"] = {"status": "failed", "reason": failures[name], "jwst_memest_version": __version__}
            continue
        estimate = by_name.get(name)
        if estimate is None:
            continue
        product["gbSize"] = estimate.rounded_gb
        product["memory_estimate"] = estimate.annotation()
    return annotated
