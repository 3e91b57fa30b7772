"""Exact feature values of hand-built members: the numbers users' estimates are computed from."""

import math

import numpy as np
import pytest

from jwst_memest.features.build import BYTES_PER_PIXEL_CAL, ProductFeatures, cube_pixels, product_features
from jwst_memest.features.geometry import offset_statistics
from jwst_memest.features.schema import load_feature_set, load_schema
from jwst_memest.metadata import ExposureMetadata

OFFSET_NAMES = ("ref", "max", "mean", "sigma", "err", "sigma1_mean", "sigma1_frac")


def _member(path, **kw):
    base = dict(level="cal", instrument="NIRCAM", exp_type="NRC_IMAGE", ncols=100, nrows=50, pixel_scale=0.1)
    base.update(kw)
    return ExposureMetadata(path=path, **base)


# -- offset statistics ---------------------------------------------------------------------------------

def test_offset_statistics_of_no_offsets_are_every_named_statistic_missing():
    stats = offset_statistics(np.array([]), "offset")
    assert sorted(stats) == sorted(f"offset_{n}" for n in OFFSET_NAMES)
    assert all(math.isnan(v) for v in stats.values())


def test_offset_statistics_of_equal_offsets_have_nothing_above_one_sigma():
    stats = offset_statistics([3, 3, 3, 3], "offset")
    assert stats["offset_sigma"] == 0.0 and stats["offset_err"] == 0.0
    assert stats["offset_sigma1_mean"] == 0.0 and stats["offset_sigma1_frac"] == 0.0
    assert isinstance(stats["offset_ref"], float) and stats["offset_mean"] == 3.0


def test_offset_statistics_of_integer_offsets_are_floats():
    stats = offset_statistics(np.array([0, 1, 2, 9]), "x")
    assert stats["x_mean"] == pytest.approx(3.0)
    assert stats["x_sigma1_frac"] == pytest.approx(0.25) and stats["x_sigma1_mean"] == pytest.approx(9.0)


# -- schema encoding -----------------------------------------------------------------------------------

def test_category_codes_already_encoded_are_kept_only_within_range():
    spec = load_schema("image3")["instrument"]
    n = len(spec.categories)
    assert spec.encode(0) == 0.0
    assert spec.encode(n) == float(n)
    assert spec.encode(np.int64(1)) == 1.0
    assert spec.encode(n + 1) == 0.0
    assert spec.encode(-1) == 0.0
    assert spec.encode(1.5) == 0.0
    assert spec.encode(True) == 0.0  # a flag is not a code: "TRUE" is no instrument
    assert spec.encode(" miri ") == spec.categories.index("MIRI") + 1


@pytest.mark.parametrize("value,code", [("TRUE", 1.0), (" t ", 1.0), ("1", 1.0), ("Yes", 1.0), ("true", 1.0),
                                        ("no", 0.0), ("false", 0.0), ("", 0.0), (None, 0.0), (math.nan, 0.0),
                                        (True, 1.0), (False, 0.0), (2, 1.0), (0, 0.0), (1.0, 1.0)])
def test_flag_encoding(value, code):
    assert load_schema("image3")["in_memory"].encode(value) == code


def test_counts_and_continuous_values_encode_as_numbers_and_missing_as_nan():
    schema = load_schema("image3")
    assert schema["n_members"].encode(7) == 7.0
    assert math.isnan(schema["offset_max"].encode(None))
    vector = schema.encode({"n_members": 2})
    assert vector.dtype == np.float64 and len(vector) == len(schema)


def test_encode_many_of_no_rows_is_an_empty_table_of_the_schema_width():
    schema = load_schema("spec3")
    table = schema.encode_many([])
    assert table.shape == (0, len(schema)) and table.dtype == np.float64
    assert schema.encode_many([{"n_members": 1}, {"n_members": 2}])[:, schema.names.index("n_members")].tolist() == [1, 2]


def test_decode_is_the_inverse_of_encode_and_unknown_outside():
    spec = load_schema("image3")["instrument"]
    n = len(spec.categories)
    assert spec.decode(n) == spec.categories[-1]
    assert spec.decode(1) == spec.categories[0]
    assert spec.decode(0) == "UNKNOWN" and spec.decode(n + 1) == "UNKNOWN"
    coded = load_feature_set("spacekit_image")["instr"]
    assert coded.decode(1.0) == "MIRI"
    assert coded.decode(99.0) == "UNKNOWN"


