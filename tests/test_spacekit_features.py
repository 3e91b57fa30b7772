"""spacekit's JWST cal features from members' headers, pinned against spacekit's own values."""

import math

import numpy as np
import pytest

from jwst_memest.exposures import write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.features.schema import load_feature_set
from jwst_memest.features.spacekit import angular_separation_arcsec, spacekit_band, spacekit_detector
from jwst_memest.metadata import read_exposure_metadata

from data_files import spacekit_reference
from spacekit_layouts import LAYOUTS

pd = pytest.importorskip("pandas")

PIPELINE = {"image": "image3", "spec": "spec3"}


def _reference_rows():
    for mode in LAYOUTS:
        for _, row in spacekit_reference(f"features-{mode}.csv").iterrows():
            yield pytest.param(mode, row, id=row["product"])


@pytest.fixture(scope="module")
def exposures(tmp_path_factory):
    """Every layout's exposures, as spacekit read them (tests/data/spacekit/produce.py)."""
    root = tmp_path_factory.mktemp("spacekit-layouts")
    for layouts in LAYOUTS.values():
        for name, layout in layouts.items():
            write_header_exposures(layout, root / name)
    return root


@pytest.mark.parametrize("mode,row", list(_reference_rows()))
def test_features_equal_spacekits_for_the_same_members(exposures, mode, row):
    schema = load_feature_set(f"spacekit_{mode}")
    members = [read_exposure_metadata(exposures / row["layout"] / f"{name}_uncal.fits")
               for name in row["members"].split(";")]
    vector = product_features(members, PIPELINE[mode], feature_set=schema.name).vector()
    expected = row[schema.names].to_numpy(float)
    mismatched = {n: (a, b) for n, a, b in zip(schema.names, vector, expected) if not math.isclose(a, b, rel_tol=1e-9,
                                                                                                    abs_tol=1e-9)}
    assert not mismatched


def test_the_reference_covers_what_it_should():
    image = spacekit_reference("features-image.csv")
    spec = spacekit_reference("features-spec.csv")
    schema = load_feature_set("spacekit_image")
    # an unseen filter, a background target, both NIRCam modules, one module, one detector
    assert schema["filter"].unknown_code in set(image["filter"])
    assert image["bkgdtarg"].max() == 1
    assert {"NRC-M", "NRCA-M", "NRC-S"} <= {schema["detector"].decode(c) for c in image["detector"]}
    assert len(spec) >= 5 and spec["targ_max_offset"].gt(0).all()


def test_coded_categories_encode_as_spacekit_does():
    schema = load_feature_set("spacekit_image")
    visit, instrument, channel = schema["visitype"], schema["instr"], schema["channel"]
    assert visit.encode("PRIME_WFSC_ROUTINE") == visit.encode("prime_wfsc_sensing_only ") == 1
    assert visit.encode(None) == 0 == visit.encode("NONE")  # missing is spacekit's NONE
    assert visit.encode("GENERIC") == 7  # unseen: one after the largest code
    assert instrument.encode("FGS") == 0 and instrument.encode(None) == instrument.unknown_code == 5
    assert channel.encode("12") == 1 and channel.encode(3.0) == 3 and channel.encode(42) == 5
    assert channel.encode(float("nan")) == 0
    assert visit.decode(4) == "PRIME_TARGETED_FIXED"
    assert load_feature_set("spacekit_spec")["band"].encode("SHORT|MEDIUM|LONG") == 1
    tree = schema.to_tree()["features"]
    assert tree[0]["codes"] == [0.0, 1.0, 2.0, 3.0, 4.0] and "codes" not in tree[-1]


def test_detector_and_band_names():
    assert spacekit_detector(["NRCA1"]) == "NRC-S"
    assert spacekit_detector(["NRCB2", "NRCB1", "NRCB1"]) == "NRCB-M"
    assert spacekit_detector(["NRCA1", "NRCBLONG"]) == "NRC-M"
    assert spacekit_detector(["NRS2", "NRS1"]) == "NRS1|NRS2"
    assert spacekit_band(["LONG", "SHORT-MEDIUM"]) == "SHORT|MEDIUM|LONG"
    assert spacekit_band([None, None]) == "NONE"
    assert spacekit_band(["SHORT", None]) == "SHORT|NAN"  # spacekit reads an absent band as NaN


def test_vincenty_separation():
    assert angular_separation_arcsec(10.0, 0.0, 10.0, 1.0) == pytest.approx(3600.0)
    assert angular_separation_arcsec(359.9, 0.0, 0.1, 0.0) == pytest.approx(720.0)
    assert angular_separation_arcsec(0.0, -90.0, 180.0, -90.0) == pytest.approx(0.0, abs=1e-6)


def test_a_member_without_pointing_is_left_out(tmp_path):
    from jwst_memest.example import EXAMPLE_LAYOUT

    paths = write_header_exposures(EXAMPLE_LAYOUT, tmp_path)
    members = [read_exposure_metadata(p) for p in paths]
    members[3].crval1 = math.nan
    features = product_features(members, "image3", feature_set="spacekit_image")
    assert features.values["nexposur"] == len(members) - 1
    assert any("no CRVAL1/CRVAL2" in w for w in features.warnings)
    # the pipeline's own features still come first, and give spacekit's on demand
    own = product_features(members, "image3")
    np.testing.assert_array_equal(own.vector("spacekit_image"), features.vector())
