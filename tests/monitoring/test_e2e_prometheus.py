"""End to end: the simulator, the exporter, a real Prometheus with the rules, and a real Alertmanager.

A process fails (with a dump) on every run. AnaplanTaskFailed must reach Alertmanager with the failed step
and the dump's download path that the simulator's ground truth gives, and every dashboard query, with its
variables filled in as Grafana would, must run on that Prometheus and return data (the CloudWorks dashboard's
too: the simulator serves CloudWorks integrations and a flow over the import and the export).
"""

from __future__ import annotations

import contextlib
import datetime
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.artifacts import (
    ALERTMANAGER_CONFIG,
    DASHBOARDS,
    PROMETHEUS_CONFIG,
    RULES,
    dashboard_targets,
    load_dashboard,
)
from monitoring.promql import grafana_escape, substitute
from monitoring.servers import Server, running_alertmanager, running_exporter, running_prometheus, wait_for
from support.net import http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

USER, PASSWORD = "monitor@example.com", "e2e-secret"
WORKSPACE, MODEL, FAILING = "E2E Workspace", "E2E Planning", "Failing Load"
CLOUDWORKS_IMPORT, CLOUDWORKS_FLOW = "Sales from S3", "Sales round trip"
SCENARIO: dict[str, Any] = {
    "users": [{"username": USER, "password": PASSWORD}],
    "token_lifetime_seconds": 2100,
    # Short 429 bursts, so the rate-limiting panels have something to show.
    "faults": {"rate_limit": {"every": 20, "for": 2}},
    "workspaces": [
        {
            "name": WORKSPACE,
            "models": [
                {
                    "name": MODEL,
                    "processes": [
                        {
                            "id": "118000000002",
                            "name": FAILING,
                            "steps": [
                                {
                                    "id": "117000000015",
                                    "name": "Clear Staging",
                                    "type": "DELETE_BY_SELECTION",
                                },
                                {"id": "112000000009"},
                            ],
                            "step_durations": [2, 5],
                            "every": 10,
                            "outcomes": ["failure_dump"],
                            "fail_step": 2,
                            "history": 1,
                        }
                    ],
                    "imports": [
                        {
                            "id": "112000000009",
                            "name": "Sales from sales.csv",
                            "rows": {
                                "hierarchy": "Sales",
                                "total": 120,
                                "success": 100,
                                "ignored": 12,
                                "failed": 8,
                            },
                            "every": 10,
                            "offset": 2,
                            "duration": 4,
                            "history": 1,
                        }
                    ],
                    "exports": [{"id": "116000000002", "name": "Revenue export", "every": 10, "duration": 3}],
                }
            ],
        }
    ],
    # CloudWorks runs the import (partly succeeding on its rejected rows; every third run the file is
    # missing in the bucket, a failure with no Anaplan task) and the export; a flow runs both, failing at
    # its first step every other run. The failing process is no integration's: AnaplanTaskFailed stays.
    "cloudworks": {
        "integrations": [
            {
                "name": CLOUDWORKS_IMPORT,
                "object": "112000000009",
                "connector": "amazon_s3",
                "location": "finance-bucket/sales/sales.csv",
                "schedule": {
                    "name": "Every night",
                    "type": "daily",
                    "time": "02:00",
                    "timezone": "Europe/London",
                },
                "connector_failures": ["none", "none", "file_missing"],
            },
            {
                "name": "Revenue to Azure Blob",
                "object": "116000000002",
                "connector": "azure_blob",
                "schedule": {
                    "type": "weekly",
                    "time": "06:30",
                    "daysOfWeek": [1, 2, 3, 4, 5],
                    "timezone": "Europe/Paris",
                },
            },
        ],
        "flows": [
            {
                "name": CLOUDWORKS_FLOW,
                "every": 30,
                "offset": 5,
                "schedule": {"type": "hourly", "fromTime": "00:00", "toTime": "23:00", "repeatEvery": 1},
                "steps": [
                    {
                        "integration": CLOUDWORKS_IMPORT,
                        "on_failure": "stop",
                        "outcomes": ["success", "file_missing"],
                    },
                    {"integration": "Revenue to Azure Blob"},
                ],
            }
        ],
    },
}


