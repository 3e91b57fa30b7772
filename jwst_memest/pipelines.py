"""The Level-3 pipelines the estimator knows, and how every other module names them.

Imports nothing from the package, so that any module may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "Level3Pipeline",
    "PIPELINES",
    "LEVEL3_PIPELINES",
    "MEMBER_EXPTYPES",
    "EXP_MODE_FEATURE_SET",
    "EXP_MODE_PIPELINES",
    "normalize",
    "class_alias",
    "feature_set_for",
    "exp_mode_for",
    "pipeline_for_exposure",
    "CORON_EXP_TYPES",
    "AMI_EXP_TYPES",
    "TSO_EXP_TYPES",
    "IMAGE_EXP_TYPES",
]

CLASS_ALIAS_PREFIX = "calwebb_"


@dataclass(frozen=True)
class Level3Pipeline:
    """A Level-3 pipeline the estimator knows.

    Parameters
    ----------
    key : str
        Its key (``image3``, ``spec3``, ``coron3``, ``ami3``, ``tso3``).
    feature_set : str
        The pipeline whose features describe this one's products.
    member_exptypes : tuple of str
        The association members the pipeline loads into memory.
    per_integration : bool
        Whether it works on calints members, one image per integration.
    """
    key: str
    feature_set: str  # the pipeline whose features describe this one's products
    member_exptypes: tuple[str, ...]  # association members the pipeline loads into memory
    per_integration: bool  # works on calints members, one image per integration

    @property
    def class_alias(self) -> str:
        """The pipeline's stpipe class alias.

        Returns
        -------
        str
            Such as ``calwebb_image3``.
        """
        return CLASS_ALIAS_PREFIX + self.key


PIPELINES = MappingProxyType({
    p.key: p
    for p in (
        Level3Pipeline("image3", "image3", ("science",), per_integration=False),
        Level3Pipeline("spec3", "spec3", ("science", "background", "imprint"), per_integration=False),
        Level3Pipeline("coron3", "image3", ("science", "psf"), per_integration=True),
        Level3Pipeline("ami3", "image3", ("science", "psf"), per_integration=True),
        Level3Pipeline("tso3", "spec3", ("science",), per_integration=True),
    )
})

# Pipeline key -> feature set.
LEVEL3_PIPELINES = MappingProxyType({key: p.feature_set for key, p in PIPELINES.items()})
MEMBER_EXPTYPES = MappingProxyType({key: p.member_exptypes for key, p in PIPELINES.items()})

# The exposure modes of the training tables (train-image.csv, train-spec.csv) and of folder mode,
# each covering the pipelines one feature set describes.
EXP_MODE_FEATURE_SET = MappingProxyType({"image": "image3", "spec": "spec3"})
EXP_MODE_PIPELINES = MappingProxyType({
    mode: tuple(key for key, p in PIPELINES.items() if p.feature_set == feature_set)
    for mode, feature_set in EXP_MODE_FEATURE_SET.items()
})


def normalize(name: str) -> str:
    """The pipeline key of ``calwebb_spec3``, ``Spec3`` or ``spec3``.

    Parameters
    ----------
    name : str
        A pipeline's key or class alias, in any case.

    Returns
    -------
    str
        Its key.

    Raises
    ------
    ValueError
        When ``name`` is not a Level-3 pipeline.
    """
    key = str(name).lower().removeprefix(CLASS_ALIAS_PREFIX)
    if key not in PIPELINES:
        raise ValueError(f"unknown Level-3 pipeline {name!r}; expected one of {', '.join(PIPELINES)}")
    return key


def class_alias(name: str) -> str:
    """The pipeline's stpipe class alias (``calwebb_image3``).

    Parameters
    ----------
    name : str
        A pipeline's key or class alias.

    Returns
    -------
    str
        Its class alias.

    Raises
    ------
    ValueError
        When ``name`` is not a Level-3 pipeline.
    """
    return PIPELINES[normalize(name)].class_alias


def feature_set_for(name: str) -> str:
    """The feature set describing a pipeline's products (coron3 and ami3: image3; tso3: spec3).

    Parameters
    ----------
    name : str
        A pipeline's key or class alias.

    Returns
    -------
    str
        ``image3`` or ``spec3``.

    Raises
    ------
    ValueError
        When ``name`` is not a Level-3 pipeline.
    """
    return PIPELINES[normalize(name)].feature_set


def exp_mode_for(name: str) -> str:
    """The training exposure mode whose tables describe a pipeline's products.

    Parameters
    ----------
    name : str
        A pipeline's key or class alias.

    Returns
    -------
    str
        ``image`` or ``spec``.

    Raises
    ------
    ValueError
        When ``name`` is not a Level-3 pipeline.
    """
    feature_set = feature_set_for(name)
    return next(mode for mode, features in EXP_MODE_FEATURE_SET.items() if features == feature_set)


# The Level-3 pipeline of each exposure type, as jwst's Level-3 rules assign them: the one map every
# module uses (folder mode, the exposure writers, the corpus, ingest).
CORON_EXP_TYPES = ("NRC_CORON", "MIR_4QPM", "MIR_LYOT")
AMI_EXP_TYPES = ("NIS_AMI",)
TSO_EXP_TYPES = ("NRC_TSIMAGE", "NRC_TSGRISM", "NIS_SOSS", "NRS_BRIGHTOBJ", "MIR_LRS-SLITLESS")
IMAGE_EXP_TYPES = ("NRC_IMAGE", "MIR_IMAGE", "NIS_IMAGE", "FGS_IMAGE")


def pipeline_for_exposure(exp_type: str | None, tso_visit: bool = False) -> str:
    """The Level-3 pipeline key that processes an exposure of this type (a TSO visit's MIRI imaging: tso3).

    Parameters
    ----------
    exp_type : str or None
        EXP_TYPE.
    tso_visit : bool, optional
        Whether the exposure is of a TSO visit (TSOVISIT).

    Returns
    -------
    str
        ``coron3``, ``ami3``, ``tso3``, ``image3`` or (any other type) ``spec3``.
    """
    exp_type = (exp_type or "").strip().upper()
    if exp_type in CORON_EXP_TYPES:
        return "coron3"
    if exp_type in AMI_EXP_TYPES:
        return "ami3"
    if exp_type in TSO_EXP_TYPES or tso_visit:
        return "tso3"
    return "image3" if exp_type in IMAGE_EXP_TYPES else "spec3"
