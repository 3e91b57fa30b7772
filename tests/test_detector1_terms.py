"""detector1_terms: each step's counted bytes scale with the drivers docs/detector1-terms.md derives."""

import numpy as np
import pytest

from jwst_memest.model import detector1_terms as t

FULL = 2048 * 2048
MIRI_FULL = 1024 * 1032


def test_ramp_model_is_five_bytes_a_sample_and_four_a_pixel():
    one = t.ramp_model_bytes(1, 10, 160, 160)
    assert t.ramp_model_bytes(3, 10, 160, 160) - one == pytest.approx(2 * 5 * 10 * 160 * 160 + 0.0)
    assert one == pytest.approx(5 * 10 * 160 * 160 + 4 * 160 * 160)
    assert t.ramp_model_bytes(1, 10, 160, 160, after_dark=True) - one == pytest.approx(4 * 160 * 160)


def test_opening_peaks_on_the_raw_buffer_beside_the_float32_data():
    # many groups: the int16 buffer (2) beside the float32 data (4) is the peak
    assert t.uncal_open_bytes(2, 10, 64, 64) == pytest.approx(6 * 2 * 10 * 64 * 64)
    # one group: groupdq and pixeldq (1 + 4/ngroups) beat the buffer (2)... only when 1 + 4 > 2 per sample
    assert t.uncal_open_bytes(1, 1, 64, 64) == pytest.approx(t.ramp_model_bytes(1, 1, 64, 64))


def test_dq_init_follows_the_mask_reference_not_the_exposure():
    assert t.dq_init_bytes(FULL) == pytest.approx(8 * FULL)
    assert t.dq_init_bytes(3200 * 2048) / t.dq_init_bytes(FULL) == pytest.approx(3200 / 2048)


def test_saturation_on_a_subarray_is_the_full_frame_reference():
    small = t.saturation_bytes(1, 5, 64, 64, FULL, 64 * 64)
    assert small == pytest.approx(12 * FULL)  # data, dq and dq's read buffer of the full frame
    # on the full frame the flagging (reference kept, superbias, planes, samples) is larger
    big = t.saturation_bytes(1, 3, 2048, 2048, FULL, FULL)
    assert big > 12 * FULL
    assert t.saturation_bytes(2, 3, 2048, 2048, FULL, FULL) - big == pytest.approx(1.1 * 3 * FULL)


def test_irs2_saturation_scales_with_the_raw_ramp():
    one = t.saturation_bytes(1, 3, 2048, 2048, FULL, 3200 * 2048, raw_rows=3200)
    two = t.saturation_bytes(1, 6, 2048, 2048, FULL, 3200 * 2048, raw_rows=3200)
    assert two - one == pytest.approx(3 * 3200 * 2048 * 1.0)


def test_refpix_cases():
    # NIR subarray: full-frame DQ planes, whatever the ramp
    assert t.refpix_bytes(1, 5, 64, 64, FULL) == t.refpix_bytes(100, 50, 64, 64, FULL) == pytest.approx(10 * FULL)
    # NIR full frame: one group at a time
    assert t.refpix_bytes(1, 3, 2048, 2048, FULL) == t.refpix_bytes(4, 30, 2048, 2048, FULL)
    # MIRI subarray: nothing
    assert t.refpix_bytes(5, 10, 256, 256, MIRI_FULL, "MIRI") == 0
    # IRS2: fixed table and alpha/beta, then one integration's groups of the raw frame
    a = t.refpix_bytes(1, 3, 2048, 2048, FULL, raw_rows=3200)
    b = t.refpix_bytes(1, 6, 2048, 2048, FULL, raw_rows=3200)
    assert b - a == pytest.approx(3 * 3200 * 2048 * t.IRS2_SUBTRACT_PER_RAW_SAMPLE)
    assert t.refpix_bytes(9, 3, 2048, 2048, FULL, raw_rows=3200) == a  # integrations one at a time
    assert a > 64 * t.IRS2_TABLE_ROWS


