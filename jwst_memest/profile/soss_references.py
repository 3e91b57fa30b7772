"""Synthetic NIRISS SOSS reference files (no CRDS here), passed as step overrides of calwebb_tso3:
extract_1d's PASTASOSS, SPECPROFILE and SPECKERNEL, photom's PHOTOM and white_light's
WAVELENGTHRANGE, with the traces, throughputs and profiles the synthetic exposures are drawn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jwst_memest.atomic import write_datamodel
from jwst_memest.profile.reference_meta import set_reference_meta

__all__ = ["write_soss_references", "write_soss_specwcs", "SOSS_ORDERS", "SOSS_SUBARRAY_ROWS", "SOSS_COLUMNS", "SOSS_PWCPOS",
           "soss_trace", "soss_profile", "soss_throughput"]

# NIRISS SOSS (GR700XD + CLEAR): the three spectral orders as the synthetic references lay them out,
# in SUBSTRIP256 pixels (0-based, dispersion along x, wavelength falling as x grows, as on the detector).
# Per order: the columns the trace covers (PASTASOSS's cutoff), the wavelengths (um) at its first and last
# column, and its row at the first, middle and last column. Close to the instrument's, so that extract_1d
# models as many pixels and wavelengths as with the real references: order 1 crosses the whole
# detector, order 2 starts beside it (the overlap ATOCA decontaminates) and climbs, order 3 is short.
SOSS_ORDERS = {
    1: {"cutoff": 2048, "wavelengths": (2.84, 0.84), "rows": (86.0, 70.0, 84.0)},
    2: {"cutoff": 1783, "wavelengths": (1.42, 0.60), "rows": (104.0, 160.0, 232.0)},
    3: {"cutoff": 1134, "wavelengths": (0.95, 0.60), "rows": (150.0, 195.0, 245.0)},
}
# Rows of each subarray in SUBSTRIP256 pixels (PASTASOSS moves the traces up 10 rows for SUBSTRIP96)
SOSS_SUBARRAY_ROWS = {"SUBSTRIP256": (0, 256), "SUBSTRIP96": (10, 106)}
SOSS_COLUMNS = 2048
# Commanded pupil wheel position (deg); the exposures are written at it, so the traces are not rotated
SOSS_PWCPOS = 245.76
# Spatial profile: the defocused GR700XD trace has two horns; their offset from the trace centre and width (pixels)
_SOSS_HORN_OFFSET, _SOSS_HORN_SIGMA = 6.0, 3.0
# Spectral kernel: oversampling, half width (native pixels), core and wing widths, the wing's share
_SOSS_KERNEL_OVERSAMPLING, _SOSS_KERNEL_HALFWIDTH = 6, 7
_SOSS_KERNEL_CORE, _SOSS_KERNEL_WING, _SOSS_KERNEL_WING_SHARE = 0.85, 3.0, 0.05
_SOSS_WAVEMAP_RANGE = (0.5, 5.5, 5001)  # um: PASTASOSS's wavelength grid for the wavelength maps


def soss_trace(order: int, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row (SUBSTRIP256 pixels) and wavelength (um) of an order's trace at the given columns.

    Parameters
    ----------
    order : int
        The spectral order (1, 2 or 3).
    columns : numpy.ndarray
        Detector columns.

    Returns
    -------
    rows : numpy.ndarray
        The trace's row at each column.
    wavelength : numpy.ndarray
        Its wavelength, um.
    """
    spec = SOSS_ORDERS[order]
    u = np.asarray(columns, float) / (spec["cutoff"] - 1)
    first, middle, last = spec["rows"]
    rows = first + (4 * middle - 3 * first - last) * u + (2 * first - 4 * middle + 2 * last) * u**2
    wavelength = spec["wavelengths"][0] + (spec["wavelengths"][1] - spec["wavelengths"][0]) * u
    return rows, wavelength


def soss_throughput(order: int, wavelength: np.ndarray) -> np.ndarray:
    """GR700XD throughput of an order: a broad bump (order 1 peaks near 1.2 um, orders 2 and 3 near 0.75).

    Parameters
    ----------
    order : int
        The spectral order.
    wavelength : numpy.ndarray
        Wavelengths, um.

    Returns
    -------
    numpy.ndarray
        The throughput (at least 0.005).
    """
    peak, centre, width = {1: (0.37, 1.25, 0.7), 2: (0.12, 0.75, 0.25), 3: (0.03, 0.75, 0.15)}[order]
    return np.maximum(peak * np.exp(-0.5 * ((wavelength - centre) / width) ** 2), 0.005)


