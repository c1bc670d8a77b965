"""``check_run_store``: the semantics every run store keeps (``agent_engine_core.runs``), as one reusable check.

Run store distributions call it from their tests with a function that builds their store for a
``RunStoreSetup``. Every scenario gets its own ``base_dir`` (a folder under the one given) and its own
``project_id``, so that a file store and a database store each start empty; a persistent store must see, in a
second instance built on the same setup, what the first one wrote.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agent_engine_core.codec import dumps
from agent_engine_core.runs import RunStore, RunStoreSetup, RunSummary, StoredRun, select_runs

__all__ = ["check_run_store", "check_run_store_property"]

Build = Callable[[RunStoreSetup], RunStore]

_scenarios = itertools.count()
_THREAD_BATCHES = 40
_BATCH = 5


def _setup(tmp_dir: Path, max_runs: int | None) -> RunStoreSetup:
    """A setup of a place no other scenario uses."""
    n = next(_scenarios)
    base = tmp_dir / f"scenario-{n}"
    base.mkdir(parents=True, exist_ok=True)
    return RunStoreSetup(project_id=f"runs-check-{n}", base_dir=base, max_runs=max_runs, config={})


def _summary(run_id: str, started_at: float, *, status: str = "succeeded", origin: str | None = None) -> RunSummary:
    return RunSummary(run_id=run_id, status=status, started_at=started_at, duration_s=started_at / 7 + 0.001,
                      nodes=len(run_id), tokens=2**40 + len(run_id), origin=origin)


def _document(summary: RunSummary, note: str = "") -> str:
    """A document's text with what a store must keep byte for byte: spacing, escapes, non-ASCII, key order."""
    body = dumps({"note": note, "text": "é \u2028 ☃ \\ \"q\"", "z": 1, "a": [1.5, None]})
    return f'{{"format": 1,  "summary": {dumps(summary.to_dict())},\n "body": {body}}}'


def _run(run_id: str, started_at: float, *, status: str = "succeeded", origin: str | None = None,
         note: str = "", composed: bool = False) -> StoredRun:
    summary = _summary(run_id, started_at, status=status, origin=origin)
    text = _document(summary, note)
    return StoredRun.deferred(run_id, lambda: summary, lambda: text) if composed else StoredRun(summary, text)


def _ids(store: RunStore, **query: Any) -> list[str]:
    return [s.run_id for s in store.runs(**query)]


def _check_same(store: RunStore, expected: StoredRun, why: str) -> None:
    found = store.get(expected.run_id)
    assert found is not None, f"{why}: run {expected.run_id!r} is missing"
    assert found.summary == expected.summary, f"{why}: run {expected.run_id!r}'s summary changed"
    assert found.document_json == expected.document_json, f"{why}: run {expected.run_id!r}'s document changed"


def check_run_store(build: Build, tmp_dir: Path, *, persistent: bool, default_max_runs: int) -> None:
    """Assert the contract of ``agent_engine_core.runs`` on stores made by ``build``.

    ``persistent``: a second store built on the same setup sees what the first wrote (also after the first is
    closed), and a write reads every run's document (a document that cannot be composed fails the whole write,
    leaving nothing of it). ``default_max_runs``: the bound the store applies when ``max_runs`` is ``None``.
    """
    _check_listing_and_documents(build, tmp_dir, persistent=persistent)
    _check_replacing(build, tmp_dir, persistent=persistent)
    _check_retention(build, tmp_dir, persistent=persistent)
    _check_default_bound(build, tmp_dir, default_max_runs)
    _check_threads(build, tmp_dir)
    if persistent:
        _check_all_or_none(build, tmp_dir)


