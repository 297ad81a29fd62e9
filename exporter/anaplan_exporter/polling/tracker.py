"""Per-object bookkeeping: which task is newest, which completions were already counted.

One ``ObjectTracker`` per watched object. ``poll()`` lists the object's tasks, fetches the status of new
and unfinished tasks only (a finished task never changes, so it is fetched at most once), and counts each
completion exactly once. Tasks already finished when the tracker first looks are history: they set the
"last success/failure" timestamps but are never counted as completions, so a restart cannot fabricate
failures. A tracker restored from the state file (``restore``) has no history: what finished while the
exporter was down is counted.

Every poll is bounded (``completion_ledger.py`` does the counting): at most ``STATUS_FETCHES_PER_POLL``
statuses of newly finished tasks (newest first; the rest wait for the next polls, and beyond ``MAX_PENDING``
the oldest are counted as ``unknown``) and at most ``HISTORY_FETCHES_PER_POLL`` older runs looked at for the
last success and failure, from the second poll on (the first reads the task list and the newest run only,
so every object shows up fast).

Task lists are read newest first, ``TASK_PAGE`` runs a page (``AnaplanClient.list_tasks``), and only as far
back as the poll needs: the first page at the first look, then back to the newest run and every unfinished
run the last look saw. A look at an object with a long history is one small request.

Along the way the tracker learns the object's rhythm (``rhythm.py``) from what it reads anyway: the creation
times of the listed tasks, and the durations of the finished runs whose status it fetches (Anaplan's duration
where given, else the time it saw the run take). Both are bounded to the newest ``KEEP`` runs.

What a tracker keeps across restarts is an immutable ``TrackerState``, published after each poll and taken
back from the state file at start-up (``state.py`` writes and reads it). The status it reports computes the
newest run's duration (``run_duration``) and names a process's steps (``step_statuses``); a failed poll's
reason is one of the snapshot's ``ERROR_REASONS`` (``error_reason``), so any number of distinct error
messages makes a handful of series.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
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
from ..calendar_rhythm import slot_after_run
from ..snapshot import ObjectRef, ObjectStatus, PollError, StepStatus
from .completion_ledger import HISTORY_LOOKBACK, CompletionLedger
from .rhythm import EMPTY as NO_RHYTHM
from .rhythm import KEEP as RHYTHM_KEEP
from .rhythm import TOLERANCE, Rhythm

log = logging.getLogger(__name__)

TASK_PAGE = max(HISTORY_LOOKBACK + 1, RHYTHM_KEEP) + 20
"""Runs per task-list page: the first look takes the newest run, ``HISTORY_LOOKBACK`` older ones and the
rhythm's ``KEEP`` creation times from one page, with room for runs still queued or running."""


@dataclass(frozen=True)
class TrackerState:
    """What a tracker keeps across restarts (``polling/state.py`` writes it to the state file)."""

    baseline: bool = False
    """The tracker has listed the object's tasks once: without that, nothing else here means anything."""
    counted: tuple[str, ...] = ()
    """Finished tasks already counted (or history): never counted again."""
    pending: Mapping[str, float | None] = field(default_factory=dict)
    """Finished tasks not counted yet, waiting for their status fetch (task ID -> creation time)."""
    history: tuple[tuple[str, float | None], ...] = ()
    """Older runs still to look at for the last success and failure, newest first."""
    newest: Task | None = None
    with_result: Task | None = None
    last_success: float | None = None
    last_failure: float | None = None
    completions: Mapping[str, int] = field(default_factory=dict)
    floor: float | None = None
    """Runs created before this are settled: a finished one listed again is not new (see the ledger)."""
    rhythm: Rhythm = NO_RHYTHM
    """Creation times and durations of the newest runs (creation times in whole seconds: plenty for a
    rhythm, and a third of the cost to write)."""


