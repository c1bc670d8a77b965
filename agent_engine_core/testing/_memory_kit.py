"""Checks a memory backend distribution needs beyond the contract: crashes, processes, threads, retention, config.

``check_memory_backend`` pins down what every backend answers; the checks here pin down how a durable backend
behaves under the things that break storage: a process killed mid-write, a second process, threads sharing a
backend, a backend carried across ``fork``, any sequence of appends under a changing bound, and a bad config.
Each raises ``AssertionError`` (or fails the test through ``pytest.raises``) when the backend misbehaves;
pytest, like Hypothesis, is imported by the checks that use it, when they run.

Two ways to name the backend under test:

* ``build``, a callable from ``MemorySetup`` to a backend, as ``check_memory_backend`` takes it, for checks
  that run in the test's process;
* ``factory``, a ``"module:attribute"`` reference to the backend factory
  (``"agent_engine_memory_sqlite:build_backend"``), for checks that build the backend in other processes:
  a fresh interpreter imports it from there. The setup fields travel as JSON, so ``config`` must be JSON.

Run as ``python -m agent_engine_core.testing._memory_kit ACTION SPEC``, this module is those other processes (see
``_ACTIONS``). Hypothesis (a test dependency) is imported only when ``check_retention_property`` runs.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

from agent_engine_core._logging import configure as configure_logging
from agent_engine_core.codec import dumps
from agent_engine_core.engine import Engine
from agent_engine_core.errors import ManifestError
from agent_engine_core.memory import Artifact, MemoryBackend, MemoryItem, MemorySetup, StoreName, select_items

__all__ = [
    "LockedDir",
    "check_closed_backend_refuses_work",
    "check_engines_share_memory",
    "check_foreign_items_are_refused",
    "check_fork_refused",
    "check_handles_share_the_store",
    "check_memory_yaml_refused",
    "check_persistence_across_processes",
    "check_retention_property",
    "check_retention_survives_kills",
    "check_threads_lose_nothing",
    "check_writes_survive_kills",
    "in_another_process",
]

Build = Callable[[MemorySetup], MemoryBackend]

_DEFAULT_SEED = 20240611
_SUBPROCESS_TIMEOUT = 60  # seconds; a fresh interpreter takes about half of one to import the engine
_WORKFLOW_YAML = """\
version: "1.0"
nodes:
  - {id: s, role: start}
  - {id: e, role: exit, memory_write: project}
edges:
  - {from: s, to: e}
