"""A separate process using the backend, as another engine worker would: ``python _memory_postgres_worker.py SPEC``.

``SPEC`` is JSON: ``{"config": {...}, "store": ..., "project": ..., "max_items": ..., "action": ...}`` with the
action one of

* ``append``: append ``items`` (``{"id", "payload", "created_at", "task_id", "tags"}``), then print ``done``;
* ``query``: print the store's items as one JSON list (``id``, ``payload``, ``created_at``, ``task_id``, ``tags``);
* ``hammer``: build the backend, print ``ready``, wait for a line on stdin, then append ``count`` items whose
  ``created_at`` is ``start + i * step`` and whose ids are ``<writer>-<i>``, and print ``done``.
"""

from __future__ import annotations

import json
import sys

import structlog
from agent_engine_core.memory import MemoryItem, MemorySetup

from agent_engine_memory_postgres.plugin import build_backend


def main(spec: dict) -> None:
    setup = MemorySetup(store=spec["store"], project_id=spec["project"], project_dir=None,
                        max_items=spec.get("max_items"), config=spec["config"])
    backend = build_backend(setup)
    try:
        if spec["action"] == "append":
            for item in spec["items"]:
                backend.append(MemoryItem(item["id"], spec["store"], spec["project"], json.dumps(item["payload"]),
                                          item["created_at"], item.get("task_id"), tuple(item.get("tags", ()))))
            print("done", flush=True)
        elif spec["action"] == "query":
            found = [{"id": i.id, "payload": i.payload, "created_at": i.created_at, "task_id": i.task_id,
                      "tags": list(i.tags)} for i in backend.query()]
            print(json.dumps(found), flush=True)
        elif spec["action"] == "hammer":
            print("ready", flush=True)
            sys.stdin.readline()
            for index in range(spec["count"]):
                at = spec["start"] + index * spec["step"]
                backend.append(MemoryItem(f"{spec['writer']}-{index}", spec["store"], spec["project"],
                                          json.dumps({"writer": spec["writer"], "i": index}), at))
            print("done", flush=True)
    finally:
        backend.close()


if __name__ == "__main__":
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout carries the answers
    main(json.loads(sys.argv[1]))
