"""render_status_page on hand-made snapshots: what is shown, escaped, filtered and sorted, at a set clock."""

from __future__ import annotations

import dataclasses
import re

import pytest

from anaplan_exporter.anaplan.auth_backoff import AuthRefusal
from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, Task, TaskResult, TaskState, iso_time
from anaplan_exporter.calendar_rhythm import WeeklySlots
from anaplan_exporter.serving.status_page.page import PageInfo, render_status_page
from anaplan_exporter.serving.status_page.pieces import format_duration, relative_time
from anaplan_exporter.snapshot import (
    CloudWorksStatus,
    CloudWorksView,
    ObjectRef,
    ObjectStatus,
    PollError,
    Snapshot,
    StateFileStatus,
    StepStatus,
)
from support.pagetext import PageText

NOW = 1_796_000_000.0  # 2026-11-30T00:53:20Z
WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
INFO = PageInfo(version="1.2.3", now=NOW)


def ref(
    name: str,
    kind: ObjectType = ObjectType.PROCESS,
    object_id: str = "118000000001",
    workspace: str = "Demo Workspace",
    model: str = "Demo Planning",
    **expectations: float,
) -> ObjectRef:
    return ObjectRef(WS, workspace, MODEL, model, kind, object_id, name, **expectations)


def completed(task_id: str, successful: bool, **result: object) -> Task:
    return Task(
        task_id,
        TaskState.COMPLETE,
        creation_time=NOW - 600,
        result=TaskResult(successful=successful, **result),  # type: ignore[arg-type]
    )


def running(task_id: str, progress: float, step: str) -> Task:
    return Task(task_id, TaskState.IN_PROGRESS, progress=progress, current_step=step, creation_time=NOW - 125)


def page(*objects: ObjectStatus, query: str = "", info: PageInfo = INFO, **snapshot: object) -> PageText:
    values: dict[str, object] = {"ready": True, "up": True, **snapshot}
    return PageText(render_status_page(Snapshot(objects=objects, **values), info, query))  # type: ignore[arg-type]


OK = ObjectStatus(
    ref("Hourly", object_id="118000000004"),
    up=True,
    task=completed("T-OK", True),
    last_success_time=NOW - 600,
    last_poll_time=NOW - 5,
)
FAILED = ObjectStatus(
    ref("Nightly", object_id="118000000002"),
    up=True,
    task=completed("T-FAIL", False, failure_dump_available=True),
    steps=(
        StepStatus("117000000015", "Clear Staging", True),
        StepStatus("112000000009", "Sales from import-sales.csv", False, failure_dump_available=True),
    ),
    last_success_time=NOW - 3 * 3600 - 100,
    last_failure_time=NOW - 600,
    last_poll_time=NOW - 5,
)
RUNNING = ObjectStatus(
    ref("Close", object_id="118000000003"),
    up=True,
    task=running("T-RUN", 0.45, "Load Actuals"),
    duration_seconds=125,
    last_poll_time=NOW - 2,
)
DOWN = ObjectStatus(
    ref("Lost", ObjectType.EXPORT, "116000000002", model="Other Model"),
    up=False,
    task=completed("T-OLD", True),
    last_poll_time=NOW - 30,
    last_error=PollError("forbidden", "HTTP 403 from GET /2/0/workspaces/.../exports/116000000002", NOW - 30),
)
NEVER = ObjectStatus(ref("Fresh", ObjectType.ACTION, "117000000001"), up=True, last_poll_time=NOW - 1)


def test_problems_come_first_down_failed_running_then_the_rest() -> None:
    shown = page(OK, NEVER, RUNNING, FAILED, DOWN)
    assert shown.names() == ["Lost", "Nightly", "Close", "Fresh", "Hourly"]
    assert [row.css_class for row in shown.rows] == ["down", "failed", "running", "none", "succeeded"]


def test_summary_counts_link_to_their_filter() -> None:
    shown = page(OK, NEVER, RUNNING, FAILED, DOWN)
    assert re.search(r"1 down 1 failed 0 overdue 1 running 5 watched", shown.text)
    failed_card = shown.by_id("count-failed")
    assert failed_card is not None and failed_card["href"] == "?state=failed"
    # a failed object whose polls now fail counts as down and as failed, and both filters show it
    both = dataclasses.replace(FAILED, up=False, last_error=PollError("connection", "refused", NOW))
    shown = page(OK, both)
    assert re.search(r"1 down 1 failed 0 overdue 0 running 2 watched", shown.text)
    assert page(OK, both, query="state=failed").names() == page(OK, both, query="state=down").names()