def soss_profile(order: int, subarray: str) -> np.ndarray:
    """An order's spatial profile over the subarray (rows, 2048).

    Two horns about the trace, each column summing to 1 over the full SUBSTRIP256 height (the part
    a subarray cuts off is lost), zero past the cutoff.

    Parameters
    ----------
    order : int
        The spectral order.
    subarray : str
        SUBARRAY (``SUBSTRIP256`` or ``SUBSTRIP96``).

    Returns
    -------
    numpy.ndarray
        The profile.
    """
    first, last = SOSS_SUBARRAY_ROWS[subarray]
    columns = np.arange(SOSS_ORDERS[order]["cutoff"])
    centre, _ = soss_trace(order, columns)
    rows = np.arange(-40, 296)[:, None]  # wide enough that each column's whole profile is summed
    horns = sum(np.exp(-0.5 * ((rows - centre[None, :] - side * _SOSS_HORN_OFFSET) / _SOSS_HORN_SIGMA) ** 2)
                for side in (-1, 1))
    horns /= horns.sum(axis=0, keepdims=True)
    profile = np.zeros((last - first, SOSS_COLUMNS), np.float32)
    profile[:, :columns.size] = horns[first + 40:last + 40]
    return profile


def _soss_meta(model, reftype: str, description: str, subarray: str | None = None) -> None:
    set_reference_meta(model, reftype, "NIRISS", description)
    model.meta.instrument.detector = "NIS"
    model.meta.exposure.type = "NIS_SOSS"
    if hasattr(model.meta.instrument, "filter"):
        model.meta.instrument.filter = "CLEAR"
    if subarray:
        model.meta.subarray.name = subarray


def _write_pastasoss(path: Path) -> Path:
    """PASTASOSS: per order the trace (x, y), a linear wavelength solution in x and the throughput."""
    from stdatamodels.jwst import datamodels

    model = datamodels.PastasossModel()
    wlmin, wlmax, nwl = _SOSS_WAVEMAP_RANGE
    meta = model.meta
    meta.order2_separation_cutoff = [0.77, 0.95]
    meta.pwcpos_cmd, meta.pwcpos_bounds = SOSS_PWCPOS, [SOSS_PWCPOS - 0.25, SOSS_PWCPOS + 0.25]
    meta.soss_xdim, meta.soss_ydim, meta.subarray_ymin = SOSS_COLUMNS, 300, 1792
    meta.wavemap_wlmin, meta.wavemap_wlmax, meta.wavemap_nwl = wlmin, wlmax, nwl
    traces, wavecal, throughputs = [], [], []
    grid = np.linspace(wlmin, wlmax, 501)
    for order, spec in SOSS_ORDERS.items():
        columns = np.arange(spec["cutoff"], dtype=np.float64)
        rows, _ = soss_trace(order, columns)
        middle = (spec["cutoff"] - 1) / 2
        traces.append({"spectral_order": order, "pivot_x": middle, "pivot_y": float(soss_trace(order, [middle])[0][0]),
                       "trace": np.column_stack([columns, rows]), "oversampling": 1, "cutoff": spec["cutoff"]})
        # coefficients (C00, C10, C01) of wavelength in x and the pupil wheel offset, each scaled to [0, 1]
        first, last = spec["wavelengths"]
        wavecal.append({"spectral_order": order, "polynomial_degree": 1,
                        "coefficients": np.array([first, last - first, 0.0]),
                        "coefficient_labels": "c00, c10, c01",
                        "scale_extents": np.array([[0.0, -0.25], [spec["cutoff"] - 1.0, 0.25]])})
        throughputs.append({"spectral_order": order, "wavelength": grid, "throughput": soss_throughput(order, grid)})
    model.traces, model.wavecal_models, model.throughputs = traces, wavecal, throughputs
    _soss_meta(model, "pastasoss", "synthetic SOSS trace positions and wavelengths for offline profiling")
    write_datamodel(model, path)
    return path


def _write_specprofile(path: Path, subarray: str) -> Path:
    """SPECPROFILE: one spatial profile per order over the subarray (no padding, no oversampling)."""
    from stdatamodels.jwst import datamodels

    model = datamodels.SpecProfileModel()
    for order in SOSS_ORDERS:
        single = datamodels.SpecProfileSingleModel(data=soss_profile(order, subarray))
        single.order, single.oversampling, single.padding = order, 1, 0
        model.profile.append(single)
    _soss_meta(model, "specprofile", "synthetic SOSS spatial profiles for offline profiling", subarray)
    write_datamodel(model, path)
    return path


def _write_speckernel(path: Path) -> Path:
    """SPECKERNEL: the spectral resolution kernel, a core and broad wings over +-7 pixels, every 0.025 um."""
    from stdatamodels.jwst import datamodels

    oversampling, halfwidth = _SOSS_KERNEL_OVERSAMPLING, _SOSS_KERNEL_HALFWIDTH
    pixels = np.linspace(-halfwidth, halfwidth, oversampling * (2 * halfwidth + 1) - (oversampling - 1))
    wavelengths = np.arange(_SOSS_WAVEMAP_RANGE[0], _SOSS_WAVEMAP_RANGE[1] + 1e-6, 0.025)
    share = _SOSS_KERNEL_WING_SHARE
    shape = ((1 - share) * np.exp(-0.5 * (pixels / _SOSS_KERNEL_CORE) ** 2) / _SOSS_KERNEL_CORE
             + share * np.exp(-0.5 * (pixels / _SOSS_KERNEL_WING) ** 2) / _SOSS_KERNEL_WING)
    shape /= shape.sum()
    model = datamodels.SpecKernelModel()
    model.kernels = np.repeat(shape[:, None], wavelengths.size, axis=1).astype(np.float32)
    model.wavelengths = np.repeat(wavelengths[None, :], pixels.size, axis=0).astype(np.float32)
    meta = model.meta
    meta.nwave, meta.wavemin, meta.wavemax = wavelengths.size, float(wavelengths[0]), float(wavelengths[-1])
    meta.spectral_oversampling, meta.halfwidth, meta.centroid_index = oversampling, halfwidth, pixels.size // 2
    _soss_meta(model, "speckernel", "synthetic SOSS spectral kernels for offline profiling")
    write_datamodel(model, path)
    return path