def test_coded_categories():
    coded = load_feature_set("spacekit_image")["detector"]
    assert coded.encode(None) == coded.encode("NONE") == 0.0
    assert coded.encode(math.nan) == 0.0
    assert coded.encode(1.0) == 1.0 and coded.encode(coded.unknown_code) == coded.unknown_code
    assert coded.encode(123.0) == coded.unknown_code and coded.encode("NOSUCH") == coded.unknown_code


def test_is_known():
    schema = load_schema("image3")
    assert schema["n_members"].is_known(12345)
    assert schema["instrument"].is_known("NIRCAM")
    assert not schema["instrument"].is_known("HUBBLE")
    assert not schema["instrument"].is_known(None)


# -- product features ----------------------------------------------------------------------------------

def test_member_bytes_counts_and_layout_of_an_unpointed_image3_product():
    members = [
        _member("a_cal.fits", detector="NRCA1", module="A", subarray="SUB160", filter="F200W", pupil="CLEAR",
                n_groups=4, n_integrations=3, exposure_id="e1", n_dither_points=4),
        _member("b_cal.fits", detector="NRCA2", module="A", subarray="SUB160", filter="F200W", pupil="CLEAR",
                ncols=200, nrows=50, n_groups=6, n_integrations=2, exposure_id="e1"),
        _member("c_cal.fits", detector="NRCA2", module="A", subarray="SUB160", filter="F200W", pupil="CLEAR",
                n_groups=None, exposure_id="e2"),
    ]
    features = product_features(members, "image3")
    v = features.values
    assert v["instrument"] == "NIRCAM" and v["filter"] == "F200W" and v["subarray"] == "SUB"
    assert v["detector"] == "MODULE" and v["n_detectors"] == 2
    assert v["n_members"] == 3 and v["n_exposure_groups"] == 2 and v["n_exposures"] == 2
    assert v["n_dither_points"] == 4 and v["n_groups"] == 6 and v["n_integrations"] == 3
    assert v["member_pixels"] == 10000.0
    # image3 works on cal images: one image per member whatever its integrations
    assert v["member_bytes"] == BYTES_PER_PIXEL_CAL * 10000.0
    assert v["total_input_bytes"] == BYTES_PER_PIXEL_CAL * (5000 + 10000 + 5000)
    # no pointing: no offsets, the mosaic is the largest member
    assert all(math.isnan(v[f"offset_{n}"]) and math.isnan(v[f"target_offset_{n}"]) for n in OFFSET_NAMES)
    assert v["output_pixels"] == 10000.0
    for name in ("a_cal.fits", "b_cal.fits", "c_cal.fits"):
        assert f"{name}: no usable pointing; left out of the offset statistics" in features.warnings
    assert list(v) == load_schema("image3").names


def test_integrations_multiply_bytes_of_calints_members_and_per_integration_pipelines():
    members = [_member("a_calints.fits", level="calints", n_integrations=5),
               _member("b_calints.fits", level="calints", n_integrations=0)]
    v = product_features(members, "image3").values
    assert v["member_bytes"] == BYTES_PER_PIXEL_CAL * 5000 * 5
    assert v["total_input_bytes"] == BYTES_PER_PIXEL_CAL * 5000 * 6
    v = product_features([_member("a_cal.fits", n_integrations=4)], "coron3").values
    assert v["member_bytes"] == BYTES_PER_PIXEL_CAL * 5000 * 4
    v = product_features([_member("a_cal.fits", n_integrations=4)], "image3").values
    assert v["member_bytes"] == BYTES_PER_PIXEL_CAL * 5000 and v["n_integrations"] == 4


def test_slit_members_count_their_slit_pixels():
    members = [_member("s_cal.fits", instrument="NIRSPEC", exp_type="NRS_MSASPEC", n_slits=3, slit_pixels=700),
               _member("t_cal.fits", instrument="NIRSPEC", exp_type="NRS_MSASPEC", n_slits=5, slit_pixels=900)]
    v = product_features(members, "spec3").values
    assert v["n_slits"] == 5
    assert v["member_bytes"] == BYTES_PER_PIXEL_CAL * 900.0
    assert v["total_input_bytes"] == BYTES_PER_PIXEL_CAL * 1600.0
    assert v["member_pixels"] == 5000.0


