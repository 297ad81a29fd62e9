"""The status page's CloudWorks parts on hand-made snapshots: the integrations and flows table, the run
errors' text (escaped, scrubbed), a flow's steps, the 403 line, and CloudWorks failures among the problems."""

from __future__ import annotations

import dataclasses
import datetime

import pytest

from anaplan_exporter.anaplan.cloudworks_models import Run, RunError, Schedule, ScheduleType
from anaplan_exporter.anaplan.models import ResultDetail
from anaplan_exporter.anaplan.redact import Redactor
from anaplan_exporter.config.cloudworks import CloudWorksConfig
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.serving.status_page import cloudworks as section_module
from anaplan_exporter.serving.status_page.cloudworks import describe_schedule
from anaplan_exporter.serving.status_page.page import render_status_page
from anaplan_exporter.snapshot import (
    CloudWorksRunError,
    CloudWorksStatus,
    CloudWorksStep,
    CloudWorksView,
    Snapshot,
)
from support.fake_anaplan import FakeAnaplan
from support.fake_cloudworks import FakeCloudWorks, daily, done, integration
from support.pagetext import PageText, Row

from .test_render import INFO, NOW, OK, page

LOAD, REVENUE, CLOSE, FLOW = "a" * 32, "b" * 32, "c" * 32, "f" * 32
SAS = "https://acme.blob.core.windows.net/in/sales.csv?sv=2022-11-02&se=2026-01-01&sig=SeCrEtSiGnAtUrE%2B%3D"
HOSTILE = f"<script>alert('x')</script> Blob not found: {SAS}"

WEEKDAYS = Schedule(
    type=ScheduleType.WEEKLY,
    raw_type="weekly",
    name="Weekdays",
    time=datetime.time(6, 30),
    days_of_week=(1, 2, 3, 4, 5),
    timezone="Europe/Paris",
)
LOAD_FAILED = CloudWorksStatus(
    kind="integration",
    id=LOAD,
    name="Load sales from S3",
    type="Import",
    workspace_id="8a8b8c8d8e8f8g8i",
    model_id="75A40874E6B64FA3AE0743278996850F",
    object_id="112000000009",
    object_ids=("112000000009",),
    schedule=daily("02:00", "Europe/London"),
    latest_run=Run(
        start=NOW - 300,
        end=NOW - 290,
        success=False,
        message="File finance-bucket/sales/import-sales.csv not found",
        execution_error_code=35,
        trigger_source="scheduled",
    ),
    latest_result="failure",
    run_id="d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
    last_end_time=NOW - 290,
    last_success_time=NOW - 86400,
    last_failure_time=NOW - 290,
    next_run_time=NOW + 3600,
    last_scheduled_time=NOW - 300,
    run_errors=(
        CloudWorksRunError(
            task_id="",
            action_id="112000000009",
            action_name="Sales from import-sales.csv",
            message="File finance-bucket/sales/import-sales.csv not found",
        ),
    ),
    run_errors_start=NOW - 300,
)
REVENUE_OK = CloudWorksStatus(
    kind="integration",
    id=REVENUE,
    name="Revenue to Azure Blob",
    type="Export",
    schedule=WEEKDAYS,
    latest_run=Run(
        start=NOW - 7200,
        end=NOW - 7100,
        success=True,
        message="Success",
        trigger_source="manual",
        triggered_by="Jane Roe",
    ),
    latest_result="success",
    last_success_time=NOW - 7100,
    next_run_time=NOW + 7200,
)
CLOSE_NEVER = CloudWorksStatus(
    kind="integration",
    id=CLOSE,
    name="Month-end close",
    type="Process",
    schedule=Schedule(
        type=ScheduleType.MONTHLY_RELATIVE_WEEKDAY,
        raw_type="monthly_relative_weekday",
        time=datetime.time(22, 0),
        day_of_week=5,
        repeat_every=-1,
        timezone="America/New_York",
        active=False,
    ),
)
FLOW_FAILED = CloudWorksStatus(
    kind="flow",
    id=FLOW,
    name="Sales round trip",
    type="flow",
    latest_run=Run(
        start=NOW - 200, end=NOW - 150, success=False, message="Flow failed", trigger_source="scheduled_inf"
    ),
    latest_result="failure",
    last_failure_time=NOW - 150,
    steps=(
        CloudWorksStep(1, LOAD, "Load sales from S3", "failure"),
        CloudWorksStep(2, REVENUE, "Revenue to Azure Blob", "skipped"),
        CloudWorksStep(3, CLOSE, "Month-end close", "skipped"),
    ),
)
VIEW = CloudWorksView(
    enabled=True,
    up=True,
    last_read_time=NOW - 2,
    items=(REVENUE_OK, CLOSE_NEVER, FLOW_FAILED, LOAD_FAILED),
)


