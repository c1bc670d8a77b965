"""The inspector's pages, driven as a person would in headless Chromium: list, open, click, compare.

Every visit records the page's requests: none may leave the inspector's own address. The screenshots are saved
under ``screenshots/`` for people to look at.
"""

from __future__ import annotations

import re

from _ui_kit import RUNS, Browser, Served, Visit, shot


def _local_only(visit: Visit, served: Served) -> None:
    assert visit.requests, "the page made no request at all"
    elsewhere = [url for url in visit.requests if not url.startswith(served.url + "/")]
    assert not elsewhere, f"the page reached beyond the inspector: {elsewhere}"


def test_the_runs_list_shows_each_run_with_its_status_linked_by_its_task_id(served: Served, browser: Browser):
    def look(page):
        page.goto(served.url + "/")
        rows = page.locator("table.runs.stored tbody tr")
        seen = {row.get_attribute("data-run"): (row.locator(".badge").inner_text(),
                                                 row.locator("a").first.get_attribute("href"))
                for row in rows.all()}
        shot(page, "runs")
        return seen, page.locator("header.top .project").inner_text()

    visit = browser.visit(look)
    seen, project = visit.result
    assert seen == {"ok-1": ("success", "/runs/ok-1"), "part-1": ("partial", "/runs/part-1"),
                    "fail-1": ("failure", "/runs/fail-1")}
    assert project == "orders"
    _local_only(visit, served)


def test_clicking_the_failing_node_of_the_failed_run_shows_its_error(served: Served, browser: Browser):
    def look(page):
        page.goto(served.url + "/")
        page.click("a[href='/runs/fail-1']")
        page.wait_for_url(re.compile(r"/runs/fail-1$"))
        classes = {node: page.locator(f"g.node[data-node='{node}']").get_attribute("class")
                   for node in ("intake", "route", "charge", "charged", "fan")}
        page.click("g.node[data-node='charge']")
        error = page.locator("#stage .stage-error")
        error.wait_for()
        shot(page, "failed-run")
        return classes, error.locator(".error-kind").inner_text(), error.locator(".error-text").inner_text(), \
            page.url

    visit = browser.visit(look)
    classes, kind, message, url = visit.result
    assert "s-success" in classes["intake"] and "s-success" in classes["route"]
    assert "s-failure" in classes["charge"]
    assert "s-none" in classes["charged"] and "s-none" in classes["fan"]
    assert kind == "handler"
    assert message == "amount 250 is over the limit of 100"
    assert url.endswith("/runs/fail-1?node=charge")
    _local_only(visit, served)


def test_the_graph_highlights_the_path_taken_and_groups_the_fan_out(served: Served, browser: Browser):
    def look(page):
        page.goto(served.url + "/runs/part-1")
        taken = sorted((e.get_attribute("data-from"), e.get_attribute("data-to"))
                       for e in page.locator("path.edge.taken").all())
        frames = page.locator("text.fanout-caption").all_text_contents()
        check = page.locator("g.node[data-node='check_item']").get_attribute("class")
        page.click("g.node[data-node='check_item']")
        page.locator("#stage article.stage-panel").nth(1).wait_for()
        panels = [(a.get_attribute("data-task"), a.locator("header .badge").inner_text())
                  for a in page.locator("#stage article.stage-panel").all()]
        return taken, frames, check, panels

    visit = browser.visit(look)
    taken, frames, check, panels = visit.result
    assert taken == [("check_item", "gather"), ("fan", "check_item"), ("gather", "summarise"),
                     ("intake", "route"), ("route", "fan"), ("summarise", "done")]
    assert frames == ["fan-out · 2 task(s)"]
    assert "s-failure" in check  # one of its two tasks failed
    assert panels == [("part-1/fan#0", "success"), ("part-1/fan#1", "failure")]
    _local_only(visit, served)


