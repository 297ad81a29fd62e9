"""The simulator's CloudWorks API: every endpoint and quirk over real HTTP, the runs the engine plans
(scheduled runs creating their object's tasks, connector failures creating none, partial success), the
ground truth, and the scenario's ``cloudworks`` section with its one-line errors."""

from __future__ import annotations

import base64
import calendar
import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from anaplan_simulator.cloudworks_runs import CloudWorksRuns
from anaplan_simulator.engine import Engine
from anaplan_simulator.scenario import load_scenario, parse_scenario
from anaplan_simulator.validate import ScenarioError
from support.simulator import SimulatorHandle, running_simulator

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
S3, BLOB, NEVER = "e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2", "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", "0a" * 16
FLOW, QUICK = "d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1", "c" * 32
SCENARIO: dict[str, Any] = {
    "users": [
        {"username": "u@example.com", "password": "pw"},
        {"username": "norole@example.com", "password": "pw", "cloudworks_role": False},
    ],
    "workspaces": [
        {
            "id": WS,
            "name": "W",
            "models": [
                {
                    "id": MODEL,
                    "name": "M",
                    "imports": [
                        {
                            "id": "112000000007",
                            "name": "Sales",
                            "rows": {"total": 100, "success": 90, "failed": 10},
                            "every": 1.5,
                            "duration": 0.5,
                            "history": 4,
                            "outcomes": ["success", "failure"],
                        }
                    ],
                    "exports": [
                        {"id": "116000000002", "name": "Long", "every": 3600, "duration": 600},
                        {"id": "116000000003", "name": "Never"},
                    ],
                }
            ],
        }
    ],
    "cloudworks": {
        "integrations": [
            {
                "id": S3,
                "name": "Sales from S3",
                "object": "112000000007",
                "location": "bucket/sales.csv",
                "schedule": {"type": "daily", "time": "02:00"},
                "connector_failures": ["none", "none", "file_missing", "none"],
            },
            {
                "id": BLOB,
                "name": "Long to Blob",
                "object": "116000000002",
                "connector": "azure_blob",
                "schedule": {"type": "hourly", "fromTime": "00:00", "toTime": "23:00", "repeatEvery": 1},
            },
            {"id": NEVER, "name": "Never run", "object": "116000000003", "connector": "google_bigquery"},
        ],
        "flows": [
            {"id": FLOW, "name": "F", "steps": [{"integration": S3}, {"integration": BLOB}]},
            {"id": QUICK, "name": "Quick", "every": 3, "steps": [{"integration": S3}]},
        ],
    },
}
CW = "/cloudworks/2/0"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with running_simulator(SCENARIO, tmp_path_factory.mktemp("cw")) as handle:
        yield handle