"""


# --- naming the backend ---------------------------------------------------------------------------------------


def _load(factory: str) -> Build:
    """The factory a ``"module:attribute"`` reference names."""
    module, _, attribute = factory.partition(":")
    if not module or not attribute:
        raise ValueError(f"name the backend factory as 'module:attribute', got {factory!r}")
    return cast(Build, getattr(importlib.import_module(module), attribute))


def _setup_to_json(setup: MemorySetup) -> dict[str, Any]:
    return {"store": setup.store, "project_id": setup.project_id, "max_items": setup.max_items,
            "project_dir": None if setup.project_dir is None else str(setup.project_dir),
            "config": dict(setup.config)}


def _setup_from_json(fields: dict[str, Any]) -> MemorySetup:
    project_dir = None if fields["project_dir"] is None else Path(fields["project_dir"])
    return MemorySetup(fields["store"], fields["project_id"], project_dir, fields["max_items"], fields["config"])


def _item_from_json(fields: dict[str, Any]) -> MemoryItem:
    return MemoryItem(**{**fields, "tags": tuple(fields["tags"])})


# --- other processes ------------------------------------------------------------------------------------------


def _answer(
    factory: str, setup: MemorySetup, *, append: Sequence[MemoryItem] = (), put: Sequence[Artifact] = (),
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """Run the ``open`` action in a fresh interpreter and decode what it printed (its ``ValueError`` is raised)."""
    spec = {"factory": factory, "setup": _setup_to_json(setup), "append": [i._asdict() for i in append],
            "put": [a._asdict() for a in put], "tags": list(tags)}
    done = subprocess.run([sys.executable, "-m", __name__, "open", json.dumps(spec)], capture_output=True,
                          text=True, check=False, timeout=_SUBPROCESS_TIMEOUT)
    assert done.returncode == 0, f"the other process failed:\n{done.stderr}"
    answer = cast(dict[str, Any], json.loads(done.stdout))
    if "refused" in answer:
        raise ValueError(answer["refused"])
    return answer


def in_another_process(factory: str, setup: MemorySetup, *, append: Sequence[MemoryItem] = ()) -> list[MemoryItem]:
    """Build the backend for ``setup`` in a fresh interpreter, query it, append ``append``, and close it.

    Returns what ``query()`` answered there before the appends. Raises ``ValueError`` with the other process's
    message when building the backend there raised one (a store another process holds, say).
    """
    return [_item_from_json(fields) for fields in _answer(factory, setup, append=append)["items"]]


def check_persistence_across_processes(
    factory: str, project_dir: Path | None, *, config: Mapping[str, Any] | None = None
) -> None:
    """What one process writes to the project store, the next process reads, exactly, with retention applied.

    The first process appends five items (non-ASCII text, fractional times, tags, metadata) under
    ``max_items=3`` and stores an artifact; the second must find the newest three items as they were written,
    answer a tag query, and return the artifact as it was stored.
    """
    setup = MemorySetup("project", "p1", project_dir, config=dict(config or {}))
    items = [MemoryItem(f"i{n}", "project", "p1", dumps({"n": n, "text": "naïve ✓"}), 10.0 + n / 3, f"t{n % 2}",
                        ("even",) if n % 2 == 0 else (), dumps({"n": n})) for n in range(5)]
    artifact = Artifact("a1", "tool_result", "p1", "t0", dumps([1, None, True]), 20.0, "draft", None)
    _answer(factory, dataclasses.replace(setup, max_items=3), append=items, put=[artifact])
    read = _answer(factory, setup, tags=["even"])
    assert [_item_from_json(fields) for fields in read["items"]] == items[2:], "the newest three, exactly"
    assert read["tagged"] == ["i2", "i4"]
    assert [Artifact(**fields) for fields in read["artifacts"]] == [artifact]


def _open(build: Build, setup: MemorySetup, spec: dict[str, Any]) -> None:
    """The ``open`` action: print what the store holds (as JSON), then write what ``spec`` asks and close."""
    try:
        backend = build(setup)
    except ValueError as exc:
        print(json.dumps({"refused": str(exc)}))
        return
    try:
        answer = {"items": [i._asdict() for i in backend.query()],
                  "tagged": [i.id for i in backend.query(tags=spec["tags"])] if spec["tags"] else [],
                  "artifacts": [a._asdict() for a in backend.artifacts()]}
        for fields in spec["append"]:
            backend.append(_item_from_json(fields))
        for fields in spec["put"]:
            backend.put_artifact(Artifact(**fields))
    finally:
        backend.close()
    print(json.dumps(answer))


# --- crashes --------------------------------------------------------------------------------------------------


def _serve_writers(build: Build, setup: MemorySetup, spec: dict[str, Any]) -> None:
    """The ``serve-writers`` action: fork a writer per command line on stdin and report what it acknowledges.

    Starting a fresh interpreter costs about half a second, so fifty kills would take most of a minute; this
    server pays that once. For each line ``RUN`` (a number) on stdin it forks a writer and prints
    ``child PID``; the writer opens ``setup``'s store and appends items ``RUN-0``, ``RUN-1``... as fast as it
    can, printing each id once ``append`` returns; when the writer dies the server prints ``exit STATUS``. A
    writer that fails prints ``error ...`` and exits with 1.
    """
    import traceback  # noqa: PLC0415 - only the writer server reports tracebacks

    os.write(1, b"ready\n")
    for command in sys.stdin:
        run = int(command)
        pid = os.fork()
        if pid == 0:
            try:
                _write_forever(build(setup), setup, run)
            except BaseException:  # any failure is reported to the test, then the child exits
                os.write(1, ("error " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
            os._exit(1)
        os.write(1, f"child {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exit {status}\n".encode())


def _write_forever(backend: MemoryBackend, setup: MemorySetup, run: int) -> None:
    n = 0
    while True:
        text = "x" * (37 * n % 3000)  # items of varied size, up to a few KiB
        item = MemoryItem(f"{run}-{n}", setup.store, setup.project_id, dumps({"run": run, "n": n, "text": text}),
                          run * 1_000_000 + n, f"t{run}", ("crash",), dumps({}))
        backend.append(item)
        os.write(1, f"{item.id}\n".encode())
        n += 1


@dataclasses.dataclass(frozen=True, slots=True)
class _Kill:
    """One writer killed, and the store reopened after it."""

    acknowledged: list[str]
    """The ids the writer saw acknowledged, in order."""
    in_flight: str
    """The id it was writing when killed: stored or not, either is correct."""
    stored: list[str]
    """The ids the reopened store holds, in query order."""
    context: str
    """The seed and the kill, for failure messages."""


class _WriterServer:
    """The test's side of the ``serve-writers`` action (a context manager)."""

    def __init__(self, factory: str, setup: MemorySetup) -> None:
        self.build, self.setup = _load(factory), setup
        self.log: IO[str] = tempfile.TemporaryFile("w+")  # closed by __exit__
        spec = json.dumps({"factory": factory, "setup": _setup_to_json(setup)})
        self.process = subprocess.Popen([sys.executable, "-m", __name__, "serve-writers", spec],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        bufsize=1)
        try:
            assert self._line() == "ready"
        except BaseException:
            self.process.kill()
            self.__exit__(None, None, None)
            raise

    def __enter__(self) -> _WriterServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.process.communicate(timeout=10)  # closes stdin (the server then exits) and drains stdout
        self.log.close()

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            raise AssertionError(f"the writer server died; its log: {self.log.read()}")
        return line.rstrip("\n")

    def write_then_kill(self, run: int, delay: float) -> list[str]:
        """Start writer ``run``, SIGKILL it after ``delay`` seconds; the ids it saw acknowledged, in order."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{run}\n")
        self.process.stdin.flush()
        line = self._line()
        assert line.startswith("child "), line
        time.sleep(delay)
        os.kill(int(line.split()[1]), signal.SIGKILL)
        acknowledged = []
        while not (line := self._line()).startswith("exit "):
            assert not line.startswith("error "), f"the writer failed before it was killed: {line}"
            acknowledged.append(line)
        status = int(line.split()[1])
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, line
        return acknowledged

    def kill_writers(
        self, kills: int, *, seed: int, allowed_warnings: tuple[type[Warning], ...]
    ) -> Iterator[_Kill]:
        """Start ``kills`` writers one after another, each killed after a random 5-100 ms; reopen after each."""
        rng = random.Random(seed)
        for run in range(kills):
            delay = rng.uniform(0.005, 0.100)
            seen = self.write_then_kill(run, delay)
            yield _Kill(seen, f"{run}-{len(seen)}", _stored_ids(self.build, self.setup, allowed_warnings),
                        f"seed {seed}, kill {run} after {delay * 1000:.1f} ms")


def _require_fork() -> None:
    import pytest  # noqa: PLC0415 - the helpers import without pytest; a check runs inside a test

    if not hasattr(os, "fork"):
        pytest.skip("fork and SIGKILL are POSIX")


def _seed(seed: int | None, offset: int) -> int:
    """``seed``, or ``MEMORY_CRASH_SEED`` (a fixed default when unset) plus ``offset``."""
    return seed if seed is not None else int(os.environ.get("MEMORY_CRASH_SEED", _DEFAULT_SEED)) + offset


def _stored_ids(build: Build, setup: MemorySetup, allowed_warnings: tuple[type[Warning], ...]) -> list[str]:
    """The stored ids, read the way the next engine would; only ``allowed_warnings`` may be raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend = build(setup)
        try:
            ids = [item.id for item in backend.query()]
        finally:
            backend.close()
    unexpected = [str(w.message) for w in caught if not issubclass(w.category, allowed_warnings)]
    assert not unexpected, f"reopening after a kill warned: {unexpected}"
    return ids


