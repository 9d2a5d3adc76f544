"""The store is the only owner of SQL: no other agent module runs a statement, and the store's
own statements name message states by the enum, never by number."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

AGENT = Path(__file__).resolve().parents[3] / "mailfleet" / "agent"
_RUNS_SQL = {"execute", "executemany", "executescript"}
# `state = 2`, `state IN (1, 3)`, `state <> 4`: a number where MessageState belongs.
_STATE_LITERAL = re.compile(r"\bstate\s*(?:=|<>|!=|<|>|IN\s*\()\s*\d", re.IGNORECASE)


def sql_calls(source: str) -> Iterator[int]:
    """Lines that call ``execute``, ``executemany`` or ``executescript`` on anything."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _RUNS_SQL
        ):
            yield node.lineno


def state_literals(source: str) -> Iterator[int]:
    """Lines of string constants that compare ``state`` with a number."""
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _STATE_LITERAL.search(node.value)
        ):
            yield node.lineno


def _modules(*, in_store: bool) -> Iterator[Path]:
    for path in sorted(AGENT.rglob("*.py")):
        if (path.relative_to(AGENT).parts[0] == "store") == in_store:
            yield path


def test_the_checks_find_what_they_look_for() -> None:
    source = 'def f(c):\n    c.execute("SELECT 1")\n    c.execute("UPDATE m SET state = 2")\n'
    assert list(sql_calls(source)) == [2, 3]
    assert list(state_literals(source)) == [3]
    assert not list(state_literals('q = "SELECT id FROM m WHERE state = ?"'))


def test_no_agent_module_outside_the_store_runs_sql() -> None:
    found = [
        f"{path.relative_to(AGENT.parent)}:{line}"
        for path in _modules(in_store=False)
        for line in sql_calls(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_store_statements_name_states_by_the_enum() -> None:
    found = [
        f"{path.relative_to(AGENT.parent)}:{line}"
        for path in _modules(in_store=True)
        for line in state_literals(path.read_text(encoding="utf-8"))
    ]
    assert found == []
