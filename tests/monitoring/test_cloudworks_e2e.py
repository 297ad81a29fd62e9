"""CloudWorks end to end: the simulator serving CloudWorks, two real exporters, a real Prometheus with the
shipped rules and a real Alertmanager with the shipped routing, notifying a webhook catcher.

- A manual run whose S3 file is missing fails before Anaplan has a task: AnaplanCloudWorksRunFailed is
  notified once, and no AnaplanTaskFailed (there is no task).
- A flow that failed at its second step names that step and the steps that did not run; that step's own
  integration run failed too, and the Anaplan export it ran: one notification all the same, the flow's
  (the step's run and task alerts fire 3 minutes after the failure and are held back by Alertmanager).
- Overdue, from the schedule and relative to the real clock (any day of the week): a daily integration that
  missed today's slot pages; one whose days leave out today and yesterday, and which ran on its last day,
  does not. The rule compares with what the exporter said 75 minutes ago, and waits 5 minutes: Prometheus
  starts with two hours of that exporter's CloudWorks series backfilled (``promtool tsdb
  create-blocks-from openmetrics``), the values the exporter shows now, since no slot of either schedule
  falls in those hours; and with the overdue alert's ``for`` state for both integrations, as a Prometheus
  that had been running would have kept it (Prometheus restores it at start, ``--rules.alert.for-*``). So the
  rule's expression, on the exporter's own series, decides which of the two fires.
- A user without the CloudWorks role (403) with ``cloudworks.enabled: auto``: tasks, ``anaplan_up`` 1,
  ``anaplan_cloudworks_forbidden`` 1 and no other CloudWorks series; AnaplanCloudWorksForbidden not even
  pending (with ``auto`` and no role ever granted CloudWorks is off; promtool tests the withdrawn role).
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitoring.artifacts import PROMETHEUS_CONFIG, RULES
from monitoring.notifications import Notifications, fast_config
from monitoring.servers import Server, running_alertmanager, running_exporter, running_prometheus, wait_for
from support.binaries import find_binary
from support.net import http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DAY = 86400
UTC = datetime.timezone.utc
ZONE = "Asia/Kolkata"  # +05:30 all year: the schedules' days are its days, not UTC's
WORKSPACE, MODEL = "CloudWorks E2E", "Integrations"
USER, PASSWORD = "demo@example.com", "demo"
NO_ROLE_USER, NO_ROLE_PASSWORD = "norole@example.com", "norole"

ORDERS = "112000000101"  # run by hand by "Orders S3 load"; its file is missing
ACTUALS, PNL, FORECAST, HEADCOUNT = "112000000102", "116000000103", "112000000104", "116000000105"
LEDGER_DAILY, LEDGER_DAYS = "112000000106", "112000000107"
ORDERS_INTEGRATION = "0a1b2c3d4e5f60718293a4b5c6d7e801"
DAILY_INTEGRATION = "0a1b2c3d4e5f60718293a4b5c6d7e806"
DAYS_INTEGRATION = "0a1b2c3d4e5f60718293a4b5c6d7e807"
FLOW = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
FAILED_RUN_AT = 20.0  # seconds after the simulator starts: the exporters and Prometheus are up by then
ORDERS_LOCATION = "finance-bucket/orders/orders-2026-12.csv"


@dataclass(frozen=True)
class Slots:
    """The overdue scenario, from the real clock: ``due`` is the daily integration's latest slot (missed),
    and the day-limited integration's latest slot (which ran) is two days before it."""

    due: float
    time_of_day: str  # HH:MM in ZONE
    days_of_week: list[int]  # the day-limited schedule's days, 0 = Sunday, in ZONE
    ran_weekday: str  # UTC weekday of both integrations' last run (the simulator's "days")
    start_date: str


def in_maintenance(moment: datetime.datetime) -> bool:
    """Anaplan's Saturday maintenance window as the rules take it: Saturday 20:00 to Sunday 01:00 UTC."""
    return (moment.weekday() == 5 and moment.hour >= 20) or (moment.weekday() == 6 and moment.hour < 1)


