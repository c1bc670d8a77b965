"""``agent-engine ui DIR --export RUN_ID FILE.html``: one run as a page that needs nothing but itself."""

from __future__ import annotations

import re
from pathlib import Path

from _ui_kit import PROJECT, Browser, copy_project, run_all, shot
from agent_engine_core.cli import main
from click.testing import CliRunner

from agent_engine_ui.views import COLLAPSE_CHARS


def _export(project: Path, run_id: str, target: Path):
    return CliRunner().invoke(main, ["ui", str(project), "--export", run_id, str(target)])


def test_an_exported_run_opens_from_disk_and_shows_its_failing_stage(project: Path, tmp_path: Path,
                                                                   browser: Browser):
    target = tmp_path / "fail-1.html"
    done = _export(project, "fail-1", target)
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"wrote run fail-1 to {target} (")
    html = target.read_text(encoding="utf-8")
    # nothing to fetch: no script, stylesheet or image by address (the SVG namespace is a name, not a request)
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html)
    assert re.findall(r"https?://[^\s\"'<>]+", html) == ["http://www.w3.org/2000/svg"]

    def look(page):
        page.goto(target.as_uri())
        page.click("g.node[data-node='charge']")
        page.locator("#stage .stage-error").wait_for()
        shot(page, "exported-run")
        message = page.locator("#stage .stage-error .error-text").inner_text()
        page.click("g.node[data-node='fan']")  # a node the run did not reach has no stage to show
        return message, page.locator("#stage").inner_text()

    visit = browser.visit(look)
    message, unreached = visit.result
    assert message == "amount 250 is over the limit of 100"
    assert "did not reach" in unreached
    assert visit.requests == [target.as_uri()]


def test_every_value_of_an_export_is_inside_it_even_a_long_one(tmp_path: Path):
    project = copy_project(PROJECT, tmp_path / "orders")
    note = "".join(f"paragraph {n} of a long note. " for n in range(300))
    run_all(project, {"long-1": {"items": ["apple"], "note": note}})
    target = tmp_path / "long-1.html"
    assert _export(project, "long-1", target).exit_code == 0
    html = target.read_text(encoding="utf-8")
    assert len(note) > COLLAPSE_CHARS
    assert note in html  # collapsed in a <details>, but there: an export has nothing to fetch it from
    assert "apples: 3 EUR" in html  # the tool's result, in the summarise stage's panel
    assert "hx-get" not in html and "/runs/" not in html


def test_exporting_a_run_that_is_not_stored_names_the_stored_ones(project: Path, tmp_path: Path):
    target = tmp_path / "missing.html"
    done = _export(project, "nope-1", target)
    assert done.exit_code == 2
    assert "no stored run 'nope-1'; the newest: fail-1, part-1, ok-1" in done.output
    assert "Traceback" not in done.output
    assert not target.exists()


def test_exporting_into_a_folder_that_does_not_exist_is_a_usage_error(project: Path, tmp_path: Path):
    done = _export(project, "ok-1", tmp_path / "no" / "such" / "run.html")
    assert done.exit_code == 2
    assert "the folder of" in done.output and "does not exist" in done.output
