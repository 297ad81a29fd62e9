"""Classifying one watched object for the page: its newest task's outcome, its poll health, its row status.

The row status is what a row is sorted and coloured by; ``RANK`` puts problems first and ``LABEL`` is the
badge text of each outcome.
"""

from __future__ import annotations

from ...anaplan.models import TaskState
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
RANK = {DOWN: 0, FAILED: 1, RUNNING: 2, CANCELLED: 3, UNKNOWN: 4, NONE: 5, SUCCEEDED: 6}
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
