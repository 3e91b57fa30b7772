"""Synthetic calints members of calwebb_coron3, calwebb_ami3 and calwebb_tso3: the header reader sees them as
the header-only exposures of the same layout, associations mark PSF references, and each pipeline runs offline."""

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.exposures import ExposureLayout, level2b_suffix, level3_pipeline_of, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.profile import corpus as corpus_module
from jwst_memest.profile.corpus import Configuration, _make_association, pipeline_of
from jwst_memest.profile.level3_exposures import level3_arguments, write_level3_exposures

LAYOUTS = {
    "NRC_CORON": dict(detectors=("NRCALONG",), filter="F335M", pupil="MASKRND", subarray="SUB320A335R",
                      subarray_shape=(320, 320), nints=3, dither_points=2, psf_exposures=2,
                      extra={"CORONMSK": "MASKA335R"}),
    "MIR_4QPM": dict(detectors=("MIRIMAGE",), filter="F1550C", pupil="N/A", subarray="MASK1550",
                     subarray_shape=(288, 224), nints=2, dither_points=2, psf_exposures=1,
                     extra={"CORONMSK": "4QPM_1550"}),
    "NIS_AMI": dict(detectors=("NIS",), filter="F480M", pupil="NRM", subarray="SUB80", subarray_shape=(80, 80),
                    nints=4, psf_exposures=1),
    "NRC_TSIMAGE": dict(detectors=("NRCA3",), filter="F210M", pupil="WLP8", subarray="SUB64P",
                        subarray_shape=(64, 64), nints=30),
    "MIR_IMAGE": dict(detectors=("MIRIMAGE",), filter="F1500W", pupil="N/A", subarray="SUB64",
                      subarray_shape=(72, 64), nints=30, tso_visit=True),
    "MIR_LRS-SLITLESS": dict(detectors=("MIRIMAGE",), filter="P750L", pupil="N/A", subarray="SLITLESSPRISM",
                             subarray_shape=(72, 416), nints=20, dither_points=2, dither_step_arcsec=0.0),
    "NRS_BRIGHTOBJ": dict(detectors=("NRS1", "NRS2"), filter="F290LP", grating="G395H", pupil="N/A",
                          subarray="SUB2048", subarray_shape=(2048, 32), nints=20),
    "NRC_TSGRISM": dict(detectors=("NRCALONG",), filter="F322W2", pupil="GRISMR", subarray="SUBGRISM64",
                        subarray_shape=(2048, 64), nints=20),
    "NIS_SOSS": dict(detectors=("NIS",), filter="CLEAR", pupil="GR700XD", subarray="SUBSTRIP256",
                     subarray_shape=(2048, 256), nints=4, ngroups=7),
}
PIPELINES = {"NRC_CORON": "coron3", "MIR_4QPM": "coron3", "NIS_AMI": "ami3", "NRC_TSIMAGE": "tso3",
             "MIR_IMAGE": "tso3", "MIR_LRS-SLITLESS": "tso3", "NRS_BRIGHTOBJ": "tso3", "NRC_TSGRISM": "tso3",
             "NIS_SOSS": "tso3"}
COMPARED = ("exp_type", "instrument", "filter", "subarray", "n_members", "n_exposures", "n_detectors",
            "n_exposure_groups", "n_integrations", "n_groups", "member_pixels", "member_bytes", "total_input_bytes",
            "offset_max")


def test_each_pipeline_writes_its_members_and_arguments_in_a_module_of_its_own():
    """coron3's, ami3's and tso3's writers are one module each; none writes another pipeline's members."""
    import importlib

    from jwst_memest.profile import level3_exposures

    for exp_type, pipeline in PIPELINES.items():
        layout = ExposureLayout(exp_type=exp_type, **LAYOUTS[exp_type])
        assert level3_exposures._writers(layout).__name__ == f"jwst_memest.profile.{pipeline}_writers"
    for pipeline in set(PIPELINES.values()):
        module = importlib.import_module(f"jwst_memest.profile.{pipeline}_writers")
        assert {"prepare", "member_model", "pipeline_arguments"} <= set(module.__all__)
    from jwst_memest.profile import tso3_writers

    coron = ExposureLayout(exp_type="NRC_CORON", **LAYOUTS["NRC_CORON"])
    with pytest.raises(ValueError, match="no synthetic calints writer for exposure type NRC_CORON"):
        tso3_writers.member_model(coron, "NRCALONG", 1, 1, (0.0, 0.0), False, np.random.default_rng(1))


