"""Handlers of the inspector's test project: small, and each can fail on a particular input."""

from __future__ import annotations

from typing import Any

from agent_engine_core import NodeFailure

LIMIT = 100


def intake(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return dict(payload)


def route(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"selected_edge": "charge" if "amount" in payload else "items"}


def fan(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"subtask_inputs": [{"item": item, "note": payload.get("note", "")} for item in payload["items"]]}


def check_item(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    if payload["item"] == "broken":
        raise NodeFailure(f"item {payload['item']!r} is damaged")
    return {"item": payload["item"], "ok": True}


def gather(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {"checked": [entry["output"].get("item") for entry in payload["merge_inputs"]]}


def charge(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    if payload["amount"] > LIMIT:
        raise NodeFailure(f"amount {payload['amount']} is over the limit of {LIMIT}")
    return {"charged": payload["amount"]}