def _check_listing_and_documents(build: Build, tmp_dir: Path, *, persistent: bool) -> None:
    setup = _setup(tmp_dir, None)
    store = build(setup)
    try:
        assert store.runs() == [], "a new store is empty"
        assert store.get("nothing") is None, "get of an unknown run is None"
        runs = [
            _run("r-b", 20.0), _run("r-a", 20.0, status="failed"), _run("r-c", 10.0, origin="r-a"),
            _run("r-d", 30.0, status="failed", composed=True), _run("r-e", 1_700_000_000.123456789, composed=True),
        ]
        store.write(runs[:2])
        store.write(runs[2:])
        store.write([])
        newest_first = ["r-e", "r-d", "r-b", "r-a", "r-c"]
        assert _ids(store) == newest_first, "newest first by started_at, then run id (both descending)"
        assert store.runs() == select_runs([r.summary for r in runs]), "summaries come back exactly as written"
        assert _ids(store, status="failed") == ["r-d", "r-a"], "status filter"
        assert _ids(store, since=20.0) == ["r-e", "r-d", "r-b", "r-a"], "since keeps runs started at or after it"
        assert _ids(store, limit=2) == ["r-e", "r-d"], "limit keeps the newest"
        assert _ids(store, status="failed", since=25.0, limit=5) == ["r-d"], "filters combine"
        assert store.runs(limit=0) == [], "limit 0 is nothing"
        try:
            store.runs(limit=-1)
        except ValueError:
            pass
        else:
            raise AssertionError("runs(limit=-1) must raise ValueError")
        for run in runs:
            _check_same(store, run, "get returns the run as written")
        if persistent:
            second = build(setup)
            try:
                assert _ids(second) == newest_first, "a second store on the same place sees the runs"
                _check_same(second, runs[3], "a second store reads the document byte for byte")
                second.write([_run("r-f", 2_000_000_000.0)])
                assert _ids(store)[0] == "r-f", "what a second store writes, the first one sees"
            finally:
                second.close()
    finally:
        store.close()
    if persistent:
        reopened = build(setup)
        try:
            assert _ids(reopened) == ["r-f", *newest_first], "the runs survive a reopen"
            for run in runs:
                _check_same(reopened, run, "a reopened store returns the run as written")
        finally:
            reopened.close()


def _check_replacing(build: Build, tmp_dir: Path, *, persistent: bool) -> None:
    setup = _setup(tmp_dir, 2)
    store = build(setup)
    try:
        store.write([_run("x", 1.0, note="first"), _run("y", 2.0)])
        again = _run("x", 5.0, status="failed", note="second")
        store.write([again])
        assert _ids(store) == ["x", "y"], "writing a run id again replaces the run (one listing entry)"
        _check_same(store, again, "the replacement is what get returns")
        store.write([_run("z", 0.5)])
        assert _ids(store) == ["x", "z"], "a replaced run counts as written when it was replaced"
        twice = [_run("w", 3.0, note="one"), _run("w", 3.0, note="two")]
        store.write(twice)
        assert _ids(store) == ["w", "z"], "a run id twice in one write is one run"
        _check_same(store, twice[1], "the later of a run id written twice in one write wins")
    finally:
        store.close()
    if persistent:
        reopened = build(setup)
        try:
            assert _ids(reopened) == ["w", "z"], "replacements and retention survive a reopen"
            _check_same(reopened, twice[1], "after a reopen")
        finally:
            reopened.close()


def _check_retention(build: Build, tmp_dir: Path, *, persistent: bool) -> None:
    setup = _setup(tmp_dir, 3)
    store = build(setup)
    try:
        for n, started in enumerate((50.0, 40.0, 30.0, 20.0, 10.0)):  # written newest-started first
            store.write([_run(f"k{n}", started)])
        assert _ids(store) == ["k2", "k3", "k4"], "retention drops the runs written longest ago, not the oldest"
        assert store.get("k0") is None, "a run retention dropped is gone from get too"
        store.write([_run(f"b{n}", 60.0 + n) for n in range(5)])
        assert _ids(store) == ["b4", "b3", "b2"], "one write past the bound keeps its last max_runs runs"
    finally:
        store.close()
    _check_large_write(build, tmp_dir)
    if persistent:
        reopened = build(_setup_again(setup, 2))
        try:
            reopened.write([_run("after", 1.0)])
            assert _ids(reopened) == ["b4", "after"], "a reopened store applies its own bound by write order"
        finally:
            reopened.close()


def _check_large_write(build: Build, tmp_dir: Path) -> None:
    """A write of hundreds of runs (a store may split it into statements) keeps write order; the last wins."""
    store = build(_setup(tmp_dir, 150))
    try:
        ids = [f"w{n % 180:03d}" for n in range(250)]  # w000..w069 again after w179: the second copy wins
        written = [_run(run_id, 1000.0 - n, note=str(n)) for n, run_id in enumerate(ids)]
        store.write(written)
        last = {run.run_id: run for run in written}  # insertion order: a run id's first place
        order = sorted(last, key=lambda run_id: max(n for n, i in enumerate(ids) if i == run_id))
        kept = order[-150:]
        assert sorted(_ids(store)) == sorted(kept), "a large write keeps the max_runs runs written last"
        for run_id in kept:
            _check_same(store, last[run_id], "a run written twice in one write is its last copy")
    finally:
        store.close()


def _setup_again(setup: RunStoreSetup, max_runs: int | None) -> RunStoreSetup:
    return RunStoreSetup(setup.project_id, setup.base_dir, max_runs, setup.config)


def _check_default_bound(build: Build, tmp_dir: Path, default_max_runs: int) -> None:
    store = build(_setup(tmp_dir, None))
    try:
        total = default_max_runs + 3
        store.write([_run(f"d{n:08d}", float(n)) for n in range(total)])
        listed = _ids(store)
        assert len(listed) == default_max_runs, f"without max_runs the store keeps {default_max_runs} runs"
        assert listed[-1] == "d00000003", "the default bound drops the runs written longest ago"
    finally:
        store.close()


