"""The refund example's handlers: check the request, then record what the approved refund is."""

from __future__ import annotations

from typing import Any

from agent_engine_core import NodeFailure


def intake(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """A refund request: an order id and a positive amount in EUR."""
    amount = payload.get("amount")
    if not isinstance(amount, int | float) or amount <= 0:
        raise NodeFailure("the amount must be a positive number of EUR", data={"amount": amount})
    return {"order": str(payload["order"]), "amount": amount, "reason": str(payload.get("reason", ""))}


def review(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """Runs once a person approved the refund: what the payout step pays."""
    return {"order": payload["order"], "amount": payload["amount"], "approved": True}
