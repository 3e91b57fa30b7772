"""Ingest of operations metadata into training tables."""

import subprocess
import sys

import pytest
from astropy.io import fits

from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.training.ingest import ingest, parse_product_name

pd = pytest.importorskip("pandas")


def _exposure_rows(layout, directory):
    rows = []
    for path in write_header_exposures(layout, directory):
        with fits.open(path) as hdul:
            row = {k: v for k, v in {**hdul[0].header, **hdul["SCI"].header}.items() if k not in ("", "COMMENT", "HISTORY")}
        row["DagNodeName"] = path.name.rsplit("_", 1)[0]
        rows.append(row)
    return rows


def _day(raw, name, rows):
    pd.DataFrame(rows).to_csv(raw / name, index=False)


def test_two_days_with_carry_over_and_reprocessing(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "train"
    raw.mkdir()
    obs1 = _exposure_rows(ExposureLayout(observation=1, dither_points=4), tmp_path / "e1")
    obs2 = _exposure_rows(ExposureLayout(observation=2, detectors=("MIRIMAGE",), exp_type="MIR_IMAGE",
                                         filter="F770W", pupil="N/A", dither_points=3), tmp_path / "e2")
    _day(raw, "2024-01-01_001.csv", obs1 + obs2 + [{"DagNodeName": "jw01234-o001_t001_nircam_clear-f150w", "ImageSize": 2.0e6}])
    assert ingest(raw, out, prefix="2024-01-01") == {"image": 1, "spec": 0}
    table = pd.read_csv(out / "train-image.csv")
    assert list(table["pname"]) == ["jw01234-o001_t001_nircam_clear-f150w"]
    assert table["n_members"].iloc[0] == 4 and table["imgsize_gb"].iloc[0] == pytest.approx(2.0)
    assert len(pd.read_csv(out / "ingest.csv")) == 3  # MIRI exposures wait for their product

    _day(raw, "2024-01-02_002.csv", [{"DagNodeName": "jw01234-o002_t001_miri_f770w", "ImageSize": 1.5e6},
                                     {"DagNodeName": "jw01234-o001_t001_nircam_clear-f150w", "ImageSize": 2.5e6}])
    ingest(raw, out, prefix="2024-01-02")
    table = pd.read_csv(out / "train-image.csv").set_index("pname")
    assert table.loc["jw01234-o002_t001_miri_f770w", "n_members"] == 3
    assert len(table) == 2
    # the reprocessed NIRCam product has no exposures today: same features, the newer measurement
    assert table.loc["jw01234-o001_t001_nircam_clear-f150w", "imgsize_gb"] == pytest.approx(2.5)
    assert table.loc["jw01234-o001_t001_nircam_clear-f150w", "n_members"] == 4
    assert len(pd.read_csv(out / "ingest.csv")) == 0


def test_reprocessed_product_takes_the_newer_measurement(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "train"
    raw.mkdir()
    rows = _exposure_rows(ExposureLayout(dither_points=2), tmp_path / "e")
    product = "jw01234-o001_t001_nircam_clear-f150w"
    _day(raw, "2024-02-01_032.csv", rows + [{"DagNodeName": product, "ImageSize": 1.0e6}])
    _day(raw, "2024-03-01_061.csv", rows + [{"DagNodeName": product, "ImageSize": 3.0e6}])
    ingest(raw, out)
    table = pd.read_csv(out / "train-image.csv")
    assert len(table) == 1 and table["imgsize_gb"].iloc[0] == pytest.approx(3.0) and table["date"].iloc[0] == "2024-03-01"


def test_ingested_features_equal_the_step_features(tmp_path):
    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata

    raw, out = tmp_path / "raw", tmp_path / "train"
    raw.mkdir()
    layout = ExposureLayout(dither_points=3, detectors=("NRCA1", "NRCA2"))
    rows = _exposure_rows(layout, tmp_path / "e")
    _day(raw, "2024-01-01_001.csv", rows + [{"DagNodeName": "jw01234-o001_t001_nircam_clear-f150w", "ImageSize": 1e6}])
    ingest(raw, out)
    ingested = pd.read_csv(out / "train-image.csv").iloc[0]
    step = product_features([read_exposure_metadata(p) for p in sorted((tmp_path / "e").glob("*.fits"))]).values
    for name in ("n_members", "member_pixels", "output_pixels", "offset_max", "target_offset_mean", "detector"):
        assert ingested[name] == pytest.approx(step[name]) if isinstance(step[name], float) else ingested[name] == step[name]


def test_product_names_parse():
    assert parse_product_name("jw01234-o001_t001_nircam_clear-f150w")["elements"] == {"clear", "f150w"}
    assert parse_product_name("jw01234001001_03101_00001_nrca1") is None


def test_bad_raw_input(tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        ingest(tmp_path / "none", tmp_path / "out")
    (tmp_path / "raw").mkdir()
    with pytest.raises(ValueError, match="no YYYY-MM-DD_DOY.csv"):
        ingest(tmp_path / "raw", tmp_path / "out")
    (tmp_path / "raw" / "2024-01-01_001.csv").write_text("a,b\n1,2\n")
    result = subprocess.run([sys.executable, "-m", "jwst_memest.training.ingest", "-i", str(tmp_path / "raw"),
                             "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "missing column DagNodeName" in result.stderr and "Traceback" not in result.stderr


def test_mrs_product_keeps_its_channel_and_leaves_the_parallel_imager_out(tmp_path):
    from jwst_memest.features.schema import load_schema
    from jwst_memest.tables import load_training_data

    raw, out = tmp_path / "raw", tmp_path / "train"
    raw.mkdir()
    mrs = _exposure_rows(ExposureLayout(observation=3, exp_type="MIR_MRS", detectors=("MIRIFUSHORT",), filter="N/A",
                                        pupil="N/A", channel="12", band="SHORT", dither_points=4), tmp_path / "mrs")
    imager = _exposure_rows(ExposureLayout(observation=3, exp_type="MIR_IMAGE", detectors=("MIRIMAGE",),
                                           filter="F770W", pupil="N/A", dither_points=2), tmp_path / "img")
    product = "jw01234-o003_t001_miri_ch1-short"
    _day(raw, "2024-04-01_092.csv", mrs + imager + [{"DagNodeName": product, "ImageSize": 4.0e6}])
    assert ingest(raw, out) == {"image": 0, "spec": 1}
    table = pd.read_csv(out / "train-spec.csv", dtype=str).set_index("pname")
    assert table.loc[product, "channel"] == "12" and table.loc[product, "n_members"] == "4"
    assert len(pd.read_csv(out / "ingest.csv")) == 2  # the imager exposures wait for their own product
    data = load_training_data(out, "spec", folds=None)
    schema = load_schema("spec3")
    assert data.X[0, schema.names.index("channel")] == schema["channel"].encode("12") > 0
    assert data.X[0, schema.names.index("exp_type")] == schema["exp_type"].encode("MIR_MRS")


def test_candidate_product_spans_observations_and_unmeasured_products_are_left_out(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "train"
    raw.mkdir()
    rows = (_exposure_rows(ExposureLayout(observation=1, dither_points=2), tmp_path / "o1")
            + _exposure_rows(ExposureLayout(observation=2, dither_points=3), tmp_path / "o2"))
    _day(raw, "2024-05-01_122.csv", rows + [
        {"DagNodeName": "jw01234-c1000_t001_nircam_clear-f150w", "ImageSize": 8.0e6},
        {"DagNodeName": "jw01234-o001_t001_nircam_clear-f200w", "ImageSize": ""},
    ])
    assert ingest(raw, out) == {"image": 1, "spec": 0}
    table = pd.read_csv(out / "train-image.csv")
    assert list(table["pname"]) == ["jw01234-c1000_t001_nircam_clear-f150w"] and table["n_members"].iloc[0] == 5
    assert len(pd.read_csv(out / "ingest.csv")) == 0


def test_source_based_product_names_parse():
    parsed = parse_product_name("jw01234-o005_s00017_nirspec_f290lp-g395h")
    assert parsed["observation"] == "005" and parsed["elements"] == {"f290lp", "g395h"}
    assert parse_product_name("jw01234-c1001_t002-epoch1_nircam_clear-f200w")["observation"] is None


def test_coronagraphy_and_time_series_products_keep_their_own_pipelines_features(tmp_path):
    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata

    raw, out = tmp_path / "raw", tmp_path / "train"
    raw.mkdir()
    coron = ExposureLayout(exp_type="NRC_CORON", detectors=("NRCALONG",), filter="F335M", pupil="MASKRND",
                           subarray="SUB320A335R", subarray_shape=(320, 320), nints=50)
    tso = ExposureLayout(observation=2, exp_type="NRC_TSIMAGE", detectors=("NRCA3",), filter="F210M", pupil="WLP8",
                         subarray="SUB64P", subarray_shape=(64, 64), nints=400)
    rows = _exposure_rows(coron, tmp_path / "c") + _exposure_rows(tso, tmp_path / "t")
    _day(raw, "2024-01-01_001.csv", rows + [
        {"DagNodeName": "jw01234-o001_t001_nircam_f335m-maskrnd-sub320a335r", "ImageSize": 1e6},
        {"DagNodeName": "jw01234-o002_t001_nircam_f210m-wlp8-sub64p", "ImageSize": 2e6}])
    assert ingest(raw, out) == {"image": 1, "spec": 1}
    ingested = pd.read_csv(out / "train-image.csv").iloc[0]
    step = product_features([read_exposure_metadata(p) for p in sorted((tmp_path / "c").glob("*.fits"))], "coron3")
    assert ingested["member_bytes"] == pytest.approx(step.values["member_bytes"])
    assert ingested["member_bytes"] == pytest.approx(28 * 320 * 320 * 50)  # every integration counted
    series = pd.read_csv(out / "train-spec.csv").iloc[0]  # calwebb_tso3's products are described by spec3's features
    assert series["n_integrations"] == 400 and series["exp_type"] == "NRC_TSIMAGE"
