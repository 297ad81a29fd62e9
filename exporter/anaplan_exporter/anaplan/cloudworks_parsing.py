"""Pure functions from decoded CloudWorks JSON to the values of :mod:`.cloudworks_models`.

Tolerant the way :mod:`.parsing` is, with its helpers and its one error type: every function accepts any
decoded JSON value and returns a typed value or raises :class:`AnaplanResponseError`; unknown fields are
ignored. CloudWorks' own quirks, as live-tested by the public OpenAPI description and the ``anaplan-sdk``
client:

- ``runs: {}`` (an empty object, not a list) when a run had no errors; a non-empty ``runs`` may be one
  record object or a list of them.
- ``latestRun`` and ``schedule`` absent (never run, not scheduled) or ``{}``; ``endDate`` absent or null
  while a run goes on.
- ``modelId`` is upper case, every other ID lower case: IDs are normalised that way, as the Integration API
  writes them.
- Times are ISO 8601 in UTC with milliseconds (``2026-06-19T01:30:16.000Z``); a time outside
  :data:`EARLIEST`..:data:`LATEST` is garbage and treated as absent.
- ``GET /integrations/{id}`` leaves ``integrationType`` out: it is inferred from ``processId`` and the jobs.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from .cloudworks_models import (
    ExceptionBehavior,
    Flow,
    FlowStep,
    Integration,
    IntegrationJob,
    IntegrationType,
    Run,
    RunError,
    RunHistory,
    Schedule,
    ScheduleType,
)
from .errors import AnaplanResponseError
from .models import ResultDetail
from .parsing import _boolean, _detail, _integer, _items, _kind, _list_payload, _mapping, _number, _text
from .timestamps import EARLIEST

LATEST = datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
"""The end of the sane range of a CloudWorks time (epoch seconds; it starts at ``timestamps.EARLIEST``): a
run cannot start a lifetime ahead; anything outside is treated as absent, never as a real time."""

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
T = TypeVar("T")
_MAX_STEPS = 1000
"""More steps than this in one flow is not a flow but garbage (CloudWorks allows 100)."""


# --------------------------------------------------------------------------- scalars


def _id(value: object) -> str:
    """A lower-case ID (integration, workspace, run, trace, connection, flow)."""
    return _text(value).strip().lower()


def _model_id(value: object) -> str:
    """A model ID, upper case as the Integration API writes it."""
    return _text(value).strip().upper()


def _epoch(value: object) -> float | None:
    """Epoch seconds from an ISO 8601 time (``Z`` or an offset; no offset means UTC), or from a number of
    seconds (milliseconds above 1e11); None when unreadable or outside EARLIEST..LATEST."""
    seconds: float | None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat reads no Z
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        try:
            seconds = moment.timestamp()
        except (OverflowError, ValueError, OSError):
            return None
    else:
        seconds = _number(value)
        if seconds is not None and abs(seconds) > 1e11:
            seconds /= 1000.0
    if seconds is None or not EARLIEST <= seconds <= LATEST:
        return None
    return seconds


def _clock(value: object) -> datetime.time | None:
    """``HH:MM`` (or ``HH:MM:SS``) as a time of day; None when absent or not a real time."""
    if not isinstance(value, str):
        return None
    match = _CLOCK.fullmatch(value.strip())
    if match is None:
        return None
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return datetime.time(hour, minute, second)


def _date(value: object) -> datetime.date | None:
    """``YYYY-MM-DD``, also the date part of a full timestamp; None when absent or not a real date."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if match is None:
        return None
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _weekday(value: object) -> int | None:
    """A day of the week, 0 = Sunday .. 6 = Saturday (7 is taken as Sunday too)."""
    number = _integer(value)
    if number is None or not 0 <= number <= 7 or number != _number(value):
        return None
    return number % 7


def _positive(value: object, maximum: int) -> int | None:
    number = _integer(value)
    return number if number is not None and 1 <= number <= maximum and number == _number(value) else None


