"""What every synthetic reference file says of itself: its type, instrument, author, pedigree and USEAFTER."""

__all__ = ["set_reference_meta"]


def set_reference_meta(model, reftype: str, instrument: str, description: str) -> None:
    """Mark ``model`` as a synthetic reference of ``reftype`` for ``instrument``, usable from 2020 on.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ReferenceFileModel
        The reference.
    reftype : str
        Its REFTYPE.
    instrument : str
        Its instrument.
    description : str
        Its DESCRIP.
    """
    model.meta.instrument.name = instrument
    model.meta.reftype = reftype
    model.meta.author = model.meta.pedigree = "jwst_memest synthetic"
    model.meta.useafter = "2020-01-01T00:00:00"
    model.meta.description = description
