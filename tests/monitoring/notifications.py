"""A webhook catcher for Alertmanager's notifications, and the example Alertmanager configuration pointed at
it, for the monitoring tests that follow an alert to its notification."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path
from typing import Any

import yaml

from monitoring.artifacts import ALERTMANAGER_CONFIG as CONFIG


class Notifications:
    """A webhook receiver on a loopback port that keeps every notification Alertmanager sends it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self) -> list[dict[str, str]]:
        """The labels of every alert in every notification, once per notification it was in."""
        return [alert["labels"] for message in self.received for alert in message["alerts"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fast_config(tmp_path: Path, url: str) -> Path:
    """The example configuration with every receiver sent to ``url`` and a short group_wait."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["route"]["group_wait"] = "2s"
    for receiver in config["receivers"]:
        for webhook in receiver["webhook_configs"]:
            webhook["url"] = url + receiver["name"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path
