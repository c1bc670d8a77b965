"""The README's worked example, run as it is written: its commands, in order, on a copy of ``example/``."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from _mcp_kit import HERE
from agent_engine_core.cli import main
from click.testing import CliRunner

pytestmark = pytest.mark.usefixtures("only_this_distribution", "cli_logging_restored")

DISTRIBUTION = HERE.parent
README = DISTRIBUTION / "README.md"


def readme_commands() -> list[str]:
    """The lines of the README's bash block that starts by copying the example."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (walk,) = [b for b in blocks if b.startswith("cp -r adapters/mcp/example")]
    return walk.strip().splitlines()


def test_the_worked_example_runs_as_the_readme_says(tmp_path, monkeypatch):
    first, *commands = readme_commands()
    assert first == "cp -r adapters/mcp/example /tmp/calc && cd /tmp/calc"
    project = Path(shutil.copytree(DISTRIBUTION / "example", tmp_path / "calc"))
    monkeypatch.chdir(project)
    outputs = []
    for line in commands:
        words = shlex.split(line)
        if words[0] == "mv":
            Path(words[1]).rename(words[2])
            continue
        assert words[0] == "agent-engine", line
        result = CliRunner().invoke(main, words[1:])
        assert result.exit_code == 0, (line, result.output)
        outputs.append(result.output)
    listed, ran, locked, recorded, replayed = outputs
    assert "    calc.add      Add two numbers." in listed and "(shout)" in listed and "not pinned" in listed
    assert json.loads(ran[ran.index("output:") + len("output:"):]) == {"total": 6.5, "checked": True}
    pin = yaml.safe_load((project / "tools.yaml").read_text())["tools"][0]["config"]["pin"]
    assert locked.startswith(f"calc: {pin} (new; 2 tools, server calc 1.0.0)")
    assert (project / "tools.yaml").read_text().startswith("# One MCP server")  # the comment is kept
    trace = json.loads((project / "run.json").read_text())["trace"]
    calls = [c for r in trace["records"] for c in r["tool_calls"]]
    assert [c["tool_id"] for c in calls] == ["calc.add"] * 4
    assert {c["meta"]["pin"] for c in calls} == {pin}
    assert recorded.splitlines()[1] == "task:   demo"
    assert replayed.rstrip().endswith("replay: the digest matches the recording of run demo")
    assert not (project / "calc_server.py").exists()
