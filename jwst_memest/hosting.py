"""Running inside a host pipeline: open-model inputs, memory limit and the in_memory rescue."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from jwst_memest.association import product_name
from jwst_memest.estimate_records import AssociationEstimate
from jwst_memest.estimation import estimate_products
from jwst_memest.member_metadata import read_members
from jwst_memest.metadata import metadata_from_datamodel
from jwst_memest.pipelines import class_alias, normalize
from jwst_memest.settings import RunSettings

log = logging.getLogger(__name__)

__all__ = ["available_memory_gb", "estimate_open_models", "rescue_parent", "pipeline_of"]


def available_memory_gb() -> float:
    """Memory the kernel says is available now (GB), else total physical memory.

    Returns
    -------
    float
        GB (10^9 bytes).
    """
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def _hosts(host):
    while host is not None:
        yield host
        host = getattr(host, "parent", None)


def pipeline_of(host, association: dict | None = None) -> str:
    """Level-3 pipeline key from the host (or the pipeline around it), else the association's asn_type.

    Parameters
    ----------
    host : stpipe.step.Step or None
        The step or pipeline the hook runs in; its parents are looked at too.
    association : dict or None, optional
        The association, for its ``asn_type``.

    Returns
    -------
    str
        The pipeline key (``image3``, ``spec3``, ...).

    Raises
    ------
    ValueError
        When neither tells a Level-3 pipeline.
    """
    aliases = [getattr(h, "class_alias", None) for h in _hosts(host)]
    for candidate in (*aliases, (association or {}).get("asn_type")):
        try:
            return normalize(candidate or "")
        except ValueError:
            continue
    raise ValueError("cannot tell which Level-3 pipeline the input is for")


def _library_members(library):
    """Member metadata of a ModelLibrary: from the files' headers, else from the open models."""
    asn = library.asn
    members_listed = asn["products"][0]["members"]
    asn_dir = Path(getattr(library, "asn_dir", None) or ".")
    paths = [asn_dir / m["expname"] for m in members_listed]
    if all(p.is_file() for p in paths):
        return read_members(paths)
    metadata = []
    with library:
        for index in range(len(library)):
            model = library.borrow(index)
            try:
                metadata.append(metadata_from_datamodel(model, members_listed[index]["expname"]))
            finally:
                library.shelve(model, index, modify=False)
    return metadata, []


