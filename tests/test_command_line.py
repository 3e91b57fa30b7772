"""Every command line: one line on stderr and exit 2 for a bad input or invocation, quiet by default,
options in either spelling, the command named as typed, broken pipes ending quietly."""

import json
import re
import shlex
import subprocess
import sys

import pytest

from jwst_memest.cli import COMMANDS, main


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jwst_memest.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


class _Ran:
    """What a command run in this process returned and printed, as subprocess.run gives it."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run_here(capsys):
    """``jwst-memest ARGS`` in this process (jwst imported once): the checks of many bad inputs stay quick."""
    def run(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return _Ran(code, captured.out, captured.err)
    return run


def _one_error_line(result, prog="jwst-memest estimate"):
    """The run failed with status 2 and said why on exactly one line of stderr, nothing on stdout."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"{prog}: error: "), result.stderr
    assert result.stdout == ""
    return result.stderr.strip()[len(f"{prog}: error: "):]


# --- jwst-memest estimate -------------------------------------------------------------------------

def test_estimate_without_or_with_two_associations(example_asn, run_here):
    assert _one_error_line(_cli("estimate")) == "expected one association file, got none"
    message = _one_error_line(run_here("estimate", example_asn, example_asn))
    assert message == f"expected one association file, got 2 ({example_asn}, {example_asn})"


