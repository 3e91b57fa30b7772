"""Hand-built spectroscopic gwcs objects with the frame layout jwst's assign_wcs produces.

calwebb_spec3 never runs assign_wcs: it evaluates the gwcs already attached to each
cal file. A simple, linear WCS with the same frames (names, order, inputs and
outputs, bounding boxes) is therefore enough for every spec3 step, and needs none
of the optical reference files real NIRSpec or WFSS exposures are calibrated with.
Their CPU cost is lower than the real optical train's; their memory footprint is
that of the arrays the steps build, which is what is measured.
"""

from __future__ import annotations

import numpy as np

__all__ = ["slit_wcs", "nirspec_ifu_wcs", "wfss_source_wcs", "NIRSPEC_IFU_SLICES"]

NIRSPEC_IFU_SLICES = 30


def _frames():
    import astropy.coordinates as coord
    import astropy.units as u
    from gwcs import coordinate_frames as cf

    spectral = cf.SpectralFrame(name="spectral", axes_order=(2,), unit=(u.micron,), axes_names=("wavelength",))
    world = cf.CompositeFrame([cf.CelestialFrame(name="sky", axes_order=(0, 1), reference_frame=coord.ICRS()),
                               spectral], name="world")
    return cf, spectral, world


def _tangent_to_sky(ra: float, dec: float, position_angle: float, arcsec_per_unit: float):
    """Offsets in a local frame (units of ``arcsec_per_unit``), rotated by the position angle, to RA/Dec."""
    from astropy.modeling import models

    theta = np.deg2rad(position_angle)
    scale = arcsec_per_unit / 3600.0
    rotation = models.AffineTransformation2D(matrix=[[np.cos(theta) * scale, -np.sin(theta) * scale],
                                                     [np.sin(theta) * scale, np.cos(theta) * scale]])
    return rotation | models.Pix2Sky_TAN() | models.RotateNative2Celestial(ra, dec, 180.0)


def slit_wcs(shape: tuple[int, int], wavelength_range: tuple[float, float], ra: float, dec: float,
             position_angle: float = 0.0, pixels_per_shutter: float = 5.3, shutter_arcsec: float = 0.46):
    """NIRSpec slit (MOS slitlet or fixed slit): detector -> slit_frame -> world.

    Dispersion runs along x; the slit's spatial axis along y, centred on the cutout.

    Parameters
    ----------
    shape : tuple of int
        The cutout's (rows, columns).
    wavelength_range : tuple of float
        First and last wavelength across the columns, um.
    ra, dec : float
        The slit's centre, degrees.
    position_angle : float, optional
        Degrees.
    pixels_per_shutter : float, optional
        Detector rows per shutter along the slit.
    shutter_arcsec : float, optional
        A shutter's size on the sky, arcsec.

    Returns
    -------
    gwcs.wcs.WCS
        The WCS, bounded by the cutout.
    """
    from astropy.modeling import models
    from gwcs import wcs
    from jwst.assign_wcs.util import wcs_bbox_from_shape

    cf, spectral, world = _frames()
    ny, nx = shape
    lam0, lam1 = wavelength_range
    per_pixel = (lam1 - lam0) / nx
    centre = (ny - 1) / 2.0
    to_slit = models.Mapping((0, 1, 0)) | (
        models.Const1D(0.0)
        & (models.Shift(-centre) | models.Scale(1 / pixels_per_shutter))
        & (models.Scale(per_pixel) | models.Shift(lam0))
    )
    to_slit.inverse = models.Mapping((2, 1), n_inputs=3) | (
        (models.Shift(-lam0) | models.Scale(1 / per_pixel))
        & (models.Scale(pixels_per_shutter) | models.Shift(centre))
    )
    to_world = _tangent_to_sky(ra, dec, position_angle, shutter_arcsec) & models.Identity(1)
    detector = cf.Frame2D(name="detector", axes_order=(0, 1))
    slit_frame = cf.CompositeFrame([cf.Frame2D(name="slit_spatial", axes_order=(0, 1), unit=("", ""),
                                               axes_names=("x_slit", "y_slit")), spectral], name="slit_frame")
    result = wcs.WCS([(detector, to_slit), (slit_frame, to_world), (world, None)])
    result.bounding_box = wcs_bbox_from_shape(shape)
    return result


