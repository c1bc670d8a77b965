"""The web inspector: a Starlette app over one project's run store, its journal and (to decide and replay) engine.

Reading never builds the engine: the store is opened as ``agent-engine inspect`` opens it, so runs stay
readable while a manifest is broken or a provider's key is unset. The engine is built on first need, for the
journal (runs in flight and waiting), approvals and replay from a node; if it cannot be built, those parts of
the pages say why and the rest works. Store and engine are each used from one thread of their own (their
connections and event loop belong to it), never from the server's loop.

The server binds to localhost by default. Because a page on another site can still post to localhost, every
request must name a local host (DNS rebinding) and every form carries this server's random token (CSRF).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent_engine_core import AgentEngineError, Engine, InvalidInput
from agent_engine_core.inspector import Inspector, RunView, open_inspector
from agent_engine_core.manifests.loader import load_config_dir
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from agent_engine_ui import views

__all__ = ["LIVE_POLL_S", "RUNS_SHOWN", "Inspection", "JournalView", "Pages", "create_app", "project_name", "templates"]

T = TypeVar("T")
RUNS_SHOWN = 200
"""Runs listed (and searched by input text) when the page does not ask for another limit."""
LIVE_POLL_S = 1.0
"""How often the server looks at the store and the journal for the runs page's live updates."""
KEEPALIVE_S = 15.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
STATIC = Path(__file__).parent / "static"


