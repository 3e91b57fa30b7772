"""Batch estimation on dask.distributed: one JSON line per input, resumable, a bounded number in flight."""

import json
import shutil
from pathlib import Path

import pytest

from jwst_memest.batch import batch_inputs, finished_inputs, run_batch

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture
def associations(tmp_path):
    from jwst_memest.example import example_association

    source = Path(example_association())
    folder = tmp_path / "asn"
    shutil.copytree(source.parent, folder)
    text = (folder / source.name).read_text()
    for i in (2, 3):
        (folder / source.name.replace("00001", f"0000{i}")).write_text(text)
    (folder / "jw01234-o009_image3_00001_asn.json").write_text("{not json")
    return folder


def test_inputs_are_associations_or_observations(associations, tmp_path):
    assert len(list(batch_inputs([associations]))) == 4
    exposures = tmp_path / "exposures"
    exposures.mkdir()
    for name in ("jw01234001001_03101_00001_nrca1_uncal.fits", "jw01234002001_03101_00001_nrca1_uncal.fits",
                 "jw01234002001_03101_00002_nrca1_uncal.fits", "notes.txt"):
        (exposures / name).write_text("")
    assert [k.rsplit("#", 1)[1] for k in batch_inputs([exposures])] == ["01234001", "01234002"]
    with pytest.raises(ValueError, match="no such file"):
        list(batch_inputs([tmp_path / "absent"]))


def test_a_line_cut_short_by_a_kill_is_dropped(tmp_path):
    output = tmp_path / "results.jsonl"
    output.write_text('{"input": "a", "status": "ok", "products": []}\n{"input": "b", "st')
    assert finished_inputs(output) == {"a"}
    assert output.read_text().endswith("[]}\n")
    assert finished_inputs(tmp_path / "absent.jsonl") == set()


@pytest.mark.slow
def test_batch_streams_lines_and_resumes_without_redoing_work(associations, tmp_path, client):
    inputs = list(batch_inputs([associations]))
    output = tmp_path / "results.jsonl"
    first = run_batch(inputs[:2], output, client=client, in_flight=1)
    assert first == {"skipped": 0, "done": 2, "failed": 0}
    # a kill half way through a line: the partial line is dropped on resume
    with open(output, "a") as handle:
        handle.write('{"input": "half')
    assert finished_inputs(output) == set(inputs[:2])
    second = run_batch(inputs, output, client=client, in_flight=2)
    assert second["skipped"] == 2 and second["done"] + second["failed"] == 2
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(line["input"] for line in lines) == sorted(inputs)
    ok = [line for line in lines if line["status"] == "ok"]
    assert len(ok) == 3 and all(line["products"][0]["memory_estimate"]["wall_time_s"] > 0 for line in ok)
    failed = [line for line in lines if line["status"] == "failed"]
    assert len(failed) == 1 and "o009" in failed[0]["input"]
    assert run_batch(inputs, output, client=client) == {"skipped": 4, "done": 0, "failed": 0}