def test_an_agent_stage_shows_its_tool_call_and_its_agent_call(served: Served, browser: Browser):
    def look(page):
        page.goto(served.url + "/runs/ok-1?node=summarise")
        page.locator("#stage .call.tool").wait_for()
        tool = page.locator("#stage .call.tool").inner_text()
        agents = page.locator("#stage .call.agent").all_inner_texts()
        return tool, agents

    visit = browser.visit(look)
    tool, agents = visit.result
    assert "catalogue" in tool and '"path": "catalogue.txt"' in tool and "apples: 3 EUR" in tool
    assert len(agents) == 2  # the turn asking for the tool, then the one answering with its result
    assert all("scripted/writer" in agent and "Summarise the checked items" in agent for agent in agents)
    assert "apples: 3 EUR" in agents[1] and "apples: 3 EUR" not in agents[0].split("reply")[0]
    _local_only(visit, served)


def test_filters_narrow_the_list_by_status_and_by_input_text(served: Served, browser: Browser):
    def shown(page):
        page.wait_for_load_state("networkidle")
        rows = page.locator("table.runs.stored tbody tr[data-run]").all()
        return sorted(row.get_attribute("data-run") for row in rows)

    def look(page):
        page.goto(served.url + "/")
        page.select_option("select[name=status]", "failure")
        page.wait_for_function("document.querySelectorAll('table.runs.stored tbody tr[data-run]').length === 1")
        by_status = shown(page)
        page.select_option("select[name=status]", "")
        page.fill("input[name=q]", "BROKEN")
        page.wait_for_function("document.querySelectorAll('table.runs.stored tbody tr[data-run]').length === 1")
        by_text = shown(page)
        page.fill("input[name=q]", "no run has this")
        page.locator("td.empty").wait_for()
        return by_status, by_text, page.locator("td.empty").inner_text()

    visit = browser.visit(look)
    by_status, by_text, empty = visit.result
    assert by_status == ["fail-1"]
    assert by_text == ["part-1"]
    assert empty == "no stored run matches"
    _local_only(visit, served)


def test_the_diff_page_shows_the_first_differing_stage_side_by_side(served: Served, browser: Browser):
    def look(page):
        page.goto(served.url + "/diff")
        page.fill("input[name=left]", "ok-1")
        page.fill("input[name=right]", "part-1")
        page.click("button[type=submit]")
        page.locator("table.diff").wait_for()
        shot(page, "diff")
        rows = {row.locator("th").inner_text(): [cell.inner_text() for cell in row.locator("td").all()]
                for row in page.locator("table.diff tbody tr").all()}
        links = [a.get_attribute("href") for a in page.locator(".first-difference a").all()]
        return rows, links

    visit = browser.visit(look)
    rows, links = visit.result
    assert set(rows) == {"input", "output"}
    assert '"pear"' in rows["input"][0] and '"broken"' not in rows["input"][0]
    assert '"broken"' in rows["input"][1]
    assert links == ["/runs/ok-1?node=intake", "/runs/part-1?node=intake"]
    _local_only(visit, served)


def test_a_run_id_that_is_not_stored_is_a_page_that_says_which_runs_are(served: Served, browser: Browser):
    def look(page):
        response = page.goto(served.url + "/runs/nope-9")
        return response.status, page.locator(".error-message").inner_text()

    visit = browser.visit(look)
    status, message = visit.result
    assert status == 404
    assert "no stored run 'nope-9'" in message and "ok-1" in message
    assert set(RUNS) <= set(re.findall(r"[a-z]+-1", message))


def test_a_value_is_served_by_its_pointer_and_a_wrong_pointer_is_not_found(served: Served):
    import httpx

    found = httpx.get(served.url + "/runs/ok-1/value", params={"task": "ok-1", "seq": "0", "pointer": "/input/items/1"})
    assert found.status_code == 200
    assert '<pre class="value">&#34;pear&#34;</pre>' in found.text
    missing = httpx.get(served.url + "/runs/ok-1/value", params={"task": "ok-1", "seq": "0", "pointer": "/input/nope"})
    assert missing.status_code == 404
    assert "no such value" in missing.text
    wrong_stage = httpx.get(served.url + "/runs/ok-1/value", params={"task": "ok-1", "seq": "99", "pointer": ""})
    assert wrong_stage.status_code == 404
    assert "task 'ok-1' has no stage 99" in wrong_stage.text
