"""End to end across a restart: a run fails while the exporter is stopped; after it comes back (with its
state file) the failure is counted once and AnaplanTaskFailed reaches Alertmanager, once.

Real processes throughout: the simulator, the exporter (stopped and started again on the same address),
Prometheus with the shipped rules, Alertmanager with the shipped routing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.artifacts import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, RULES
from monitoring.servers import Server, running_alertmanager, running_exporter, running_prometheus, wait_for
from support.net import free_port, http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

IMPORT = "112000000007"
EVERY, OFFSET = 30.0, 20.0
SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "name": "Restart Workspace",
            "models": [
                {
                    "name": "Restart Model",
                    "imports": [
                        {
                            "id": IMPORT,
                            "name": "Sales",
                            "every": EVERY,
                            "offset": OFFSET,
                            "duration": 1,
                            # Run 0 (at 20 s) succeeds while the exporter watches; run 1 (at 50 s) fails
                            # while it is stopped. The history before them failed too: never paged.
                            "outcomes": ["success", "failure"],
                            "history": 3,
                        }
                    ],
                }
            ],
        }
    ],
}


def exporter_config(sim: SimulatorHandle, state: Path) -> dict[str, Any]:
    return {
        "anaplan": {
            "api_url": f"{sim.url}/2/0",
            "auth_url": sim.url,
            "oauth_url": sim.url,
            "auth": {"method": "basic", "username": "demo@example.com", "password": "demo"},
        },
        "polling": {"idle_interval": 1, "active_interval": 5},
        "state": {"path": str(state), "save_interval": 1},
        "cloudworks": {"enabled": False},
        "targets": [{"workspace": "Restart Workspace", "model": "Restart Model", "imports": "*"}],
    }


def prometheus_config(exporter: str, alertmanager: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [exporter]}])
    return config


def failures_counted(exporter: Server) -> float | None:
    _, body = http_get(exporter.url + "/metrics")
    for line in body.splitlines():
        if line.startswith("anaplan_task_completions_total{") and 'result="failure"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def live_runs(sim: SimulatorHandle, outcome: str) -> list[dict[str, Any]]:
    return [t for t in sim.ground_truth() if not t["history"] and t["outcome"] == outcome]


def firing(manager: Server) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = manager.get_json("/api/v2/alerts", filter='alertname="AnaplanTaskFailed"')
    return [a for a in alerts if a["status"]["state"] == "active"]


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    wait_for(lambda: check() or None, timeout, what)


def test_a_failure_while_the_exporter_is_stopped_pages_once_after_the_restart(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("anaplan-exporter")
    port = free_port()
    state = tmp_path / "state.json"
    with running_simulator(SCENARIO, tmp_path) as sim:
        config = tmp_path / "exporter.yml"
        config.write_text(yaml.safe_dump(exporter_config(sim, state)), encoding="utf-8")
        with (
            running_alertmanager(ALERTMANAGER_CONFIG, tmp_path) as manager,
            running_prometheus(
                prometheus_config(f"127.0.0.1:{port}", manager.url.split("://")[1]), tmp_path
            ) as prometheus,
        ):
            with running_exporter(script, config, tmp_path, port) as exporter:
                until(lambda: bool(live_runs(sim, "success")), OFFSET + 10, "the first live run")
                time.sleep(3)  # seen, scraped and saved
                assert failures_counted(exporter) == 0  # the failed history is never counted
            assert not firing(manager), "the history paged"

            until(lambda: bool(live_runs(sim, "failure")), EVERY + 10, "a failure while the exporter is down")
            with running_exporter(script, config, tmp_path, port) as exporter:
                until(lambda: failures_counted(exporter) == 1, 30, "the failure counted after the restart")
                try:
                    alerts = wait_for(lambda: firing(manager), 60, "AnaplanTaskFailed in Alertmanager")
                except AssertionError:
                    raise AssertionError(f"{prometheus.logs()[-2000:]}\n{manager.logs()[-2000:]}") from None
                time.sleep(3)
                assert len(firing(manager)) == 1
                assert failures_counted(exporter) == 1
    (alert,) = alerts
    assert alert["labels"]["object_id"] == IMPORT and alert["labels"]["result"] == "failure"
