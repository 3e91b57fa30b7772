"""calwebb_spec3 of WFSS: each slit's WCS as its cal file carries it (the ASDF extension), counted beyond
the corpus's synthetic slits."""

import dataclasses
import math

import numpy as np
import pytest

from jwst_memest.estimation import estimate_products
from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.baseline import (CORPUS_SLIT_TREE_BYTES, GB, OPENED_BYTES_PER_TREE_BYTE, SLIT_TREE_WIDENING,
                                        WFSS_TREE_WIDENING)
from jwst_memest.profile.spectra import write_spec3_exposures

NIRCAM = dict(exp_type="NRC_WFSS", detectors=("NRCALONG",), filter="F444W", pupil="GRISMR")
MOS = dict(exp_type="NRS_MSASPEC", detectors=("NRS1",), grating="G140M", filter="F100LP", pupil="N/A")


def _members(tmp_path, n_slits=100, dither_points=3, **layout):
    layout = ExposureLayout(n_slits=n_slits, dither_points=dither_points, suffix="cal", **(layout or NIRCAM))
    return [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / str(id(layout)))]


def _with_tree(members, per_slit):
    return [dataclasses.replace(m, tree_bytes=int(per_slit * m.n_slits)) for m in members]


CORPUS_LAYOUTS = {"NRC_WFSS": (NIRCAM, 20),
                  "NIS_WFSS": (dict(exp_type="NIS_WFSS", detectors=("NIS",), filter="GR150R", pupil="F150W"), 20),
                  "NRS_MSASPEC": (MOS, 20),
                  "NRS_FIXEDSLIT": (dict(MOS, exp_type="NRS_FIXEDSLIT", grating="G395M", filter="F290LP"), 5)}


# one WFSS and one NIRSpec mode in the default run (each writes full-size cal files); the others slow
@pytest.mark.parametrize("exp_type", [e if e in ("NRC_WFSS", "NRS_MSASPEC") else pytest.param(e, marks=pytest.mark.slow)
                                      for e in CORPUS_LAYOUTS])
def test_the_corpus_slits_carry_the_tree_the_count_starts_from(tmp_path, exp_type):
    # the synthetic cal files the spec3 corpus ran on: the count adds only what a slit carries beyond them
    layout, n_slits = CORPUS_LAYOUTS[exp_type]
    path = write_spec3_exposures(ExposureLayout(n_slits=n_slits, dither_points=1, **layout), tmp_path,
                                 np.random.default_rng(1))[0]
    meta = read_exposure_metadata(path)
    assert meta.n_slits == n_slits
    assert meta.tree_bytes / meta.n_slits == pytest.approx(CORPUS_SLIT_TREE_BYTES[exp_type], rel=0.05)


def test_the_product_takes_the_largest_tree_per_slit_of_its_members(tmp_path):
    members = _members(tmp_path)
    assert math.isnan(product_features(members, "spec3").slit_tree_bytes)
    mixed = _with_tree(members[:1], 20e3) + _with_tree(members[1:2], 30e3) + members[2:]
    assert product_features(mixed, "spec3").slit_tree_bytes == pytest.approx(30e3)


def test_a_wfss_estimate_grows_by_the_opened_wcs_of_its_slits(tmp_path):
    members = _members(tmp_path)
    corpus_like, operational = (estimate_products([("p", m)], "spec3")[0]
                                for m in (members, _with_tree(members, 28.5e3)))
    # 3 members of 100 slits, each slit's opened WCS 38.5 times its serialized tree beyond the corpus's
    added = OPENED_BYTES_PER_TREE_BYTE * (28.5e3 - CORPUS_SLIT_TREE_BYTES["NRC_WFSS"]) * 3 * 100 / GB
    assert operational.gb_size - corpus_like.gb_size == pytest.approx(added, rel=1e-6)
    assert operational.upper_bound_gb - corpus_like.upper_bound_gb >= added
    # a tree no larger than the corpus's adds nothing
    small = estimate_products([("p", _with_tree(members, 5e3))], "spec3")[0]
    assert small.gb_size == pytest.approx(corpus_like.gb_size, rel=1e-12)


def test_a_nirspec_slits_larger_wcs_is_counted_and_the_estimate_says_it_is_not_measured(tmp_path):
    members = _members(tmp_path, n_slits=40, dither_points=2, **MOS)
    plain, corpus_like, operational = (estimate_products([("p", m)], "spec3")[0] for m in (
        members, _with_tree(members, CORPUS_SLIT_TREE_BYTES["NRS_MSASPEC"]), _with_tree(members, 30e3)))
    assert corpus_like.gb_size == pytest.approx(plain.gb_size, rel=1e-12)
    assert corpus_like.calibrated == plain.calibrated and corpus_like.uncalibrated_reasons == plain.uncalibrated_reasons
    added = OPENED_BYTES_PER_TREE_BYTE * (30e3 - CORPUS_SLIT_TREE_BYTES["NRS_MSASPEC"]) * 2 * 40 / GB
    assert operational.gb_size - plain.gb_size == pytest.approx(added, rel=1e-6)
    assert not operational.calibrated
    assert any("30.0 kB of serialized WCS" in r and "not measured for NIRSpec" in r
               for r in operational.uncalibrated_reasons)


def test_a_product_whose_slits_carry_more_wcs_than_the_measured_runs_is_flagged_and_widened(tmp_path):
    members = _members(tmp_path)
    plain, operational = (estimate_products([("p", m)], "spec3")[0] for m in (members, _with_tree(members, 43.4e3)))
    assert not any("serialized WCS" in r for r in plain.uncalibrated_reasons)
    assert not operational.calibrated and operational.bound_widening == WFSS_TREE_WIDENING
    assert any("43.4 kB of serialized WCS" in r and "widened x1.08" in r for r in operational.uncalibrated_reasons)
    # the measured runs on such cal files peaked up to 1.07x the count: the bound covers that
    assert operational.upper_bound_gb >= WFSS_TREE_WIDENING * operational.gb_size


def test_a_nirspec_product_with_larger_trees_keeps_the_wider_unmeasured_widening(tmp_path):
    members = _members(tmp_path, n_slits=40, dither_points=2, **MOS)
    operational = estimate_products([("p", _with_tree(members, 30e3))], "spec3")[0]
    assert operational.bound_widening == SLIT_TREE_WIDENING > WFSS_TREE_WIDENING
