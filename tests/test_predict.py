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


def test_estimates_shared_among_processes_are_those_made_in_one(mixed_folder, monkeypatch, caplog):
    import jwst_memest.predict as folder_mode

    nirspec = ExposureLayout(program=3456, detectors=("NRS1",), exp_type="NRS_MSASPEC", filter="F170LP",
                             pupil="N/A", grating="G235H", dither_points=2)
    # MOS exposures without their MSA metadata file: their calwebb_spec2 is reported as not estimated
    write_header_exposures(nirspec, mixed_folder)
    serial = JwstCalPredict(mixed_folder, workers=1)
    serial.run_inference()
    serial_log = [r.getMessage() for r in caplog.records if "not estimated" in r.getMessage()]
    caplog.clear()
    monkeypatch.setattr(folder_mode, "PARALLEL_ESTIMATE_MIN_EXPOSURES", 1)
    shared = JwstCalPredict(mixed_folder, workers=2)
    shared.run_inference()
    assert shared.records() == serial.records()
    assert [e.product for e in shared.estimates] == [e.product for e in serial.estimates]
    assert [(e.path, e.pipeline) for e in shared.exposure_estimates] == [
        (e.path, e.pipeline) for e in serial.exposure_estimates]
    assert len(serial.exposure_estimates) > len(serial.estimates) > 1
    # the exposures not estimated are reported once, by this process, as when one process estimates them all
    assert [r.getMessage() for r in caplog.records if "not estimated" in r.getMessage()] == serial_log != []


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


def test_written_associations_name_members_as_the_pipeline_reads_them(mixed_folder, tmp_path):
    predictor = JwstCalPredict(mixed_folder)
    predictor.run_inference()
    elsewhere = tmp_path / "associations"
    for path in predictor.write_associations(elsewhere):
        for member in json.loads(path.read_text())["products"][0]["members"]:
            # a file name beside the association, at the level calwebb_image3 takes
            assert member["expname"] == member["expname"].rsplit("/", 1)[-1]
            assert member["expname"].endswith("_cal.fits")


def test_every_estimate_written_as_json_or_csv(mixed_folder, tmp_path, capsys):
    import pandas as pd

    from jwst_memest.predict_cli import main

    assert main([str(mixed_folder), "--output", str(tmp_path / "estimates.json")]) == 0
    assert main([str(mixed_folder), "--output", str(tmp_path / "estimates.csv")]) == 0
    written = json.loads((tmp_path / "estimates.json").read_text())
    records = {r["product"]: r for r in written if "product" in r}
    stages = {(r["exposure"], r["pipeline"]): r for r in written if "exposure" in r}
    table = pd.read_csv(tmp_path / "estimates.csv").set_index("product")
    before = ("calwebb_detector1", "calwebb_image2")
    level3 = table[~table["pipeline"].isin(before)]
    assert set(records) == set(level3.index) == {"jw01234-o001_t001_nircam_clear-f150w", "jw02345-o007_t001_miri_f770w"}
    # the folder's uncal (imaging) files: each one's calwebb_detector1 and calwebb_image2 runs, in both outputs
    uncal = sorted(p.name for p in mixed_folder.glob("*_uncal.fits"))
    assert uncal and sorted(stages) == sorted((name, stage) for name in uncal for stage in before)
    for stage in before:
        assert sorted(table[table["pipeline"] == stage].index) == uncal
    assert all(r["memory_estimate"]["peak_step"] in r["memory_estimate"]["breakdown"] for r in stages.values())
    for product, record in records.items():
        assert record["association"].endswith("_asn.json")
        assert table.loc[product, "gbSize"] == pytest.approx(record["gbSize"])
        assert table.loc[product, "upper_bound_gb"] == pytest.approx(record["memory_estimate"]["upper_bound_gb"])
        assert table.loc[product, "upper_bound_gb"] >= table.loc[product, "gbSize"]
    printed = capsys.readouterr().out
    assert "request" in printed and "peak step" in printed and "physics_baseline_image3" in printed
    assert "calwebb_detector1" in printed and "calwebb_image2" in printed and uncal[0] in printed
    assert main([str(mixed_folder), "--output", str(tmp_path / "estimates.txt")]) == 2
    assert "must end in .json or .csv" in capsys.readouterr().err
    assert not (tmp_path / "estimates.txt").exists()


