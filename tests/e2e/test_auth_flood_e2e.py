"""A basic-auth flood against the real exporter process: 250 clients with wrong passwords in a loop while
Prometheus, with the right password, scrapes every 200 ms. The scrapes keep being answered, and the
exporter says at warn level what it turned away."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import auth_flood
from support.exporter import running_exporter, simulator_config
from support.net import http_get
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

PASSWORD = "scrape-me"
ATTACKERS = 250
FLOOD_SECONDS = 8.0
SCRAPE_TIMEOUT = 3.0

SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "name": "Flood Workspace",
            "models": [
                {
                    "name": "Flood Model",
                    "imports": [{"id": "112000000001", "name": "Daily", "every": 60, "duration": 5}],
                }
            ],
        }
    ],
}


def test_scrapes_with_the_right_password_are_served_during_an_auth_flood(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=10)).decode()  # htpasswd -C 10
    web_config = tmp_path / "web.yml"
    web_config.write_text(f"basic_auth_users:\n  {auth_flood.USER}: '{hashed}'\n")
    token = base64.b64encode(f"{auth_flood.USER}:{PASSWORD}".encode()).decode()
    good = {"Authorization": f"Basic {token}"}
    with running_simulator(SCENARIO, tmp_path) as sim:
        config = simulator_config(
            sim.url, targets=[{"workspace": "Flood Workspace", "model": "Flood Model", "imports": "*"}]
        )
        with running_exporter(
            config, tmp_path, "--web.config.file", str(web_config), ready_headers=good
        ) as exporter:
            port = int(exporter.url.rsplit(":", 1)[1])
            assert http_get(exporter.url + "/metrics", headers=good)[0] == 200  # scraped before the flood
            flood = subprocess.Popen(
                [sys.executable, auth_flood.__file__, str(port), str(ATTACKERS), str(FLOOD_SECONDS)],
                stdout=subprocess.PIPE,
                text=True,
            )
            statuses: list[int] = []
            latencies: list[float] = []
            try:
                time.sleep(1.0)  # let the flood build up
                end = time.monotonic() + FLOOD_SECONDS - 1.0 - SCRAPE_TIMEOUT
                while time.monotonic() < end:
                    began = time.monotonic()
                    try:
                        answer = http_get(exporter.url + "/metrics", timeout=SCRAPE_TIMEOUT, headers=good)
                        statuses.append(answer[0])
                    except OSError:
                        statuses.append(0)
                    latencies.append(time.monotonic() - began)
                    time.sleep(max(0.0, 0.2 - latencies[-1]))
                answers = json.loads(flood.communicate(timeout=30)[0])
            finally:
                if flood.poll() is None:
                    flood.kill()
                    flood.wait()
            status, metrics = http_get(exporter.url + "/metrics", headers=good)
            logs = exporter.logs()
    assert status == 200
    served = statuses.count(200)
    print(
        f"authenticated scrapes: {served}/{len(statuses)} answered 200 (slowest {max(latencies):.2f} s, "
        f"median {sorted(latencies)[len(latencies) // 2]:.2f} s); flood answers: {answers}"
    )
    assert sum(answers.values()) >= ATTACKERS, answers  # the flood did run
    assert served >= 0.95 * len(statuses), statuses
    assert len(statuses) >= 10, statuses
    warn = [line for line in logs.splitlines() if "level=warn" in line and "basic-auth" in line]
    assert len(warn) == 1, logs[-3000:]  # one line a minute at most
    counts = re.search(r"refused (\d+) requests .* \(401\), (\d+) .* \(429\), (\d+) .* \(503\)", warn[0])
    assert counts and int(counts[1]) >= 10 and int(counts[2]) >= 100, warn
    refused = {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "anaplan_exporter_web_requests_refused_total"
    }
    assert refused["bad_credentials"] >= int(counts[1]) and refused["rate_limited"] >= int(counts[2]), refused
    assert PASSWORD not in logs and token not in logs
