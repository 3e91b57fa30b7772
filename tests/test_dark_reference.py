"""The dark calwebb_detector1 will load, from a local CRDS cache: selected as the pipeline selects it,
its frames read from the cached file's header, and what the estimate assumes without one."""

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from jwst_memest.dark_reference import cached_dark, crds_cache
from jwst_memest.exposure_estimate import estimate_exposure

DARK = "jwst_nircam_dark_0042.fits"


def _mapping(folder: Path, name: str, header: dict, selector: str) -> None:
    from crds.refactoring.checksum import update_checksum

    header = {"derived_from": "test", "name": name, "observatory": "JWST", **header, "sha1sum": ""}
    path = folder / name
    path.write_text(f"header = {header!r}\n\nselector = {selector}\n")
    update_checksum(str(path))


def _cache(root: Path, frames: int | None = 98) -> Path:
    """A CRDS cache whose context selects one NIRCam full-frame dark; the file itself when ``frames``."""
    mappings = root / "mappings" / "jwst"
    mappings.mkdir(parents=True)
    parkey = (("META.INSTRUMENT.DETECTOR", "META.SUBARRAY.NAME"), ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME"))
    _mapping(mappings, "jwst_nircam_dark_0001.rmap",
             {"instrument": "NIRCAM", "filekind": "DARK", "mapping": "REFERENCE", "parkey": parkey},
             f"Match({{('NRCA1', 'FULL'): UseAfter({{'2020-01-01 00:00:00': '{DARK}'}})}})")
    _mapping(mappings, "jwst_nircam_0001.imap", {"instrument": "NIRCAM", "mapping": "INSTRUMENT", "parkey": ("REFTYPE",)},
             repr({"dark": "jwst_nircam_dark_0001.rmap"}))
    _mapping(mappings, "jwst_0001.pmap", {"mapping": "PIPELINE", "parkey": ("META.INSTRUMENT.NAME",)},
             repr({"NIRCAM": "jwst_nircam_0001.imap"}))
    config = root / "config" / "jwst"
    config.mkdir(parents=True)
    (config / "server_config").write_text(repr({  # as CRDS writes it when it syncs a cache
        "observatory": "jwst", "operational_context": "jwst_0001.pmap", "edit_context": "jwst_0001.pmap",
        "last_synced": "2026-01-01 00:00:00", "force_remote_mode": False, "bad_files_list": []}))
    if frames:
        references = root / "references" / "jwst" / "nircam"
        references.mkdir(parents=True)
        sci = fits.ImageHDU(np.zeros((frames, 2, 2), np.float32), name="SCI")  # only the header is read
        fits.HDUList([fits.PrimaryHDU(), sci]).writeto(references / DARK)
    return root


def _uncal(folder: Path, subarray="FULL", size=2048, number=1) -> Path:
    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="JWST", INSTRUME="NIRCAM", DETECTOR="NRCA1", EXP_TYPE="NRC_IMAGE",
                          READPATT="RAPID", NGROUPS=10, NINTS=1, NFRAMES=1, GROUPGAP=0, SUBARRAY=subarray,
                          SUBSIZE1=size, SUBSIZE2=size, **{"DATE-OBS": "2024-01-10", "TIME-OBS": "10:00:00"})
    path = folder / f"jw01234001001_01101_{number:05d}_nrca1_uncal.fits"
    fits.HDUList([primary]).writeto(path, overwrite=True)
    return path


@pytest.fixture
def crds_path(tmp_path, monkeypatch):
    def use(root):
        monkeypatch.setenv("CRDS_PATH", str(root))
        monkeypatch.delenv("CRDS_CONTEXT", raising=False)
        return root
    return use


def test_the_cached_dark_sets_the_frames_the_estimate_loads(tmp_path, crds_path, monkeypatch):
    uncal = _uncal(tmp_path)
    monkeypatch.setenv("CRDS_MODE", "auto")  # a host's own mode: the lookup answers locally and leaves it
    crds_path(tmp_path / "empty")
    without = estimate_exposure(uncal)
    assert without.inputs["dark_frames"] == 10 and "no CRDS cache" in without.inputs["dark_frames_source"]
    crds_path(_cache(tmp_path / "cache"))
    with_cache = estimate_exposure(uncal)
    assert with_cache.inputs["dark_frames"] == 98 and DARK in with_cache.inputs["dark_frames_source"]
    # 88 more frames of SCI and ERR, float32, over the full frame: what dark_current loads more
    extra = with_cache.breakdown["dark_current"] - without.breakdown["dark_current"]
    assert extra >= 0.95 * 88 * 8 * 2048 * 2048 / 1e9
    assert with_cache.upper_gb > without.upper_gb
    assert os.environ["CRDS_MODE"] == "auto"  # the lookup left the process' CRDS settings as they were