def _write_order(item_id: str) -> tuple[int, int]:
    run, n = item_id.split("-")
    return int(run), int(n)


def check_writes_survive_kills(
    factory: str, project_dir: Path | None, *, config: Mapping[str, Any] | None = None, kills: int = 50,
    seed: int | None = None, allowed_warnings: tuple[type[Warning], ...] = (),
) -> None:
    """Writers killed with SIGKILL at random moments lose no acknowledged write, and the store still opens.

    A writer process appends to the project store as fast as it can and reports each acknowledged id; it is
    killed after a random 5-100 ms, ``kills`` times on the same store, so kills land while the store is opened
    and repaired, mid-append and mid-commit. After each kill the store is reopened: it must hold every
    acknowledged item, in write order, plus at most the one item in flight, and opening it may raise only
    ``allowed_warnings`` (a backend that reports what it repaired, say). The kill times come from ``seed``, by
    default ``MEMORY_CRASH_SEED`` (set it to replay another sequence). Skipped where there is no ``fork``.
    """
    _require_fork()
    setup = MemorySetup("project", "p1", project_dir, config=dict(config or {}))
    acknowledged: list[str] = []
    with _WriterServer(factory, setup) as writers:
        for kill in writers.kill_writers(kills, seed=_seed(seed, 0), allowed_warnings=allowed_warnings):
            acknowledged += kill.acknowledged
            stored, context = kill.stored, kill.context
            assert set(acknowledged) <= set(stored), f"{context}: lost {sorted(set(acknowledged) - set(stored))}"
            assert set(stored) <= {*acknowledged, kill.in_flight}, context
            if kill.in_flight in stored:
                acknowledged.append(kill.in_flight)
            assert stored == sorted(stored, key=_write_order), context
    assert len(acknowledged) > kills, "the writers should have acknowledged many writes"


