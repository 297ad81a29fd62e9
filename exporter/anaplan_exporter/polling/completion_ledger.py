"""Counting each finished run of one object exactly once, and finding its last success and failure.

The ledger behind an ``ObjectTracker``: which finished tasks were counted (or are history, seen finished at
the first look and never counted), which wait for their status fetch, which older runs are still to look at,
and the completion counters. Every poll is bounded: at most ``STATUS_FETCHES_PER_POLL`` statuses of newly
finished tasks (newest first; the rest wait for the next polls, and beyond ``MAX_PENDING`` the oldest are
counted as ``unknown``) and at most ``HISTORY_FETCHES_PER_POLL`` older runs looked at for the last success
and failure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

from ..anaplan.errors import AnaplanNotFoundError
from ..anaplan.models import Task, TaskState, TaskSummary
from ..snapshot import COMPLETION_RESULTS

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

FetchStatus = Callable[[str], Task]
"""Reads one task's status by its ID (may raise the client's errors)."""
LearnDuration = Callable[[Task], None]
"""Takes in the duration of a run whose status was fetched (the tracker's rhythm)."""


def classify(task: Task) -> str | None:
    """The completion result of a finished task, or None while it can still change."""
    if task.state is TaskState.CANCELLED:
        return "cancelled"
    if task.state is TaskState.COMPLETE:
        return "success" if task.result is not None and task.result.successful else "failure"
    return None


class CompletionLedger:
    """One object's counted runs and completion counters. Not thread-safe: owned by one tracker."""

    def __init__(self) -> None:
        self.baseline_taken = False
        self.counted: dict[str, float] = {}
        """IDs of finished tasks already counted (or history), with when each was last listed."""
        self.pending: dict[str, float | None] = {}
        """Finished tasks not counted yet: their status fetch waits for a poll with budget left."""
        self.history: list[tuple[str, float | None]] = []
        """Older runs still to look at for the last success and failure, newest first."""
        self.completions = dict.fromkeys(COMPLETION_RESULTS, 0)
        self.last_success: float | None = None
        self.last_failure: float | None = None
        self.floor: float | None = None
        """Runs created before this are settled (counted, history, or older than every list read): read
        only the newest runs, the exporter forgets the counted ones that left its lists, so a finished run
        below this that is listed again (a whole list, once the server ignores ``sort``) is not new."""

    def restore(
        self,
        *,
        counted: Iterable[str],
        pending: Mapping[str, float | None],
        history: Iterable[tuple[str, float | None]],
        last_success: float | None,
        last_failure: float | None,
        completions: Mapping[str, int],
        floor: float | None,
        now: float,
    ) -> None:
        """Carry on from a saved state (one with a baseline; ``TrackerState`` holds these fields): what
        finished meanwhile is counted."""
        self.counted = dict.fromkeys(counted, now)
        self.pending = dict(pending)
        self.history = list(history)
        self.last_success = last_success
        self.last_failure = last_failure
        self.completions = {**dict.fromkeys(COMPLETION_RESULTS, 0), **completions}
        self.floor = floor
        self.baseline_taken = True

    def raise_floor(self, settled_before: float) -> None:
        """Runs created before ``settled_before`` are settled from now on (the floor never goes down)."""
        if self.floor is None or settled_before > self.floor:
            self.floor = settled_before

    def take_baseline(self, summaries: list[TaskSummary], fetched: dict[str, Task], now: float) -> None:
        """Mark the history as already counted; queue older runs to look at for the last success/failure."""
        finished = [s for s in summaries if s.state.terminal]
        self.counted.update(dict.fromkeys((s.task_id for s in finished), now))
        for task in fetched.values():
            self._remember_outcome(classify(task), task.creation_time)
        older = sorted(
            (s for s in finished if s.task_id not in fetched),
            key=lambda s: s.creation_time or 0.0,
            reverse=True,
        )
        self.history = [(s.task_id, s.creation_time) for s in older[:HISTORY_LOOKBACK]]
        self.baseline_taken = True

    def look_back(self, fetch: FetchStatus, fetched: dict[str, Task], learn: LearnDuration) -> None:
        """Fetch a few more older runs, newest first, until the last success and last failure are known."""
        lookups = 0
        while self.history:
            if self.last_success is not None and self.last_failure is not None:
                self.history.clear()
                break
            task_id, created = self.history[0]
            task = fetched.get(task_id)
            if task is None:
                if lookups >= HISTORY_FETCHES_PER_POLL:
                    break
                lookups += 1
                try:
                    task = fetch(task_id)
                except AnaplanNotFoundError:  # aged out of Anaplan's task history meanwhile
                    self.history.pop(0)
                    continue
            self.history.pop(0)
            self._remember_outcome(classify(task), task.creation_time or created)
            learn(task)

    def count_completions(
        self,
        fetch: FetchStatus,
        summaries: list[TaskSummary],
        fetched: dict[str, Task],
        now: float,
        learn: LearnDuration,
    ) -> None:
        """Count every task that finished since the last poll, each exactly once.

        Tasks whose status this poll already has are counted at once; other finished ones join the pending
        queue, of which the newest ``STATUS_FETCHES_PER_POLL`` are fetched and counted now.
        """
        floor = self.floor
        for summary in summaries:
            task_id = summary.task_id
            created = summary.creation_time
            if task_id in self.counted or (
                floor is not None and created is not None and created < floor and task_id not in fetched
            ):
                continue
            task = fetched.get(task_id)
            result = None if task is None else classify(task)
            if result is not None and task is not None:
                self.pending.pop(task_id, None)
                self._count(task_id, result, task.creation_time or summary.creation_time, now)
            elif task is None and summary.state.terminal and task_id not in self.pending:
                self.pending[task_id] = summary.creation_time
        if not self.pending:
            return
        queue = sorted(self.pending.items(), key=lambda item: item[1] or 0.0, reverse=True)
        for task_id, _ in queue[MAX_PENDING:]:  # too many to ever fetch: counted without a result
            del self.pending[task_id]
            self._count(task_id, UNKNOWN_RESULT, None, now)
        for task_id, created in queue[: min(STATUS_FETCHES_PER_POLL, MAX_PENDING)]:
            try:
                task = fetch(task_id)
            except AnaplanNotFoundError:  # gone from Anaplan before we could read its result
                result = UNKNOWN_RESULT
            else:
                result = classify(task)
                created = task.creation_time or created
                learn(task)
                if result is None:  # listed as finished, but its status says otherwise: list it again
                    del self.pending[task_id]
                    continue
            del self.pending[task_id]
            self._count(task_id, result, created, now)

    def forget_unlisted(self, listed: Collection[str], now: float) -> None:
        """Note which counted tasks are still listed; forget those missing for ``FORGET_COUNTED_AFTER``."""
        self.counted = {
            task_id: now if task_id in listed else seen
            for task_id, seen in self.counted.items()
            if task_id in listed or now - seen < FORGET_COUNTED_AFTER
        }

    def _count(self, task_id: str, result: str, created: float | None, now: float) -> None:
        self.counted[task_id] = now
        self.completions[result] = self.completions.get(result, 0) + 1
        self._remember_outcome(result, created)

    def _remember_outcome(self, result: str | None, created: float | None) -> None:
        if created is None:
            return
        if result == "success" and (self.last_success is None or created > self.last_success):
            self.last_success = created
        elif result == "failure" and (self.last_failure is None or created > self.last_failure):
            self.last_failure = created
