"""The routing table in force on this agent: the config's rules until an RPC replaces them.

Rules replaced over the API are kept in ``<data_dir>/routing.json`` (written atomically, mode
0600) and win over the config file's ``[routing]`` rules from then on, across restarts.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from mailfleet.agent.errors import ConfigError
from mailfleet.agent.routes.settings import RouteSettings, SplitRoute
from mailfleet.agent.routing.rules import RoutingTable, rule_name
from mailfleet.agent.routing.settings import RoutingInputs, RoutingRule

log = logging.getLogger("mailfleet.agent.routes")


class RulesError(ConfigError):
    """Rules that cannot work (an unknown route, a malformed pattern); the message says which."""


def check_table(table: RoutingTable, routes: Mapping[str, RouteSettings]) -> None:
    """Raise :class:`RulesError` unless every route the table names exists."""
    for index, rule in enumerate(table.rules):
        for field, name in (("route", rule.route), ("failover", rule.failover)):
            if name and name not in routes:
                raise RulesError(
                    f"rules[{index}].{field}: no route named {name!r} in "
                    f"{rule_name(rule, index)} (configured: {', '.join(sorted(routes)) or 'none'})"
                )
    if table.default_route not in routes:
        raise RulesError(
            f"delivery.default_route: no route named {table.default_route!r} "
            f"(configured: {', '.join(sorted(routes)) or 'none'})"
        )
    for name, config in routes.items():
        if isinstance(config, SplitRoute):
            for part in config.routes:
                if part not in routes:
                    raise RulesError(f"routes.{name}: no route named {part!r} to split over")
                if isinstance(routes[part], SplitRoute):
                    raise RulesError(f"routes.{name}: {part!r} is a split itself; name its routes")


def parse_rules(items: list[dict[str, object]]) -> tuple[RoutingRule, ...]:
    """Rules from plain data; raises :class:`RulesError` naming the first bad field."""
    rules = []
    for index, item in enumerate(items):
        try:
            rules.append(RoutingRule.model_validate(item))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise RulesError(f"rules[{index}].{where}: {problem['msg']}") from None
    return tuple(rules)


class RoutingState:
    """Holds the table the scheduler hands to workers; replaced atomically by the API."""

    def __init__(self, settings: RoutingInputs) -> None:
        self._routes = settings.routes
        self.pools = settings.ip_pools
        self._path = settings.data_dir / "routing.json"
        self.table = self._load(settings)
        check_table(self.table, self._routes)

    @property
    def routes(self) -> Mapping[str, RouteSettings]:
        """The configured routes by name."""
        return self._routes

    def _load(self, settings: RoutingInputs) -> RoutingTable:
        default = settings.delivery.default_route
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return RoutingTable(tuple(settings.routing.rules), default, 0)
        except OSError as exc:
            raise RulesError(f"cannot read {self._path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
            rules = parse_rules(data["rules"])
            version = int(data["version"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RulesError(f"{self._path}: {exc}") from None
        return RoutingTable(rules, default, version)

    def reload(self, settings: RoutingInputs) -> RoutingTable:
        """Take the routes and rules of reloaded settings (SIGHUP); raises :class:`RulesError`
        (and keeps the table it had) if the rules in force name a route that is gone.

        Rules set over the API (``routing.json``) stay in force; otherwise the config's
        ``[routing]`` rules do. A table whose rules changed gets a new version, so workers
        and API clients holding the old one see that it is stale.
        """
        table = self._load(settings)
        check_table(table, settings.routes)
        if self._path.exists() and tuple(settings.routing.rules) != table.rules:
            log.warning(
                "reload: the [routing] rules of the config are not in force: rules set over"
                " the API (%s) are",
                self._path,
            )
        same = (table.rules, table.default_route) == (self.table.rules, self.table.default_route)
        version = self.table.version if same else max(table.version, self.table.version + 1)
        self._routes = settings.routes
        self.pools = settings.ip_pools
        self.table = RoutingTable(table.rules, table.default_route, version)
        return self.table

    def replace(self, rules: tuple[RoutingRule, ...], expected_version: int | None) -> RoutingTable:
        """Put ``rules`` in force and on disk; raises :class:`RulesError` if they name unknown
        routes, and :class:`StaleVersion` if ``expected_version`` is not the current one."""
        if expected_version is not None and expected_version != self.table.version:
            raise StaleVersion(
                f"the rules are at version {self.table.version}, not {expected_version}"
            )
        table = RoutingTable(rules, self.table.default_route, self.table.version + 1)
        check_table(table, self._routes)
        data = {
            "version": table.version,
            "rules": [r.model_dump(exclude_defaults=True) for r in rules],
        }
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
        _fsync_dir(self._path.parent)
        self.table = table
        return table


class StaleVersion(RulesError):
    """The caller edited an older version of the rules than the one in force."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
