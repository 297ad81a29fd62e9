"""The fields of an object's snapshot status that take more than a copy: the newest run's duration
(Anaplan's, else as the tracker saw it run) and its steps with readable names. Pure functions of what the
tracker knows."""

from __future__ import annotations

from collections.abc import Mapping

from ..anaplan.models import Task, TaskResult
from ..snapshot import StepStatus


def run_duration(
    task: Task | None, now: float, seen_running: str | None, finished_at: float | None
) -> float | None:
    """How long ``task`` ran (or has been running at ``now``); ``seen_running`` is the ID of the task the
    tracker saw unfinished, ``finished_at`` when it then saw that task finished."""
    if task is None:
        return None
    if task.result is not None and task.result.duration_seconds is not None:
        return task.result.duration_seconds
    if task.creation_time is None:
        return None
    if not task.state.terminal:
        return max(0.0, now - task.creation_time)
    if seen_running == task.task_id and finished_at is not None:
        return max(0.0, finished_at - task.creation_time)
    return None  # finished before we first saw it, and Anaplan gave no duration


def step_statuses(result: TaskResult | None, step_names: Mapping[str, str]) -> tuple[StepStatus, ...]:
    """The steps of a process run, named from ``step_names`` (else as Anaplan names them); an action run
    twice in one process is told apart by a ``#2`` suffix."""
    if result is None or not result.nested:
        return ()
    steps: list[StepStatus] = []
    seen: dict[str, int] = {}
    for nested in result.nested:
        name = step_names.get(nested.object_id, nested.object_name or nested.object_id)
        seen[nested.object_id] = seen.get(nested.object_id, 0) + 1
        if seen[nested.object_id] > 1:  # the same action run twice in one process
            name = f"{name} #{seen[nested.object_id]}"
        steps.append(
            StepStatus(
                step_id=nested.object_id,
                step_name=name,
                successful=nested.successful,
                duration_seconds=nested.duration_seconds,
                start_time=nested.start_time,
                failure_dump_available=nested.failure_dump_available,
            )
        )
    return tuple(steps)