def test_a_dark_not_in_the_cache_or_not_selected_is_said_and_the_readout_assumed(tmp_path, crds_path):
    crds_path(_cache(tmp_path / "cache", frames=None))
    lookup = cached_dark(_uncal(tmp_path))
    assert lookup.frames is None and f"selects {DARK}, not in the cache" in lookup.source
    estimate = estimate_exposure(_uncal(tmp_path))
    assert estimate.inputs["dark_frames"] == 10 and "not in the cache" in estimate.inputs["dark_frames_source"]
    lookup = cached_dark(_uncal(tmp_path, subarray="SUB640", size=640, number=2))
    assert lookup.frames is None and "selects no dark" in lookup.source


def test_no_cache_means_no_crds_at_all(tmp_path, crds_path):
    crds_path(tmp_path / "nothing")
    assert crds_cache() is None and cached_dark(_uncal(tmp_path)) is None


def _nirspec_flat_cache(root: Path, planes: int) -> Path:
    """A CRDS cache whose context selects one NIRSpec NRS1 DFLAT of ``planes`` wavelength planes."""
    mappings = root / "mappings" / "jwst"
    mappings.mkdir(parents=True)
    name = "jwst_nirspec_dflat_0042.fits"
    parkey = (("META.INSTRUMENT.DETECTOR",), ("META.OBSERVATION.DATE", "META.OBSERVATION.TIME"))
    _mapping(mappings, "jwst_nirspec_dflat_0001.rmap",
             {"instrument": "NIRSPEC", "filekind": "DFLAT", "mapping": "REFERENCE", "parkey": parkey},
             f"Match({{('NRS1',): UseAfter({{'2020-01-01 00:00:00': '{name}'}})}})")
    _mapping(mappings, "jwst_nirspec_0001.imap", {"instrument": "NIRSPEC", "mapping": "INSTRUMENT",
                                                  "parkey": ("REFTYPE",)}, repr({"dflat": "jwst_nirspec_dflat_0001.rmap"}))
    # a context of its own name: CRDS keeps the mappings it has loaded by name
    _mapping(mappings, "jwst_0002.pmap", {"mapping": "PIPELINE", "parkey": ("META.INSTRUMENT.NAME",)},
             repr({"NIRSPEC": "jwst_nirspec_0001.imap"}))
    references = root / "references" / "jwst" / "nirspec"
    references.mkdir(parents=True)
    sci = fits.ImageHDU(np.zeros((planes, 2, 2), np.float32), name="SCI")
    fits.HDUList([fits.PrimaryHDU(), sci]).writeto(references / name)
    return root


def test_a_nirspec_spec2_estimate_reads_its_dflat_planes_from_the_cache(tmp_path, crds_path):
    from jwst_memest.level2_estimate import estimate_level2
    from jwst_memest.metadata import read_exposure_metadata
    from jwst_memest.model.spec2_counts import FLAT_PLANES

    primary = fits.PrimaryHDU()
    primary.header.update(TELESCOP="JWST", INSTRUME="NIRSPEC", DETECTOR="NRS1", EXP_TYPE="NRS_FIXEDSLIT",
                          READPATT="NRSRAPID", NGROUPS=10, NINTS=1, NFRAMES=1, GROUPGAP=0, SUBARRAY="FULL",
                          SUBSIZE1=2048, SUBSIZE2=2048, GRATING="G395M", FILTER="F290LP",
                          **{"DATE-OBS": "2024-01-10", "TIME-OBS": "10:00:00"})
    rate = tmp_path / "jw01234001001_01101_00001_nrs1_rate.fits"
    fits.HDUList([primary]).writeto(rate)
    crds_path(tmp_path / "empty")
    assumed = estimate_level2(read_exposure_metadata(rate))
    assert assumed.inputs["flat_planes"] == FLAT_PLANES and not assumed.inputs["flat_planes_known"]
    assert "assumed" in assumed.reasons[0]
    crds_path(_nirspec_flat_cache(tmp_path / "cache", planes=12))
    config = tmp_path / "cache" / "config" / "jwst"
    config.mkdir(parents=True)
    config.joinpath("server_config").write_text(repr({
        "observatory": "jwst", "operational_context": "jwst_0002.pmap", "edit_context": "jwst_0002.pmap",
        "last_synced": "2026-01-01 00:00:00", "force_remote_mode": False, "bad_files_list": []}))
    known = estimate_level2(read_exposure_metadata(rate))
    assert known.inputs["flat_planes"] == 12 and "read from the CRDS cache" in known.reasons[0]
    # 36 fewer float32 planes of the full frame in flat_field
    fewer = assumed.breakdown["flat_field"] - known.breakdown["flat_field"]
    assert fewer == pytest.approx(36 * 4 * 2048 * 2048 / 1e9, abs=2e-4)


def test_a_crds_that_exits_does_not_take_the_estimate_with_it(tmp_path, crds_path, monkeypatch):
    import crds

    # CRDS exits (SystemExit) on a cache it cannot configure; a hook's host must not exit with it
    def exits(*args, **kwargs):
        raise SystemExit(-1)

    crds_path(_cache(tmp_path / "cache"))
    monkeypatch.setattr(crds, "getrecommendations", exits)
    lookup = cached_dark(_uncal(tmp_path))
    assert lookup.frames is None and "could not select the dark" in lookup.source
