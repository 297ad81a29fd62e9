"""Typed values of the CloudWorks API: integrations, flows, schedules, runs and run errors.

Times are Unix epoch seconds (floats), as in :mod:`.models`; a schedule keeps its wall-clock fields as
CloudWorks shows them (``HH:MM``, dates, an IANA time zone name), because when it fires is computed from
them (:mod:`.cloudworks_schedule`). IDs are normalised to the case the Integration API uses: model IDs upper
case, every other ID lower case, so they compare equal to the IDs the exporter already watches.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from .models import ResultDetail

PARTIAL_SUCCESS_CODE = 38
"""``executionErrorCode`` of a run that succeeded with rejected rows (``success`` is still true)."""


class IntegrationType(str, enum.Enum):
    """``integrationType``; a value CloudWorks may add later maps to UNKNOWN instead of failing."""

    IMPORT = "Import"
    EXPORT = "Export"
    PROCESS = "Process"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> IntegrationType:
        if isinstance(value, str):
            for member in cls:
                if member.value.lower() == value.strip().lower():
                    return member
        return cls.UNKNOWN


class ScheduleType(str, enum.Enum):
    """``schedule.type``."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY_SPECIFIC_DAY = "monthly_specific_day"
    MONTHLY_RELATIVE_WEEKDAY = "monthly_relative_weekday"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> ScheduleType:
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                return cls.UNKNOWN
        return cls.UNKNOWN


class RunResult(str, enum.Enum):
    """What a run came to. UNKNOWN: it ended, but neither ``success`` nor the error code says how (a run
    is never reported failed on a guess)."""

    SUCCESS = "success"
    PARTIAL = "partial"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    RUNNING = "running"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Schedule:
    """An integration's or a flow's ``schedule``; fields its type does not use are None or empty.

    ``days_of_week`` and ``day_of_week`` count from 0 = Sunday, as CloudWorks does. ``repeat_every`` is the
    hour interval of an hourly schedule and the n of "the nth weekday" of a monthly relative one.
    """

    type: ScheduleType
    raw_type: str = ""
    name: str = ""
    time: datetime.time | None = None
    from_time: datetime.time | None = None
    to_time: datetime.time | None = None
    repeat_every: int | None = None
    days_of_week: tuple[int, ...] = ()
    day_of_month: int | None = None
    day_of_week: int | None = None
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None
    timezone: str = ""
    active: bool = True


@dataclass(frozen=True)
class Run:
    """A run: an integration's or flow's ``latestRun``, a run-history record, or ``GET /integrations/run``.

    ``end`` is None while the run is going on. ``id``, ``integration_id``, ``trace_id`` and
    ``flow_group_id`` are empty where the answer does not carry them (``latestRun`` has no run ID).
    ``triggered_by`` is a person's display name: for the status page, never a metric label.
    """

    start: float | None = None
    end: float | None = None
    success: bool | None = None
    message: str = ""
    execution_error_code: int | None = None
    trigger_source: str = ""
    triggered_by: str = ""
    id: str = ""
    integration_id: str = ""
    trace_id: str = ""
    flow_group_id: str = ""

    @property
    def result(self) -> RunResult:
        return classify_run(self)


def classify_run(run: Run) -> RunResult:
    """Success, partial, failure, cancelled, running (or unknown), from the fields CloudWorks sends.

    - ``message`` "Cancelled" is a cancellation, whatever ``success`` says.
    - No end time: still running.
    - ``success`` true is a partial success when the error code is 38, or when the message is not plain
      "Success" but carries numbers: CloudWorks then reports the import's row counts in it.
    - ``success`` false, or no ``success`` with an error code other than 38, is a failure.
    """
    message = run.message.strip()
    if message.lower() == "cancelled":
        return RunResult.CANCELLED
    if run.end is None:
        return RunResult.RUNNING
    if run.success is True:
        if run.execution_error_code == PARTIAL_SUCCESS_CODE:
            return RunResult.PARTIAL
        if message.lower() != "success" and any(char.isdigit() for char in message):
            return RunResult.PARTIAL
        return RunResult.SUCCESS
    if run.success is False:
        return RunResult.FAILURE
    if run.execution_error_code is not None:
        return RunResult.PARTIAL if run.execution_error_code == PARTIAL_SUCCESS_CODE else RunResult.FAILURE
    return RunResult.UNKNOWN


@dataclass(frozen=True)
class IntegrationJob:
    """One of an integration's ``jobs`` (by-ID answer only): its type (``AmazonS3ToAnaplan`` ...), the
    Anaplan import/export action IDs its sources and targets name, and its cloud connections."""

    type: str
    action_ids: tuple[str, ...] = ()
    connection_ids: tuple[str, ...] = ()
    connection_deleted: bool = False


@dataclass(frozen=True)
class Integration:
    """An integration. ``jobs`` is filled only by ``GET /integrations/{id}``; the list has none."""

    id: str
    name: str
    type: IntegrationType
    workspace_id: str = ""
    model_id: str = ""
    process_id: str = ""
    latest_run: Run | None = None
    schedule: Schedule | None = None
    jobs: tuple[IntegrationJob, ...] = ()

    @property
    def anaplan_object_ids(self) -> tuple[str, ...]:
        """The Anaplan objects it runs: its process, or the imports/exports its jobs name (no repeats)."""
        ids = [self.process_id] if self.process_id else []
        for job in self.jobs:
            ids += [action for action in job.action_ids if action not in ids]
        return tuple(ids)


@dataclass(frozen=True)
class RunHistory:
    """``GET /integrations/runs/{id}``: one page of an integration's runs, newest first as sent."""

    integration_id: str
    runs: tuple[Run, ...] = ()
    total_runs: int | None = None


@dataclass(frozen=True)
class RunError:
    """One failing action of a run (``GET /integrations/runerror/{runId}``).

    ``task_id`` is the Anaplan task the run created, empty when the run failed before Anaplan had one
    (a connector failure: file missing in the bucket, expired SAS token).
    """

    task_id: str = ""
    action_id: str = ""
    action_name: str = ""
    failure_dump_generated: bool = False
    messages: tuple[ResultDetail, ...] = ()


@dataclass(frozen=True)
class ExceptionBehavior:
    """What a flow does when a step fails (``failure``) or partly succeeds (``partial_success``)."""

    type: str
    strategy: str


@dataclass(frozen=True)
class FlowStep:
    """One step of a flow: the integration it runs (``referrer``) and when it runs."""

    integration_id: str
    name: str = ""
    type: IntegrationType = IntegrationType.UNKNOWN
    depends_on: tuple[str, ...] = ()
    is_skipped: bool = False
    exception_behavior: tuple[ExceptionBehavior, ...] = ()
    latest_run: Run | None = None

    def strategy(self, exception_type: str) -> str:
        """``stop`` or ``continue`` for ``failure`` / ``partial_success``; '' when the step sets none."""
        for behavior in self.exception_behavior:
            if behavior.type == exception_type:
                return behavior.strategy
        return ""


@dataclass(frozen=True)
class Flow:
    """An integration flow. ``steps`` is filled only by ``GET /integrationflows/{id}``."""

    id: str
    name: str
    steps_count: int | None = None
    latest_run: Run | None = None
    schedule: Schedule | None = None
    steps: tuple[FlowStep, ...] = ()
