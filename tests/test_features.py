"""Feature schema, header reading and product features."""

import math

import numpy as np
import pytest
import yaml
from astropy.io import fits

from jwst_memest.exposures import NIRCAM_SW_DETECTORS, ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.features.geometry import mean_pointing, mosaic_pixels, offset_statistics, tangent_plane
from jwst_memest.features.schema import load_schema
from jwst_memest.metadata import read_exposure_metadata


def _enum(keyword):
    """Values the jwst datamodel schemas allow for a keyword."""
    from importlib import resources

    text = resources.files("stdatamodels.jwst.datamodels.schemas").joinpath("core.schema.yaml").read_text()
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("fits_keyword") == keyword:
                for key in ("enum",):
                    found.extend(node.get(key, []))
                for option in node.get("anyOf", []):
                    found.extend(option.get("enum", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(text))
    return {str(v) for v in found} - {"ANY", "N/A", "MULTIPLE", "UNKNOWN", "NONE", "GENERIC"}


@pytest.mark.parametrize("feature,keyword", [("filter", "FILTER"), ("pupil", "PUPIL"), ("grating", "GRATING"),
                                              ("band", "BAND"), ("visit_type", "VISITYPE"), ("channel", "CHANNEL")])
def test_schema_categories_cover_the_datamodel_values(feature, keyword):
    schema = load_schema("spec3" if feature in ("grating", "band") else "image3")
    assert _enum(keyword) <= set(schema[feature].categories)


def test_schema_order_and_encoding():
    schema = load_schema("image3")
    assert schema.names[0] == "instrument" and len(set(schema.names)) == len(schema.names)
    vector = schema.encode({"instrument": "miri", "filter": "F999W", "in_memory": True, "n_members": 3})
    assert vector[schema.names.index("instrument")] == schema["instrument"].categories.index("MIRI") + 1
    assert vector[schema.names.index("filter")] == 0  # unknown
    assert vector[schema.names.index("in_memory")] == 1
    assert vector[schema.names.index("n_members")] == 3
    assert load_schema("coron3") is load_schema("image3")
    with pytest.raises(ValueError, match="unknown Level-3 pipeline"):
        load_schema("image2")


def test_header_metadata(tmp_path):
    (path,) = write_header_exposures(ExposureLayout(detectors=("MIRIMAGE",), exp_type="MIR_IMAGE", filter="F770W",
                                                    pupil="N/A", subarray="BRIGHTSKY", subarray_shape=(512, 512),
                                                    nints=3), tmp_path)
    meta = read_exposure_metadata(path)
    assert (meta.instrument, meta.detector, meta.filter) == ("MIRI", "MIRIMAGE", "F770W")
    assert (meta.ncols, meta.nrows, meta.n_integrations) == (512, 512, 3)
    assert meta.pixel_scale == pytest.approx(0.1108)
    assert meta.level == "uncal" and meta.has_pointing


def test_sci_naxis_used_without_subsize(tmp_path):
    path = tmp_path / "jw01234001001_03101_00001_nrca1_cal.fits"
    primary = fits.PrimaryHDU()
    primary.header.update({"INSTRUME": "NIRCAM", "DETECTOR": "NRCA1", "EXP_TYPE": "NRC_IMAGE"})
    sci = fits.ImageHDU(np.zeros((100, 200), dtype=np.float32), name="SCI")
    sci.header.update({"RA_REF": 10.0, "DEC_REF": 20.0})
    fits.HDUList([primary, sci]).writeto(path)
    meta = read_exposure_metadata(path)
    assert (meta.ncols, meta.nrows, meta.level) == (200, 100, "cal")


def test_offset_statistics_by_hand():
    stats = offset_statistics(np.array([0.0, 1.0, 2.0, 9.0]), "offset")
    sigma = np.std([0, 1, 2, 9])
    assert stats["offset_ref"] == 0.0 and stats["offset_max"] == 9.0 and stats["offset_mean"] == 3.0
    assert stats["offset_sigma"] == pytest.approx(sigma)
    assert stats["offset_err"] == pytest.approx(sigma / 2)
    assert stats["offset_sigma1_mean"] == 9.0 and stats["offset_sigma1_frac"] == 0.25


def test_tangent_plane_and_mean_pointing_across_ra_zero():
    ra0, dec0 = mean_pointing(np.array([359.99, 0.01]), np.array([0.0, 0.0]))
    assert min(ra0, 360 - ra0) == pytest.approx(0.0, abs=1e-9) and dec0 == pytest.approx(0.0, abs=1e-9)
    xi, eta = tangent_plane(np.array([0.01]), np.array([0.0]), 0.0, 0.0)
    assert xi[0] == pytest.approx(36.0, rel=1e-6) and eta[0] == pytest.approx(0.0, abs=1e-9)


def test_mosaic_of_a_4x2_grid_matches_resample_layout():
    # eight 2048^2 NIRCam SW exposures on a 4 x 2 grid of 40" steps: resample made 5917 x 3338 pixels
    xi = np.array([i * 40.0 for j in range(2) for i in range(4)])
    eta = np.array([j * 40.0 for j in range(2) for i in range(4)])
    pixels = mosaic_pixels(xi, eta, [0.0] * 8, [2048] * 8, [2048] * 8, np.full(8, 0.0311), 0.0311)
    assert pixels == pytest.approx(5917 * 3338, rel=0.01)


def test_rotation_does_not_change_the_mosaic_of_one_member():
    for roll in (0.0, 33.0, 90.0):
        pixels = mosaic_pixels([0.0], [0.0], [roll], [2048], [1024], np.array([0.1]), 0.1)
        assert pixels == pytest.approx(2048 * 1024, rel=1e-3)


def test_product_features_of_a_dithered_module(tmp_path):
    layout = ExposureLayout(detectors=NIRCAM_SW_DETECTORS[:4], dither_points=3)
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path)]
    values = product_features(members, "image3", in_memory=False).values
    assert values["detector"] == "MODULE" and values["n_detectors"] == 4
    assert values["n_members"] == 12 and values["n_exposure_groups"] == 3 and values["n_dither_points"] == 3
    assert values["in_memory"] is False and values["subarray"] == "FULL"
    assert values["member_pixels"] == 2048 * 2048
    assert values["total_input_bytes"] == 12 * 28 * 2048 * 2048
    assert values["output_pixels"] > values["member_pixels"]
    assert math.isfinite(values["target_offset_max"])
    assert set(values) == set(load_schema("image3").names)


