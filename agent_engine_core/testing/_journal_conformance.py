"""``check_run_journal``: the semantics every run journal keeps (``agent_engine_core.journal``), as one check.

Journal distributions call it with a function that builds their journal for a ``RunStoreSetup``. Each scenario
gets its own folder and project id; a persistent journal must show a second instance built on the same setup
what the first one appended (a resume runs in another process than the run it resumes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from agent_engine_core.journal import RunJournal
from agent_engine_core.runs import RunStoreSetup

__all__ = ["check_run_journal"]

Build = Callable[[RunStoreSetup], RunJournal]

_scenarios = itertools.count()
_HEADER = '{"format": 1,  "start": "s", "input": {"é": "\\u2028 ☃"}}'
"""What a journal must keep byte for byte: spacing, escapes, non-ASCII."""


def _setup(tmp_dir: Path) -> RunStoreSetup:
    n = next(_scenarios)
    base = tmp_dir / f"journal-{n}"
    base.mkdir(parents=True, exist_ok=True)
    return RunStoreSetup(project_id=f"journal-check-{n}", base_dir=base, max_runs=None, config={})


def check_run_journal(build: Build, tmp_dir: Path, *, persistent: bool) -> None:
    """Assert the contract of ``agent_engine_core.journal`` on journals made by ``build``."""
    setup = _setup(tmp_dir)
    journal = build(setup)
    try:
        assert journal.read("r1") is None and journal.runs() == [], "a new journal is empty"
        journal.begin("r1", _HEADER)
        journal.append("r1", [("stage", '{"seq": 0}'), ("stage", '{"seq": 1}')])
        journal.append("r1", [("approval", '{"decision": "approved"}')])
        journal.begin("r2", "{}")
        kept = journal.read("r1")
        assert kept is not None, "a begun run is read back"
        assert kept.header_json == _HEADER, "the header is kept as given"
        assert kept.entries == (("stage", '{"seq": 0}'), ("stage", '{"seq": 1}'),
                                ("approval", '{"decision": "approved"}')), "entries in append order, as given"
        assert kept.summary.status == "running" and kept.summary.detail_json == "[]", "a begun run is running"
        journal.set_status("r1", "waiting", '[{"node_id": "g"}]')
        waiting = journal.runs(status="waiting")
        assert [(s.run_id, s.detail_json) for s in waiting] == [("r1", '[{"node_id": "g"}]')], "waiting runs"
        assert {s.run_id for s in journal.runs()} == {"r1", "r2"}, "runs() lists every journaled run"
        if persistent:
            other = build(setup)
            try:
                again = other.read("r1")
                assert again is not None and again.entries == kept.entries, "another instance reads the journal"
                assert again.summary.status == "waiting", "and its status"
            finally:
                other.close()
        journal.begin("r1", "{}")
        restarted = journal.read("r1")
        assert restarted is not None and restarted.entries == (), "begin drops what was journaled before"
        assert restarted.summary.status == "running", "begin sets the status to running"
        journal.finish("r1")
        assert journal.read("r1") is None, "finish drops the run's journal"
        assert [s.run_id for s in journal.runs()] == ["r2"], "and only that run's"
    finally:
        journal.close()
    other_project = build(_setup(tmp_dir))
    try:
        assert other_project.runs() == [], "a journal sees only its project's runs"
    finally:
        other_project.close()