def _check_threads(build: Build, tmp_dir: Path) -> None:
    """One thread writes batches while another lists and reads: every listing shows whole batches only."""
    store = build(_setup(tmp_dir, _THREAD_BATCHES * _BATCH))
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for b in range(_THREAD_BATCHES):
                store.write([_run(f"t{b:03d}-{k}", float(b * _BATCH + k)) for k in range(_BATCH)])
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                listed = store.runs()
                batches: dict[str, int] = {}
                for summary in listed:
                    batches[summary.run_id[:4]] = batches.get(summary.run_id[:4], 0) + 1
                torn = {b: n for b, n in batches.items() if n != _BATCH}
                assert not torn, f"a reader saw part of a write: {torn}"
                if listed:
                    _check_same(store, _run(listed[0].run_id, listed[0].started_at), "read while writing")
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        assert len(store.runs()) == _THREAD_BATCHES * _BATCH, "writes from a thread lose nothing"
    finally:
        store.close()


def _check_all_or_none(build: Build, tmp_dir: Path) -> None:
    """A write whose third document cannot be composed stores none of its runs, and the store goes on."""
    setup = _setup(tmp_dir, None)
    store = build(setup)
    try:
        store.write([_run("kept", 1.0)])

        def broken() -> str:
            raise OSError("the document could not be composed")

        bad_summary = _summary("bad", 4.0)
        bad = StoredRun.deferred("bad", lambda: bad_summary, broken)
        try:
            store.write([_run("half-1", 2.0), _run("half-2", 3.0, composed=True), bad])
        except OSError:
            pass
        else:
            raise AssertionError("a write whose document cannot be composed must raise")
        assert _ids(store) == ["kept"], "a failed write leaves none of its runs"
        store.write([_run("next", 5.0)])
        assert _ids(store) == ["next", "kept"], "the store is usable after a failed write"
    finally:
        store.close()
    reopened = build(setup)
    try:
        assert _ids(reopened) == ["next", "kept"], "a failed write leaves nothing behind on disk"
    finally:
        reopened.close()


def check_run_store_property(build: Build, tmp_dir: Path, *, max_examples: int = 40) -> None:
    """For any sequence of writes, ``runs()`` is ``select_runs`` over the last ``max_runs`` run ids written.

    Hypothesis (a test dependency, imported when this runs) draws batches of runs (run ids repeating, started
    times tying) and a bound; after every write, every listing and every ``get`` must answer what a model of
    the contract does. Each example builds one store on a fresh setup under ``tmp_dir``.
    """
    from hypothesis import given, settings  # noqa: PLC0415 - a test dependency, not one of the core's
    from hypothesis import strategies as st  # noqa: PLC0415 - as above

    runs = st.tuples(st.sampled_from("abcdefg"), st.integers(0, 4), st.sampled_from(["succeeded", "failed"]))
    batches = st.lists(st.lists(runs, max_size=4), min_size=1, max_size=6)
    queries = st.tuples(st.none() | st.sampled_from(["succeeded", "failed"]), st.none() | st.integers(0, 4),
                        st.none() | st.integers(0, 5))

    @settings(max_examples=max_examples, deadline=None)
    @given(bound=st.integers(1, 5), batches=batches, query=queries)
    def listing_matches_the_model(bound: int, batches: list[list[Any]], query: tuple[Any, ...]) -> None:
        _run_property_example(build, tmp_dir, bound, batches, query)

    listing_matches_the_model()


def _run_property_example(build: Build, tmp_dir: Path, bound: int, batches: Sequence[Sequence[Any]],
                          query: tuple[Any, ...]) -> None:
    store = build(_setup(tmp_dir, bound))
    model: dict[str, StoredRun] = {}  # insertion order is write order
    try:
        for number, batch in enumerate(batches):
            written = [_run(run_id, float(started), status=status, note=f"{number}")
                       for run_id, started, status in batch]
            store.write(written)
            for run in written:
                model.pop(run.run_id, None)
                model[run.run_id] = run
            for run_id in list(model)[: max(0, len(model) - bound)]:
                del model[run_id]
            status, since, limit = query
            summaries = [run.summary for run in model.values()]
            assert store.runs() == select_runs(summaries)
            assert store.runs(status=status, since=since, limit=limit) == select_runs(
                summaries, status=status, since=since, limit=limit)
            for run_id in "abcdefg":
                if run_id in model:
                    _check_same(store, model[run_id], "the model's run")
                else:
                    assert store.get(run_id) is None, f"run {run_id!r} should be gone"
    finally:
        store.close()