def rows(shown: PageText) -> list[Row]:
    return shown.tables["cloudworks-items"]


def by_name(shown: PageText, name: str) -> Row:
    (found,) = [row for row in rows(shown) if row.name == name]
    return found


def test_every_integration_and_flow_is_listed_problems_first() -> None:
    shown = page(OK, cloudworks=VIEW)
    assert [row.name for row in rows(shown)] == [
        "Load sales from S3",  # failed integrations, then failed flows
        "Sales round trip",
        "Month-end close",  # never ran
        "Revenue to Azure Blob",
    ]
    assert [row.css_class for row in rows(shown)] == ["failed", "failed", "none", "succeeded"]
    assert "3 integrations, 1 flow, problems first." in shown.text
    assert shown.names() == ["Hourly"]  # the object table keeps its own rows


def test_a_row_has_the_schedule_in_words_and_the_latest_run() -> None:
    shown = page(OK, cloudworks=VIEW)
    load = by_name(shown, "Load sales from S3")
    name, schedule, run, success, failure, errors = load.cells
    assert f"integration · Import {LOAD}" in name and "runs 112000000009" in name
    assert schedule.startswith("active daily at 02:00 (Europe/London), from 2026-01-05")
    assert "next run 2026-11-30T01:53:20Z in 1 h" in schedule
    assert run.startswith("FAILED scheduled run started 2026-11-30T00:48:20Z 5 min ago ended")
    assert "took 10 s" in run and "error code 35" in run
    assert "File finance-bucket/sales/import-sales.csv not found" in run
    assert "run d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0" in run and "runbook: AnaplanCloudWorksRunFailed" in run
    assert success.endswith("24 h ago") and failure.endswith("4 min ago")
    assert "Sales from import-sales.csv 112000000009" in errors
    assert "no Anaplan task (failed before Anaplan ran it)" in errors

    revenue = by_name(shown, "Revenue to Azure Blob")
    assert "weekly on Mon-Fri at 06:30 (Europe/Paris)" in revenue.cells[1] and "Weekdays" in revenue.cells[1]
    assert revenue.cells[2].startswith("OK manual run by Jane Roe")
    close = by_name(shown, "Month-end close")
    assert close.cells[1] == "inactive monthly on the last Fri at 22:00 (America/New_York)"
    assert close.cells[2] == "NO RUNS"


def test_a_watched_object_it_runs_is_named() -> None:
    obj = dataclasses.replace(OK, ref=dataclasses.replace(OK.ref, object_id="112000000009"))
    shown = page(obj, cloudworks=VIEW)
    assert "runs Hourly (process 112000000009)" in by_name(shown, "Load sales from S3").cells[0]


def test_a_flow_names_its_failed_step_and_the_skipped_ones() -> None:
    shown = page(OK, cloudworks=VIEW)
    flow = by_name(shown, "Sales round trip")
    assert flow.cells[0].startswith(f"Sales round trip flow {FLOW}")
    steps = ["1. Load sales from S3 failed", "2. Revenue to Azure Blob skipped", "3. Month-end close skipped"]
    assert all(step in flow.cells[5] for step in steps)
    assert flow.cells[5].endswith(
        "failed at step 1 (Load sales from S3); skipped: 2 (Revenue to Azure Blob), 3 (Month-end close)"
    )
    assert "runbook: AnaplanCloudWorksFlowFailed" in flow.cells[2]


