"""CloudWorks parsers: the documents as CloudWorks sends them, with every quirk, and any other JSON value
gives typed values or AnaplanResponseError, never another exception."""

from __future__ import annotations

import copy
import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.cloudworks_models import (
    Flow,
    Integration,
    IntegrationType,
    Run,
    RunHistory,
    RunResult,
    ScheduleType,
    classify_run,
)
from anaplan_exporter.anaplan.cloudworks_parsing import (
    parse_flow,
    parse_flows,
    parse_integration,
    parse_integrations,
    parse_run,
    parse_run_errors,
    parse_run_history,
    parse_run_record,
    parse_schedule,
)
from anaplan_exporter.anaplan.errors import AnaplanResponseError

from .fakes import load


def _epoch(text: str) -> float:
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp()


def _document(name: str) -> dict[str, object]:
    body = load(name)
    assert isinstance(body, dict)
    return body


# --------------------------------------------------------------------------- integrations


def test_integration_list_as_sent() -> None:
    first, second, third = parse_integrations(load("cloudworks_integrations.json"))
    assert (first.id, first.name, first.type) == (
        "e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2",
        "Load actuals from S3",
        IntegrationType.IMPORT,
    )
    assert first.model_id == "75A40874E6B64FA3AE0743278996850F"
    assert first.jobs == () and first.anaplan_object_ids == ()
    run = first.latest_run
    assert run is not None
    assert run.start == pytest.approx(_epoch("2026-06-19T01:30:16"))
    assert run.end == pytest.approx(_epoch("2026-06-19T01:31:21"))
    assert (run.success, run.message, run.execution_error_code, run.trigger_source) == (
        True,
        "Success",
        None,
        "scheduled",
    )
    assert run.result is RunResult.SUCCESS and run.id == ""
    schedule = first.schedule
    assert schedule is not None
    assert (schedule.type, schedule.time, schedule.days_of_week) == (
        ScheduleType.WEEKLY,
        datetime.time(6, 30),
        (1, 2, 3, 4, 5),
    )
    assert (schedule.start_date, schedule.end_date) == (datetime.date(2026, 1, 5), datetime.date(2027, 1, 5))
    assert (schedule.timezone, schedule.active, schedule.name) == ("Europe/London", True, "weekday mornings")

    # A process integration running now: no endDate at all; an inactive hourly schedule.
    assert (second.type, second.process_id, second.anaplan_object_ids) == (
        IntegrationType.PROCESS,
        "118000000002",
        ("118000000002",),
    )
    assert second.latest_run is not None and second.latest_run.end is None
    assert second.latest_run.result is RunResult.RUNNING
    hourly = second.schedule
    assert hourly is not None
    assert (hourly.type, hourly.from_time, hourly.to_time, hourly.repeat_every) == (
        ScheduleType.HOURLY,
        datetime.time(20, 0),
        datetime.time(2, 0),
        2,
    )
    assert (hourly.days_of_week, hourly.active, hourly.end_date) == ((0, 6), False, None)

    # Never run and never scheduled: both keys absent.
    assert (third.latest_run, third.schedule, third.type) == (None, None, IntegrationType.EXPORT)


def test_ids_take_the_case_the_integration_api_uses() -> None:
    integrations = parse_integrations(load("cloudworks_integrations.json"))
    assert {i.model_id for i in integrations} == {"75A40874E6B64FA3AE0743278996850F"}
    assert {i.workspace_id for i in integrations} == {"8a80db657068fjef01718955f3b3390b"}
    assert integrations[2].id == "1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d"


def test_integration_by_id_links_the_anaplan_actions_and_infers_the_missing_type() -> None:
    integration = parse_integration(load("cloudworks_integration.json"))
    assert integration.type is IntegrationType.IMPORT  # the by-ID answer has no integrationType
    assert integration.anaplan_object_ids == ("112000000007", "112000000008")
    first, second = integration.jobs
    assert (first.type, first.action_ids, first.connection_ids, first.connection_deleted) == (
        "AmazonS3ToAnaplan",
        ("112000000007",),
        ("b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5",),
        False,
    )
    assert second.connection_deleted is True
    assert integration.latest_run is not None and integration.latest_run.end is None  # endDate: null


@pytest.mark.parametrize(
    ("jobs", "process_id", "expected"),
    [
        ([{"type": "AnaplanToAmazonS3"}], None, IntegrationType.EXPORT),
        ([{"type": "GoogleBigQueryToAnaplan"}], None, IntegrationType.IMPORT),
        ([{"type": "AnaplanToAzureBlob"}, {"type": "AzureBlobToAnaplan"}], None, IntegrationType.UNKNOWN),
        ([{"type": "AzureBlobToAnaplan"}], "118000000001", IntegrationType.PROCESS),
        ([], None, IntegrationType.UNKNOWN),
    ],
)
def test_type_inferred_from_jobs(
    jobs: list[object], process_id: str | None, expected: IntegrationType
) -> None:
    body = {"integration": {"integrationId": "a1", "jobs": jobs, "processId": process_id}}
    assert parse_integration(body).type is expected


