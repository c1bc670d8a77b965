"""What one process writes, the next reads; processes share the database; threads share a backend."""

from __future__ import annotations

from agent_engine_core.memory import MemoryItem, MemorySetup
from agent_engine_core.testing import (
    check_closed_backend_refuses_work,
    check_foreign_items_are_refused,
    check_fork_refused,
    check_handles_share_the_store,
    check_persistence_across_processes,
    check_threads_lose_nothing,
    in_another_process,
)

from agent_engine_memory_sqlite import build_backend

FACTORY = "agent_engine_memory_sqlite:build_backend"


def test_memory_written_by_one_process_is_read_by_the_next(tmp_path):
    check_persistence_across_processes(FACTORY, tmp_path)


def test_processes_share_the_database_while_each_holds_it_open(tmp_path):
    held = build_backend(MemorySetup("project", "p1", tmp_path))
    held.append(MemoryItem("a", "project", "p1", "1", 1.0))
    held.append(MemoryItem("b", "project", "p1", "2", 2.0))
    child = MemoryItem("from-child", "project", "p1", "1", 100.0)
    seen = in_another_process(FACTORY, MemorySetup("project", "p1", tmp_path, max_items=2), append=[child])
    assert [i.id for i in seen] == ["a", "b"]
    assert [i.id for i in held.query()] == ["b", "from-child"], "the other process's append and its retention"
    held.close()


def test_handles_on_one_database_see_each_others_writes_and_retention(tmp_path):
    check_handles_share_the_store(build_backend, tmp_path)


def test_threads_appending_through_several_handles_lose_nothing(tmp_path):
    check_threads_lose_nothing(build_backend, tmp_path)


def test_a_closed_backend_refuses_work_and_closing_twice_is_harmless(tmp_path):
    check_closed_backend_refuses_work(build_backend, tmp_path,
                                      match=r"the sqlite backend of the project store \(.*memory\.db\) is closed")


def test_items_of_another_store_or_project_and_bad_limits_are_refused(tmp_path):
    check_foreign_items_are_refused(
        build_backend, tmp_path,
        invalid_json_match=r"cannot store item 'a': CHECK constraint failed: json_valid\(payload\)")


def test_a_backend_carried_across_fork_refuses_to_write(tmp_path):
    check_fork_refused(build_backend, tmp_path, match="before it forked this one")