def test_defaults_when_members_record_no_counts():
    v = product_features([_member("a_cal.fits", exposure_id="x", n_integrations=0)], "image3").values
    assert v["n_exposures"] == 1 and v["n_dither_points"] == 0 and v["n_groups"] == 0
    assert v["n_integrations"] == 1 and v["n_detectors"] == 1 and v["detector"] == "SINGLE"
    assert v["subarray"] is None and v["filter"] is None
    assert v["background_target"] is False and v["in_memory"] is True
    assert product_features([_member("a")], "image3", in_memory=False).values["in_memory"] is False
    assert product_features([_member("a"), _member("b", background_target=True)], "image3").values["background_target"]


def test_differing_values_are_multiple_and_mrs_channels_join():
    members = [_member("a", instrument="MIRI", exp_type="MIR_MRS", detector="MIRIFUSHORT", channel="12", band="SHORT"),
               _member("b", instrument="MIRI", exp_type="MIR_MRS", detector="MIRIFULONG", channel="34", band="LONG")]
    v = product_features(members, "spec3").values
    assert v["channel"] == "1234" and v["band"] == "MULTIPLE" and v["detector"] == "MULTIPLE_MODULES"
    members = [_member("a", channel="SHORT"), _member("b", channel="LONG")]
    assert product_features(members, "image3").values["channel"] == "MULTIPLE"
    assert product_features([_member("a", channel="12"), _member("b", channel="12")], "spec3").values["channel"] == "12"


@pytest.mark.parametrize("subarray,group", [("FULL", "FULL"), ("FULLP", "FULL"), ("SUB64P", "SUB"),
                                            ("MASK335R", "MASK"), ("WFSS128R", "WFSS"), ("BRIGHTSKY", "OTHER")])
def test_subarray_groups(subarray, group):
    assert product_features([_member("a", subarray=subarray)], "image3").values["subarray"] == group


def test_detector_layout_of_nircam_modules_without_module_keyword():
    both = [_member("a", detector="NRCA1"), _member("b", detector="NRCB1")]
    assert product_features(both, "image3").values["detector"] == "MULTIPLE_MODULES"
    one = [_member("a", detector="NRCA1"), _member("b", detector="NRCA3"), _member("c", detector=None)]
    v = product_features(one, "image3").values
    assert v["detector"] == "MODULE" and v["n_detectors"] == 2


def test_pointed_members_offsets_in_pixels_and_unpointed_ones_left_out():
    dec0 = 10.0
    step = 1.0 / 3600.0  # one arcsec north per member
    members = [_member("a", ra_ref=50.0, dec_ref=dec0, roll_ref=0.0, targ_ra=50.0, targ_dec=dec0),
               _member("b", ra_ref=50.0, dec_ref=dec0 + 2 * step, roll_ref=0.0, targ_ra=50.0, targ_dec=dec0),
               _member("c", ra_ref=math.nan, dec_ref=dec0)]
    features = product_features(members, "image3")
    v = features.values
    # mean pointing midway: each member 1 arcsec = 10 pixels from it
    assert v["offset_ref"] == pytest.approx(10.0, rel=1e-6)
    assert v["offset_max"] == pytest.approx(10.0, rel=1e-6) and v["offset_sigma"] == pytest.approx(0.0, abs=1e-6)
    # from the target (the first member): 0 and 20 pixels
    assert v["target_offset_ref"] == pytest.approx(0.0, abs=1e-6)
    assert v["target_offset_max"] == pytest.approx(20.0, rel=1e-6)
    assert v["target_offset_mean"] == pytest.approx(10.0, rel=1e-6)
    assert v["output_pixels"] == 100 * 70  # 50 rows + 20 pixels of offset
    assert features.warnings == ["c: no usable pointing; left out of the offset statistics"]


def test_no_target_leaves_target_offsets_missing():
    members = [_member("a", ra_ref=50.0, dec_ref=10.0), _member("b", ra_ref=50.0, dec_ref=10.001)]
    v = product_features(members, "image3").values
    assert math.isfinite(v["offset_max"]) and math.isnan(v["target_offset_max"])


def test_member_warnings_and_unknown_categories_are_reported():
    features = product_features([_member("a", filter="F999X", warnings=["a: odd keyword"])], "image3")
    assert features.warnings[0] == "a: odd keyword"
    assert "unknown category filter=F999X; encoded as unknown" in features.warnings
    assert features.unknown_categories() == ["filter=F999X"]
    quiet = product_features([_member("a", filter="N/A", pupil="NONE", instrument="NIRCAM")], "image3")
    assert quiet.unknown_categories() == [] and not any("unknown category" in w for w in quiet.warnings)


def test_no_members_is_an_error():
    with pytest.raises(ValueError, match="at least one member"):
        product_features([], "image3")