def test_running_object_shows_progress_current_step_and_duration() -> None:
    shown = page(RUNNING)
    (row,) = shown.rows
    assert "RUNNING IN_PROGRESS" in row.cells[1]
    assert "45 %" in row.cells[1] and "step: Load Actuals" in row.cells[1]
    assert "running for 2 min 5 s" in row.cells[1] and "task T-RUN" in row.cells[1]
    assert ("progress", {"value": "0.450", "max": "1"}) in shown.tags


def test_failed_process_names_its_failed_step_and_the_dump_to_fetch() -> None:
    shown = page(FAILED)
    (row,) = shown.rows
    assert "FAILED" in row.cells[1] and "runbook: AnaplanTaskFailed" in row.cells[1]
    assert ("a", {"class": "runbook", "href": "runbook#anaplantaskfailed"}) in shown.tags
    steps = row.cells[4]
    assert "Sales from import-sales.csv 112000000009" in steps
    assert "Clear Staging" not in steps  # succeeded: not a failed step
    assert (
        f"dump available: GET /2/0/workspaces/{WS}/models/{MODEL}/processes/118000000002/tasks/T-FAIL/dumps/"
        "112000000009" in steps
    )


def test_failed_step_without_dump_says_so() -> None:
    obj = dataclasses.replace(FAILED, steps=(StepStatus("117000000020", "Order Cost Centres", False),))
    (row,) = page(obj).rows
    assert "Order Cost Centres 117000000020 no dump" in row.cells[4]


def test_running_process_shows_the_previous_runs_failed_steps_without_a_task_id() -> None:
    obj = dataclasses.replace(FAILED, task=running("T-NEXT", 0.1, "Clear Staging"))
    (row,) = page(obj).rows
    assert "previous run:" in row.cells[4]
    assert "/processes/118000000002/tasks/{taskId}/dumps/112000000009" in row.cells[4]


def test_failed_import_with_dump_and_row_counts() -> None:
    obj = ObjectStatus(
        ref("Sales", ObjectType.IMPORT, "112000000009"),
        up=True,
        task=completed("T-IMP", False, failure_dump_available=True),
        row_counts=ImportRowCounts(total=1200, success=700, failed=470, ignored=30),
        last_poll_time=NOW,
    )
    (row,) = page(obj).rows
    assert f"GET /2/0/workspaces/{WS}/models/{MODEL}/imports/112000000009/tasks/T-IMP/dump" in row.cells[4]
    assert "rows: 1200 total, 700 ok, 470 failed, 30 ignored, 0 warnings" in row.cells[4]


def test_last_success_and_failure_are_absolute_and_relative() -> None:
    (row,) = page(FAILED).rows
    assert row.cells[2] == f"{iso_time(NOW - 3 * 3600 - 100)} 3 h ago"
    assert row.cells[3] == f"{iso_time(NOW - 600)} 10 min ago"
    assert iso_time(NOW) == "2026-11-30T00:53:20Z"
    (never,) = page(NEVER).rows
    assert never.cells[2] == "never" and never.cells[3] == "never"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (0.2, "just now"),
        (42, "42 s ago"),
        (59.9, "59 s ago"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3 * 3600 + 100, "3 h ago"),
        (47 * 3600, "47 h ago"),
        (5 * 86400, "5 d ago"),
        (-1500, "in 25 min"),
    ],
)
def test_relative_time(delta: float, text: str) -> None:
    assert relative_time(NOW - delta, NOW) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (45, "45 s"), (125, "2 min 5 s"), (600, "10 min"), (3900, "1 h 5 min"), (93600, "1 d 2 h")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_down_object_shows_its_last_error_and_when_it_was_polled() -> None:
    (row,) = page(DOWN).rows
    poll = row.cells[5]
    assert poll.startswith(f"DOWN polled {iso_time(NOW - 30)} 30 s ago")
    assert "last error: forbidden HTTP 403 from GET /2/0/workspaces/.../exports/116000000002" in poll
    assert "runbook: AnaplanTargetDown" in poll


