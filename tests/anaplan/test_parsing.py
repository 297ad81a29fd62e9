"""Parsing Anaplan's documents: the official seeds, numbers as strings, odd and broken shapes."""

from __future__ import annotations

import contextlib
import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.errors import AnaplanResponseError
from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, TaskState
from anaplan_exporter.anaplan.parsing import (
    Paging,
    parse_models,
    parse_oauth_token,
    parse_objects,
    parse_paging,
    parse_process_metadata,
    parse_task_list,
    parse_task_status,
    parse_token_info,
    parse_workspaces,
)

from .fakes import load

IMPORT_STATUS = {
    "meta": {"schema": "https://api.anaplan.com/2/0/models/F1111111C11111111B11111F1111E11F/objects/task"},
    "status": {"code": 200, "message": "Success"},
    "task": {
        "taskId": "1B1D84DDD53847BAA621810B593C3FC1",
        "currentStep": "Complete.",
        "progress": 1.0,
        "result": {
            "details": [
                {
                    "localMessageText": "Employees: 90 (0/90) rows successful, 5 ignored ",
                    "occurrences": 0,
                    "type": "hierarchyRowsProcessed",
                    "values": [
                        "hierarchyName", "Employees", "successRowCount", "90", "successCreateCount", "0",
                        "successUpdateCount", "90", "warningsRowCount", "0", "warningsCreateCount", "0",
                        "warningsUpdateCount", "0", "failedCount", "0", "ignoredCount", "5", "totalRowCount",
                        "95", "totalCreateCount", "0", "totalUpdateCount", "90", "invalidCount", "0",
                        "updatedCount", "90", "renamedCount", "90", "createdCount", "0",
                    ],
                }
            ],
            "failureDumpAvailable": False,
            "objectId": "112000000009",
            "successful": True,
        },
        "taskState": "COMPLETE",
        "creationTime": 1571258347545,
    },
}  # fmt: skip


def test_action_seed_document() -> None:
    task = parse_task_status(load("action_task_status.json"))
    assert task.task_id == "0690AA1C761F48549C3442A02F91D962"
    assert task.state is TaskState.COMPLETE and task.raw_state == "COMPLETE"
    assert task.progress == 1.0
    assert task.current_step == "Complete."
    assert task.creation_time is None
    assert task.result is not None
    assert task.result.successful is True
    assert task.result.failure_dump_available is False
    assert task.result.object_id == "117000000019"
    assert task.result.nested == () and task.result.row_counts is None


def test_process_seed_document() -> None:
    task = parse_task_status(load("process_task_status.json"))
    assert task.task_id == "2846F8E2FD624F7FA91EC6E2F6E318C0"
    assert task.result is not None and task.result.object_id == "118000000002"
    assert [step.object_id for step in task.result.nested] == ["117000000015"]
    assert task.result.duration_seconds is None and task.result.start_time is None


def test_process_seed_with_details_reads_string_milliseconds() -> None:
    task = parse_task_status(load("process_task_status_details.json"))
    assert task.result is not None
    assert task.result.duration_seconds == pytest.approx(0.868)
    assert task.result.start_time == pytest.approx(1677624626.034)
    (step,) = task.result.nested
    assert step.successful is True
    assert step.duration_seconds == pytest.approx(1.112)
    assert step.start_time == pytest.approx(1677624625.790)


def test_import_details_become_values_and_row_counts() -> None:
    task = parse_task_status(IMPORT_STATUS)
    assert task.creation_time == pytest.approx(1571258347.545)
    assert task.result is not None
    (detail,) = task.result.details
    assert detail.type == "hierarchyRowsProcessed"
    assert detail.message.startswith("Employees: 90")
    assert detail.values["hierarchyName"] == "Employees"
    assert detail.values["totalRowCount"] == "95"
    assert task.result.row_counts == ImportRowCounts(total=95, success=90, failed=0, ignored=5, warnings=0)


def test_row_counts_sum_across_details_and_nested_results_recurse() -> None:
    body = copy.deepcopy(IMPORT_STATUS)
    result = body["task"]["result"]  # type: ignore[index]
    result["details"].append(
        {"type": "hierarchyRowsProcessed", "values": ["totalRowCount", 10, "failedCount", "3", "odd"]}
    )
    outer = {
        "task": {
            "taskId": "P",
            "taskState": "COMPLETE",
            "result": {"successful": "false", "nestedResults": [result]},
        }
    }
    task = parse_task_status(outer)
    assert task.result is not None and task.result.successful is False
    assert task.result.row_counts is None
    (nested,) = task.result.nested
    assert nested.row_counts == ImportRowCounts(total=105, success=90, failed=3, ignored=5, warnings=0)
    assert nested.details[1].values == {"totalRowCount": "10", "failedCount": "3"}


