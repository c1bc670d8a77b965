"""One way to log and one way to set logging up: ``lazy.get_logger`` for code that logs, ``_logging.configure``
for applications; nothing else in the core or its distributions touches structlog's or logging's setup."""

from __future__ import annotations

import ast
import json
import logging
import subprocess
import sys
from pathlib import Path

import structlog

from agent_engine_core import _logging
from agent_engine_core.lazy import get_logger

ROOT = Path(__file__).resolve().parents[1]

SETUP_CALLS = frozenset({"structlog.configure", "structlog.get_logger", "structlog.wrap_logger",
                         "logging.basicConfig", "logging.getLogger", "addHandler"})

EXEMPT = {
    "agent_engine_core/_logging.py": "the one place",
    "agent_engine_core/testing/_canary.py": "the secret ledger wraps the configuration to read every line",
}


def _sources() -> list[Path]:
    packages = [ROOT / "agent_engine_core", *ROOT.glob("adapters/*/agent_engine_*"),
                *ROOT.glob("agent_engine_plugins/*/agent_engine_*")]
    return sorted(p for package in packages for p in package.rglob("*.py"))


def _setup_calls(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            dotted = ast.unparse(node.func)
            if dotted in SETUP_CALLS or node.func.attr in SETUP_CALLS:
                found.append(f"{path.relative_to(root)}:{node.lineno}: {dotted}")
    return found


def test_only_the_logging_module_makes_loggers_or_configures():
    calls = [c for p in _sources() if str(p.relative_to(ROOT)) not in EXEMPT for c in _setup_calls(p)]
    assert calls == []


def test_the_check_sees_a_configuration_and_a_logger_made_elsewhere(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import structlog, logging\nstructlog.configure()\nlog = structlog.get_logger()\n"
                      "logging.getLogger('x').addHandler(h)\n")
    assert sorted(c.split(": ")[1] for c in _setup_calls(sample, tmp_path)) == [
        "logging.getLogger", "logging.getLogger('x').addHandler", "structlog.configure", "structlog.get_logger"
    ]


def test_a_logger_imports_structlog_with_its_first_line_not_before():
    probe = (
        "import sys\nfrom agent_engine_core.lazy import get_logger\nlog = get_logger('probe')\n"
        "before = 'structlog' in sys.modules\nlog.warning('first line')\nprint(before, 'structlog' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert done.stdout.splitlines()[-1].split() == ["False", "True"]  # structlog's default prints the line first


def test_lines_carry_the_bound_context_and_follow_the_configuration_of_the_moment():
    log = get_logger("agent_engine.test", run_id="r1")
    with structlog.testing.capture_logs() as lines:
        log.warning("noted", node_id="n")
    assert lines == [{"event": "noted", "run_id": "r1", "node_id": "n", "log_level": "warning"}]


def test_configure_writes_lines_at_the_level_and_above_on_stderr_only(capsys):
    try:
        _logging.configure(logging.WARNING, json=True)
        log = get_logger("agent_engine.test", task_id="t")
        log.info("hidden")
        log.warning("shown", n=1)
        out, err = capsys.readouterr()
    finally:
        structlog.reset_defaults()
    assert out == ""
    (line,) = err.splitlines()
    assert {k: v for k, v in json.loads(line).items() if k != "timestamp"} == {
        "event": "shown", "n": 1, "task_id": "t", "level": "warning"
    }
