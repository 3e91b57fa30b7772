"""Property tests: any association JSON and any header values give an estimate or one clear error."""

import json
import math
import subprocess
import warnings

from astropy.io import fits
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from jwst_memest.association import AssociationError, product_name
from jwst_memest.estimation import estimate_association
from jwst_memest.example import example_association
from jwst_memest.features.build import product_features
from jwst_memest.metadata import MetadataError, read_exposure_metadata

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

# the example's members (the association is written beside them): without them no product has a
# readable member and every association would end in an error
EXAMPLE_MEMBERS = sorted(p.name for p in example_association().parent.glob("*_uncal.fits"))
members = st.lists(
    st.fixed_dictionaries({
        "expname": st.sampled_from(EXAMPLE_MEMBERS) | st.text(max_size=30) | json_values,
        "exptype": st.sampled_from(["science", "background", "x"]) | json_values,
    }),
    max_size=4,
)
associations = st.fixed_dictionaries(
    {
        "asn_type": st.sampled_from(["image3", "spec3", "image2", "tso3", ""]) | json_values,
        "asn_id": st.text(max_size=10),
        "asn_pool": st.text(max_size=10),
        "products": st.lists(st.fixed_dictionaries({"name": st.text(max_size=20), "members": members}), max_size=3)
        | json_values,
    }
) | json_values

# max_examples from the profile: a few dozen by default, 150 with --hypothesis-profile=full (see conftest)
settings_fast = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_fast
@given(raw=associations)
@example(raw={"asn_type": "image3", "asn_id": "", "asn_pool": "", "products": [
    {"name": "good", "members": [{"expname": EXAMPLE_MEMBERS[0], "exptype": "science"}]},
    {"name": "absent", "members": [{"expname": "absent_cal.fits", "exptype": "science"}]}]})
def test_any_association_json_gives_an_estimate_or_one_clear_error(example_dir, raw):
    path = example_dir / "any_asn.json"
    path.write_text(json.dumps(raw))
    try:
        result = estimate_association(path)
    except AssociationError as exc:
        event("refused")
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        event("estimated")
        assert result.products and all(p.gb_size > 0 for p in result.products)
        named = {product_name(product, index) for index, product in enumerate(raw["products"])}
        assert {p.product for p in result.products} | set(result.failures) == named


well_formed_associations = st.fixed_dictionaries({
    "asn_type": st.sampled_from(["image3", "spec3", "coron3", "ami3", "tso3"]),
    "asn_id": st.just("a3001"),
    "asn_pool": st.just("pool"),
    "products": st.lists(
        st.fixed_dictionaries({
            "name": st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=20),
            "members": st.lists(
                st.fixed_dictionaries({
                    "expname": st.sampled_from([*EXAMPLE_MEMBERS, "absent_cal.fits", "jw09999001001_03101_00001_nrca1_rate.fits"]),
                    "exptype": st.just("science"),
                }),
                max_size=4,
            ),
        }),
        min_size=1, max_size=3, unique_by=lambda product: product["name"],
    ),
})


@settings_fast
@given(raw=well_formed_associations)
def test_a_product_is_estimated_exactly_when_one_of_its_members_is_found(example_dir, raw):
    path = example_dir / "any_asn.json"
    path.write_text(json.dumps(raw))
    found = {p["name"] for p in raw["products"] if any(m["expname"] in EXAMPLE_MEMBERS for m in p["members"])}
    try:
        result = estimate_association(path)
    except AssociationError as exc:
        assert not found and str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert {p.product for p in result.products} == found and all(p.gb_size > 0 for p in result.products)
        assert set(result.failures) == {p["name"] for p in raw["products"]} - found


header_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
)
keywords = st.sampled_from(["INSTRUME", "DETECTOR", "EXP_TYPE", "FILTER", "PUPIL", "SUBARRAY", "SUBSIZE1", "SUBSIZE2",
                            "NINTS", "NGROUPS", "NEXPOSUR", "NUMDTHPT", "TARG_RA", "TARG_DEC", "BKGDTARG", "VISITYPE"])
sci_keywords = st.sampled_from(["RA_REF", "DEC_REF", "ROLL_REF", "CRVAL1", "CRVAL2", "PIXAR_A2"])


@settings_fast
@given(primary=st.dictionaries(keywords, header_values, max_size=10), sci=st.dictionaries(sci_keywords, header_values, max_size=6))
def test_any_header_values_give_features_or_one_clear_error(tmp_path, primary, sci):
    path = tmp_path / "jw01234001001_03101_00001_nrca1_cal.fits"
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(name="SCI")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for key, value in primary.items():
            if value is not None:
                hdul[0].header[key] = value
        for key, value in sci.items():
            if value is not None:
                hdul[1].header[key] = value
    hdul.writeto(path, overwrite=True)
    try:
        meta = read_exposure_metadata(path)
    except MetadataError as exc:
        assert str(path) in str(exc)
        return
    features = product_features([meta], "image3")
    vector = features.vector()
    assert vector.shape == (len(features.values),)
    assert meta.pixels > 0 and meta.n_integrations >= 1
    assert math.isfinite(features.values["member_bytes"]) and features.values["member_bytes"] > 0
    assert math.isfinite(features.values["output_pixels"]) and features.values["output_pixels"] > 0


def test_two_estimators_on_the_same_association_leave_a_valid_file(example_asn):
    processes = [
        subprocess.Popen(["strun", "memory_estimate", example_asn.name, "--inplace=true"], cwd=example_asn.parent,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    assert [p.wait(timeout=300) for p in processes] == [0, 0]
    annotated = json.loads(example_asn.read_text())
    assert annotated["products"][0]["gbSize"] > 0
    assert not list(example_asn.parent.glob(".*.tmp"))