def test_an_auth_error_links_the_auth_runbook_and_a_recovered_error_is_marked() -> None:
    refused = PollError("auth", "authentication refused (HTTP 401)", NOW - 9)
    auth = dataclasses.replace(DOWN, last_error=refused)
    assert "runbook: AnaplanAuthFailing" in page(auth).rows[0].cells[5]
    recovered = dataclasses.replace(DOWN, up=True, last_poll_time=NOW - 2)
    poll = page(recovered).rows[0].cells[5]
    assert poll.startswith("UP") and "earlier error (recovered): forbidden" in poll
    assert "runbook" not in poll


def test_not_yet_polled_object_is_pending_not_down() -> None:
    obj = ObjectStatus(ref("New"))
    shown = page(obj)
    assert shown.rows[0].css_class == "none"
    assert shown.rows[0].cells[5] == "PENDING polled not yet"
    assert "0 down" in shown.text


def test_anaplan_strings_are_escaped_everywhere() -> None:
    evil = "<script>alert(1)</script>"
    obj = ObjectStatus(
        ObjectRef(WS, evil, MODEL, evil, ObjectType.PROCESS, '118"><img src=x>', evil),
        up=False,
        task=Task(evil, TaskState.IN_PROGRESS, raw_state=evil, current_step=evil, progress=0.5),
        steps=(StepStatus(evil, evil, False, failure_dump_available=True),),
        last_poll_time=NOW,
        last_error=PollError(evil, evil, NOW),
    )
    html = render_status_page(
        Snapshot(objects=(obj,), discovery_errors=(f"targets[0]: process {evil!r} not found",)),
        INFO,
        "workspace=%3Cscript%3Ealert(1)%3C%2Fscript%3E&name=%22%3E%3Cb%3E",
    )
    assert evil not in html and "<img" not in html
    parsed = PageText(html)
    assert not [tag for tag, _ in parsed.tags if tag in ("script", "img")]
    assert evil in parsed.text  # shown as text, not run
    assert parsed.by_id("discovery") is not None
    workspace_input = next(a for t, a in parsed.tags if t == "input" and a.get("name") == "workspace")
    assert workspace_input["value"] == evil
    name_input = next(a for t, a in parsed.tags if t == "input" and a.get("name") == "name")
    assert name_input["value"] == '"><b>'


def test_filters_narrow_the_rows_by_workspace_model_type_state_and_name() -> None:
    objects = (OK, NEVER, RUNNING, FAILED, DOWN)
    assert page(*objects, query="type=export").names() == ["Lost"]
    assert page(*objects, query="model=other").names() == ["Lost"]
    assert page(*objects, query=f"model={MODEL}&state=running").names() == ["Close"]
    assert page(*objects, query="state=problems").names() == ["Lost", "Nightly"]
    assert page(*objects, query="state=down").names() == ["Lost"]
    assert page(*objects, query="state=succeeded").names() == ["Hourly"]
    assert page(*objects, query="state=none").names() == ["Fresh"]
    assert page(*objects, query="workspace=demo+workspace&name=118000000004").names() == ["Hourly"]
    assert page(*objects, query="workspace=elsewhere").rows == []
    nothing = page(*objects, query="workspace=elsewhere")
    assert "No object of 5 matches the filters." in nothing.text
    # the summary still counts everything
    assert re.search(r"1 down 1 failed 0 overdue 1 running 5 watched", nothing.text)


def test_filter_form_keeps_the_chosen_values_and_ignores_unknown_ones() -> None:
    shown = page(OK, FAILED, query="type=process&state=failed&refresh=0")
    selected = [(t, a["value"]) for t, a in shown.tags if t == "option" and "selected" in a]
    assert selected == [("option", "process"), ("option", "failed")]
    hidden = next(a for t, a in shown.tags if t == "input" and a.get("name") == "refresh")
    assert hidden["value"] == "0"
    odd = page(OK, FAILED, query="type=module&state=broken")
    assert "unknown type 'module' ignored" in odd.text and "unknown state 'broken' ignored" in odd.text
    assert len(odd.rows) == 2


def test_auto_refresh_by_default_and_off_with_refresh_0() -> None:
    on = render_status_page(Snapshot(), INFO, "")
    assert '<meta http-equiv="refresh" content="30">' in on
    assert 'href="?refresh=0">stop auto-refresh' in on
    off = render_status_page(Snapshot(), INFO, "refresh=0&state=failed")
    assert 'http-equiv="refresh"' not in off
    assert 'href="?state=failed">turn it on' in off
    assert '<meta http-equiv="refresh" content="5">' in render_status_page(Snapshot(), INFO, "refresh=1")


