"""Where wfss_contam's traces land: each catalog source's share of every simulated order on the detector.

wfss_contam maps every segment pixel of a chunk through the grism WCS at every wavelength sample
of an order, then clips the samples to the detector's pixels; the clipped arrays (about four
pixels a sample, 58 B each) are its largest where most of the trace lands. How much lands is set
by the trace geometry of the SPECWCS reference and by where each source sits: NIRISS's orders 2
and 3 start hundreds of pixels from their source and fall off the detector for sources near its
edge. With the references the pipeline will use, the share is computed here through jwst's own
grism WCS (``jwst.assign_wcs``), at each source's centroid; without them the count takes every
trace as landing as far as the detector allows (an upper count, and the estimate says so).

jwst chunks the pixels in the order of their source's label (``Observation.chunk_sources``), so
the sources are kept in label order and `ContamGeometry.chunk_landing` chunks them the same way.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ContamGeometry", "WFSS_REFERENCE_TYPES", "contam_geometry", "exposure_contam_geometry", "grism_wcs",
           "header_model"]

log = logging.getLogger(__name__)

# the references jwst's WFSS assign_wcs reads, and the one wfss_contam takes its wavelengths from
WFSS_REFERENCE_TYPES = ("distortion", "filteroffset", "specwcs", "wavelengthrange")
# wavelengths a trace's landing is evaluated at: its share is known to a percent
LANDING_SAMPLES = 101


@dataclass(frozen=True)
class ContamGeometry:
    """The share of every simulated order's trace on the detector, per catalog source.

    Parameters
    ----------
    orders : tuple of int
        The orders wfss_contam simulates.
    pixels : tuple of float
        Each source's segment pixels, in the order of their labels.
    landing : tuple of tuple of float
        Per source (same order), per order: the share of its trace's samples on the detector.
    source : str
        The references the shares come from (one line for the annotation).
    """

    orders: tuple[int, ...]
    pixels: tuple[float, ...]
    landing: tuple[tuple[float, ...], ...]
    source: str = ""

    def chunk_landing(self, max_pixels: float) -> list[tuple[float, dict[int, float]]]:
        """wfss_contam's chunks: their segment pixels and each order's share landing, pixel-weighted.

        Parameters
        ----------
        max_pixels : float
            ``max_pixels_per_chunk``.

        Returns
        -------
        list of (float, dict of int to float)
            Per chunk, in jwst's order.
        """
        pixels = np.asarray(self.pixels, float)
        if pixels.size == 0 or pixels.sum() <= 0:
            return []
        landing = np.asarray(self.landing, float).reshape(pixels.size, len(self.orders))
        edges = np.concatenate([[0.0], np.cumsum(pixels)])
        size = max(float(int(max_pixels)), 1.0)
        chunks = []
        for start in np.arange(0.0, edges[-1], size):
            stop = min(start + size, edges[-1])
            # each source's pixels inside [start, stop)
            inside = np.clip(np.minimum(edges[1:], stop) - np.maximum(edges[:-1], start), 0.0, None)
            shares = inside @ landing / (stop - start)
            chunks.append((stop - start, dict(zip(self.orders, shares.tolist()))))
        return chunks

    def to_json(self) -> str:
        """The geometry as one CSV cell.

        Returns
        -------
        str
            JSON of the orders, each source's pixels and shares, and the references' line.
        """
        return json.dumps({"orders": list(self.orders), "pixels": [round(p, 3) for p in self.pixels],
                           "landing": [[round(f, 4) for f in row] for row in self.landing], "source": self.source})

    @classmethod
    def from_json(cls, text) -> ContamGeometry | None:
        """The geometry of a CSV cell; None for an empty one.

        Parameters
        ----------
        text : str or None
            `to_json`'s text.

        Returns
        -------
        ContamGeometry or None
            The geometry.
        """
        if not isinstance(text, str) or not text.strip():
            return None
        data = json.loads(text)
        return cls(tuple(int(o) for o in data["orders"]), tuple(float(p) for p in data["pixels"]),
                   tuple(tuple(float(f) for f in row) for row in data["landing"]), str(data.get("source", "")))


def header_model(path: str | Path):
    """The exposure's datamodel built from its primary and SCI headers, with an untouched SCI array.

    jwst's WFSS WCS needs the datamodel's metadata and the frame's shape; the zeros stand for the
    data, which is never read (their pages are not touched, so they cost no memory).

    Parameters
    ----------
    path : str or pathlib.Path
        The rate file.

    Returns
    -------
    stdatamodels.jwst.datamodels.ImageModel
        The model.
    """
    from astropy.io import fits
    from stdatamodels.jwst import datamodels

    with fits.open(path, memmap=True) as hdus:
        primary, sci = hdus[0].header.copy(), hdus["SCI"].header.copy()
    shape = (int(sci["NAXIS2"]), int(sci["NAXIS1"]))
    for keyword in ("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT"):
        sci.remove(keyword, ignore_missing=True)
    frame = fits.ImageHDU(data=np.zeros(shape, np.float32), header=sci, name="SCI")
    return datamodels.ImageModel(fits.HDUList([fits.PrimaryHDU(header=primary), frame]))


def grism_wcs(model, references: dict):
    """jwst's grism WCS of a WFSS exposure, from the references assign_wcs would read.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ImageModel
        The exposure (`header_model`).
    references : dict of str to str
        reftype -> file, for `WFSS_REFERENCE_TYPES` (``filteroffset`` may be ``N/A``).

    Returns
    -------
    gwcs.wcs.WCS
        The WCS (world -> detector -> grism_detector).
    """
    from gwcs.wcs import WCS
    from jwst.assign_wcs import nircam, niriss

    module = niriss if (model.meta.exposure.type or "").upper() == "NIS_WFSS" else nircam
    files = {k: (None if str(v).upper() == "N/A" else str(v)) for k, v in references.items()}
    return WCS(module.wfss(model, files))


def contam_geometry(model, references: dict, labels, ra, dec, pixels, blocking: str) -> ContamGeometry:
    """Each catalog source's share of every simulated order landing on the detector.

    A source's trace is evaluated at its centroid at `LANDING_SAMPLES` wavelengths across each
    order's range (the WAVELENGTHRANGE reference's, for the blocking filter), through jwst's grism
    WCS: the share is the fraction of them inside the frame.

    Parameters
    ----------
    model : stdatamodels.jwst.datamodels.ImageModel
        The exposure (`header_model`).
    references : dict of str to str
        reftype -> file for `WFSS_REFERENCE_TYPES`.
    labels : array_like of int
        The sources' labels (the segmentation map's values).
    ra, dec : array_like of float
        The sources' centroids, degrees.
    pixels : array_like of float
        The sources' segment pixels.
    blocking : str
        The blocking filter (NIRCam's FILTER, NIRISS's PUPIL).

    Returns
    -------
    ContamGeometry
        The shares, the sources in label order.
    """
    from stdatamodels.jwst.datamodels import WavelengthrangeModel

    wcs = grism_wcs(model, references)
    with WavelengthrangeModel(str(references["wavelengthrange"])) as ranges:
        orders = tuple(int(o) for o in ranges.order)
        limits = ranges.get_wfss_wavelength_range(blocking, list(orders))
    order_of = np.argsort(np.asarray(labels), kind="stable")
    ra, dec = np.asarray(ra, float)[order_of], np.asarray(dec, float)[order_of]
    ny, nx = model.data.shape
    sky_to_detector = wcs.get_transform("world", "detector")
    detector_to_grism = wcs.get_transform("detector", "grism_detector")
    shares = np.zeros((ra.size, len(orders)))
    for column, order in enumerate(orders):
        low, high = limits[order]
        x0, y0 = sky_to_detector(ra, dec, 0.5 * (low + high), order)[:2]
        waves = np.linspace(low, high, LANDING_SAMPLES)[:, None]
        shape = (LANDING_SAMPLES, ra.size)
        x, y = detector_to_grism(np.broadcast_to(x0, shape), np.broadcast_to(y0, shape),
                                 np.broadcast_to(waves, shape), np.full(shape, order))[:2]
        on = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
        # a source without a position (a masked centroid) is taken as landing whole: never short
        shares[:, column] = np.where(np.isfinite(x0) & np.isfinite(y0), on.mean(axis=0), 1.0)
    names = ", ".join(Path(str(references[k])).name for k in ("specwcs", "distortion"))
    return ContamGeometry(orders, tuple(np.asarray(pixels, float)[order_of].tolist()),
                          tuple(tuple(row) for row in shares.tolist()), f"traces through {names}")


def exposure_contam_geometry(meta, references: dict | None = None, search_path=(),
                             catalog: str | Path | None = None) -> tuple[ContamGeometry | None, str]:
    """A WFSS exposure's trace geometry, from the references given or those a local CRDS cache selects.

    Parameters
    ----------
    meta : jwst_memest.metadata.ExposureMetadata
        The exposure's header (its file is read for the WCS keywords).
    references : dict of str to str or None, optional
        reftype -> file for `WFSS_REFERENCE_TYPES` (None: CRDS's selection from its local cache).
    search_path : sequence of str or pathlib.Path, optional
        More folders to look for the catalog in.
    catalog : str or pathlib.Path or None, optional
        The catalog an association names, instead of SCATFILE's.

    Returns
    -------
    tuple of (ContamGeometry or None, str)
        The geometry, or None and one line saying why it is not known.
    """
    from jwst_memest.dark_reference import cached_references
    from jwst_memest.spec2_layout import wfss_blocking_filter, wfss_catalog_sources

    path = Path(str(meta.path))
    if not path.is_file():
        return None, "no exposure file to read the pointing from"
    if references is None:
        found = cached_references(path, WFSS_REFERENCE_TYPES, optional=("filteroffset",))
        if found is None:
            return None, "no CRDS cache holds the grism references"
        if isinstance(found, str):
            return None, found
        references = {k: found[k] for k in WFSS_REFERENCE_TYPES}
    try:
        labels, ra, dec, pixels = wfss_catalog_sources(meta, search_path, catalog)
        blocking = wfss_blocking_filter((meta.exp_type or "").upper(), meta.filter, meta.pupil)
        geometry = contam_geometry(header_model(path), references, labels, ra, dec, pixels, blocking)
    # a reference or header jwst's WCS cannot use: the count goes on without the geometry, and says so
    except Exception as exc:  # noqa: BLE001
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.debug("%s: trace geometry not computed: %s", path.name, reason)
        return None, f"the grism WCS could not be built ({reason[:120]})"
    return geometry, geometry.source
