"""One command: ``jwst-memest <command>``, one exit-code convention, --help everywhere."""

import json
import subprocess
import sys

import pytest

from jwst_memest.cli import COMMANDS


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jwst_memest.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_has_help_that_exits_0(command):
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage" in (result.stdout + result.stderr).lower()


def test_the_command_lists_its_commands_and_refuses_an_unknown_one():
    listing = _run("--help")
    assert listing.returncode == 0 and all(c in listing.stdout for c in COMMANDS)
    unknown = _run("estimat")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1 and "estimate" in unknown.stderr


def test_estimate_is_the_step_with_its_parameters_and_exit_codes(example_asn, tmp_path):
    done = _run("estimate", str(example_asn), f"--output_dir={tmp_path}", "--in_memory=false")
    assert done.returncode == 0, done.stderr
    (written,) = tmp_path.glob("*_memest.json")
    block = json.loads(written.read_text())["products"][0]["memory_estimate"]
    assert block["pipeline_parameters"] == {"in_memory": False}
    bad = _run("estimate", str(example_asn), f"--output_dir={tmp_path}", "--upper_quantile=1.5")
    assert bad.returncode == 2 and "upper_quantile" in bad.stderr


def test_estimate_takes_options_before_the_association_and_refuses_none_or_two(example_asn, tmp_path):
    from jwst_memest.cli import main

    assert main(["estimate", "--upper_quantile=0.9", "--output_dir", str(tmp_path), str(example_asn)]) == 0
    block = json.loads(next(tmp_path.glob("*_memest.json")).read_text())["products"][0]["memory_estimate"]
    assert block["upper_bound_quantile"] == 0.9
    for args in ([], [str(example_asn), str(example_asn)]):
        result = _run("estimate", *args, f"--output_dir={tmp_path}")
        assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
        assert "expected one association file" in result.stdout + result.stderr


def test_a_listing_cut_short_by_its_reader_exits_quietly():
    result = subprocess.run(f"{sys.executable} -m jwst_memest.model list | head -1; exit ${{PIPESTATUS[0]}}",
                            shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "Broken pipe" not in result.stderr and result.stdout.startswith("pipeline")
