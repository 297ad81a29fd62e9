"""Per-object bookkeeping: which task is newest, which completions were already counted.

One ``ObjectTracker`` per watched object. ``poll()`` lists the object's tasks, fetches the status of new
and unfinished tasks only (a finished task never changes, so it is fetched at most once), and counts each
completion exactly once. Tasks already finished when the tracker first looks are history: they set the
"last success/failure" timestamps but are never counted as completions, so a restart cannot fabricate
failures. A tracker restored from the state file (``restore``) has no history: what finished while the
exporter was down is counted.

Every poll is bounded: at most ``STATUS_FETCHES_PER_POLL`` statuses of newly finished tasks (newest first;
the rest wait for the next polls, and beyond ``MAX_PENDING`` the oldest are counted as ``unknown``) and at
most ``HISTORY_FETCHES_PER_POLL`` older runs looked at for the last success and failure, from the second
poll on (the first reads the task list and the newest run only, so every object shows up fast).

Along the way the tracker learns the object's rhythm (``rhythm.py``) from what it reads anyway: the creation
times of the listed tasks, and the durations of the finished runs whose status it fetches (Anaplan's duration
where given, else the time it saw the run take). Both are bounded to the newest ``KEEP`` runs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol

from ..anaplan.errors import AnaplanError, AnaplanNotFoundError, AnaplanStoppedError
from ..anaplan.models import ObjectType, Task, TaskResult, TaskState, TaskSummary
from ..snapshot import COMPLETION_RESULTS, ObjectRef, ObjectStatus, PollError, StepStatus
from .poll_errors import error_reason
from .rhythm import EMPTY as NO_RHYTHM
from .rhythm import TOLERANCE
from .tracker_state import TrackerState

__all__ = [
    "FORGET_COUNTED_AFTER",
    "HISTORY_FETCHES_PER_POLL",
    "HISTORY_LOOKBACK",
    "MAX_PENDING",
    "STATUS_FETCHES_PER_POLL",
    "UNKNOWN_RESULT",
    "ObjectTracker",
    "TaskReader",
    "TrackerState",
    "classify",
    "error_reason",
]

log = logging.getLogger(__name__)

HISTORY_LOOKBACK = 25
"""At a first start, how many older finished runs may be fetched to find the last success and failure."""
HISTORY_FETCHES_PER_POLL = 3
"""History fetches per poll: the look back is spread over successive polls, so that the first poll of a
thousand objects costs no more than a few requests each."""
STATUS_FETCHES_PER_POLL = 20
"""Statuses of newly finished tasks fetched per poll (newest first); the others wait for the next polls."""
MAX_PENDING = 500
"""Finished tasks waiting for their status fetch; beyond this the oldest are counted as ``unknown``."""
UNKNOWN_RESULT = "unknown"
"""The completion result of a task counted without its status (a backlog too large, or gone from Anaplan)."""

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
        self._pending: dict[str, float | None] = {}
        """Finished tasks not counted yet: their status fetch waits for a poll with budget left."""
        self._history: list[tuple[str, float | None]] = []
        """Older runs still to look at for the last success and failure, newest first."""
        self._rhythm = NO_RHYTHM
        self._rhythm_from: str | None = None
        """The newest listed task when the rhythm last took in a task list (a new run lists again)."""
        self._revision = 0
        self._signature: tuple[object, ...] = ()
        self._saved = TrackerState()
        """The state as of the end of the last poll: an immutable value any thread may read."""

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
    def learned_interval(self) -> float | None:
        """The usual interval between the object's runs, learned from their creation times."""
        return self._rhythm.interval

    @property
    def rhythm_step(self) -> float | None:
        """The slot grid of the object's runs (a day for a weekday job whose interval is three days)."""
        return self._rhythm.step

    def next_slot_after(self, moment: float) -> float | None:
        """The first slot of the learned rhythm after ``moment`` at which a run may be created, counting the
        slots a schedule skips (a weekday job's Saturday and Sunday) up to one learned interval after the
        newest run; None without a rhythm or once that interval has passed (the run is late)."""
        step, interval, newest = self._rhythm.step, self._rhythm.interval, self._newest
        if step is None or interval is None or newest is None or newest.creation_time is None:
            return None
        slots = max(1, math.floor((moment - newest.creation_time) / step) + 1)
        if slots * step > interval + TOLERANCE * step:
            return None
        return newest.creation_time + slots * step

    @property
    def names_unknown_step(self) -> bool:
        """True when the newest result names a step the process's step names do not know (yet)."""
        task = self._with_result
        result = task.result if task is not None else None
        return result is not None and any(n.object_id not in self.step_names for n in result.nested)

    @property
    def revision(self) -> int:
        """Rises whenever what ``saved_state()`` returns changes (the state file is written only then)."""
        return self._revision

    # -- state file -----------------------------------------------------------------------------------

    def saved_state(self) -> TrackerState:
        """What to keep across a restart, as of the end of the last poll (safe to call from any thread)."""
        return self._saved

    def _commit(self) -> None:
        """After a poll (good or failed half-way): publish the state to save, if it changed."""
        signature = self._state_signature()
        if signature == self._signature:
            return
        self._signature = signature
        self._saved = TrackerState(
            baseline=self._baseline_taken,
            counted=tuple(self._counted),
            pending=dict(self._pending),
            history=tuple(self._history),
            newest=self._newest,
            with_result=self._with_result,
            last_success=self._last_success,
            last_failure=self._last_failure,
            completions={k: v for k, v in self._completions.items() if v},
            rhythm=self._rhythm,
        )
        self._revision += 1  # after the new state: a saver that sees the revision sees that state

    def restore(self, state: TrackerState, now: float) -> None:
        """Carry on from a saved state: no new baseline, so tasks that finished meanwhile are counted."""
        if not state.baseline:
            return
        self._counted = dict.fromkeys(state.counted, now)
        self._pending = dict(state.pending)
        self._history = list(state.history)
        self._newest = state.newest
        self._with_result = state.with_result
        self._last_success = state.last_success
        self._last_failure = state.last_failure
        self._completions = {**dict.fromkeys(COMPLETION_RESULTS, 0), **state.completions}
        self._rhythm = state.rhythm
        self._baseline_taken = True
        self._status = None
        self._signature = self._state_signature()
        self._saved = state

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
        finally:
            self._commit()  # what a failed poll counted before it failed is kept too
        self._up = True
        return True

    def _state_signature(self) -> tuple[object, ...]:
        """Cheap to compute, and different whenever the saved state changes in a way worth writing."""
        newest, with_result = self._newest, self._with_result
        return (
            self._baseline_taken,
            len(self._counted),
            None if newest is None else (newest.task_id, newest.state),
            None if with_result is None else with_result.task_id,
            len(self._pending),
            len(self._history),
            sum(self._completions.values()),
            self._last_success,
            self._last_failure,
            self._rhythm,
        )

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
        if newest_summary.task_id != self._rhythm_from:
            self._rhythm = self._rhythm.with_times(
                round(s.creation_time) for s in summaries if s.creation_time is not None
            )
            self._rhythm_from = newest_summary.task_id
        newest = self._newest
        if newest is None or newest.task_id != newest_summary.task_id or not newest.state.terminal:
            newest = self._fetch(client, newest_summary.task_id)
            if newest.creation_time is None and newest_summary.creation_time is not None:
                newest = replace(newest, creation_time=newest_summary.creation_time)
        fetched = {newest.task_id: newest}

        if not self._baseline_taken:
            # The first poll reads the newest run only: every object shows up at the cost of two requests,
            # and the older runs (last success and failure) follow a few per poll from the next one on.
            self._take_baseline(summaries, fetched, now)
        else:
            self._count_completions(client, summaries, fetched, now)
            self._look_back(client, fetched)

        if not newest.state.terminal:
            self._seen_running, self._finished_at = newest.task_id, None
        elif self._seen_running == newest.task_id and self._finished_at is None:
            self._finished_at = now
        if newest.state.terminal and newest.creation_time is not None:
            measured = None
            if self._seen_running == newest.task_id and self._finished_at is not None:
                measured = self._finished_at - newest.creation_time
            self._learn_duration(newest, measured)
        self._newest = newest
        if newest.result is not None:
            self._with_result = newest
        listed = {s.task_id for s in summaries}
        self._counted = {
            task_id: now if task_id in listed else seen
            for task_id, seen in self._counted.items()
            if task_id in listed or now - seen < FORGET_COUNTED_AFTER
        }

    def _take_baseline(self, summaries: list[TaskSummary], fetched: dict[str, Task], now: float) -> None:
        """Mark the history as already counted; queue older runs to look at for the last success/failure."""
        finished = [s for s in summaries if s.state.terminal]
        self._counted.update(dict.fromkeys((s.task_id for s in finished), now))
        for task in fetched.values():
            self._remember_outcome(classify(task), task.creation_time)
        older = sorted(
            (s for s in finished if s.task_id not in fetched),
            key=lambda s: s.creation_time or 0.0,
            reverse=True,
        )
        self._history = [(s.task_id, s.creation_time) for s in older[:HISTORY_LOOKBACK]]
        self._baseline_taken = True

    def _look_back(self, client: TaskReader, fetched: dict[str, Task]) -> None:
        """Fetch a few more older runs, newest first, until the last success and last failure are known."""
        lookups = 0
        while self._history:
            if self._last_success is not None and self._last_failure is not None:
                self._history.clear()
                break
            task_id, created = self._history[0]
            task = fetched.get(task_id)
            if task is None:
                if lookups >= HISTORY_FETCHES_PER_POLL:
                    break
                lookups += 1
                try:
                    task = self._fetch(client, task_id)
                except AnaplanNotFoundError:  # aged out of Anaplan's task history meanwhile
                    self._history.pop(0)
                    continue
            self._history.pop(0)
            self._remember_outcome(classify(task), task.creation_time or created)
            self._learn_duration(task)

    def _count_completions(
        self, client: TaskReader, summaries: list[TaskSummary], fetched: dict[str, Task], now: float
    ) -> None:
        """Count every task that finished since the last poll, each exactly once.

        Tasks whose status this poll already has are counted at once; other finished ones join the pending
        queue, of which the newest ``STATUS_FETCHES_PER_POLL`` are fetched and counted now.
        """
        for summary in summaries:
            task_id = summary.task_id
            if task_id in self._counted:
                continue
            task = fetched.get(task_id)
            result = None if task is None else classify(task)
            if result is not None and task is not None:
                self._pending.pop(task_id, None)
                self._count(task_id, result, task.creation_time or summary.creation_time, now)
            elif task is None and summary.state.terminal and task_id not in self._pending:
                self._pending[task_id] = summary.creation_time
        if not self._pending:
            return
        queue = sorted(self._pending.items(), key=lambda item: item[1] or 0.0, reverse=True)
        for task_id, _ in queue[MAX_PENDING:]:  # too many to ever fetch: counted without a result
            del self._pending[task_id]
            self._count(task_id, UNKNOWN_RESULT, None, now)
        for task_id, created in queue[: min(STATUS_FETCHES_PER_POLL, MAX_PENDING)]:
            try:
                task = self._fetch(client, task_id)
            except AnaplanNotFoundError:  # gone from Anaplan before we could read its result
                result = UNKNOWN_RESULT
            else:
                result = classify(task)
                created = task.creation_time or created
                self._learn_duration(task)
                if result is None:  # listed as finished, but its status says otherwise: list it again
                    del self._pending[task_id]
                    continue
            del self._pending[task_id]
            self._count(task_id, result, created, now)

    def _learn_duration(self, task: Task, measured: float | None = None) -> None:
        """Keep the duration of a finished run (not a cancelled one: its length is whoever cancelled it)."""
        if task.state is not TaskState.COMPLETE or task.creation_time is None:
            return
        duration = task.result.duration_seconds if task.result is not None else None
        if duration is None:
            duration = measured
        if duration is None or not duration >= 0:  # also refuses NaN
            return
        self._rhythm = self._rhythm.with_duration(round(task.creation_time), round(duration, 3))

    def _count(self, task_id: str, result: str, created: float | None, now: float) -> None:
        self._counted[task_id] = now
        self._completions[result] = self._completions.get(result, 0) + 1
        self._remember_outcome(result, created)

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
            learned_interval_seconds=self._rhythm.interval,
            usual_duration_seconds=self._rhythm.usual_duration,
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
