"""Overdue on the status page, as AnaplanTaskOverdue decides it: configured expected_every, a learned
interval or a learned calendar pattern; the row says why, sorts among the problems, has its card and filter.
(tests/monitoring/test_overdue_page_agrees.py checks the same cases against the rule on promtool.)"""

from __future__ import annotations

import dataclasses
import re

import pytest

from anaplan_exporter.anaplan.models import ObjectType, Task, TaskResult, TaskState, iso_time
from anaplan_exporter.serving.status_page.outcomes import overdue
from anaplan_exporter.serving.status_page.page import PageInfo, render_status_page
from anaplan_exporter.snapshot import ObjectRef, ObjectStatus, PollError, Snapshot
from support import overdue_cases
from support.overdue_cases import CASES, MON_THU_0600, STARTED
from support.pagetext import PageText

NOW = 1_796_000_000.0  # Monday 2026-11-30 00:53:20 UTC
THURSDAY_0600 = 1_795_672_800.0  # Thursday 2026-11-26 06:00 UTC
HOUR = 3600.0
INFO = PageInfo(version="1", now=NOW, started=NOW - 2 * HOUR)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_overdue_as_the_alert_decides(case: overdue_cases.Case) -> None:
    assert (overdue(case.obj, overdue_cases.NOW, STARTED) is not None) is case.overdue


def test_without_the_exporters_start_an_object_never_succeeded_is_not_overdue_by_an_interval() -> None:
    by_name = {case.name: case.obj for case in CASES}
    interval = by_name["never succeeded: counted from the exporter's start"]
    assert overdue(interval, overdue_cases.NOW, None) is None
    # the pattern's due time does not count from the start: it is overdue all the same, as in the rule
    pattern = by_name["pattern, never succeeded"]
    assert overdue(pattern, overdue_cases.NOW, None) is not None


def ref(name: str, object_id: str, expected_every: float | None = None) -> ObjectRef:
    return ObjectRef("ws", "Finance", "m", "FP&A Plan", ObjectType.PROCESS, object_id, name, expected_every)


def done(successful: bool, created: float = NOW - 600) -> Task:
    return Task(
        "T-" + str(int(created)), TaskState.COMPLETE, creation_time=created, result=TaskResult(successful)
    )


def status(name: str, object_id: str, expected_every: float | None = None, **fields: object) -> ObjectStatus:
    base = ObjectStatus(
        ref(name, object_id, expected_every), up=True, task=done(True), last_poll_time=NOW - 5
    )
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


CONFIGURED = status("Configured", "118000000001", HOUR, last_success_time=NOW - 2 * HOUR)
LEARNED = status("Learned", "118000000002", learned_interval_seconds=HOUR, last_success_time=NOW - 3 * HOUR)
PATTERN = status(
    "Pattern",
    "118000000003",
    learned_pattern=MON_THU_0600,
    success_due_time=THURSDAY_0600,
    usual_duration_seconds=600.0,
    last_success_time=THURSDAY_0600 - 3 * 86400,
)
IN_TIME = status(
    "In time", "118000000004", learned_interval_seconds=HOUR, last_success_time=NOW - 1.5 * HOUR + 1
)
HEALTHY = status("Healthy", "118000000005", last_success_time=NOW - 600)
FAILED = status("Failed", "118000000006", task=done(False), last_success_time=NOW - 600)
FAILED_OVERDUE = dataclasses.replace(
    FAILED, ref=ref("Failed late", "118000000007", HOUR), last_success_time=None
)
RUNNING = status(
    "Running",
    "118000000008",
    task=Task("T-RUN", TaskState.IN_PROGRESS, creation_time=NOW - 60),
    last_success_time=NOW - 600,
)
RUNNING_LATE = dataclasses.replace(
    RUNNING, ref=ref("Running late", "118000000009", 600.0), last_success_time=NOW - 1200
)
DOWN = status("Down", "118000000010", up=False, last_error=PollError("connection", "refused", NOW - 5))


def page(*objects: ObjectStatus, query: str = "", info: PageInfo = INFO) -> PageText:
    return PageText(render_status_page(Snapshot(objects=objects, ready=True, up=True), info, query))


def task_cell(obj: ObjectStatus, info: PageInfo = INFO) -> str:
    (row,) = page(obj, info=info).rows
    return row.cells[1]


def test_a_configured_interval_says_expected_every() -> None:
    cell = task_cell(CONFIGURED)
    assert "overdue: expected every 1 h runbook: AnaplanTaskOverdue" in cell