def test_bare_task_strings_everywhere_and_unknown_fields() -> None:
    task = parse_task_status(
        {
            "taskId": "ABC",
            "taskState": "paused_for_lunch",
            "progress": "0.25",
            "creationTime": "1677624625790",
            "cancelledBy": "bob",
            "somethingNew": {"nested": [1, 2]},
            "result": {
                "successful": "TRUE",
                "failureDumpAvailable": "true",
                "objectId": 112000000001,
                "objectName": "Load",
            },
        }
    )
    assert task.state is TaskState.UNKNOWN and task.raw_state == "paused_for_lunch"
    assert task.progress == 0.25
    assert task.creation_time == pytest.approx(1677624625.790)
    assert task.cancelled_by == "bob"
    assert task.result is not None
    assert task.result.successful and task.result.failure_dump_available
    assert task.result.object_id == "112000000001" and task.result.object_name == "Load"


def test_in_progress_task_without_result_or_optional_fields() -> None:
    task = parse_task_status({"task": {"taskId": "X", "taskState": "IN_PROGRESS"}})
    assert task.state is TaskState.IN_PROGRESS
    assert task.progress is None and task.result is None and task.current_step == ""


@pytest.mark.parametrize(
    "result",
    [None, [], "done", {"objectId": "1"}, {"successful": "maybe"}],
)
def test_result_without_a_readable_outcome_is_absent(result: object) -> None:
    assert (
        parse_task_status({"task": {"taskId": "X", "taskState": "COMPLETE", "result": result}}).result is None
    )


def test_odd_values_are_ignored_not_fatal() -> None:
    task = parse_task_status(
        {
            "task": {
                "taskId": "X",
                "taskState": "COMPLETE",
                "progress": "NaN",
                "creationTime": [1],
                "currentStep": {"a": 1},
                "result": {
                    "successful": True,
                    "details": "nope",
                    "nestedResults": [{"successful": True, "duration": "1e999"}, {"no": "outcome"}, 7],
                    "duration": True,
                },
            }
        }
    )
    assert task.progress is None and task.creation_time is None and task.current_step == ""
    assert task.result is not None and task.result.details == () and task.result.duration_seconds is None
    assert len(task.result.nested) == 1 and task.result.nested[0].duration_seconds is None


@pytest.mark.parametrize("body", [None, [], "text", 3, {"task": "x"}, {"task": [1]}, {}, {"meta": {}}])
def test_garbage_task_status_raises_response_error(body: object) -> None:
    with pytest.raises(AnaplanResponseError):
        parse_task_status(body)


def test_task_list_with_paging() -> None:
    tasks, paging = parse_task_list(
        {
            "meta": {"paging": {"currentPageSize": "2", "offset": 0, "totalSize": 5}},
            "tasks": [
                {"taskId": "A", "taskState": "COMPLETE", "creationTime": 1535145589808},
                {"taskId": "B", "taskState": "CANCELLING", "creationTime": "1535145590808"},
                {"taskState": "COMPLETE"},
                "junk",
            ],
        }
    )
    assert [(t.task_id, t.state) for t in tasks] == [("A", TaskState.COMPLETE), ("B", TaskState.CANCELLING)]
    assert tasks[1].creation_time == pytest.approx(1535145590.808)
    assert paging == Paging(offset=0, current_page_size=2, total_size=5)


@pytest.mark.parametrize(
    ("body", "ids"),
    [
        ({"task": {"taskId": "ONE", "taskState": "NOT_STARTED"}}, ["ONE"]),
        ({"tasks": {"taskId": "ONE", "taskState": "NOT_STARTED"}}, ["ONE"]),
        ([{"taskId": "ONE"}], ["ONE"]),
        ({"meta": {}, "status": {"code": 200}}, []),
        ({"tasks": None}, []),
    ],
)
def test_task_list_shapes(body: object, ids: list[str]) -> None:
    tasks, paging = parse_task_list(body)
    assert [t.task_id for t in tasks] == ids
    assert paging is None