def _plain(value):
    """JSON fallback for the read-only mappings and numpy scalars a ModelLibrary's asn holds."""
    if hasattr(value, "keys"):
        return dict(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def estimate_open_models(input_data, host, **options) -> AssociationEstimate:
    """Estimate from what a sub-step hook receives: a ModelLibrary, datamodels, or an association dict.

    Parameters
    ----------
    input_data : jwst.datamodels.ModelLibrary, JwstDataModel or list of JwstDataModel
        The sub-step's input; a ModelLibrary's members are read from their files' headers when
        the files are there, else from the open models.
    host : stpipe.step.Step
        The step the hook runs in (its pipeline tells the Level-3 pipeline).
    **options
        Passed to `jwst_memest.estimation.estimate_products`.

    Returns
    -------
    jwst_memest.estimate_records.AssociationEstimate
        The estimate of the one product (``path`` None).

    Raises
    ------
    ValueError
        When the input is of another type, no member metadata can be read, or the pipeline
        cannot be told.
    """
    from jwst.datamodels import ModelLibrary
    from stdatamodels.jwst.datamodels import JwstDataModel

    if isinstance(input_data, ModelLibrary):
        raw = json.loads(json.dumps(input_data.asn, default=_plain))
        members, warnings = _library_members(input_data)
    elif isinstance(input_data, JwstDataModel):
        raw = {"asn_type": "", "products": [{"name": str(input_data.meta.filename), "members": []}]}
        members, warnings = [metadata_from_datamodel(input_data)], []
    elif isinstance(input_data, (list, tuple)) and all(isinstance(m, JwstDataModel) for m in input_data):
        raw = {"asn_type": "", "products": [{"name": "product", "members": []}]}
        members, warnings = [metadata_from_datamodel(m) for m in input_data], []
    else:
        raise ValueError(f"cannot estimate from input of type {type(input_data).__name__}")
    if not members:
        raise ValueError("no member metadata could be read from the input models")
    pipeline = pipeline_of(host, raw)
    name = product_name(raw["products"][0], 0)
    estimates = estimate_products([(name, members)], pipeline, extra_warnings={name: warnings}, **options)
    return AssociationEstimate(path=None, pipeline=pipeline, raw=dict(raw), products=estimates)


def rescue_parent(host, result: AssociationEstimate, limit_gb: float, options: dict,
                  apply_savings: bool = False) -> AssociationEstimate | None:
    """Switch a host calwebb_image3 to in_memory=False when the upper bound exceeds the limit.

    With ``apply_savings``, it is switched to the first memory-saving setting of the
    estimate's alternatives whose bound fits (no context image, then no err with
    source_catalog skipped, then both). A host that cannot be switched (calwebb_spec3) gets
    a warning.

    Parameters
    ----------
    host : stpipe.pipeline.Pipeline
        The pipeline the hook runs in.
    result : jwst_memest.estimate_records.AssociationEstimate
        The estimate under the host's settings.
    limit_gb : float
        The memory limit, GB.
    options : dict
        The estimation options (``model_path``, ``quantile``, ``max_request_gb``).
    apply_savings : bool, optional
        Also switch off the context image, then err, until the bound fits.

    Returns
    -------
    jwst_memest.estimate_records.AssociationEstimate or None
        The estimate redone for the switched pipeline, or None when nothing changed.
    """
    over = [p for p in result.products if p.upper_bound_gb > limit_gb]
    if not over:
        return None
    worst = max(over, key=lambda p: p.upper_bound_gb)
    message = f"upper bound {worst.upper_bound_gb:.2f} GB of {worst.product} exceeds memory_limit {limit_gb:.2f} GB"
    # only the pipeline itself, before it loads anything, can still change how it loads
    can_switch = getattr(host, "class_alias", None) == class_alias("image3") and hasattr(host, "in_memory")
    if not can_switch:
        log.warning("%s; %s has no in_memory switch: the run may run out of memory",
                    message, getattr(host, "class_alias", "the pipeline"))
        for p in result.products:
            p.warnings.append(f"{message}; the pipeline has no in_memory switch")
        return None
    current = RunSettings.from_pipeline(host)
    target = dataclasses.replace(current, in_memory=False)
    if not host.in_memory and not apply_savings:
        for p in over:
            p.warnings.append(f"{message}, already with in_memory=False")
        log.warning("%s, already with in_memory=False", message)
        return None
    if apply_savings:
        target = _fitting_saving(worst, target, limit_gb, result.pipeline, options)
    changed = target.apply_to(host, current)
    if not changed:
        for p in over:
            p.warnings.append(f"{message}, and no memory-saving setting fits it")
        log.warning("%s, and no memory-saving setting fits it", message)
        return None
    what = ", ".join(changed)
    log.warning("%s: switched %s to %s before loading any data", message, host.class_alias, what)
    from jwst_memest.estimation import estimate_features

    switched = [
        (p.product, dataclasses.replace(p.features, values=dict(p.features.values, in_memory=target.in_memory),
                                        warnings=list(p.warnings), settings=target))
        for p in result.products
    ]
    note = f"{message}: pipeline switched to {what}"
    redone = estimate_features(
        switched, result.pipeline, extra_warnings={p.product: [note] for p in result.products},
        **{k: v for k, v in options.items() if k != "in_memory"},
    )
    for p in redone:
        if p.upper_bound_gb > limit_gb:  # logged with the product's other warnings
            p.warnings.append(f"upper bound {p.upper_bound_gb:.2f} GB with {what} still exceeds "
                              f"memory_limit {limit_gb:.2f} GB: the run may run out of memory")
    return AssociationEstimate(path=result.path, pipeline=result.pipeline, raw=result.raw, products=redone,
                               failures=result.failures)


def _fitting_saving(estimate, on_disk: RunSettings, limit_gb: float, pipeline: str, options: dict) -> RunSettings:
    """On disk; then, while the bound exceeds the limit, each of the estimate's memory-saving
    alternatives (``estimation.MEMORY_SAVINGS``) on top of it until one fits (the last one when
    none does)."""
    from jwst_memest.estimation import MEMORY_SAVINGS, estimate_features

    trial = on_disk
    for change in ({}, *(change for change, _ in MEMORY_SAVINGS)):
        trial = dataclasses.replace(on_disk, **change)
        features = dataclasses.replace(estimate.features, settings=trial,
                                       values=dict(estimate.features.values, in_memory=trial.in_memory))
        [redone] = estimate_features([(estimate.product, features)], pipeline,
                                     **{k: v for k, v in options.items() if k != "in_memory"})
        if redone.upper_bound_gb <= limit_gb:
            break
    return trial