def nirspec_ifu_wcs(wavelength_range: tuple[float, float], ra: float, dec: float, position_angle: float = 0.0,
                    first_row: int = 450, rows_per_slice: int = 30, gap: int = 8,
                    along_arcsec: float = 0.105, across_arcsec: float = 0.103):
    """NIRSpec IFU in jwst 3.0's coordinate-based layout: coordinates -> detector -> slicer -> world.

    detector -> slicer is a RegionsSelector over a full-frame slice map with one linear transform
    (and bounding box) per slice.

    Parameters
    ----------
    wavelength_range : tuple of float
        First and last wavelength, um.
    ra, dec : float
        The field's centre, degrees.
    position_angle : float, optional
        Degrees.
    first_row : int, optional
        The first slice's first detector row.
    rows_per_slice : int, optional
        Detector rows per slice.
    gap : int, optional
        Rows between slices.
    along_arcsec, across_arcsec : float, optional
        Sampling along a slice and slice width, arcsec.

    Returns
    -------
    wcs : gwcs.wcs.WCS
        The WCS.
    regions : numpy.ndarray
        The slice map (0 outside every slice).
    """
    from astropy.modeling import bind_bounding_box, models
    from gwcs import selector, wcs

    cf, spectral, world = _frames()
    regions = np.zeros((2048, 2048), np.int32)
    lam0, lam1 = wavelength_range
    per_pixel = (lam1 - lam0) / 2048.0
    transforms, slice_of_position = {}, {}
    for index in range(NIRSPEC_IFU_SLICES):
        label = index + 1
        y0 = first_row + index * (rows_per_slice + gap)
        centre = y0 + (rows_per_slice - 1) / 2
        regions[y0:y0 + rows_per_slice, 4:2044] = label
        across = round((index - (NIRSPEC_IFU_SLICES - 1) / 2) * across_arcsec, 5)
        forward = models.Mapping((0, 1, 0)) | (
            models.Const1D(across)
            & (models.Shift(-centre) | models.Scale(along_arcsec))
            & (models.Scale(per_pixel) | models.Shift(lam0))
        )
        forward.inverse = models.Mapping((2, 1), n_inputs=3) | (
            (models.Shift(-lam0) | models.Scale(1 / per_pixel))
            & (models.Scale(1 / along_arcsec) | models.Shift(centre))
        )
        bind_bounding_box(forward, ((3.5, 2043.5), (y0 - 0.5, y0 + rows_per_slice - 0.5)), order="F")
        transforms[label] = forward
        slice_of_position[across] = models.Mapping((0,), n_inputs=3) | models.Const1D(label)
    label_mapper = selector.LabelMapperArray(regions)
    label_mapper.inverse = selector.LabelMapperDict(inputs=("x_slice", "y_slice", "lam"), mapper=slice_of_position,
                                                    inputs_mapping=models.Mapping((0,), n_inputs=3), atol=1e-4)
    to_slicer = selector.RegionsSelector(("x", "y"), ("x_slice", "y_slice", "lam"), label_mapper=label_mapper,
                                         selector=transforms, name="det2slicer")
    to_world = _tangent_to_sky(ra, dec, position_angle, 1.0) & models.Identity(1)
    frames = [
        cf.Frame2D(name="coordinates", axes_order=(0, 1)),
        cf.Frame2D(name="detector", axes_order=(0, 1)),
        cf.CompositeFrame([cf.Frame2D(name="slicer_spatial", axes_order=(0, 1), unit=("", "")), spectral],
                          name="slicer"),
        world,
    ]
    result = wcs.WCS([(frames[0], models.Identity(2, name="coord2det")), (frames[1], to_slicer),
                      (frames[2], to_world), (frames[3], None)])
    return result, regions


def wfss_source_wcs(shape: tuple[int, int], corner: tuple[int, int], source_position: tuple[float, float],
                    order: int, wavelength_start: float, per_pixel: float, ra: float, dec: float,
                    pixel_arcsec: float):
    """One WFSS source cutout in extract_2d's layout: grism_slit -> grism_detector -> detector -> world.

    Two inputs (cutout x, y) in; RA, Dec, wavelength and order out.

    Parameters
    ----------
    shape : tuple of int
        The cutout's (rows, columns).
    corner : tuple of int
        The cutout's corner on the detector (x, y).
    source_position : tuple of float
        The source's position on the direct image (x, y).
    order : int
        The spectral order.
    wavelength_start : float
        The wavelength at the source's column, um.
    per_pixel : float
        um per column.
    ra, dec : float
        The tangent point, degrees.
    pixel_arcsec : float
        The pixel scale, arcsec.

    Returns
    -------
    gwcs.wcs.WCS
        The WCS.
    """
    from astropy.modeling import bind_bounding_box, models
    from gwcs import wcs

    cf, spectral, world = _frames()

    def constant(value):
        model = models.Const1D(value)
        model.inverse = models.Const1D(value)
        return model

    x_source, y_source = source_position
    to_grism_detector = models.Mapping((0, 1, 0, 0, 0)) | (
        models.Shift(corner[0]) & models.Shift(corner[1]) & constant(x_source) & constant(y_source) & constant(order)
    )
    bind_bounding_box(to_grism_detector, ((-0.5, shape[1] - 0.5), (-0.5, shape[0] - 0.5)), order="F")
    wavelength = (models.Mapping((0,), n_inputs=2) - models.Mapping((1,), n_inputs=2)) | models.Scale(per_pixel) \
        | models.Shift(wavelength_start)
    to_detector = models.Mapping((2, 3, 0, 2, 4)) | (models.Identity(2) & wavelength & models.Identity(1))
    to_world = ((models.Shift(-1024.0) & models.Shift(-1024.0)) | _tangent_to_sky(ra, dec, 0.0, pixel_arcsec)) \
        & models.Identity(2)
    frames = [
        cf.Frame2D(name="grism_slit", axes_order=(0, 1)),
        cf.Frame2D(name="grism_detector", axes_order=(0, 1)),
        cf.CompositeFrame([cf.Frame2D(name="detectorspatial", axes_order=(0, 1)), spectral], name="detector"),
        world,
    ]
    return wcs.WCS([(frames[0], to_grism_detector), (frames[1], to_detector), (frames[2], to_world), (frames[3], None)])