def check_retention_survives_kills(
    factory: str, project_dir: Path | None, *, config: Mapping[str, Any] | None = None, max_items: int = 20,
    kills: int = 25, seed: int | None = None, allowed_warnings: tuple[type[Warning], ...] = (),
) -> None:
    """Retention stays exact when writers bounded by ``max_items`` are killed with SIGKILL at random moments.

    As ``check_writes_survive_kills``, with the project store bounded: after each kill the reopened store holds
    exactly the newest ``max_items`` of the items written (acknowledged, or in flight and found), so a kill
    mid-deletion or mid-rewrite neither loses a kept item nor brings back a deleted one. The default seed is
    ``MEMORY_CRASH_SEED`` plus one, so the two checks kill at different moments.
    """
    _require_fork()
    setup = MemorySetup("project", "p1", project_dir, max_items=max_items, config=dict(config or {}))
    written: list[str] = []  # acknowledged, or written and found after the kill
    with _WriterServer(factory, setup) as writers:
        for kill in writers.kill_writers(kills, seed=_seed(seed, 1), allowed_warnings=allowed_warnings):
            written += kill.acknowledged
            if kill.in_flight in kill.stored:
                written.append(kill.in_flight)
            assert kill.stored == written[-max_items:], kill.context


# --- handles and threads in one process -----------------------------------------------------------------------


def check_handles_share_the_store(build: Build, project_dir: Path | None) -> None:
    """Two backends built for the same project store see each other's appends and retention."""
    first = build(MemorySetup("project", "p1", project_dir, max_items=2))
    second = build(MemorySetup("project", "p1", project_dir))
    second.append(MemoryItem("a", "project", "p1", "1", 1.0))
    second.append(MemoryItem("b", "project", "p1", "2", 2.0))
    first.append(MemoryItem("c", "project", "p1", "3", 3.0))
    assert [i.id for i in second.query()] == ["b", "c"], "the bounded handle's retention is seen by the other"
    first.close()
    second.append(MemoryItem("d", "project", "p1", "4", 4.0))
    assert [i.id for i in second.query()] == ["b", "c", "d"]
    second.close()


