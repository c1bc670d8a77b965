"""Handlers of the hello example, referred to from workflow.yaml as ``"nodes:<function>"``.

A handler is ``def handler(payload, ctx)``: ``payload`` is the node's input (a JSON value), ``ctx`` a
read-only context with ``node_id``, ``task_id``, ``run_id``, ``lineage`` and ``log``. It returns a JSON value.
The config dir is on ``sys.path`` while the engine loads, which is what makes ``nodes`` importable.
"""

from __future__ import annotations

from typing import Any


def normalize(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Start node: turn ``{"request": "  Hello   there! "}`` into clean text and its words."""
    text = " ".join(payload["request"].split())
    words = [word.strip(".,;:!?\"'()").lower() for word in text.split()]
    words = [word for word in words if word]
    ctx.log.debug("normalized request", word_count=len(words))
    return {"text": text, "words": words, "word_count": len(words)}


def greet(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The ``greet`` path: answer an opening message."""
    return {"reply": f"Hello! You said {len(payload['words'])} word(s).", "in_reply_to": payload["text"]}


def farewell(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The ``farewell`` path: answer a closing message."""
    return {"reply": "Goodbye, and thanks for writing.", "in_reply_to": payload["text"]}
