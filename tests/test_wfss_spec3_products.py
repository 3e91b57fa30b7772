"""calwebb_spec3 of WFSS: the product's one x1d and one c1d, built after the per-source loop, counted
from the members' cutouts (their SCI headers)."""

import logging

import numpy as np
import pandas as pd
import pytest

from jwst_memest.exposures import ExposureLayout, write_header_exposures
from jwst_memest.features.build import product_features
from jwst_memest.metadata import metadata_from_datamodel, read_exposure_metadata
from jwst_memest.profile.fit import wfss_products_of
from jwst_memest.wfss_products import uniform_slit_spectra, wfss_products_bytes, wfss_tables

NIRCAM = dict(exp_type="NRC_WFSS", detectors=("NRCALONG",), filter="F444W", pupil="GRISMR")

# two exposures; per source, the pixels along the dispersion of its order 1 and order 2 cutouts
# (source 3 only in the first exposure, source 4 has no order 2)
CUTOUTS = {"a": {1: (110, 420), 2: (120, 500), 3: (90, 300), 4: (700, None)},
           "b": {1: (115, 410), 2: (130, 505), 4: (650, None)}}


def _spectra(exposure):
    return [(order, source, length) for source, lengths in CUTOUTS[exposure].items()
            for order, length in zip((1, 2), lengths) if length]


def _jwst_tables(caplog):
    """The x1d and c1d tables jwst 3.0's calwebb_spec3 builds from these spectra."""
    import stdatamodels.jwst.datamodels as dm
    from jwst.datamodels.utils.wfss_multispec import make_wfss_multicombined, make_wfss_multiexposure

    def spectrum(model_class, order, source, length, group=None):
        spec = model_class()
        spec.spec_table = np.zeros(length, dtype=spec.get_dtype("spec_table"))
        spec.spectral_order, spec.source_id, spec.dispersion_direction = order, source, 1
        if group:
            spec.meta.group_id = group
        return spec

    extracted, combined = [], []
    for source in sorted({s for cutouts in CUTOUTS.values() for s in cutouts}):
        x1d, c1d = dm.MultiSpecModel(), dm.MultiCombinedSpecModel()
        x1d.meta.exposure.exposure_time = x1d.meta.exposure.integration_time = 1.0
        longest = {}
        for exposure, cutouts in CUTOUTS.items():
            for order, length in zip((1, 2), cutouts.get(source, ())):
                if length:
                    # jwst's group_id: one per exposure and order
                    x1d.spec.append(spectrum(dm.SpecModel, order, source, length, f"{exposure}{order}"))
                    longest[order] = max(longest.get(order, 0), length)
        for order, length in longest.items():
            c1d.spec.append(spectrum(dm.CombinedSpecModel, order, source, length))
        extracted.append(x1d)
        combined.append(c1d)
    with caplog.at_level(logging.ERROR):
        tables = make_wfss_multiexposure(extracted).spec, make_wfss_multicombined(combined).spec
    return sum(t.spec_table.nbytes for group in tables for t in group)


def test_the_counted_tables_are_the_bytes_jwst_builds(caplog):
    tables = wfss_tables([("a", _spectra("a")), ("b", _spectra("b"))])
    assert tables.table_bytes == _jwst_tables(caplog)
    assert tables.spectra == 12 and tables.spectrum_bytes == 140 * sum(n for e in "ab" for _, _, n in _spectra(e))


def test_a_longer_spectrum_pads_every_source_of_its_table():
    base = wfss_tables([("a", _spectra("a")), ("b", _spectra("b"))]).table_bytes
    longer = [(o, s, 2000 if (o, s) == (1, 1) else n) for o, s, n in _spectra("a")]
    # every row of exposure a's order-1 table and of the order-1 c1d grows to 2000 elements
    added = 4 * ((2000 - 700) * 140 + (2000 - 700) * 60)
    assert wfss_tables([("a", longer), ("b", _spectra("b"))]).table_bytes - base == added


def _cal_file(tmp_path, dispaxis):
    from stdatamodels.jwst.datamodels import MultiSlitModel, SlitModel

    model = MultiSlitModel()
    model.meta.instrument.name, model.meta.exposure.type = "NIRCAM", "NRC_WFSS"
    for source, order, shape in ((7, 1, (12, 900)), (7, 2, (12, 1500)), (9, 1, (30, 640))):
        slit = SlitModel(data=np.zeros(shape if dispaxis == 1 else shape[::-1], np.float32))
        slit.source_id, slit.name = source, str(source)
        slit.meta.wcsinfo.spectral_order, slit.meta.wcsinfo.dispersion_direction = order, dispaxis
        model.slits.append(slit)
    path = tmp_path / f"jw01234001001_03101_0000{dispaxis}_nrcalong_cal.fits"
    model.save(path)
    return path, model


@pytest.mark.parametrize("dispaxis", [1, 2])
def test_a_cal_files_cutouts_are_read_from_its_sci_headers(tmp_path, dispaxis):
    # GRISMR disperses along rows, GRISMC along columns: the spectrum's length follows DISPAXIS
    path, model = _cal_file(tmp_path, dispaxis)
    expected = ((1, 7, 900), (2, 7, 1500), (1, 9, 640))
    assert read_exposure_metadata(path).slit_spectra == expected
    assert metadata_from_datamodel(model).slit_spectra == expected


