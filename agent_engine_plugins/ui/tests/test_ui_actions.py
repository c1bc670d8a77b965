"""What changes under the inspector: runs arriving live, long values opened, replay from a node, approvals.

These use projects of their own (the session's three-run project stays as it is for the page tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _ui_kit import APPROVAL_EXAMPLE, PROJECT, Browser, Served, copy_project, run_all, serving, shot
from agent_engine_core import Engine
from test_ui_pages import _local_only

from agent_engine_ui.views import COLLAPSE_CHARS

LONG_NOTE = "".join(f"line {n}: the customer wrote at length. " for n in range(400))
HOSTILE = "<script>window.pwned = true</script><img src=x onerror='window.pwned = true'>"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Served]]:
    project = copy_project(PROJECT, tmp_path_factory.mktemp("bench") / "orders")
    run_all(project, {"long-1": {"items": ["apple"], "note": LONG_NOTE}, "hostile-1": {"items": [HOSTILE]}})
    with serving(project) as server:
        yield project, server


def test_a_run_that_finishes_while_the_list_is_open_appears_without_a_reload(bench, browser: Browser):
    project, served = bench

    def look(page):
        page.goto(served.url + "/")
        page.wait_for_load_state("networkidle")
        page.evaluate("window.notReloaded = true")
        with ThreadPoolExecutor(1) as elsewhere:  # another thread: playwright's loop runs in this one
            elsewhere.submit(run_all, project, {"live-1": {"items": ["pear"]}}).result()
        page.locator("table.runs.stored tr[data-run='live-1']").wait_for(timeout=15_000)
        return page.evaluate("window.notReloaded === true"), page.locator(
            "tr[data-run='live-1'] .badge").inner_text()

    visit = browser.visit(look)
    kept, status = visit.result
    assert kept, "the page was reloaded instead of updated"
    assert status == "success"
    assert any(url.endswith("/events") for url in visit.requests)
    _local_only(visit, served)


def test_a_long_value_is_collapsed_and_loaded_only_when_opened(bench, browser: Browser):
    _, served = bench

    def look(page):
        page.goto(served.url + "/runs/long-1?node=intake")
        page.wait_for_load_state("networkidle")
        html = page.content()
        lazy = page.locator("#stage details.value.lazy").first
        before = lazy.locator(".full").text_content().strip()
        lazy.locator("summary").click()
        page.wait_for_function("(d) => !d.querySelector('.preview')", arg=lazy.element_handle())
        return html, before, lazy.locator(".full").inner_text()

    visit = browser.visit(look)
    html, before, after = visit.result
    assert len(LONG_NOTE) > COLLAPSE_CHARS
    assert LONG_NOTE not in html, "the long value was sent with the page instead of on demand"
    assert before.endswith("…") and len(before) < 400
    assert LONG_NOTE in json.loads(after)["note"]
    assert any("/runs/long-1/value?" in url for url in visit.requests)
    _local_only(visit, served)


def test_values_are_text_never_markup(bench, browser: Browser):
    _, served = bench

    def look(page):
        page.goto(served.url + "/runs/hostile-1?node=intake")
        page.wait_for_load_state("networkidle")
        page.goto(served.url + "/?q=script")
        page.wait_for_load_state("networkidle")
        return page.evaluate("window.pwned === undefined"), page.locator("tr[data-run]").count()

    visit = browser.visit(look)
    safe, found = visit.result
    assert safe, "a stored value ran as script"
    assert found == 1  # and it is still found by its text
    _local_only(visit, served)


def test_replay_from_a_node_with_an_edited_input_opens_the_new_run(bench, browser: Browser):
    _, served = bench

    def look(page):
        page.goto(served.url + "/runs/long-1?node=fan")
        page.locator("#stage details.replay summary").click()
        page.fill("#stage details.replay textarea", json.dumps({"items": ["fig", "plum", "kiwi"], "note": "short"}))
        page.click("#stage details.replay button[type=submit]")
        page.wait_for_url(lambda url: "/runs/" in url and "long-1" not in url)
        shot(page, "replayed-run")
        return page.url, page.locator("dl.summary").inner_text(), page.locator("#stage").count()

    visit = browser.visit(look)
    url, summary, _ = visit.result
    assert "replayed from\nlong-1 at node fan, with an edited input" in summary
    new_run = url.rsplit("/", 1)[1]
    with Engine.from_config_dir(bench[0], runs="local") as engine:
        replayed = engine.inspector.run(new_run)
    assert replayed.origin == {"run_id": "long-1", "from_node": "fan", "input_changed": True}
    assert replayed.result["output"]["summary"] == "checked 3 item(s)"
    _local_only(visit, served)


def test_a_replay_with_an_input_that_is_not_json_is_refused_and_says_why(bench, browser: Browser):
    _, served = bench

    def look(page):
        page.goto(served.url + "/runs/long-1?node=fan")
        page.locator("#stage details.replay summary").click()
        page.fill("#stage details.replay textarea", "{not json")
        with page.expect_response(lambda r: r.url.endswith("/replay")) as answer:
            page.click("#stage details.replay button[type=submit]")
        return answer.value.status, page.locator(".error-message").inner_text()

    status, message = browser.visit(look).result
    assert status == 400
    assert message.startswith("the input is not JSON:")


@pytest.fixture(scope="module")
def approvals(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Served]]:
    project = copy_project(APPROVAL_EXAMPLE, tmp_path_factory.mktemp("approvals") / "approval")
    with Engine.from_config_dir(project, runs="local") as engine:
        waiting = engine.run({"order": "A-1001", "amount": 42.5, "reason": "damaged"}, run_id="refund-1")
        engine.run({"order": "B-7", "amount": 9.0, "reason": "late"}, run_id="refund-2")
    assert str(waiting.status) == "waiting"
    with serving(project) as server:
        yield project, server


def test_waiting_runs_are_listed_live_and_decided_on_the_approvals_page(approvals, browser: Browser):
    _, served = approvals

    def look(page):
        page.goto(served.url + "/")
        live = sorted(r.get_attribute("data-run") for r in page.locator("table.runs.live tr[data-run]").all())
        page.click("header.top a[href='/approvals']")
        section = page.locator("section.waiting#refund-1")
        prompt = section.locator(".prompt").inner_text()
        shot(page, "approvals")
        section.locator("input[name=by]").fill("alice")
        section.locator("button.approve").click()
        page.locator(".outcome").wait_for()
        first = page.locator(".outcome").inner_text()
        tool_gate = page.locator("section.waiting#refund-1 article.approval").inner_text()
        page.locator("section.waiting#refund-1 button.approve").click()
        page.locator(".outcome a").wait_for()
        second = page.locator(".outcome").inner_text()
        rejected = page.locator("section.waiting#refund-2")
        rejected.locator("button.reject").click()
        refused = page.locator(".error-message").inner_text()
        page.goto(served.url + "/runs/refund-1?node=review")
        decided = page.locator("#stage table.approvals tbody").inner_text()
        return live, prompt, first, tool_gate, second, refused, decided

    visit = browser.visit(look)
    live, prompt, first, tool_gate, second, refused, decided = visit.result
    assert live == ["refund-1", "refund-2"]
    assert prompt == "Refund this order? Check the amount and the reason."
    assert "Approved review of run refund-1; the run resumed and is now waiting" in first
    assert "tool write_payout" in tool_gate
    assert "is now success" in second
    assert refused == "a rejection needs a reason"
    assert decided.startswith("approved\tinput") and "\talice\t" in decided  # the run keeps who decided
    _local_only(visit, served)


def test_a_form_posted_without_the_pages_token_is_refused(approvals):
    import httpx

    _, served = approvals
    answer = httpx.post(served.url + "/approvals", data={"run_id": "refund-2", "node": "review",
                                                         "decision": "approve"})
    assert answer.status_code == 403
    foreign = httpx.get(served.url + "/", headers={"Host": "attacker.example"})
    assert foreign.status_code == 400  # a rebinding name for 127.0.0.1 is not served
    with Engine.from_config_dir(approvals[0], runs="local") as engine:
        assert [entry["run_id"] for entry in engine.waiting()] == ["refund-2"]


def test_a_two_thousand_node_run_renders_and_its_time_is_recorded(tmp_path: Path, browser: Browser):
    project = _chain(tmp_path / "chain", 2000)
    run_all(project, {"long-chain": {"n": 0}})
    with serving(project) as served:
        def look(page):
            started = time.perf_counter()
            page.goto(served.url + "/runs/long-chain", wait_until="load")
            loaded = time.perf_counter() - started
            timing = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON())")
            return loaded, json.loads(timing), page.locator("svg.dag g.node.s-success").count()

        visit = browser.visit(look)
    loaded, timing, coloured = visit.result
    assert coloured == 2000
    record = {"nodes": 2000, "load_s": round(loaded, 3),
              "dom_content_loaded_ms": round(timing["domContentLoadedEventEnd"]),
              "load_event_ms": round(timing["loadEventEnd"]), "transfer_bytes": timing.get("transferSize")}
    shots = Path(__file__).resolve().parents[1] / "screenshots"
    shots.mkdir(exist_ok=True)
    (shots / "render-2000-nodes.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"2,000-node run page: {record}")


def _chain(folder: Path, size: int) -> Path:
    """A project of ``size`` nodes in a line, each adding one to ``n``."""
    folder.mkdir(parents=True)
    nodes = [{"id": "n0", "role": "start", "handler": "steps:step"}]
    nodes += [{"id": f"n{i}", "role": "linear", "handler": "steps:step"} for i in range(1, size - 1)]
    nodes.append({"id": f"n{size - 1}", "role": "exit"})
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(size - 1)]
    (folder / "workflow.yaml").write_text(json.dumps({"version": "1.0", "nodes": nodes, "edges": edges}),
                                          encoding="utf-8")
    (folder / "steps.py").write_text("def step(payload, ctx):\n    return {'n': payload['n'] + 1}\n", encoding="utf-8")
    return folder


def test_with_a_broken_manifest_the_runs_stay_readable_and_deciding_says_why_it_cannot(tmp_path: Path):
    import httpx

    project = copy_project(PROJECT, tmp_path / "orders")
    run_all(project, {"before-1": {"items": ["apple"]}})
    (project / "agents.yaml").write_text("agents:\n  - id: writer\n    llm: scripted/writer\n    temperature: hot\n",
                                         encoding="utf-8")
    with serving(project) as served:
        listed = httpx.get(served.url + "/")
        run = httpx.get(served.url + "/runs/before-1")
        approvals = httpx.get(served.url + "/approvals")
    assert listed.status_code == 200 and 'data-run="before-1"' in listed.text
    assert "the project&#39;s engine could not be built" in listed.text
    assert run.status_code == 200 and 'data-node="summarise"' in run.text
    assert approvals.status_code == 200
    assert "agents.yaml" in approvals.text and "the project&#39;s engine could not be built" in approvals.text