def test_integration_type_is_read_in_any_case_and_unknown_values_do_not_fail() -> None:
    body = {
        "integrations": [
            {"integrationId": "a", "integrationType": "PROCESS"},
            {"integrationId": "b", "integrationType": "Sync"},
        ]
    }
    assert [i.type for i in parse_integrations(body)] == [IntegrationType.PROCESS, IntegrationType.UNKNOWN]


def test_entries_without_an_id_are_skipped_and_a_missing_list_is_empty() -> None:
    assert parse_integrations({"integrations": [{"name": "no id"}, "junk", None]}) == []
    assert parse_integrations({"status": {"code": 200}}) == []
    assert parse_flows({"integrationFlows": [{"name": "no id"}]}) == []


def test_by_id_without_an_integration_is_a_response_error() -> None:
    with pytest.raises(AnaplanResponseError, match="integrationId"):
        parse_integration({"status": {"code": 200}})
    with pytest.raises(AnaplanResponseError, match="cloudworks_integration"):
        parse_integration(["not", "an", "object"])


# --------------------------------------------------------------------------- runs


def test_run_history_records() -> None:
    history = parse_run_history(load("cloudworks_run_history.json"))
    assert (history.integration_id, history.total_runs) == ("e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2", 57)
    partial, failed, cancelled = history.runs
    assert (partial.id, partial.trace_id) == (
        "91a01d97958d44baaa58ad8a3d45804e",
        "7b562956986244d789de52acd06c9205",
    )
    assert partial.result is RunResult.PARTIAL  # success true, row counts in the message
    assert (failed.result, failed.execution_error_code, failed.trigger_source) == (
        RunResult.FAILURE,
        12,
        "scheduled_inf",
    )
    assert cancelled.result is RunResult.CANCELLED


def test_run_history_without_runs_is_empty_but_without_history_is_an_error() -> None:
    assert parse_run_history({"history_of_runs": {"integrationId": "x", "totalRuns": 0}}).runs == ()
    with pytest.raises(AnaplanResponseError, match="history_of_runs"):
        parse_run_history({"status": {"code": 200}})


def test_one_run_by_id() -> None:
    run = parse_run(load("cloudworks_run.json"))
    assert run.id == "91a01d97958d44baaa58ad8a3d45804e"  # lower-cased like every CloudWorks ID but models'
    assert (run.integration_id, run.flow_group_id, run.triggered_by) == (
        "152b8666a0234754afc36f1cde0fd9d2",
        "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4",
        "Jane Roe",
    )
    assert run.result is RunResult.PARTIAL  # success true with error code 38
    with pytest.raises(AnaplanResponseError, match="no run"):
        parse_run({"run": {}})


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (Run(start=1.0, end=2.0, success=True, message="Success"), RunResult.SUCCESS),
        (
            Run(start=1.0, end=2.0, success=True, message="success", execution_error_code=38),
            RunResult.PARTIAL,
        ),
        (Run(start=1.0, end=2.0, success=True, message="3 rows failed, 10 rows loaded"), RunResult.PARTIAL),
        (Run(start=1.0, end=2.0, success=True, message=""), RunResult.SUCCESS),
        (Run(start=1.0, end=2.0, success=False, message="Process failed"), RunResult.FAILURE),
        (Run(start=1.0, end=2.0, success=False, message="Anaplan model was deleted"), RunResult.FAILURE),
        (Run(start=1.0, end=2.0, success=False, message="Cancelled"), RunResult.CANCELLED),
        (Run(start=1.0, end=2.0, success=True, message=" cancelled "), RunResult.CANCELLED),
        (Run(start=1.0, end=None, success=False, message="Running"), RunResult.RUNNING),
        (Run(start=1.0, end=None, success=None), RunResult.RUNNING),
        (Run(start=1.0, end=2.0, success=None, execution_error_code=39), RunResult.FAILURE),
        (Run(start=1.0, end=2.0, success=None, execution_error_code=38), RunResult.PARTIAL),
        (Run(start=1.0, end=2.0, success=None), RunResult.UNKNOWN),
    ],
)
def test_run_classification(run: Run, expected: RunResult) -> None:
    assert classify_run(run) is expected


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        ("2026-06-19T01:31:21.000Z", _epoch("2026-06-19T01:31:21")),
        ("2026-06-19T01:31:21Z", _epoch("2026-06-19T01:31:21")),
        ("2026-06-19T03:31:21.500+02:00", _epoch("2026-06-19T01:31:21.5")),
        ("2026-06-19T01:31:21", _epoch("2026-06-19T01:31:21")),  # no offset: UTC
        (None, None),
        ("", None),
        ("yesterday", None),
        ("1970-01-01T00:00:00.000Z", None),  # outside the sane range: absent, not 1970
        ("2999-01-01T00:00:00.000Z", None),
        ("9999-12-31T23:59:59.999Z", None),
        (1781832681, 1781832681.0),  # epoch seconds
        (1781832681000, 1781832681.0),  # epoch milliseconds
        (True, None),
        ([1], None),
    ],
)
def test_run_times(end: object, expected: float | None) -> None:
    run = parse_run_record({"startDate": "2026-06-19T01:30:16.000Z", "endDate": end, "success": True})
    assert run is not None
    assert run.end == (pytest.approx(expected) if expected is not None else None)