def check_threads_lose_nothing(build: Build, project_dir: Path | None) -> None:
    """Eight threads appending through two backends of one task store lose nothing, and retention stays exact."""
    handles = [build(MemorySetup("task", "p1", project_dir, max_items=60)) for _ in range(2)]
    errors: list[Exception] = []

    def write(worker: int) -> None:
        try:
            for n in range(25):
                at = float(worker * 100 + n)
                handles[worker % 2].append(MemoryItem(f"w{worker}-{n}", "task", "p1", dumps(n), at, f"t{worker}"))
        except Exception as exc:  # reported below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    kept = handles[0].query()
    assert [i.id for i in kept] == [f"w{w}-{n}" for w in (5, 6, 7) for n in range(25)][-60:]
    assert [i.id for i in handles[1].query(task_id="t7")] == [f"w7-{n}" for n in range(25)]
    for handle in handles:
        handle.close()
    reopened = build(MemorySetup("task", "p1", project_dir))
    assert reopened.query() == kept
    reopened.close()


# --- refusals -------------------------------------------------------------------------------------------------


def check_closed_backend_refuses_work(build: Build, project_dir: Path | None, *, match: str) -> None:
    """Closing twice is harmless; a closed backend then refuses to query or append with ``ValueError(match)``."""
    import pytest  # noqa: PLC0415 - the helpers import without pytest; a check runs inside a test

    backend = build(MemorySetup("project", "p1", project_dir))
    backend.close()
    backend.close()
    with pytest.raises(ValueError, match=match):
        backend.query()
    with pytest.raises(ValueError, match=match):
        backend.append(MemoryItem("a", "project", "p1", "1", 1.0))


def check_foreign_items_are_refused(build: Build, project_dir: Path | None, *, invalid_json_match: str) -> None:
    """Items and artifacts of another store or project, text that is not JSON, and negative limits are refused.

    Each refusal is a ``ValueError`` naming the item and both sides (``invalid_json_match`` is the backend's
    own message for a ``payload_json`` that is not JSON); ``limit=0`` answers nothing, and a refused item
    leaves nothing behind.
    """
    import pytest  # noqa: PLC0415 - the helpers import without pytest; a check runs inside a test

    backend = build(MemorySetup("project", "p1", project_dir))
    with pytest.raises(ValueError, match="item 'a' belongs to the task store, not the project store"):
        backend.append(MemoryItem("a", "task", "p1", "1", 1.0))
    with pytest.raises(ValueError, match="item 'a' belongs to project 'p2', not to this store's project 'p1'"):
        backend.append(MemoryItem("a", "project", "p2", "1", 1.0))
    with pytest.raises(ValueError, match="artifact 'x' belongs to project 'p2'"):
        backend.put_artifact(Artifact("x", "node_output", "p2", "t", "1", 1.0))
    with pytest.raises(ValueError, match=invalid_json_match):
        backend.append(MemoryItem("a", "project", "p1", "{not json", 1.0))
    with pytest.raises(ValueError, match="limit must be a whole number >= 0 or None, got -1"):
        backend.query(limit=-1)
    backend.append(MemoryItem("a", "project", "p1", "1", 1.0))
    assert backend.query(limit=0) == []
    assert backend.artifacts(limit=0) == []
    assert [i.id for i in backend.query()] == ["a"], "a refused item left nothing behind"
    backend.close()


