"""The postgres run journal keeps the journal contract, and a durable run resumes from it in another engine."""

from __future__ import annotations

import dataclasses

import pytest
from agent_engine_core import Engine, Status
from agent_engine_core.journal import RunJournal
from agent_engine_core.runs import RunStoreSetup
from agent_engine_core.testing import check_run_journal

from agent_engine_memory_postgres.plugin import build_run_journal


@pytest.fixture
def build(config):
    opened: list[RunJournal] = []

    def make(setup: RunStoreSetup) -> RunJournal:
        journal = build_run_journal(dataclasses.replace(setup, config=config))
        opened.append(journal)
        return journal

    yield make
    for journal in opened:
        journal.close()


def test_the_postgres_journal_keeps_the_contract(build, tmp_path):
    check_run_journal(build, tmp_path, persistent=True)


def test_a_run_waiting_in_postgres_is_approved_by_another_engine(config):
    manifests = {
        "workflow": {"version": "1.0", "nodes": [
            {"id": "s", "role": "start"}, {"id": "g", "role": "linear", "approval": {"prompt": "ok?"}},
            {"id": "x", "role": "exit"}], "edges": [{"from": "s", "to": "g"}, {"from": "g", "to": "x"}]},
        "memory": {"memory": {"project_id": "journal-engines"},
                   "runs": {"backend": "postgres", "durability": "stage", "config": dict(config)}},
    }
    with Engine.from_dict(manifests) as first:
        waiting = first.run({"n": 1}, run_id="pg-1")
    assert waiting.status is Status.WAITING
    with Engine.from_dict(manifests) as second:
        assert [run["run_id"] for run in second.waiting()] == ["pg-1"]
        done = second.approve("pg-1", "g", approve=True, input={"n": 1}, by="ops")
        assert done.status is Status.SUCCESS and done.output == {"n": 1}
        assert second.waiting() == []
