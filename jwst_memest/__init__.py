"""jwst_memest: peak memory of JWST Level-3 pipelines, per association product, before they run.

``MemoryEstimateStep`` (an stpipe step), ``estimate()`` for Python callers and
``JwstCalPredict`` (folder mode) are imported lazily so that importing the
package stays cheap.
"""

from jwst_memest._version import __version__

__all__ = ["MemoryEstimateStep", "estimate", "JwstCalPredict", "__version__"]


def estimate(asn_path, **options):
    """Estimate every product of a Level-3 association that has a readable member.

    Parameters
    ----------
    asn_path : str or pathlib.Path
        The Level-3 association file (``*_asn.json``).
    **options
        Passed to `jwst_memest.estimation.estimate_association`: ``search_path``,
        ``in_memory``, ``settings`` (a `~jwst_memest.settings.RunSettings`), ``estimator``,
        ``model_path``, ``quantile`` and ``max_request_gb``.

    Returns
    -------
    jwst_memest.estimate_records.ProductEstimates
        One `~jwst_memest.estimate_records.ProductEstimate` per estimated product; its ``failures``
        maps each product that could not be estimated to why.

    Raises
    ------
    jwst_memest.association.AssociationError
        When the association cannot be read or no product has a readable member.
    """
    from jwst_memest.estimate_records import ProductEstimates
    from jwst_memest.estimation import estimate_association

    result = estimate_association(asn_path, **options)
    return ProductEstimates(result.products, result.failures)


def __getattr__(name):
    if name == "MemoryEstimateStep":
        from jwst_memest.step import MemoryEstimateStep

        return MemoryEstimateStep
    if name == "JwstCalPredict":
        from jwst_memest.predict import JwstCalPredict

        return JwstCalPredict
    raise AttributeError(f"module 'jwst_memest' has no attribute {name!r}")
