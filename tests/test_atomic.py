"""atomic_write: the one way the package writes a file (atomic_path and write_datamodel build on it)."""

import ast
import os
import stat
from pathlib import Path

import pytest

import jwst_memest
from jwst_memest.atomic import atomic_path, atomic_write, write_datamodel

PACKAGE = Path(jwst_memest.__file__).parent


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


def test_text_and_binary_content_replace_the_target(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with atomic_write(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"
    with atomic_write(target, "wb") as handle:
        handle.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert _leftovers(tmp_path) == []


def test_an_exception_leaves_the_old_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "asn.json"
    target.write_text("old content")
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_write(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("midway")
    assert target.read_text() == "old content"
    assert list(tmp_path.iterdir()) == [target]


def test_an_interrupted_first_write_creates_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "new.yaml"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_file_is_beside_the_target_and_unique(tmp_path):
    target = tmp_path / "bundle.asdf"
    with atomic_write(target, "wb") as first, atomic_write(target, "wb") as second:
        temporary = _leftovers(tmp_path)
        assert len(temporary) == 2 and all(name.startswith(".bundle.asdf.") for name in temporary)
        first.write(b"first")
        second.write(b"second")
    assert target.read_bytes() == b"first"  # whole, from the writer that finished last
    assert _leftovers(tmp_path) == []


def test_content_is_synced_before_the_rename(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    synced = []

    def fsync(fd):
        synced.append((os.fstat(fd).st_size, target.exists()))

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_write(target) as handle:
        handle.write("12345")
    assert synced == [(5, False)]  # the whole content, before the target appears


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_permissions_of_a_plain_open(tmp_path, umask):
    previous = os.umask(umask)
    try:
        (tmp_path / "plain").write_text("")
        with atomic_write(tmp_path / "atomic") as handle:
            handle.write("")
    finally:
        os.umask(previous)
    assert _mode(tmp_path / "atomic") == _mode(tmp_path / "plain") == 0o666 & ~umask


def test_an_existing_target_keeps_its_permissions(tmp_path):
    target = tmp_path / "baseline.yaml"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_write(target) as handle:
        handle.write("new")
    assert _mode(target) == 0o640


def test_only_write_modes(tmp_path):
    with pytest.raises(ValueError, match="expected 'w' or 'wb'"):
        with atomic_write(tmp_path / "x", "a"):
            pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("writer", ["association", "bundle", "install_bundle", "ingest_table", "baseline_yaml"])
def test_writers_leave_the_old_target_when_the_rename_fails(tmp_path, monkeypatch, writer):
    """A rename that fails inside each writer leaves its old target as it was and no temporary file."""
    target, write = _writer(writer, tmp_path)
    target.write_bytes(b"old")

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write()
    assert target.read_bytes() == b"old"
    assert _leftovers(target.parent) == []


def _writer(writer, tmp_path):
    """The target a package writer replaces, and a call that writes it."""
    target = tmp_path / "out" / "image3.asdf"
    target.parent.mkdir()
    if writer == "association":
        from jwst_memest.atomic import write_json_atomic

        return target, lambda: write_json_atomic({"asn_type": "image3"}, target)
    if writer == "bundle":
        from bundles import write_random_bundle

        return target, lambda: write_random_bundle(target)
    if writer == "install_bundle":
        from bundles import write_random_bundle

        from jwst_memest.model.registry import install_bundle

        source = write_random_bundle(tmp_path / "image3.asdf")
        return target, lambda: install_bundle(source, directory=target.parent)
    if writer == "ingest_table":
        import pandas as pd

        from jwst_memest.training.ingest import _write_csv_atomic

        return target, lambda: _write_csv_atomic(pd.DataFrame({"a": [1]}), target)
    from jwst_memest.profile.fit import _write_yaml_atomic

    return target, lambda: _write_yaml_atomic({"pipelines": {}}, target)


# Writing calls, and the argument that names the file they write (None: the object they are called on)
_TARGET_ARGUMENT = {"to_csv": 0, "to_json": 0, "to_parquet": 0, "savefig": 0, "write_to": 0, "writeto": 0,
                    "save": 0, "savez": 0, "savez_compressed": 0, "savetxt": 0, "to_fits": 0, "to_asdf": 0,
                    "copyfile": 1, "copy": 1, "copy2": 1, "move": 1, "write_text": None, "write_bytes": None,
                    "ModelCheckpoint": 0}
# Writes that cannot be atomic, each with why
NOT_ATOMIC = {
    # rows appended to a corpus CSV that has its header: finished rows are never rewritten
    ("profile/run.py", "append_row", "open"): "append-only rows",
    # the live stdout/stderr of the measured pipeline run, written by the child as it runs
    ("profile/monitor.py", "measure", "open"): "a running process' log",
    # batch estimation's results stream: one line appended per finished input (a kill loses at most
    # the lines in flight), and on resume a line a kill cut short is cut off
    ("batch.py", "run_batch", "open"): "append-only result lines",
    ("batch.py", "finished_inputs", "open"): "truncating a cut-short last line",
}


def _function_of(tree):
    """Each node's enclosing function name ("" at module level)."""
    owner = {}
    for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        for node in ast.walk(function):
            owner.setdefault(id(node), function.name) if node is not function else None
    return owner


def non_atomic_writes(source: str, relative: str) -> list[str]:
    """The calls in ``source`` that write a file other than through atomic_write / atomic_path."""
    tree = ast.parse(source)
    # names bound by `with atomic_write(...) as name` / `with atomic_path(...) as name`
    atomic = {item.optional_vars.id for node in ast.walk(tree) if isinstance(node, (ast.With, ast.AsyncWith))
              for item in node.items
              if isinstance(item.context_expr, ast.Call) and isinstance(item.optional_vars, ast.Name)
              and getattr(item.context_expr.func, "id", getattr(item.context_expr.func, "attr", "")) in
              ("atomic_write", "atomic_path")}
    owner = _function_of(tree)

    def is_atomic(node) -> bool:
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "str" and node.args:
            node = node.args[0]
        return isinstance(node, ast.Name) and node.id in atomic

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        where = f"{relative}:{node.lineno} {owner.get(id(node), '')}: {name}"
        if name == "open":
            # open(path, mode) or path.open(mode)
            args = node.args[1:] if isinstance(node.func, ast.Name) else node.args
            modes = [a.value for a in args[:1] if isinstance(a, ast.Constant)] + \
                    [k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
            if any(isinstance(m, str) and set(m) & set("wax+") for m in modes) \
                    and (relative, owner.get(id(node), ""), "open") not in NOT_ATOMIC:
                found.append(where)
        elif name == "plot_model":
            target = next((k.value for k in node.keywords if k.arg == "to_file"), None)
            if not is_atomic(target):
                found.append(where)
        elif name in _TARGET_ARGUMENT:
            index = _TARGET_ARGUMENT[name]
            if index is None:  # Path.write_text / write_bytes: only on atomic_path's temporary path
                if not is_atomic(getattr(node.func, "value", None)):
                    found.append(where)
            elif len(node.args) > index and not is_atomic(node.args[index]):
                found.append(where)
    return found


def test_every_file_the_package_writes_goes_through_atomic_write():
    """No module but atomic.py opens a file for writing, saves a model, table, plot or array to a path,
    or copies onto one: each goes through atomic_write's handle or atomic_path's temporary path."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = str(path.relative_to(PACKAGE))
        if relative != "atomic.py":
            found += non_atomic_writes(path.read_text(), relative)
    assert found == []


def test_the_scan_finds_each_kind_of_write():
    source = """
import json, shutil
import numpy as np
from jwst_memest.atomic import atomic_path, atomic_write

def writes(table, model, path, fig):
    table.to_csv(path)
    path.write_text("x")
    with open(path, "w") as plain:
        json.dump({}, plain)
    np.save(path, [1])
    model.save(path)
    fig.savefig(path)
    shutil.copyfile(path, path.with_suffix(".b"))
    keras.utils.plot_model(model, to_file=str(path))
    keras.callbacks.ModelCheckpoint(path, save_best_only=True)

def safe(table, model, path, fig):
    with atomic_write(path, newline="") as handle:
        table.to_csv(handle)
    with atomic_write(path, "wb") as binary:
        np.save(binary, [1])
        fig.savefig(binary)
    with atomic_path(path) as temporary:
        model.save(temporary)
        temporary.write_text("x")
        keras.utils.plot_model(model, to_file=str(temporary))
    with open(path) as reading:
        reading.read()
"""
    assert sorted(w.split(" ", 1)[1] for w in non_atomic_writes(source, "x.py")) == [
        "writes: ModelCheckpoint", "writes: copyfile", "writes: open", "writes: plot_model", "writes: save",
        "writes: save", "writes: savefig", "writes: to_csv", "writes: write_text"]


def test_atomic_path_replaces_the_target_once_written(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with atomic_path(target) as temporary:
        assert temporary.parent == tmp_path and temporary.suffix == ".keras"
        temporary.write_text("new")
    assert target.read_text() == "new" and _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("midway")
    assert target.read_text() == "new" and _leftovers(tmp_path) == []


def test_an_exclusive_write_never_replaces_a_file_another_writer_made(tmp_path):
    target = tmp_path / "corpus.csv"
    with atomic_write(target, exclusive=True) as handle:
        handle.write("header\n")
    with pytest.raises(FileExistsError):
        with atomic_write(target, exclusive=True) as handle:
            handle.write("other header\n")
    assert target.read_text() == "header\n" and _leftovers(tmp_path) == []


def test_write_datamodel_names_the_file_as_save_does(tmp_path):
    from stdatamodels.jwst import datamodels

    for suffix in (".fits", ".asdf"):
        target = tmp_path / f"x_cal{suffix}"
        target.write_bytes(b"old")
        model = datamodels.ImageModel((4, 5))
        model.meta.filename = "elsewhere.fits"
        write_datamodel(model, target)
        with datamodels.open(target) as reread:
            assert reread.data.shape == (4, 5) and reread.meta.filename == target.name
    assert _leftovers(tmp_path) == []


def test_a_new_corpus_gets_its_header_whole_and_keeps_its_rows(tmp_path, monkeypatch):
    """append_row: a new file's header is written whole (or not at all); later rows are appended."""
    from jwst_memest.profile.run import append_row

    corpus = tmp_path / "corpus.csv"

    def failing_link(source, destination):
        raise OSError("disk full")

    with monkeypatch.context() as patched:
        patched.setattr(os, "link", failing_link)
        with pytest.raises(OSError, match="disk full"):
            append_row(corpus, {"a": 1, "b": 2}, columns=["a", "b"])
    assert not corpus.exists() and _leftovers(tmp_path) == []
    append_row(corpus, {"a": 1, "b": 2}, columns=["a", "b"])
    append_row(corpus, {"a": 3, "b": 4, "c": 5}, columns=["a", "b", "c"])  # the file keeps its own columns
    assert corpus.read_text().splitlines() == ["a,b", "1,2", "3,4"]