def _write_soss_photom(path: Path) -> Path:
    """PHOTOM for the extracted SOSS orders (calwebb_tso3 calibrates them): a flat relative response."""
    from stdatamodels.jwst import datamodels

    n = 100
    model = datamodels.NisSossPhotomModel()
    # the schema leaves the array columns' length open: a fixed length, as the delivered files have
    dtype = [(name, kind, (n,)) if name in ("wavelength", "relresponse", "reluncertainty") else (name, kind)
             for name, kind in model.get_dtype("phot_table").descr]
    rows = []
    for order, spec in SOSS_ORDERS.items():
        wavelength = np.zeros(n, np.float32)
        wavelength[:50] = np.linspace(min(spec["wavelengths"]) - 0.1, max(spec["wavelengths"]) + 0.1, 50)
        response = np.where(wavelength > 0, 1.0, 0.0).astype(np.float32)
        rows.append(("CLEAR", "GR700XD", order, 1e-9, 1e-11, 50, wavelength, response, 0.01 * response))
    model.phot_table = np.array(rows, dtype=dtype)
    _soss_meta(model, "photom", "synthetic SOSS flux conversion for offline profiling")
    model.meta.photometry.pixelarea_steradians, model.meta.photometry.pixelarea_arcsecsq = 1.0e-13, 4.3e-3
    write_datamodel(model, path)
    return path


def _write_soss_wavelengthrange(path: Path) -> Path:
    """WAVELENGTHRANGE: the wavelengths white_light sums per order (each order's whole trace)."""
    from stdatamodels.jwst import datamodels

    ranges = [[order, "CLEAR", min(spec["wavelengths"]), max(spec["wavelengths"])] for order, spec in SOSS_ORDERS.items()]
    model = datamodels.WavelengthrangeModel(wrange=ranges, wrange_selector=["CLEAR"], order=list(SOSS_ORDERS),
                                            wunits="micron")
    _soss_meta(model, "wavelengthrange", "synthetic SOSS white-light wavelength ranges for offline profiling")
    write_datamodel(model, path)
    return path


def write_soss_references(directory: str | Path, subarray: str) -> dict[str, Path]:
    """The references calwebb_tso3 asks for NIS_SOSS, consistent with ``SOSS_ORDERS``.

    extract_1d's PASTASOSS, SPECPROFILE (of the subarray) and SPECKERNEL, photom's PHOTOM and
    white_light's WAVELENGTHRANGE.

    Parameters
    ----------
    directory : str or pathlib.Path
        Where to write them.
    subarray : str
        SUBARRAY.

    Returns
    -------
    dict of str to pathlib.Path
        ``{reftype: path}``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "pastasoss": _write_pastasoss(directory / "pastasoss_niriss.asdf"),
        "specprofile": _write_specprofile(directory / f"specprofile_{subarray.lower()}.fits", subarray),
        "speckernel": _write_speckernel(directory / "speckernel_niriss.fits"),
        "photom": _write_soss_photom(directory / "photom_soss.fits"),
        "wavelengthrange": _write_soss_wavelengthrange(directory / "wavelengthrange_niriss.asdf"),
    }


def write_soss_specwcs(path: str | Path) -> Path:
    """SPECWCS for NIRISS SOSS, as calwebb_spec2's assign_wcs reads it: each order's wavelength per pixel.

    jwst's ``niriss_soss`` reads the models at the tree's keys 1, 2 and 3, each taking (row, column)
    in full-frame pixels; here each order's wavelength follows its column as in `soss_trace`.
    Written unless the file is there.

    Parameters
    ----------
    path : str or pathlib.Path
        The ASDF file to write.

    Returns
    -------
    pathlib.Path
        The file.
    """
    import asdf
    from astropy.modeling import models

    from jwst_memest.atomic import atomic_write

    path = Path(path)
    if path.is_file():
        return path
    tree = {"meta": {"reftype": "specwcs", "instrument": {"name": "NIRISS", "detector": "NIS"},
                     "exposure": {"type": "NIS_SOSS"}, "author": "jwst_memest synthetic", "pedigree": "DUMMY",
                     "useafter": "2020-01-01T00:00:00",
                     "description": "synthetic SOSS wavelength per pixel for offline profiling"}}
    for order, spec in SOSS_ORDERS.items():
        first, last = spec["wavelengths"]
        tree[order] = (models.Mapping((1,), n_inputs=2) | models.Scale((last - first) / (spec["cutoff"] - 1))
                       | models.Shift(first))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        asdf.AsdfFile(tree).write_to(handle)
    return path