def test_vector_of_another_feature_set_uses_the_members():
    members = [_member("a", ra_ref=50.0, dec_ref=10.0, crval1=50.0, crval2=10.0)]
    features = product_features(members, "image3", in_memory=False)
    assert np.array_equal(features.vector(), load_schema("image3").encode(features.values), equal_nan=True)
    assert np.array_equal(features.vector("image3"), features.vector(), equal_nan=True)
    other = product_features(members, "image3", feature_set="spacekit_image")
    assert other.feature_set == "spacekit_image"
    assert np.array_equal(features.vector("spacekit_image"), other.vector(), equal_nan=True)
    bare = ProductFeatures(pipeline="image3", values=features.values, n_members=1)
    with pytest.raises(ValueError, match="features of image3 cannot give spacekit_image's without their members"):
        bare.vector("spacekit_image")
    with pytest.raises(ValueError, match="does not describe image3 products"):
        product_features(members, "image3", feature_set="spec3")


def test_spacekit_features_keep_member_warnings_first():
    features = product_features([_member("a", filter="F200W", warnings=["a: w"])], "image3",
                                feature_set="spacekit_image")
    assert features.warnings[0] == "a: w" and features.feature_set == "spacekit_image"


# -- IFU cubes -----------------------------------------------------------------------------------------

def test_nirspec_ifu_cube_voxels():
    members = [_member("a", instrument="NIRSPEC", detector="NRS1", grating="G235H", pixel_scale=0.1),
               _member("b", instrument="NIRSPEC", detector="NRS2", grating="G235H", pixel_scale=0.2)]
    extent = 2 * 5.0 * 0.1  # dither extent at the finest scale
    side = (3.1 + extent) / 0.1
    assert cube_pixels(members, "NRS_IFU", 5.0) == pytest.approx(side * side * (3.17 - 1.66) / 0.0004)
    # one detector: its half of the range; no offsets: the field alone
    assert cube_pixels(members[:1], "NRS_IFU", math.nan) == pytest.approx(31 * 31 * (2.40 - 1.66) / 0.0004)
    assert cube_pixels(members[1:], "NRS_IFU", None) == pytest.approx(31 * 31 * (3.17 - 2.40) / 0.0004)


def test_nirspec_ifu_cube_of_an_unknown_grating_uses_g395m():
    members = [_member("a", instrument="NIRSPEC", detector=None, grating=None, pixel_scale=math.nan)]
    assert cube_pixels(members, "NRS_IFU", 0.0) == pytest.approx(31 * 31 * (4.05 - 2.87) / 0.0017)
    # unknown scale: 0.1 arcsec
    assert cube_pixels(members, "NRS_IFU", 1.0) == pytest.approx(33 * 33 * (4.05 - 2.87) / 0.0017)


def test_miri_mrs_cube_voxels_per_channel_and_band():
    members = [_member("a", instrument="MIRI", channel="12", band="MEDIUM", pixel_scale=0.2),
               _member("b", instrument="MIRI", channel="34", band=None, pixel_scale=0.2)]
    extent = 2 * 3.0 * 0.2

    def cube(along, slices, across, spaxel, first, last, step):
        return (along + extent) / spaxel * ((slices * across + extent) / spaxel) * ((last - first) / step)

    expected = (cube(3.2, 21, 0.177, 0.13, 5.66, 6.63, 0.001) + cube(4.0, 17, 0.280, 0.17, 8.67, 10.13, 0.002)
                + cube(5.2, 16, 0.390, 0.2, 11.55, 13.47, 0.003) + cube(6.6, 12, 0.656, 0.35, 17.70, 20.95, 0.006))
    assert cube_pixels(members, "MIR_MRS", 3.0) == pytest.approx(expected)
    assert cube_pixels(members, "NRC_IMAGE", 3.0) == 0.0


def test_product_features_cube_pixels_of_an_ifu_product():
    members = [_member("a", instrument="NIRSPEC", exp_type="NRS_IFU", detector="NRS1", grating="G140H")]
    v = product_features(members, "spec3").values
    assert v["cube_pixels"] == pytest.approx(31 * 31 * (1.42 - 0.97) / 0.0002)


