"""wfss_contam's trace geometry: each source's share of every order on the detector, through jwst's own
grism WCS, chunked as jwst chunks the segment pixels, and what it changes in the count."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from jwst_memest.exposures import ExposureLayout
from jwst_memest.level2_estimate import image2_inputs
from jwst_memest.metadata import read_exposure_metadata
from jwst_memest.model.image2 import load_image2_baseline
from jwst_memest.model.image2_terms import (CLIPPED_PER_SAMPLE, CONTAM_PER_CLIPPED, CONTAM_PER_SAMPLE,
                                            CONTAM_RESIDENT_CLIPPING, CONTAM_RESIDENT_MAPPING, contam_chunk_bytes)
from jwst_memest.settings import RunSettings
from jwst_memest.wfss_landing import WFSS_REFERENCE_TYPES, ContamGeometry, exposure_contam_geometry

NIRISS = dict(exp_type="NIS_WFSS", detectors=["NIS"], filter="GR150C", pupil="F200W", ngroups=5, n_slits=12)
CONTAM = ["--steps.wfss_contam.skip=false"]


@pytest.fixture(scope="module")
def niriss_exposure(tmp_path_factory):
    """A synthetic NIRISS WFSS rate, its catalog and the references its calwebb_spec2 reads."""
    from jwst_memest.profile.spec2 import write_spec2_exposure, write_spec2_references

    folder = tmp_path_factory.mktemp("niriss-wfss")
    layout = ExposureLayout.from_plan(NIRISS)
    rate = write_spec2_exposure(layout, folder / "exposure", seed=3)
    references = write_spec2_references(layout, folder / "cache")
    return rate, {k: references[k] for k in WFSS_REFERENCE_TYPES}


def test_the_chunks_hold_the_pixels_jwst_chunks_together():
    from jwst.wfss_contam.observations import Observation

    rng = np.random.default_rng(1)
    labels = np.array([7, 2, 9, 4, 5])
    pixels = np.array([1200, 300, 4100, 50, 2600])
    observation = object.__new__(Observation)  # only its pixel lists are chunked
    observation.source_ids_per_pixel = rng.permutation(np.repeat(labels, pixels))
    observation.xs = observation.ys = np.zeros(pixels.sum(), int)
    observation.fluxes = np.ones(pixels.sum())
    observation.source_ids = labels
    observation.direct_image_wcs = observation.grism_wcs = None
    observation.naxis, observation.oversample_factor = (2048, 2048), 2
    chunks = observation.chunk_sources(1, 1.0, 2.0, None, None, max_pixels=3000)
    # a geometry whose "orders" are the sources, each landing whole in its own: a chunk's shares are
    # then the fractions of its pixels each source holds
    order_of = np.argsort(labels)
    geometry = ContamGeometry(tuple(range(labels.size)), tuple(pixels[order_of].tolist()),
                              tuple(tuple(row) for row in np.eye(labels.size).tolist()))
    ours = geometry.chunk_landing(3000)
    assert len(ours) == len(chunks) == 3
    for (size, shares), jwst_chunk in zip(ours, chunks):
        ids = jwst_chunk[3]
        assert size == ids.size
        for k, label in enumerate(labels[order_of]):
            assert shares[k] == pytest.approx(np.mean(ids == label))


def test_each_source_lands_the_share_of_its_trace_jwst_clips_to_the_detector(niriss_exposure):
    from astropy.modeling.mappings import Mapping
    from jwst.lib.winclip import get_clipped_pixels
    from jwst.wfss_contam.disperse import _disperse_onto_grism

    from jwst_memest.wfss_landing import grism_wcs, header_model

    rate, references = niriss_exposure
    meta = read_exposure_metadata(rate)
    geometry, source = exposure_contam_geometry(meta, references)
    assert geometry is not None and "specwcs" in source
    assert geometry.orders == (-1, 0, 1, 2, 3) and len(geometry.pixels) == 12
    shares = np.asarray(geometry.landing)
    # NIRISS's orders 2 and 3 start hundreds of pixels from their source: some of them fall off
    assert shares[:, 0 + 3].min() < 1.0 and shares[:, 2].min() == 1.0
    from astropy.table import QTable

    catalog = QTable.read(rate.parent / meta.source_catalog)
    wcs = grism_wcs(header_model(rate), references)
    sky_to_detector = wcs.get_transform("world", "detector")
    detector_to_grism = wcs.get_transform("detector", "grism_detector")
    # as jwst's disperse keeps only the grism x and y
    detector_to_grism = detector_to_grism | Mapping((0, 1), n_inputs=len(detector_to_grism.outputs))
    order_of = np.argsort(np.asarray(catalog["label"]))
    checked = 0
    for row, index in enumerate(order_of):
        centroid = catalog["sky_centroid"][index]
        for column, order in enumerate(geometry.orders):
            if order == 0:
                continue
            waves = np.linspace(1.70, 2.28, 400)  # F200W's range in the WAVELENGTHRANGE written
            x0s, y0s, _ = _disperse_onto_grism(np.array([centroid.ra.deg]), np.array([centroid.dec.deg]),
                                               sky_to_detector, detector_to_grism, waves, order)
            clipped = get_clipped_pixels(x0s, y0s, 1, 2048, 2048, 1.0, 1.0)[0]
            # each sample on the detector covers 2 x 2 of its pixels (fewer at an edge)
            assert len(clipped) / (CLIPPED_PER_SAMPLE * waves.size) == pytest.approx(shares[row, column], abs=0.02)
            checked += 1
    assert checked == 12 * 4


def test_a_source_without_a_position_is_taken_as_landing_whole(niriss_exposure):
    from astropy.table import QTable

    from jwst_memest.wfss_landing import contam_geometry, header_model

    rate, references = niriss_exposure
    catalog = QTable.read(rate.parent / read_exposure_metadata(rate).source_catalog)
    ra, dec = catalog["sky_centroid"].ra.deg.copy(), catalog["sky_centroid"].dec.deg.copy()
    ra[0] = dec[0] = np.nan
    geometry = contam_geometry(header_model(rate), references, catalog["label"], ra, dec, catalog["area"], "F200W")
    assert list(catalog["label"]) == sorted(catalog["label"])  # the first row is the first in label order
    assert geometry.landing[0] == (1.0,) * len(geometry.orders)
    assert min(min(row) for row in geometry.landing[1:]) < 1.0  # the others land as they do


def test_a_chunk_whose_traces_fall_off_the_detector_is_counted_by_its_mapping_alone():
    samples = {1: 250, 3: 749}
    clipped = CONTAM_RESIDENT_CLIPPING * CONTAM_PER_CLIPPED * CLIPPED_PER_SAMPLE
    landed = contam_chunk_bytes(5000, samples, landing={1: 1.0, 3: 1.0})
    assert landed == pytest.approx(clipped * 5000 * 749)
    off = contam_chunk_bytes(5000, samples, landing={1: 0.0, 3: 0.0})
    assert off == pytest.approx(CONTAM_RESIDENT_MAPPING * CONTAM_PER_SAMPLE * 5000 * 749)
    half = contam_chunk_bytes(5000, samples, landing={1: 1.0, 3: 0.5})
    assert half == pytest.approx(clipped * 5000 * 749 * 0.5)
    # unknown geometry: every trace landing as far as the detector allows
    assert contam_chunk_bytes(5000, samples) == landed


def test_with_the_geometry_the_niriss_count_takes_its_largest_chunk_and_is_calibrated(niriss_exposure):
    rate, references = niriss_exposure
    meta = read_exposure_metadata(rate)
    settings = RunSettings.from_arguments([*CONTAM, "--steps.wfss_contam.max_pixels_per_chunk=400"])
    upper = image2_inputs(meta, settings)
    geometry, _ = exposure_contam_geometry(meta, references)
    known = dataclasses.replace(upper, contam_geometry=geometry)
    samples = known.contam_samples()
    chunks = [contam_chunk_bytes(size, samples, landing=shares) for size, shares in geometry.chunk_landing(400)]
    assert len(chunks) > 2 and known.contam_dispersion()[0] == pytest.approx(max(chunks))
    # not the first chunk, but the one whose traces land most: here, the first source's all fall off
    off = dataclasses.replace(geometry, landing=((0.0,) * len(geometry.orders),) + geometry.landing[1:])
    first_off = [contam_chunk_bytes(size, samples, landing=shares) for size, shares in off.chunk_landing(400)]
    assert first_off[0] < max(first_off)
    assert dataclasses.replace(known, contam_geometry=off).contam_dispersion()[0] == pytest.approx(max(first_off))
    assert known.contam_dispersion()[0] <= upper.contam_dispersion()[0]
    # in one chunk of every source, the traces that fall off make the count smaller than the upper one
    whole = dataclasses.replace(known, settings=dataclasses.replace(settings, wfss_contam_max_pixels=50000))
    assert whole.contam_dispersion()[0] < dataclasses.replace(whole, contam_geometry=None).contam_dispersion()[0]
    model = load_image2_baseline()
    assert not any("wfss_contam" in reason for reason in model.uncalibrated_reasons(known))
    assert any("wfss_contam" in reason for reason in model.uncalibrated_reasons(upper))
    two = dataclasses.replace(known, settings=dataclasses.replace(settings, wfss_contam_maximum_cores="2"))
    assert two.contam_dispersion(cpus=8)[0] == pytest.approx(sum(sorted(chunks)[-2:]))


def test_the_geometry_survives_its_csv_cell(niriss_exposure):
    rate, references = niriss_exposure
    geometry, _ = exposure_contam_geometry(read_exposure_metadata(rate), references)
    again = ContamGeometry.from_json(geometry.to_json())
    assert again.orders == geometry.orders and again.pixels == geometry.pixels
    assert np.allclose(again.landing, geometry.landing, atol=1e-4)
    assert ContamGeometry.from_json("") is None and ContamGeometry.from_json(float("nan")) is None


def test_without_references_or_a_readable_frame_the_geometry_is_unknown_and_says_why(niriss_exposure, tmp_path):
    rate, references = niriss_exposure
    meta = read_exposure_metadata(rate)
    geometry, why = exposure_contam_geometry(meta)  # the tests' CRDS cache holds nothing
    assert geometry is None and "CRDS" in why
    broken = {**references, "specwcs": str(tmp_path / "missing_specwcs.asdf")}
    geometry, why = exposure_contam_geometry(meta, broken)
    assert geometry is None and "grism WCS" in why
    gone = dataclasses.replace(meta, path=str(tmp_path / "gone_rate.fits"))
    assert exposure_contam_geometry(gone, references)[0] is None


def _rmap(folder: Path, name: str, header: dict, selector: str) -> None:
    from crds.refactoring.checksum import update_checksum

    header = {"derived_from": "test", "name": name, "observatory": "JWST", **header, "sha1sum": ""}
    (folder / name).write_text(f"header = {header!r}\n\nselector = {selector}\n")
    update_checksum(str(folder / name))


def test_a_crds_cache_holding_the_grism_references_gives_the_estimate_its_geometry(niriss_exposure, tmp_path,
                                                                                   monkeypatch):
    import shutil

    rate, references = niriss_exposure
    root = tmp_path / "crds"
    mappings = root / "mappings" / "jwst"
    mappings.mkdir(parents=True)
    cached = root / "references" / "jwst" / "niriss"
    cached.mkdir(parents=True)
    imap = {}
    for reftype, path in references.items():
        name = f"jwst_niriss_{reftype}_0001.{Path(path).suffix.lstrip('.')}"
        shutil.copy(path, cached / name)
        _rmap(mappings, f"jwst_niriss_{reftype}_0001.rmap",
              {"instrument": "NIRISS", "filekind": reftype.upper(), "mapping": "REFERENCE",
               "parkey": (("META.EXPOSURE.TYPE",),)}, f"Match({{'NIS_WFSS': '{name}'}})")
        imap[reftype] = f"jwst_niriss_{reftype}_0001.rmap"
    # a context of its own name: CRDS keeps the mappings it has loaded by name, whichever cache they came from
    _rmap(mappings, "jwst_niriss_0301.imap", {"instrument": "NIRISS", "mapping": "INSTRUMENT", "parkey": ("REFTYPE",)},
          repr(imap))
    _rmap(mappings, "jwst_0301.pmap", {"mapping": "PIPELINE", "parkey": ("META.INSTRUMENT.NAME",)},
          repr({"NIRISS": "jwst_niriss_0301.imap"}))
    config = root / "config" / "jwst"
    config.mkdir(parents=True)
    (config / "server_config").write_text(repr({
        "observatory": "jwst", "operational_context": "jwst_0301.pmap", "edit_context": "jwst_0301.pmap",
        "last_synced": "2026-01-01 00:00:00", "force_remote_mode": False, "bad_files_list": []}))
    monkeypatch.setenv("CRDS_PATH", str(root))
    meta = read_exposure_metadata(rate)
    inputs = image2_inputs(meta, RunSettings.from_arguments(CONTAM))
    assert inputs.contam_geometry is not None and "jwst_niriss_specwcs_0001.asdf" in inputs.contam_geometry.source
    expected, _ = exposure_contam_geometry(meta, references)
    assert np.allclose(inputs.contam_geometry.landing, expected.landing)
    # jwst's default skips wfss_contam: nothing is looked up
    assert image2_inputs(meta).contam_geometry is None


@pytest.mark.slow  # writes five full-frame exposures, as the profile does
def test_rows_measured_before_the_geometry_are_given_the_one_their_run_had(tmp_path):
    import json

    import pandas as pd

    from jwst_memest.profile.contam_geometry import add_contam_geometry
    from jwst_memest.profile.level2 import cutout_columns, level2_exposure
    from jwst_memest.profile.run import seed_of

    params = {**NIRISS, "n_slits": 6}
    layout = ExposureLayout.from_plan(params)
    cache = tmp_path / "cache"
    rows = []
    for run_id in ("s2-nis-wfss-contam-a", "s2-nis-wfss-contam-b"):
        exposure, _ = level2_exposure("spec2", layout, tmp_path / run_id, cache, seed_of(run_id))
        columns = cutout_columns(exposure, layout, cache)
        rows.append({"run_id": run_id, "status": "ok", "exp_type": "NIS_WFSS", "layout": json.dumps(params),
                     "segment_pixels": columns["segment_pixels"], "expected": columns["contam_geometry"]})
    assert rows[0]["expected"] != rows[1]["expected"]  # each run's own catalog
    corpus = tmp_path / "corpus.csv"
    pd.DataFrame(rows).drop(columns="expected").to_csv(corpus, index=False)
    assert add_contam_geometry(corpus, cache, progress=lambda line: None) == 2
    written = pd.read_csv(corpus, dtype=str)
    assert list(written["contam_geometry"]) == [row["expected"] for row in rows]
    # a row whose catalog is not the one written again is refused, and the file left as it was
    rows[0]["segment_pixels"] = float(rows[0]["segment_pixels"]) + 10
    pd.DataFrame(rows).drop(columns="expected").to_csv(corpus, index=False)
    before = corpus.read_text()
    with pytest.raises(ValueError, match="not the run's catalog"):
        add_contam_geometry(corpus, cache, progress=lambda line: None)
    assert corpus.read_text() == before


def test_the_references_the_run_is_pointed_at_give_the_geometry_as_a_cache_would(niriss_exposure):
    rate, references = niriss_exposure
    meta = read_exposure_metadata(rate)
    pointed = [*CONTAM, *(f"--steps.assign_wcs.override_{k}={v}" for k, v in references.items())]
    inputs = image2_inputs(meta, RunSettings.from_arguments(pointed))
    expected, _ = exposure_contam_geometry(meta, references)
    assert inputs.contam_geometry is not None and "specwcs_v2.asdf" in inputs.contam_geometry.source
    assert np.allclose(inputs.contam_geometry.landing, expected.landing)
    # the estimate's record says which references the traces followed, or that none were at hand
    assert "specwcs_v2.asdf" in inputs.to_dict()["wfss_contam_traces"]
    assert "no grism references" in image2_inputs(meta, RunSettings.from_arguments(CONTAM)).to_dict()[
        "wfss_contam_traces"]
    # a SPECWCS left to CRDS (none here): the traces are not known, the upper count stays
    partial = [a for a in pointed if "override_specwcs" not in a]
    assert image2_inputs(meta, RunSettings.from_arguments(partial)).contam_geometry is None


def test_a_spec2_hook_reads_the_references_its_pipeline_is_pointed_at(niriss_exposure):
    from jwst.pipeline import Spec2Pipeline

    rate, references = niriss_exposure
    pipeline = Spec2Pipeline()
    pipeline.wfss_contam.skip = False
    for reftype, path in references.items():
        setattr(pipeline.assign_wcs, f"override_{reftype}", str(path))
    settings = RunSettings.from_pipeline(pipeline)
    assert settings.wfss_specwcs == str(references["specwcs"]) and not settings.skip_wfss_contam
    assert image2_inputs(read_exposure_metadata(rate), settings).contam_geometry is not None


def test_a_run_whose_geometry_cannot_be_computed_is_recorded_without_it(niriss_exposure, tmp_path, monkeypatch,
                                                                        caplog):
    import logging

    from jwst_memest.profile import level2

    rate, _ = niriss_exposure
    monkeypatch.setattr("jwst_memest.wfss_landing.contam_geometry",
                        lambda *args, **kwargs: (_ for _ in ()).throw(ValueError("no trace model")))
    with caplog.at_level(logging.WARNING):
        columns = level2.cutout_columns(rate, ExposureLayout.from_plan(NIRISS), tmp_path / "cache")
    assert columns["contam_geometry"] == "" and columns["segment_pixels"] > 0
    assert "no trace model" in caplog.text
