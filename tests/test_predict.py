"""Folder mode: products formed by jwst's Level-3 rules from a folder of exposures."""

import json
import subprocess
import sys

import pytest
from astropy.io import fits

from jwst_memest import JwstCalPredict
from jwst_memest.example import EXAMPLE_LAYOUT, example_association, make_example
from jwst_memest.exposures import ExposureLayout, write_header_exposures


@pytest.fixture
def mixed_folder(tmp_path):
    """Two programs: NIRCam F150W (4 dithers, 2 detectors) and MIRI F770W (3 dithers)."""
    write_header_exposures(ExposureLayout(program=1234, detectors=("NRCA1", "NRCA2"), dither_points=4), tmp_path)
    write_header_exposures(
        ExposureLayout(program=2345, observation=7, detectors=("MIRIMAGE",), exp_type="MIR_IMAGE",
                       filter="F770W", pupil="N/A", dither_points=3),
        tmp_path,
    )
    return tmp_path


def test_products_are_named_by_jwst_rules(mixed_folder):
    predictions = JwstCalPredict(mixed_folder).run_inference()
    assert set(predictions) == {
        "jw01234-o001_t001_nircam_clear-f150w",
        "jw02345-o007_t001_miri_f770w",
    }
    assert all(p["gbSize"] > 0 for p in predictions.values())


def test_pools_generated_in_parallel_give_the_same_products(mixed_folder):
    serial = JwstCalPredict(mixed_folder, workers=1)
    parallel = JwstCalPredict(mixed_folder, workers=2)
    assert serial.run_inference() == parallel.run_inference()
    # the constraints text holds a function's address, different in every run
    def content(predictor):
        return [{k: v for k, v in a.content.items() if k != "constraints"} for a in predictor.associations]

    assert content(serial) == content(parallel)
    assert {a.filename for a in parallel.associations} == {"jw01234-o001_image3_00001_asn.json",
                                                          "jw02345-o007_image3_00001_asn.json"}


def test_program_and_observation_selection(mixed_folder):
    assert list(JwstCalPredict(mixed_folder, pid=2345).run_inference()) == ["jw02345-o007_t001_miri_f770w"]
    assert JwstCalPredict(mixed_folder, pid=2345, obs=7).run_inference()
    with pytest.raises(ValueError, match="no exposures matching"):
        JwstCalPredict(mixed_folder, pid=2345, obs=8).run_inference()


def test_exp_modes_filter(mixed_folder):
    assert JwstCalPredict(mixed_folder, exp_modes=["spec"]).run_inference() == {}
    with pytest.raises(ValueError, match="unknown exp mode"):
        JwstCalPredict(mixed_folder, exp_modes=["imaging"])


def test_unusable_files_are_screened_out_and_reported(mixed_folder):
    broken = sorted(mixed_folder.glob("jw02345*_uncal.fits"))
    broken[0].write_text("not fits")
    with fits.open(broken[1], mode="update") as hdul:
        del hdul[0].header["TARGNAME"]
    predictor = JwstCalPredict(mixed_folder)
    predictions = predictor.run_inference()
    assert "jw02345-o007_t001_miri_f770w" in predictions
    assert len(predictor.rejected) == 2
    assert any("TARGNAME" in r for r in predictor.rejected)
    miri = next(e for e in predictor.estimates if "miri" in e.product)
    assert miri.n_members == 1


def test_written_associations_are_annotated_and_loadable(mixed_folder, tmp_path):
    from jwst.associations import load_asn

    predictor = JwstCalPredict(mixed_folder)
    predictor.run_inference()
    written = predictor.write_associations(mixed_folder)
    assert len(written) == 2
    for path in written:
        raw = json.loads(path.read_text())
        assert raw["products"][0]["gbSize"] > 0
        assert "/" not in raw["products"][0]["members"][0]["expname"]
        with path.open() as handle:
            load_asn(handle)


def test_command_line(mixed_folder):
    result = subprocess.run([sys.executable, "-m", "jwst_memest.predict", str(mixed_folder), "--pid", "1234"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "jw01234-o001_t001_nircam_clear-f150w" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "jwst_memest.predict", str(mixed_folder / "nope")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "not a directory" in bad.stderr


def test_shipped_example_is_what_jwst_rules_make(tmp_path):
    remade = json.loads(make_example(tmp_path).read_text())
    shipped = json.loads(example_association().read_text())
    for key in ("asn_type", "asn_rule", "program"):
        assert remade[key] == shipped[key]
    assert [p["name"] for p in remade["products"]] == [p["name"] for p in shipped["products"]]
    assert remade["products"][0]["members"] == shipped["products"][0]["members"]
    assert len(shipped["products"][0]["members"]) == EXAMPLE_LAYOUT.dither_points * len(EXAMPLE_LAYOUT.detectors)


def test_discovery_pass_finds_the_same_products(mixed_folder):
    candidates = JwstCalPredict(mixed_folder).run_inference()
    discovered = JwstCalPredict(mixed_folder, discover=True).run_inference()
    assert candidates == discovered
