"""Classifying one watched object for the page: its newest task's outcome, its poll health, whether it is
overdue, its row status.

The row status is what a row is sorted and coloured by: down, else failed, else overdue, else the outcome;
``RANK`` puts problems first and ``LABEL`` is the badge text of each outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...anaplan.models import TaskState
from ...calendar_rhythm import Pattern
from ...snapshot import ObjectStatus

# Task outcome of an object's newest task, and its place in the sort (problems first).
DOWN, FAILED, RUNNING, CANCELLED, UNKNOWN, NONE, SUCCEEDED = (
    "down",
    "failed",
    "running",
    "cancelled",
    "unknown",
    "none",
    "succeeded",
)
OVERDUE = "overdue"
"""Not an outcome but a row status: no success within the time AnaplanTaskOverdue allows (``overdue``)."""
RANK = {DOWN: 0, FAILED: 1, OVERDUE: 2, RUNNING: 3, CANCELLED: 4, UNKNOWN: 5, NONE: 6, SUCCEEDED: 7}
LABEL = {
    DOWN: "DOWN",
    FAILED: "FAILED",
    RUNNING: "RUNNING",
    CANCELLED: "CANCELLED",
    UNKNOWN: "UNKNOWN",
    NONE: "NEVER RAN",
    SUCCEEDED: "OK",
}
_ACTIVE = (TaskState.NOT_STARTED, TaskState.IN_PROGRESS, TaskState.CANCELLING)


def task_outcome(obj: ObjectStatus) -> str:
    """The newest task's outcome: running, failed, succeeded, cancelled, unknown, or none (never ran)."""
    task = obj.task
    if task is None:
        return NONE
    if task.state in _ACTIVE:
        return RUNNING
    if task.state is TaskState.CANCELLED:
        return CANCELLED
    if task.state is TaskState.COMPLETE and task.result is not None:
        return SUCCEEDED if task.result.successful else FAILED
    return UNKNOWN


def poll_health(obj: ObjectStatus) -> str:
    """``up``, ``down`` (the last poll failed, or Anaplan does not confirm the object) or ``pending`` (not
    polled yet)."""
    if obj.up:
        return "up"
    if obj.last_poll_time is None and obj.last_error is None:
        return "pending"
    return "down"


OVERDUE_FACTOR = 1.5
"""Overdue after this many intervals without a success (``AnaplanTaskOverdue``)."""
PATTERN_GRACE = 3600.0
"""Overdue this long (plus the usual run time) after the slot of a learned pattern in which a success was
due (``anaplan:task_overdue_after_timestamp_seconds``)."""


@dataclass(frozen=True, slots=True)
class Overdue:
    """Why an object is overdue, in the terms of the alert: an interval (``interval``, ``configured`` when it
    is ``expected_every``) that ``since_success`` seconds reached 1.5 times, or the slot of a learned calendar
    ``pattern`` in which a success was ``due``. ``since_success`` counts from the exporter's start when no
    success is on record (``succeeded`` False)."""

    since_success: float | None
    succeeded: bool
    interval: float | None = None
    configured: bool = False
    due: float | None = None
    pattern: Pattern | None = None


def overdue(obj: ObjectStatus, now: float, started: float | None) -> Overdue | None:
    """Why ``obj`` is overdue at ``now``, or None when it is not, exactly as AnaplanTaskOverdue's expression
    decides (without its ``for: 5m``). ``started`` is when the exporter's process started
    (``process_start_time_seconds``), None when unknown.

    Keep in step with config/prometheus/anaplan-rules.yml: the alert ``AnaplanTaskOverdue`` and the recording
    rules ``anaplan:task_seconds_since_last_success``, ``anaplan:task_expected_interval_seconds:effective``
    and ``anaplan:task_overdue_after_timestamp_seconds``. In the rules' terms:

    - seconds since the last success: ``now - last_success_time``; with no success on record,
      ``now - started`` (every object exports ``anaplan_target_up``, so this always exists in Prometheus);
    - overdue when those seconds >= 1.5 x the effective interval (``expected_every``, else the learned
      interval), or
    - with no ``expected_every`` and a success due by a learned pattern: when
      ``now >= success_due_time + 3600 + usual duration`` (0 without one).

    tests/monitoring/test_overdue_page_agrees.py runs this and the rule (on promtool) on the same objects.
    """
    configured = obj.ref.expected_every
    if obj.last_success_time is not None:
        since: float | None = now - obj.last_success_time
    else:
        since = now - started if started is not None else None
    interval = configured if configured is not None else obj.learned_interval_seconds
    succeeded = obj.last_success_time is not None
    if since is not None and interval is not None and since >= OVERDUE_FACTOR * interval:
        return Overdue(since, succeeded, interval=interval, configured=configured is not None)
    due = obj.success_due_time
    if configured is None and due is not None:
        usual = obj.usual_duration_seconds
        if now >= due + PATTERN_GRACE + (usual if usual is not None else 0.0):
            return Overdue(since, succeeded, due=due, pattern=obj.learned_pattern)
    return None


def row_status(outcome: str, health: str, late: Overdue | None) -> str:
    """What the row is sorted and coloured by: down, else failed, else overdue, else the outcome."""
    if health == "down":
        return DOWN
    if outcome == FAILED:
        return FAILED
    return OVERDUE if late is not None else outcome
