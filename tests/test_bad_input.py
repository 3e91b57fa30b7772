"""Bad input: one clear line naming the file and the problem, and nothing half-written."""

import json
import os
import stat
import subprocess
import warnings
from pathlib import Path

import pytest
from astropy.io import fits

from bad_inputs import write_raw_card
from jwst_memest.step import MemoryEstimateError, MemoryEstimateStep


def _call(asn, tmp_path, **kwargs):
    return MemoryEstimateStep.call(str(asn), output_dir=str(kwargs.pop("output_dir", tmp_path)), **kwargs)


def _members(asn: Path) -> list[Path]:
    return sorted(asn.parent.glob("*_uncal.fits"))


def _error(asn, tmp_path, **kwargs) -> str:
    with pytest.raises(MemoryEstimateError) as info:
        _call(asn, tmp_path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert not list(Path(kwargs.get("output_dir", tmp_path)).glob("*_memest.json"))
    return message


def test_missing_association(tmp_path):
    message = _error(tmp_path / "nowhere_asn.json", tmp_path)
    assert "nowhere_asn.json" in message and "not found" in message


def test_invalid_json(tmp_path):
    asn = tmp_path / "broken_asn.json"
    asn.write_text('{"asn_type": "image3", "products": [')
    message = _error(asn, tmp_path)
    assert "broken_asn.json" in message and "invalid JSON" in message


def test_json_that_is_not_an_object(tmp_path):
    asn = tmp_path / "list_asn.json"
    asn.write_text("[1, 2, 3]")
    assert "JSON object" in _error(asn, tmp_path)


def test_level2_association_of_calibrated_exposures_is_refused_in_one_line(example_asn, tmp_path):
    raw = json.loads(example_asn.read_text())
    raw["asn_type"] = "image2"  # read as Level 2: its exposures are calibrated already, nothing runs before Level 3
    for path in _members(example_asn):
        path.rename(path.with_name(path.name.replace("_uncal", "_cal")))
    example_asn.write_text(json.dumps(raw))
    message = _error(example_asn, tmp_path)
    assert example_asn.name in message and "no exposure estimated" in message and "a cal file" in message


def test_association_failing_jwst_validation(tmp_path):
    asn = tmp_path / "hollow_asn.json"
    asn.write_text(json.dumps({"asn_type": "image3", "products": [{"name": "x"}]}))
    message = _error(asn, tmp_path)
    assert "hollow_asn.json" in message and "not a valid association" in message


def test_no_member_found(example_asn, tmp_path):
    for path in _members(example_asn):
        path.unlink()
    message = _error(example_asn, tmp_path)
    assert example_asn.name in message and "no member found" in message


def test_member_that_is_not_fits_is_left_out(example_asn, tmp_path):
    bad = _members(example_asn)[0]
    bad.write_text("this is not FITS")
    (estimate,) = _call(example_asn, tmp_path).values()
    assert estimate["n_members"] == 15
    assert any(bad.name in w and "not a readable FITS" in w for w in estimate["warnings"])


def test_truncated_member_is_left_out(example_asn, tmp_path):
    bad = _members(example_asn)[1]
    bad.write_bytes(bad.read_bytes()[:1000])
    (estimate,) = _call(example_asn, tmp_path).values()
    assert estimate["n_members"] == 15
    assert any(bad.name in w for w in estimate["warnings"])


def test_all_members_unreadable(example_asn, tmp_path):
    members = _members(example_asn)
    for path in members:
        path.write_bytes(b"\0" * 10)
    message = _error(example_asn, tmp_path)
    assert "no member found" in message and "not a readable FITS" in message
    assert "16 member(s) left out" in message and "13 more" in message
    assert members[0].name in message and members[-1].name not in message


def test_missing_members_are_counted_and_only_the_first_few_named(example_asn, tmp_path):
    raw = json.loads(example_asn.read_text())
    names = [f"jw01234001001_03101_{number:05d}_nrcb1_cal.fits" for number in range(1, 25)]
    raw["products"][0]["members"] = [{"expname": name, "exptype": "science"} for name in names]
    example_asn.write_text(json.dumps(raw))
    message = _error(example_asn, tmp_path)
    assert "24 member(s) not found" in message and "21 more" in message
    assert all(name in message for name in names[:3]) and not any(name in message for name in names[3:])
    assert len(message) < 400


@pytest.mark.parametrize("value", ["nan", "missing"])
def test_member_without_pointing_leaves_the_offset_statistics(example_asn, tmp_path, value):
    bad = _members(example_asn)[0]
    with fits.open(bad, mode="update") as hdul:
        for key in ("RA_REF", "DEC_REF", "CRVAL1", "CRVAL2"):
            if value == "missing":
                del hdul["SCI"].header[key]
            else:
                hdul["SCI"].header[key] = "NaN"  # FITS has no float NaN: writers leave a string
    (estimate,) = _call(example_asn, tmp_path).values()
    assert estimate["n_members"] == 16
    assert any(bad.name in w and "offset statistics" in w for w in estimate["warnings"])


def test_unparsable_card_reads_as_missing_with_a_warning(example_asn, tmp_path):
    bad = _members(example_asn)[0]
    write_raw_card(bad, "RA_REF", "RA_REF  = NAN")
    write_raw_card(bad, "NINTS", "NINTS   = 1..2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy's own complaints about the card stay out of the output
        (estimate,) = _call(example_asn, tmp_path).values()
    assert estimate["n_members"] == 16  # CRVAL1/CRVAL2 stand in for the pointing
    assert f"{bad.name}: RA_REF: value of its card cannot be parsed, read as missing" in estimate["warnings"]
    assert f"{bad.name}: NINTS: value of its card cannot be parsed, read as missing" in estimate["warnings"]
    assert not any("pointing" in w for w in estimate["warnings"])


def test_crval_stands_in_for_missing_ra_ref(example_asn, tmp_path):
    member = _members(example_asn)[0]
    with fits.open(member, mode="update") as hdul:
        del hdul["SCI"].header["RA_REF"]
        del hdul["SCI"].header["DEC_REF"]
    (estimate,) = _call(example_asn, tmp_path).values()
    assert not any("pointing" in w for w in estimate["warnings"])


@pytest.mark.parametrize("keyword,value,feature", [
    ("EXP_TYPE", "NRC_NEWMODE", "exp_type"),
    ("FILTER", "F999W", "filter"),
])
def test_unknown_categories_are_encoded_unknown_with_a_warning(example_asn, tmp_path, keyword, value, feature):
    for member in _members(example_asn):
        with fits.open(member, mode="update") as hdul:
            hdul[0].header[keyword] = value
    (estimate,) = _call(example_asn, tmp_path).values()
    assert any(f"unknown category {feature}={value}" in w for w in estimate["warnings"])
    assert estimate["gbSize"] > 0


def test_unknown_detector_gets_default_geometry(example_asn, tmp_path):
    for member in _members(example_asn):
        with fits.open(member, mode="update") as hdul:
            hdul[0].header["DETECTOR"] = "NRCX9"
    (estimate,) = _call(example_asn, tmp_path).values()
    assert estimate["gbSize"] > 0


def test_wrong_type_keyword_is_a_warning(example_asn, tmp_path):
    member = _members(example_asn)[0]
    with fits.open(member, mode="update") as hdul:
        hdul[0].header["NINTS"] = "many"
    (estimate,) = _call(example_asn, tmp_path).values()
    assert any("NINTS='many' is not a number" in w for w in estimate["warnings"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_output_directory_nonroot(example_asn, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    message = _error(example_asn, tmp_path, output_dir=locked)
    assert "cannot write" in message


@pytest.mark.parametrize("where,problem", [("file", "output_dir is not a directory"), ("file/below", "Not a directory")])
def test_output_directory_that_cannot_be_made(example_asn, tmp_path, where, problem):
    (tmp_path / "file").write_text("")
    with pytest.raises(MemoryEstimateError) as info:
        _call(example_asn, tmp_path, output_dir=tmp_path / where)
    assert str(info.value) == f"{tmp_path / where}: {problem}"


@pytest.mark.slow  # the default run's strun check: test_command_line.py (output_dir that is a file)
def test_strun_says_an_output_dir_that_is_a_file_is_not_a_directory(example_asn, tmp_path):
    (tmp_path / "afile").write_text("")
    result = subprocess.run(["strun", "memory_estimate", str(example_asn), "--output_dir=afile"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert "afile: output_dir is not a directory" in result.stdout


def test_failed_write_keeps_the_original(example_asn, tmp_path, monkeypatch):
    before = example_asn.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", fail)  # the disk fills while the annotated copy is written
    with pytest.raises(MemoryEstimateError):
        MemoryEstimateStep.call(str(example_asn), inplace=True)
    assert example_asn.read_bytes() == before
    assert [p.name for p in example_asn.parent.glob(".*tmp")] == []


@pytest.mark.slow  # the default run's strun check: test_command_line.py (invalid JSON)
def test_strun_prints_one_line_and_no_traceback(tmp_path):
    (tmp_path / "broken_asn.json").write_text("{")
    result = subprocess.run(
        ["strun", "memory_estimate", "broken_asn.json"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "Traceback" not in output
    assert "broken_asn.json: invalid JSON" in output


def test_names_with_line_breaks_still_give_a_one_line_error(tmp_path):
    from jwst_memest.association import AssociationError
    from jwst_memest.estimation import estimate_association

    asn = tmp_path / "odd_asn.json"
    asn.write_text(json.dumps({"asn_type": "image3", "asn_id": "", "asn_pool": "",
                               "products": [{"name": "two\nlines", "members": [{"expname": "a\nb_cal.fits",
                                                                                 "exptype": "science"}]}]}))
    with pytest.raises(AssociationError) as info:
        estimate_association(asn)
    message = str(info.value)
    assert "\n" not in message and str(asn) in message and "two\\nlines" in message


def test_step_errors_stay_on_one_line():
    assert str(MemoryEstimateError("products two\nlines, three\r\nlines: not estimated")).count("\n") == 0


# one strun a parameter: the default run strun's boolean (the two numbers: test_python_call_refuses_a_bad_parameter)
@pytest.mark.parametrize("argument,allowed", [
    pytest.param("--upper_quantile=1.5", "upper_quantile=1.5: must be a number from 0.5 to 1.0",
                 marks=pytest.mark.slow),
    pytest.param("--memory_limit=-1", "memory_limit=-1: must be a number of at least 0", marks=pytest.mark.slow),
    ("--in_memory=maybe", "in_memory=maybe: must be true or false"),
])
def test_strun_refuses_a_bad_parameter_in_one_line(example_asn, tmp_path, argument, allowed):
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(["strun", "jwst_memest.MemoryEstimateStep", str(example_asn), argument],
                            cwd=out, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith(allowed)
    assert not list(out.iterdir())


def test_python_call_refuses_a_bad_parameter(example_asn, tmp_path):
    message = _error(example_asn, tmp_path, upper_quantile=1.5, memory_limit=-1)
    assert "upper_quantile=1.5: must be a number from 0.5 to 1.0" in message
    assert "memory_limit=-1: must be a number of at least 0" in message


# one strun a value: the default run strun's with one, and each value in-process (the next test)
@pytest.mark.parametrize("value", ["lots", pytest.param("-1", marks=pytest.mark.slow),
                                   pytest.param("nan", marks=pytest.mark.slow)])
def test_a_size_from_the_environment_that_is_not_one_is_a_one_line_error(example_asn, tmp_path, value):
    env = {**os.environ, "JWST_MEMEST_MAX_REQUEST_GB": value}
    result = subprocess.run(["strun", "memory_estimate", str(example_asn)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert f"$JWST_MEMEST_MAX_REQUEST_GB='{value}': expected a size in GB" in result.stdout + result.stderr
    assert not list(tmp_path.glob("*_memest.json"))


@pytest.mark.parametrize("value", ["lots", "-1", "nan", "inf"])
def test_a_size_from_the_environment_that_is_not_one_is_refused_in_process(monkeypatch, value):
    from jwst_memest.step import _gb_from_environment

    monkeypatch.setenv("JWST_MEMEST_MAX_REQUEST_GB", value)
    with pytest.raises(MemoryEstimateError) as info:
        _gb_from_environment("JWST_MEMEST_MAX_REQUEST_GB")
    assert f"$JWST_MEMEST_MAX_REQUEST_GB='{value}': expected a size in GB" in str(info.value)
    assert "\n" not in str(info.value)


def test_the_hooks_memory_limit_from_the_environment_is_checked_too(monkeypatch):
    from jwst_memest.step import _gb_from_environment

    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", "16G")
    with pytest.raises(MemoryEstimateError, match=r"\$JWST_MEMEST_MEMORY_LIMIT='16G'"):
        _gb_from_environment("JWST_MEMEST_MEMORY_LIMIT")
    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", " 16 ")
    assert _gb_from_environment("JWST_MEMEST_MEMORY_LIMIT") == 16.0
    monkeypatch.setenv("JWST_MEMEST_MEMORY_LIMIT", "")
    assert _gb_from_environment("JWST_MEMEST_MEMORY_LIMIT") is None
