"""Load plugins into one engine's plugin manager: built-ins, entry points, explicit objects.

Entry points of the ``agent_engine`` group load in sorted (distribution, name) order, each inside its own
guard: a plugin that fails to import, fails hookspec validation, or raises in a registration hook is recorded
with its distribution and the reason, and skipped. ``AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD=1`` turns discovery
off; ``AGENT_ENGINE_LOAD_PLUGINS=a,b`` keeps only the named entry points (or distributions).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pluggy

from agent_engine_core import hookspecs
from agent_engine_core._build.components import CORE_DISTRIBUTION, Components
from agent_engine_core._logging import get_logger
from agent_engine_core._version import __version__
from agent_engine_core.errors import PluginError

if TYPE_CHECKING:
    import importlib.metadata

__all__ = ["LoadedPlugin", "PluginFailure", "PluginSet", "load_plugins"]

log = get_logger(__name__)

ENTRY_POINT_GROUP = "agent_engine"
DISABLE_AUTOLOAD = "AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD"
LOAD_ONLY = "AGENT_ENGINE_LOAD_PLUGINS"


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A plugin registered with the engine, where it came from and what it provides."""

    name: str
    distribution: str
    version: str | None
    hooks: tuple[str, ...]
    source: str
    components: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PluginFailure:
    """A plugin that was skipped, and why."""

    name: str
    distribution: str | None
    reason: str


@dataclass(slots=True)
class PluginSet:
    """The outcome of loading: the plugin manager, what loaded, what failed."""

    manager: pluggy.PluginManager
    loaded: list[LoadedPlugin] = field(default_factory=list)
    failed: list[PluginFailure] = field(default_factory=list)
    sinks: list[object] = field(default_factory=list)

    def skip(self, failure: PluginFailure) -> None:
        """Record a plugin that could not load, and warn: an operator must see that it is not active."""
        self.failed.append(failure)
        log.warning(
            "plugin skipped", plugin=failure.name, distribution=failure.distribution, reason=failure.reason
        )

    def close_sinks(self) -> None:
        """Call ``close()`` on every started telemetry sink that has one (files, servers, exporters)."""
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                close()
        self.sinks.clear()


def load_plugins(components: Components, explicit: Sequence[object] = ()) -> PluginSet:
    """A plugin manager with the built-ins, discovered entry points and ``explicit`` plugins registered.

    Registration hooks run here, per plugin, so each component is recorded with its distribution.
    """
    from agent_engine_core._plugins import builtins  # noqa: PLC0415 - the built-ins import the core's own modules

    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    plugins = PluginSet(manager)
    _register(plugins, components, builtins, "agent_engine_core.builtins", CORE_DISTRIBUTION, __version__, "core")
    for entry_point in _entry_points():
        dist = entry_point.dist
        distribution = dist.name if dist is not None else entry_point.value
        version = dist.version if dist is not None else None
        try:
            plugin = entry_point.load()
        except Exception as exc:  # any import-time error of third-party code is reported, never fatal
            plugins.skip(PluginFailure(entry_point.name, distribution, f"import failed: {exc!r}"))
            continue
        _register(plugins, components, plugin, entry_point.name, distribution, version, "entry point")
    for index, plugin in enumerate(explicit):
        name = _explicit_name(plugin, index, {p.name for p in plugins.loaded})
        _register(plugins, components, plugin, name, _distribution_of(plugin), None, "explicit")
    return plugins


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    if os.environ.get(DISABLE_AUTOLOAD, "").strip() not in ("", "0"):
        return []
    import importlib.metadata  # noqa: PLC0415 - ~20 ms, paid by the first engine, not by the import

    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    allowed = {n.strip() for n in os.environ.get(LOAD_ONLY, "").split(",") if n.strip()}
    chosen = [
        ep for ep in found
        if not allowed or ep.name in allowed or (ep.dist is not None and ep.dist.name in allowed)
    ]
    unique = {(ep.dist.name if ep.dist else "", ep.name): ep for ep in chosen}
    return [unique[key] for key in sorted(unique)]


def _register(
    plugins: PluginSet, components: Components, plugin: object, name: str, distribution: str,
    version: str | None, source: str,
) -> None:
    manager = plugins.manager
    try:
        manager.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:  # a name clash, or arguments no hookspec has
        plugins.skip(PluginFailure(name, distribution, f"does not match the hookspecs: {exc}"))
        return
    callers = manager.get_hookcallers(plugin) or []
    unknown = sorted(caller.name for caller in callers if caller.spec is None)
    if unknown:
        manager.unregister(plugin)
        plugins.skip(PluginFailure(name, distribution, f"implements unknown hooks: {', '.join(unknown)}"))
        return
    registered: list[str] = []
    try:
        for caller in callers:
            if caller.name in hookspecs.REGISTRATION_HOOKS:
                register = components.registrar(caller.name, distribution, registered)
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(**({"register": register} if "register" in impl.argnames else {}))
    except PluginError:
        raise
    except Exception as exc:  # a registration hook that crashes takes only its own plugin down
        manager.unregister(plugin)
        components.forget(registered)
        plugins.skip(PluginFailure(name, distribution, f"registration failed: {exc!r}"))
        return
    hooks = tuple(sorted(caller.name for caller in callers))
    plugins.loaded.append(LoadedPlugin(name, distribution, version, hooks, source, tuple(registered)))


def _explicit_name(plugin: object, index: int, taken: set[str]) -> str:
    """A plugin object's own ``name`` or ``__name__``, else its class name; ``-<index>`` only when taken.

    This is the id plugins.yaml uses to configure the plugin (for example ``dispatch: background``).
    """
    name = getattr(plugin, "name", None) or getattr(plugin, "__name__", None) or type(plugin).__name__
    name = str(name)
    return name if name not in taken else f"{name}-{index}"


def _distribution_of(plugin: object) -> str:
    """The distribution that ships ``plugin``'s top-level package (the package name when none does)."""
    module = getattr(plugin, "__module__", None) or getattr(plugin, "__name__", "") or ""
    top = str(module).split(".")[0]
    import importlib.metadata  # noqa: PLC0415 - see _entry_points

    return importlib.metadata.packages_distributions().get(top, [top or "unknown"])[0]
