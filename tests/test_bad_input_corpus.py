"""Every bad input of the corpus: the step refuses with one line or estimates with a warning,
the hook never aborts its host pipeline, and folder mode never crashes."""

import logging

import pytest

from bad_inputs import BAD_INPUTS
from jwst_memest.predict import JwstCalPredict
from jwst_memest.step import MemoryEstimateError, MemoryEstimateStep


def test_the_corpus_is_large_enough():
    assert len(BAD_INPUTS) >= 25


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_step(kind, example_dir, tmp_path):
    build, outcome = BAD_INPUTS[kind]
    asn = build(example_dir)
    out = tmp_path / "out"
    out.mkdir()
    if outcome == "error":
        with pytest.raises(MemoryEstimateError) as info:
            MemoryEstimateStep.call(str(asn), output_dir=str(out))
        message = str(info.value)
        assert "\n" not in message and asn.name in message
        assert not list(out.iterdir())
    else:
        estimates = MemoryEstimateStep.call(str(asn), output_dir=str(out))
        (estimate,) = estimates.values()
        assert estimate["gbSize"] > 0 and estimate["warnings"]
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
    if outcome == "error":
        assert "memory estimate skipped" in caplog.text


@pytest.mark.parametrize("kind", [k for k, (_, outcome) in sorted(BAD_INPUTS.items()) if outcome == "warning"])
def test_folder_mode_never_crashes(kind, example_dir):
    build, _ = BAD_INPUTS[kind]
    build(example_dir)
    predictor = JwstCalPredict(example_dir)
    predictor.run_inference()
    assert all(p["gbSize"] > 0 for p in predictor.predictions.values())


@pytest.mark.parametrize("kind", [k for k, (_, outcome) in sorted(BAD_INPUTS.items()) if outcome == "error"])
def test_profile_run_refuses_before_running_anything(kind, example_dir, tmp_path, capsys):
    from jwst_memest.profile.run import main

    build, _ = BAD_INPUTS[kind]
    asn = build(example_dir)
    corpus = tmp_path / "corpus.csv"
    assert main([str(asn), "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and asn.name in err
    assert not corpus.exists()