def check_fork_refused(build: Build, project_dir: Path | None, *, match: str) -> None:
    """A backend carried into a forked child refuses to write there (``ValueError(match)``); the parent's is intact.

    Skipped where there is no ``fork``.
    """
    _require_fork()
    backend = build(MemorySetup("project", "p1", project_dir))
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the inherited backend refused the write as expected
        code = 1
        try:
            backend.append(MemoryItem("child", "project", "p1", "1", 1.0))
        except ValueError as exc:
            code = 0 if re.search(match, str(exc)) else 2
        except BaseException:  # the child must never return into the caller's code
            code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "1: the write went through; 2: another message; 3: another error"
    assert backend.query() == [], "and the parent's store is untouched"
    backend.close()


# --- retention, for any appends (Hypothesis) ------------------------------------------------------------------

_Stored = list[tuple[int, MemoryItem]]
_PROJECTS = ("p1", "p2")


def _scope(stored: _Stored, project: str, *, shared: bool) -> list[MemoryItem]:
    """The project's items (every item, for the global store) in query order."""
    mine = [(item.created_at, seq, item) for seq, item in stored if shared or item.project_id == project]
    return [item for _, _, item in sorted(mine, key=lambda entry: entry[:2])]


def _retain(stored: _Stored, project: str, bound: int, *, shared: bool) -> _Stored:
    """The model's retention: the oldest items of the scope beyond ``bound`` go."""
    in_scope = _scope(stored, project, shared=shared)
    dropped = {item.id for item in in_scope[: max(0, len(in_scope) - bound)]}
    return [(seq, item) for seq, item in stored if item.id not in dropped]


def _run_retention_example(build: Build, store: StoreName, phases: list[Any], queries: list[Any]) -> None:
    """One example of ``check_retention_property``: each phase reopens the store under a bound, then appends."""
    shared = store == "global"
    stored: _Stored = []
    count = 0
    with tempfile.TemporaryDirectory() as folder:
        for bound, batch in phases:
            backends = {p: build(MemorySetup(store, p, Path(folder), max_items=bound)) for p in _PROJECTS}
            for project in _PROJECTS:
                assert backends[project].query() == _scope(stored, project, shared=shared), "after a reopen"
            for project, task, tags, at in batch:
                item = MemoryItem(f"i{count}", store, project, dumps({"at": at}), float(at), task, tuple(sorted(tags)))
                backends[project].append(item)
                stored.append((count, item))
                count += 1
                if bound is not None:
                    stored = _retain(stored, project, bound, shared=shared)
            for project in _PROJECTS:
                expected = _scope(stored, project, shared=shared)
                assert backends[project].query() == expected
                if bound is not None and (shared or project in {append[0] for append in batch}):
                    assert len(expected) <= bound, "retention applies to the scope an append went to"
                for task, tags, limit in queries:
                    assert backends[project].query(task_id=task, tags=sorted(tags), limit=limit) == select_items(
                        expected, task_id=task, tags=sorted(tags), limit=limit)
            for backend in backends.values():
                backend.close()


def check_retention_property(build: Build, *, max_examples: int = 40) -> None:
    """Retention keeps exactly ``max_items``, the newest of the scope, for any appends and bounds (Hypothesis).

    A model (a plain list) runs beside the backend: appends in any ``created_at`` order (ties included), to two
    projects of one store, under a bound that changes each time the store is reopened. After every batch, and
    after every reopen, each project's queries (any task, tags, limit) must answer what the model does. Each
    example builds its backends with a fresh temporary ``project_dir``: ``build`` must start empty there.
    """
    from hypothesis import given, settings  # noqa: PLC0415 - a test dependency, not one of the core's
    from hypothesis import strategies as st  # noqa: PLC0415 - as above

    appends = st.tuples(st.sampled_from(_PROJECTS), st.sampled_from(["t1", "t2"]),
                        st.frozensets(st.sampled_from("abc")), st.integers(0, 6))
    phases = st.lists(st.tuples(st.none() | st.integers(1, 5), st.lists(appends, min_size=1, max_size=8)),
                      min_size=1, max_size=4)
    queries = st.lists(st.tuples(st.none() | st.sampled_from(["t1", "t2"]), st.frozensets(st.sampled_from("abcd")),
                                 st.none() | st.integers(1, 4)), max_size=3)

    @settings(max_examples=max_examples, deadline=None)
    @given(store=st.sampled_from(["task", "project", "global"]), phases=phases, queries=queries)
    def retention_matches_the_model(store: StoreName, phases: list[Any], queries: list[Any]) -> None:
        _run_retention_example(build, store, phases, queries)

    retention_matches_the_model()


