"""cli_profiles.yaml: validated like every manifest, its fields and commands checked against the project."""

from __future__ import annotations

import json
import textwrap
import types

import click
import pytest

from agent_engine_core import Engine, ManifestError, hookimpl

WORKFLOW = """\
version: "1.0"
nodes:
  - {id: take, role: start, schema_in: request}
  - {id: done, role: exit}
edges:
  - {from: take, to: done}
"""
REQUEST = {"type": "object", "required": ["request"],
           "properties": {"request": {"type": "string"}, "attachments": {"type": "array"}}}


def write(write_project, profiles: str, *, schema=REQUEST):
    files = {"workflow.yaml": WORKFLOW, "cli_profiles.yaml": textwrap.dedent(profiles)}
    if schema is not None:
        files["schemas/request.json"] = json.dumps(schema)
    else:
        files["workflow.yaml"] = WORKFLOW.replace(", schema_in: request", "")
    return write_project(files)


def issues_of(root):
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root)
    return caught.value.issues


def test_a_profile_loads_with_its_defaults(write_project):
    root = write(write_project, """\
        cli_profiles:
          - {id: editor, input_field: request, attach_field: attachments, render: markdown}
          - {id: raw, input_field: request}
        """)
    with Engine.from_config_dir(root) as engine:
        editor, raw = engine.project.cli_profiles.cli_profiles
    assert (editor.render, editor.prompt, editor.default_config_dir, editor.commands) == ("markdown", "> ", None, None)
    assert (raw.render, raw.attach_field) == ("json", None)


def test_an_input_field_the_start_schema_lacks_is_located_with_a_suggestion(write_project):
    root = write(write_project, """\
        cli_profiles:
          - id: editor
            input_field: reqest
            attach_field: attachment
        """)
    found = {(i.code, i.line, i.hint) for i in issues_of(root)}
    assert ("cli_profiles.unknown_field", 3, "did you mean 'request'?") in found
    assert ("cli_profiles.unknown_field", 4, "did you mean 'attachments'?") in found


def test_without_an_input_schema_any_field_name_is_accepted(write_project):
    root = write(write_project, "cli_profiles: [{id: p, input_field: anything}]\n", schema=None)
    with Engine.from_config_dir(root) as engine:
        assert engine.project.cli_profiles.cli_profiles[0].input_field == "anything"


def test_a_profile_of_another_project_is_not_checked_against_this_one(write_project):
    root = write(write_project, "cli_profiles: [{id: p, default_config_dir: ../other, input_field: text}]\n")
    with Engine.from_config_dir(root) as engine:
        assert engine.project.cli_profiles.cli_profiles[0].default_config_dir == "../other"


def test_a_profile_that_points_back_here_is_checked(write_project):
    root = write(write_project, "cli_profiles: [{id: p, default_config_dir: ., input_field: text}]\n")
    (issue,) = issues_of(root)
    assert issue.code == "cli_profiles.unknown_field"
    assert issue.message == "profile 'p': input_field 'text' is not a field of the start node's input schema"


@pytest.mark.parametrize(("profiles", "message"), [
    ("cli_profiles: [{id: p, input_field: request, attach_field: request}]\n", "attach_field and input_field"),
    ("cli_profiles: [{id: p}, {id: p}]\n", "profile id 'p' is used more than once"),
    ("cli_profiles: [{id: p, render: 'a..b'}]\n", "render"),
    ("cli_profiles: []\n", "cli_profiles"),
    ("cli_profiles: [{id: p, promt: 'x> '}]\n", "did you mean 'prompt'?"),
])
def test_malformed_profiles_are_refused(write_project, profiles, message):
    issues = issues_of(write(write_project, profiles, schema=None))
    assert any(message in f"{i.message} {i.hint}" for i in issues), [str(i) for i in issues]


@click.command(name="wordcount")
def wordcount() -> None:
    click.echo("counted")


def test_a_command_must_be_registered_by_an_installed_plugin(write_project):
    plugin = types.SimpleNamespace(register_cli_commands=hookimpl(lambda register: register(wordcount)))
    root = write(write_project, "cli_profiles: [{id: p, input_field: request, commands: [wordcount, wordcuont]}]\n")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root, plugins=[plugin])
    (issue,) = caught.value.issues
    assert (issue.code, issue.line, issue.hint) == ("cli_profiles.unknown_command", 1, "did you mean 'wordcount'?")


def test_profiles_are_not_part_of_a_runs_metadata(write_project):
    root = write(write_project, "cli_profiles: [{id: p, input_field: request}]\n")
    with Engine.from_config_dir(root) as engine:
        assert "cli_profiles" not in engine.metadata["manifests"]