def test_failures_are_among_the_problems_with_a_count_in_the_summary() -> None:
    shown = page(OK, cloudworks=VIEW)
    assert "0 down 0 failed 0 overdue 0 running 1 watched 2 CloudWorks failed" in shown.text
    assert shown.by_id("count-cloudworks-failed") == {
        "class": "failed",
        "id": "count-cloudworks-failed",
        "href": "#cloudworks",
    }
    html = render_status_page(Snapshot(objects=(OK,), ready=True, up=True, cloudworks=VIEW), INFO)
    box = html[
        html.index('id="cloudworks-problems"') : html.index("</section>", html.index("cloudworks-problems"))
    ]
    assert 'class="box alert"' in html and "CloudWorks problems (2)" in box
    assert f'href="#cw-{LOAD}"' in box and f'href="#cw-{FLOW}"' in box
    assert "error code 35" in box and "no Anaplan task: failed before Anaplan ran it" in box
    assert "failed at step 1 (Load sales from S3)" in box
    # the problems box comes before the objects; the table of every integration after them
    assert (
        html.index("cloudworks-problems") < html.index('id="objects"') < html.index('id="cloudworks-items"')
    )


def test_a_partial_success_is_a_warning_with_its_rejected_rows() -> None:
    partial = dataclasses.replace(
        REVENUE_OK,
        latest_run=Run(
            start=NOW - 60,
            end=NOW - 50,
            success=True,
            message="100 rows loaded, 8 failed",
            execution_error_code=38,
            trigger_source="scheduled",
        ),
        latest_result="partial",
        run_errors=(
            CloudWorksRunError("T-1", "112000000009", "Sales", "Sales: 8 (of 120) rows failed to load"),
        ),
        run_errors_start=NOW - 60,
    )
    view = CloudWorksView(enabled=True, up=True, items=(partial,))
    shown = page(OK, cloudworks=view)
    (row,) = rows(shown)
    assert row.css_class == "partial" and row.cells[2].startswith("PARTIAL")
    assert "runbook: AnaplanCloudWorksRunPartial" in row.cells[2]
    assert "Sales 112000000009 task T-1 Sales: 8 (of 120) rows failed to load" in row.cells[5]
    assert "0 CloudWorks failed" in shown.text and "CloudWorks problems (1)" in shown.text
    html = render_status_page(Snapshot(objects=(OK,), ready=True, up=True, cloudworks=view), INFO)
    assert 'class="box warning" id="cloudworks-problems"' in html


def test_errors_of_an_earlier_failure_are_not_shown_for_a_later_run() -> None:
    later = dataclasses.replace(
        LOAD_FAILED,
        latest_run=Run(
            start=NOW - 60, end=NOW - 50, success=True, message="Success", trigger_source="manual"
        ),
        latest_result="success",
    )
    shown = page(OK, cloudworks=CloudWorksView(enabled=True, up=True, items=(later,)))
    (row,) = rows(shown)
    assert "not found" not in row.text and row.cells[5] == "—"
    assert "CloudWorks problems" not in shown.text


def test_a_hostile_run_error_is_scrubbed_by_the_poller_and_escaped_by_the_page() -> None:
    """A message with markup and a SAS URL, through the poller (Redactor) to the page."""
    cw = FakeCloudWorks()
    cw.add(integration(LOAD, "Load <b>sales</b>", run=done(NOW - 3600, NOW - 3500)))
    clock = [NOW]
    poller = Poller(
        FakeAnaplan(),
        [],
        PollingConfig(idle_interval=60, active_interval=5, discovery_interval=600, workers=2),
        clock=lambda: clock[0],
        cloudworks=cw,
        cloudworks_config=CloudWorksConfig(),
        scrub=Redactor().scrub,
    )
    poller.tick()
    cw.errors[f"run-{LOAD}-{NOW + 1:.0f}"] = [
        RunError(
            action_id="112000000009", action_name="<img src=x>", messages=(ResultDetail(message=HOSTILE),)
        )
    ]
    cw.run(LOAD, dataclasses.replace(done(NOW + 1, NOW + 4, ok=False), message=HOSTILE))
    for _ in range(4):
        clock[0] += 5
        poller.tick()
    html = render_status_page(poller.snapshot, dataclasses.replace(INFO, now=clock[0]))
    assert "<script>" not in html and "<img" not in html and "<b>sales" not in html
    assert "SeCrEtSiGnAtUrE" not in html and "sig=***" in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    shown = PageText(html)
    (row,) = rows(shown)
    assert row.name == "Load <b>sales</b>"
    assert "<img src=x> 112000000009 no Anaplan task" in row.cells[5]
    assert "<script>alert('x')</script> Blob not found: https://acme.blob.core.windows.net" in row.cells[5]
    assert "CloudWorks problems (1)" in shown.text