# --- configuration --------------------------------------------------------------------------------------------


class LockedDir:
    """A folder nobody can write to, root included (``chattr +i`` when running as root), until ``unlock()``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lock(self) -> bool:
        """Make the folder unwritable; False when that is impossible here (root without ``chattr``)."""
        if os.geteuid() != 0:
            self.path.chmod(0o500)
            return True
        return subprocess.run(["chattr", "+i", str(self.path)], capture_output=True, check=False).returncode == 0

    def unlock(self) -> None:
        """Make the folder writable again."""
        if os.geteuid() != 0:
            self.path.chmod(0o700)
        else:
            subprocess.run(["chattr", "-i", str(self.path)], capture_output=True, check=False)


def check_memory_yaml_refused(config_dir: Path, memory_yaml: str, *, match: str) -> None:
    """Loading ``config_dir`` with ``memory_yaml`` is a ``ManifestError`` naming memory.yaml and matching ``match``.

    Writes a two-node workflow.yaml and the given memory.yaml into ``config_dir`` first: the backend's refusal
    of its config must reach the user as a manifest error of memory.yaml, when the engine is built.
    """
    import pytest  # noqa: PLC0415 - the helpers import without pytest; a check runs inside a test

    (config_dir / "workflow.yaml").write_text(_WORKFLOW_YAML)
    (config_dir / "memory.yaml").write_text(memory_yaml)
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(config_dir).close()
    assert "memory.yaml" in str(caught.value)
    assert re.search(match, str(caught.value)), f"{match!r} not found in: {caught.value}"


def check_engines_share_memory(config_dir: Path, backend: str, *, config: Mapping[str, Any]) -> None:
    """Memory.yaml selects the registered ``backend`` for every store, and the next engine reads what the last wrote.

    Writes a workflow.yaml whose exit node writes to project memory, and a memory.yaml putting all three stores
    on ``backend`` (the project store with ``max_items: 2`` and the store config ``config``, which must be
    JSON); three runs of one engine, then a second engine built on ``config_dir`` must find the last two
    items and all three artifacts.
    """
    (config_dir / "workflow.yaml").write_text(_WORKFLOW_YAML)
    (config_dir / "memory.yaml").write_text(
        "memory:\n"
        "  project_id: desk\n"
        f"  task_store: {{backend: {backend}}}\n"
        f"  project_store: {{backend: {backend}, retention: {{max_items: 2}}, config: {json.dumps(dict(config))}}}\n"
        f"  global_store: {{backend: {backend}}}\n")
    first = Engine.from_config_dir(config_dir)
    try:
        for n in range(3):
            first.run({"n": n})
    finally:
        first.close()
    second = Engine.from_config_dir(config_dir)
    try:
        assert [item.payload for item in second.memory.project.query()] == [{"n": 1}, {"n": 2}]
        assert [a.payload for a in second.memory.artifacts.query(node_id="e")] == [{"n": 0}, {"n": 1}, {"n": 2}]
    finally:
        second.close()


# --- the other processes' side --------------------------------------------------------------------------------

_ACTIONS: dict[str, Callable[[Build, MemorySetup, dict[str, Any]], None]] = {
    "open": _open,
    "serve-writers": _serve_writers,
}


def _main(action: str, spec_json: str) -> None:
    configure_logging(logging.DEBUG)  # an application of its own: every line on stderr (stdout carries the answers)
    spec = json.loads(spec_json)
    _ACTIONS[action](_load(spec["factory"]), _setup_from_json(spec["setup"]), spec)


if __name__ == "__main__":
    _main(*sys.argv[1:])
