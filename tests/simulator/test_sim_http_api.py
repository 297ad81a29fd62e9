"""Integration API of the real simulator process: envelopes, paging, 404s, task documents, ground truth."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.simulator import SimulatorHandle, running_simulator

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
SCENARIO: dict[str, Any] = {
    "users": [{"username": "u@example.com", "password": "pw"}],
    "workspaces": [
        {
            "id": WS,
            "name": "W",
            "models": [
                {
                    "id": MODEL,
                    "name": "M",
                    "processes": [
                        {
                            "id": "118000000002",
                            "name": "Nightly",
                            "steps": [{"id": "117000000015", "name": "Clear"}, {"id": "112000000007"}],
                            "step_durations": [1, 2],
                            "every": 3600,
                            "offset": 1800,  # no live run during the test: history only
                            "history": 3,
                            "outcomes": ["success", "failure_dump", "cancelled"],
                            "fail_step": 2,
                        },
                        {
                            "id": "118000000003",
                            "name": "Running now",
                            "steps": [{"id": "112000000007"}, {"id": "116000000002", "name": "Out"}],
                            "step_durations": [2, 2],
                            "every": 3600,
                        },
                    ],
                    "imports": [
                        {
                            "id": "112000000007",
                            "name": "Employees",
                            "rows": {"total": 95, "success": 90, "ignored": 5},
                            "every": 3600,
                            "offset": 1800,
                            "duration": 5,
                            "history": 2,
                            "outcomes": ["failure", "success"],
                        }
                    ],
                    "exports": [{"id": "116000000002", "name": "Never run"}],
                    "actions": [
                        {"id": "117000000019", "name": "Delete", "every": 1, "duration": 0.4, "history": 1}
                    ],
                    "generate": {"processes": 12, "every": 3600, "duration": 60, "offset": 1800},
                }
            ],
        }
    ],
}
BASE = f"/workspaces/{WS}/models/{MODEL}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with running_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(scope="module")
def http(sim: SimulatorHandle) -> requests.Session:
    session = requests.Session()
    auth = "Basic " + base64.b64encode(b"u@example.com:pw").decode()
    token = session.post(sim.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
    session.headers["Authorization"] = "AnaplanAuthToken " + token.json()["tokenInfo"]["tokenValue"]
    return session


def get(sim: SimulatorHandle, http: requests.Session, path: str, **params: Any) -> requests.Response:
    return http.get(sim.api_url + path, params=params, timeout=10)


def tasks_of(sim: SimulatorHandle, http: requests.Session, kind: str, obj: str) -> list[dict[str, Any]]:
    body = get(sim, http, f"{BASE}/{kind}/{obj}/tasks").json()
    items: list[dict[str, Any]] = body.get("tasks", [])
    return items


def test_lists_use_anaplans_envelope(sim: SimulatorHandle, http: requests.Session) -> None:
    body = get(sim, http, "/workspaces").json()
    assert body["status"] == {"code": 200, "message": "Success"}
    assert body["meta"]["paging"] == {"currentPageSize": 1, "offset": 0, "totalSize": 1}
    assert body["workspaces"] == [{"id": WS, "name": "W", "active": True}]
    models = get(sim, http, f"/workspaces/{WS}/models").json()["models"]
    assert models[0]["id"] == MODEL and models[0]["currentWorkspaceId"] == WS
    imports = get(sim, http, f"{BASE}/imports").json()["imports"]
    assert imports == [
        {
            "id": "112000000007",
            "name": "Employees",
            "importDataSourceId": "113000000007",
            "importType": "HIERARCHY_DATA",
        }
    ]
    actions = get(sim, http, f"/models/{MODEL}/actions").json()["actions"]
    assert actions[0]["actionType"] == "DELETE_BY_SELECTION"
    metadata = get(sim, http, f"{BASE}/processes/118000000002").json()["processMetadata"]
    assert metadata["name"] == "Nightly"
    assert [(a["id"], a["name"], a["actionType"]) for a in metadata["actions"]] == [
        ("117000000015", "Clear", "DELETE_BY_SELECTION"),
        ("112000000007", "Employees", "IMPORT"),
    ]


def test_paging_with_offset_limit_and_links(sim: SimulatorHandle, http: requests.Session) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        body = get(sim, http, f"{BASE}/processes", offset=offset, limit=5).json()
        paging = body["meta"]["paging"]
        assert paging["totalSize"] == 14 and paging["offset"] == offset
        seen += [p["id"] for p in body["processes"]]
        assert ("previous" in paging) == (offset > 0)
        if "next" not in paging:
            break
        assert f"offset={offset + 5}" in paging["next"] and paging["next"].startswith(sim.api_url)
        offset += 5
    assert len(seen) == len(set(seen)) == 14 and seen[2] == "118000000004"
    assert get(sim, http, f"{BASE}/processes", limit=0).status_code == 400
    assert get(sim, http, f"{BASE}/processes", offset="x").status_code == 400
    beyond = get(sim, http, f"{BASE}/processes", offset=100).json()
    assert "processes" not in beyond and beyond["meta"]["paging"]["currentPageSize"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/workspaces/ffff/models",
        f"/workspaces/ffff/models/{MODEL}/imports",
        "/models/00000000000000000000000000000000/processes",
        f"{BASE}/processes/118000000099",
        f"{BASE}/processes/118000000002/tasks/0690AA1C761F48549C3442A02F91D962",
        f"/workspaces/ffff/models/{MODEL}/processes/118000000002/tasks/0690AA1C761F48549C3442A02F91D962",
        f"{BASE}/imports/118000000002/tasks/0690AA1C761F48549C3442A02F91D962",
        f"{BASE}/modules",
        "/nothing",
    ],
)
def test_unknown_ids_give_the_integration_404_body(
    sim: SimulatorHandle, http: requests.Session, path: str
) -> None:
    response = get(sim, http, path)
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == {"code": 404, "message": "Not Found"} and body["path"] == "/2/0" + path
    assert body["timestamp"].endswith("Z")


def test_model_under_workspace_is_405_as_on_anaplan(sim: SimulatorHandle, http: requests.Session) -> None:
    assert get(sim, http, BASE).status_code == 405
    assert get(sim, http, f"/models/{MODEL}").json()["model"]["name"] == "M"


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}/exports/116000000002/tasks",  # exists, never ran
        f"{BASE}/exports/116000000099/tasks",  # unknown object
        f"/workspaces/ffff/models/{MODEL}/imports/112000000007/tasks",  # unknown workspace
    ],
)
def test_empty_task_lists_are_200_without_the_key(
    sim: SimulatorHandle, http: requests.Session, path: str
) -> None:
    response = get(sim, http, path)
    assert response.status_code == 200
    body = response.json()
    assert "tasks" not in body and body["meta"]["paging"]["totalSize"] == 0


def test_process_task_documents_look_like_the_seed(sim: SimulatorHandle, http: requests.Session) -> None:
    listed = tasks_of(sim, http, "processes", "118000000002")
    assert [t["taskState"] for t in listed] == ["COMPLETE", "COMPLETE", "CANCELLED"]
    assert [t["creationTime"] for t in listed] == sorted(t["creationTime"] for t in listed)
    success_id, failed_id, cancelled_id = (t["taskId"] for t in listed)
    path = f"{BASE}/processes/118000000002/tasks/"

    plain = get(sim, http, path + success_id).json()
    assert plain["status"] == {"code": 200, "message": "Success"} and plain["meta"]["schema"].endswith(
        "/task"
    )
    task = plain["task"]
    assert (task["type"], task["taskId"], task["currentStep"], task["progress"]) == (
        "taskInformation",
        success_id,
        "Complete.",
        1,
    )
    assert task["result"]["successful"] is True and "duration" not in task["result"]

    detailed = get(sim, http, path + success_id, includeProcessDetails="true").json()["task"]["result"]
    assert isinstance(detailed["duration"], str) and detailed["duration"] == "3000"
    assert isinstance(detailed["startTime"], str) and int(detailed["startTime"]) > 1_600_000_000_000
    assert [(n["objectId"], n["duration"]) for n in detailed["nestedResults"]] == [
        ("117000000015", "1000"),
        ("112000000007", "2000"),
    ]

    failed = get(sim, http, path + failed_id, includeProcessDetails="true").json()["task"]
    assert failed["currentStep"] == "Failed." and failed["result"]["successful"] is False
    assert failed["result"]["failureDumpAvailable"] is True
    nested = failed["result"]["nestedResults"]
    assert [n["successful"] for n in nested] == [True, False] and nested[1]["failureDumpAvailable"] is True
    assert nested[1]["details"][0]["type"] == "hierarchyRowsProcessed"

    cancelled = get(sim, http, path + cancelled_id).json()["task"]
    assert (cancelled["taskState"], cancelled["currentStep"]) == ("CANCELLED", "Cancelled.")
    assert [n["objectId"] for n in cancelled["result"]["nestedResults"]] == ["117000000015"]


def test_import_and_action_results(sim: SimulatorHandle, http: requests.Session) -> None:
    failed_id, ok_id = (t["taskId"] for t in tasks_of(sim, http, "imports", "112000000007"))
    failed = get(sim, http, f"{BASE}/imports/112000000007/tasks/{failed_id}").json()["task"]
    ok = get(sim, http, f"{BASE}/imports/112000000007/tasks/{ok_id}").json()["task"]
    assert failed["result"]["successful"] is False and failed["result"]["failureDumpAvailable"] is False
    values = ok["result"]["details"][0]["values"]
    counts = dict(zip(values[::2], values[1::2], strict=True))
    assert counts["totalRowCount"] == "95" and counts["ignoredCount"] == "5" and counts["failedCount"] == "0"
    bad_values = failed["result"]["details"][0]["values"]
    assert dict(zip(bad_values[::2], bad_values[1::2], strict=True))["failedCount"] == "9"
    action_id = tasks_of(sim, http, "actions", "117000000019")[0]["taskId"]
    action = get(sim, http, f"{BASE}/actions/117000000019/tasks/{action_id}").json()["task"]
    assert action["result"] == {"failureDumpAvailable": False, "objectId": "117000000019", "successful": True}


def test_a_live_process_reports_its_current_step_then_completes(
    sim: SimulatorHandle, http: requests.Session
) -> None:
    (listed,) = tasks_of(sim, http, "processes", "118000000003")
    path = f"{BASE}/processes/118000000003/tasks/{listed['taskId']}"
    first = get(sim, http, path).json()["task"]
    if first["taskState"] == "IN_PROGRESS":  # the run lasts 4 s from simulator start
        assert first["currentStep"] in ("Employees", "Out") and "result" not in first
        assert 0 <= first["progress"] < 1
    deadline = time.monotonic() + 15
    task = first
    while task["taskState"] != "COMPLETE" and time.monotonic() < deadline:
        time.sleep(0.2)
        task = get(sim, http, path).json()["task"]
    assert task["taskState"] == "COMPLETE" and task["currentStep"] == "Complete."


def test_ground_truth_agrees_with_the_api(sim: SimulatorHandle, http: requests.Session) -> None:
    truth = sim.ground_truth()
    started_at = sim.stats()["started_at"]  # schedule offsets count from here
    running_now = next(t for t in truth if t["object_id"] == "118000000003")
    assert running_now["creation_time"] == started_at
    settled = [t for t in truth if t["history"]]
    assert len(settled) == 3 + 2 + 1
    for entry in settled:
        kind = {"process": "processes", "import": "imports", "action": "actions"}[entry["object_type"]]
        url = f"/workspaces/{entry['workspace_id']}/models/{entry['model_id']}/{kind}/{entry['object_id']}"
        task = get(sim, http, f"{url}/tasks/{entry['task_id']}").json()["task"]
        assert task["taskState"] == entry["state"]
        assert task["creationTime"] == round(entry["creation_time"] * 1000)
        result = task["result"]
        assert result["successful"] is (entry["outcome"] == "success")
        assert result["failureDumpAvailable"] is entry["failure_dump"]
        assert entry["finish_time"] is not None and entry["finish_time"] < entry["creation_time"] + 10


def test_ground_truth_file_lists_each_live_run_once(sim: SimulatorHandle) -> None:
    assert sim.ground_truth_file is not None
    deadline = time.monotonic() + 15
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:  # the delete action finishes a run every second
        text = sim.ground_truth_file.read_text(encoding="utf-8")
        lines = [json.loads(line) for line in text.splitlines()]
        lines = [line for line in lines if "record" not in line]  # tasks only, not CloudWorks runs
        if sum(1 for line in lines if line["object_id"] == "117000000019") >= 3:
            break
        time.sleep(0.2)
    actions = [line for line in lines if line["object_id"] == "117000000019"]
    assert len(actions) >= 3
    assert not any(line["history"] for line in lines)
    assert len({line["task_id"] for line in lines}) == len(lines)
    assert all(line["outcome"] == "success" and line["state"] == "COMPLETE" for line in actions)
    known = {t["task_id"]: t for t in sim.ground_truth()}
    assert all(known[line["task_id"]]["finish_time"] == line["finish_time"] for line in lines)


def test_non_get_requests_are_refused_and_counted(sim: SimulatorHandle, http: requests.Session) -> None:
    task = tasks_of(sim, http, "processes", "118000000002")[0]
    assert get(sim, http, f"{BASE}/processes/118000000002/tasks/{task['taskId']}").status_code == 200
    before = sim.stats()["non_get_integration_requests"]
    path = sim.api_url + f"{BASE}/processes/118000000002/tasks"
    assert http.post(path, json={"localeName": "en_US"}, timeout=10).status_code == 405
    assert http.delete(path + "/0690AA1C761F48549C3442A02F91D962", timeout=10).status_code == 405
    stats = sim.stats()
    assert stats["non_get_integration_requests"] == before + 2
    assert stats["non_get_integration_recent"][-1].startswith("DELETE /2/0/workspaces/")
    assert stats["requests"]["task_status"]["200"] >= 1 and stats["max_requests_per_second"] >= 1
