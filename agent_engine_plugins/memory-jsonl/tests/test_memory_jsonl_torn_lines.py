"""The torn-line rule: only the last line may be unfinished; it is skipped with a warning and cut before appending."""

from __future__ import annotations

import pytest
import structlog
from agent_engine_core.codec import dumps
from agent_engine_core.memory import MemoryItem, MemorySetup

from agent_engine_memory_jsonl import TornLineWarning, build_backend


def item(n: int) -> MemoryItem:
    return MemoryItem(f"i{n}", "project", "p1", dumps({"n": n}), float(n), None, ("x",))


def store(tmp_path, *items: MemoryItem):
    """A store file holding ``items``; its path and its bytes."""
    backend = build_backend(MemorySetup("project", "p1", tmp_path))
    for each in items:
        backend.append(each)
    backend.close()
    path = tmp_path / ".agent_engine" / "memory" / "project_store.jsonl"
    return path, path.read_bytes()


def open_store(tmp_path):
    return build_backend(MemorySetup("project", "p1", tmp_path))


@pytest.mark.parametrize("tail", [
    pytest.param(b'{"id":"i9","task_id":null,"proj', id="cut-mid-line"),
    pytest.param(b"\x00" * 300, id="power-loss-zeros"),
    pytest.param(b'{"id":"i9","task_id"\x00\x00\x00\n', id="zeros-then-newline"),
])
def test_a_torn_last_line_is_skipped_with_a_warning_then_cut_before_the_next_append(tmp_path, tail):
    path, good = store(tmp_path, item(1), item(2))
    path.write_bytes(good + tail)
    with pytest.warns(TornLineWarning, match=r"project_store\.jsonl:3: skipped a torn last line \(\d+ bytes") as caught:
        backend = open_store(tmp_path)
    assert caught[0].filename == __file__, "the warning points at the code that built the backend"
    assert [i.id for i in backend.query()] == ["i1", "i2"]
    assert path.read_bytes() == good + tail, "loading alone changes nothing"
    backend.append(item(3))
    backend.close()
    assert path.read_bytes() == good + (dumps(item_fields(3)) + "\n").encode()
    reopened = open_store(tmp_path)  # no warning now: filterwarnings = error would fail the test
    assert [i.id for i in reopened.query()] == ["i1", "i2", "i3"]
    reopened.close()


def item_fields(n: int) -> dict:
    return {"id": f"i{n}", "task_id": None, "project_id": "p1", "store": "project", "payload": {"n": n},
            "created_at": float(n), "tags": ["x"], "metadata": {}}


def test_a_complete_last_line_without_its_newline_is_kept_and_the_next_append_starts_a_new_line(tmp_path):
    path, good = store(tmp_path, item(1), item(2))
    path.write_bytes(good.rstrip(b"\n"))
    backend = open_store(tmp_path)
    assert [i.id for i in backend.query()] == ["i1", "i2"]
    backend.append(item(3))
    backend.close()
    assert path.read_bytes() == good + (dumps(item_fields(3)) + "\n").encode()


def test_the_torn_line_is_logged(tmp_path):
    path, good = store(tmp_path, item(1))
    path.write_bytes(good + b'{"id"')
    with pytest.warns(TornLineWarning), structlog.testing.capture_logs() as logs:
        open_store(tmp_path).close()
    assert logs == [{"event": "skipped a torn last line of a memory file", "log_level": "warning", "file": str(path),
                     "line": 2, "bytes": 5, "reason": logs[0]["reason"]}]


@pytest.mark.parametrize(("damage", "line"), [
    pytest.param(b"garbage\n", 2, id="not-json"),
    pytest.param(b'{"id":"x"}\n', 2, id="wrong-fields"),
    pytest.param(b'["a list"]\n', 2, id="not-an-object"),
])
def test_damage_before_the_last_line_raises_naming_the_file_and_line(tmp_path, damage, line):
    path, good = store(tmp_path, item(1), item(2))
    first, second = good.splitlines(keepends=True)
    path.write_bytes(first + damage + second)
    with pytest.raises(ValueError, match=rf"project_store\.jsonl:{line}: .*Only the last line of a memory file can be "
                                         "torn by a crash"):
        open_store(tmp_path)
    path.write_bytes(first + second)
    open_store(tmp_path).close()  # the failed open released its lock and its file


def test_blank_lines_are_ignored(tmp_path):
    path, good = store(tmp_path, item(1), item(2))
    first, second = good.splitlines(keepends=True)
    path.write_bytes(first + b"\n  \n" + second + b"\n")
    backend = open_store(tmp_path)
    assert [i.id for i in backend.query()] == ["i1", "i2"]
    backend.close()


def test_a_rewrite_cut_short_leaves_the_old_file_and_its_temporary_file_is_removed(tmp_path):
    path, good = store(tmp_path, item(1), item(2))
    stale = path.with_name(".project_store.jsonl.k3j4h5.tmp")
    stale.write_bytes(good[:10])
    backend = build_backend(MemorySetup("project", "p1", tmp_path, max_items=2))
    assert not stale.exists()
    assert [i.id for i in backend.query()] == ["i1", "i2"]
    backend.append(item(3))
    backend.close()
    assert path.read_bytes() == b"".join((dumps(item_fields(n)) + "\n").encode() for n in (2, 3))
    assert sorted(p.name for p in path.parent.iterdir()) == [
        ".artifacts.jsonl.lock", ".project_store.jsonl.lock", "artifacts.jsonl", "project_store.jsonl"]
