"""An unknown ``id`` in plugins.yaml: located, with the available ids, and "did you mean" for a near miss."""

from __future__ import annotations

import json

import pytest

from agent_engine_core import Engine, ManifestError, hookimpl

WORKFLOW = {"version": "1.0", "nodes": [{"id": "s", "role": "start"}, {"id": "x", "role": "exit"}],
            "edges": [{"from": "s", "to": "x"}]}


class AuditSinks:
    """Offers two telemetry sinks, as a distribution would."""

    name = "audit"

    @hookimpl
    def register_telemetry_sinks(self, register):
        register("audit_file", lambda config, project_dir: object())
        register("audit_http", lambda config, project_dir: object())


def issue_for(tmp_path, monkeypatch, plugin_id):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    (tmp_path / "workflow.yaml").write_text(json.dumps(WORKFLOW))
    (tmp_path / "plugins.yaml").write_text(f"plugins:\n  - id: {plugin_id}\n")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(tmp_path, plugins=[AuditSinks()])
    return next(i for i in caught.value.issues if i.code == "plugins.invalid")


@pytest.mark.parametrize(("typed", "meant"), [("audit_fil", "audit_file"), ("audit_htp", "audit_http"),
                                              ("audti_file", "audit_file")])
def test_a_near_miss_suggests_the_id_and_lists_the_available_ones(tmp_path, monkeypatch, typed, meant):
    issue = issue_for(tmp_path, monkeypatch, typed)
    assert issue.hint == f"did you mean '{meant}'?"
    assert "available: audit, audit_file, audit_http" in issue.message
    assert (issue.file.endswith("plugins.yaml"), issue.line) == (True, 2)
    assert f"did you mean '{meant}'?" in str(issue)


def test_an_id_like_none_of_them_gets_the_install_hint_instead(tmp_path, monkeypatch):
    issue = issue_for(tmp_path, monkeypatch, "zzzqqq")
    assert "did you mean" not in (issue.hint or "")
    assert "available: audit, audit_file, audit_http" in issue.message
