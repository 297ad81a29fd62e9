"""The client's endpoints: paths, query parameters, paging across several pages, GET only."""

from __future__ import annotations

import inspect
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from anaplan_exporter.anaplan.auth import StaticTokenCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.models import ObjectType, TaskState

from .conftest import MakeClient
from .fakes import API, load

STATIC = StaticTokenCredentials("static-tok")
W, M = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
BASE = f"{API}/workspaces/{W}/models/{M}"


def _query(call: object) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)  # type: ignore[attr-defined]


def _page(offset: int, size: int, total: int, key: str = "imports") -> dict[str, object]:
    items = [{"id": f"112{n:09d}", "name": f"Import {n}"} for n in range(offset, min(offset + size, total))]
    paging = {"currentPageSize": len(items), "offset": offset, "totalSize": total}
    return {
        "meta": {"paging": paging, "schema": "x"},
        "status": {"code": 200, "message": "Success"},
        key: items,
    }


def test_paging_follows_meta_paging_across_pages(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    url = f"{BASE}/imports"
    for offset in (0, 2, 4):
        http.get(
            url,
            json=_page(offset, 2, 5),
            match=[responses.matchers.query_param_matcher({"offset": str(offset), "limit": "2"})],
        )
    objects = make_client(STATIC, page_size=2).list_objects(W, M, ObjectType.IMPORT)
    assert [o.id for o in objects] == [f"112{n:09d}" for n in range(5)]
    assert [_query(c)["offset"] for c in http.calls] == [["0"], ["2"], ["4"]]
    assert all(o.type is ObjectType.IMPORT for o in objects)


def test_default_page_size_and_single_page_without_meta(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(f"{API}/workspaces", json={"workspaces": [{"id": "w1", "name": "One", "active": True}]})
    assert [w.name for w in make_client(STATIC).list_workspaces()] == ["One"]
    assert _query(http.calls[0]) == {"offset": ["0"], "limit": ["5000"]}


def test_missing_list_key_is_empty(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(
        f"{BASE}/actions", json={"meta": {"paging": {"currentPageSize": 0, "offset": 0, "totalSize": 0}}}
    )
    assert make_client(STATIC).list_objects(W, M, ObjectType.ACTION) == []
    assert len(http.calls) == 1


def test_paging_that_does_not_advance_stops(http: responses.RequestsMock, make_client: MakeClient) -> None:
    stuck = {"meta": {"paging": {"currentPageSize": 0, "offset": 0, "totalSize": 10}}, "processes": []}
    http.get(f"{BASE}/processes", json=stuck)
    assert make_client(STATIC).list_objects(W, M, ObjectType.PROCESS) == []
    assert len(http.calls) == 1


def test_list_models(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(
        f"{API}/workspaces/{W}/models", json={"models": [{"id": M, "name": "Plan", "currentWorkspaceId": W}]}
    )
    (model,) = make_client(STATIC).list_models(W)
    assert (model.id, model.workspace_id) == (M, W)


def test_list_tasks_pages_and_falls_back_to_single_task(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    url = f"{BASE}/exports/116000000002/tasks"
    first = {
        "meta": {"paging": {"currentPageSize": 1, "offset": 0, "totalSize": 2}},
        "tasks": [{"taskId": "T1", "taskState": "COMPLETE", "creationTime": 1535145589808}],
    }
    second = {
        "meta": {"paging": {"currentPageSize": 1, "offset": 1, "totalSize": 2}},
        "task": {"taskId": "T2", "taskState": "IN_PROGRESS", "creationTime": "1535145599808"},
    }
    query = {"sort": "-creationDate", "limit": "1"}
    http.get(url, json=first, match=[responses.matchers.query_param_matcher({**query, "offset": "0"})])
    http.get(url, json=second, match=[responses.matchers.query_param_matcher({**query, "offset": "1"})])
    tasks = make_client(STATIC, page_size=1).list_tasks(W, M, ObjectType.EXPORT, "116000000002")
    # The whole list (no ``since``), newest first whatever order the pages came in.
    assert [(t.task_id, t.state) for t in tasks] == [
        ("T2", TaskState.IN_PROGRESS),
        ("T1", TaskState.COMPLETE),
    ]
    assert tasks[0].creation_time == pytest.approx(1535145599.808)


def test_task_status_for_a_process_asks_for_details(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    url = f"{BASE}/processes/118000000002/tasks/2846F8E2FD624F7FA91EC6E2F6E318C0"
    http.get(url, json=load("process_task_status_details.json"))
    task = make_client(STATIC).task_status(
        W, M, ObjectType.PROCESS, "118000000002", "2846F8E2FD624F7FA91EC6E2F6E318C0"
    )
    assert _query(http.calls[0]) == {"includeProcessDetails": ["true"]}
    assert task.result is not None and task.result.nested[0].duration_seconds == pytest.approx(1.112)


def test_task_status_for_an_action_has_no_query(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    url = f"{BASE}/actions/117000000019/tasks/0690AA1C761F48549C3442A02F91D962"
    http.get(url, json=load("action_task_status.json"))
    task = make_client(STATIC).task_status(
        W, M, ObjectType.ACTION, "117000000019", "0690AA1C761F48549C3442A02F91D962"
    )
    assert urlsplit(http.calls[0].request.url).query == ""
    assert task.state is TaskState.COMPLETE


def test_process_metadata_and_path_escaping(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(
        f"{BASE}/processes/118000000002",
        json={"processMetadata": {"name": "P", "actions": [{"id": "117000000015", "name": "Del"}]}},
    )
    metadata = make_client(STATIC).process_metadata(W, M, "118000000002")
    assert metadata.steps[0].object_id == "117000000015"
    http.get(f"{API}/workspaces/a%2Fb/models", json={"models": []})
    assert make_client(STATIC).list_models("a/b") == []


def test_requests_are_get_only_with_headers(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(f"{API}/workspaces", json={"workspaces": []})
    client = make_client(STATIC, user_agent="anaplan-exporter/test")
    client.list_workspaces()
    request = http.calls[0].request
    assert request.method == "GET"
    assert request.headers["Authorization"] == "AnaplanAuthToken static-tok"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == "anaplan-exporter/test"


def test_client_has_no_method_that_changes_anything() -> None:
    public = {name for name, _ in inspect.getmembers(AnaplanClient) if not name.startswith("_")}
    assert public == {
        "list_workspaces",
        "list_models",
        "list_objects",
        "process_metadata",
        "list_tasks",
        "task_status",
        "get_json",
        "settings",
        "token_expires_at",
        "auth_refusal",
        "retry_auth_now",
        "use_credentials",
        "redactor",
        "budget",
        "stop",
        "close",
    }
