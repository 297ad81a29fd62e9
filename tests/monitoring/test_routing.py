"""The example Alertmanager routing: amtool checks, routing by severity, inhibition on a real server."""

from __future__ import annotations

import datetime
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.artifacts import ALERTMANAGER_CONFIG as CONFIG
from monitoring.servers import Server, running_alertmanager, wait_for
from support.binaries import find_binary

OBJECT = {
    "job": "anaplan",
    "instance": "exporter:10118",
    "workspace_name": "Finance",
    "model_id": "75A40874E6B64FA3AE0743278996850F",
    "model_name": "FP&A Plan",
    "object_type": "process",
    "object_id": "118000000002",
    "object_name": "Nightly load",
}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_binary("amtool")), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_amtool_accepts_the_config() -> None:
    done = amtool("check-config", str(CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize(
    ("severity", "receiver"), [("critical", "pager"), ("warning", "team"), ("info", "low-priority")]
)
def test_routes_by_severity(severity: str, receiver: str) -> None:
    labels = [
        f"{key}={value}" for key, value in {**OBJECT, "alertname": "AnaplanX", "severity": severity}.items()
    ]
    done = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}", *labels
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [receiver]


def test_groups_by_alert_and_object() -> None:
    route = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["route"]
    assert set(route["group_by"]) == {"alertname", "model_id", "object_id"}


def post_alerts(server: Server, alerts: list[dict[str, str]]) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    body = [
        {
            "labels": labels,
            "startsAt": now.isoformat(),
            "endsAt": (now + datetime.timedelta(hours=1)).isoformat(),
        }
        for labels in alerts
    ]
    request = urllib.request.Request(
        server.url + "/api/v2/alerts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def states(server: Server) -> dict[tuple[str, str], str]:
    """(alertname, job or instance) -> Alertmanager's state of that alert."""
    found: list[dict[str, Any]] = server.get_json("/api/v2/alerts")
    return {
        (alert["labels"]["alertname"], alert["labels"].get("instance", alert["labels"]["job"])): alert[
            "status"
        ]["state"]
        for alert in found
    }


def test_inhibitions(tmp_path: Path) -> None:
    other = {**OBJECT, "job": "anaplan-eu", "instance": "exporter-eu:10118"}
    alerts = [
        {"alertname": "AnaplanExporterDown", "job": "anaplan", "severity": "critical"},
        {**OBJECT, "alertname": "AnaplanTaskFailed", "result": "failure", "severity": "critical"},
        {**other, "alertname": "AnaplanTaskFailed", "result": "failure", "severity": "critical"},
        {
            "alertname": "AnaplanAuthFailing",
            "job": "anaplan-eu",
            "instance": "exporter-eu:10118",
            "severity": "critical",
        },
        {**other, "alertname": "AnaplanTargetDown", "severity": "warning"},
    ]
    expected_suppressed = [
        ("AnaplanTaskFailed", "exporter:10118"),
        ("AnaplanTargetDown", "exporter-eu:10118"),
    ]

    def settled(server: Server) -> dict[tuple[str, str], str] | None:
        # Inhibitions are computed asynchronously: wait until every alert is in and the inhibitions show.
        found = states(server)
        if len(found) < len(alerts) or any(found[key] != "suppressed" for key in expected_suppressed):
            return None
        return found

    with running_alertmanager(CONFIG, tmp_path) as server:
        post_alerts(server, alerts)
        found = wait_for(lambda: settled(server), 20, "the alerts and their inhibitions")
    assert found == {
        ("AnaplanExporterDown", "anaplan"): "active",
        ("AnaplanTaskFailed", "exporter:10118"): "suppressed",  # exporter down on the same job
        ("AnaplanTaskFailed", "exporter-eu:10118"): "active",  # another job's exporter is fine
        ("AnaplanAuthFailing", "exporter-eu:10118"): "active",
        ("AnaplanTargetDown", "exporter-eu:10118"): "suppressed",  # explained by the failing login
    }
