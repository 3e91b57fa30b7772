"""calwebb_detector1's wall time per exposure: the work terms' shape, the installed model, its fit on
the measured corpus, and the estimate's annotation carrying it."""

import json
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.exposure_estimate import estimate_exposure, write_exposure_estimate
from jwst_memest.model.detector1 import RampInputs
from jwst_memest.model.upper import UpperBound
from jwst_memest.model.walltime import (DETECTOR1, WallTimeModel, detector1_work_terms, fit_walltime_coefficients,
                                        load_walltime)

CORPUS = Path(__file__).parents[1] / "data" / "corpus" / "detector1.csv"


def _ramp(nints=1, ngroups=5, ny=2048, nx=2048, processes=1, **other) -> RampInputs:
    return RampInputs(nints=nints, ngroups=ngroups, ny=ny, nx=nx, dark_frames=ngroups, jump_processes=processes,
                      ramp_fit_processes=processes, **other)


# seconds per unit of each term, of the order the corpus gives them
PHYSICS = {"startup": 20.0, "per_sample": 5e-8, "per_frame": 2e-3, "dark_frame_pixel": 2e-8, "irs2_sample": 1e-6,
           "parallel_sample": 3e-7, "jump_pixel": 2e-6, "pool_startup": 5.0}


def test_more_ramp_samples_and_fewer_processes_take_longer():
    model = WallTimeModel(DETECTOR1, PHYSICS, UpperBound((0.95,), (1.5,), 10))
    base = model.predict([_ramp()])[0]
    assert model.predict([_ramp(ngroups=20)])[0] > base
    assert model.predict([_ramp(nints=10)])[0] > base
    assert model.predict([_ramp(ny=256)])[0] < base
    # a long ramp: what two processes save outweighs starting them
    long = _ramp(nints=20, ngroups=10)
    assert model.predict([long])[0] > model.predict([_ramp(nints=20, ngroups=10, processes=2)])[0]
    # an IRS2 frame's raw rows and its refpix cost more than the same science rows read traditionally
    irs2 = _ramp(raw_rows=3200, instrument="NIRSPEC")
    assert model.predict([irs2])[0] > model.predict([_ramp(instrument="NIRSPEC")])[0]
    seconds, upper = model.estimate([long], 0.95, speed_factor=2.0)
    assert seconds[0] == pytest.approx(2 * model.predict([long])[0]) and upper[0] == pytest.approx(1.5 * seconds[0])


def test_terms_count_the_work_of_jump_and_ramp_fit_per_process():
    one, two = (detector1_work_terms([_ramp(nints=4, processes=p)]) for p in (1, 2))
    assert one["parallel_sample"][0] == 4 * 5 * 2048 * 2048 == 2 * two["parallel_sample"][0]
    assert one["jump_pixel"][0] == 2 * two["jump_pixel"][0]
    assert one["pool_startup"][0] == 0 and two["pool_startup"][0] == 4  # two pools of two processes


def test_the_fit_recovers_physical_coefficients_of_synthetic_runs():
    rng = np.random.default_rng(0)
    rows = [_ramp(nints=int(n), ngroups=int(g), ny=int(y), nx=2048, processes=int(p))
            for n, g, y, p in zip(rng.integers(1, 50, 60), rng.integers(3, 40, 60), rng.choice([32, 256, 2048], 60),
                                  rng.choice([1, 2], 60))]
    truth = WallTimeModel(DETECTOR1, PHYSICS, UpperBound((1.0,), (1.0,), 1))
    wall = truth.predict(rows) * np.exp(rng.normal(0, 0.02, len(rows)))
    fitted = fit_walltime_coefficients(np.array(rows, dtype=object), wall, DETECTOR1)
    assert all(v >= 0 for v in fitted.values())
    assert fitted["startup"] == pytest.approx(PHYSICS["startup"], rel=0.2)
    estimate = WallTimeModel(DETECTOR1, fitted, truth.upper_bound).predict(rows)
    assert np.median(np.abs(estimate / wall - 1)) < 0.05