def test_linearity_is_the_reference_load_on_subarrays_and_grows_with_groups_on_full_frame():
    assert t.linearity_bytes(10, 160, 160, FULL) == pytest.approx((4 * 5 + 8) * FULL)
    assert t.linearity_bytes(10, 160, 160, FULL, ncoeffs=7) == pytest.approx((4 * 7 + 8) * FULL)
    a, b = t.linearity_bytes(3, 2048, 2048, FULL), t.linearity_bytes(13, 2048, 2048, FULL)
    assert b - a == pytest.approx(4 * 10 * FULL)


def test_the_dark_follows_the_reference_frames_not_the_exposure_groups():
    exposure = dict(nints=2, ngroups=10, ny=2048, nx=2048)
    few, many = t.dark_current_bytes(**exposure, dark_frames=10), t.dark_current_bytes(**exposure, dark_frames=98)
    assert many - few == pytest.approx(88 * 8 * FULL)  # SCI + ERR of every extra frame
    # more integrations: only the science copy grows (5 B a sample), the dark does not
    more = t.dark_current_bytes(nints=4, ngroups=10, ny=2048, nx=2048, dark_frames=10)
    assert more - few == pytest.approx(2 * 10 * FULL * 5)
    # a short exposure against a long dark: the NaN mask over every dark frame outgrows the copy
    short = t.dark_current_bytes(nints=1, ngroups=2, ny=2048, nx=2048, dark_frames=98)
    assert short == pytest.approx((8 + 1) * 98 * FULL + 8 * FULL)


def test_miri_dark_is_four_dimensional():
    one = t.dark_current_bytes(5, 10, 256, 256, 10, dark_ints=1, instrument="MIRI")
    two = t.dark_current_bytes(5, 10, 256, 256, 10, dark_ints=2, instrument="MIRI")
    assert two - one == pytest.approx(12 * 10 * 256 * 256)  # SCI, ERR and the 4-D DQ


def test_reset_and_rscd():
    assert t.reset_bytes(2, 10, 256 * 256) / t.reset_bytes(1, 10, 256 * 256) > 1.9
    assert t.rscd_bytes(1, 256, 256) == 0
    assert t.rscd_bytes(11, 256, 256) == pytest.approx(10 * t.rscd_bytes(2, 256, 256))


@pytest.mark.parametrize("nints, ngroups, regime", [(3, 12, 0), (3, 10, 1), (1, 3, 1), (100, 5, 2), (500, 60, 2)])
def test_jump_regime(nints, ngroups, regime):
    assert int(t.jump_regime(nints, ngroups)) == regime


def test_find_crs_grows_with_the_differences():
    # single pass: 12 B a difference (float64 first_diffs beside np.diff's float32)
    a, b = t.jump_find_crs_bytes(3, 12, 160, 160), t.jump_find_crs_bytes(6, 12, 160, 160)
    assert b - a == pytest.approx(12 * 3 * 11 * 160 * 160)
    # iterative (fewer than ten differences) costs more per difference than single pass; its peak is the
    # first pass's with few differences per pixel, a later pass's with many
    per_diff_iterative = (t.jump_find_crs_bytes(6, 10, 160, 160) - t.jump_find_crs_bytes(3, 10, 160, 160)) / (3 * 9 * 160 * 160)
    assert per_diff_iterative == pytest.approx(t.JUMP_ITERATIVE_LATER_PER_DIFF)
    assert per_diff_iterative > 4 * 12
    few = t.jump_find_crs_bytes(1, 3, 160, 160) / (160 * 160)
    assert few == pytest.approx(2 * t.JUMP_ITERATIVE_FIRST_PER_DIFF + t.JUMP_ITERATIVE_FIRST_PER_PIXEL)