@pytest.mark.parametrize("exp_type", list(LAYOUTS))
def test_calints_and_header_only_exposures_give_the_same_features(tmp_path, exp_type):
    layout = ExposureLayout(exp_type=exp_type, **LAYOUTS[exp_type])
    pipeline = PIPELINES[exp_type]
    assert level3_pipeline_of(layout) == pipeline == pipeline_of(layout) and level2b_suffix(layout) == "calints"
    paths = write_level3_exposures(layout, tmp_path / "calints", np.random.default_rng(1))
    assert all(p.name.endswith("_calints.fits") for p in paths)
    header_layout = ExposureLayout(exp_type=exp_type, suffix="calints", **LAYOUTS[exp_type])
    headers = write_header_exposures(header_layout, tmp_path / "headers")
    assert [p.name for p in paths] == [p.name for p in headers]
    cal_features = product_features([read_exposure_metadata(p) for p in paths], pipeline)
    header_features = product_features([read_exposure_metadata(p) for p in headers], pipeline)
    # what the estimator sees: the encoded vectors (MIRI's absent PUPIL and "N/A" both encode as unknown)
    np.testing.assert_allclose(cal_features.vector(), header_features.vector(), rtol=1e-6, atol=1e-6)
    from_cal, from_headers = cal_features.values, header_features.values
    assert {k: from_cal[k] for k in COMPARED} == pytest.approx({k: from_headers[k] for k in COMPARED}, abs=1e-6)
    columns, rows = LAYOUTS[exp_type]["subarray_shape"]
    assert from_cal["n_integrations"] == LAYOUTS[exp_type]["nints"]
    assert from_cal["member_bytes"] == 28 * columns * rows * LAYOUTS[exp_type]["nints"]
    with fits.open(paths[0]) as hdul:
        assert hdul["SCI"].data.shape == (LAYOUTS[exp_type]["nints"], rows, columns)
        assert len(hdul["INT_TIMES"].data) == LAYOUTS[exp_type]["nints"]
        assert hdul[0].header["TSOVISIT"] == (pipeline == "tso3")


@pytest.mark.parametrize("exp_type", ["NRC_CORON", "NIS_AMI"])
def test_psf_references_are_flagged_and_become_psf_members(tmp_path, exp_type):
    layout = ExposureLayout(exp_type=exp_type, **LAYOUTS[exp_type])
    paths = write_level3_exposures(layout, tmp_path, np.random.default_rng(2))
    header_paths = write_header_exposures(ExposureLayout(exp_type=exp_type, suffix="calints", **LAYOUTS[exp_type]),
                                          tmp_path / "headers")
    n_psf = layout.psf_exposures * len(layout.detectors)
    for written in (paths, header_paths):
        flags = [fits.getval(p, "IS_PSF") for p in written]
        assert flags == [False] * (len(written) - n_psf) + [True] * n_psf
    asn = json.loads(_make_association(paths, tmp_path, "jw01234-o001_t001_test", PIPELINES[exp_type]).read_text())
    assert asn["asn_type"] == PIPELINES[exp_type]
    exptypes = {m["expname"]: m["exptype"] for m in asn["products"][0]["members"]}
    assert sorted(exptypes.values()) == sorted(["science"] * (len(paths) - n_psf) + ["psf"] * n_psf)
    assert all(exptypes[p.name] == "psf" for p in paths[-n_psf:])