def _object(value: object) -> Mapping[str, object] | None:
    """A non-empty JSON object, else None (``latestRun: {}`` is no run)."""
    return value if isinstance(value, dict) and value else None


# --------------------------------------------------------------------------- schedules and runs


def parse_schedule(raw: object) -> Schedule | None:
    """A ``schedule`` object; None when absent, empty or not an object."""
    schedule = _object(raw)
    if schedule is None:
        return None
    raw_days = schedule.get("daysOfWeek")
    days = sorted(
        {day for day in (_weekday(entry) for entry in raw_days) if day is not None}
        if isinstance(raw_days, list)
        else set()
    )
    raw_day_of_month = _integer(schedule.get("dayOfMonth"))
    repeat = _integer(schedule.get("repeatEvery"))
    status = schedule.get("status")
    active = True
    if isinstance(status, str):
        active = status.strip().lower() not in ("inactive", "disabled", "false")
    elif isinstance(status, bool):
        active = status
    return Schedule(
        type=ScheduleType.parse(schedule.get("type")),
        raw_type=_text(schedule.get("type")),
        name=_text(schedule.get("name")),
        time=_clock(schedule.get("time")),
        from_time=_clock(schedule.get("fromTime")),
        to_time=_clock(schedule.get("toTime")),
        repeat_every=repeat if repeat is not None and -1 <= repeat <= 24 and repeat != 0 else None,
        days_of_week=tuple(days),
        day_of_month=raw_day_of_month
        if raw_day_of_month is not None and 1 <= raw_day_of_month <= 31
        else None,
        day_of_week=_weekday(schedule.get("dayOfWeek")),
        start_date=_date(schedule.get("startDate")),
        end_date=_date(schedule.get("endDate")),
        timezone=_text(schedule.get("timezone")).strip(),
        active=active,
    )


def parse_run_record(raw: object) -> Run | None:
    """A ``latestRun``, a run-history record or a ``run``; None when absent or empty."""
    run = _object(raw)
    if run is None:
        return None
    code = _integer(run.get("executionErrorCode"))
    return Run(
        start=_epoch(run.get("startDate")),
        end=_epoch(run.get("endDate")),
        success=_boolean(run.get("success")),
        message=_text(run.get("message")),
        execution_error_code=code if code == _number(run.get("executionErrorCode")) else None,
        trigger_source=_text(run.get("triggerSource")).strip().lower(),
        triggered_by=_text(run.get("triggeredBy") or run.get("createdBy")),
        id=_id(run.get("id")),
        integration_id=_id(run.get("integrationId")),
        trace_id=_id(run.get("traceId")),
        flow_group_id=_id(run.get("flowGroupId")),
    )


def parse_run(body: object) -> Run:
    """``GET /integrations/run/{runId}``: the envelope's ``run``, or a bare run document."""
    envelope = _mapping(body, "cloudworks_run", "the response")
    run = parse_run_record(envelope.get("run", envelope))
    if run is None or not (run.id or run.start is not None):
        raise AnaplanResponseError("no run in the response (neither 'id' nor 'startDate')", "cloudworks_run")
    return run


def parse_run_history(body: object) -> RunHistory:
    """``GET /integrations/runs/{id}``: ``history_of_runs.runs`` (absent: no runs), newest first as sent."""
    envelope = _mapping(body, "cloudworks_run_history", "the response")
    history = _mapping(envelope.get("history_of_runs"), "cloudworks_run_history", "'history_of_runs'")
    runs = _items(history, "runs", "cloudworks_run_history", parse_run_record)
    total = _integer(history.get("totalRuns"))
    return RunHistory(
        integration_id=_id(history.get("integrationId")),
        runs=tuple(runs),
        total_runs=total if total is not None and total >= 0 else None,
    )


# --------------------------------------------------------------------------- run errors


