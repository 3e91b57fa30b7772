"""Every bad input of the corpus: the step refuses with one line or estimates with a warning,
the hook never aborts its host pipeline, and folder mode never crashes."""

import json
import logging

import pytest

from bad_inputs import BAD_INPUTS, MESSAGES, PROFILE_MESSAGES
from jwst_memest.example import example_association
from jwst_memest.predict import JwstCalPredict
from jwst_memest.step import MemoryEstimateError, MemoryEstimateStep


def test_the_corpus_is_large_enough():
    assert len(BAD_INPUTS) >= 25


def test_every_error_and_warning_says_what_it_must():
    assert {kind for kind, (_, outcome) in BAD_INPUTS.items() if outcome != "estimate"} == set(MESSAGES)


@pytest.fixture(scope="module")
def pristine_warnings(tmp_path_factory) -> list[str]:
    """Warnings of the undamaged example (its members are named at another level than the files')."""
    (estimate,) = MemoryEstimateStep.call(str(example_association()), output_dir=str(tmp_path_factory.mktemp("out"))).values()
    return estimate["warnings"]


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_step(kind, example_dir, tmp_path, pristine_warnings):
    build, outcome = BAD_INPUTS[kind]
    asn = build(example_dir)
    out = tmp_path / "out"
    out.mkdir()
    if outcome == "error":
        with pytest.raises(MemoryEstimateError) as info:
            MemoryEstimateStep.call(str(asn), output_dir=str(out))
        message = str(info.value)
        assert "\n" not in message and asn.name in message and MESSAGES[kind] in message
        assert not list(out.iterdir())
        return
    estimates = MemoryEstimateStep.call(str(asn), output_dir=str(out))
    (estimate,) = estimates.values()
    assert estimate["gbSize"] > 0
    if outcome == "warning":
        assert any(MESSAGES[kind] in w for w in estimate["warnings"] if w not in pristine_warnings), estimate["warnings"]
    else:
        assert estimate["warnings"] == pristine_warnings
    assert len(list(out.glob("*_memest.json"))) == 1


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_hook_never_aborts_the_pipeline(kind, example_dir, monkeypatch, caplog):
    from jwst.pipeline import Image3Pipeline

    build, outcome = BAD_INPUTS[kind]
    asn = build(example_dir)
    monkeypatch.chdir(example_dir)
    hook = MemoryEstimateStep(parent=Image3Pipeline())
    with caplog.at_level(logging.WARNING):
        assert hook.run(str(asn)) is None
    written = example_dir / f"{asn.stem}_memest.json"
    if outcome == "error":
        (skipped,) = [r.getMessage() for r in caplog.records if "memory estimate skipped" in r.getMessage()]
        assert MESSAGES[kind] in skipped
        assert not written.exists()
    else:
        assert "memory estimate skipped" not in caplog.text
        assert json.loads(written.read_text())["products"][0]["gbSize"] > 0


# jwst's association rules form no Level-3 product of an exposure type they do not know
FOLDER_FORMS_NO_PRODUCT = {"unknown EXP_TYPE"}


@pytest.mark.parametrize("kind", [k for k, (_, outcome) in sorted(BAD_INPUTS.items()) if outcome != "error"])
def test_folder_mode_never_crashes(kind, example_dir):
    build, _ = BAD_INPUTS[kind]
    build(example_dir)
    predictor = JwstCalPredict(example_dir)
    predictor.run_inference()
    if kind in FOLDER_FORMS_NO_PRODUCT:
        assert predictor.predictions == {}
    else:
        (prediction,) = predictor.predictions.values()
        assert prediction["gbSize"] > 0


@pytest.mark.parametrize("kind", [k for k, (_, outcome) in sorted(BAD_INPUTS.items()) if outcome == "error"])
def test_profile_run_refuses_before_running_anything(kind, example_dir, tmp_path, capsys):
    from jwst_memest.profile.run import main

    build, _ = BAD_INPUTS[kind]
    asn = build(example_dir)
    corpus = tmp_path / "corpus.csv"
    assert main(["--corpus", str(corpus), str(asn)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m jwst_memest.profile run: error: ") and "\n" not in err and asn.name in err and PROFILE_MESSAGES.get(kind, MESSAGES[kind]) in err
    assert not corpus.exists()