def test_arguments_give_each_pipeline_its_synthetic_references(tmp_path):
    from stdatamodels.jwst import datamodels

    coron = level3_arguments(ExposureLayout(exp_type="NRC_CORON", **LAYOUTS["NRC_CORON"]), tmp_path / "coron")
    assert [a.split("=")[0] for a in coron] == ["--steps.align_refs.override_psfmask"]
    with datamodels.open(coron[0].split("=", 1)[1]) as mask:
        assert mask.data.shape == (320, 320) and mask.data.min() == 0 and mask.data.max() == 1
    ami = dict(a.split("=", 1) for a in level3_arguments(ExposureLayout(exp_type="NIS_AMI", **LAYOUTS["NIS_AMI"]),
                                                         tmp_path / "ami"))
    with datamodels.NRMModel(ami["--steps.ami_analyze.override_nrm"]) as nrm:
        assert nrm.nrm.shape == (1024, 1024) and 0 < nrm.nrm.mean() < 0.2 and nrm.y_a1 == -2.64
    with datamodels.ThroughputModel(ami["--steps.ami_analyze.override_throughput"]) as throughput:
        assert throughput.meta.instrument.filter == "F480M" and throughput.filter_table["throughput"].max() > 0.5
    imaging = level3_arguments(ExposureLayout(exp_type="NRC_TSIMAGE", **LAYOUTS["NRC_TSIMAGE"]), tmp_path / "tso")
    assert [a.split("=")[0] for a in imaging] == ["--steps.tso_photometry.override_gain"]
    spectral = level3_arguments(ExposureLayout(exp_type="MIR_LRS-SLITLESS", **LAYOUTS["MIR_LRS-SLITLESS"]),
                                tmp_path / "lrs")
    assert "--steps.extract_1d.override_extract1d=N/A" in spectral and spectral[0].startswith(
        "--steps.tso_photometry.override_gain=")
    assert not any(".skip=" in a for a in coron + list(ami) + imaging + spectral)


SOSS_96 = dict(LAYOUTS["NIS_SOSS"], subarray="SUBSTRIP96", subarray_shape=(2048, 96), nints=2)


@pytest.mark.parametrize("layout", [LAYOUTS["NIS_SOSS"], SOSS_96], ids=["SUBSTRIP256", "SUBSTRIP96"])
def test_soss_calints_are_what_spec2_leaves_with_the_traces_of_the_synthetic_references(tmp_path, layout):
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.soss_references import SOSS_PWCPOS, SOSS_SUBARRAY_ROWS, soss_trace

    (path,) = write_level3_exposures(ExposureLayout(exp_type="NIS_SOSS", **layout), tmp_path, np.random.default_rng(3))
    columns, rows = layout["subarray_shape"]
    header = fits.getheader(path)
    assert (header["EXP_TYPE"], header["FILTER"], header["PUPIL"], header["SUBARRAY"]) == (
        "NIS_SOSS", "CLEAR", "GR700XD", layout["subarray"])
    assert header["PWCPOS"] == SOSS_PWCPOS and header["NGROUPS"] == 7 and header["TSOVISIT"]
    with datamodels.CubeModel(path) as model:
        assert model.data.shape == (layout["nints"], rows, columns) and model.meta.bunit_data == "DN/s"
        assert model.meta.subarray.ystart == 1793 + SOSS_SUBARRAY_ROWS[layout["subarray"]][0]
        # order 1 is where the references put it: the brightest row of a column is within the horns
        for column in (300, 1000, 1700):
            expected = soss_trace(1, np.array([column]))[0][0] - SOSS_SUBARRAY_ROWS[layout["subarray"]][0]
            assert abs(np.argmax(model.data[0, :, column]) - expected) <= 8
        assert np.all(model.dq[:, :, :4] & datamodels.dqflags.pixel["REFERENCE_PIXEL"])
        assert np.all(model.err > 0) and np.isfinite(model.data).all()