def _session(sim: SimulatorHandle, user: str) -> requests.Session:
    session = requests.Session()
    auth = "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()
    token = session.post(sim.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
    session.headers["Authorization"] = "AnaplanAuthToken " + token.json()["tokenInfo"]["tokenValue"]
    return session


@pytest.fixture(scope="module")
def http(sim: SimulatorHandle) -> requests.Session:
    return _session(sim, "u@example.com")


def get(sim: SimulatorHandle, http: requests.Session, path: str, **params: Any) -> requests.Response:
    return http.get(sim.url + CW + path, params=params, timeout=10)


def test_integration_list_envelope_paging_and_quirks(sim: SimulatorHandle, http: requests.Session) -> None:
    body = get(sim, http, "/integrations").json()
    assert body["status"] == {"code": 200, "message": "Success"}
    meta = body["meta"]
    assert meta["paging"] == {"currentPageSize": 3, "totalSize": 3, "offset": 0}
    assert meta["tenantCurrentCount"] == 5 and meta["tenantMaxAllowed"] == 1000
    items = {i["integrationId"]: i for i in body["integrations"]}
    assert items[S3]["integrationType"] == "Import" and items[S3]["modelId"] == MODEL  # upper case
    assert items[S3]["latestRun"]["triggerSource"] in ("scheduled", "scheduled_inf")  # also in a flow
    assert items[S3]["schedule"]["status"] == "Active" and items[S3]["schedule"]["timezone"] == "UTC"
    assert "latestRun" not in items[NEVER] and "schedule" not in items[NEVER]  # absent, not null
    running = items[BLOB]["latestRun"]  # a 600-s export started at 0
    assert "endDate" not in running and running["message"] == "Running"
    page = get(sim, http, "/integrations", offset=1, limit=1).json()
    assert page["meta"]["paging"] == {"currentPageSize": 1, "totalSize": 3, "offset": 1}
    assert [i["integrationId"] for i in page["integrations"]] == [body["integrations"][1]["integrationId"]]
    assert get(sim, http, "/integrations", offset=9).json()["integrations"] == []  # CloudWorks keeps the key
    assert get(sim, http, "/integrations", limit=0).status_code == 400


def test_integration_by_id_has_jobs_and_no_type(sim: SimulatorHandle, http: requests.Session) -> None:
    item = get(sim, http, f"/integrations/{S3}").json()["integration"]
    assert "integrationType" not in item and item["version"] == "2.0"
    assert item["jobs"][0]["type"] == "AmazonS3ToAnaplan"
    assert item["jobs"][0]["sources"][0]["bucketName"] == "bucket"
    assert item["jobs"][0]["targets"][0] == {
        "type": "Anaplan",
        "actionId": "112000000007",
        "fileId": "113000000007",
    }
    export = get(sim, http, f"/integrations/{BLOB}").json()["integration"]["jobs"][0]
    assert export["type"] == "AnaplanToAzureBlob" and export["sources"][0]["actionId"] == "116000000002"
    assert get(sim, http, "/integrations/" + "f" * 32).status_code == 404


def test_run_history_run_and_errors(sim: SimulatorHandle, http: requests.Session) -> None:
    assert get(sim, http, f"/integrations/runs/{S3}").status_code == 400  # offset and limit required
    body = get(sim, http, f"/integrations/runs/{S3}", offset=0, limit=100).json()
    history = body["history_of_runs"]
    assert history["integrationId"] == S3 and history["totalRuns"] == len(history["runs"]) >= 4
    assert body["meta"]["paging"]["totalSize"] == history["totalRuns"]
    never = get(sim, http, f"/integrations/runs/{NEVER}", offset=0, limit=5).json()["history_of_runs"]
    assert never["runs"] == [] and never["schedule"] is None and never["totalRuns"] == 0
    finished = [r for r in history["runs"] if "endDate" in r]
    codes = {r["executionErrorCode"] for r in finished}
    assert {38, 12, 35} <= codes  # partial success, failed task, file missing in the bucket
    for record in finished:
        assert record["lastRun"] == calendar.timegm(
            time.strptime(record["endDate"][:19], "%Y-%m-%dT%H:%M:%S")
        )
        run_body = get(sim, http, f"/integrations/run/{record['id']}").json()
        assert run_body["meta"]["schema"].endswith("/1/0/integrations/objects/run")  # as Anaplan: 1/0
        run = run_body["run"]
        assert run["integrationId"] == S3 and run["executionErrorCode"] == record["executionErrorCode"]
        assert run["flowGroupId"] is None
        errors = get(sim, http, f"/integrations/runerror/{record['id']}").json()["runs"]
        if record["executionErrorCode"] == 38:
            assert record["success"] is True and errors[0]["taskId"]
        elif record["executionErrorCode"] == 35:
            assert record["success"] is False and "taskId" not in errors[0]
            assert "NoSuchKey" in errors[0]["errorMessages"][0]["errorMessage"][0]["localMessageText"]
        elif record["executionErrorCode"] == 12:
            assert errors[0]["errorMessages"][0]["actionId"] == "112000000007"
    blob = get(sim, http, f"/integrations/runs/{BLOB}", offset=0, limit=5).json()["history_of_runs"]["runs"]
    assert get(sim, http, f"/integrations/runerror/{blob[0]['id']}").json()["runs"] == {}  # an object
    assert get(sim, http, "/integrations/run/" + "0" * 32).status_code == 404


def test_tasks_exist_for_runs_and_not_for_connector_failures(
    sim: SimulatorHandle, http: requests.Session
) -> None:
    cloudworks_truth = requests.get(sim.url + "/__sim/cloudworks-truth", timeout=10).json()
    truth = {t["task_id"] for t in sim.ground_truth() if t["object_id"] == "112000000007"}  # read after
    runs = [r for r in cloudworks_truth if r.get("integration_id") == S3]
    assert runs and all((r["task_id"] is None) == (r["connector_failure"] != "none") for r in runs)
    created = {r["task_id"] for r in runs if r["task_id"]}
    assert created <= truth
    assert len(truth) - len(created) <= 1  # every task of the object is one of the integration's runs
    # (but one created between the two reads)


def test_flows(sim: SimulatorHandle, http: requests.Session) -> None:
    flows = get(sim, http, "/integrationflows").json()
    assert flows["integrationFlows"][0]["id"] == FLOW and flows["integrationFlows"][0]["stepsCount"] == 2
    assert "latestRun" not in flows["integrationFlows"][0]  # never runs: no every
    quick = get(sim, http, f"/integrationflows/{QUICK}").json()["integrationFlow"]
    assert quick["latestRun"]["triggerSource"] == "scheduled"
    step_run = quick["steps"][0]["latestRun"]
    assert (
        step_run["triggerSource"] == "scheduled_inf"
        and step_run["startDate"] == quick["latestRun"]["startDate"]
    )
    history = get(sim, http, f"/integrations/runs/{S3}", offset=0, limit=100).json()["history_of_runs"][
        "runs"
    ]
    in_flow = [r for r in history if r["triggerSource"] == "scheduled_inf"]
    assert (
        in_flow
        and get(sim, http, f"/integrations/run/{in_flow[0]['id']}").json()["run"]["flowGroupId"] == QUICK
    )
    flow = get(sim, http, f"/integrationflows/{FLOW}").json()["integrationFlow"]
    assert [s["referrer"] for s in flow["steps"]] == [S3, BLOB]
    assert flow["steps"][1]["dependsOn"] == [S3] and flow["steps"][0]["modelId"] == MODEL
    assert {"type": "failure", "strategy": "stop"} in flow["steps"][0]["exceptionBehavior"]
    assert get(sim, http, "/integrationflows/" + "e" * 32).status_code == 404


def test_auth_role_and_read_only(sim: SimulatorHandle, http: requests.Session) -> None:
    assert requests.get(sim.url + CW + "/integrations", timeout=10).status_code == 401
    token = str(http.headers["Authorization"]).split()[1]
    bearer = {"Authorization": "Bearer " + token}
    assert requests.get(sim.url + CW + "/integrations", headers=bearer, timeout=10).status_code == 200
    denied = _session(sim, "norole@example.com")
    answer = denied.get(sim.url + CW + "/integrations", timeout=10)
    assert answer.status_code == 403 and answer.json()["status"]["code"] == 403
    assert denied.get(sim.api_url + "/workspaces", timeout=10).status_code == 200
    before = sim.stats()
    assert http.post(sim.url + CW + f"/integrations/{S3}/run", timeout=10).status_code == 405
    assert json.dumps(sim.stats()) != json.dumps(before)


def test_ground_truth_file_records_cloudworks_runs(sim: SimulatorHandle) -> None:
    assert sim.ground_truth_file is not None
    deadline = time.monotonic() + 15
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(records) < 3:
        lines = [json.loads(line) for line in sim.ground_truth_file.read_text(encoding="utf-8").splitlines()]
        records = [line for line in lines if line.get("record") == "cloudworks_run"]
        time.sleep(0.2)
    assert len(records) >= 3 and len({r["run_id"] for r in records}) == len(records)
    known = {
        r["run_id"]: r
        for r in requests.get(sim.url + "/__sim/cloudworks-truth", timeout=10).json()
        if r["record"] == "cloudworks_run"
    }
    assert all(known[r["run_id"]]["finish_time"] == r["finish_time"] for r in records)


# --- the engine, without HTTP ---


def test_default_scenario_fails_a_connector_within_two_minutes() -> None:
    engine = Engine(load_scenario(None), start=1_800_000_000.0)
    runs = CloudWorksRuns(engine)
    early = [r for r in runs.finished_between(engine.epoch, engine.epoch + 120)]
    failures = [r for r in early if r.task is None]
    assert failures and "sig=" in failures[0].message  # the expired SAS token, for the scrubbing tests
    assert {r.result for r in early} >= {"success", "partial", "failure"}
    assert len(engine.scenario.cloudworks.integrations) == 3 and len(engine.scenario.cloudworks.flows) == 1


def test_a_connector_failure_leaves_its_slot_without_a_task() -> None:
    engine = Engine(parse_scenario(copy.deepcopy(SCENARIO)), start=1_800_000_000.0)
    obj = engine.object(MODEL, "112000000007")
    assert obj is not None
    runs = CloudWorksRuns(engine)
    integration = runs.integrations[S3]
    now = engine.epoch + 12
    tasks = {r.task_id for r in engine.runs(WS, MODEL, obj, now)}
    for run in runs.runs(integration, now):
        if run.trigger_source != "scheduled":
            continue  # the quick flow's runs
        if run.index % 4 == 2:
            assert run.task is None and run.error_code == 35 and run.end - run.start == 2.0
        else:
            assert run.task is not None and run.task.task_id in tasks
            assert run.start == run.task.created and run.end == run.task.ends + 1.0


def _manual_and_flow_scenario(**flow: Any) -> dict[str, Any]:
    once = {"every": 100, "duration": 1, "until": 0}  # no runs of their own: CloudWorks starts them
    return {
        "workspaces": [
            {
                "id": WS,
                "name": "W",
                "models": [
                    {
                        "id": MODEL,
                        "name": "M",
                        "imports": [{"id": "112000000001", "name": "I", **once}],
                        "exports": [{"id": "116000000001", "name": "E", **once}],
                    }
                ],
            }
        ],
        "cloudworks": {
            "integrations": [
                {
                    "name": "A",
                    "object": "112000000001",
                    "manual": [{"at": 5, "outcome": "failure"}, {"at": 7, "outcome": "file_missing"}],
                },
                {"name": "B", "object": "116000000001", "connector": "azure_blob"},
            ],
            "flows": [
                {
                    "name": "AB",
                    "every": 10,
                    "steps": [{"integration": "A", "outcomes": ["success", "failure"]}, {"integration": "B"}],
                    **flow,
                }
            ],
        },
    }


def test_flow_runs_steps_in_order_and_stops_after_a_failure() -> None:
    engine = Engine(parse_scenario(_manual_and_flow_scenario()), start=1_800_000_000.0)
    runs = CloudWorksRuns(engine)
    flow = engine.scenario.cloudworks.flows[0]
    first, second = runs.flow_runs(flow, engine.epoch + 19)
    assert [r.integration.name for r in first.steps] == ["A", "B"] and first.result == "success"
    assert first.steps[1].start == first.steps[0].end + 1.0  # the next step starts after the one before
    assert all(r.trigger_source == "scheduled_inf" and r.flow_id == flow.id for r in first.steps)
    assert [r.integration.name for r in second.steps] == ["A"] and second.result == "failure"
    assert second.stopped_after == second.steps[0].integration.id
    truth = runs.flow_truth(second)
    assert (
        truth["record"] == "cloudworks_flow_run" and truth["stopped_after"] == second.steps[0].integration.id
    )


def test_manual_and_flow_runs_create_tasks_in_the_objects_list() -> None:
    engine = Engine(parse_scenario(_manual_and_flow_scenario()), start=1_800_000_000.0)
    runs = CloudWorksRuns(engine)
    a = engine.scenario.cloudworks.integrations[0]
    obj = engine.object(MODEL, "112000000001")
    assert obj is not None
    now = engine.epoch + 15
    tasks = engine.runs(WS, MODEL, obj, now)
    created = [r for r in runs.runs(a, now) if r.task is not None]
    assert [t.task_id for t in tasks] == [r.task.task_id for r in created if r.task]  # oldest first
    manual = [r for r in runs.runs(a, now) if r.trigger_source == "manual"]
    assert [(r.start - engine.epoch, r.result, r.task is None) for r in manual] == [
        (5.0, "failure", False),
        (7.0, "failure", True),
    ]
    task_id = manual[0].task.task_id if manual[0].task else ""
    found = engine.find_run(WS, MODEL, obj, task_id, now)
    assert found is not None and found.created == engine.epoch + 5 and not found.successful
    finished = engine.finished_between(engine.epoch, now)
    assert task_id in {r.task_id for r in finished}


# --- the scenario ---


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(SCENARIO)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["cloudworks", "integrations", 0, "object"],
            "112000000999",
            "cloudworks.integrations[0].object: no import",
        ),
        (
            ["cloudworks", "integrations", 0, "id"],
            "ABC",
            "cloudworks.integrations[0].id: must be 32 lowercase hex",
        ),
        (
            ["cloudworks", "integrations", 0, "connector"],
            "ftp",
            "cloudworks.integrations[0].connector: must be one of",
        ),
        (["cloudworks", "integrations", 0, "schedule", "time"], "25:00", "schedule.time: must be HH:MM"),
        (["cloudworks", "integrations", 0, "schedule", "type"], "yearly", "schedule.type: must be one of"),
        (["cloudworks", "integrations", 1, "schedule", "repeatEvery"], 0, "schedule.repeatEvery: must be -1"),
        (
            ["cloudworks", "integrations", 0, "connector_failures"],
            ["oops"],
            "connector_failures[0]: must be one of",
        ),
        (
            ["cloudworks", "integrations", 2, "connector_failures"],
            ["file_missing"],
            "needs an Active 'schedule'",
        ),
        (["cloudworks", "integrations", 2, "schedule"], {"type": "daily", "time": "01:00"}, "has no 'every'"),
        (["cloudworks", "integrations", 1, "object"], "112000000007", "already run on a schedule"),
        (["cloudworks", "flows", 0, "steps", 1, "integration"], "nope", "no integration with id or name"),
        (["cloudworks", "flows", 0, "steps", 1, "integration"], S3, "already a step of this flow"),
        (["cloudworks", "flows", 0, "steps", 0, "on_failure"], "retry", "on_failure: must be one of stop"),
        (["cloudworks", "bogus"], 1, "cloudworks.bogus: unknown key"),
        (["users", 1, "cloudworks_role"], "no", "users[1].cloudworks_role: must be true or false"),
        (["cloudworks", "flows", 1, "every"], 2, "flows[1].every: the steps can take 3 s"),
        (["cloudworks", "flows", 0, "offset"], 5, "flows[0].offset: needs 'every'"),
        (
            ["cloudworks", "flows", 1, "steps", 0, "outcomes"],
            ["maybe"],
            "steps[0].outcomes[0]: must be one of",
        ),
        (
            ["cloudworks", "integrations", 1, "manual"],
            [{"at": 1, "outcome": "failure_dump"}],
            "only possible",
        ),
        (
            ["cloudworks", "integrations", 2, "manual"],
            [{"at": 1}],
            "integrations[2].manual: object 116000000003",
        ),
    ],
)
def test_cloudworks_section_errors_name_the_key(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_broken(path, value), source="s.yml")
    text = str(raised.value)
    assert text.startswith("s.yml: ") and message in text and "\n" not in text
