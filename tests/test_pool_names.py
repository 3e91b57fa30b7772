"""Folder mode names products as jwst's generator does from the operations pool of the same exposures.

Each pool jwst ships for its association tests is turned into header-only exposures (one per row, the
row's values as header keywords); folder mode's product names are compared with the names jwst's
generator makes from the pool file itself (observation candidates, as folder mode forms them).
"""

import re
import warnings

import pytest
from shipped_pools import expanded_pool, write_exposures

from jwst_memest.predict import JwstCalPredict


def _names_from_the_pool_file(pool) -> set[str]:
    from jwst.associations.generator.generate_per_candidate import generate_per_candidate
    from jwst.associations.lib import rules_level3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = generate_per_candidate(pool, rule_defs=[rules_level3.__file__], all_candidates=True, discover=False,
                                       ignore_default=True)
    return {a["products"][0]["name"] for a in found if a["asn_id"].startswith("o")}


def _slow(*pool_files):
    return [pytest.param(p, marks=pytest.mark.slow) for p in pool_files]


# the default run compares an imaging and a spectroscopic pool, the slow run all nine
@pytest.mark.parametrize("pool_file", [
    *_slow("pool_002_image_miri.csv"), "pool_003_image_nircam.csv",   # imaging
    *_slow("pool_018_all_exptypes.csv"),                               # every exposure type, coronagraphy included
    *_slow("pool_021_tso.csv"),                                        # time series
    "pool_005_spec_niriss.csv",                                        # spectroscopy
    *_slow("pool_007_spec_miri.csv", "pool_019_niriss_wfss.csv", "pool_023_nirspec_msa_3nod.csv",
           "pool_024_nirspec_fss_nods.csv"),
])
def test_folder_mode_names_equal_the_generators_on_the_pool_file(tmp_path, pool_file):
    pool = expanded_pool(pool_file)
    ids = [str(r["targetid"]) for r in sorted(pool, key=lambda r: str(r["filename"])) if "'o" in str(r["asn_candidate"])]
    # the comparison holds where the pool numbers its targets as mkpool does: in order of appearance
    assert ids and all(int(i) <= len(set(ids[:k])) for k, i in enumerate(ids, start=1))
    assert write_exposures(pool, tmp_path) > 0
    expected = _names_from_the_pool_file(pool)
    assert expected
    predictor = JwstCalPredict(tmp_path, sfx=".fits", exp_modes=("image", "spec"), workers=1)
    predictor.run_inference()
    assert set(predictor.predictions) == expected
    assert not any(re.search(r"-(full|none)(-|$)", name) for name in predictor.predictions)