def test_a_403_shows_its_one_line_in_the_section_too() -> None:
    message = "CloudWorks answers 403: the user lacks the integration role; carrying on without it"
    shown = page(OK, cloudworks=CloudWorksView(forbidden=True, forbidden_message=message))
    assert f"CloudWorks integrations and flows {message} runbook: AnaplanCloudWorksForbidden" in shown.text
    assert "cloudworks-items" not in shown.tables and "CloudWorks failed" not in shown.text


def test_off_shows_nothing_but_the_fact_line() -> None:
    shown = page(OK)
    assert "CloudWorks integrations and flows" not in shown.text and "CloudWorks failed" not in shown.text


def test_one_unreadable_item_leaves_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    real = section_module._schedule_cell

    def schedule_cell(item: CloudWorksStatus, now: float) -> str:
        if item.id == CLOSE:
            raise ValueError("bad <schedule>")
        return real(item, now)

    monkeypatch.setattr(section_module, "_schedule_cell", schedule_cell)
    shown = page(OK, cloudworks=VIEW)
    assert len(rows(shown)) == 4
    (broken,) = [row for row in rows(shown) if "could not be shown" in row.text]
    assert "ValueError: bad <schedule>" in broken.text and broken.css_class == "unknown unreadable"


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (daily("02:00", "Europe/London"), "daily at 02:00 (Europe/London), from 2026-01-05"),
        (WEEKDAYS, "weekly on Mon-Fri at 06:30 (Europe/Paris)"),
        (
            Schedule(ScheduleType.WEEKLY, time=datetime.time(6), days_of_week=(4, 1), timezone="UTC"),
            "weekly on Mon, Thu at 06:00 (UTC)",
        ),
        (
            Schedule(
                ScheduleType.HOURLY,
                from_time=datetime.time(8),
                to_time=datetime.time(18),
                repeat_every=2,
                days_of_week=(0, 6),
            ),
            "every 2 h from 08:00 to 18:00 on Sat, Sun (no time zone)",
        ),
        (
            Schedule(
                ScheduleType.HOURLY, from_time=datetime.time(8), to_time=datetime.time(18), timezone="UTC"
            ),
            "hourly from 08:00 to 18:00 (UTC)",
        ),
        (
            Schedule(
                ScheduleType.MONTHLY_SPECIFIC_DAY,
                time=datetime.time(1, 15),
                day_of_month=31,
                timezone="Asia/Tokyo",
                end_date=datetime.date(2027, 1, 1),
            ),
            "monthly on day 31 at 01:15 (Asia/Tokyo), until 2027-01-01",
        ),
        (
            Schedule(
                ScheduleType.MONTHLY_RELATIVE_WEEKDAY,
                time=datetime.time(9),
                day_of_week=1,
                repeat_every=2,
                timezone="UTC",
            ),
            "monthly on the second Mon at 09:00 (UTC)",
        ),
        (
            Schedule(ScheduleType.UNKNOWN, raw_type="yearly", time=datetime.time(9)),
            "yearly at 09:00 (no time zone)",
        ),
    ],
)
def test_describe_schedule(schedule: Schedule, words: str) -> None:
    assert describe_schedule(schedule) == words
