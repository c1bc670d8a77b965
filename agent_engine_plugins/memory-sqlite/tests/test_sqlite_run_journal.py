"""The ``sqlite`` run journal keeps the journal contract (``agent_engine_core.testing.check_run_journal``)."""

from __future__ import annotations

import pytest
from agent_engine_core.runs import RunStoreSetup
from agent_engine_core.testing import check_run_journal

from agent_engine_memory_sqlite import JOURNAL_FILE, SqliteRunJournal


def test_the_sqlite_journal_keeps_the_contract(tmp_path):
    check_run_journal(SqliteRunJournal, tmp_path, persistent=True)


def test_the_journal_lives_beside_the_run_database(tmp_path):
    journal = SqliteRunJournal(RunStoreSetup("p", tmp_path, None, {"path": "state/runs.db"}))
    try:
        assert journal.path == (tmp_path / "state" / JOURNAL_FILE).absolute()
    finally:
        journal.close()


def test_a_file_that_is_not_a_journal_is_refused_naming_it(tmp_path):
    (tmp_path / ".agent_engine").mkdir()
    (tmp_path / ".agent_engine" / JOURNAL_FILE).write_text("not a database", encoding="utf-8")
    with pytest.raises(ValueError, match=r"journal\.db"):
        SqliteRunJournal(RunStoreSetup("p", tmp_path, None, {}))