def test_links_to_metrics_health_readiness_docs_and_runbook() -> None:
    shown = page(info=dataclasses.replace(INFO, telemetry_path="/custom-metrics"))
    hrefs = [a["href"] for t, a in shown.tags if t == "a"]
    assert {"custom-metrics", "-/healthy", "-/ready"} <= set(hrefs)
    assert any(h.endswith("README.md") for h in hrefs)
    assert "runbook" in hrefs, "the runbook the exporter serves, relative like the metrics link"


def test_exporter_facts_version_ready_budget_token_and_reload() -> None:
    shown = page(
        budget_used_ratio=None,
        token_expires_at=NOW + 1500,
        info=dataclasses.replace(INFO, reload_successful=True, reload_time=NOW - 7200),
    )
    text = shown.text
    assert "Version 1.2.3" in text and "Ready ready" in text
    assert "Request budget used n/a" in text
    assert f"Token expires {iso_time(NOW + 1500)} in 25 min" in text
    assert f"Last config reload loaded {iso_time(NOW - 7200)} 2 h ago" in text
    busy = page(ready=False, budget_used_ratio=0.734).text
    assert "Request budget used 73 %" in busy and "waiting for the first full poll cycle" in busy
    refused = page(
        info=dataclasses.replace(
            INFO, reload_successful=False, reload_time=NOW - 60, reload_success_time=NOW - 7200
        )
    ).text
    assert f"refused {iso_time(NOW - 60)} 1 min ago ; running the configuration loaded" in refused
    assert "runbook: AnaplanExporterConfigReloadFailed" in refused


def test_discovery_errors_are_listed_as_they_come() -> None:
    errors = (
        "authenticate: Anaplan refused the credentials (HTTP 401)",
        "targets[0]: cannot connect to https://api.anaplan.example/2/0/workspaces: Connection refused",
        "targets[1]: process '*' matched nothing in model 'Demo Planning'",
    )
    shown = page(discovery_errors=errors)
    assert "Discovery errors (3)" in shown.text
    for error in errors:
        assert error in shown.text
    assert "Discovery: no errors." in page().text


def test_stuck_and_overdue_objects_say_so() -> None:
    stuck = dataclasses.replace(RUNNING, ref=ref("Close", max_duration=60.0))
    assert "stuck: longer than max_duration 1 min" in page(stuck).rows[0].cells[1]
    overdue = dataclasses.replace(OK, ref=ref("Hourly", expected_every=300.0))
    assert "overdue: expected every 5 min" in page(overdue).rows[0].cells[1]
    on_time = dataclasses.replace(OK, ref=ref("Hourly", expected_every=3600.0))
    assert "overdue" not in page(on_time).rows[0].cells[1]


def test_at_most_max_rows_problems_first_with_a_note() -> None:
    healthy = [
        dataclasses.replace(OK, ref=ref(f"ok-{i:05d}", object_id=f"1180000{i:05d}")) for i in range(1200)
    ]
    failing = dataclasses.replace(FAILED, ref=ref("zz-failing", object_id="118999999999"))
    shown = page(*healthy, failing)
    assert len(shown.rows) == 500
    assert shown.names()[:2] == ["zz-failing", "ok-00000"]
    assert "Showing 500 of 1201 objects, problems first; use the filters to see the rest." in shown.text
    narrowed = page(*healthy, failing, query="name=ok-001")
    assert len(narrowed.rows) == 100 and "100 matching objects" in narrowed.text


def test_learned_rhythm_next_run_and_usual_duration() -> None:
    learned = dataclasses.replace(OK, learned_interval_seconds=3600.0, usual_duration_seconds=95.0)
    cell = page(learned).rows[0].cells[1]
    # The newest run was created 10 minutes ago: the next is due 50 minutes from now.
    assert f"usually every 1 h, next run expected by {iso_time(NOW + 3000)} in 50 min" in cell
    assert "usually takes 1 min 35 s" in cell
    configured = dataclasses.replace(learned, ref=ref("Hourly", expected_every=86400.0))
    assert f"expected every 1 d, next run expected by {iso_time(NOW - 600 + 86400)}" in page(configured).text
    assert "usually every" not in page(OK).text and "next run expected" not in page(OK).text