@pytest.mark.parametrize("body", [None, "x", {"tasks": "x"}, {"tasks": 5}])
def test_task_list_garbage(body: object) -> None:
    with pytest.raises(AnaplanResponseError):
        parse_task_list(body)


def test_paging_missing_or_partial() -> None:
    assert parse_paging({"meta": {"schema": "x"}}) is None
    assert parse_paging([]) is None
    assert parse_paging({"meta": {"paging": {"totalSize": "x", "offset": 3}}}) == Paging(offset=3)


def test_listings() -> None:
    workspaces = parse_workspaces(
        {
            "workspaces": [
                {"id": "8a8b", "name": "Finance", "active": "false"},
                {"id": "9c", "name": "Ops"},
                {},
            ]
        }
    )
    assert [(w.id, w.name, w.active) for w in workspaces] == [("8a8b", "Finance", False), ("9c", "Ops", True)]
    models = parse_models(
        {"models": [{"id": "75A4", "name": "Plan", "activeState": "UNLOCKED", "currentWorkspaceId": "8a8b"}]}
    )
    assert models[0].workspace_id == "8a8b" and models[0].active_state == "UNLOCKED"
    imports = parse_objects(
        {
            "imports": [
                {"id": "112000000007", "name": "ORG2Test", "importType": "HIERARCHY_DATA", "code": "ORG"}
            ]
        },
        ObjectType.IMPORT,
    )
    assert imports[0].type is ObjectType.IMPORT and imports[0].code == "ORG"
    assert parse_objects({"meta": {}}, ObjectType.ACTION) == []
    assert [p.id for p in parse_objects([{"id": 118000000002, "name": "P"}], ObjectType.PROCESS)] == [
        "118000000002"
    ]


def test_process_metadata() -> None:
    metadata = parse_process_metadata(
        {
            "processMetadata": {
                "name": "ProcessWithActions",
                "actions": [
                    {"id": "112000000000", "name": "Sales from import-sales.csv", "actionType": "IMPORT"},
                    {
                        "id": "117000000000",
                        "name": "Delete from Products",
                        "actionType": "DELETE_BY_SELECTION",
                    },
                ],
            }
        }
    )
    assert metadata.name == "ProcessWithActions"
    assert [(s.object_id, s.action_type) for s in metadata.steps] == [
        ("112000000000", "IMPORT"),
        ("117000000000", "DELETE_BY_SELECTION"),
    ]
    assert parse_process_metadata({"name": "bare"}).steps == ()
    with pytest.raises(AnaplanResponseError):
        parse_process_metadata({"processMetadata": []})


def test_token_info_and_oauth_token() -> None:
    info = parse_token_info(
        {"tokenInfo": {"tokenValue": "tv-SECRET", "expiresAt": "1571088565713", "new": 1}}
    )
    assert info.token_value == "tv-SECRET" and info.expires_at == pytest.approx(1571088565.713)
    assert "SECRET" not in repr(info)
    for bad in ({}, {"tokenInfo": {"tokenValue": ""}}, {"tokenInfo": "x"}, None):
        with pytest.raises(AnaplanResponseError):
            parse_token_info(bad)
    token = parse_oauth_token(
        {"access_token": "at-SECRET", "refresh_token": "rt-SECRET", "expires_in": "2100"}
    )
    assert (token.access_token, token.refresh_token, token.expires_in) == ("at-SECRET", "rt-SECRET", 2100.0)
    assert "SECRET" not in repr(token)
    with pytest.raises(AnaplanResponseError):
        parse_oauth_token({"error": "invalid_grant"})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["task", "tasks", "taskId", "taskState", "result", "successful", "nestedResults", "details", "values",
     "duration", "startTime", "meta", "paging", "totalSize", "processMetadata", "actions", "id", "tokenInfo"]
)  # fmt: skip
_anaplanish = st.recursive(
    _json,
    lambda children: st.dictionaries(_keys, children, max_size=5) | st.lists(children, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_anaplanish)
def test_parsers_raise_only_response_errors(body: object) -> None:
    json.dumps(body)  # the strategy produces JSON-shaped values
    for parse in (
        parse_task_status,
        parse_task_list,
        parse_workspaces,
        parse_models,
        parse_process_metadata,
        parse_token_info,
        parse_oauth_token,
        parse_paging,
        lambda b: parse_objects(b, ObjectType.EXPORT),
    ):
        with contextlib.suppress(AnaplanResponseError):
            parse(body)
