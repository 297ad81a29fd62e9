"""Failed polls are logged once per distinct problem, then as a count not a line per object per poll."""

from __future__ import annotations

import logging

import pytest

from anaplan_exporter.anaplan.errors import AnaplanConnectionError
from anaplan_exporter.anaplan.models import ModelObject, ObjectType
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, TargetConfig
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.polling.problems import ProblemLog, problem_of
from support.fake_anaplan import MODEL, WS, FakeAnaplan, ref


def test_object_specific_parts_do_not_make_a_problem_distinct() -> None:
    url = "https://api.anaplan.com/2/0/workspaces/8a8b/models/75A4"
    a = problem_of(
        "connection", f"connection to {url}/imports/112000000007/tasks failed: [Errno 111] refused"
    )
    b = problem_of(
        "connection", f"connection to {url}/exports/116000000003/tasks failed: [Errno 111] refused"
    )
    assert a == b and "https://api.anaplan.com/…" in a[1] and "Errno 111" in a[1]
    assert problem_of("connection", "x") != problem_of("timeout", "x")
    assert problem_of("not_found", "task 0123456789ABCDEF0123456789ABCDEF") == problem_of(
        "not_found", "task FEDCBA9876543210FEDCBA9876543210"
    )


def test_an_unreachable_tenant_logs_one_line_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeAnaplan()
    api.objects = {
        ObjectType.IMPORT: [ModelObject(f"112{i:09d}", f"import {i}", ObjectType.IMPORT) for i in range(50)]
    }
    for obj in api.objects[ObjectType.IMPORT]:
        api.failing[obj.id] = AnaplanConnectionError(
            f"connection to https://api.example.com/2/0/x/{obj.id}/tasks failed: [Errno 111] refused",
            "list_tasks",
        )
    now = [1000.0]
    polling = PollingConfig(idle_interval=10, workers=2)
    target = TargetConfig(WS, MODEL, {ObjectType.IMPORT: ObjectSelection(all=True)})
    poller = Poller(api, [target], polling, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="anaplan_exporter.polling")
    try:
        for _ in range(6):  # 50 objects x 7 polls over 60 s
            poller.tick()
            now[0] += 10
        poller.tick()
    finally:
        poller.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "anaplan_exporter.polling"]
    assert len(lines) == 2, lines  # the first failure, then the count at the end of the minute
    assert lines[0].startswith("poll failed: import 112") and "Errno 111" in lines[0]
    assert lines[1].startswith("poll failed 349 more times for 50 objects in the last 60s: reason=connection")
    assert "https://api.example.com/…" in lines[1]


def test_distinct_problems_each_get_their_line(caplog: pytest.LogCaptureFixture) -> None:
    problems = ProblemLog(window=60)
    caplog.set_level(logging.WARNING, logger="anaplan_exporter.polling")
    problems.failed(ref("112000000001"), "forbidden", "HTTP 403: no access", 0.0)
    problems.failed(ref("112000000002"), "not_found", "HTTP 404", 1.0)
    problems.failed(ref("112000000001"), "forbidden", "HTTP 403: no access", 2.0)
    problems.flush(30.0)
    assert len(caplog.records) == 2
    problems.flush(61.0)
    assert caplog.records[-1].getMessage().startswith("poll failed 1 more times for 1 objects")
    problems.flush(62.0)
    assert len(caplog.records) == 3  # the 404 had no repeats: nothing to sum up