def exporter_config(simulator_url: str) -> dict[str, Any]:
    return {
        "anaplan": {
            "api_url": f"{simulator_url}/2/0",
            "auth_url": simulator_url,
            "oauth_url": simulator_url,
            "cloudworks_url": f"{simulator_url}/cloudworks/2/0",
            "auth": {"method": "basic", "username": USER, "password": PASSWORD},
        },
        "polling": {"idle_interval": 2, "active_interval": 5},
        "cloudworks": {"enabled": True},
        "defaults": {"expected_every": "1h", "max_duration": "10m"},
        "targets": [
            {"workspace": WORKSPACE, "model": MODEL, "processes": "*", "imports": "*", "exports": "*"}
        ],
    }


def prometheus_config(exporter: str, alertmanager: str) -> dict[str, Any]:
    """The example configuration, made fast (1 s) and pointed at the test's processes."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    (job,) = config["scrape_configs"]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [exporter]}])
    return config


def host_port(url: str) -> str:
    return url.split("://", 1)[1]


Stack = tuple[Server, Server, str, SimulatorHandle]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """(Prometheus, Alertmanager, exporter instance, simulator), running until the module's tests are done."""
    tmp_path = tmp_path_factory.mktemp("e2e-prometheus")
    script = Path(sys.executable).with_name("anaplan-exporter")
    with running_simulator(SCENARIO, tmp_path) as simulator:
        config_path = tmp_path / "exporter.yml"
        config_path.write_text(yaml.safe_dump(exporter_config(simulator.url)), encoding="utf-8")
        with (
            running_exporter(script, config_path, tmp_path) as exporter,
            running_alertmanager(ALERTMANAGER_CONFIG, tmp_path) as manager,
            running_prometheus(
                prometheus_config(host_port(exporter.url), host_port(manager.url)), tmp_path
            ) as prom,
        ):
            yield prom, manager, host_port(exporter.url), simulator


def firing_failures(manager: Server) -> list[dict[str, Any]] | None:
    alerts: list[dict[str, Any]] = manager.get_json("/api/v2/alerts", filter='alertname="AnaplanTaskFailed"')
    return [alert for alert in alerts if alert["status"]["state"] == "active"] or None


def test_task_failure_reaches_alertmanager(stack: Stack) -> None:
    prometheus, manager, _, _ = stack
    try:
        alerts = wait_for(lambda: firing_failures(manager), 120, "AnaplanTaskFailed in Alertmanager")
    except AssertionError:
        raise AssertionError(f"{prometheus.logs()[-2000:]}\n{manager.logs()[-2000:]}") from None
    (alert,) = alerts
    assert alert["labels"]["object_name"] == FAILING
    assert alert["labels"]["object_type"] == "process"
    assert alert["labels"]["model_name"] == MODEL
    assert alert["labels"]["severity"] == "critical"
    # The runbook link as Prometheus filled it in opens the section on the exporter that reported it.
    runbook = alert["annotations"]["runbook_url"]
    assert runbook == f"http://{alert['labels']['instance']}/runbook#anaplantaskfailed"
    status, page = http_get(runbook)
    assert status == 200 and '<h2 id="anaplantaskfailed">' in page
    assert [receiver["name"] for receiver in alert["receivers"]] == ["pager"]


# The process dump's download path in AnaplanTaskFailed's description, once the task ID is known.
DUMP_PATH = re.compile(r"GET /2/0/workspaces/(\w+)/models/(\w+)/processes/(\w+)/tasks/(\w+)/dumps/(\w+)")
CREATED = re.compile(r"the newest failed run was created at (\S+ \S+) \+0000 UTC \(task (\w+)\)")


def detailed_failure(manager: Server) -> dict[str, Any] | None:
    """The firing AnaplanTaskFailed whose description has the dump path with a task ID."""
    for alert in firing_failures(manager) or []:
        if DUMP_PATH.search(alert["annotations"]["description"]):
            return alert
    return None