@pytest.mark.parametrize("subarray, rows", [("SUBSTRIP256", 256), ("SUBSTRIP96", 96)])
def test_jwst_reads_the_synthetic_soss_references_back_as_the_writer_traces(tmp_path, subarray, rows):
    """extract_1d's own reader (jwst's pastasoss and get_ref_file_args) gives every order's trace and wavelength
    where the calints writer put them, profiles of the subarray's shape and a kernel for every order."""
    from jwst.extract_1d.soss_extract.soss_extract import get_ref_file_args
    from stdatamodels.jwst import datamodels

    from jwst_memest.profile.soss_references import SOSS_ORDERS, SOSS_PWCPOS, SOSS_SUBARRAY_ROWS, soss_trace

    layout = dict(LAYOUTS["NIS_SOSS"], subarray=subarray, subarray_shape=(2048, rows))
    args = dict(a.split("=", 1) for a in level3_arguments(ExposureLayout(exp_type="NIS_SOSS", **layout), tmp_path))
    for reftype in ("pastasoss", "specprofile", "speckernel"):
        assert Path(args[f"--steps.extract_1d.override_{reftype}"]).is_file()
    for reftype in ("extract1d", "apcorr", "psf"):
        assert args[f"--steps.extract_1d.override_{reftype}"] == "N/A"
    assert Path(args["--steps.photom.override_photom"]).is_file() and args["--steps.photom.override_area"] == "N/A"
    assert Path(args["--steps.white_light.override_wavelengthrange"]).is_file()
    assert "--steps.extract_1d.soss_atoca" not in args  # ATOCA, as in operations
    references = {"pastasoss": datamodels.PastasossModel(args["--steps.extract_1d.override_pastasoss"]),
                  "spec_profiles": datamodels.SpecProfileModel(args["--steps.extract_1d.override_specprofile"]),
                  "speckernel": datamodels.SpecKernelModel(args["--steps.extract_1d.override_speckernel"]),
                  "subarray": subarray, "pwcpos": SOSS_PWCPOS}
    orders = get_ref_file_args(references)
    assert [o.spectral_order for o in orders] == list(SOSS_ORDERS)
    offset = SOSS_SUBARRAY_ROWS[subarray][0]
    for model in orders:
        assert model.wavemap.shape == model.specprofile.shape == (rows, 2048)
        x, y, wavelength = model.trace
        expected_y, expected_wavelength = soss_trace(model.spectral_order, x)
        np.testing.assert_allclose(y, expected_y - offset, atol=0.05)
        np.testing.assert_allclose(wavelength, expected_wavelength, atol=1e-4)
        assert np.all(model.specprofile.sum(axis=0) <= 1.0 + 1e-5)
        assert model.kernel.n_pix == 15 and model.kernel.wave_center.size >= 4  # enough kernels to interpolate
    assert np.allclose(orders[0].specprofile.sum(axis=0), 1.0, atol=1e-4)  # order 1 lies wholly inside
    with datamodels.NisSossPhotomModel(args["--steps.photom.override_photom"]) as photom:
        assert sorted(photom.phot_table["order"]) == [1, 2, 3]


def test_the_offline_crds_context_answers_only_readnoise(tmp_path, monkeypatch):
    """calwebb_tso3 prefetches READNOISE, which no step lets be overridden: the private context says N/A."""
    from jwst_memest.profile.run import crds_free_env

    for key, value in crds_free_env(tmp_path / "crds").items():
        monkeypatch.setenv(key, value)
    from stpipe import crds_client

    parameters = {"meta.instrument.name": "NIRCAM", "meta.exposure.type": "NRC_TSIMAGE",
                  "meta.observation.date": "2024-01-10", "meta.observation.time": "10:00:00"}
    assert crds_client.get_multiple_reference_paths(parameters, ["readnoise"], "jwst") == {"readnoise": "N/A"}
    with pytest.raises(Exception, match="gain"):
        crds_client.get_multiple_reference_paths(parameters, ["gain"], "jwst")


