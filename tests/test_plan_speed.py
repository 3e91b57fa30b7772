"""The machine speed factor (`jwst-memest calibrate`) and the wall times it scales in the annotation."""

import numpy as np
import pytest
import yaml

from jwst_memest import speed


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv(speed.ENV_FACTOR, raising=False)
    return tmp_path


@pytest.fixture
def tiny_workload(monkeypatch):
    monkeypatch.setattr(speed, "_inputs", lambda rng: {"a": rng.random((64, 64))})
    monkeypatch.setattr(speed, "PARTS", (("drizzle", lambda i: float(i["a"].sum())),
                                         ("median", lambda i: float(np.nanmedian(i["a"]))),
                                         ("fft", lambda i: float(np.abs(np.fft.fft2(i["a"])).sum()))))


def test_default_factor_is_one(config_home):
    assert speed.speed_factor() == (1.0, "default")
    assert speed.config_path() == config_home / "jwst_memest" / "speed.yaml"


def test_saved_factor_and_environment_override(config_home, monkeypatch):
    path = speed.save_speed_factor(1.7, {"workload_s": 2.0, "runs": [2.0], "parts": {}, "spread": 0.0})
    assert path.is_file() and yaml.safe_load(path.read_text())["speed_factor"] == 1.7
    assert speed.speed_factor() == (1.7, str(path))
    monkeypatch.setenv(speed.ENV_FACTOR, "0.5")
    assert speed.speed_factor() == (0.5, "environment")
    monkeypatch.setenv(speed.ENV_FACTOR, "fast")
    with pytest.raises(ValueError, match="positive number"):
        speed.speed_factor()


def test_a_factor_saved_again_is_read_again(config_home):
    measured = {"workload_s": 2.0, "runs": [2.0], "parts": {}, "spread": 0.0}
    path = speed.save_speed_factor(1.7, measured)
    assert speed.machine_speed_factor() == 1.7
    speed.save_speed_factor(2.3, measured)  # at once, as a second `jwst-memest calibrate` would
    assert speed.machine_speed_factor() == 2.3
    path.write_text("speed_factor: -1\n")
    with pytest.warns(UserWarning, match="no positive speed_factor"):
        assert speed.speed_factor() == (1.0, "default")
    path.unlink()
    path.mkdir()  # not a file
    assert speed.speed_factor() == (1.0, "default")


def test_timing_reports_parts_and_spread(tiny_workload):
    measured = speed.time_workload(3)
    assert set(measured["parts"]) == {"drizzle", "median", "fft"} and len(measured["runs"]) == 3
    assert measured["workload_s"] >= 0 and measured["spread"] >= 0
    with pytest.raises(ValueError):
        speed.time_workload(0)


def test_calibrate_saves_the_ratio_to_the_reference(config_home, tiny_workload, monkeypatch, capsys):
    from jwst_memest.model import walltime

    monkeypatch.setattr(walltime, "reference_workload_seconds", lambda: 1e-3)
    from jwst_memest import calibrate_cli

    monkeypatch.setattr(calibrate_cli, "time_workload", lambda repeats: {"workload_s": 2e-3, "runs": [2e-3],
                                                                         "parts": {}, "spread": 0.0})
    assert calibrate_cli.main(["--repeat", "1"]) == 0
    assert "speed factor: 2.000" in capsys.readouterr().out
    assert speed.speed_factor()[0] == pytest.approx(2.0)


def test_the_annotation_carries_wall_times_scaled_by_the_factor(config_home, monkeypatch):
    from jwst_memest.estimation import estimate_association
    from jwst_memest.example import example_association

    path = example_association()
    first = estimate_association(path).products[0].annotation()
    assert first["speed_factor"] == 1.0 and 0 < first["wall_time_s"] <= first["wall_time_upper_s"]
    monkeypatch.setenv(speed.ENV_FACTOR, "2")
    second = estimate_association(path).products[0].annotation()
    assert second["speed_factor"] == 2.0
    assert second["wall_time_s"] == pytest.approx(2 * first["wall_time_s"], rel=1e-3)