def test_folder_mode_takes_the_steps_option_names(mixed_folder, tmp_path, capsys):
    from jwst_memest.predict_cli import main

    def upper(*options):
        out = tmp_path / "e.json"
        assert main([str(mixed_folder), "--pid", "1234", "--output", str(out), *options]) == 0
        return json.loads(out.read_text())[0]["memory_estimate"]

    default = upper()
    assert upper("--upper_quantile", "0.99")["upper_bound_gb"] > default["upper_bound_gb"]
    on_disk = upper("--in_memory=false")
    assert on_disk["pipeline_parameters"]["in_memory"] is False and on_disk["upper_bound_gb"] < default["upper_bound_gb"]
    assert upper("--on-disk")["upper_bound_gb"] == on_disk["upper_bound_gb"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main([str(mixed_folder), "--upper_quantile=1.5"])
    assert stop.value.code == 2 and "0.5 to 1.0" in capsys.readouterr().err


def test_exposures_that_form_no_product_are_counted_and_explained(mixed_folder, caplog):
    write_header_exposures(ExposureLayout(program=1234, observation=3, detectors=("NRCA1",), exp_type="NRC_TACQ",
                                          dither_points=1), mixed_folder)
    predictor = JwstCalPredict(mixed_folder, exp_modes=["image"])
    with caplog.at_level("WARNING", logger="jwst_memest.predict"):
        predictor.run_inference()
    assert predictor.unused == {"jw01234003001_03101_00001_nrca1": "NRC_TACQ: in no Level-3 product jwst's rules "
                                                                   "make from this folder"}
    assert "1 exposure(s) form no product (NRC_TACQ" in caplog.text
    only_spec = JwstCalPredict(mixed_folder, exp_modes=["spec"])
    with caplog.at_level("WARNING", logger="jwst_memest.predict"):
        only_spec.run_inference()
    left_out = [s for s, why in only_spec.unused.items() if "left out by the exp modes" in why]
    assert len(left_out) == 11  # 4 dithers x 2 detectors + 3 MIRI dithers
    assert "11 exposure(s) form no product (only in image3 products" in caplog.text and "and 8 more" in caplog.text


def test_folder_mode_follows_the_runs_settings_as_the_pipeline_takes_them(mixed_folder, tmp_path, capsys):
    from jwst_memest.predict_cli import main

    def block(*options):
        out = tmp_path / "e.json"
        assert main([str(mixed_folder), "--pid", "1234", "--output", str(out), *options]) == 0
        return json.loads(out.read_text())[0]["memory_estimate"]

    default = block()
    finer = block("--steps.resample.pixel_scale_ratio=0.5", "--steps.resample.enable_ctx=false")
    assert finer["pipeline_parameters"] == {"in_memory": True, "steps.resample.pixel_scale_ratio": 0.5,
                                            "steps.resample.enable_ctx": False}
    assert finer["breakdown"]["resample"] > 1.5 * default["breakdown"]["resample"]
    config = tmp_path / "image3.asdf"
    config.write_text("#ASDF 1.0.0\n#ASDF_STANDARD 1.5.0\n%YAML 1.1\n%TAG ! tag:stsci.edu:asdf/\n--- !core/asdf-1.1.0\n"
                      "class: jwst.pipeline.Image3Pipeline\nname: calwebb_image3\nparameters:\n  in_memory: false\n...\n")
    assert block("--pipeline_config", str(config))["pipeline_parameters"] == {"in_memory": False}
    capsys.readouterr()
    assert main([str(mixed_folder), "--steps.resample.pixel_scale_ratio=0"]) == 2
    assert "pixel_scale_ratio=0: must be a number above 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main([str(mixed_folder), "--resample"])
    assert stop.value.code == 2