SMOKE = {
    "coron3": dict(exp_type="NRC_CORON", detectors=["NRCALONG"], filter="F335M", pupil="MASKRND",
                   subarray="SUB320A335R", subarray_shape=[320, 320], nints=4, dither_points=2, psf_exposures=1,
                   extra={"CORONMSK": "MASKA335R"}),
    "ami3": dict(exp_type="NIS_AMI", detectors=["NIS"], filter="F480M", pupil="NRM", subarray="SUB80",
                 subarray_shape=[80, 80], nints=3, psf_exposures=1),
    "tso3-imaging": dict(exp_type="NRC_TSIMAGE", detectors=["NRCA3"], filter="F210M", pupil="WLP8",
                         subarray="SUB64P", subarray_shape=[64, 64], nints=50),
    "tso3-spectroscopy": dict(exp_type="MIR_LRS-SLITLESS", detectors=["MIRIMAGE"], filter="P750L", pupil="N/A",
                              subarray="SLITLESSPRISM", subarray_shape=[72, 416], nints=50),
    "tso3-nirspec": dict(exp_type="NRS_BRIGHTOBJ", detectors=["NRS1"], filter="F290LP", grating="G395H",
                         pupil="N/A", subarray="SUB2048", subarray_shape=[2048, 32], nints=50),
    "tso3-grism": dict(exp_type="NRC_TSGRISM", detectors=["NRCALONG"], filter="F322W2", pupil="GRISMR",
                       subarray="SUBGRISM64", subarray_shape=[2048, 64], nints=40),
}
STEPS = {"coron3": ("align_refs", "klip", "outlier_detection", "resample"), "ami3": ("ami_analyze",),
         "tso3-imaging": ("tso_photometry",), "tso3-spectroscopy": ("extract_1d", "outlier_detection"),
         "tso3-nirspec": ("extract_1d", "outlier_detection"), "tso3-grism": ("extract_1d", "outlier_detection")}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SMOKE))
def test_end_to_end_profile_of_coron3_ami3_tso3(tmp_path, name):
    row = corpus_module.run_configuration(Configuration(f"slow-{name}", SMOKE[name]), scratch_root=str(tmp_path))
    assert row["status"] == "ok", row
    assert row["pipeline"] == name.split("-")[0] and row["exp_type"] == SMOKE[name]["exp_type"]
    assert row["n_integrations"] == SMOKE[name]["nints"]
    assert 0.2 < row["measured_gb"] < 4
    assert set(STEPS[name]) <= set(json.loads(row["step_peaks"]))


SOSS_SMOKE = dict(exp_type="NIS_SOSS", detectors=["NIS"], filter="CLEAR", pupil="GR700XD", subarray="SUBSTRIP256",
                  subarray_shape=[2048, 256], nints=5)


@pytest.mark.slow
def test_end_to_end_profile_of_soss_with_atoca(tmp_path):
    """calwebb_tso3 on NIRISS SOSS offline, extract_1d with ATOCA as in operations (about 2 minutes, most of it
    building and inverting ATOCA's design matrix once), then photom and white_light on the extracted orders."""
    row = corpus_module.run_configuration(Configuration("slow-tso3-soss", SOSS_SMOKE), scratch_root=str(tmp_path))
    assert row["status"] == "ok", row
    assert row["pipeline"] == "tso3" and row["exp_type"] == "NIS_SOSS" and row["n_integrations"] == 5
    peaks = json.loads(row["step_peaks"])
    assert {"outlier_detection", "extract_1d", "photom", "white_light"} <= set(peaks)
    # ATOCA's dense matrices over its wavelength grid (11000-13000 points) set the peak, far above the 73 MB cube
    assert max(peaks, key=peaks.get) == "extract_1d" and 3 < row["measured_gb"] < 12


MEASURED_LIKE = {  # a configuration of each pipeline's measured corpus (data/corpus/<pipeline>.csv)
    "coron3": dict(exp_type="NRC_CORON", detectors=("NRCALONG",), filter="F335M", pupil="MASKRND",
                   subarray="SUB320A335R", subarray_shape=(320, 320), dither_points=2, dither_step_arcsec=0.0,
                   psf_exposures=1, nints=10, extra={"CORONMSK": "MASKA335R"}),
    "ami3": dict(exp_type="NIS_AMI", detectors=("NIS",), filter="F480M", pupil="NRM", subarray="SUB80",
                 subarray_shape=(80, 80), psf_exposures=1, nints=5),
    "tso3": dict(exp_type="NRC_TSIMAGE", detectors=("NRCA3",), filter="F210M", pupil="WLP8", subarray="SUB64P",
                 subarray_shape=(64, 64), nints=500, tso_visit=True),
}


