"""The README's Python examples run as written, on the bundled example association."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_has_python_examples():
    assert len(SNIPPETS) >= 2


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_python_example_runs(snippet, example_dir, example_asn, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    placeholders = {'"asn.json"': example_asn, '"out"': tmp_path / "out", '"/path/to/exposures"': example_dir}
    for placeholder, real in placeholders.items():
        snippet = snippet.replace(placeholder, repr(str(real)))
    exec(compile(snippet, f"{README.name} example", "exec"), {})
