"""calwebb_image2's wall time per exposure: the work terms' shape and the installed model's fit."""

from pathlib import Path

import pytest

from jwst_memest.model.image2 import Image2Inputs
from jwst_memest.model.walltime import IMAGE2, image2_work_terms, load_walltime

CORPUS = Path(__file__).parents[1] / "data" / "corpus" / "image2.csv"


def _inputs(ny=2048, nx=2048, nints=1, exp_type="NRC_IMAGE") -> Image2Inputs:
    return Image2Inputs(instrument="NIRCAM", exp_type=exp_type, ny=ny, nx=nx, nints=nints,
                        full_frame_pixels=2048 * 2048)


def test_terms_read_the_inputs_or_an_estimates_record_of_them():
    inputs = _inputs(nints=1)
    assert {k: float(v[0]) for k, v in image2_work_terms([inputs]).items()} == {
        k: float(v[0]) for k, v in image2_work_terms([inputs.to_dict()]).items()}
    tso = image2_work_terms([_inputs(64, 64, 500, "NRC_TSIMAGE")])
    assert tso["per_pixel"][0] == 64 * 64 * 500 and tso["i2d_pixel"][0] == 0  # a time series is not drizzled


@pytest.mark.skipif(not CORPUS.is_file(), reason="the image2 corpus is not in this checkout")
def test_the_installed_model_grows_with_pixels_and_integrations():
    model = load_walltime("calwebb_image2")
    assert model is not None and model.pipeline == IMAGE2
    assert model.held_out["n_rows"] >= 5 and model.held_out["upper_exceeded"] <= 1
    small, large = model.predict([_inputs(256, 256), _inputs(2048, 2048)])
    assert large > small
    few, many = model.predict([_inputs(64, 64, 100, "NRC_TSIMAGE"), _inputs(64, 64, 10000, "NRC_TSIMAGE")])
    assert many > few
    seconds, upper = model.estimate([_inputs().to_dict()], 0.95, speed_factor=2.0)
    assert seconds[0] == pytest.approx(2 * model.predict([_inputs()])[0]) and upper[0] >= seconds[0]
