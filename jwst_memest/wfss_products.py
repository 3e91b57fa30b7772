"""The one x1d and one c1d file calwebb_spec3 writes for a WFSS product, counted from its members' cutouts.

jwst 3.0's calwebb_spec3 keeps every source's extracted and combined spectra through its per-source
loop and, after it, copies them into the product's two tables (`make_wfss_multiexposure`,
`make_wfss_multicombined`), which it then writes:

- x1d: one table per exposure and spectral order, one row per source of the whole product, each
  row as long as that exposure's longest spectrum of that order (shorter ones padded with NaN);
- c1d: one table per order, the same rows, as long as the longest spectrum of that order.

A spectrum has as many elements as its cutout has pixels along the dispersion axis; an x1d element
holds the 17 float64 and one uint32 vector columns of ``WFSSSpecModel``'s table (140 bytes), a c1d
element the 7 float64 and one uint32 of ``WFSSCombinedSpecModel``'s (60 bytes); each row also
holds its source's scalar columns (76 and 44 bytes).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Sequence

__all__ = ["X1D_BYTES_PER_ELEMENT", "C1D_BYTES_PER_ELEMENT", "X1D_ROW_BYTES", "C1D_ROW_BYTES", "wfss_table_bytes",
           "uniform_slit_spectra"]

X1D_BYTES_PER_ELEMENT = 17 * 8 + 4
C1D_BYTES_PER_ELEMENT = 7 * 8 + 4
# SOURCE_ID, N_ALONGDISP, SOURCE_TYPE (S20), four float64 positions, four uint32 cutout corners
X1D_ROW_BYTES = 4 + 4 + 20 + 4 * 8 + 4 * 4
# SOURCE_ID, N_ALONGDISP, SOURCE_TYPE, SOURCE_RA, SOURCE_DEC
C1D_ROW_BYTES = 4 + 4 + 20 + 2 * 8


def wfss_table_bytes(members_spectra: Sequence[Iterable[tuple[int, int, int]]]) -> float:
    """Bytes of the x1d and c1d tables of one WFSS product.

    Parameters
    ----------
    members_spectra : sequence of iterables of (int, int, int)
        Per member (one exposure each), its cutouts' spectral order, source id and pixels along
        the dispersion axis (``ExposureMetadata.slit_spectra``).

    Returns
    -------
    float
        Bytes of both tables; 0 when no member lists its cutouts.
    """
    sources: set[int] = set()
    exposure_rows: list[dict[int, int]] = []
    product_rows: dict[int, int] = defaultdict(int)
    for spectra in members_spectra:
        longest: dict[int, int] = defaultdict(int)
        for order, source, elements in spectra:
            sources.add(source)
            longest[order] = max(longest[order], elements)
            product_rows[order] = max(product_rows[order], elements)
        exposure_rows.append(longest)
    x1d = sum(length * X1D_BYTES_PER_ELEMENT + X1D_ROW_BYTES for longest in exposure_rows for length in longest.values())
    c1d = sum(length * C1D_BYTES_PER_ELEMENT + C1D_ROW_BYTES for length in product_rows.values())
    return float(len(sources) * (x1d + c1d))


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
