"""One boolean parser (settings.parse_boolean) for the run settings, folder mode's --in_memory, the
estimate command's boolean parameters and $JWST_MEMEST_APPLY_SAVINGS: the same spellings everywhere."""

import argparse

import pytest

from jwst_memest.settings import BOOLEAN_SPELLINGS, RunSettings, SettingsError, parse_boolean

TRUE = ["true", "True", "TRUE", " t ", "yes", "Y", "1", "on"]
FALSE = ["false", "False", "F", "no", "n", "0", "off", " OFF "]
NEITHER = ["", "2", "maybe", "truee", "none", "-1"]


def test_the_spellings():
    assert BOOLEAN_SPELLINGS == {True: ("true", "t", "yes", "y", "1", "on"),
                                 False: ("false", "f", "no", "n", "0", "off")}
    assert all(parse_boolean(text) is True for text in TRUE + [True])
    assert all(parse_boolean(text) is False for text in FALSE + [False])
    for text in NEITHER:
        with pytest.raises(ValueError, match="must be true or false"):
            parse_boolean(text)


@pytest.mark.parametrize("text", TRUE + FALSE + NEITHER)
def test_every_reader_agrees(text, monkeypatch):
    from jwst_memest.estimate_cli import build_parser
    from jwst_memest.predict_cli import build_parser as folder_parser
    from jwst_memest.step import MemoryEstimateError, MemoryEstimateStep

    expected = text.strip().lower() in BOOLEAN_SPELLINGS[True] or (
        None if text.strip().lower() not in BOOLEAN_SPELLINGS[False] else False)

    def outcome(read):
        try:
            return read()
        except (SettingsError, MemoryEstimateError, SystemExit, argparse.ArgumentTypeError):
            return None

    assert outcome(lambda: RunSettings.from_arguments([f"--in_memory={text}"]).in_memory) == expected
    assert outcome(lambda: folder_parser().parse_args(["folder", f"--in_memory={text}"]).in_memory) == expected
    assert outcome(lambda: build_parser().parse_args([f"--inplace={text}", "a.json"]).inplace) == expected
    monkeypatch.setenv("JWST_MEMEST_APPLY_SAVINGS", text)
    from_environment = outcome(MemoryEstimateStep()._apply_savings)
    assert from_environment == (False if not text.strip() else expected)  # unset or empty: off
