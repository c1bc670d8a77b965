"""What one process writes, the next reads; one process at a time; handles in one process share the file."""

from __future__ import annotations

import pytest
from agent_engine_core.memory import MemorySetup
from agent_engine_core.testing import (
    check_closed_backend_refuses_work,
    check_foreign_items_are_refused,
    check_fork_refused,
    check_handles_share_the_store,
    check_persistence_across_processes,
    check_threads_lose_nothing,
    in_another_process,
)

from agent_engine_memory_jsonl import build_backend

FACTORY = "agent_engine_memory_jsonl:build_backend"


def test_memory_written_by_one_process_is_read_by_the_next(tmp_path):
    check_persistence_across_processes(FACTORY, tmp_path)


def test_a_second_process_is_refused_while_one_holds_the_store(tmp_path):
    setup = MemorySetup("task", "p1", tmp_path)
    held = build_backend(setup)
    try:
        with pytest.raises(ValueError, match=r"task_store\.jsonl is open in another process \(pid ") as caught:
            in_another_process(FACTORY, setup)
    finally:
        held.close()
    assert "use the sqlite backend" in str(caught.value)
    assert in_another_process(FACTORY, setup) == [], "closing the store lets the next process in"


def test_handles_in_one_process_share_the_file_its_index_and_its_retention(tmp_path):
    check_handles_share_the_store(build_backend, tmp_path)


def test_threads_appending_through_several_handles_lose_nothing(tmp_path):
    check_threads_lose_nothing(build_backend, tmp_path)


def test_a_closed_backend_refuses_work_and_closing_twice_is_harmless(tmp_path):
    check_closed_backend_refuses_work(build_backend, tmp_path,
                                      match=r"the jsonl backend of the project store \(.*memory\) is closed")


def test_items_of_another_store_or_project_and_bad_limits_are_refused(tmp_path):
    check_foreign_items_are_refused(build_backend, tmp_path, invalid_json_match="payload_json is not JSON text")
    assert (tmp_path / ".agent_engine/memory/project_store.jsonl").read_text().count("\n") == 1


def test_a_backend_carried_across_fork_refuses_to_write(tmp_path):
    check_fork_refused(build_backend, tmp_path, match="before it forked this one")
