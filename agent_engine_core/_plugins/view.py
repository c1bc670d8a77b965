"""What an engine says of its plugins, read-only: the live ``PluginSet`` and pluggy manager stay the engine's own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy

    from agent_engine_core._plugins.loader import LoadedPlugin, PluginFailure, PluginSet

__all__ = ["ManagerView", "PluginsView"]


class ManagerView:
    """The read side of an engine's plugin manager: the plugin objects (which are their authors', not a view)."""

    __slots__ = ("_manager",)

    def __init__(self, manager: pluggy.PluginManager) -> None:
        self._manager = manager

    def get_plugins(self) -> frozenset[object]:
        """Every registered plugin object."""
        return frozenset(self._manager.get_plugins())

    def get_plugin(self, name: str) -> object | None:
        """The plugin registered as ``name``, if any."""
        return self._manager.get_plugin(name)


@dataclass(frozen=True, slots=True)
class PluginsView:
    """The plugins an engine loaded and the ones it skipped (with why), as they were when it was built."""

    loaded: tuple[LoadedPlugin, ...]
    failed: tuple[PluginFailure, ...]
    manager: ManagerView

    @classmethod
    def of(cls, plugins: PluginSet) -> PluginsView:
        """A snapshot of ``plugins`` once loading and plugins.yaml are done."""
        return cls(tuple(plugins.loaded), tuple(plugins.failed), ManagerView(plugins.manager))