@pytest.mark.skipif(not CORPUS.is_file(), reason="the detector1 corpus is not in this checkout")
def test_the_installed_model_is_fitted_on_the_corpus_and_judged_held_out():
    from jwst_memest.profile.fit_walltime import fit_pipeline, load_walltime_runs

    model = load_walltime("calwebb_detector1")
    assert model is not None and model.pipeline == DETECTOR1
    assert model.held_out["n_rows"] >= 10 and model.held_out["median_abs_pct_error"] < 30
    long, short = _ramp(nints=50, ngroups=10), _ramp(nints=1, ngroups=5)
    assert model.predict([long])[0] > model.predict([short])[0]
    assert model.predict([long])[0] > model.predict([_ramp(nints=50, ngroups=10, processes=2)])[0]
    X, wall, split, _ = load_walltime_runs([CORPUS], DETECTOR1)
    refit = fit_pipeline(X, wall, split, DETECTOR1)
    assert refit.held_out["n_rows"] == int((split == "test").sum())
    assert refit.held_out["upper_exceeded"] <= 2


def _uncal(folder: Path, name: str, **cards) -> Path:
    primary = fits.PrimaryHDU()
    primary.header.update({"TELESCOP": "JWST", "NFRAMES": 1, "GROUPGAP": 0, **cards})
    path = folder / name
    fits.HDUList([primary]).writeto(path)
    return path


def test_the_exposure_estimate_and_its_json_carry_the_wall_time(tmp_path, monkeypatch):
    monkeypatch.setattr("jwst_memest.exposure_estimate.machine_speed_factor", lambda: 2.0)
    path = _uncal(tmp_path, "jw01234001001_01101_00001_nrca1_uncal.fits", INSTRUME="NIRCAM", DETECTOR="NRCA1",
                  EXP_TYPE="NRC_IMAGE", READPATT="RAPID", NGROUPS=10, NINTS=3, SUBARRAY="FULL")
    estimate = estimate_exposure(path)
    model = load_walltime(DETECTOR1)
    inputs = RampInputs(**{k: v for k, v in estimate.inputs.items() if k in RampInputs.__dataclass_fields__})
    seconds, upper = model.estimate([inputs], 0.95, 2.0)
    assert estimate.speed_factor == 2.0
    assert estimate.wall_time_s == pytest.approx(seconds[0]) and estimate.wall_time_upper_s == pytest.approx(upper[0])
    written = json.loads(write_exposure_estimate(estimate, tmp_path).read_text())
    assert written["wall_time_s"] == round(estimate.wall_time_s, 1)
    assert written["wall_time_upper_s"] >= written["wall_time_s"] and written["speed_factor"] == 2.0


def test_one_exposure_estimate_is_reused_only_while_the_terms_are_the_same():
    from jwst_memest.model.detector1 import RampInputs

    model = WallTimeModel(DETECTOR1, {"startup": 10.0, "per_sample": 1e-7}, UpperBound((0.95,), (1.5,), 10))
    ramp = RampInputs(instrument="NIRCAM", ny=2048, nx=2048, nints=1, ngroups=10)
    seconds, upper = model.estimate([ramp])
    seconds[0] = -1.0  # the caller's array is its own
    again, _ = model.estimate([RampInputs(instrument="NIRCAM", ny=2048, nx=2048, nints=1, ngroups=10)])
    assert again[0] == pytest.approx(10.0 + 1e-7 * 10 * 2048 * 2048) and upper[0] == pytest.approx(1.5 * again[0])
    model.coefficients["startup"] = 20.0
    assert model.estimate([ramp])[0][0] == pytest.approx(again[0] + 10.0)
    assert model.estimate([ramp], speed_factor=2.0)[0][0] == pytest.approx(2 * (again[0] + 10.0))