@pytest.mark.parametrize("pipeline", list(MEASURED_LIKE))
def test_each_measured_pipeline_is_estimated_by_its_own_calibrated_terms(tmp_path, pipeline):
    from jwst_memest.estimation import estimate_association
    from jwst_memest.model.baseline import load_baseline
    from jwst_memest.model.fitting import TERMS

    baseline = load_baseline(pipeline)
    assert baseline.terms == pipeline and set(baseline.coefficients) == set(TERMS[pipeline])
    layout = ExposureLayout(**MEASURED_LIKE[pipeline], suffix="calints")
    asn = _make_association(write_header_exposures(layout, tmp_path), tmp_path, f"jw01234-o001_t001_{pipeline}", pipeline)
    (product,) = estimate_association(asn).products
    assert product.calibrated, product.uncalibrated_reasons
    assert not [w for w in product.warnings if "no measured" in w]
    assert product.estimator["name"] == f"physics_baseline_{pipeline}"
    assert product.peak_step in baseline.stages(product.features.vector()[None, :])


def test_soss_extraction_holds_atocas_model_on_top_of_the_cube():
    from jwst_memest.model.baseline import PhysicsBaseline, load_baseline

    installed = load_baseline("tso3")
    baseline = PhysicsBaseline("tso3", dict(installed.coefficients, soss_atoca_bytes=5e9), installed.upper_bound, "t",
                               terms="tso3")
    names, exp_type = baseline.schema.names, baseline.schema["exp_type"]
    X = np.zeros((2, len(names)))
    X[:, names.index("total_input_bytes")] = X[:, names.index("member_bytes")] = 28 * 2048 * 256 * 10
    X[:, names.index("n_integrations")] = 10
    X[0, names.index("exp_type")] = exp_type.encode("NIS_SOSS")
    X[1, names.index("exp_type")] = exp_type.encode("NRS_BRIGHTOBJ")
    stages = baseline.stages(X)
    assert stages["extract_1d"][0] - stages["extract_1d"][1] == pytest.approx(5e9)
    assert stages["outlier_detection"][0] == stages["outlier_detection"][1]
    # ten integrations of SOSS: ATOCA, not the cube, sets the peak
    assert baseline.breakdown(X)[0][1] == "extract_1d"


def test_coron3_klip_grows_with_the_psf_references_the_headers_name(tmp_path):
    from jwst_memest.features.build import product_features
    from jwst_memest.metadata import read_exposure_metadata
    from jwst_memest.model.baseline import load_baseline
    from jwst_memest.model.terms import with_settings

    def features(psf_exposures):
        layout = ExposureLayout(exp_type="MIR_4QPM", detectors=("MIRIMAGE",), filter="F1550C", pupil="N/A",
                                subarray="MASK1550", subarray_shape=(288, 224), dither_points=2, dither_step_arcsec=0.0,
                                psf_exposures=psf_exposures, nints=15, suffix="calints")
        directory = tmp_path / str(psf_exposures)
        return product_features([read_exposure_metadata(p) for p in write_header_exposures(layout, directory)], "coron3")

    few, many = features(1), features(10)
    cube = 28 * 288 * 224 * 15
    assert few.psf_input_bytes == cube and many.psf_input_bytes == 10 * cube  # IS_PSF members only
    baseline = load_baseline("coron3")
    stages = [baseline.stages(with_settings(f.vector()[None, :], [None], [1.0], [f.psf_input_bytes])) for f in (few, many)]
    klip_growth = stages[1]["klip"][0] - stages[0]["klip"][0]
    resident_growth = stages[1]["members held in memory"][0] - stages[0]["members held in memory"][0]
    assert klip_growth > resident_growth + 0.5 * 9 * cube  # the KLIP basis grows with the PSF stack, not only the input