def test_an_empty_or_absent_latest_run_is_none() -> None:
    flows = parse_flows(load("cloudworks_flows.json"))
    assert flows[1].latest_run is None
    assert parse_run_record({}) is None and parse_run_record(None) is None and parse_run_record("x") is None


def test_error_codes_must_be_integers() -> None:
    def code(value: object) -> int | None:
        run = parse_run_record({"startDate": "2026-06-19T01:30:16.000Z", "executionErrorCode": value})
        assert run is not None
        return run.execution_error_code

    assert [code(12), code("38"), code(None), code(1.5), code("x"), code(True)] == [
        12,
        38,
        None,
        None,
        None,
        None,
    ]


# --------------------------------------------------------------------------- run errors


def test_run_errors_as_sent() -> None:
    (error,) = parse_run_errors(load("cloudworks_run_errors.json"))
    assert (error.task_id, error.action_id, error.action_name, error.failure_dump_generated) == (
        "2846F8E2FD624F7FA91EC6E2F6E318C0",
        "112000000007",
        "Load actuals",
        True,
    )
    (message,) = error.messages
    assert (message.message, message.occurrences, message.type) == (
        "Load actuals: 2 (of 120) rows failed to load",
        2,
        "hierarchyRowsProcessedWithFailures",
    )
    assert message.values["failedCount"] == "2"


@pytest.mark.parametrize("body", [{"status": {"code": 200}, "runs": {}}, {"runs": []}, {"runs": None}, {}])
def test_no_errors_is_an_empty_object_an_empty_list_or_nothing(body: object) -> None:
    assert parse_run_errors(body) == []


def test_run_errors_as_one_record_object_and_a_connector_failure_without_a_task() -> None:
    body = {
        "runs": {
            "id": "r1",
            "errorMessages": [
                {
                    "actionId": "112000000007",
                    "actionName": "Load actuals",
                    "failureDumpGenerated": False,
                    "errorMessage": "The specified blob does not exist.",
                }
            ],
        }
    }
    (error,) = parse_run_errors(body)
    assert error.task_id == ""  # no Anaplan task was ever created
    assert [m.message for m in error.messages] == ["The specified blob does not exist."]


def test_a_record_with_a_task_but_no_action_still_names_the_task() -> None:
    assert [e.task_id for e in parse_run_errors({"runs": [{"taskId": "T1", "errorMessages": []}]})] == ["T1"]


def test_run_errors_of_the_wrong_shape() -> None:
    with pytest.raises(AnaplanResponseError, match="'runs' is a string"):
        parse_run_errors({"runs": "broken"})
    with pytest.raises(AnaplanResponseError):
        parse_run_errors([])


# --------------------------------------------------------------------------- flows


def test_flow_list_as_sent() -> None:
    close, never = parse_flows(load("cloudworks_flows.json"))
    assert (close.id, close.name, close.steps_count, close.steps) == (
        "d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1",
        "Month-end close",
        3,
        (),
    )
    assert close.latest_run is not None and close.latest_run.result is RunResult.FAILURE
    schedule = close.schedule
    assert schedule is not None
    assert (schedule.type, schedule.day_of_week, schedule.repeat_every, schedule.time) == (
        ScheduleType.MONTHLY_RELATIVE_WEEKDAY,
        5,
        -1,
        datetime.time(22, 0),
    )
    assert never.id == "e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2" and never.schedule is None


def test_flow_by_id_has_its_steps() -> None:
    flow = parse_flow(load("cloudworks_flow.json"))
    load_step, process_step, export_step = flow.steps
    assert (load_step.integration_id, load_step.type, load_step.depends_on) == (
        "e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2",
        IntegrationType.IMPORT,
        (),
    )
    assert (load_step.strategy("failure"), load_step.strategy("partial_success")) == ("stop", "continue")
    assert process_step.depends_on == ("e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2",)
    assert process_step.latest_run is not None and process_step.latest_run.result is RunResult.FAILURE
    assert (process_step.strategy("partial_success"), export_step.is_skipped, export_step.latest_run) == (
        "",
        True,
        None,
    )
    with pytest.raises(AnaplanResponseError, match="no flow"):
        parse_flow({"integrationFlow": {"name": "x"}})


