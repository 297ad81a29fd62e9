"""The example Alertmanager routing: amtool checks, routing by severity, inhibition on a real server."""

from __future__ import annotations

import datetime
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.artifacts import ALERTMANAGER_CONFIG as CONFIG
from monitoring.notifications import Notifications, fast_config
from monitoring.servers import Server, running_alertmanager, wait_for
from support.binaries import find_binary

OBJECT = {
    "job": "anaplan",
    "instance": "exporter:10118",
    "workspace_id": "8a81b09d5e8c6f27015ece3402487d33",
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


def test_groups_by_alert_workspace_and_model() -> None:
    route = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["route"]
    assert set(route["group_by"]) == {"alertname", "workspace_id", "model_id"}


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


def test_groups_objects_of_a_model_together(tmp_path: Path) -> None:
    """Two failed objects of one model make one notification group; another model gets its own."""
    other_object = {**OBJECT, "object_id": "118000000003", "object_name": "Weekly load"}
    other_model = {**OBJECT, "model_id": "9B1C0A5E6F7D4E3C2B1A09F8E7D6C5B4", "model_name": "HR Plan"}
    failed = {"alertname": "AnaplanTaskFailed", "result": "failure", "severity": "critical"}
    with running_alertmanager(CONFIG, tmp_path) as server:
        post_alerts(server, [{**OBJECT, **failed}, {**other_object, **failed}, {**other_model, **failed}])

        def grouped() -> dict[str, list[str]] | None:
            groups: list[dict[str, Any]] = server.get_json("/api/v2/alerts/groups")
            found = {
                group["labels"]["model_id"]: sorted(alert["labels"]["object_id"] for alert in group["alerts"])
                for group in groups
            }
            return found if sum(map(len, found.values())) == 3 else None

        found = wait_for(grouped, 20, "the alerts in their groups")
    assert found == {
        OBJECT["model_id"]: ["118000000002", "118000000003"],
        other_model["model_id"]: ["118000000002"],
    }


def test_inhibitions(tmp_path: Path) -> None:
    """Exporter down (per job), refused logins and an unreachable Anaplan (per exporter) hold back the
    per-object alerts they explain, and the polling alerts of that exporter; a stuck run holds back its own
    slow-run alert, an object Anaplan does not confirm its own overdue alert; nothing else."""
    eu = {**OBJECT, "job": "anaplan-eu", "instance": "exporter-eu:10118"}
    eu_other_shard = {**OBJECT, "job": "anaplan-eu", "instance": "exporter-eu-1:10118"}
    us = {**OBJECT, "job": "anaplan-us", "instance": "exporter-us:10118"}
    stuck = {**OBJECT, "job": "anaplan-ap", "instance": "exporter-2:10118"}
    slow = {**OBJECT, "job": "anaplan-ap", "instance": "exporter-3:10118"}
    missing = {**OBJECT, "job": "anaplan-ap", "instance": "exporter-4:10118", "object_id": "118000000099"}
    overdue = {**OBJECT, "job": "anaplan-ap", "instance": "exporter-5:10118"}
    failed = {"alertname": "AnaplanTaskFailed", "result": "failure", "severity": "critical"}

    def exporter_wide(labels: dict[str, str], alertname: str, severity: str) -> dict[str, str]:
        return {
            "job": labels["job"],
            "instance": labels["instance"],
            "alertname": alertname,
            "severity": severity,
        }

    alerts = [
        {"alertname": "AnaplanExporterDown", "job": "anaplan", "severity": "critical"},
        {**OBJECT, **failed},
        exporter_wide(eu, "AnaplanAuthFailing", "critical"),
        {**eu, "alertname": "AnaplanTargetDown", "severity": "warning"},
        {**eu, "alertname": "AnaplanTaskOverdue", "severity": "warning"},
        exporter_wide(eu, "AnaplanPollStale", "warning"),
        {**eu_other_shard, **failed},
        exporter_wide(us, "AnaplanUnreachable", "critical"),
        {**us, **failed},
        {**us, "alertname": "AnaplanTaskStuck", "severity": "warning"},
        exporter_wide(us, "AnaplanPollingBehind", "warning"),
        {**stuck, "alertname": "AnaplanTaskStuck", "severity": "warning"},
        {**stuck, "alertname": "AnaplanTaskSlow", "severity": "warning"},
        {**slow, "alertname": "AnaplanTaskSlow", "severity": "warning"},
        {**missing, "alertname": "AnaplanTargetNotFound", "reason": "not_found", "severity": "warning"},
        {**missing, "alertname": "AnaplanTaskOverdue", "severity": "warning"},
        {**overdue, "alertname": "AnaplanTaskOverdue", "severity": "warning"},
    ]
    expected = {
        ("AnaplanExporterDown", "anaplan"): "active",
        ("AnaplanTaskFailed", "exporter:10118"): "suppressed",  # exporter down on the same job
        ("AnaplanAuthFailing", "exporter-eu:10118"): "active",
        ("AnaplanTargetDown", "exporter-eu:10118"): "suppressed",  # explained by the refused login
        ("AnaplanTaskOverdue", "exporter-eu:10118"): "suppressed",
        ("AnaplanPollStale", "exporter-eu:10118"): "suppressed",
        ("AnaplanTaskFailed", "exporter-eu-1:10118"): "active",  # another shard of that job logs in fine
        ("AnaplanUnreachable", "exporter-us:10118"): "active",
        ("AnaplanTaskFailed", "exporter-us:10118"): "suppressed",  # explained by the unreachable tenant
        ("AnaplanTaskStuck", "exporter-us:10118"): "suppressed",
        ("AnaplanPollingBehind", "exporter-us:10118"): "suppressed",
        ("AnaplanTaskStuck", "exporter-2:10118"): "active",
        ("AnaplanTaskSlow", "exporter-2:10118"): "suppressed",  # the same run is stuck
        ("AnaplanTaskSlow", "exporter-3:10118"): "active",
        ("AnaplanTargetNotFound", "exporter-4:10118"): "active",
        ("AnaplanTaskOverdue", "exporter-4:10118"): "suppressed",  # it lists no run: not found says why
        ("AnaplanTaskOverdue", "exporter-5:10118"): "active",
    }
    suppressed = [key for key, state in expected.items() if state == "suppressed"]

    def settled(server: Server) -> dict[tuple[str, str], str] | None:
        # Inhibitions are computed asynchronously: wait until every alert is in and the inhibitions show.
        found = states(server)
        if len(found) < len(alerts) or any(found.get(key) != "suppressed" for key in suppressed):
            return None
        return found

    with running_alertmanager(CONFIG, tmp_path) as server:
        post_alerts(server, alerts)
        found = wait_for(lambda: settled(server), 20, "the alerts and their inhibitions")
    assert found == expected


def test_cloudworks_failures_notify_once(tmp_path: Path) -> None:
    """A CloudWorks run that also failed its Anaplan task is one notification (the CloudWorks one), and so is
    a flow failed at a step whose integration and task failed too; unrelated task failures still notify."""
    linked = {**OBJECT}  # "Nightly load", run by the integration "Nightly S3 load"
    export = {**OBJECT, "object_type": "export", "object_id": "116000000002", "object_name": "Sales export"}
    unrelated = {**OBJECT, "object_id": "118000000003", "object_name": "Weekly load"}
    ids = {key: OBJECT[key] for key in ("job", "instance", "workspace_id", "model_id")}
    task_failed = {"alertname": "AnaplanTaskFailed", "result": "failure", "severity": "critical"}
    run_failed = {
        **ids,
        "alertname": "AnaplanCloudWorksRunFailed",
        "kind": "integration",
        "result": "failure",
        "severity": "critical",
    }
    integration = {
        **run_failed,
        "cloudworks_id": "4a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "cloudworks_name": "Nightly S3 load",
        "integration_id": "4a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "type": "Process",
        "object_id": linked["object_id"],
    }
    step_integration = {
        **run_failed,
        "cloudworks_id": "5b2c3d4e5f60718293a4b5c6d7e8f90a",
        "cloudworks_name": "P&L to S3",
        "integration_id": "5b2c3d4e5f60718293a4b5c6d7e8f90a",
        "type": "Export",
        "object_id": export["object_id"],
        "instance": "exporter-cw:10118",  # another shard reads CloudWorks: the task is matched all the same
    }
    flow = {
        **ids,
        "alertname": "AnaplanCloudWorksFlowFailed",
        "kind": "flow",
        "cloudworks_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "cloudworks_name": "Month-end close",
        "step": "2",
        "step_name": "P&L to S3",
        "integration_id": "5b2c3d4e5f60718293a4b5c6d7e8f90a",
        "object_id": export["object_id"],
        "result": "failure",
        "severity": "critical",
        "instance": "exporter-cw:10118",
    }
    alerts = [
        integration,
        {**linked, **task_failed},
        flow,
        step_integration,
        {**export, **task_failed},
        {**unrelated, **task_failed},
    ]
    catcher = Notifications()
    try:
        with running_alertmanager(fast_config(tmp_path, catcher.url), tmp_path) as server:
            post_alerts(server, alerts)

            def notified() -> list[dict[str, str]] | None:
                found = catcher.alerts()
                return found if len(found) >= 3 else None

            wait_for(notified, 30, "three notified alerts")
            time.sleep(5)  # longer than group_wait: anything held back would have been sent by now
            sent = catcher.alerts()
            held: list[dict[str, Any]] = server.get_json("/api/v2/alerts")
    finally:
        catcher.close()
    assert sorted((labels["alertname"], labels["object_id"]) for labels in sent) == [
        ("AnaplanCloudWorksFlowFailed", export["object_id"]),
        ("AnaplanCloudWorksRunFailed", linked["object_id"]),
        ("AnaplanTaskFailed", unrelated["object_id"]),
    ], "one notification per failed run"
    assert {message["receiver"] for message in catcher.received} == {"pager"}
    suppressed = sorted(
        (alert["labels"]["alertname"], alert["labels"]["object_id"])
        for alert in held
        if alert["status"]["state"] == "suppressed"
    )
    assert suppressed == [
        ("AnaplanCloudWorksRunFailed", export["object_id"]),  # the flow's failed step
        ("AnaplanTaskFailed", export["object_id"]),
        ("AnaplanTaskFailed", linked["object_id"]),
    ]