def test_estimate_bad_inputs_are_one_line(example_asn, tmp_path, run_here):
    not_json = tmp_path / "notes_asn.json"
    not_json.write_text("not json\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    missing = tmp_path / "missing_asn.json"
    assert _one_error_line(run_here("estimate", missing)) == f"{missing}: association file not found"
    assert _one_error_line(run_here("estimate", not_json)) == \
        f"{not_json}: invalid JSON (Expecting value at line 1 column 1)"
    assert _one_error_line(run_here("estimate", example_asn, f"--output_dir={a_file}")) == \
        f"{a_file}: output_dir is not a directory"
    assert _one_error_line(run_here("estimate", example_asn, "--upper_quantile=1.5")) == \
        "argument --upper_quantile: must be a number from 0.5 to 1.0, not '1.5'"
    assert _one_error_line(run_here("estimate", example_asn, "--inplace", "maybe")) == \
        "argument --inplace: must be true or false, not 'maybe'"
    assert _one_error_line(run_here("estimate", example_asn, "--no_such_option=1")) == \
        "unrecognized arguments: --no_such_option=1"
    assert _one_error_line(run_here("estimate", example_asn, "--steps.resample.pixel_scale_ratio=0")) == \
        "pipeline_arguments: steps.resample.pixel_scale_ratio=0: must be a number above 0"
    assert not list(tmp_path.glob("*_memest.json"))


def test_estimate_is_quiet_by_default_and_verbose_on_request(example_asn, tmp_path):
    quiet = _cli("estimate", "--upper-quantile", "0.9", example_asn, "--output_dir", tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    table = quiet.stdout.splitlines()
    assert len(table) == 2 and table[0].startswith("product") and table[1].startswith("jw01234-o001_t001")
    written = tmp_path / f"{example_asn.stem}_memest.json"
    assert quiet.stderr == f"wrote {written}\n"  # the example substitutes nothing: no warning
    assert json.loads(written.read_text())["products"][0]["memory_estimate"]["upper_bound_quantile"] == 0.9
    verbose = _cli("estimate", example_asn, "-v", f"--output_dir={tmp_path}")
    assert verbose.returncode == 0 and "parameters are" in verbose.stderr
    assert len(verbose.stdout.splitlines()) == 2  # the same table; the log is on stderr


def test_estimate_help_shows_the_steps_parameters_and_its_usage_works_as_written(example_asn, tmp_path):
    shown = _cli("estimate", "--help")
    assert shown.returncode == 0 and "cfg_file_or_class" not in shown.stdout
    for parameter in ("--upper_quantile", "--in_memory", "--model_path", "--pipeline_arguments", "--output_dir"):
        assert parameter in shown.stdout
    usage = shown.stdout.splitlines()[0]
    assert usage.startswith("usage: jwst-memest estimate ")
    # the usage line, followed literally: its optional parts left out, the association put in
    typed = re.sub(r"\[[^\]]*\]", "", usage[len("usage: "):]).replace("ASSOCIATION", shlex.quote(str(example_asn)))
    words = shlex.split(typed)
    assert words[:2] == ["jwst-memest", "estimate"]
    result = _cli(*words[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / f"{example_asn.stem}_memest.json").is_file()


def test_estimate_takes_options_before_between_and_after(example_asn, tmp_path):
    code = main(["estimate", "--upper_quantile=0.9", "--in_memory", "false", str(example_asn),
                 "--steps.resample.enable_ctx", "false", "--output_dir", str(tmp_path)])
    assert code == 0
    block = json.loads(next(tmp_path.glob("*_memest.json")).read_text())["products"][0]["memory_estimate"]
    assert block["upper_bound_quantile"] == 0.9
    assert block["pipeline_parameters"] == {"in_memory": False, "steps.resample.enable_ctx": False}


# --- strun memory_estimate ----------------------------------------------------------------------

def _strun(*args, cwd=None):
    return subprocess.run(["strun", "memory_estimate", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_strun_says_its_own_error_last_and_dumps_no_parameters(example_asn, tmp_path):
    """strun keeps its banner on stdout; the step checks its input before stpipe's parameter dump
    and logs its one-line error as the last line on stderr; exit status 2."""
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    not_json = tmp_path / "notes_asn.json"
    not_json.write_text("{")
    cases = {
        (example_asn, example_asn): f"memory_estimate: expected one association file, got 2 ({example_asn}, "
                                    f"{example_asn})",
        (tmp_path / "missing.json",): f"{tmp_path / 'missing.json'}: association file not found",
        (not_json,): f"{not_json}: invalid JSON (Expecting property name enclosed in double quotes at line 1 "
                     f"column 2)",
        (example_asn, f"--output_dir={a_file}"): f"{a_file}: output_dir is not a directory",
        (example_asn, "--upper_quantile=1.5"): "upper_quantile=1.5: must be a number from 0.5 to 1.0",
    }
    for args, message in cases.items():
        result = _strun(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip().splitlines()[-1].endswith(f" - ERROR - {message}"), result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert "parameters are" not in result.stderr


# --- folder mode ----------------------------------------------------------------------------------

def test_folder_mode_bad_outputs_are_one_line_before_any_work(example_dir, tmp_path, run_here):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    prog = "jwst-memest predict"
    assert _one_error_line(run_here("predict", example_dir, "--write-asn", a_file), prog) == \
        f"{a_file}: --write_asn needs a directory, and a file of that name exists"
    assert _one_error_line(run_here("predict", example_dir, "--write_asn", a_file / "sub"), prog) == \
        f"{a_file / 'sub'}: --write_asn cannot be made: {a_file} is a file"
    assert _one_error_line(run_here("predict", example_dir, "--output", tmp_path / "no" / "x.csv"), prog) == \
        f"{tmp_path / 'no' / 'x.csv'}: --output's directory {tmp_path / 'no'} does not exist"
    assert _one_error_line(run_here("predict", example_dir, "--exp-modes", "imaging"), prog) == \
        "argument --exp_modes: unknown exp mode imaging; expected one or more of image, spec"
    assert _one_error_line(run_here("predict", example_dir, "--quantile=2"), prog) == \
        "argument --upper_quantile/--quantile: must be a number from 0.5 to 1.0, not '2'"


def test_folder_mode_is_quiet_and_replaces_the_associations_it_wrote(example_dir, tmp_path):
    out = tmp_path / "asn"
    for _ in range(2):  # a second run replaces the associations of the same name
        result = subprocess.run([sys.executable, "-m", "jwst_memest.predict", str(example_dir), "--write_asn", str(out)],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        # no "path information" UserWarning from jwst, no substitution warning for the example
        assert result.stderr == f"wrote {out / 'jw01234-o001_image3_00001_asn.json'}\n"
        # each uncal file's calwebb_detector1 and calwebb_image2 runs (a header and 2 x 16 lines), a blank
        # line, the product's table
        lines = result.stdout.splitlines()
        assert len(lines) == 1 + 2 * 16 + 1 + 2 and lines[0].startswith("exposure ")
        assert {line.split()[1] for line in lines[1:33]} == {"calwebb_detector1", "calwebb_image2"}
        assert lines[-2].startswith("product") and lines[-1].startswith("jw01234-o001_t001_nircam_clear-f150w")


# --- every command ----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "profile"] + ["profile run", "profile corpus",
                                                                                "profile fit-baseline",
                                                                                "profile spread"])
def test_every_command_refuses_an_unknown_option_on_one_line_named_as_typed(command, capsys):
    assert main([*command.split(), "--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"jwst-memest {command}: error: "), err


def test_the_module_forms_keep_their_own_names():
    result = subprocess.run([sys.executable, "-m", "jwst_memest.predict", "--no-such-option"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("python -m jwst_memest.predict: error: ")
    result = subprocess.run([sys.executable, "-m", "jwst_memest.model", "lst"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("python -m jwst_memest.model: error: ")


def test_unknown_or_missing_commands_are_one_line(run_here):
    for args, what in (([], "no command"), (["estimat"], "unknown command 'estimat'"),
                       (["profile", "rnu"], "unknown command 'rnu'")):
        result = run_here(*args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and what in result.stderr, result.stderr


def test_profile_run_refuses_a_corpus_it_cannot_append_to_before_running(example_asn, tmp_path, run_here):
    assert _one_error_line(run_here("profile", "run", example_asn, "--corpus", tmp_path), "jwst-memest profile run") == \
        f"{tmp_path}: --corpus is a directory; give a CSV file"


def test_options_in_either_spelling():
    from jwst_memest.predict_cli import build_parser

    parser = build_parser()
    for spelled in (["--exp-modes", "spec", "--write-asn", "d", "--on-disk"],
                    ["--exp_modes", "spec", "--write_asn", "d", "--on_disk"]):
        args = parser.parse_args(["folder", *spelled])
        assert (args.exp_modes, args.write_asn, args.in_memory) == (["spec"], "d", False)


@pytest.mark.parametrize("command", ["jwst-memest estimate {asn}", "jwst-memest predict {folder}",
                                     "python -m jwst_memest.model list"])
def test_a_reader_that_stops_early_ends_the_command_quietly(command, example_asn, example_dir):
    command = command.format(asn=shlex.quote(str(example_asn)), folder=shlex.quote(str(example_dir)))
    command = command.replace("jwst-memest", f"{shlex.quote(sys.executable)} -m jwst_memest.cli")
    result = subprocess.run(f"{command} | head -c 10; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
                            capture_output=True, text=True, timeout=300, cwd=example_dir)
    assert result.returncode == 0, result.stderr
    assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr


def test_estimate_with_a_product_not_estimated_prints_the_others_and_exits_3(example_asn, tmp_path):
    content = json.loads(example_asn.read_text())
    lost = json.loads(json.dumps(content["products"][0]))
    lost["name"] = "jw01234-o001_t001_nircam_clear-f200w"
    for member in lost["members"]:
        member["expname"] = member["expname"].replace("_nrca", "_nrcb")  # no such files
    content["products"].append(lost)
    asn = example_asn.with_name("two_products_asn.json")
    asn.write_text(json.dumps(content))
    result = _cli("estimate", asn, f"--output_dir={tmp_path}")
    assert result.returncode == 3, result.stderr
    assert len(result.stdout.splitlines()) == 2 and "clear-f150w" in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last == (f"jwst-memest estimate: error: {asn}: 1 of 2 products not estimated "
                    f"(jw01234-o001_t001_nircam_clear-f200w); the others were written")
    assert "Traceback" not in result.stderr and (tmp_path / "two_products_asn_memest.json").is_file()


@pytest.mark.slow  # starts the real calwebb_image3 through strun
def test_profile_run_records_nothing_the_pipeline_refused(example_asn, tmp_path):
    corpus = tmp_path / "corpus.csv"
    result = _cli("profile", "run", example_asn, "--corpus", corpus, "--", "--no_such_option=1")
    message = _one_error_line(result, "jwst-memest profile run")
    assert message == (f"{example_asn}: the pipeline refused its input or arguments (--no_such_option=1: "
                       f"strun exit status 2); nothing recorded")
    assert not corpus.exists()
