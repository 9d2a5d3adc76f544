"""The Grafana dashboard's queries, run by a real Prometheus that scrapes a real agent: each
parses, and the agent-wide and per-worker panels draw data; ``promtool check metrics`` finds
nothing to say about the agent's /metrics."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.agent.telemetry.test_metrics import DASHBOARD, exposition
from tests.peers.agent import AgentProcess
from tests.peers.prometheus import Prometheus


def dashboard_queries() -> dict[str, list[str]]:
    """Each panel's queries as Grafana sends them: every agent, a 30 s rate window."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {
        p["title"]: [
            t["expr"].replace("$instance", ".*").replace("$__rate_interval", "30s")
            for t in p["targets"]
        ]
        for p in panels
    }


def series(answer: dict[str, Any]) -> list[dict[str, Any]]:
    assert answer["status"] == "success", answer
    found: list[dict[str, Any]] = answer["data"]["result"]
    return found


def test_promtool_finds_the_metrics_clean(agent_process: AgentProcess) -> None:
    check = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exposition(agent_process),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (check.returncode, check.stdout + check.stderr) == (0, "")


def test_every_dashboard_query_runs_on_a_real_prometheus(agent_process: AgentProcess) -> None:
    queries = dashboard_queries()
    with Prometheus([f"127.0.0.1:{agent_process.http_port}"]) as prom:
        # Enough samples for a rate over 30 s.
        prom.wait_for_scrapes(5)
        for exprs in queries.values():
            for expr in exprs:
                series(prom.query(expr))  # parses and runs
        (cpu, coordinator_cpu) = queries["Agent CPU: coordinator and workers"]
        (memory, coordinator, workers) = queries["Agent memory: coordinator and workers"]
        assert len(series(prom.query(cpu))) == len(series(prom.query(coordinator_cpu))) == 1
        assert len(series(prom.query(workers))) == len(agent_process.workers())
        total = float(series(prom.query(memory))[0]["value"][1])
        alone = float(series(prom.query(coordinator))[0]["value"][1])
        assert total > alone > 0
        (worker_cpu,) = queries["Worker CPU"]
        assert {s["metric"]["worker"] for s in series(prom.query(worker_cpu))} == {"0", "1"}