def test_a_learned_interval_says_usually_and_when_the_last_success_was() -> None:
    assert "overdue: usually every 1 h, last success 3 h ago runbook: AnaplanTaskOverdue" in task_cell(
        LEARNED
    )
    assert "overdue" not in task_cell(IN_TIME)  # 1.5 intervals less a second: a success just in time


def test_a_learned_pattern_says_when_a_success_was_due_and_the_pattern() -> None:
    cell = task_cell(PATTERN)
    assert (
        "overdue: a success was due at Thu 06:00 UTC 3 d ago (usually Mon, Thu 06:00 UTC) "
        "runbook: AnaplanTaskOverdue" in cell
    )
    html = render_status_page(Snapshot(objects=(PATTERN,)), INFO)
    assert f'<time datetime="{iso_time(THURSDAY_0600)}">Thu 06:00 UTC</time>' in html
    # an hour and ten minutes (its usual duration) after the slot, not before
    early = dataclasses.replace(PATTERN, success_due_time=NOW - HOUR - 599)
    assert "overdue" not in task_cell(early)


def test_never_succeeded_counts_from_the_exporters_start() -> None:
    never = status(
        "Never", "118000000011", learned_interval_seconds=HOUR, task=done(False), last_success_time=None
    )
    assert "overdue: usually every 1 h, no success since the exporter started 2 h ago" in task_cell(never)
    # the same object seen by an exporter up for less than 1.5 intervals
    assert "overdue" not in task_cell(never, dataclasses.replace(INFO, started=NOW - HOUR))
    # one that never ran at all still says NEVER RAN, and why it is overdue
    never_ran = status("Never ran", "118000000012", HOUR, task=None)
    (row,) = page(never_ran).rows
    assert row.css_class == "overdue"
    assert row.cells[1] == (
        "NEVER RAN overdue: expected every 1 h, no success since the exporter started 2 h ago "
        "runbook: AnaplanTaskOverdue"
    )


def test_overdue_rows_come_after_down_and_failed_before_running_and_the_rest() -> None:
    shown = page(HEALTHY, RUNNING, LEARNED, FAILED, DOWN, IN_TIME, PATTERN, RUNNING_LATE)
    assert [(row.name, row.css_class) for row in shown.rows] == [
        ("Down", "down"),
        ("Failed", "failed"),
        ("Learned", "overdue"),
        ("Pattern", "overdue"),
        ("Running late", "overdue"),  # still running, with its progress, but late all the same
        ("Running", "running"),
        ("Healthy", "succeeded"),
        ("In time", "succeeded"),
    ]
    late = shown.rows[4].cells[1]
    assert late.startswith("RUNNING IN_PROGRESS") and "overdue: expected every 10 min" in late


def test_the_overdue_card_and_filter_count_and_show_the_same_objects() -> None:
    objects = (HEALTHY, RUNNING, LEARNED, FAILED, FAILED_OVERDUE, DOWN, IN_TIME, PATTERN, RUNNING_LATE)
    shown = page(*objects)
    # a failed object that is also overdue sorts as failed but is counted (and filtered) as overdue too
    assert re.search(r"1 down 2 failed 4 overdue 2 running 9 watched", shown.text)
    card = shown.by_id("count-overdue")
    assert card is not None and card["href"] == "?state=overdue"
    overdue_only = page(*objects, query="state=overdue")
    assert overdue_only.names() == ["Failed late", "Learned", "Pattern", "Running late"]
    assert "4 matching objects, problems first." in overdue_only.text
    problems = page(*objects, query="state=problems")
    assert problems.names() == ["Down", "Failed", "Failed late", "Learned", "Pattern", "Running late"]
    assert page(*objects, query="state=running").names() == ["Running late", "Running"]
    selected = [a["value"] for t, a in overdue_only.tags if t == "option" and "selected" in a]
    assert selected == ["overdue"]
    assert page(HEALTHY).by_id("count-overdue") is not None and "0 overdue" in page(HEALTHY).text


def test_the_pattern_and_the_names_are_escaped() -> None:
    evil = "<b>x</b>"
    obj = dataclasses.replace(LEARNED, ref=ref(evil, "118000000013", HOUR))
    html = render_status_page(Snapshot(objects=(obj,)), INFO)
    assert evil not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "overdue: expected every 1 h" in PageText(html).rows[0].cells[1]
