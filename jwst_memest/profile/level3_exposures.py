"""Synthetic full-size per-integration members (calints) of calwebb_coron3, calwebb_ami3 and calwebb_tso3.

Each pipeline's members and offline arguments are written by its own module (``coron3_writers``,
``ami3_writers``, ``tso3_writers``) on the common calints of ``calints``. Members are written as
``ExposureLayout.pointings()`` (science) followed by ``psf_exposures`` PSF references with IS_PSF;
the same layout written header-only (``exposures.write_header_exposures``) gives the same
features. docs/corpus.md says which steps run and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.exposures import AMI_EXP_TYPES, CORON_EXP_TYPES, ExposureLayout, level3_pipeline_of
from jwst_memest.profile import ami3_writers, coron3_writers, tso3_writers
from jwst_memest.profile.synthetic import save_model

__all__ = ["write_level3_exposures", "level3_arguments"]

_PIPELINES = {"coron3": coron3_writers, "ami3": ami3_writers, "tso3": tso3_writers}


def _writers(layout: ExposureLayout):
    if layout.exp_type in CORON_EXP_TYPES:
        return coron3_writers
    if layout.exp_type in AMI_EXP_TYPES:
        return ami3_writers
    if level3_pipeline_of(layout) == "tso3":
        return tso3_writers
    raise ValueError(f"no synthetic calints writer for exposure type {layout.exp_type}")


def write_level3_exposures(layout: ExposureLayout, directory: str | Path, rng: np.random.Generator) -> list[Path]:
    """Every member of a coron3, ami3 or tso3 layout as a full-size calints file: science then PSF references.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    directory : str or pathlib.Path
        Where to write them.
    rng : numpy.random.Generator
        The random numbers of the synthetic data.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers = _writers(layout)
    context = writers.prepare(layout, directory)
    pointings = layout.pointings()
    n_exposures = len(pointings) + layout.psf_exposures
    members = [(offset, False) for offset in pointings] + [((0.0, 0.0), True)] * layout.psf_exposures
    paths = []
    for number, (offset, is_psf) in enumerate(members, start=1):
        for detector in layout.detectors:
            model = writers.member_model(layout, detector, number, n_exposures, offset, is_psf, rng, **context)
            paths.append(save_model(model, directory))
    return paths


def level3_arguments(layout: ExposureLayout, references_dir: Path) -> list[str]:
    """Pipeline arguments that let coron3, ami3 or tso3 run offline with every step real data runs.

    Reference files no CRDS can give here are synthetic step overrides: align_refs' PSFMASK,
    ami_analyze's NRM and THROUGHPUT, tso_photometry's GAIN (which calwebb_tso3 prefetches for
    spectroscopic runs too). extract_1d of spectroscopic TSO uses its default aperture (every
    reference N/A) without aperture correction, except for NIRISS SOSS.

    Parameters
    ----------
    layout : jwst_memest.exposures.ExposureLayout
        The layout.
    references_dir : pathlib.Path
        Where the synthetic reference files are written.

    Returns
    -------
    list of str
        The ``strun`` arguments.
    """
    references_dir.mkdir(parents=True, exist_ok=True)
    pipeline = level3_pipeline_of(layout)
    if pipeline not in _PIPELINES:
        raise ValueError(f"no synthetic calints writer for calwebb_{pipeline}")
    return _PIPELINES[pipeline].pipeline_arguments(layout, references_dir)