def test_both_modules_and_subarray_grouping(tmp_path):
    layout = ExposureLayout(detectors=("NRCA1", "NRCB1"), subarray="SUB400P", subarray_shape=(400, 400))
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path)]
    values = product_features(members, "image3").values
    assert values["detector"] == "MULTIPLE_MODULES" and values["subarray"] == "SUB"
    assert values["member_pixels"] == 400 * 400


def test_integrations_count_for_ints_pipelines(tmp_path):
    layout = ExposureLayout(detectors=("NRCA1",), nints=10, subarray="SUB64P", subarray_shape=(64, 64))
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path)]
    assert product_features(members, "tso3").values["member_bytes"] == 28 * 64 * 64 * 10
    assert product_features(members, "image3").values["member_bytes"] == 28 * 64 * 64


def test_datamodel_metadata_matches_headers(tmp_path):
    from stdatamodels.jwst.datamodels import ImageModel

    from jwst_memest.metadata import metadata_from_datamodel

    model = ImageModel()
    model.meta.instrument.name, model.meta.instrument.detector = "NIRCAM", "NRCB2"
    model.meta.exposure.type, model.meta.exposure.nints = "NRC_IMAGE", 2
    model.meta.subarray.xsize, model.meta.subarray.ysize = 640, 320
    model.meta.wcsinfo.ra_ref, model.meta.wcsinfo.dec_ref = 1.0, 2.0
    meta = metadata_from_datamodel(model, "x_cal.fits")
    assert (meta.detector, meta.ncols, meta.nrows, meta.n_integrations, meta.ra_ref) == ("NRCB2", 640, 320, 2, 1.0)


def test_an_open_datamodel_reads_as_the_file_it_saves_to(tmp_path):
    """The keywords of a member are taken where the model's schema stores them, so an in-memory model and
    its file give the same metadata."""
    import dataclasses
    import math

    from stdatamodels.jwst.datamodels import CubeModel

    from jwst_memest.metadata import metadata_from_datamodel, read_exposure_metadata

    model = CubeModel((3, 64, 72))
    meta = model.meta
    meta.filename = "jw01234001001_03101_00002_mirimage_calints.fits"
    meta.instrument.name, meta.instrument.detector, meta.instrument.filter = "MIRI", "MIRIMAGE", "F1500W"
    meta.exposure.type, meta.exposure.nints, meta.exposure.ngroups = "MIR_IMAGE", 3, 7
    meta.subarray.name, meta.subarray.xsize, meta.subarray.ysize = "SUB64", 72, 64
    meta.visit.total_exposures, meta.visit.type, meta.dither.total_points = 4, "PRIME_TARGETED_FIXED", 2
    meta.target.ra, meta.target.dec, meta.target.catalog_name = 10.5, -20.25, "HD 1"
    meta.observation.program_number, meta.observation.observation_number = "01234", "001"
    meta.observation.visit_number, meta.observation.exposure_number = "001", "2"
    meta.wcsinfo.ra_ref, meta.wcsinfo.dec_ref, meta.wcsinfo.roll_ref = 10.5, -20.25, 33.0
    meta.photometry.pixelarea_arcsecsq = 0.0121
    path = tmp_path / meta.filename
    model.save(path)
    in_memory, on_disk = metadata_from_datamodel(model), read_exposure_metadata(path)
    def same(a, b):
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))

    differing = {f.name for f in dataclasses.fields(on_disk)
                 if not same(getattr(in_memory, f.name), getattr(on_disk, f.name))} - {"path", "warnings"}
    assert differing == set()
    assert (on_disk.n_integrations, on_disk.filter, on_disk.target_name, on_disk.roll_ref) == (3, "F1500W", "HD 1", 33.0)


def test_nonsense_pointing_and_pixel_area_never_shrink_the_mosaic_below_a_member(tmp_path):
    """An RA of 8.9e12 degrees with a pixel area of 1e-38 arcsec^2 collapses the footprints numerically;
    the mosaic still holds the member, so resample's output is never estimated below it."""
    from astropy.io import fits

    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata

    path = tmp_path / "jw01234001001_03101_00001_nrca1_cal.fits"
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(name="SCI")])
    hdul[0].header["INSTRUME"] = "NIRCAM"
    hdul[1].header.update({"RA_REF": 8856679743488.0, "DEC_REF": 0.0, "PIXAR_A2": 1.1754943508222875e-38})
    hdul.writeto(path)
    member = read_exposure_metadata(path)
    assert product_features([member], "image3").values["output_pixels"] >= member.pixels == 2048 * 2048
