"""The README shows what the code prints: its Python examples run as written on the bundled example
association and give the values their comments show; its table and output block are the example's."""

import ast
import json
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def test_the_readme_has_python_examples():
    assert len(SNIPPETS) >= 2


def _shown_value(line: str):
    """``code   # literal``: the code and the Python literal its comment shows, else (line, None)."""
    code, _, comment = line.partition("#")
    try:
        return code.strip(), ast.literal_eval(comment.strip())
    except (ValueError, SyntaxError):
        return line, None


def _run_snippet(snippet: str, example_dir, example_asn, tmp_path) -> list:
    """Run the snippet line by line; each line whose comment is a literal is compared with its value.
    Returns the (code, shown, got) of those lines."""
    placeholders = {'"asn.json"': example_asn, '"out"': tmp_path / "out", '"/path/to/exposures"': example_dir}
    for placeholder, real in placeholders.items():
        snippet = snippet.replace(placeholder, repr(str(real)))
    namespace, compared = {}, []
    for line in snippet.splitlines():
        code, shown = _shown_value(line)
        if shown is None:
            exec(compile(code, f"{README.name} example", "exec"), namespace)
        else:
            compared.append((code, shown, eval(compile(code, f"{README.name} example", "eval"), namespace)))
    return compared


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_python_example_runs_and_shows_what_it_gives(snippet, example_dir, example_asn, tmp_path,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    for code, shown, got in _run_snippet(snippet, example_dir, example_asn, tmp_path):
        assert got == shown, f"README shows {code} as {shown}, the code gives {got}"


def test_the_readme_shows_the_value_of_at_least_one_example():
    shown = [line for snippet in SNIPPETS for line in snippet.splitlines() if _shown_value(line)[1] is not None]
    assert any("predictions" in line for line in shown)


def _example_estimate(example_asn, tmp_path, capsys):
    from jwst_memest.cli import main

    assert main(["estimate", str(example_asn), f"--output_dir={tmp_path}"]) == 0
    printed = capsys.readouterr().out
    annotated = json.loads(next(tmp_path.glob("*_memest.json")).read_text())["products"][0]
    return printed, annotated


def test_the_readme_table_and_output_block_are_the_examples(example_asn, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JWST_MEMEST_SPEED_FACTOR", "1")  # the wall time shown is the reference machine's
    printed, product = _example_estimate(example_asn, tmp_path, capsys)
    table = re.search(r"<!-- estimate-table[^>]*-->\n```\n(.*?)```", TEXT, flags=re.DOTALL).group(1)
    assert table == printed
    block = re.search(r"```json\n(\"gbSize\".*?)```", TEXT, flags=re.DOTALL).group(1)
    estimate = product["memory_estimate"]
    assert float(re.search(r'"gbSize": ([\d.]+)', block).group(1)) == product["gbSize"]
    for key in ("upper_bound_gb", "upper_bound_quantile", "upper_bound_margin_gb", "request_gb", "n_members",
                "peak_step", "pipeline_parameters", "breakdown", "warnings", "flags", "calibrated"):
        shown = re.search(rf'^    "{key}": (.*?),?$', block, flags=re.MULTILINE).group(1)
        assert json.loads(shown) == estimate[key], key
    model = json.loads(re.search(r'^    "model": (.*?),$', block, flags=re.MULTILINE).group(1))
    assert (model["name"], model["version"]) == (estimate["model"]["name"], estimate["model"]["version"])
    assert estimate["model"]["checksum"].startswith(model["checksum"].rstrip("."))
    shown_alternatives = [(float(a), float(b)) for a, b in
                          re.findall(r'"gbSize": ([\d.]+), "upper_bound_gb": ([\d.]+)', block)]
    assert shown_alternatives == [(a["gbSize"], a["upper_bound_gb"]) for a in estimate["alternatives"]]


def test_docs_name_only_the_bundle_locations_the_code_searches():
    from jwst_memest.model.registry import bundle_candidates

    sources = {source for _, source in bundle_candidates("image3")}
    assert sources <= {"$JWST_MEMEST_MODEL", "$JWST_MEMEST_MODEL_DIR", "user"}
    bundle_doc = (README.parent / "docs" / "bundle.md").read_text()
    assert "jwst_memest/data/models" not in bundle_doc