def test_jump_peak_grows_with_groups_times_integrations_times_pixels():
    base = t.jump_bytes(10, 20, 256, 256, MIRI_FULL, MIRI_FULL)
    doubled = [t.jump_bytes(20, 20, 256, 256, MIRI_FULL, MIRI_FULL), t.jump_bytes(10, 20, 512, 256, MIRI_FULL, MIRI_FULL)]
    refs = 8 * MIRI_FULL
    grow = base - refs - 8 * 256 * 256  # drop the fixed references and their cuts
    for value in doubled:
        assert value - base == pytest.approx(grow, rel=0.05)
    per_sample = (t.jump_bytes(10, 40, 256, 256, MIRI_FULL, MIRI_FULL) - base) / (10 * 20 * 256 * 256)
    assert 4 + 12 * 0.9 < per_sample < 4 + 12 * 1.1  # data*gain + single-pass differences


def test_second_process_adds_a_workers_share():
    args = (10, 12, 256, 256)
    single = t.jump_bytes(*args, MIRI_FULL, MIRI_FULL, processes=1)
    parent = t.jump_bytes(*args, MIRI_FULL, MIRI_FULL, processes=2)
    worker = t.jump_worker_bytes(*args, processes=2)
    assert t.jump_worker_bytes(*args, processes=1) == 0
    # the tree holds find_crs in the workers, their slices (5 B per sample) and the first slice's groupdq back
    tree = parent + 2 * worker - single
    assert tree == pytest.approx(5 * t.ramp_samples(*args) + 2 * t.ramp_samples(*args) / 2, rel=0.01)
    # while the workers run, the parent's slices are views and its pickles already sent: not find_crs, not 6 B/S
    assert parent - (single - t.jump_find_crs_bytes(*args)) == pytest.approx(t.ramp_samples(*args))
    assert t.jump_bytes(*args, MIRI_FULL, MIRI_FULL, processes=4) < parent
    assert 2 * worker == pytest.approx(t.jump_find_crs_bytes(*args) + 5 * t.ramp_samples(*args), rel=0.01)
    assert t.jump_worker_bytes(*args, processes=4) < worker
    rf_single = t.ramp_fit_bytes(*args, MIRI_FULL, MIRI_FULL, processes=1)
    rf_parent = t.ramp_fit_bytes(*args, MIRI_FULL, MIRI_FULL, processes=2)
    assert rf_parent > rf_single  # the parent copies and pickles every slice
    assert t.ramp_fit_worker_bytes(*args, processes=2) > 0 == t.ramp_fit_worker_bytes(*args, processes=1)


def test_ramp_fit_outputs_scale_with_integrations():
    a = t.ramp_fit_bytes(10, 5, 64, 64, FULL, FULL)
    b = t.ramp_fit_bytes(20, 5, 64, 64, FULL, FULL)
    assert b - a == pytest.approx((20 + 12) * 10 * 64 * 64)  # rateints (20) and the CubeModel's defaults (12)


def test_gain_scale_is_the_gain_reference():
    assert t.gain_scale_bytes(FULL) == pytest.approx(4 * FULL)


def test_step_peaks_put_jump_on_top_for_deep_ramps_and_the_dark_for_long_darks():
    deep = t.detector1_step_peaks(2, 30, 2048, 2048)
    assert max(deep, key=deep.get) == "jump"
    shallow = t.detector1_step_peaks(1, 2, 2048, 2048, dark_frames=98)
    assert max(shallow, key=shallow.get) == "dark_current"
    miri = t.detector1_step_peaks(5, 10, 256, 256, instrument="MIRI", dark_ints=2, full_frame_pixels=MIRI_FULL)
    assert "reset" in miri and "rscd" in miri and "superbias" not in miri
    irs2 = t.detector1_step_peaks(1, 3, 2048, 2048, instrument="NIRSPEC", raw_rows=3200)
    assert irs2["refpix"] > t.detector1_step_peaks(1, 3, 2048, 2048, instrument="NIRSPEC")["refpix"]


def test_vectorised_over_rows():
    out = t.jump_bytes(np.array([1, 2]), np.array([10, 10]), 64, 64, FULL, FULL)
    assert out.shape == (2,) and out[1] > out[0]