def templates() -> Environment:
    """The pages' Jinja2 templates (HTML escaped everywhere), with the filters they use."""
    environment = Environment(loader=PackageLoader("agent_engine_ui"), autoescape=select_autoescape(default=True),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["when"] = views.when
    environment.filters["duration"] = _duration
    environment.filters["pretty"] = views.pretty
    return environment


def project_name(config_dir: Path) -> str:
    """The name pages show for a project: its folder's (``config/`` is named by the folder holding it)."""
    folder = config_dir.resolve()
    return folder.parent.name if folder.name == "config" else folder.name


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.001:  # noqa: PLR2004 - a millisecond
        return f"{seconds * 1e6:.0f} \u00b5s"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


@dataclass(frozen=True, slots=True)
class JournalView:
    """The journal's runs as the pages show them, and, when there are none to show, why."""

    runs: list[dict[str, Any]]
    note: str | None = None
    """Why a project has no journal (it does not run durably)."""
    error: str | None = None
    """Why the journal could not be read (the engine could not be built)."""


class Inspection:
    """One project's runs as the pages need them (see the module docstring); ``close()`` releases everything."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.token = secrets.token_urlsafe(24)
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="ui-store")
        self._runner = ThreadPoolExecutor(1, thread_name_prefix="ui-engine")
        self._inspector, self._close = self._reader.submit(open_inspector, config_dir, runs="local").result()
        self.workflow = load_config_dir(config_dir).workflow
        self._engine: Engine | None = None
        self.engine_error: str | None = None

    async def read(self, work: Callable[[Inspector], T]) -> T:
        """``work(inspector)`` on the store's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._reader, work, self._inspector)

    async def act(self, work: Callable[[Engine], T]) -> T:
        """``work(engine)`` on the engine's thread, building the engine first if need be (``AgentEngineError``)."""
        return await asyncio.get_running_loop().run_in_executor(self._runner, self._acting, work)

    def _acting(self, work: Callable[[Engine], T]) -> T:
        if self._engine is None:
            self._engine = Engine.from_config_dir(self.config_dir, runs="local")
        try:
            return work(self._engine)
        finally:  # a run it made is in the store before the page that shows it is asked for
            self._engine.flush_runs()

    async def journaled(self) -> JournalView:
        """Durable runs in flight and waiting; else why there are none (no journal kept, or no engine built)."""
        try:
            return JournalView(await self.act(lambda engine: engine.journaled_runs()))
        except InvalidInput as exc:  # the project keeps no journal: nothing is wrong
            return JournalView([], note=str(exc))
        except AgentEngineError as exc:
            return JournalView([], error=f"the project's engine could not be built, so its journal is not shown: {exc}")

    def close(self) -> None:
        """Close the engine and the store, each on its own thread, and stop both threads."""
        if self._engine is not None:
            self._runner.submit(self._engine.close).result()
        self._reader.submit(self._close).result()
        self._runner.shutdown()
        self._reader.shutdown()


class Pages:
    """The route handlers: each reads through ``inspection`` and renders one template (or a fragment of one)."""

    def __init__(self, inspection: Inspection) -> None:
        self.inspection = inspection
        self._templates = templates()
        self._project = project_name(inspection.config_dir)

    def page(self, name: str, request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
        """Template ``name`` rendered for ``request`` (with the form token and the project's name)."""
        body = self._templates.get_template(name).render(
            request=request, token=self.inspection.token, project=self._project, export=False, **context)
        return HTMLResponse(body, status_code=status_code)

    async def _listing(self, request: Request) -> dict[str, Any]:
        query = request.query_params
        status = query.get("status") or None
        text = (query.get("q") or "").strip()
        try:
            limit = max(1, min(int(query.get("limit") or RUNS_SHOWN), 10_000))
        except ValueError:
            limit = RUNS_SHOWN
        summaries = await self.inspection.read(lambda inspector: _matching(inspector, status, text, limit))
        return {"runs": summaries, "journal": await self.inspection.journaled(), "status": status or "",
                "q": text, "limit": limit}

    async def runs(self, request: Request) -> Response:
        """``/``: the runs list with its filters."""
        return self.page("runs.html", request, **await self._listing(request))

    async def runs_table(self, request: Request) -> Response:
        """``/fragments/runs``: the list alone, as the filters and live updates swap it in."""
        return self.page("runs_table.html", request, **await self._listing(request))

    async def _view(self, run_id: str) -> RunView:
        return await self.inspection.read(lambda inspector: inspector.run(run_id))

    async def run(self, request: Request) -> Response:
        """``/runs/RUN_ID[?node=NODE]``: the run's graph, tasks and output, with a node's stage when named."""
        run_id, node = request.path_params["run_id"], request.query_params.get("node")
        try:
            view = await self._view(run_id)
        except AgentEngineError as exc:
            return self.page("error.html", request, 404, title="No such run", message=str(exc))
        panels = views.stage_panels(view, node) if node else []
        return self.page("run.html", request, node=node, panels=panels, value_url=_value_url(run_id),
                         **views.run_page(view, self.inspection.workflow))

    async def stage(self, request: Request) -> Response:
        """``/runs/RUN_ID/stages/NODE``: the stage panel of a node, one part per task that ran it."""
        run_id, node = request.path_params["run_id"], request.path_params["node_id"]
        try:
            view = await self._view(run_id)
        except AgentEngineError as exc:
            return self.page("error_fragment.html", request, 404, message=str(exc))
        return self.page("stage.html", request, node=node, panels=views.stage_panels(view, node),
                         summary=view.summary, value_url=_value_url(run_id))

    async def value(self, request: Request) -> Response:
        """``/runs/RUN_ID/value?task=&seq=&pointer=``: one collapsed value in full, when it is opened."""
        run_id, query = request.path_params["run_id"], request.query_params
        try:
            record = _record(await self._view(run_id), query.get("task", ""), query.get("seq", ""))
            found = views.at_pointer(record, query.get("pointer", ""))
        except (AgentEngineError, KeyError) as exc:
            return PlainTextResponse(f"no such value: {exc}", status_code=404)
        return self.page("value.html", request, text=views.pretty(found))

    async def replay(self, request: Request) -> Response:
        """``POST /runs/RUN_ID/replay``: replay from a node (edited input optional), then open the new run."""
        run_id = request.path_params["run_id"]
        form = await _form(request, self.inspection.token)
        node, text = form.get("node", ""), form.get("input", "").strip()
        kwargs: dict[str, Any] = {"offline": form.get("offline") == "on"}
        try:
            if text:
                kwargs["input"] = json.loads(text)
            result = await self.inspection.act(lambda engine: engine.replay_from(run_id, node, **kwargs))
        except json.JSONDecodeError as exc:
            return self.page("error.html", request, 400, title="Replay refused",
                             message=f"the input is not JSON: {exc}")
        except AgentEngineError as exc:
            return self.page("error.html", request, 400, title="Replay refused", message=str(exc))
        return RedirectResponse(f"/runs/{result.task_id}", status_code=303)

    async def diff(self, request: Request) -> Response:
        """``/diff?left=&right=``: where two runs' traces first part, side by side."""
        left, right = request.query_params.get("left", ""), request.query_params.get("right", "")
        recent = await self.inspection.read(lambda inspector: inspector.runs(limit=RUNS_SHOWN))
        context: dict[str, Any] = {"left": left, "right": right, "recent": recent, "compared": False}
        if left and right:
            try:
                difference = await self.inspection.read(lambda inspector: inspector.diff(left, right))
            except AgentEngineError as exc:
                return self.page("diff.html", request, 404, message=str(exc), **context)
            context |= {"compared": True, "difference": difference,
                        "rows": views.difference_rows(difference) if difference else [],
                        "sides": views.difference_sides(difference, left, right) if difference else []}
        return self.page("diff.html", request, **context)

    async def approvals(self, request: Request, outcome: dict[str, Any] | None = None,
                        status_code: int = 200) -> Response:
        """``/approvals``: what waiting runs wait for, each with its approve and reject form."""
        journal = await self.inspection.journaled()
        waiting = [entry for entry in journal.runs if entry["status"] == "waiting"]
        return self.page("approvals.html", request, status_code, waiting=waiting, journal=journal, outcome=outcome)

    async def decide(self, request: Request) -> Response:
        """``POST /approvals``: approve or reject (with a reason) for the fingerprint shown, and resume the run."""
        form = await _form(request, self.inspection.token)
        approve = form.get("decision") == "approve"
        run_id, node = form.get("run_id", ""), form.get("node", "")
        reason = form.get("reason", "").strip() or None
        if not approve and reason is None:
            return await self.approvals(request, {"error": "a rejection needs a reason"}, 400)
        try:
            result = await self.inspection.act(lambda engine: engine.approve(
                run_id, node, approve=approve, reason=reason, fingerprint=form.get("fingerprint") or None,
                task_id=form.get("task_id") or None, by=form.get("by", "").strip() or None))
        except AgentEngineError as exc:
            return await self.approvals(request, {"error": str(exc)}, 400)
        return await self.approvals(request, {"run_id": run_id, "node": node, "approved": approve,
                                              "status": str(result.status)})

    async def events(self, request: Request) -> Response:
        """``/events``: a server-sent ``runs`` event whenever the stored or journaled runs change."""
        async def stream() -> AsyncIterator[str]:
            last, quiet = None, 0.0
            while not await request.is_disconnected():
                current = await _fingerprint(self.inspection)
                if current != last:
                    yield f"event: runs\ndata: {current}\n\n"
                    last, quiet = current, 0.0
                elif quiet >= KEEPALIVE_S:
                    yield ": keep-alive\n\n"
                    quiet = 0.0
                await asyncio.sleep(LIVE_POLL_S)
                quiet += LIVE_POLL_S

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def create_app(config_dir: Path, *, host: str = "127.0.0.1") -> Starlette:
    """The inspector's app for the project in ``config_dir``, accepting requests for ``host`` and localhost."""
    pages = Pages(Inspection(config_dir))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            pages.inspection.close()

    routes = [
        Route("/", pages.runs), Route("/fragments/runs", pages.runs_table), Route("/runs/{run_id}", pages.run),
        Route("/runs/{run_id}/stages/{node_id}", pages.stage), Route("/runs/{run_id}/value", pages.value),
        Route("/runs/{run_id}/replay", pages.replay, methods=["POST"]), Route("/diff", pages.diff),
        Route("/approvals", pages.approvals), Route("/approvals", pages.decide, methods=["POST"]),
        Route("/events", pages.events), Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={Forbidden: forbidden_handler},
                     middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=sorted({host, *LOCAL_HOSTS}))])


