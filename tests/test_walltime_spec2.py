"""calwebb_spec2's wall time per MIRI LRS exposure: the work terms, the installed model's fit, and the
estimate of a rateints header carrying it as detector1's does."""

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic_runs import lrs_rateints

from jwst_memest.model.image2 import Image2Inputs
from jwst_memest.model.walltime import SPEC2, load_walltime, spec2_work_terms

CORPUS = Path(__file__).parents[1] / "data" / "corpus" / "spec2.csv"


def _slitless(nints: int) -> Image2Inputs:
    return Image2Inputs(instrument="MIRI", exp_type="MIR_LRS-SLITLESS", ny=416, nx=72, nints=nints,
                        full_frame_pixels=1024 * 1032)


def _fixed_slit() -> Image2Inputs:
    return Image2Inputs(instrument="MIRI", exp_type="MIR_LRS-FIXEDSLIT", ny=1024, nx=1032, nints=1,
                        full_frame_pixels=1024 * 1032)


def test_terms_read_the_inputs_or_an_estimates_record_of_them():
    for inputs in (_slitless(500), _fixed_slit()):
        assert {k: float(v[0]) for k, v in spec2_work_terms([inputs]).items()} == {
            k: float(v[0]) for k, v in spec2_work_terms([inputs.to_dict()]).items()}
    series, slit = spec2_work_terms([_slitless(500), _fixed_slit()])["resample_pixel"]
    assert series == 0 and slit == 1024 * 1032  # only the fixed slit is resampled to an s2d
    assert spec2_work_terms([_slitless(500)])["per_integration"][0] == 500


@pytest.mark.skipif(not CORPUS.is_file(), reason="the spec2 corpus is not in this checkout")
def test_the_installed_model_grows_with_integrations_and_holds_its_held_out_runs():
    from jwst_memest.profile.fit_walltime import load_walltime_runs

    model = load_walltime("calwebb_spec2")
    assert model is not None and model.pipeline == SPEC2
    assert model.coefficients["per_integration"] > 0
    times = model.predict([_slitless(n) for n in (50, 500, 3000)])
    assert np.all(np.diff(times) > 0)
    # extract_1d's loop is most of a long series: 3000 integrations take several times 500's
    assert times[2] > 4 * times[1]
    X, wall, split, table = load_walltime_runs([CORPUS], SPEC2)
    assert set(table["pipeline"]) == {"spec2"}
    test = split == "test"
    seconds, upper = model.estimate(X[test], 0.95)
    assert test.sum() >= 2 and (wall[test] <= upper).all()
    assert np.median(np.abs(seconds / wall[test] - 1)) < 0.25


def test_estimate_of_a_slitless_rateints_header_carries_its_wall_time(tmp_path, monkeypatch):
    from jwst_memest.cli import main

    monkeypatch.setenv("JWST_MEMEST_SPEED_FACTOR", "2")  # a machine twice as slow as the corpus'
    path = lrs_rateints(tmp_path, 2000)
    assert main(["estimate", str(path), "--output_dir", str(tmp_path)]) == 0
    (stage,) = json.loads((tmp_path / f"{path.stem}_memest.json").read_text())["stages"]
    assert stage["pipeline"] == "calwebb_spec2"
    expected = load_walltime(SPEC2).predict([_slitless(2000)], speed_factor=2.0)[0]
    assert stage["wall_time_s"] == pytest.approx(expected, abs=0.1)
    assert stage["wall_time_upper_s"] >= stage["wall_time_s"] > 0 and stage["speed_factor"] == 2.0
