"""atomic_write: the one way the package replaces a file."""

import os
import stat

import pytest

from jwst_memest.atomic import atomic_write


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


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
def test_every_writer_goes_through_atomic_write(tmp_path, monkeypatch, writer):
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
        from jwst_memest.estimation import write_json_atomic

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