def _messages(raw: object) -> tuple[ResultDetail, ...]:
    """``errorMessage``: a list of Anaplan result details, tolerated as one object or a bare string."""
    if isinstance(raw, str):
        return (ResultDetail(message=raw),) if raw.strip() else ()
    entries = raw if isinstance(raw, list) else [raw]
    details: list[ResultDetail] = []
    for entry in entries:
        if isinstance(entry, dict):
            details.append(_detail(entry))
        elif isinstance(entry, str) and entry.strip():
            details.append(ResultDetail(message=entry))
    return tuple(details)


def parse_run_errors(body: object) -> list[RunError]:
    """``GET /integrations/runerror/{runId}``: one RunError per failing action.

    ``runs`` is ``{}`` or ``[]`` (or absent) when the run had no errors, one record object or a list of
    them otherwise. A record that names a task but no action still gives one RunError (with the task ID).
    """
    envelope = _mapping(body, "cloudworks_run_errors", "the response")
    raw = envelope.get("runs")
    if raw is None or (isinstance(raw, dict | list) and not raw):
        return []
    if not isinstance(raw, dict | list):
        raise AnaplanResponseError(f"'runs' is {_kind(raw)}, expected a list", "cloudworks_run_errors")
    errors: list[RunError] = []
    for record in _list_payload(envelope, "runs", "cloudworks_run_errors"):
        if not isinstance(record, dict):
            continue
        task_id = _text(record.get("taskId")).strip()
        actions = record.get("errorMessages")
        entries = [
            entry
            for entry in (actions if isinstance(actions, list) else [actions])
            if isinstance(entry, dict)
        ]
        for entry in entries:
            errors.append(
                RunError(
                    task_id=task_id,
                    action_id=_text(entry.get("actionId")).strip(),
                    action_name=_text(entry.get("actionName")),
                    failure_dump_generated=bool(_boolean(entry.get("failureDumpGenerated"))),
                    messages=_messages(entry.get("errorMessage")),
                )
            )
        if not entries and task_id:
            errors.append(RunError(task_id=task_id))
    return errors


# --------------------------------------------------------------------------- integrations


def _endpoint_ids(raw: object) -> tuple[list[str], list[str], bool]:
    """Action IDs, connection IDs and "a connection was deleted" from a job's ``sources`` or ``targets``."""
    actions: list[str] = []
    connections: list[str] = []
    deleted = False
    for entry in raw if isinstance(raw, list) else []:
        if not isinstance(entry, dict):
            continue
        action = _text(entry.get("actionId")).strip()
        if action and action not in actions:
            actions.append(action)
        connection = _id(entry.get("connectionId"))
        if connection and connection not in connections:
            connections.append(connection)
        deleted = deleted or bool(_boolean(entry.get("isConnectionDeleted")))
    return actions, connections, deleted


def _job(entry: Mapping[str, object]) -> IntegrationJob:
    source_actions, source_connections, source_deleted = _endpoint_ids(entry.get("sources"))
    target_actions, target_connections, target_deleted = _endpoint_ids(entry.get("targets"))
    return IntegrationJob(
        type=_text(entry.get("type")),
        action_ids=tuple(dict.fromkeys(source_actions + target_actions)),
        connection_ids=tuple(dict.fromkeys(source_connections + target_connections)),
        connection_deleted=source_deleted or target_deleted,
    )


def _inferred_type(process_id: str, jobs: tuple[IntegrationJob, ...]) -> IntegrationType:
    """The type the by-ID answer leaves out: a process ID makes a process; ``…ToAnaplan`` jobs an import,
    ``AnaplanTo…`` jobs an export."""
    if process_id:
        return IntegrationType.PROCESS
    kinds = {job.type.lower() for job in jobs}
    if kinds and all(kind.endswith("toanaplan") for kind in kinds):
        return IntegrationType.IMPORT
    if kinds and all(kind.startswith("anaplanto") for kind in kinds):
        return IntegrationType.EXPORT
    return IntegrationType.UNKNOWN


