"""SIGHUP: read the config file again and hand the new settings to each part that can use them.

Routes, destination limits, delivery settings and the log level change without a restart and
without touching queued mail. Parts that own listeners (e.g. SMTP intake) register a hook::

    reloader.register("intake", intake.reload)   # async def reload(settings) -> None

A config that does not load, or whose routes cannot work, is refused as a whole: the agent
keeps running on the settings it had and logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

from agent.config import AgentSettings, ConfigError, load
from agent.routes.base import RouteConfigError
from agent.routes.factory import check_routes

log = logging.getLogger("mailfleet.agent.ops")

ReloadHook = Callable[[AgentSettings], Awaitable[None]]

# Settings bound at start-up: a change is reported, and applied at the next restart.
_RESTART_ONLY = ("data_dir", "grpc", "http")
# Sections whose owner applies changes through a hook of the same name, once it registers one.
_HOOKED = ("intake",)


def restart_only_changes(
    old: AgentSettings, new: AgentSettings, hooked: Collection[str] = ()
) -> list[str]:
    """Names of the changed settings that only a restart applies (``hooked``: sections a
    registered hook applies)."""
    names = [*_RESTART_ONLY, *(n for n in _HOOKED if n not in hooked and hasattr(old, n))]
    return [name for name in names if getattr(old, name) != getattr(new, name)]


class Reloader:
    """Owns the current settings; ``reload`` replaces them on SIGHUP."""

    def __init__(self, settings: AgentSettings, config_path: Path | None) -> None:
        self.settings = settings
        self._config_path = config_path
        self._hooks: list[tuple[str, ReloadHook]] = []
        self.generation = 0

    def register(self, name: str, hook: ReloadHook) -> None:
        """Call ``hook`` with the new settings on every successful reload."""
        self._hooks.append((name, hook))

    async def reload(self) -> bool:
        """Load the config file again and apply it; False (and nothing changed) if it is bad."""
        if self._config_path is None:
            log.warning("reload asked for, but the agent was started without a config file")
            return False
        try:
            new = load(self._config_path)
            check_routes(new)
        except (ConfigError, RouteConfigError) as exc:
            log.error("reload refused, still running on the previous settings: %s", exc)
            return False
        hooked = {name for name, _ in self._hooks}
        for name in restart_only_changes(self.settings, new, hooked):
            log.warning("reload: [%s] changed; it takes effect at the next restart", name)
        logging.getLogger().setLevel(new.log.level.upper())
        for name, hook in self._hooks:
            try:
                await hook(new)
            except Exception:
                log.exception("reload: %s failed to apply the new settings", name)
        self.settings = new
        self.generation += 1
        log.info("reloaded %s (generation %d)", self._config_path, self.generation)
        return True
