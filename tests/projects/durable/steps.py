"""Handlers of the durable test project: each leaves a line in the side-effect log, then does its small job."""

from __future__ import annotations

from typing import Any

from effects import leave


def intake(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("intake", payload)
    return {"mode": payload["mode"], "items": payload["items"]}


def fan(payload: dict[str, Any], ctx: Any) -> list[dict[str, Any]]:
    leave("fan", payload)
    return [{"item": item} for item in payload["items"]]


def work(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("work", payload)
    return {"item": payload["item"].upper()}


def gather(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("gather", payload)
    return {"items": [entry["output"]["item"] for entry in payload["merge_inputs"]]}


def both(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("both", payload)
    return payload


def left(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("left", payload)
    return {"side": "left", "items": len(payload["items"])}


def join(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("join", payload)
    return {"sides": [entry["output"] for entry in payload["merge_inputs"]]}


def done(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("done", payload)
    return {"done": payload}


def quick(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    leave("quick", payload)
    return {"quick": payload}
