"""Per-object bookkeeping: which task is newest, which completions were already counted.

One ``ObjectTracker`` per watched object. ``poll()`` lists the object's tasks, fetches the status of new
and unfinished tasks only (a finished task never changes, so it is fetched at most once), and counts each
completion exactly once. Tasks already finished when the tracker first looks are history: they set the
"last success/failure" timestamps but are never counted as completions, so a restart cannot fabricate
failures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from ..anaplan.errors import (
    AnaplanAuthError,
    AnaplanConnectionError,
    AnaplanError,
    AnaplanHTTPError,
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanServerError,
    AnaplanStoppedError,
    AnaplanTimeoutError,
    AnaplanTooLargeError,
)
from ..anaplan.models import ObjectType, Task, TaskResult, TaskState, TaskSummary
from ..snapshot import COMPLETION_RESULTS, ObjectRef, ObjectStatus, PollError, StepStatus

log = logging.getLogger(__name__)

HISTORY_LOOKBACK = 3
"""At start-up, how many older finished runs to fetch to find the last success and failure."""

FORGET_COUNTED_AFTER = 86400.0
"""A counted task is forgotten once it has been missing from the task list this long (seconds): a list that
briefly leaves tasks out must not make them count again, and memory stays bounded."""


class TaskReader(Protocol):
    """The two client calls a tracker needs (``AnaplanClient`` provides them)."""

    def list_tasks(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str
    ) -> list[TaskSummary]: ...

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task: ...


def error_reason(exc: BaseException) -> str:
    """A bounded label value for a failed poll (one of ``ERROR_REASONS``, or ``stopped`` for a request
    abandoned because the exporter is shutting down, which is not a failure of the object)."""
    if isinstance(exc, AnaplanStoppedError):
        return "stopped"
    if isinstance(exc, AnaplanTimeoutError):
        return "timeout"
    if isinstance(exc, AnaplanTooLargeError):
        return "too_large"
    if isinstance(exc, AnaplanNotFoundError):
        return "not_found"
    if isinstance(exc, AnaplanPermissionError):
        return "forbidden"
    if isinstance(exc, AnaplanAuthError):
        return "auth"
    if isinstance(exc, AnaplanRateLimitError):
        return "rate_limited"
    if isinstance(exc, AnaplanServerError):
        return "server_error"
    if isinstance(exc, AnaplanConnectionError):
        return "connection"
    if isinstance(exc, AnaplanResponseError):
        return "bad_response"
    if isinstance(exc, AnaplanHTTPError) and exc.status == 401:
        return "auth"
    return "other"


def classify(task: Task) -> str | None:
    """The completion result of a finished task, or None while it can still change."""
    if task.state is TaskState.CANCELLED:
        return "cancelled"
    if task.state is TaskState.COMPLETE:
        return "success" if task.result is not None and task.result.successful else "failure"
    return None


def _newest(summaries: list[TaskSummary]) -> TaskSummary:
    """Newest by creationTime; on ties (or missing times) the later entry in the list wins."""
    best_index = max(
        range(len(summaries)),
        key=lambda i: (summaries[i].creation_time if summaries[i].creation_time is not None else -1.0, i),
    )
    return summaries[best_index]


class ObjectTracker:
    """Polls one object and keeps its last good state. Not thread-safe: one poll at a time per tracker."""

    def __init__(self, ref: ObjectRef, step_names: Mapping[str, str] | None = None) -> None:
        self.ref = ref
        self.step_names: Mapping[str, str] = step_names or {}
        self._baseline_taken = False
        self._counted: dict[str, float] = {}
        """IDs of finished tasks already counted (or history), with when each was last listed."""
        self._newest: Task | None = None
        self._with_result: Task | None = None
        self._up = False
        self._last_success: float | None = None
        self._last_failure: float | None = None
        self._completions = dict.fromkeys(COMPLETION_RESULTS, 0)
        self._errors: dict[str, int] = {}
        self._seen_running: str | None = None
        """ID of the newest task while we saw it unfinished: only then can we time its end ourselves."""
        self._finished_at: float | None = None
        self._status: ObjectStatus | None = None
        """The last ``status()``, reused until a poll or a rename: publishing stays cheap for idle objects."""
        self._status_steps: Mapping[str, str] | None = None
        self._last_poll: float | None = None
        self._last_error: PollError | None = None

    # -- state queries used by the scheduler -------------------------------------------------------

    @property
    def up(self) -> bool:
        """True when the last poll succeeded."""
        return self._up

    @property
    def active(self) -> bool:
        """True while the newest task is unfinished, so it deserves the faster poll interval."""
        return self._newest is not None and not self._newest.state.terminal

    @property
    def active_since(self) -> float | None:
        return self._newest.creation_time if self.active and self._newest is not None else None

    @property
    def names_unknown_step(self) -> bool:
        """True when the newest result names a step the process's step names do not know (yet)."""
        task = self._with_result
        result = task.result if task is not None else None
        return result is not None and any(n.object_id not in self.step_names for n in result.nested)

    # -- polling ------------------------------------------------------------------------------------

    def poll(self, client: TaskReader, now: float) -> bool:
        """One poll; True on success. On failure the last good state stays and the error is counted."""
        self._status = None
        self._last_poll = now
        try:
            self._poll(client, now)
        except AnaplanStoppedError:
            return False  # the exporter is stopping: not a failure of the object, nothing to record
        except AnaplanError as exc:
            self._fail(error_reason(exc), exc, now)
            return False
        except Exception as exc:  # a bug or an unforeseen shape must not stop the other objects
            log.exception("unexpected error polling %s %s", self.ref.object_type.value, self.ref.object_id)
            self._fail("other", exc, now)
            return False
        self._up = True
        return True

    def _fail(self, reason: str, exc: BaseException, now: float) -> None:
        self._up = False
        self._errors[reason] = self._errors.get(reason, 0) + 1
        self._last_error = PollError(reason, str(exc), now)  # the poller logs it (once per problem)

    def _fetch(self, client: TaskReader, task_id: str) -> Task:
        r = self.ref
        return client.task_status(r.workspace_id, r.model_id, r.object_type, r.object_id, task_id)

    def _poll(self, client: TaskReader, now: float) -> None:
        r = self.ref
        summaries = client.list_tasks(r.workspace_id, r.model_id, r.object_type, r.object_id)
        if not summaries:
            # Anaplan answers an empty list for objects with no runs (and masks NO ACCESS the same way).
            self._baseline_taken = True
            return
        newest_summary = _newest(summaries)
        newest = self._newest
        if newest is None or newest.task_id != newest_summary.task_id or not newest.state.terminal:
            newest = self._fetch(client, newest_summary.task_id)
            if newest.creation_time is None and newest_summary.creation_time is not None:
                newest = replace(newest, creation_time=newest_summary.creation_time)
        fetched = {newest.task_id: newest}

        if not self._baseline_taken:
            self._take_baseline(client, summaries, fetched, now)
        else:
            self._count_completions(client, summaries, fetched, now)

        if not newest.state.terminal:
            self._seen_running, self._finished_at = newest.task_id, None
        elif self._seen_running == newest.task_id and self._finished_at is None:
            self._finished_at = now
        self._newest = newest
        if newest.result is not None:
            self._with_result = newest
        listed = {s.task_id for s in summaries}
        self._counted = {
            task_id: now if task_id in listed else seen
            for task_id, seen in self._counted.items()
            if task_id in listed or now - seen < FORGET_COUNTED_AFTER
        }

    def _take_baseline(
        self, client: TaskReader, summaries: list[TaskSummary], fetched: dict[str, Task], now: float
    ) -> None:
        """Mark the history as already counted and find the last success/failure among recent runs."""
        finished = [s for s in summaries if s.state.terminal]
        self._counted.update(dict.fromkeys((s.task_id for s in finished), now))
        finished.sort(key=lambda s: s.creation_time or 0.0, reverse=True)
        lookups = 0
        for summary in finished:
            if self._last_success is not None and self._last_failure is not None:
                break
            task = fetched.get(summary.task_id)
            if task is None:
                if lookups >= HISTORY_LOOKBACK:
                    break
                lookups += 1
                task = self._fetch(client, summary.task_id)
            self._remember_outcome(classify(task), task.creation_time or summary.creation_time)
        self._baseline_taken = True

    def _count_completions(
        self, client: TaskReader, summaries: list[TaskSummary], fetched: dict[str, Task], now: float
    ) -> None:
        """Count every task that finished since the last poll, oldest first, each exactly once."""
        todo = [s for s in summaries if s.task_id not in self._counted]
        todo.sort(key=lambda s: s.creation_time or 0.0)
        for summary in todo:
            task = fetched.get(summary.task_id)
            if task is None:
                if not summary.state.terminal:
                    continue
                task = self._fetch(client, summary.task_id)
            result = classify(task)
            if result is None:
                continue
            self._counted[summary.task_id] = now
            self._completions[result] += 1
            self._remember_outcome(result, task.creation_time or summary.creation_time)

    def _remember_outcome(self, result: str | None, created: float | None) -> None:
        if created is None:
            return
        if result == "success" and (self._last_success is None or created > self._last_success):
            self._last_success = created
        elif result == "failure" and (self._last_failure is None or created > self._last_failure):
            self._last_failure = created

    # -- output ---------------------------------------------------------------------------------------

    def status(self, now: float, ref: ObjectRef | None = None) -> ObjectStatus:
        """An immutable view for the snapshot (``ref`` replaces the names after a rediscovery)."""
        if ref is not None:
            self.ref = ref
        cached = self._status
        if (
            cached is not None
            and not self.active  # a running task's duration grows with ``now``
            and cached.ref is self.ref
            and self._status_steps is self.step_names
        ):
            return cached
        result_task = self._with_result
        result = result_task.result if result_task is not None else None
        self._status_steps = self.step_names
        self._status = ObjectStatus(
            ref=self.ref,
            up=self._up,
            task=self._newest,
            duration_seconds=self._duration(now),
            steps=self._steps(result),
            row_counts=result.row_counts if result is not None else None,
            last_success_time=self._last_success,
            last_failure_time=self._last_failure,
            completions=dict(self._completions),
            errors=dict(self._errors),
            last_poll_time=self._last_poll,
            last_error=self._last_error,
        )
        return self._status

    def _duration(self, now: float) -> float | None:
        task = self._newest
        if task is None:
            return None
        if task.result is not None and task.result.duration_seconds is not None:
            return task.result.duration_seconds
        if task.creation_time is None:
            return None
        if not task.state.terminal:
            return max(0.0, now - task.creation_time)
        if self._seen_running == task.task_id and self._finished_at is not None:
            return max(0.0, self._finished_at - task.creation_time)
        return None  # finished before we first saw it, and Anaplan gave no duration

    def _steps(self, result: TaskResult | None) -> tuple[StepStatus, ...]:
        if result is None or not result.nested:
            return ()
        steps: list[StepStatus] = []
        seen: dict[str, int] = {}
        for nested in result.nested:
            name = self.step_names.get(nested.object_id, nested.object_name or nested.object_id)
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