# --------------------------------------------------------------------------- schedules


def test_schedule_fields_that_are_not_real_values_are_absent() -> None:
    schedule = parse_schedule(
        {
            "type": "Monthly_Specific_Day",
            "time": "25:00",
            "fromTime": "7:05",
            "toTime": "07:60",
            "dayOfMonth": 32,
            "dayOfWeek": 9,
            "daysOfWeek": [1, "3", 7, 8, -1, 2.5, None, 1],
            "repeatEvery": 0,
            "startDate": "2026-02-30",
            "endDate": "2026-12-31T00:00:00.000Z",
            "timezone": " Europe/Paris ",
            "status": "Inactive",
        }
    )
    assert schedule is not None
    assert schedule.type is ScheduleType.MONTHLY_SPECIFIC_DAY
    assert (schedule.time, schedule.from_time, schedule.to_time) == (None, datetime.time(7, 5), None)
    assert (schedule.day_of_month, schedule.day_of_week, schedule.repeat_every) == (None, None, None)
    assert schedule.days_of_week == (0, 1, 3)  # 7 is Sunday too
    assert (schedule.start_date, schedule.end_date) == (None, datetime.date(2026, 12, 31))
    assert (schedule.timezone, schedule.active) == ("Europe/Paris", False)


def test_schedule_absent_empty_or_unknown() -> None:
    assert parse_schedule(None) is None and parse_schedule({}) is None and parse_schedule([]) is None
    unknown = parse_schedule({"type": "fortnightly"})
    assert unknown is not None and (unknown.type, unknown.raw_type, unknown.active) == (
        ScheduleType.UNKNOWN,
        "fortnightly",
        True,
    )


# --------------------------------------------------------------------------- any JSON at all

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    [
        "integrations",
        "integration",
        "integrationFlows",
        "integrationFlow",
        "history_of_runs",
        "run",
        "runs",
        "integrationId",
        "id",
        "latestRun",
        "schedule",
        "jobs",
        "steps",
        "startDate",
        "endDate",
        "errorMessages",
        "type",
        "daysOfWeek",
        "timezone",
        "referrer",
        "exceptionBehavior",
        "errorMessage",
        "sources",
        "targets",
    ]
)
_SHAPED = st.recursive(
    _JSON,
    lambda inner: st.dictionaries(_KEYS, inner, max_size=5) | st.lists(inner, max_size=3),
    max_leaves=30,
)
_PARSERS = [
    parse_integrations,
    parse_integration,
    parse_run_history,
    parse_run,
    parse_run_errors,
    parse_flows,
    parse_flow,
]


@settings(max_examples=300, deadline=None)
@given(body=_SHAPED, parser=st.sampled_from(_PARSERS))
def test_any_json_gives_values_or_a_response_error(body: object, parser: object) -> None:
    assert callable(parser)
    try:
        result = parser(body)
    except AnaplanResponseError:
        return
    assert isinstance(result, list | Integration | RunHistory | Run | Flow)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(
        [
            "cloudworks_integrations.json",
            "cloudworks_integration.json",
            "cloudworks_run_history.json",
            "cloudworks_flows.json",
            "cloudworks_flow.json",
        ]
    ),
    path_seed=st.integers(min_value=0, max_value=10_000),
    replacement=_JSON,
)
def test_any_field_of_a_real_document_may_be_anything(name: str, path_seed: int, replacement: object) -> None:
    """Replace one value somewhere in a real document: still a typed value or a response error."""
    document = copy.deepcopy(_document(name))
    containers: list[dict[str, object] | list[object]] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            containers.append(value)
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            containers.append(value)
            for child in value:
                walk(child)

    walk(document)
    container = containers[path_seed % len(containers)]
    if isinstance(container, dict) and container:
        container[sorted(container)[path_seed % len(container)]] = replacement
    elif isinstance(container, list) and container:
        container[path_seed % len(container)] = replacement
    parser = {
        "cloudworks_integrations.json": parse_integrations,
        "cloudworks_integration.json": parse_integration,
        "cloudworks_run_history.json": parse_run_history,
        "cloudworks_flows.json": parse_flows,
        "cloudworks_flow.json": parse_flow,
    }[name]
    try:
        result = parser(json.loads(json.dumps(document)))
    except AnaplanResponseError:
        return
    assert isinstance(result, list | Integration | Flow | RunHistory)