def test_failure_page_names_the_failed_step_and_the_dump(stack: Stack) -> None:
    """The description names the failed run's task, failed step and dump path, as the simulator ran it."""
    prometheus, manager, _, simulator = stack
    try:
        alert = wait_for(lambda: detailed_failure(manager), 120, "AnaplanTaskFailed with the dump path")
    except AssertionError:
        raise AssertionError(f"{firing_failures(manager)}\n{prometheus.logs()[-2000:]}") from None
    description = alert["annotations"]["description"]
    dump = DUMP_PATH.search(description)
    created = CREATED.search(description)
    assert dump and created, description
    workspace_id, model_id, process_id, task_id, step_id = dump.groups()
    assert created.group(2) == task_id, description
    run = {run["task_id"]: run for run in simulator.ground_truth()}[task_id]
    assert (run["workspace_id"], run["model_id"], run["object_id"]) == (workspace_id, model_id, process_id)
    assert run["object_name"] == FAILING
    assert run["outcome"] == "failure" and run["failure_dump"], run
    # The task ID is that of the newest failed run the description dates, not of a run started since.
    when = datetime.datetime.fromisoformat(created.group(1)).replace(tzinfo=datetime.timezone.utc)
    assert abs(when.timestamp() - run["creation_time"]) < 0.001, (created.group(1), run["creation_time"])
    assert run["failed_step"] == step_id
    (step,) = [step for step in run["steps"] if step["object_id"] == step_id]
    assert step["failure_dump"] and not step["successful"]
    assert f'Failed step: "{step["name"]}" (object ID {step_id}).' in description
    assert f'Failure dump: step "{step["name"]}": GET ' in description
    assert "Newest task " in description and "current step" in description


def label_values(prometheus: Server, query: str, values: dict[str, str]) -> list[str]:
    """Grafana's ``label_values(selector, label)`` run against Prometheus's series API."""
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", substitute(query, values))
    assert match, query
    selector, label = match.groups()
    answer = prometheus.get_json(f"/api/v1/label/{label}/values", **{"match[]": selector})
    found: list[str] = answer["data"]
    return found


def variable_values(prometheus: Server, dashboard: dict[str, Any], instance: str) -> dict[str, str]:
    """Fill the variables in order, as Grafana does: each query runs with the earlier choices applied."""
    values = {"instance": grafana_escape(instance)}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        options = label_values(prometheus, variable["query"], values)
        assert options, f"variable {variable['name']} has no values"
        if variable["name"] in ("object", "kind", "cloudworks"):
            # every object, integration and flow: the panels show different kinds
            values[variable["name"]] = variable["allValue"]
        elif variable["name"] != "instance":
            values[variable["name"]] = grafana_escape(options[0])
    return values


def empty_or_failing(prometheus: Server, exprs: list[str], start: float) -> dict[str, str]:
    """Expression -> problem, for each expression that fails or returns no data over the test's run."""
    end = time.time()
    problems = {}
    for expr in exprs:
        answer = prometheus.get_json(
            "/api/v1/query_range", query=expr, start=str(start), end=str(end), step="1"
        )
        if answer["status"] != "success":
            problems[expr] = str(answer)
        elif not answer["data"]["result"]:
            problems[expr] = "no data"
    return problems


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_dashboard_queries_return_data(stack: Stack, uid: str) -> None:
    prometheus, manager, instance, _ = stack
    wait_for(lambda: firing_failures(manager), 120, "AnaplanTaskFailed in Alertmanager")
    dashboard = load_dashboard(uid)
    values = variable_values(prometheus, dashboard, instance)
    if uid == "anaplan-cloudworks":
        assert values["kind"] == values["cloudworks"] == ".*"  # every integration and flow, as it opens
    else:
        assert values["workspace"] == WORKSPACE and values["model"] == MODEL
    start = time.time() - 600
    timings = {"__range": "600s", "__rate_interval": "5s", "__interval": "1s"}
    exprs = sorted(
        {substitute(query["expr"], {**values, **timings}) for _, query in dashboard_targets(dashboard)}
    )
    # Some series need a particular moment (a run in progress, a finished import): give them time to appear.
    problems: dict[str, str] = {}

    def all_answer() -> bool:
        problems.clear()
        problems.update(empty_or_failing(prometheus, exprs, start))
        return not problems

    with contextlib.suppress(AssertionError):  # the assertion below lists what is missing
        wait_for(all_answer, 90, "every query to return data", interval=2)
    assert not problems, "\n".join(f"{problem}: {expr}" for expr, problem in problems.items())