class TaskReader(Protocol):
    """The two client calls a tracker needs (``AnaplanClient`` provides them)."""

    def list_tasks(
        self,
        workspace_id: str,
        model_id: str,
        object_type: ObjectType,
        object_id: str,
        *,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[TaskSummary]: ...

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task: ...


def _read_back_to(summaries: list[TaskSummary]) -> float | None:
    """How far back the next task list must reach: the newest run and every unfinished one (it will be
    listed finished later), by creation time; None (the whole list) when one of them has no time."""
    wanted = [_newest(summaries), *(s for s in summaries if not s.state.terminal)]
    times = [s.creation_time for s in wanted]
    return min(t for t in times if t is not None) if None not in times else None


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
        self._ledger = CompletionLedger()
        """Which finished runs were counted, the completion counters, the last success and failure."""
        self._newest: Task | None = None
        self._with_result: Task | None = None
        self._up = False
        self._errors: dict[str, int] = {}
        self._seen_running: str | None = None
        """ID of the newest task while we saw it unfinished: only then can we time its end ourselves."""
        self._finished_at: float | None = None
        self._status: ObjectStatus | None = None
        """The last ``status()``, reused until a poll or a rename: publishing stays cheap for idle objects."""
        self._status_steps: Mapping[str, str] | None = None
        self._last_poll: float | None = None
        self._last_error: PollError | None = None
        self._newest_changed = False
        """True when the last poll found a new newest run or saw it finish (not on the first poll)."""
        self._listed_runs = False
        """The last task list read listed at least one run."""
        self._rhythm = NO_RHYTHM
        self._rhythm_from: str | None = None
        """The newest listed task when the rhythm last took in a task list (a new run lists again)."""
        self._since: float | None = math.inf
        """How far back (creation time) the next task list must be complete: ``inf`` for the first page
        alone, None for the whole list."""
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
    def listed_runs(self) -> bool:
        """True when the last task list read listed a run: Anaplan knows the object and lets the user see it
        (its list is empty for an unknown ID, a model with NO ACCESS, and an object that never ran alike)."""
        return self._listed_runs

    @property
    def newest_created(self) -> float | None:
        """Creation time of the newest run, None before one is seen."""
        return self._newest.creation_time if self._newest is not None else None

    @property
    def newest_changed(self) -> bool:
        """True when the last poll found a new newest run or saw it finish (never on the first poll)."""
        return self._newest_changed

    @property
    def learned_interval(self) -> float | None:
        """The usual interval between the object's runs, learned from their creation times."""
        return self._rhythm.interval

    @property
    def rhythm_step(self) -> float | None:
        """The slot grid of the object's runs (a day for a weekday job whose interval is three days); for a
        calendar pattern, the shortest time between two of its slots."""
        pattern = self._rhythm.pattern
        return pattern.shortest_gap if pattern is not None else self._rhythm.step

    def next_slot_after(self, moment: float) -> float | None:
        """The first slot of the learned rhythm after ``moment`` at which a run may be created, counting the
        slots a schedule skips (a weekday job's Saturday and Sunday) up to one learned interval after the
        newest run; None without a rhythm or once that interval has passed (the run is late). A calendar
        pattern's slots are all expected: the next one after ``moment`` (and after the newest run's)."""
        step, interval, newest = self._rhythm.step, self._rhythm.interval, self._newest
        if newest is None or newest.creation_time is None:
            return None
        pattern = self._rhythm.pattern
        if pattern is not None:
            return max(pattern.next_after(moment), slot_after_run(pattern, newest.creation_time))
        if step is None or interval is None:
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
        ledger = self._ledger
        self._saved = TrackerState(
            baseline=ledger.baseline_taken,
            counted=tuple(ledger.counted),
            pending=dict(ledger.pending),
            history=tuple(ledger.history),
            newest=self._newest,
            with_result=self._with_result,
            last_success=ledger.last_success,
            last_failure=ledger.last_failure,
            completions={k: v for k, v in ledger.completions.items() if v},
            floor=ledger.floor,
            rhythm=self._rhythm,
        )
        self._revision += 1  # after the new state: a saver that sees the revision sees that state

    def restore(self, state: TrackerState, now: float) -> None:
        """Carry on from a saved state: no new baseline, so tasks that finished meanwhile are counted."""
        if not state.baseline:
            return
        self._ledger.restore(
            counted=state.counted,
            pending=state.pending,
            history=state.history,
            last_success=state.last_success,
            last_failure=state.last_failure,
            completions=state.completions,
            floor=state.floor,
            now=now,
        )
        self._newest = state.newest
        self._with_result = state.with_result
        self._rhythm = state.rhythm
        # Back to the floor: it is below every run still unfinished at the last look before the stop.
        newest_time = state.newest.creation_time if state.newest is not None else None
        self._since = state.floor if state.floor is not None else newest_time
        self._status = None
        self._signature = self._state_signature()
        self._saved = state

    # -- polling ------------------------------------------------------------------------------------

    def poll(self, client: TaskReader, now: float) -> bool:
        """One poll; True on success. On failure the last good state stays and the error is counted."""
        self._status = None
        self._last_poll = now
        self._newest_changed = False
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
        newest, with_result, ledger = self._newest, self._with_result, self._ledger
        return (
            ledger.baseline_taken,
            len(ledger.counted),
            None if newest is None else (newest.task_id, newest.state),
            None if with_result is None else with_result.task_id,
            len(ledger.pending),
            len(ledger.history),
            sum(ledger.completions.values()),
            ledger.last_success,
            ledger.last_failure,
            ledger.floor,
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
        since = self._since
        summaries = client.list_tasks(
            r.workspace_id, r.model_id, r.object_type, r.object_id, since=since, limit=TASK_PAGE
        )
        self._listed_runs = bool(summaries)
        if not summaries:
            # Anaplan answers an empty list for objects with no runs (and masks NO ACCESS the same way).
            self._ledger.baseline_taken = True
            self._since = None
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

        if not self._ledger.baseline_taken:
            # The first poll reads the newest run only: every object shows up at the cost of two requests,
            # and the older runs (last success and failure) follow a few per poll from the next one on.
            self._ledger.take_baseline(summaries, fetched, now)
        else:
            fetch = partial(self._fetch, client)
            self._ledger.count_completions(fetch, summaries, fetched, now, self._learn_duration)
            self._ledger.look_back(fetch, fetched, self._learn_duration)

        if not newest.state.terminal:
            self._seen_running, self._finished_at = newest.task_id, None
        elif self._seen_running == newest.task_id and self._finished_at is None:
            self._finished_at = now
        if newest.state.terminal and newest.creation_time is not None:
            measured = None
            if self._seen_running == newest.task_id and self._finished_at is not None:
                measured = self._finished_at - newest.creation_time
            self._learn_duration(newest, measured)
        before = self._newest
        self._newest_changed = before is not None and (
            before.task_id != newest.task_id or before.state.terminal != newest.state.terminal
        )
        self._newest = newest
        if newest.result is not None:
            self._with_result = newest
        self._ledger.forget_unlisted({s.task_id for s in summaries}, now)
        listed = [s.creation_time for s in summaries if s.creation_time is not None]
        if listed:  # what this list reached back to, and no further than it had to, is settled now
            self._ledger.raise_floor(min(min(listed), math.inf if since is None else since))
        self._since = _read_back_to(summaries)

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

    def _success_due(self) -> float | None:
        """The first slot of the calendar pattern after the newest success (or run, with none on record)."""
        pattern, newest = self._rhythm.pattern, self._newest
        since = self._ledger.last_success
        if since is None and newest is not None:
            since = newest.creation_time
        return slot_after_run(pattern, since) if pattern is not None and since is not None else None

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
            duration_seconds=run_duration(self._newest, now, self._seen_running, self._finished_at),
            steps=step_statuses(result, self.step_names),
            row_counts=result.row_counts if result is not None else None,
            last_success_time=self._ledger.last_success,
            last_failure_time=self._ledger.last_failure,
            completions=dict(self._ledger.completions),
            errors=dict(self._errors),
            last_poll_time=self._last_poll,
            last_error=self._last_error,
            learned_interval_seconds=self._rhythm.interval,
            usual_duration_seconds=self._rhythm.usual_duration,
            learned_pattern=self._rhythm.pattern,
            success_due_time=self._success_due(),
        )
        return self._status


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


_REASONS: tuple[tuple[type[AnaplanError], str], ...] = (
    # Subclasses before their bases: a timeout is a connection error, too large a bad response.
    (AnaplanStoppedError, "stopped"),
    (AnaplanTimeoutError, "timeout"),
    (AnaplanTooLargeError, "too_large"),
    (AnaplanNotFoundError, "not_found"),
    (AnaplanPermissionError, "forbidden"),
    (AnaplanAuthError, "auth"),
    (AnaplanRateLimitError, "rate_limited"),
    (AnaplanServerError, "server_error"),
    (AnaplanConnectionError, "connection"),
    (AnaplanResponseError, "bad_response"),
)


def error_reason(exc: BaseException) -> str:
    """A bounded label value for a failed poll (one of ``ERROR_REASONS``, or ``stopped`` for a request
    abandoned because the exporter is shutting down, which is not a failure of the object)."""
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, AnaplanHTTPError) and exc.status == 401:
        return "auth"
    return "other"