def plan_slots(now: float) -> Slots:
    """A slot three hours back (any day; Saturday 19:00 UTC instead when that falls in the maintenance
    window, when CloudWorks fires nothing): no slot of either schedule lies in the last two hours."""
    due = (int(now) - 3 * 3600) // 60 * 60
    moment = datetime.datetime.fromtimestamp(due, UTC)
    if in_maintenance(moment):
        saturday = moment.date() - datetime.timedelta(days=(moment.weekday() - 5) % 7)
        due = int(datetime.datetime.combine(saturday, datetime.time(19), UTC).timestamp())
    zone = ZoneInfo(ZONE)
    local = datetime.datetime.fromtimestamp(due, zone)

    def cloudworks_day(moment: datetime.datetime) -> int:
        return (moment.weekday() + 1) % 7

    off = {cloudworks_day(local), cloudworks_day(local - datetime.timedelta(days=1))}
    ran = datetime.datetime.fromtimestamp(due - 2 * DAY, UTC)
    return Slots(
        due=float(due),
        time_of_day=local.strftime("%H:%M"),
        days_of_week=[day for day in range(7) if day not in off],
        ran_weekday=("mon", "tue", "wed", "thu", "fri", "sat", "sun")[ran.weekday()],
        start_date=(local - datetime.timedelta(days=30)).date().isoformat(),
    )


def scenario(slots: Slots, now: float) -> dict[str, Any]:
    def on_demand(object_id: str, name: str, history: int = 0) -> dict[str, Any]:
        # Runs only when CloudWorks starts it (its own slots are an hour away).
        return {
            "id": object_id,
            "name": name,
            "every": 3600,
            "offset": 3000,
            "duration": 2,
            "history": history,
        }

    def ledger(object_id: str, name: str) -> dict[str, Any]:
        # Daily at the schedules' time; of the last three slots only the one two days back ran.
        return {
            "id": object_id,
            "name": name,
            "every": DAY,
            "offset": slots.due + DAY - now,
            "duration": 5,
            "history": 3,
            "days": [slots.ran_weekday],
        }

    def schedule(kind: str, **more: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "time": slots.time_of_day,
            "timezone": ZONE,
            "startDate": slots.start_date,
            "status": "Active",
            **more,
        }

    return {
        "users": [
            {"username": USER, "password": PASSWORD},
            {"username": NO_ROLE_USER, "password": NO_ROLE_PASSWORD, "cloudworks_role": False},
        ],
        "workspaces": [
            {
                "name": WORKSPACE,
                "models": [
                    {
                        "name": MODEL,
                        "imports": [
                            on_demand(ORDERS, "Orders from S3", history=1),
                            on_demand(ACTUALS, "Actuals from S3"),
                            on_demand(FORECAST, "Forecast from S3"),
                            ledger(LEDGER_DAILY, "Daily ledger"),
                            ledger(LEDGER_DAYS, "Ledger, some days"),
                        ],
                        "exports": [on_demand(PNL, "P&L to S3"), on_demand(HEADCOUNT, "Headcount to S3")],
                    }
                ],
            }
        ],
        "cloudworks": {
            "integrations": [
                {
                    "id": ORDERS_INTEGRATION,
                    "name": "Orders S3 load",
                    "object": ORDERS,
                    "location": ORDERS_LOCATION,
                    "manual": [{"at": FAILED_RUN_AT, "outcome": "file_missing"}],
                },
                {"name": "Actuals S3 load", "object": ACTUALS},
                {"name": "P&L to S3", "object": PNL},
                {"name": "Forecast S3 load", "object": FORECAST},
                {"name": "Headcount to S3", "object": HEADCOUNT},
                {
                    "id": DAILY_INTEGRATION,
                    "name": "Daily ledger load",
                    "object": LEDGER_DAILY,
                    "schedule": schedule("daily"),
                },
                {
                    "id": DAYS_INTEGRATION,
                    "name": "Ledger load, some days",
                    "object": LEDGER_DAYS,
                    "schedule": schedule("weekly", daysOfWeek=slots.days_of_week),
                },
            ],
            "flows": [
                {
                    "id": FLOW,
                    "name": "Month-end close",
                    "every": 3600,
                    "offset": FAILED_RUN_AT,
                    "steps": [
                        {"integration": "Actuals S3 load"},
                        {"integration": "P&L to S3", "outcomes": ["failure"], "on_failure": "stop"},
                        {"integration": "Forecast S3 load"},
                        {"integration": "Headcount to S3", "skipped": True},
                    ],
                }
            ],
        },
    }


