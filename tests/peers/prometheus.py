"""A real Prometheus server (Debian's ``prometheus``) scraping targets on 127.0.0.1 every
second, and its query API."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from mailfleet.agent.client.localagent import free_port
from tests.peers import processes

SCRAPE_SECONDS = 1


class Prometheus:
    """``with Prometheus(["127.0.0.1:8480"]) as prom: prom.query("up")``."""

    def __init__(self, targets: list[str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="mailfleet-prometheus-")
        self.port = free_port()
        root = Path(self._dir.name)
        config = root / "prometheus.yml"
        config.write_text(
            json.dumps(  # JSON is YAML
                {
                    "global": {"scrape_interval": f"{SCRAPE_SECONDS}s"},
                    "scrape_configs": [
                        {"job_name": "mailfleet", "static_configs": [{"targets": targets}]}
                    ],
                }
            )
        )
        self._log = (root / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        processes.stop(self._proc, grace=30)
        self._log.close()
        self._dir.cleanup()

    def query(self, expr: str) -> dict[str, Any]:
        """The API's whole answer to an instant query (``status``, ``data`` or ``error``)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expr}
        )
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                answer: dict[str, Any] = json.load(reply)
        except urllib.error.HTTPError as refused:  # a bad query is answered 400 with a body
            answer = json.load(refused)
        return answer

    def wait_for_scrapes(self, count: int, timeout: float = 90.0) -> None:
        """Wait until every target has been scraped successfully ``count`` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with code {self._proc.returncode}")
            try:
                found = self.query("sum_over_time(up[5m])")["data"]["result"]
                if found and all(float(r["value"][1]) >= count for r in found):
                    return
            except (OSError, KeyError, ValueError):
                pass  # not listening yet, or not ready (503 with a text body)
            time.sleep(0.5)
        raise AssertionError(f"prometheus did not scrape its targets {count} times")
