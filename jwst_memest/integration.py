"""stpipe entry point: the steps this package provides."""

__all__ = ["get_steps"]


def get_steps():
    """Steps registered with stpipe's ``stpipe.steps`` entry point.

    Returns
    -------
    list of tuple (str, str, bool)
        Fully qualified class name, class alias, and whether it is a pipeline.
    """
    return [("jwst_memest.step.MemoryEstimateStep", "memory_estimate", False)]
