"""jwst_memest: peak memory of JWST Level-3 pipelines, per association product, before they run.

``MemoryEstimateStep`` (an stpipe step), ``estimate()`` for Python callers and
``JwstCalPredict`` (folder mode) are imported lazily so that importing the
package stays cheap.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("jwst_memest")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = ["MemoryEstimateStep", "estimate", "JwstCalPredict", "__version__"]


def estimate(asn_path, **options):
    """Estimate every product of a Level-3 association that has a readable member.

    Returns a list of ProductEstimate whose ``failures`` maps each other product to why.
    """
    from jwst_memest.estimation import ProductEstimates, estimate_association

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
