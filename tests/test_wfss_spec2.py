"""calwebb_spec2 of WFSS: the cutouts counted from the source catalog, and the estimate that follows them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable

from jwst_memest.instruments import imaging_pixel_scale
from jwst_memest.level2_estimate import estimate_reduction, image2_inputs
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.image2 import load_image2_baseline
from jwst_memest.model.image2_terms import CUTOUT_PER_PIXEL
from jwst_memest.settings import RunSettings
from jwst_memest.spec2_layout import WFSS_DISPERSION, WFSS_HALF_HEIGHT, WFSS_TRACE_BEND, wfss_slit_layout

SCALE = imaging_pixel_scale("NRCALONG")  # arcsec per pixel: the boxes below are whole pixels


def _catalog(path: Path, magnitudes, half_sizes_pix, extended) -> Path:
    n = len(magnitudes)
    ra0, dec0 = 53.1, -27.8
    centre = SkyCoord(np.full(n, ra0) * u.deg, (dec0 + np.arange(n) * 1e-3) * u.deg)
    table = QTable()
    table["label"] = np.arange(1, n + 1)
    table["sky_centroid"] = centre
    table["isophotal_abmag"] = np.asarray(magnitudes, float)
    table["is_extended"] = np.asarray(extended, bool)
    half = np.asarray(half_sizes_pix, float) * SCALE / 3600
    cosd = np.cos(np.radians(dec0))
    for corner, dx, dy in (("ll", -1, -1), ("lr", 1, -1), ("ul", -1, 1), ("ur", 1, 1)):
        table[f"sky_bbox_{corner}"] = SkyCoord((centre.ra.deg + dx * half / cosd) * u.deg,
                                               (centre.dec.deg + dy * half) * u.deg)
    table.write(path, format="ascii.ecsv", overwrite=True)
    return path


def _wfss_rate(folder: Path, catalog: str | None, pupil="GRISMR", filter_name="F444W", exp_type="NRC_WFSS",
               detector="NRCALONG", name="jw01234007001_01101_00001_nrcalong_rate.fits") -> Path:
    primary = fits.PrimaryHDU()
    cards = {"TELESCOP": "JWST", "INSTRUME": "NIRCAM" if exp_type == "NRC_WFSS" else "NIRISS",
             "DETECTOR": detector, "EXP_TYPE": exp_type, "FILTER": filter_name, "PUPIL": pupil, "NGROUPS": 5,
             "NINTS": 1, "NFRAMES": 1, "GROUPGAP": 0, "SUBARRAY": "FULL", "SUBSIZE1": 2048, "SUBSIZE2": 2048}
    if catalog:
        cards["SCATFILE"] = catalog
    primary.header.update(cards)
    path = folder / name
    fits.HDUList([primary]).writeto(path)
    return path


def test_each_source_gives_a_cutout_per_order_as_long_as_its_trace_and_as_tall_as_its_box(tmp_path):
    _catalog(tmp_path / "cat.ecsv", [20.0, 21.0], [2.0, 15.0], [False, True])
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv"))
    layout = wfss_slit_layout(meta)
    assert layout.slits == 4  # NIRCam extracts orders 1 and 2 of every source
    # F444W: order 1 spans 3.70-4.90 um at the least dispersion, order 2 2.50-4.90 um at half of it
    # (longer than the detector: clipped); along the rows (GRISMR) each adds its box's width
    order1 = np.ceil((4.90 - 3.70) / WFSS_DISPERSION["NRC_WFSS"] + np.array([4.0, 30.0])) + 1
    order2 = np.array([2048.0, 2048.0])
    across = np.array([2 * WFSS_HALF_HEIGHT + 1, 30 + 1]) + WFSS_TRACE_BEND  # a point source: 11 rows
    expected = float(np.sum(order1 * across) + np.sum(order2 * across))
    assert layout.slit_pixels == pytest.approx(expected, rel=0.002)
    assert "2 sources of cat.ecsv x 2 orders" in layout.source


def test_extract_2d_s_brightest_and_magnitude_limits_choose_the_sources(tmp_path):
    _catalog(tmp_path / "cat.ecsv", [25.0, 19.0, 22.0, 27.0], [3.0, 3.0, 3.0, 3.0], [True] * 4)
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv"))
    assert wfss_slit_layout(meta).slits == 8
    assert wfss_slit_layout(meta, nbright=3).slits == 6
    assert wfss_slit_layout(meta, mmag_extract=24.0).slits == 4
    inputs = image2_inputs(meta, RunSettings.from_arguments(["--steps.extract_2d.wfss_nbright=1"]))
    assert inputs.cutouts == 2 and inputs.wfss


def test_niriss_extracts_one_order_but_two_for_f090w(tmp_path):
    _catalog(tmp_path / "cat.ecsv", [20.0, 21.0, 22.0], [3.0, 3.0, 3.0], [True] * 3)
    f200w = _wfss_rate(tmp_path, "cat.ecsv", pupil="F200W", filter_name="GR150C", exp_type="NIS_WFSS", detector="NIS",
                       name="jw01234008001_01101_00001_nis_rate.fits")
    f090w = _wfss_rate(tmp_path, "cat.ecsv", pupil="F090W", filter_name="GR150R", exp_type="NIS_WFSS", detector="NIS",
                       name="jw01234008001_01101_00002_nis_rate.fits")
    assert wfss_slit_layout(read_exposure_metadata(f200w)).slits == 3
    assert wfss_slit_layout(read_exposure_metadata(f090w)).slits == 6


def test_a_wfss_exposure_without_its_catalog_is_not_estimated_and_says_why(tmp_path):
    missing = read_exposure_metadata(_wfss_rate(tmp_path, "gone_cat.ecsv"))
    estimates, not_estimated = estimate_reduction(missing)
    assert not estimates
    assert "gone_cat.ecsv (SCATFILE) is not beside it" in not_estimated[0]
    (tmp_path / "bad_cat.ecsv").write_text("# %ECSV 1.0\n# ---\n# datatype:\n# - {name: label, datatype: int64}\nlabel\n1\n")
    bad = read_exposure_metadata(_wfss_rate(tmp_path, "bad_cat.ecsv", name="jw01234007001_01101_00002_nrcalong_rate.fits"))
    with pytest.raises(ValueError, match="bad_cat.ecsv: not a source catalog"):
        wfss_slit_layout(bad)


def test_the_wfss_estimate_grows_with_its_sources_and_peaks_in_extract_1d(tmp_path):
    model = load_image2_baseline()
    sizes = {}
    for n in (10, 400):
        folder = tmp_path / str(n)
        folder.mkdir()
        _catalog(folder / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.arange(n) % 2 == 1)
        estimates, _ = estimate_reduction(read_exposure_metadata(_wfss_rate(folder, "cat.ecsv")))
        (estimate,) = estimates
        assert estimate.pipeline == "calwebb_spec2" and estimate.inputs["cutouts"] == 2 * n
        sizes[n] = estimate
    assert sizes[400].peak_step == "extract_1d"
    # each cutout holds its pixels and its WCS copy three times over at extract_1d
    inputs = image2_inputs(read_exposure_metadata(tmp_path / "400" / "jw01234007001_01101_00001_nrcalong_rate.fits"))
    per_cutout = model.coefficients["wfss_per_cutout_nircam"]
    assert sizes[400].gb - sizes[10].gb >= 3 * 780 * per_cutout / 1e9
    assert inputs.slit_pixels > 0 and sizes[400].upper_gb > sizes[400].gb


def test_a_level2_association_s_source_catalog_member_is_the_one_counted(tmp_path):
    from jwst.associations.asn_from_list import asn_from_list
    from jwst.associations.lib.rules_level2_base import DMSLevel2bBase

    from jwst_memest.level2_estimate import estimate_level2_association

    folder = tmp_path / "catalogs"
    folder.mkdir()
    _catalog(folder / "direct_cat.ecsv", [20.0, 21.0, 22.0], [3.0, 3.0, 3.0], [True] * 3)
    rate = _wfss_rate(tmp_path, "elsewhere_cat.ecsv")  # SCATFILE names a catalog not at hand
    asn = json.loads(asn_from_list([rate.name], rule=DMSLevel2bBase).dump(format="json")[1])
    asn["products"][0]["members"].append({"expname": "catalogs/direct_cat.ecsv", "exptype": "sourcecat"})
    path = tmp_path / "level2_asn.json"
    path.write_text(json.dumps(asn))
    _, estimates, failures = estimate_level2_association(path)
    assert not failures
    (estimate,) = [e for e in estimates if e.pipeline == "calwebb_spec2"]
    assert estimate.inputs["cutouts"] == 6


def test_wfss_contam_is_estimated_only_when_it_runs_and_grows_with_its_chunks_and_cores(tmp_path):
    from jwst_memest.model.image2_terms import (CLIPPED_PER_SAMPLE, CONTAM_PER_CLIPPED, CONTAM_PER_SAMPLE,
                                                CONTAM_RESIDENT_CLIPPING, CONTAM_RESIDENT_MAPPING,
                                                CONTAM_WORKER_BYTES)
    from jwst_memest.spec2_layout import wfss_order_samples

    n = 40
    _catalog(tmp_path / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.ones(n, bool))
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv"))
    model = load_image2_baseline()
    default = image2_inputs(meta)
    assert not default.contam and "wfss_contam" not in model.stages(default)
    # each source's segment is its box where the catalog gives no area: 21 x 21 pixels
    assert default.segment_pixels == pytest.approx(n * 22 * 22, rel=0.1)
    on = image2_inputs(meta, RunSettings.from_arguments(["--steps.wfss_contam.skip=false"]))
    dispersing, workers = on.contam_dispersion(cpus=8)
    # one chunk of max_pixels_per_chunk segment pixels; F444W's order 2 (2.50-4.90 um at 0.475 nm per
    # pixel: 5053 pixels, 10 106 samples) is the largest: mapping its samples (96 B each) outweighs
    # clipping them, whose trace lands on the 2048 columns for at most 2048 of its pixels
    samples = wfss_order_samples("NRC_WFSS", "F444W", 2)
    assert samples[2] == 10106 and samples[1] == 2527
    # each phase resident its own ratio times its traced bytes
    mapped = CONTAM_RESIDENT_MAPPING * CONTAM_PER_SAMPLE * 5000 * samples[2]
    clipped = (CONTAM_RESIDENT_CLIPPING * CONTAM_PER_CLIPPED * CLIPPED_PER_SAMPLE * 5000 * samples[2]
               * 2048 / (samples[2] / 2))
    assert dispersing == pytest.approx(max(mapped, clipped)) and workers == 0
    stages = model.stages(on)
    assert stages["wfss_contam"] > stages["extract_2d"] + dispersing
    resident = dispersing
    two = dataclasses.replace(on, settings=dataclasses.replace(on.settings, wfss_contam_maximum_cores="2"))
    # the segments fill four chunks: two full ones dispersed at once, in two spawned workers
    assert two.contam_dispersion(cpus=8) == (pytest.approx(2 * dispersing), 2)
    assert model.stages(two)["wfss_contam"] == pytest.approx(stages["wfss_contam"] + resident + 2 * CONTAM_WORKER_BYTES)
    three = dataclasses.replace(on, segment_pixels=7000.0,
                                settings=dataclasses.replace(on.settings, wfss_contam_maximum_cores="4"))
    # two chunks (5000 and 2000 pixels) however many workers: four spawned, two at work
    assert three.contam_dispersion(cpus=8) == (pytest.approx(dispersing * 1.4), 4)
    small = dataclasses.replace(on, settings=dataclasses.replace(on.settings, wfss_contam_max_pixels=1000))
    assert model.stages(small)["wfss_contam"] == pytest.approx(stages["wfss_contam"] - resident * 0.8)


def test_a_short_trace_is_counted_by_its_clipped_pixels_and_every_source_keeps_its_dispersed_images(tmp_path):
    from jwst_memest.model.image2_terms import (CLIPPED_PER_SAMPLE, CONTAM_PER_CLIPPED, CONTAM_RESIDENT_CLIPPING,
                                                DISPERSED_PER_PIXEL)
    from jwst_memest.spec2_layout import wfss_order_samples, wfss_trace_pixels

    n = 30
    _catalog(tmp_path / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.ones(n, bool))
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv", "F200W", "GR150C", "NIS_WFSS", "NIS"))
    inputs = image2_inputs(meta, RunSettings.from_arguments(["--steps.wfss_contam.skip=false"]))
    # NIRISS F200W: orders -1 to 3 at 4.65 nm per pixel over |order|; order 3's 374 pixels fit the
    # detector, so each sample lands on 2 x 2 of its pixels (58 B each): more than mapping it (96 B)
    samples = wfss_order_samples("NIS_WFSS", "F200W", 2)
    assert samples == {-1: 250, 0: 3, 1: 250, 2: 499, 3: 749}
    chunk = min(inputs.segment_pixels, 5000)
    assert inputs.contam_dispersion()[0] == pytest.approx(
        CONTAM_RESIDENT_CLIPPING * CONTAM_PER_CLIPPED * CLIPPED_PER_SAMPLE * chunk * samples[3])
    # each source's 20 x 20 pixel box, widened along the rows by each order's trace (order 0: none), and
    # by the two pixels a clipped footprint reaches beyond it on each axis
    boxes = sum((np.ceil(wfss_trace_pixels("NIS_WFSS", "F200W", order) + 20) + 2) * (20 + 2) for order in samples)
    assert inputs.dispersed_pixels == pytest.approx(n * boxes, rel=0.01)
    model = load_image2_baseline()
    without = model.stages(dataclasses.replace(inputs, dispersed_pixels=0.0))["wfss_contam"]
    assert model.stages(inputs)["wfss_contam"] - without == pytest.approx(DISPERSED_PER_PIXEL * inputs.dispersed_pixels)


def test_with_wfss_contam_run_the_exposure_is_estimated_with_the_step_as_its_peak(tmp_path):
    _catalog(tmp_path / "cat.ecsv", np.linspace(18, 26, 10), np.full(10, 10.0), np.ones(10, bool))
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv"))
    (skipped,), _ = estimate_reduction(meta)  # jwst's default: wfss_contam skipped
    estimates, not_estimated = estimate_reduction(meta, RunSettings.from_arguments(["--steps.wfss_contam.skip=false"]))
    (run,) = estimates
    assert not not_estimated and run.peak_step == "wfss_contam" and skipped.peak_step != "wfss_contam"
    assert run.gb > skipped.gb and run.upper_gb > run.gb


def test_each_instrument_s_cutouts_carry_its_own_grism_wcs(tmp_path):
    model = load_image2_baseline()
    grown = {}
    for instrument, exp_type, detector, pupil, filter_name in (("nircam", "NRC_WFSS", "NRCALONG", "GRISMR", "F444W"),
                                                               ("niriss", "NIS_WFSS", "NIS", "F200W", "GR150C")):
        sizes = []
        for n in (50, 100):
            folder = tmp_path / f"{instrument}-{n}"
            folder.mkdir()
            _catalog(folder / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.zeros(n, bool))
            inputs = image2_inputs(read_exposure_metadata(_wfss_rate(folder, "cat.ecsv", pupil, filter_name, exp_type,
                                                                     detector)))
            sizes.append((inputs, model.stages(inputs)["extract_1d"]))
        (small, low), (large, high) = sizes
        pixels = (large.slit_pixels - small.slit_pixels) * (3 * CUTOUT_PER_PIXEL + model.coefficients["extract_per_pixel"])
        grown[instrument] = (high - low - pixels) / (3 * (large.cutouts - small.cutouts))
    # three copies of each cutout's WCS at extract_1d, at the instrument's own size (NIRISS's five orders)
    assert grown["nircam"] == pytest.approx(model.coefficients["wfss_per_cutout_nircam"], rel=0.02)
    assert grown["niriss"] == pytest.approx(model.coefficients["wfss_per_cutout_niriss"], rel=0.02)
    assert grown["niriss"] > grown["nircam"]


def test_wfss_contam_offers_one_process_and_half_the_chunk_as_lighter_settings(tmp_path):
    from jwst_memest.level2_estimate import estimate_level2

    n = 40
    _catalog(tmp_path / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.ones(n, bool))
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv"))
    settings = RunSettings.from_arguments(["--steps.wfss_contam.skip=false", "--steps.wfss_contam.maximum_cores=2"])
    estimate = estimate_level2(meta, settings)
    offered = {tuple(a["arguments"]): a for a in estimate.alternatives}
    one, half = (("--steps.wfss_contam.maximum_cores=none",), ("--steps.wfss_contam.max_pixels_per_chunk=2500",))
    assert set(offered) == {one, half}
    # one process: one chunk at a time and no worker; half the chunk: two half chunks at once
    assert offered[one]["upper_bound_gb"] < estimate.upper_gb and offered[half]["upper_bound_gb"] < estimate.upper_gb
    single = estimate_level2(meta, RunSettings.from_arguments(["--steps.wfss_contam.skip=false"]))
    assert offered[one]["gbSize"] == pytest.approx(single.gb, abs=1e-4)
    assert not estimate_level2(meta).alternatives  # wfss_contam skipped: nothing to lighten


def test_as_a_spec2_hook_above_its_limit_it_runs_wfss_contam_in_one_process_and_names_a_smaller_chunk(tmp_path,
                                                                                                  caplog):
    from jwst.pipeline import Spec2Pipeline

    from jwst_memest.step import MemoryEstimateStep

    n = 40
    _catalog(tmp_path / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.ones(n, bool))
    rate = str(_wfss_rate(tmp_path, "cat.ecsv"))
    pipeline = Spec2Pipeline()
    pipeline.wfss_contam.skip, pipeline.wfss_contam.maximum_cores = False, "2"
    roomy = MemoryEstimateStep(parent=pipeline, memory_limit=1000.0)
    assert roomy.run(rate) is None
    assert (pipeline.wfss_contam.maximum_cores, pipeline.wfss_contam.max_pixels_per_chunk) == ("2", 5000)
    (several,) = roomy.estimation
    # one process: applied (the same result); still above 3 GB, the smaller chunk is named, not set
    tight = MemoryEstimateStep(parent=pipeline, memory_limit=3.0)
    assert tight.run(rate) is None
    (lowered,) = tight.estimation
    assert pipeline.wfss_contam.maximum_cores == "none" and pipeline.wfss_contam.max_pixels_per_chunk == 5000
    assert 3.0 < lowered.upper_gb < several.upper_gb and "maximum_cores=none" in caplog.text
    assert "--steps.wfss_contam.max_pixels_per_chunk=2500 lowers it to" in caplog.text


def test_wfss_contam_s_time_follows_every_order_s_samples_over_its_processes_and_its_pools(tmp_path):
    from jwst_memest.model.walltime import load_walltime, spec2_work_terms
    from jwst_memest.spec2_layout import wfss_order_samples

    n = 40
    _catalog(tmp_path / "cat.ecsv", np.linspace(18, 26, n), np.full(n, 10.0), np.ones(n, bool))
    meta = read_exposure_metadata(_wfss_rate(tmp_path, "cat.ecsv"))
    skipped = image2_inputs(meta)
    one = image2_inputs(meta, RunSettings.from_arguments(["--steps.wfss_contam.skip=false"]))
    two = image2_inputs(meta, RunSettings.from_arguments(["--steps.wfss_contam.skip=false",
                                                          "--steps.wfss_contam.maximum_cores=2"]))
    terms = spec2_work_terms([skipped, one, two])
    samples = sum(wfss_order_samples("NRC_WFSS", "F444W", 2).values())
    assert list(terms["wfss_contam_element"]) == pytest.approx([0.0, one.segment_pixels * samples,
                                                                one.segment_pixels * samples / 2])
    assert list(terms["wfss_contam_pool"]) == [0.0, 0.0, 2.0]  # NIRCam's two orders, a pool each
    timing = load_walltime("spec2")
    seconds, _ = timing.estimate([skipped, one], 0.95, 1.0)
    assert seconds[1] - seconds[0] == pytest.approx(timing.coefficients["wfss_contam_element"]
                                                    * one.segment_pixels * samples)
    assert 10 < seconds[1] < 3600  # minutes, as the measured runs took
