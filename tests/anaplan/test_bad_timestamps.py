"""Impossible times from Anaplan are treated as absent and counted, never passed on."""

from __future__ import annotations

import pytest
import responses

from anaplan_exporter.anaplan.auth import StaticTokenCredentials
from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.anaplan.parsing import parse_task_list, parse_task_status, parse_token_info
from anaplan_exporter.anaplan.timestamps import EARLIEST, FUTURE_SLACK, TimeCheck

from .conftest import MakeClient
from .fakes import API, T0, FakeClock, RecordingObserver

W, M = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
TASKS = f"{API}/workspaces/{W}/models/{M}/imports/112000000001/tasks"
NOW = T0
IMPOSSIBLE: list[object] = [
    253402300800000,  # 10000-01-01: the value that made the status page answer 500
    1e300,
    -1e300,
    -1,
    0,
    EARLIEST * 1000 - 1,  # a millisecond before 2000
    (NOW + FUTURE_SLACK + 1) * 1000,  # more than a day ahead
    "NaN",
    "Infinity",
    "-inf",
    "soon",
    "",
    True,
    [1700000000000],
    {"ms": 1700000000000},
]


@pytest.mark.parametrize("value", IMPOSSIBLE, ids=repr)
def test_an_impossible_creation_time_is_absent_and_counted(value: object) -> None:
    times = TimeCheck(NOW)
    tasks, _ = parse_task_list(
        {"tasks": [{"taskId": "T1", "taskState": "COMPLETE", "creationTime": value}]}, times
    )
    assert [t.task_id for t in tasks] == ["T1"]  # the task itself is kept
    assert tasks[0].creation_time is None
    assert times.refused == 1


@pytest.mark.parametrize(
    "value, seconds",
    [
        (EARLIEST * 1000, EARLIEST),
        ((NOW + FUTURE_SLACK) * 1000, NOW + FUTURE_SLACK),
        (str(int(NOW * 1000)), NOW),
        (NOW * 1000, NOW),
    ],
)
def test_plausible_times_pass_uncounted(value: object, seconds: float) -> None:
    times = TimeCheck(NOW)
    tasks, _ = parse_task_list({"tasks": [{"taskId": "T1", "creationTime": value}]}, times)
    assert tasks[0].creation_time == pytest.approx(seconds)
    assert times.refused == 0


def test_a_missing_or_null_time_is_absent_but_not_counted() -> None:
    times = TimeCheck(NOW)
    tasks, _ = parse_task_list({"tasks": [{"taskId": "T1"}, {"taskId": "T2", "creationTime": None}]}, times)
    assert [t.creation_time for t in tasks] == [None, None]
    assert times.refused == 0


def test_task_status_checks_creation_and_every_start_time() -> None:
    times = TimeCheck(NOW)
    task = parse_task_status(
        {
            "task": {
                "taskId": "T1",
                "taskState": "COMPLETE",
                "creationTime": 253402300800000,
                "result": {
                    "successful": True,
                    "startTime": -5,
                    "nestedResults": [
                        {"successful": True, "startTime": 1e300, "objectId": "112000000001"},
                        {"successful": True, "startTime": NOW * 1000, "objectId": "112000000002"},
                    ],
                },
            }
        },
        times,
    )
    assert task.creation_time is None
    assert task.result is not None and task.result.start_time is None
    assert [n.start_time for n in task.result.nested] == [None, NOW]
    assert times.refused == 3


def test_an_impossible_token_expiry_is_absent_and_counted() -> None:
    times = TimeCheck(NOW)
    info = parse_token_info({"tokenInfo": {"tokenValue": "tv", "expiresAt": 253402300800000}}, times=times)
    assert info.expires_at is None and times.refused == 1


def test_the_client_reports_impossible_times_to_its_observer(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver, clock: FakeClock
) -> None:
    http.get(
        TASKS,
        json={
            "tasks": [
                {"taskId": "T1", "taskState": "COMPLETE", "creationTime": 253402300800000},
                {"taskId": "T2", "taskState": "COMPLETE", "creationTime": int((clock() - 60) * 1000)},
            ]
        },
    )
    http.get(f"{TASKS}/T1", json={"task": {"taskId": "T1", "taskState": "COMPLETE", "creationTime": "NaN"}})
    client = make_client(StaticTokenCredentials("static-tok"))
    tasks = client.list_tasks(W, M, ObjectType.IMPORT, "112000000001")
    assert {t.task_id: t.creation_time for t in tasks} == {"T1": None, "T2": pytest.approx(clock() - 60)}
    assert client.task_status(W, M, ObjectType.IMPORT, "112000000001", "T1").creation_time is None
    assert observer.ignored == [("bad_timestamp", 1), ("bad_timestamp", 1)]