def _integration(entry: Mapping[str, object]) -> Integration | None:
    integration_id = _id(entry.get("integrationId") or entry.get("id"))
    if not integration_id:
        return None
    raw_jobs = entry.get("jobs")
    jobs = tuple(
        _job(job) for job in (raw_jobs if isinstance(raw_jobs, list) else []) if isinstance(job, dict)
    )
    process_id = _text(entry.get("processId")).strip()
    kind = IntegrationType.parse(entry.get("integrationType"))
    return Integration(
        id=integration_id,
        name=_text(entry.get("name")),
        type=kind if kind is not IntegrationType.UNKNOWN else _inferred_type(process_id, jobs),
        workspace_id=_id(entry.get("workspaceId")),
        model_id=_model_id(entry.get("modelId")),
        process_id=process_id,
        latest_run=parse_run_record(entry.get("latestRun")),
        schedule=parse_schedule(entry.get("schedule")),
        jobs=jobs,
    )


def parse_integrations(body: object) -> list[Integration]:
    """``GET /integrations``: entries without an ID are skipped."""
    return _items(body, "integrations", "cloudworks_integrations", _integration)


def parse_integration(body: object) -> Integration:
    """``GET /integrations/{id}``: the envelope's ``integration``, or a bare integration document."""
    return _single(body, "integration", "cloudworks_integration", _integration, "'integrationId'")


def _single(
    body: object, key: str, endpoint: str, parse: Callable[[Mapping[str, object]], T | None], id_name: str
) -> T:
    """The one document of a by-ID answer: the envelope's ``key``, or the bare document itself."""
    envelope = _mapping(body, endpoint, "the response")
    inner = _mapping(envelope.get(key, envelope), endpoint, f"'{key}'")
    item = parse(inner)
    if item is None:
        raise AnaplanResponseError(f"no {id_name} in the response", endpoint)
    return item


# --------------------------------------------------------------------------- flows


def _step(entry: Mapping[str, object]) -> FlowStep | None:
    referrer = _id(entry.get("referrer"))
    if not referrer:
        return None
    raw_depends = entry.get("dependsOn")
    depends = [_id(item) for item in (raw_depends if isinstance(raw_depends, list) else [])]
    raw_behavior = entry.get("exceptionBehavior")
    behavior = tuple(
        ExceptionBehavior(
            type=_text(item.get("type")).strip().lower(), strategy=_text(item.get("strategy")).strip().lower()
        )
        for item in (raw_behavior if isinstance(raw_behavior, list) else [])
        if isinstance(item, dict)
    )
    return FlowStep(
        integration_id=referrer,
        name=_text(entry.get("name")),
        type=IntegrationType.parse(entry.get("type")),
        depends_on=tuple(item for item in dict.fromkeys(depends) if item),
        is_skipped=bool(_boolean(entry.get("isSkipped"))),
        exception_behavior=behavior,
        latest_run=parse_run_record(entry.get("latestRun")),
    )


def _flow(entry: Mapping[str, object]) -> Flow | None:
    flow_id = _id(entry.get("id") or entry.get("integrationFlowId"))
    if not flow_id:
        return None
    steps_count = _integer(entry.get("stepsCount"))
    raw_steps = entry.get("steps")
    steps = [
        step
        for step in (
            _step(item)
            for item in (raw_steps if isinstance(raw_steps, list) else [])[:_MAX_STEPS]
            if isinstance(item, dict)
        )
        if step is not None
    ]
    return Flow(
        id=flow_id,
        name=_text(entry.get("name")),
        steps_count=steps_count if steps_count is not None and steps_count >= 0 else None,
        latest_run=parse_run_record(entry.get("latestRun")),
        schedule=parse_schedule(entry.get("schedule")),
        steps=tuple(steps),
    )


def parse_flows(body: object) -> list[Flow]:
    """``GET /integrationflows``: entries without an ID are skipped."""
    return _items(body, "integrationFlows", "cloudworks_flows", _flow)


def parse_flow(body: object) -> Flow:
    """``GET /integrationflows/{id}``: the envelope's ``integrationFlow``, or a bare flow document."""
    return _single(body, "integrationFlow", "cloudworks_flow", _flow, "flow 'id'")
