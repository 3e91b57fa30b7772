"""The one x1d and one c1d file calwebb_spec3 writes for a WFSS product, counted from its members' cutouts.

jwst 3.0's calwebb_spec3 keeps every source's extracted and combined spectra through its per-source
loop and, after it, copies them into the product's two tables (`make_wfss_multiexposure`,
`make_wfss_multicombined`), which it then writes:

- x1d: one table per exposure and spectral order, one row per source of the whole product, each
  row as long as that exposure's longest spectrum of that order (shorter ones padded with NaN);
  the detectors of one exposure share its tables;
- c1d: one table per order, the same rows, as long as the longest spectrum of that order.

A spectrum has as many elements as its cutout has pixels along the dispersion axis; an x1d element
holds the 17 float64 and one uint32 vector columns of ``WFSSSpecModel``'s table (140 bytes), a c1d
element the 7 float64 and one uint32 of ``WFSSCombinedSpecModel``'s (60 bytes); each row also
holds its source's scalar columns (76 and 44 bytes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["X1D_BYTES_PER_ELEMENT", "C1D_BYTES_PER_ELEMENT", "X1D_ROW_BYTES", "C1D_ROW_BYTES",
           "EXPANDED_SPECTRUM_BYTES", "EXPANSION_BYTES", "RESIDENT_PER_TRACED", "WfssTables", "wfss_tables",
           "wfss_products_bytes", "uniform_slit_spectra"]

X1D_BYTES_PER_ELEMENT = 17 * 8 + 4
C1D_BYTES_PER_ELEMENT = 7 * 8 + 4
# SOURCE_ID, N_ALONGDISP, SOURCE_TYPE (S20), four float64 positions, four uint32 cutout corners
X1D_ROW_BYTES = 4 + 4 + 20 + 4 * 8 + 4 * 4
# SOURCE_ID, N_ALONGDISP, SOURCE_TYPE, SOURCE_RA, SOURCE_DEC
C1D_ROW_BYTES = 4 + 4 + 20 + 2 * 8


# Traced with tracemalloc after the per-source loop (NIRCam, 50 sources: 3 synthetic members of one
# order, 3 members of two orders with the operational WCS; docs/corpus.md): while the x1d tables are
# built, every kept spectrum is expanded back into a SpecModel of its own (its elements at 140 bytes,
# and about 183 kB of model, schema nodes and spectral WCS each), plus 14.6 MB once; writing the x1d
# then copies its tables. Resident memory rose 1.09-1.1x the traced peak (untraced runs).
EXPANDED_SPECTRUM_BYTES = 183e3
EXPANSION_BYTES = 14.6e6
RESIDENT_PER_TRACED = 1.1


@dataclass(frozen=True)
class WfssTables:
    """The x1d and c1d tables of one WFSS product and the spectra they are built from.

    Parameters
    ----------
    x1d_bytes, c1d_bytes : float
        Bytes of the x1d tables (one per exposure and order) and the c1d tables (one per order).
    spectra : int
        Extracted spectra (a source's cutout in one exposure and order).
    spectrum_bytes : float
        Those spectra's own bytes (their elements at 140 bytes each).
    """

    x1d_bytes: float
    c1d_bytes: float
    spectra: int
    spectrum_bytes: float

    @property
    def table_bytes(self) -> float:
        """Bytes of both tables."""
        return self.x1d_bytes + self.c1d_bytes

    @property
    def final_bytes(self) -> float:
        """Resident bytes calwebb_spec3 adds after its per-source loop: expanding the spectra beside the
        x1d tables, or writing the x1d (a copy of its tables) with the c1d tables, whichever is more."""
        if not self.spectra:
            return 0.0
        expanded = self.spectrum_bytes + EXPANDED_SPECTRUM_BYTES * self.spectra + EXPANSION_BYTES
        return RESIDENT_PER_TRACED * max(expanded + self.x1d_bytes, 2 * self.x1d_bytes + 2 * self.c1d_bytes)


def wfss_tables(members: Sequence[tuple[str, Iterable[tuple[int, int, int]]]]) -> WfssTables:
    """The x1d and c1d tables of one WFSS product.

    jwst files each spectrum under its exposure's group (``group_id``: program, observation, visit,
    visit group, sequence, activity and exposure, not the detector), so members taken at the same time
    by two detectors share one table of each order, and a source seen by both gives it one spectrum.

    Parameters
    ----------
    members : sequence of (str, iterable of (int, int, int))
        Per member, its exposure group (``ExposureMetadata.exposure_id``) and its cutouts' spectral
        order, source id and pixels along the dispersion axis (``ExposureMetadata.slit_spectra``).

    Returns
    -------
    WfssTables
        Their bytes (0 when no member lists its cutouts).
    """
    spectra: dict[tuple[str, int, int], int] = {}
    for group, cutouts in members:
        for order, source, elements in cutouts:
            key = (group, order, source)
            spectra[key] = max(spectra.get(key, 0), elements)
    sources = {source for _, _, source in spectra}
    table_rows: dict[tuple[str, int], int] = defaultdict(int)
    product_rows: dict[int, int] = defaultdict(int)
    for (group, order, _), elements in spectra.items():
        table_rows[group, order] = max(table_rows[group, order], elements)
        product_rows[order] = max(product_rows[order], elements)
    x1d = sum(length * X1D_BYTES_PER_ELEMENT + X1D_ROW_BYTES for length in table_rows.values())
    c1d = sum(length * C1D_BYTES_PER_ELEMENT + C1D_ROW_BYTES for length in product_rows.values())
    return WfssTables(float(len(sources) * x1d), float(len(sources) * c1d), len(spectra),
                      float(sum(spectra.values()) * X1D_BYTES_PER_ELEMENT))


def wfss_products_bytes(members: Sequence[tuple[str, Iterable[tuple[int, int, int]]]]) -> float:
    """Resident bytes calwebb_spec3 adds after its per-source loop to build and write a WFSS product's
    x1d and c1d (`WfssTables.final_bytes`).

    Parameters
    ----------
    members : sequence of (str, iterable of (int, int, int))
        Per member, its exposure group and its cutouts (`wfss_tables`).

    Returns
    -------
    float
        Bytes.
    """
    return wfss_tables(members).final_bytes


def uniform_slit_spectra(n_sources: int, elements: int, order: int = 1) -> tuple[tuple[int, int, int], ...]:
    """The cutouts of a member whose sources all have one spectrum of the same length (a synthetic
    corpus member).

    Parameters
    ----------
    n_sources : int
        Its sources, numbered from 1.
    elements : int
        Pixels along the dispersion axis of each.
    order : int, optional
        Their spectral order.

    Returns
    -------
    tuple of (int, int, int)
        As ``ExposureMetadata.slit_spectra``.
    """
    return tuple((order, source, int(elements)) for source in range(1, int(n_sources) + 1))
