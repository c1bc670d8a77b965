"""Apply plugins.yaml: switch telemetry sinks on, tune or disable installed observer plugins.

An entry's ``id`` names either a registered telemetry sink (built here from its ``config`` and registered as
an observer of this engine) or an already loaded plugin (an entry point's name). Anything else is a located
load-time error that says which distribution to install.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_engine_core._build.components import Components, distribution_hint
from agent_engine_core._plugins.loader import LoadedPlugin, PluginSet
from agent_engine_core._run.observe import Dispatch
from agent_engine_core.errors import ManifestIssue

if TYPE_CHECKING:
    from agent_engine_core.manifests.loader import Project

__all__ = ["ObserverSettings", "apply_plugin_config"]


@dataclass(slots=True)
class ObserverSettings:
    """What plugins.yaml decided: per-plugin dispatch, plugins switched off, and the problems found."""

    dispatch: dict[str, Dispatch] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    issues: list[ManifestIssue] = field(default_factory=list)


def apply_plugin_config(project: Project, components: Components, plugins: PluginSet) -> ObserverSettings:
    """Build the enabled sinks into ``plugins`` and collect dispatch settings (issues are located)."""
    settings = ObserverSettings()
    source = project.source("plugins")
    loaded = {p.name for p in plugins.loaded}
    sinks = components.of("telemetry_sink")
    seen: set[str] = set()
    for position, entry in enumerate(project.plugins.plugins):
        problem = hint = None
        observer = entry.id  # the plugin-manager name that dispatch settings apply to
        if entry.id in seen:
            problem, hint = f"plugin '{entry.id}' is configured twice", "keep one entry per plugin"
        elif entry.id in sinks:
            if entry.enabled:
                problem = _start_sink(entry.id, sinks[entry.id].factory, entry.config, project, plugins)
                hint = "check its config in plugins.yaml"
                observer = sink_plugin_name(entry.id)
        elif entry.id in loaded:
            if not entry.enabled:
                settings.disabled.add(entry.id)
        else:
            known = sorted({*sinks, *loaded} - {"agent_engine_core.builtins"})
            problem = (f"'{entry.id}' is neither a registered telemetry sink nor an installed plugin "
                       f"(available: {', '.join(known) or 'none installed'})")
            close = difflib.get_close_matches(entry.id, known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else distribution_hint("telemetry_sink", entry.id)
        seen.add(entry.id)
        if problem is not None:
            line, column = source.locate(["plugins", position, "id"])
            settings.issues.append(ManifestIssue(problem, file=source.file, line=line, column=column, hint=hint,
                                                 code="plugins.invalid"))
        elif entry.dispatch == "background":
            settings.dispatch[observer] = Dispatch(background=True, queue_size=entry.queue_size)
    return settings


def sink_plugin_name(name: str) -> str:
    """The plugin-manager name of sink ``name``: its distribution's entry point may already use ``name``."""
    return f"telemetry_sink:{name}"


def _start_sink(
    name: str, factory: Callable[..., object], config: Mapping[str, Any], project: Project, plugins: PluginSet
) -> str | None:
    """Build sink ``name`` and register it as an observer; the reason when it cannot start."""
    try:
        sink = factory(dict(config), project.base_dir)
        plugins.manager.register(sink, name=sink_plugin_name(name))
        plugins.sinks.append(sink)
    except Exception as exc:  # a sink's own validation of its config, or a bad plugin object
        return f"telemetry sink '{name}' could not start: {exc}"
    registration = next(p for p in plugins.loaded if f"telemetry_sink:{name}" in p.components)
    hooks = tuple(sorted(c.name for c in plugins.manager.get_hookcallers(sink) or ()))
    plugins.loaded.append(
        LoadedPlugin(sink_plugin_name(name), registration.distribution, registration.version, hooks, "plugins.yaml")
    )
    return None
