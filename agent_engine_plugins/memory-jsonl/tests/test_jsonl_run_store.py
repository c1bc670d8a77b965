"""The jsonl run store keeps the run store contract, survives a torn last write, and compacts by rewriting."""

from __future__ import annotations

import json

import pytest
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun
from agent_engine_core.testing import check_run_store, check_run_store_property

from agent_engine_memory_jsonl import DEFAULT_MAX_RUNS, TornLineWarning, build_run_store


def test_the_jsonl_run_store_keeps_the_contract(tmp_path):
    check_run_store(build_run_store, tmp_path, persistent=True, default_max_runs=DEFAULT_MAX_RUNS)


def test_the_jsonl_run_store_lists_what_the_model_does_for_any_writes(tmp_path):
    check_run_store_property(build_run_store, tmp_path, max_examples=25)


def _stored(run_id: str, started_at: float) -> StoredRun:
    summary = RunSummary(run_id, "succeeded", started_at, 0.5, 3, 10, f"sha256:{run_id}")
    return StoredRun(summary, json.dumps({"format": 1, "run": run_id}))


def _store(tmp_path, max_runs=None):
    return build_run_store(RunStoreSetup("p", tmp_path, max_runs, {}))


def _ids(store):
    return [s.run_id for s in store.runs()]


@pytest.mark.parametrize("tail", [
    pytest.param(b'{"ends_write":false,"summary":{"run_id":"t', id="cut-mid-line"),
    pytest.param(b"\x00" * 300, id="power-loss-zeros"),
    pytest.param(b'{"ends_write":false,"summary":{"run_id":"t1","status":"succeeded","started_at":9,"duration_s":1,'
                 b'"nodes":1,"tokens":1},"document":"{}"}\n', id="unfinished-write"),
])
def test_a_torn_last_write_is_skipped_with_a_warning_then_cut_before_the_next_write(tmp_path, tail):
    store = _store(tmp_path)
    store.write([_stored("a", 1.0), _stored("b", 2.0)])
    store.close()
    path = tmp_path / ".agent_engine" / "runs.jsonl"
    good = path.read_bytes()
    path.write_bytes(good + tail)
    with pytest.warns(TornLineWarning, match=r"runs\.jsonl: skipped a torn last write \(\d+ bytes at byte \d+\)"):
        reopened = _store(tmp_path)
    assert _ids(reopened) == ["b", "a"], "the finished writes are all there, the torn one is not"
    reopened.write([_stored("c", 3.0)])
    assert path.read_bytes().startswith(good) and b"t1" not in path.read_bytes(), "the torn write was cut"
    reopened.close()
    again = _store(tmp_path)  # no warning: pytest turns one into an error
    assert _ids(again) == ["c", "b", "a"]
    assert again.get("c").document_json == _stored("c", 3.0).document_json
    again.close()


def test_a_damaged_line_before_finished_writes_is_refused_naming_the_file(tmp_path):
    store = _store(tmp_path)
    store.write([_stored("a", 1.0)])
    path = tmp_path / ".agent_engine" / "runs.jsonl"
    path.write_bytes(b"garbage\n" + path.read_bytes())
    store.close()
    with pytest.raises(ValueError, match=r"runs\.jsonl: the line at byte 0 is damaged .* restore the file"):
        _store(tmp_path)


def test_retention_rewrites_the_file_once_it_holds_twice_the_bound(tmp_path):
    store = _store(tmp_path, max_runs=3)
    path = tmp_path / ".agent_engine" / "runs.jsonl"
    lines = []
    for n in range(10):
        store.write([_stored(f"r{n}", float(n))])
        lines.append(path.read_bytes().count(b"\n"))
        assert _ids(store) == [f"r{k}" for k in range(n, max(-1, n - 3), -1)]
    assert lines == [1, 2, 3, 4, 5, 6, 3, 4, 5, 6], "rewritten down to the bound past 2 x 3 lines"
    other = _store(tmp_path, max_runs=3)
    assert _ids(other) == ["r9", "r8", "r7"]
    store.write([_stored("r10", 10.0)])  # rewrites: the other store must notice the new file
    assert _ids(other) == ["r10", "r9", "r8"]
    assert other.get("r8").document_json == _stored("r8", 8.0).document_json
    assert not list(path.parent.glob("*.tmp")), "no temporary file is left behind"
    store.close()
    other.close()


@pytest.mark.parametrize(("base_dir", "config", "match"), [
    (None, {}, r"no place for its file.*config: \{path"),
    ("tmp", {"path": "r.jsonl", "fsync": False}, r"unknown config key 'fsync' in runs:; the jsonl run store "
                                                 r"accepts path"),
    ("tmp", {"path": ""}, r"config.path must be a file path \(text\)"),
    ("tmp", {"path": "."}, r"is a folder"),
])
def test_bad_config_is_refused_with_what_to_change(tmp_path, base_dir, config, match):
    with pytest.raises(ValueError, match=match):
        build_run_store(RunStoreSetup("p", tmp_path if base_dir else None, None, config))


def test_a_closed_store_refuses_work(tmp_path):
    store = _store(tmp_path)
    store.close()
    store.close()
    with pytest.raises(ValueError, match=r"run store .* is closed"):
        store.runs()


@pytest.mark.parametrize("backend", ["jsonl", "file"])
def test_memory_yaml_runs_backend_names_the_store_and_the_next_store_reads_the_runs(tmp_path, backend):
    from agent_engine_core import Engine

    (tmp_path / "workflow.yaml").write_text('version: "1.0"\nnodes:\n  - {id: s, role: start}\n'
                                            "  - {id: e, role: exit}\nedges:\n  - {from: s, to: e}\n")
    (tmp_path / "memory.yaml").write_text(f"memory: {{project_id: desk}}\nruns: {{backend: {backend}}}\n")
    engine = Engine.from_config_dir(tmp_path)
    results = [engine.run({"n": n}) for n in range(3)]
    engine.close()
    store = build_run_store(RunStoreSetup("desk", tmp_path, None, {}))
    assert sorted(_ids(store)) == sorted(r.task_id for r in results)
    for result in results:
        assert store.get(result.task_id).trace.digest == result.trace.digest
    store.close()
