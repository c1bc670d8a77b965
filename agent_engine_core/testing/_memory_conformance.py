"""``check_memory_backend``: the semantics every memory backend keeps, as one reusable check.

Backend distributions call it from their tests with a function that builds their backend for a ``MemorySetup``
(pointing at the same place each time, so that reopening sees earlier writes when ``persistent``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from agent_engine_core.codec import dumps
from agent_engine_core.memory import Artifact, MemoryBackend, MemoryItem, MemorySetup, StoreName

__all__ = ["check_memory_backend"]

_ids = itertools.count()


def _item(store: StoreName, project: str, payload: object, *, task: str | None = None, tags: tuple[str, ...] = (),
          at: float = 0.0) -> MemoryItem:
    return MemoryItem(f"it-{next(_ids)}", store, project, dumps(payload), at, task, tags, dumps({"n": 1}))


def check_memory_backend(
    build: Callable[[MemorySetup], MemoryBackend], project_dir: Path, *, persistent: bool
) -> None:
    """Assert the contract of ``agent_engine_core.memory`` on backends made by ``build``.

    ``project_dir`` is handed to every setup (file backends store under it); ``persistent`` says whether a
    backend reopened on the same setup must see what an earlier one wrote.
    """

    def setup(store: StoreName, project: str = "p1", max_items: int | None = None) -> MemorySetup:
        return MemorySetup(store=store, project_id=project, project_dir=project_dir, max_items=max_items)

    task = build(setup("task"))
    first = _item("task", "p1", {"n": 1}, task="t1", tags=("a",), at=1.0)
    second = _item("task", "p1", {"n": 2}, task="t2", tags=("b",), at=2.0)
    third = _item("task", "p1", {"n": 3}, task="t1", tags=("a", "c"), at=3.0)
    for item in (first, second, third):
        task.append(item)
    assert [i.payload for i in task.query()] == [{"n": 1}, {"n": 2}, {"n": 3}], "oldest first"
    assert [i.id for i in task.query(task_id="t1")] == [first.id, third.id], "task filter"
    assert [i.id for i in task.query(tags=["b", "c"])] == [second.id, third.id], "a tag in common is a match"
    assert [i.id for i in task.query(limit=2)] == [second.id, third.id], "limit keeps the newest"
    assert task.query(limit=0) == [], "limit 0 is nothing"
    assert task.query()[2] == third, "items come back exactly as stored"
    task.close()

    late = build(setup("project", "p4", max_items=3))  # written out of created_at order, with a tie
    for n, at in enumerate((5.0, 3.0, 5.0, 1.0, 4.0)):
        late.append(_item("project", "p4", {"n": n}, at=at))
    assert [i.payload["n"] for i in late.query()] == [4, 0, 2], "by created_at, then insertion; oldest retired"
    assert [i.payload["n"] for i in late.query(limit=2)] == [0, 2], "limit keeps the newest by created_at"
    late.close()

    retained = build(setup("project", max_items=3))
    for n in range(5):
        retained.append(_item("project", "p1", {"n": n}, at=10.0 + n))
    assert [i.payload["n"] for i in retained.query()] == [2, 3, 4], "retention keeps exactly max_items, the newest"
    other = build(setup("project", project="p2"))
    other.append(_item("project", "p2", {"other": True}, at=20.0))
    assert [i.payload for i in other.query()] == [{"other": True}], "project memory is per project"
    assert len(retained.query()) == 3, "another project's writes touch nothing here"  # noqa: PLR2004
    shared_a, shared_b = build(setup("global", "p1")), build(setup("global", "p2"))
    shared_a.append(_item("global", "p1", {"g": 1}, at=30.0))
    if persistent:  # two handles on one place: what one project writes, another reads
        assert [i.payload for i in shared_b.query()] == [{"g": 1}], "global memory is shared by every project"

    artifact = Artifact("ar-1", "node_output", "p1", "t1", dumps({"x": 1}), 40.0, "draft", "title", dumps({}))
    retained.put_artifact(artifact)
    retained.put_artifact(Artifact("ar-2", "tool_result", "p1", "t1", dumps("ok"), 41.0, "draft", None))
    retained.put_artifact(Artifact("ar-3", "node_output", "p1", "t2", dumps(2), 42.0, "sum", None))
    assert [a.id for a in retained.artifacts(kind="node_output")] == ["ar-1", "ar-3"]
    assert [a.id for a in retained.artifacts(task_id="t1", node_id="draft")] == ["ar-1", "ar-2"]
    assert [a.id for a in retained.artifacts(schema="title")] == ["ar-1"]
    assert retained.artifacts(kind="node_output", limit=1)[0].id == "ar-3"
    assert retained.artifacts(schema="title")[0] == artifact, "artifacts come back exactly as stored"
    assert other.artifacts() == [], "artifacts are per project"
    for backend in (retained, other, shared_a, shared_b):
        backend.close()

    if persistent:
        reopened = build(setup("project", max_items=3))
        assert [i.payload["n"] for i in reopened.query()] == [2, 3, 4], "memory survives a reopen"
        assert [a.id for a in reopened.artifacts()] == ["ar-1", "ar-2", "ar-3"], "artifacts survive a reopen"
        other_project = build(setup("global", "p3"))
        assert [i.payload for i in other_project.query()] == [{"g": 1}]
        other_project.close()
        reopened.close()