def test_the_corpus_runs_are_given_the_tables_their_members_make(tmp_path):
    # the fit reads a corpus row's tables off its layout; an estimate reads them off the members'
    # headers: the same synthetic members give the same bytes
    layout = ExposureLayout(n_slits=30, dither_points=4, suffix="cal", **NIRCAM)
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path)]
    features = product_features(members, "spec3")
    row = pd.DataFrame([{"exp_type": "NRC_WFSS", "n_members": 4, "n_slits": 30}])
    assert wfss_products_of(row) == [pytest.approx(features.wfss_products_bytes)]
    members = [(str(number), uniform_slit_spectra(30, 1100)) for number in range(4)]
    assert features.wfss_products_bytes == wfss_products_bytes(members)


def test_the_detectors_of_one_exposure_share_its_tables():
    # jwst's group_id leaves the detector out: module A and B of one dither fill one table per order,
    # and a source both see has one spectrum there
    module_a = [(1, source, 1000) for source in range(1, 41)]
    module_b = [(1, source, 1100) for source in range(31, 81)]
    shared = wfss_tables([("dither1", module_a), ("dither1", module_b)])
    apart = wfss_tables([("dither1", module_a), ("dither2", module_b)])
    assert shared.spectra == 80 and apart.spectra == 90
    assert shared.x1d_bytes == 80 * (1100 * 140 + 76)
    assert apart.x1d_bytes == 2 * 80 * (1000 * 140 + 76) + 80 * 100 * 140
    # the corpus's two-detector runs: 6 members over 3 exposure groups
    both = pd.DataFrame([{"exp_type": "NRC_WFSS", "n_members": 6, "n_exposure_groups": 3, "n_slits": 80}])
    one = pd.DataFrame([{"exp_type": "NRC_WFSS", "n_members": 3, "n_exposure_groups": 3, "n_slits": 80}])
    assert wfss_products_of(both) == wfss_products_of(one)


def test_products_other_than_wfss_have_no_tables():
    row = pd.DataFrame([{"exp_type": "NRS_MSASPEC", "n_members": 3, "n_slits": 40}])
    assert np.isnan(wfss_products_of(row)[0])


def _two_order_members(tmp_path, n_sources):
    import dataclasses

    layout = ExposureLayout(n_slits=2 * n_sources, dither_points=3, suffix="cal", **NIRCAM)
    members = [read_exposure_metadata(p) for p in write_header_exposures(layout, tmp_path / str(n_sources))]
    cutouts = tuple((order, source, length) for source in range(1, n_sources + 1)
                    for order, length in ((1, 1200), (2, 2048)))
    return [dataclasses.replace(m, slit_spectra=cutouts) for m in members]


def test_a_wfss_estimate_adds_its_final_products_beyond_the_memory_the_loop_freed(tmp_path):
    from jwst_memest.estimation import estimate_products
    from jwst_memest.model.baseline import WFSS_PRODUCTS_STAGE, load_baseline

    reused = load_baseline("spec3").coefficients["wfss_reused_bytes"]
    many = _two_order_members(tmp_path, 150)
    (estimate,) = estimate_products([("p", many)], "spec3")
    final = wfss_products_bytes([(m.exposure_id, m.slit_spectra) for m in many])
    assert final > reused
    assert estimate.peak_step == WFSS_PRODUCTS_STAGE
    added = estimate.breakdown[WFSS_PRODUCTS_STAGE] - estimate.breakdown["extract_1d"]
    assert added == pytest.approx((final - reused) / 1e9, abs=2e-4)
    # a few short spectra fit in what the loop freed: nothing is added
    few = _two_order_members(tmp_path, 3)
    (small,) = estimate_products([("p", few)], "spec3")
    assert wfss_products_bytes([(m.exposure_id, m.slit_spectra) for m in few]) < reused
    assert small.breakdown[WFSS_PRODUCTS_STAGE] == pytest.approx(small.breakdown["extract_1d"], abs=1e-9)


# the order-1 cutouts (pixels along the dispersion) of the cal file calwebb_spec2 wrote with NIRCam
# F444W's grism WCS of the operational structure, 100 sources; every order-2 cutout spans 2048
ORDER1_PIXELS = (752, 851, 1268, 1273, 801, 800, 1268, 1286, 1245, 748, 1268, 1302, 717, 1288, 1049, 990, 1268, 1284,
                 983, 769, 994, 1293, 1021, 1169, 1126, 935, 876, 1275, 1268, 1137, 842, 1276, 793, 1294, 1026, 1084,
                 1268, 871, 771, 928, 1122, 1282, 1268, 1302, 1194, 826, 1268, 1299, 1268, 1149, 1269, 984, 1268, 890,
                 1268, 1297, 1074, 1056, 1268, 1290, 884, 1296, 952, 860, 787, 1303, 1017, 1280, 1268, 1302, 895, 1297,
                 906, 1281, 939, 1281, 751, 1105, 1051, 701, 1268, 1298, 1269, 1290, 1050, 1291, 1078, 1290, 1268, 1301,
                 1268, 1290, 1174, 823, 1269, 1230, 813, 1021, 986, 765)


def test_the_final_products_are_counted_as_traced():
    # jwst 3.0, traced with tracemalloc after the per-source loop of calwebb_spec3 on 3 copies of that
    # cal file (600 spectra): building the x1d peaked at 407.5 MB traced
    from jwst_memest.wfss_products import RESIDENT_PER_TRACED

    cutouts = [(1, source, n) for source, n in enumerate(ORDER1_PIXELS, 1)] + [(2, s, 2048) for s in range(1, 101)]
    tables = wfss_tables([(str(n), cutouts) for n in range(3)])
    assert tables.spectra == 600
    assert tables.final_bytes / RESIDENT_PER_TRACED == pytest.approx(407.5e6, rel=0.05)