def test_a_refused_login_says_when_the_next_attempt_is() -> None:
    refusal = AuthRefusal(
        since=NOW - 420, refusals=3, next_attempt_at=NOW + 240, message="authenticate: HTTP 401: Login failed"
    )
    text = page(info=dataclasses.replace(INFO, auth_refusal=refusal)).text
    assert "Authentication refused authentication refused, next attempt at 00:57:20 UTC (in 4 min)" in text
    assert f"refused 3 times in a row since {iso_time(NOW - 420)} 7 min ago" in text
    assert "authenticate: HTTP 401: Login failed" in text and "runbook: AnaplanAuthFailing" in text
    due = AuthRefusal(NOW - 60, 1, NOW, "authenticate: HTTP 401: <b>")
    html = render_status_page(Snapshot(), dataclasses.replace(INFO, auth_refusal=due))
    assert "next attempt at 00:53:20 UTC (now)" in PageText(html).text
    assert "HTTP 401: &lt;b&gt;" in html  # escaped, not markup
    assert "Authentication no refusal" in page().text


def test_a_learned_calendar_pattern_is_shown_in_words_with_its_next_slot() -> None:
    monday = 1_796_018_400.0  # Monday 30 November 2026 06:00 UTC
    slots = WeeklySlots((6 * 3600, 3 * 86400 + 6 * 3600))
    task = dataclasses.replace(completed("T1", True), creation_time=monday)
    learned = dataclasses.replace(OK, task=task, learned_pattern=slots)
    cell = page(learned).rows[0].cells[1]
    assert f"usually Mon, Thu 06:00 UTC, next run expected at {iso_time(monday + 3 * 86400)}" in cell
    assert "usually every" not in cell


def test_cloudworks_refused_is_one_line_among_the_exporter_facts() -> None:
    message = "CloudWorks answers 403: <Forbidden>; carrying on with the Integration API alone"
    shown = page(OK, cloudworks=CloudWorksView(forbidden=True, forbidden_message=message))
    assert f"CloudWorks forbidden {message}" in shown.text
    assert "<Forbidden>" not in render_status_page(
        Snapshot(cloudworks=CloudWorksView(forbidden=True, forbidden_message=message)), INFO
    )


def test_cloudworks_watched_and_off() -> None:
    item = CloudWorksStatus(kind="integration", id="a" * 32, name="Load sales", type="Import")
    view = CloudWorksView(enabled=True, up=True, last_read_time=NOW - 3, items=(item,), unmatched=("Nope",))
    assert "CloudWorks up 1 integration, 0 flows; lists read" in page(OK, cloudworks=view).text
    assert "no match for Nope" in page(OK, cloudworks=view).text
    assert "CloudWorks not read" in page(OK).text


def test_the_state_file_line_says_where_and_when_it_was_saved_or_why_memory_only() -> None:
    path = "/home/ops/.local/state/anaplan-exporter/state.json"
    saved = page(OK, state_file=StateFileStatus(path, last_save_time=NOW - 30)).text
    assert f"State file saved {path}; last saved {iso_time(NOW - 30)} 30 s ago" in saved
    fresh = page(OK, state_file=StateFileStatus(path)).text
    assert f"State file saved {path}; last saved not yet (saved once something changes)" in fresh
    failing = StateFileStatus(path, last_save_time=NOW - 600, save_failures=7, last_error="No space left")
    text = page(OK, state_file=failing).text
    saved_at = iso_time(NOW - 600)
    assert f"State file not saving {path}; last saved {saved_at} 10 min ago ; 7 failed saves" in text
    assert "the latest: No space left runbook: AnaplanExporterStateNotSaved" in text
    in_use = StateFileStatus(path, "in_use", "in use by another exporter (pid 4242)")
    text = page(OK, state_file=in_use).text
    assert (
        f"State file memory only {path}: in use by another exporter (pid 4242); a restart forgets what was "
        "counted: give each exporter a file of its own with state.path runbook: AnaplanExporterStateNotSaved"
    ) in text
    unwritable = StateFileStatus(path, "default_unwritable", "cannot write the state file: <Read-only>")
    shown = page(OK, state_file=unwritable)
    assert "<Read-only>; a restart forgets what was counted: set state.path to a writable" in shown.text
    assert "<Read-only>" not in render_status_page(Snapshot(state_file=unwritable), INFO)  # escaped
    off = page(OK, state_file=StateFileStatus("", "configured_off", 'state.path is ""')).text
    assert 'State file none: kept in memory only (state.path is "")' in off
    assert "State file n/a" in page(OK).text