class Forbidden(Exception):
    """A form without this server's token (a page elsewhere posting to it)."""


async def _form(request: Request, token: str) -> dict[str, str]:
    form = await request.form()
    given = form.get("token")
    if not isinstance(given, str) or not secrets.compare_digest(given, token):
        raise Forbidden
    return {key: item for key, item in form.items() if isinstance(item, str)}


def _matching(inspector: Inspector, status: str | None, text: str, limit: int) -> list[Any]:
    """The newest runs with ``status``, and (when ``text``) whose root input holds ``text``, case-insensitively."""
    if not text:
        return inspector.runs(status=status, limit=limit)
    wanted = text.casefold()
    found = []
    for summary in inspector.runs(status=status, limit=limit):
        records = inspector.run(summary.run_id).trace.for_task(summary.run_id)
        if records and wanted in json.dumps(records[0].input, ensure_ascii=False).casefold():
            found.append(summary)
    return found


def _record(view: RunView, task_id: str, seq: str) -> dict[str, Any]:
    for record in view.trace.to_dict()["records"]:
        if record["task_id"] == task_id and str(record["seq"]) == seq:
            return dict(record)
    raise KeyError(f"task '{task_id}' has no stage {seq}")


def _value_url(run_id: str) -> str:
    return f"/runs/{run_id}/value?"


async def _fingerprint(inspection: Inspection) -> str:
    """What the runs page shows, in short: a change of it is a live update."""
    stored = await inspection.read(lambda inspector: inspector.runs(limit=RUNS_SHOWN))
    journal = await inspection.journaled()
    shown = [[s.run_id, s.status] for s in stored] + [[j["run_id"], j["status"], len(j["approvals"])]
                                                        for j in journal.runs]
    return hashlib.sha256(json.dumps(shown).encode()).hexdigest()[:16]


def forbidden_handler(_: Request, __: Exception) -> Response:
    """The answer to a form without the token."""
    return PlainTextResponse("this form was not sent by this inspector's page (missing or wrong token)", 403)
