"""The deterministic node of the calc example: a running total, one MCP call per number."""


def total(payload, ctx):
    """Add the numbers up with the calc server's add tool (every call of the run goes to one server process)."""
    running = 0
    for number in payload["numbers"]:
        running = ctx.tools["calc.add"](a=running, b=number).output["sum"]
    return {"numbers": payload["numbers"], "total": running}
