"""memory.yaml -> postgres through an Engine: two engines (two workers) share project memory and artifacts."""

from __future__ import annotations

from agent_engine_core import Engine, Status

WORKFLOW = {"version": "1.0", "nodes": [
    {"id": "s", "role": "start"}, {"id": "note", "role": "linear", "memory_write": "project"},
    {"id": "look", "role": "linear", "handler": "h:look", "context": "notes"}, {"id": "x", "role": "exit"}],
    "edges": [{"from": "s", "to": "note"}, {"from": "note", "to": "look"}, {"from": "look", "to": "x"}]}


def worker(config, monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_TEST_PG_DSN", config["dsn"])
    store = {"backend": "postgres", "config": {"dsn_env": "AGENT_ENGINE_TEST_PG_DSN", "schema": config["schema"]}}
    memory = {"memory": {"project_id": "shared", "project_store": store, "global_store": store},
              "context_profiles": [{"id": "notes", "sources": [{"store": "project", "tags": ["note"]}]}]}
    return Engine.from_dict({"workflow": WORKFLOW, "memory": memory},
                            handlers={"h:look": lambda p, ctx: [e["payload"] for e in ctx.context]})


def test_two_engines_share_project_memory_and_artifacts_through_postgres(config, monkeypatch):
    first, second = worker(config, monkeypatch), worker(config, monkeypatch)
    try:
        assert first.run("from the first").output == ["from the first"]
        result = second.run("from the second")
        assert result.status is Status.SUCCESS
        assert result.output == ["from the first", "from the second"]  # the other worker's note, then its own
        assert [a.payload for a in first.artifacts.query(kind="node_output", node_id="note")] == [
            "from the first", "from the second"]
    finally:
        first.close()
        second.close()
