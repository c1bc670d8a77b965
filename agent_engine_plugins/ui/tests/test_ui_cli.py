"""``agent-engine ui DIR``: started as a user starts it, from a shell, and stopped with Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent_engine_ui.cli import is_loopback

COMMAND = [sys.executable, "-m", "agent_engine_core.cli"]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*COMMAND, "ui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return out, err


def test_the_inspector_serves_the_project_on_localhost_and_says_so(project: Path):
    process = _start(str(project), "--port", "0")
    try:
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith(f"Agent Engine inspector for {project}: http://127.0.0.1:"), first
        url = first.rsplit(": ", 1)[1].strip()
        assert second == "listening on this machine only (--host to change); Ctrl-C stops it\n"
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert all(f'data-run="{run_id}"' in page.text for run_id in ("ok-1", "part-1", "fail-1"))
    finally:
        _, err = _stop(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_listening_beyond_this_machine_warns_who_can_read_the_runs(project: Path):
    process = _start(str(project), "--host", "0.0.0.0", "--port", "0")
    try:
        assert process.stdout.readline().startswith("Agent Engine inspector for")
        warning = process.stderr.readline()
    finally:
        _stop(process)
    assert warning.startswith("warning: listening on 0.0.0.0: anyone who can reach this machine can read these runs")


def test_a_port_in_use_is_a_usage_error_that_says_what_to_do(project: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*COMMAND, "ui", str(project), "--port", str(port)], capture_output=True, text=True,
                              timeout=60, check=False)
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "--port 0 for any free one" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("host", "local"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                             ("[::1]", True), ("127.3.4.5", True), ("0.0.0.0", False),
                                             ("192.168.1.20", False), ("example.org", False)])
def test_which_hosts_count_as_this_machine_only(host: str, local: bool):
    assert is_loopback(host) is local


def test_open_hands_the_runs_page_to_the_users_browser(project: Path, tmp_path: Path):
    opened = tmp_path / "opened.txt"
    opener = tmp_path / "opener.sh"
    opener.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n', encoding="utf-8")
    opener.chmod(0o755)
    process = subprocess.Popen([*COMMAND, "ui", str(project), "--port", "0", "--open"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "BROWSER": f"{opener} %s"})
    try:
        url = process.stdout.readline().rsplit(": ", 1)[1].strip()
        deadline = time.monotonic() + 20
        while not (opened.exists() and opened.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline, "the browser was never asked to open the page"
            time.sleep(0.05)
    finally:
        _stop(process)
    assert opened.read_text(encoding="utf-8") == url
