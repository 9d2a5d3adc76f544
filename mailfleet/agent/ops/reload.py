"""SIGHUP: read the config file again and hand the new settings to each part that can use them.

Routes, routing rules, destination limits, delivery settings, SMTP listeners and the log
level change without a restart and without touching queued mail. Parts that can apply new
settings register a hook, and optionally a check that runs before any hook does::

    reloader.register("intake", intake.reload, check=intake.check)
    # async def reload(settings) -> None; async def check(settings) -> None raises ConfigError

A config that does not load, whose routes cannot work, or that a check refuses is refused as a
whole: the agent keeps running on the settings it had and logs why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path

from mailfleet.agent.config import AgentSettings, load
from mailfleet.agent.errors import ConfigError
from mailfleet.agent.routes.base import RouteConfigError
from mailfleet.agent.routing.build import check_routes

log = logging.getLogger("mailfleet.agent.ops")

ReloadHook = Callable[[AgentSettings], Awaitable[None]]
# Raises ConfigError (saying what is wrong) for settings its part could not apply.
ReloadCheck = Callable[[AgentSettings], Awaitable[None]]

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
        self._checks: list[ReloadCheck] = []
        self.generation = 0

    def register(self, name: str, hook: ReloadHook, check: ReloadCheck | None = None) -> None:
        """Call ``hook`` with the new settings on every successful reload; ``check`` first
        (with every other check, before any hook) to refuse settings it cannot apply."""
        self._hooks.append((name, hook))
        if check is not None:
            self._checks.append(check)

    def add_check(self, check: ReloadCheck) -> None:
        """Run ``check`` on every reload's new settings, beside the registered parts' checks."""
        self._checks.append(check)

    async def reload(self) -> bool:
        """Load the config file again and apply it; False (and nothing changed) if it is bad."""
        if self._config_path is None:
            log.warning("reload asked for, but the agent was started without a config file")
            return False
        try:
            new = load(self._config_path)
            check_routes(new)
            for check in self._checks:
                await check(new)
        except (ConfigError, RouteConfigError) as exc:
            log.error("reload refused, still running on the previous settings: %s", exc)
            return False
        except Exception:
            log.exception("reload refused, still running on the previous settings")
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
