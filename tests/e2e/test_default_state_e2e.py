"""A pip-style install pages a failure that happened during a restart in its first minutes: with no ``state:``
key in the configuration the exporter keeps its state file at the default path, so the run that failed while
it was stopped is counted once when it comes back and AnaplanTaskFailed reaches the pager's webhook once.

Without a state file the restarted exporter would take that run as history, and the rule's other arm needs
15 minutes of Prometheus history of the object: the failure would never page. Real processes throughout:
the simulator, the installed ``anaplan-exporter`` script (stopped and started again on the same address,
with HOME pointed at a temporary folder and no XDG_STATE_HOME), Prometheus with the shipped rules,
Alertmanager with the shipped routing, its receivers' URLs pointed at a webhook served by the test.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.artifacts import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, RULES
from monitoring.servers import Server, running_alertmanager, running_exporter, running_prometheus, wait_for
from support.net import free_port, http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

IMPORT = "112000000007"
EVERY, OFFSET = 30.0, 20.0
SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "name": "Default State Workspace",
            "models": [
                {
                    "name": "Default State Model",
                    "imports": [
                        {
                            "id": IMPORT,
                            "name": "Sales",
                            "every": EVERY,
                            "offset": OFFSET,
                            "duration": 1,
                            # Run 0 (20 s after the start) succeeds while the exporter watches; run 1 (at
                            # 50 s) fails while it is stopped. The history before them failed: never paged.
                            "outcomes": ["success", "failure"],
                            "history": 3,
                        }
                    ],
                }
            ],
        }
    ],
}


class Webhook:
    """Alertmanager's notifications, as its webhook receivers POST them."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.url = ""

    def failed(self) -> list[dict[str, Any]]:
        """Notifications that carry AnaplanTaskFailed."""
        return [n for n in self.notifications if n["groupLabels"].get("alertname") == "AnaplanTaskFailed"]


@contextmanager
def serving_webhook() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.notifications.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def alertmanager_config(webhook: str, folder: Path) -> Path:
    """The shipped routing with every receiver posting to ``webhook``, and a group_wait of 1 s."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    config["route"]["group_wait"] = "1s"
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = webhook
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def prometheus_config(exporter: str, alertmanager: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [exporter]}])
    return config


def exporter_config(sim: SimulatorHandle) -> dict[str, Any]:
    """What a new user writes: no ``state:`` key."""
    return {
        "anaplan": {
            "api_url": f"{sim.url}/2/0",
            "auth_url": sim.url,
            "oauth_url": sim.url,
            "auth": {"method": "basic", "username": "demo@example.com", "password": "demo"},
        },
        "polling": {"idle_interval": 1, "active_interval": 5},
        "targets": [{"workspace": "Default State Workspace", "model": "Default State Model", "imports": "*"}],
    }


def failures_counted(exporter: Server) -> float | None:
    _, body = http_get(exporter.url + "/metrics")
    for line in body.splitlines():
        if line.startswith("anaplan_task_completions_total{") and 'result="failure"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def live_runs(sim: SimulatorHandle, outcome: str) -> list[dict[str, Any]]:
    return [t for t in sim.ground_truth() if not t["history"] and t["outcome"] == outcome]


def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    wait_for(lambda: check() or None, timeout, what)


def test_a_failure_during_a_restart_in_the_first_minutes_pages_once_without_a_state_key(
    tmp_path: Path,
) -> None:
    script = Path(sys.executable).with_name("anaplan-exporter")  # the console script pip installs
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_STATE_HOME", "ANAPLAN_EXPORTER_STATE_PATH")}
    env["HOME"] = str(home)
    state = home / ".local" / "state" / "anaplan-exporter" / "state.json"
    port = free_port()
    with running_simulator(SCENARIO, tmp_path) as sim:
        config = tmp_path / "exporter.yml"
        config.write_text(yaml.safe_dump(exporter_config(sim)), encoding="utf-8")
        assert "state" not in yaml.safe_load(config.read_text())
        with (
            serving_webhook() as webhook,
            running_alertmanager(alertmanager_config(webhook.url, tmp_path), tmp_path) as manager,
            running_prometheus(
                prometheus_config(f"127.0.0.1:{port}", manager.url.split("://")[1]), tmp_path
            ) as prometheus,
        ):
            with running_exporter(script, config, tmp_path, port, env) as exporter:
                until(lambda: bool(live_runs(sim, "success")), OFFSET + 15, "the first live run")
                until(state.is_file, 10, f"the state file at the default path {state}")
                time.sleep(3)  # seen, scraped and saved
                assert failures_counted(exporter) == 0  # the failed history is never counted
                first_log = exporter.logs()
            assert "state file" in first_log and str(state) in first_log
            assert not webhook.failed(), "the history paged"

            until(lambda: bool(live_runs(sim, "failure")), EVERY + 15, "a failure while the exporter is down")
            with running_exporter(script, config, tmp_path, port, env) as exporter:
                until(lambda: failures_counted(exporter) == 1, 30, "the failure counted after the restart")
                try:
                    wait_for(webhook.failed, 60, "AnaplanTaskFailed at the pager's webhook")
                except AssertionError:
                    raise AssertionError(f"{prometheus.logs()[-2000:]}\n{manager.logs()[-2000:]}") from None
                time.sleep(8)  # Prometheus resends every second: Alertmanager must not notify again
                assert failures_counted(exporter) == 1
    (notification,) = webhook.failed()
    assert (notification["receiver"], notification["status"]) == ("pager", "firing")
    (alert,) = notification["alerts"]
    assert alert["labels"]["object_id"] == IMPORT and alert["labels"]["result"] == "failure"
    assert (state.parent.stat().st_mode & 0o777) == 0o700
    saved = json.loads(state.read_text())["objects"]
    assert [key.rsplit("/", 1)[1] for key in saved] == [IMPORT]