# -- geometry ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ra,dec,ra0,dec0", [(1.0, 60.0, 0.0, 60.0), (0.0, 61.0, 0.5, 60.0), (359.5, -30.0, 0.5, -29.0)])
def test_tangent_plane_distance_is_tan_of_the_separation(ra, dec, ra0, dec0):
    from jwst_memest.features.geometry import tangent_plane

    r, d, r0, d0 = map(math.radians, (ra, dec, ra0, dec0))
    separation = math.acos(math.sin(d) * math.sin(d0) + math.cos(d) * math.cos(d0) * math.cos(r - r0))
    xi, eta = tangent_plane(ra, dec, ra0, dec0)
    assert math.hypot(float(xi), float(eta)) / (180 / math.pi * 3600) == pytest.approx(math.tan(separation), rel=1e-9)


def test_mosaic_covers_every_corner_of_a_rotated_member():
    from jwst_memest.features.geometry import mosaic_pixels

    # a 10" square and the same square turned 45 degrees: 14.142" (141.42 pixels) across
    assert mosaic_pixels([0.0, 0.0], [0.0, 0.0], [0.0, 45.0], [100, 100], [100, 100], 0.1, 0.1) == 142 * 142
    # an unknown roll is no rotation, for the reference member and the others
    assert mosaic_pixels([0.0, 0.0], [0.0, 0.0], [math.nan, 0.0], [100, 100], [100, 100], 0.1, 0.1) == 10000
    assert mosaic_pixels([0.0, 0.0], [0.0, 0.0], [0.0, math.nan], [100, 100], [100, 100], 0.1, 0.1) == 10000


# -- more product features -----------------------------------------------------------------------------

def test_common_keywords_reach_their_features():
    members = [_member("a", detector="NRCA1", visit_type="PRIME_TARGETED_FIXED", pupil="CLEAR")]
    v = product_features(members).values
    assert v["detector"] == "SINGLE" and v["visit_type"] == "PRIME_TARGETED_FIXED" and v["pupil"] == "CLEAR"
    assert list(v) == load_schema().names and load_schema() is load_schema("image3")
    assert product_features(members).pipeline == "image3"
    spec = [_member("a", instrument="NIRSPEC", exp_type="NRS_FIXEDSLIT", grating="G395H", visit_type="PARALLEL_PURE")]
    v = product_features(spec, "spec3").values
    assert v["grating"] == "G395H" and v["visit_type"] == "PARALLEL_PURE"


def test_a_target_needs_both_coordinates():
    members = [_member("a", ra_ref=50.0, dec_ref=10.0, targ_ra=50.0, targ_dec=math.nan),
               _member("b", ra_ref=50.0, dec_ref=10.001, targ_ra=50.0, targ_dec=math.nan)]
    assert math.isnan(product_features(members).values["target_offset_max"])


def test_ifu_cube_includes_the_dither_extent():
    step = 1.0 / 3600.0
    members = [_member("a", instrument="NIRSPEC", exp_type="NRS_IFU", detector="NRS1", grating="G140H",
                       ra_ref=50.0, dec_ref=10.0),
               _member("b", instrument="NIRSPEC", exp_type="NRS_IFU", detector="NRS1", grating="G140H",
                       ra_ref=50.0, dec_ref=10.0 + 2 * step)]
    v = product_features(members, "spec3").values
    assert v["offset_max"] == pytest.approx(10.0, rel=1e-6)
    assert v["cube_pixels"] == pytest.approx(51 * 51 * (1.42 - 0.97) / 0.0002, rel=1e-6)


def test_mrs_cube_of_no_channel_is_empty_and_an_unknown_band_is_short():
    assert cube_pixels([_member("a", channel=None)], "MIR_MRS", 0.0) == 0.0
    odd = cube_pixels([_member("a", channel="1", band="ODD")], "MIR_MRS", 0.0)
    short = cube_pixels([_member("a", channel="1", band="SHORT")], "MIR_MRS", 0.0)
    assert odd == short > 0


def test_spacekit_features_describe_the_members():
    members = [_member("a"), _member("b")]
    other = product_features(members, "image3", feature_set="spacekit_image")
    assert other.pipeline == "image3" and other.n_members == 2 and other.members == tuple(members)


def test_missing_feature_name_is_named_in_the_error():
    with pytest.raises(KeyError, match="no_such_feature"):
        load_schema("image3")["no_such_feature"]


def test_no_members_message():
    with pytest.raises(ValueError, match="^a product needs at least one member to estimate$"):
        product_features([])


def test_any_is_no_unknown_category():
    features = product_features([_member("a", filter="ANY", pupil="ANY")], "image3")
    assert features.unknown_categories() == [] and not any("unknown category" in w for w in features.warnings)
