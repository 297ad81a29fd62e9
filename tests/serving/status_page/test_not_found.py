"""The status page on objects Anaplan does not confirm: among the problems (down, sorted first, in the down
count and filter), saying not found or no access and what to do, with the alert's runbook; escaped. An
object that simply never ran stays up and says "never ran"."""

from __future__ import annotations

import re

from anaplan_exporter.anaplan.lookup import Absence
from anaplan_exporter.anaplan.models import ObjectType, Task, TaskResult, TaskState
from anaplan_exporter.serving.status_page.page import PageInfo, render_status_page
from anaplan_exporter.snapshot import ObjectRef, ObjectStatus, Snapshot
from support.pagetext import PageText

NOW = 1_796_000_000.0
WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
INFO = PageInfo(version="1.2.3", now=NOW)


def ref(
    name: str, object_id: str, kind: ObjectType = ObjectType.PROCESS, model: str = "Planning"
) -> ObjectRef:
    return ObjectRef(WS, "Finance", MODEL, model, kind, object_id, name)


WRONG = ObjectStatus(
    ref("118000000099", "118000000099"), up=False, absence=Absence.NOT_FOUND, last_poll_time=NOW - 5
)
MASKED = ObjectStatus(
    ref("112000000001", "112000000001", ObjectType.IMPORT, model="Closed"),
    up=False,
    absence=Absence.NO_ACCESS,
    last_poll_time=NOW - 5,
)
NEVER = ObjectStatus(ref("Fresh", "117000000001", ObjectType.ACTION), up=True, last_poll_time=NOW - 1)
OK = ObjectStatus(
    ref("Hourly", "118000000004"),
    up=True,
    task=Task("T-OK", TaskState.COMPLETE, creation_time=NOW - 600, result=TaskResult(successful=True)),
    last_success_time=NOW - 600,
    last_poll_time=NOW - 5,
)


def page(*objects: ObjectStatus, query: str = "") -> PageText:
    return PageText(render_status_page(Snapshot(objects=objects, ready=True), INFO, query))


def test_unconfirmed_objects_are_problems_first_and_counted_down() -> None:
    shown = page(OK, NEVER, WRONG, MASKED)
    assert shown.names()[:2] == ["112000000001", "118000000099"]
    assert [row.css_class for row in shown.rows] == ["down", "down", "none", "succeeded"]
    assert re.search(r"2 down 0 failed 0 overdue 0 running 4 watched", shown.text)
    assert page(OK, NEVER, WRONG, MASKED, query="state=problems").names() == ["112000000001", "118000000099"]


def test_not_found_and_no_access_say_so_with_what_to_do_and_the_runbook() -> None:
    masked, wrong = page(WRONG, MASKED).rows
    assert masked.cells[1] == "NO ACCESS"  # not "never ran": Anaplan would not say if it ran
    assert "NO ACCESS The model is listed, but this user cannot read it" in masked.cells[5]
    assert "Give the exporter's user a role in the model" in masked.cells[5]
    assert wrong.cells[1] == "NOT FOUND"
    assert (
        "NOT FOUND Anaplan does not confirm this process: it is not in the model's list of processes"
        in (wrong.cells[5])
    )
    for row in (masked, wrong):
        assert row.cells[5].startswith("DOWN polled")
        assert "runbook: AnaplanTargetNotFound" in row.cells[5]
        assert "AnaplanTargetDown" not in row.cells[5]


def test_an_object_that_never_ran_stays_up_and_says_never_ran() -> None:
    (row,) = page(NEVER).rows
    assert row.css_class == "none"
    assert row.cells[1] == "NEVER RAN"
    assert row.cells[5].startswith("UP polled") and "runbook" not in row.cells[5]


def test_an_unconfirmed_objects_names_are_escaped() -> None:
    evil = "<script>alert(1)</script>"
    obj = ObjectStatus(
        ObjectRef(WS, evil, MODEL, evil, ObjectType.PROCESS, '118"><img src=x>', evil),
        up=False,
        absence=Absence.NOT_FOUND,
        last_poll_time=NOW,
    )
    html = render_status_page(Snapshot(objects=(obj,), ready=True), INFO)
    assert evil not in html and "<img" not in html
    parsed = PageText(html)
    assert not [tag for tag, _ in parsed.tags if tag in ("script", "img")]
    assert parsed.rows[0].name == evil and "NOT FOUND" in parsed.rows[0].cells[5]
