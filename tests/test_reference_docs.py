"""The generated reference docs (API_REFERENCE.md, HOOKS.md, MANIFESTS.md) are what the code gives now.

They are made by ``tools/gen_reference.py`` from the public modules' docstrings, ``hookspecs.py`` and the
manifest models; when one fails here, run ``python tools/gen_reference.py`` and commit the result.
"""

from __future__ import annotations

import importlib

import gen_reference
import pytest
from test_public_modules import PUBLIC_ALL

from agent_engine_core import Engine, hookspecs
from agent_engine_core.manifests.models import MANIFEST_MODELS


@pytest.mark.parametrize("name", sorted(gen_reference.GENERATED))
def test_a_generated_reference_is_current(name: str):
    written = (gen_reference.DOCS / name).read_text(encoding="utf-8")
    made = gen_reference.tidy(gen_reference.GENERATED[name]())
    assert written == made, f"docs/{name} is not what the code gives: run {gen_reference.COMMAND}"


def test_the_check_notices_a_changed_docstring(monkeypatch: pytest.MonkeyPatch):
    assert gen_reference.stale() == []
    monkeypatch.setattr(Engine.run, "__doc__", "Run one task, differently documented.")
    assert gen_reference.stale() == ["API_REFERENCE.md"]
    assert gen_reference.main(["--check"]) == 1


def test_the_api_reference_covers_every_public_name():
    text = (gen_reference.DOCS / "API_REFERENCE.md").read_text(encoding="utf-8")
    assert gen_reference.public_modules() == ["agent_engine_core", *sorted(set(PUBLIC_ALL) - {"agent_engine_core"})]
    for module_name, names in PUBLIC_ALL.items():
        assert f"## `{module_name}`\n" in text
        module = importlib.import_module(module_name)
        for name in names:
            full = f"### `{module_name}.{name}`\n" in text
            home = gen_reference.documented_in(name, getattr(module, name), {m: importlib.import_module(m)
                                                                             for m in PUBLIC_ALL})
            referred = home is not None and f"- `{name}`: see [`{home}.{name}`]" in text
            assert full or referred, f"{module_name}.{name} is not in API_REFERENCE.md"


def test_the_hook_reference_has_every_hook_with_its_docstring():
    text = (gen_reference.DOCS / "HOOKS.md").read_text(encoding="utf-8")
    for name in (*hookspecs.REGISTRATION_HOOKS, *hookspecs.OBSERVER_HOOKS, "read_trace_events"):
        assert f"### `{name}`" in text
        first_line = getattr(hookspecs, name).__doc__.strip().splitlines()[0]
        assert gen_reference.markdown(first_line) in text
    assert "### `read_trace_events` (`firstresult`)" in text


def test_the_manifest_reference_has_every_manifest_and_field():
    text = (gen_reference.DOCS / "MANIFESTS.md").read_text(encoding="utf-8")
    for stem, model in MANIFEST_MODELS.items():
        assert f"\n## {stem}.yaml\n" in text
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in text, f"{stem}.yaml: {name}"
    assert "| `from` | identifier | required |" in text  # written as YAML writes it, not as the model's name
