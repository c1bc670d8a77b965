"""One session per run: opened by the run's first call, shared by its concurrent calls, closed when it ends.

Everything here runs on the runtime's loop (``_runtime``), so the state needs no lock. A run's session is
opened at most twice: the first call opens it, and after the server went away (its process died, its
connection dropped, or it would not start) the next call opens it once more; after that the run's calls are
answered with the reason. Each opening lists the server's tools again: a listing that differs from the one the
engine was built with (the server changed under a long-lived engine) makes the session unusable for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent_engine_mcp._connection import Connection

if TYPE_CHECKING:
    from agent_engine_mcp._config import ServerConfig
    from agent_engine_mcp._listing import Listing

__all__ = ["SessionUnusable", "Sessions"]

MAX_OPENINGS = 2
"""A run's session is opened once, and reopened once after the server went away."""


class SessionUnusable(Exception):
    """The run's session cannot be (re)opened: the message says why, and the call is answered with it."""


@dataclass
class _RunSession:
    connection: Connection | None = None
    opening: asyncio.Task[Connection] | None = None
    openings: int = 0
    failure: str | None = None
    """Set once the session is unusable for the rest of the run (a changed tool list, a second loss)."""
    closing: list[asyncio.Task[None]] = field(default_factory=list)


class Sessions:
    """The sessions of one server entry, by run id (``None``: calls made outside any run)."""

    def __init__(self, config: ServerConfig, entry_id: str, listing: Listing) -> None:
        self.config, self.entry_id, self.listing = config, entry_id, listing
        self._runs: dict[str | None, _RunSession] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self.openings = 0
        """How many sessions were opened, over every run (each a server process for a stdio server)."""

    async def session(self, run_id: str | None) -> Connection:
        """The run's open session, opening (or reopening) it if need be."""
        state = self._runs.setdefault(run_id, _RunSession())
        if state.failure is not None:
            raise SessionUnusable(state.failure)
        current = state.connection
        if current is not None and not current.lost:
            return current
        if state.opening is None:
            if state.openings >= MAX_OPENINGS:
                state.failure = (f"MCP server '{self.entry_id}' went away again and is not started a third time in "
                                 "this run")
                raise SessionUnusable(state.failure)
            if current is not None:
                state.connection = None
                self._close_later(state, current)
            state.openings += 1
            state.opening = asyncio.create_task(self._open(state))
        try:
            return await asyncio.shield(state.opening)
        finally:
            if state.opening is not None and state.opening.done():
                state.opening = None

    async def _open(self, state: _RunSession) -> Connection:
        connection = Connection(self.config, self.entry_id)
        await connection.open()
        self.openings += 1
        try:
            listing = await connection.listing()
        except Exception:
            await connection.close()
            raise
        if listing.pin != self.listing.pin:
            await connection.close()
            changes = "; ".join(listing.diff(self.listing))
            state.failure = (f"MCP server '{self.entry_id}' changed its tool list since the engine was loaded "
                             f"(it was {self.listing.pin}, it is now {listing.pin}: {changes}); load the project "
                             "again, after 'agent-engine mcp lock' if it is pinned")
            raise SessionUnusable(state.failure)
        state.connection = connection
        return connection

    def _close_later(self, state: _RunSession, connection: Connection) -> None:
        task = asyncio.create_task(connection.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def finish(self, run_id: str | None) -> None:
        """Close the run's session (a stdio server process ends with it)."""
        state = self._runs.pop(run_id, None)
        if state is None:
            return
        if state.opening is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(state.opening)
        if state.connection is not None:
            await state.connection.close()

    async def close_all(self) -> None:
        """Close every session, and wait for the ones already closing."""
        for run_id in list(self._runs):
            await self.finish(run_id)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