def exporter_config(
    sim: SimulatorHandle, username: str, password: str, cloudworks: bool | str
) -> dict[str, Any]:
    return {
        "anaplan": {
            "api_url": f"{sim.url}/2/0",
            "auth_url": sim.url,
            "oauth_url": sim.url,
            "cloudworks_url": f"{sim.url}/cloudworks/2/0",
            "auth": {"method": "basic", "username": username, "password": password},
        },
        "polling": {"idle_interval": 1, "active_interval": 5},
        "cloudworks": {"enabled": cloudworks},
        "targets": [{"workspace": WORKSPACE, "model": MODEL, "imports": "*", "exports": "*"}],
    }


def prometheus_config(exporters: list[str], alertmanager: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": exporters}])
    return config


# ---- the backfill ---------------------------------------------------------------------------------------


def samples(exporter: Server) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample the exporter shows now."""
    _, body = http_get(exporter.url + "/metrics")
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    ]


def om_line(name: str, labels: dict[str, str], value: float, at: float) -> str:
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    inner = ",".join(f'{key}="{escape(val)}"' for key, val in sorted(labels.items()))
    return f"{name}{{{inner}}} {value!r} {at:.3f}"


def overdue_alert_labels(
    found: list[tuple[str, dict[str, str], float]], cloudworks_id: str, target: dict[str, str]
) -> dict[str, str]:
    """The labels AnaplanCloudWorksOverdue has for an integration: the slot series' labels, the Anaplan
    object from anaplan_cloudworks_info (empty ones dropped, as PromQL does), alertname and severity."""
    (slot,) = [
        labels
        for name, labels, _ in found
        if name == "anaplan_cloudworks_last_scheduled_run_timestamp_seconds"
        and labels["cloudworks_id"] == cloudworks_id
    ]
    (info,) = [
        labels
        for name, labels, _ in found
        if name == "anaplan_cloudworks_info" and labels["cloudworks_id"] == cloudworks_id
    ]
    joined = {key: info[key] for key in ("type", "workspace_id", "model_id", "object_id") if info.get(key)}
    return {**slot, **target, **joined, "alertname": "AnaplanCloudWorksOverdue", "severity": "warning"}


def backfill(exporter: Server, instance: str, data_dir: Path, now: float) -> None:
    """Two hours of the exporter's CloudWorks series as it shows them now, every 15 s up to 5 s ago, and the
    overdue alert pending for both ledger integrations for the last 20 minutes of it, into a TSDB block."""
    target = {"job": "anaplan", "instance": instance}
    found = samples(exporter)
    series = [
        (name, {**labels, **target}, value)
        for name, labels, value in found
        if name.startswith("anaplan_cloudworks_") and not name.endswith("_created")
    ]
    times = [now - 5 - 15 * i for i in range(480, -1, -1)]
    active_since = now - 20 * 60
    for cloudworks_id in (DAILY_INTEGRATION, DAYS_INTEGRATION):
        series.append(("ALERTS_FOR_STATE", overdue_alert_labels(found, cloudworks_id, target), active_since))
    lines = []
    for name, labels, value in series:
        since = active_since if name == "ALERTS_FOR_STATE" else -math.inf
        lines += [om_line(name, labels, value, at) for at in times if at >= since]
    source = data_dir.parent / "backfill.om"
    source.write_text("\n".join([*lines, "# EOF", ""]), encoding="utf-8")
    done = subprocess.run(
        [
            str(find_binary("promtool")),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ---- the stack ------------------------------------------------------------------------------------------


@dataclass
class Stack:
    sim: SimulatorHandle
    exporter: Server
    no_role: Server
    prometheus: Server
    manager: Server
    catcher: Notifications
    slots: Slots

    @property
    def instance(self) -> str:
        return host_port(self.exporter.url)

    @property
    def no_role_instance(self) -> str:
        return host_port(self.no_role.url)

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.prometheus.get_json("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def notified(self, alertname: str) -> list[dict[str, Any]]:
        """Every alert of that name in every notification so far (firing ones)."""
        return [
            {**alert, "receiver": message["receiver"]}
            for message in list(self.catcher.received)
            for alert in message["alerts"]
            if alert["labels"]["alertname"] == alertname and alert["status"] == "firing"
        ]

    def diagnostics(self) -> str:
        return f"{self.prometheus.logs()[-2000:]}\n{self.manager.logs()[-2000:]}\n{self.catcher.received}"


def host_port(url: str) -> str:
    return url.split("://", 1)[1]


def cloudworks_ready(exporter: Server) -> bool:
    """Both ledger integrations read with their Anaplan object and latest run, the flow with its steps."""
    found = samples(exporter)
    linked = {
        labels["cloudworks_id"]
        for name, labels, _ in found
        if name == "anaplan_cloudworks_info" and labels.get("object_id")
    }
    started = {
        labels["cloudworks_id"]
        for name, labels, _ in found
        if name == "anaplan_cloudworks_last_run_start_timestamp_seconds"
    }
    ledgers = {DAILY_INTEGRATION, DAYS_INTEGRATION}
    return ledgers <= linked and ledgers <= started


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("cloudworks-e2e")
    script = Path(sys.executable).with_name("anaplan-exporter")
    now = time.time()
    slots = plan_slots(now)
    catcher = Notifications()
    try:
        with running_simulator(scenario(slots, now), tmp_path) as sim:
            configs = {}
            for name, user, password, mode in (
                ("exporter", USER, PASSWORD, True),
                ("no-role", NO_ROLE_USER, NO_ROLE_PASSWORD, "auto"),
            ):
                path = tmp_path / f"{name}.yml"
                config = exporter_config(sim, user, password, mode)
                path.write_text(yaml.safe_dump(config), encoding="utf-8")
                configs[name] = path
            with (
                running_exporter(script, configs["exporter"], tmp_path) as exporter,
                running_exporter(script, configs["no-role"], tmp_path) as no_role,
                running_alertmanager(fast_config(tmp_path, catcher.url), tmp_path) as manager,
            ):
                wait_for(lambda: cloudworks_ready(exporter), 20, "the ledger integrations on /metrics")
                data_dir = tmp_path / "prometheus-data"
                backfill(exporter, host_port(exporter.url), data_dir, time.time())
                # The history must end before the failures, or Prometheus would take them for old news.
                assert time.time() < now + FAILED_RUN_AT - 3, "the stack took too long to start"
                with running_prometheus(
                    prometheus_config(
                        [host_port(exporter.url), host_port(no_role.url)], host_port(manager.url)
                    ),
                    tmp_path,
                    # Restore the backfilled 'for' state of alerts held 10 minutes or less too.
                    "--rules.alert.for-grace-period=1s",
                ) as prometheus:
                    yield Stack(sim, exporter, no_role, prometheus, manager, catcher, slots)
    finally:
        catcher.close()


# ---- 1. a connector failure with no Anaplan task ---------------------------------------------------------


def api_session_token(sim: SimulatorHandle) -> str:
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        sim.url + "/token/authenticate", method="POST", headers={"Authorization": auth}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["tokenInfo"]["tokenValue"]
    return token


def object_tasks(sim: SimulatorHandle, run: dict[str, Any], object_type: str) -> list[dict[str, Any]]:
    """The task list of the run's Anaplan object from the simulator's Integration API."""
    token = api_session_token(sim)
    path = (
        f"/workspaces/{run['workspace_id']}/models/{run['model_id']}/{object_type}s/{run['object_id']}/tasks"
    )
    status, body = http_get(sim.api_url + path, headers={"Authorization": f"AnaplanAuthToken {token}"})
    assert status == 200, body
    tasks: list[dict[str, Any]] = json.loads(body).get("tasks", [])
    return tasks


def cloudworks_truth(sim: SimulatorHandle) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = sim._call("/__sim/cloudworks-truth")
    return records


def test_a_connector_failure_with_no_task_pages_once(stack: Stack) -> None:
    def orders(alertname: str) -> list[dict[str, Any]]:
        return [a for a in stack.notified(alertname) if a["labels"].get("object_id") == ORDERS]

    try:
        (alert,) = wait_for(lambda: orders("AnaplanCloudWorksRunFailed"), 90, "RunFailed notified")
    except AssertionError:
        raise AssertionError(stack.diagnostics()) from None
    # Later evaluations (every second, re-sent every second) notify nothing more while it keeps firing.
    time.sleep(10)
    firing = stack.query(
        f'ALERTS{{alertname="AnaplanCloudWorksRunFailed", alertstate="firing", object_id="{ORDERS}"}}'
    )
    assert [series["metric"]["cloudworks_name"] for series in firing] == ["Orders S3 load"]
    assert len(orders("AnaplanCloudWorksRunFailed")) == 1, stack.catcher.received
    assert not orders("AnaplanTaskFailed"), "a task failure was notified, but no task failed"
    assert not stack.query(f'ALERTS{{alertname="AnaplanTaskFailed", object_id="{ORDERS}"}}')

    (run,) = [r for r in cloudworks_truth(stack.sim) if r.get("integration_id") == ORDERS_INTEGRATION]
    assert run["task_id"] is None and run["connector_failure"] == "file_missing", run
    labels, description = alert["labels"], alert["annotations"]["description"]
    assert alert["receiver"] == "pager" and labels["severity"] == "critical"
    assert labels["integration_id"] == ORDERS_INTEGRATION and labels["object_id"] == ORDERS
    assert '"Orders S3 load" failed (trigger: manual)' in description, description
    assert f'"{run["message"]}", error code {run["execution_error_code"]}, run {run["run_id"]}' in description
    assert f"s3://{ORDERS_LOCATION}" in description and run["execution_error_code"] == 35
    assert "whose task failed too" not in description

    # No task: neither in the simulator's ground truth nor in the object's task list (its one task is from
    # the history, long before the run).
    tasks = [t for t in stack.sim.ground_truth() if t["object_id"] == ORDERS]
    assert [t["history"] for t in tasks] == [True], tasks
    listed = object_tasks(stack.sim, run, "import")
    assert [t["taskId"] for t in listed] == [tasks[0]["task_id"]], listed


# ---- 2. a flow failure names its failed step and the skipped ones ----------------------------------------


def test_a_flow_failure_names_its_failed_step_and_the_skipped_ones(stack: Stack) -> None:
    try:
        (alert,) = wait_for(lambda: stack.notified("AnaplanCloudWorksFlowFailed"), 150, "FlowFailed notified")
    except AssertionError:
        raise AssertionError(stack.diagnostics()) from None
    (flow_run,) = [r for r in cloudworks_truth(stack.sim) if r.get("record") == "cloudworks_flow_run"]
    pnl = [s for s in flow_run["steps"] if s["result"] == "failure"]
    assert len(flow_run["steps"]) == 2 and len(pnl) == 1, flow_run
    assert flow_run["stopped_after"] == pnl[0]["integration_id"]
    labels, description = alert["labels"], alert["annotations"]["description"]
    assert (labels["step"], labels["step_name"], labels["integration_id"]) == (
        "2",
        "P&L to S3",
        pnl[0]["integration_id"],
    )
    assert labels["object_id"] == PNL and alert["receiver"] == "pager"
    assert 'Failed step 2: "P&L to S3"' in description, description
    assert 'Skipped: step 3 "Forecast S3 load", step 4 "Headcount to S3".' in description, description


@pytest.mark.timeout(300)
def test_a_flow_step_that_failed_its_task_notifies_once(stack: Stack) -> None:
    """The flow's failed step "P&L to S3" failed its Anaplan export too, and that integration's run (started
    by the flow, trigger ``scheduled_inf``) failed: three alerts for one failure. Only the flow's is notified;
    the step's AnaplanCloudWorksRunFailed and the export's AnaplanTaskFailed fire too (Prometheus) and are
    held back (Alertmanager), long after the flow's alert went out (the rules hold the step's alerts for
    3 minutes, until the flow's, which waits 1 minute for the steps, has reached Alertmanager)."""
    try:
        wait_for(lambda: stack.notified("AnaplanCloudWorksFlowFailed"), 150, "FlowFailed notified")
    except AssertionError:
        raise AssertionError(stack.diagnostics()) from None
    (flow_run,) = [r for r in cloudworks_truth(stack.sim) if r.get("record") == "cloudworks_flow_run"]
    step_integration = flow_run["stopped_after"]
    (step_run,) = [
        r
        for r in cloudworks_truth(stack.sim)
        if r.get("integration_id") == step_integration and r.get("record") == "cloudworks_run"
    ]
    assert step_run["trigger_source"] == "scheduled_inf" and step_run["task_id"], step_run
    assert step_run["object_id"] == PNL and step_run["result"] == "failure", step_run

    def step_alerts_fire() -> list[dict[str, Any]] | None:
        run_failed = stack.query(
            f'ALERTS{{alertname="AnaplanCloudWorksRunFailed", alertstate="firing",'
            f' integration_id="{step_integration}"}}'
        )
        task_failed = stack.query(
            f'ALERTS{{alertname="AnaplanTaskFailed", alertstate="firing", object_id="{PNL}"}}'
        )
        return run_failed + task_failed if run_failed and task_failed else None

    # The held alerts fire by 3 minutes after the failure; Alertmanager then has had them for a while.
    try:
        wait_for(step_alerts_fire, max(5.0, step_run["finish_time"] + 230 - time.time()), "the step's alerts")
    except AssertionError:
        raise AssertionError(stack.diagnostics()) from None
    time.sleep(5)  # longer than the test's group_wait (2 s): anything not held back is sent by now
    about_it = [
        (alert["labels"]["alertname"], message["receiver"])
        for message in list(stack.catcher.received)
        for alert in message["alerts"]
        if alert["status"] == "firing"
        and (
            alert["labels"].get("integration_id") == step_integration
            or alert["labels"].get("object_id") == PNL
            or alert["labels"].get("cloudworks_id") == step_integration
        )
    ]
    assert about_it == [("AnaplanCloudWorksFlowFailed", "pager")], about_it
    held = {
        alert["labels"]["alertname"]: alert["status"]["state"]
        for alert in stack.manager.get_json("/api/v2/alerts")
        if alert["labels"].get("integration_id") == step_integration
        or alert["labels"].get("object_id") == PNL
    }
    assert held == {
        "AnaplanCloudWorksFlowFailed": "active",
        "AnaplanCloudWorksRunFailed": "suppressed",
        "AnaplanTaskFailed": "suppressed",
    }, held
    (alert,) = stack.notified("AnaplanCloudWorksFlowFailed")
    description = alert["annotations"]["description"]
    assert '"Month-end close" failed' in description and 'Failed step 2: "P&L to S3"' in description
    assert 'Skipped: step 3 "Forecast S3 load", step 4 "Headcount to S3".' in description, description


# ---- 3. overdue from the schedule ------------------------------------------------------------------------


def metric_value(stack: Stack, name: str, cloudworks_id: str) -> float | None:
    for metric, labels, value in samples(stack.exporter):
        if metric == name and labels.get("cloudworks_id") == cloudworks_id:
            return value
    return None


def test_an_overdue_integration_pages_from_its_schedule_and_one_off_today_does_not(stack: Stack) -> None:
    slots = stack.slots
    # The exporter reads both schedules as the test planned them.
    slot_metric = "anaplan_cloudworks_last_scheduled_run_timestamp_seconds"
    next_metric = "anaplan_cloudworks_next_run_timestamp_seconds"
    start_metric = "anaplan_cloudworks_last_run_start_timestamp_seconds"
    assert metric_value(stack, slot_metric, DAILY_INTEGRATION) == slots.due
    assert metric_value(stack, next_metric, DAILY_INTEGRATION) == slots.due + DAY
    assert metric_value(stack, slot_metric, DAYS_INTEGRATION) == slots.due - 2 * DAY
    assert metric_value(stack, next_metric, DAYS_INTEGRATION) == slots.due + DAY
    for cloudworks_id in (DAILY_INTEGRATION, DAYS_INTEGRATION):
        started = metric_value(stack, start_metric, cloudworks_id)
        assert started is not None and 0 <= started - (slots.due - 2 * DAY) < 5, started

    try:
        (alert,) = wait_for(lambda: stack.notified("AnaplanCloudWorksOverdue"), 60, "Overdue notified")
    except AssertionError:
        raise AssertionError(stack.diagnostics()) from None
    time.sleep(5)  # the other one, were it due, would be notified by now (restored, group_wait 2 s)
    assert [a["labels"]["cloudworks_id"] for a in stack.notified("AnaplanCloudWorksOverdue")] == [
        DAILY_INTEGRATION
    ]
    assert alert["receiver"] == "team" and alert["labels"]["object_id"] == LEDGER_DAILY
    missed = stack.query("anaplan:cloudworks_missed_slot_timestamp_seconds")
    assert [(m["metric"]["cloudworks_id"], float(m["value"][1])) for m in missed] == [
        (DAILY_INTEGRATION, slots.due)
    ]
    overdue = stack.query('ALERTS{alertname="AnaplanCloudWorksOverdue"}')
    assert [(m["metric"]["cloudworks_id"], m["metric"]["alertstate"]) for m in overdue] == [
        (DAILY_INTEGRATION, "firing")
    ]
    description = alert["annotations"]["description"]
    due = datetime.datetime.fromtimestamp(slots.due, UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert f'"Daily ledger load" (daily schedule, time zone {ZONE}) was due to run at {due}' in description, (
        description
    )
    assert re.search(r"its latest run started at \d{4}-\d\d-\d\d", description), description


# ---- 4. a user without the CloudWorks role --------------------------------------------------------------


def test_a_user_without_the_role_keeps_the_integration_api_side(stack: Stack) -> None:
    instance = stack.no_role_instance
    selector = f'job="anaplan", instance="{instance}"'

    def tasks_scraped() -> list[dict[str, Any]] | None:
        return stack.query(f"anaplan_task_info{{{selector}}}") or None

    wait_for(tasks_scraped, 30, "the 403 user's task metrics in Prometheus")
    assert [float(s["value"][1]) for s in stack.query(f"anaplan_up{{{selector}}}")] == [1.0]
    assert [float(s["value"][1]) for s in stack.query(f"anaplan_cloudworks_forbidden{{{selector}}}")] == [1.0]
    names = {
        s["metric"]["__name__"] for s in stack.query(f'{{{selector}, __name__=~"anaplan_cloudworks_.*"}}')
    }
    assert names == {"anaplan_cloudworks_forbidden"}, names
    objects = {s["metric"]["object_id"] for s in tasks_scraped() or []}
    assert {ORDERS, LEDGER_DAILY, LEDGER_DAYS} <= objects, objects
    # auto, never readable: CloudWorks is off for this exporter, so AnaplanCloudWorksForbidden is not even
    # pending (two evaluations after the scrape above), and nothing about it was notified.
    time.sleep(2.5)
    forbidden = stack.query(f'ALERTS{{alertname="AnaplanCloudWorksForbidden", {selector}}}')
    assert forbidden == [], forbidden
    assert not [
        a for m in stack.catcher.received for a in m["alerts"] if a["labels"].get("instance") == instance
    ]
