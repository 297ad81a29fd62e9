"""Bounded work per poll: the start-up look back is spread over polls, a backlog of finished tasks is fetched
a few at a time (newest first) and never double-counted; a restored tracker counts what finished meanwhile."""

from __future__ import annotations

from anaplan_exporter.anaplan.models import TaskState
from anaplan_exporter.polling.completion_ledger import (
    HISTORY_FETCHES_PER_POLL,
    HISTORY_LOOKBACK,
    MAX_PENDING,
    STATUS_FETCHES_PER_POLL,
)
from anaplan_exporter.polling.tracker import ObjectTracker
from support.fake_anaplan import FakeAnaplan, finished, ref, running

OBJ = "118000000002"


def _poll(tracker: ObjectTracker, api: FakeAnaplan, now: float) -> int:
    """One successful poll; returns how many statuses it fetched."""
    before = len(api.status_calls)
    assert tracker.poll(api, now)
    return len(api.status_calls) - before


def test_a_success_three_days_back_behind_four_failures_is_found_over_three_polls() -> None:
    api = FakeAnaplan()
    day = 86400.0
    api.add(OBJ, finished("OK", 1_000.0, ok=True))
    api.add(OBJ, *(finished(f"F{i}", 1_000.0 + 3 * day + i * 3600, ok=False) for i in range(4)))
    tracker = ObjectTracker(ref())
    assert _poll(tracker, api, 2e6) == 1  # the first poll: the newest run only, so every object shows fast
    first = tracker.status(2e6)
    assert first.task is not None and first.task.task_id == "F3"
    assert first.last_failure_time == 1_000.0 + 3 * day + 3 * 3600
    assert _poll(tracker, api, 2e6 + 60) == HISTORY_FETCHES_PER_POLL  # then 3 older runs a poll
    assert _poll(tracker, api, 2e6 + 120) == 1  # the fourth older run: the success
    status = tracker.status(2e6 + 120)
    assert status.last_success_time == 1_000.0
    assert _poll(tracker, api, 2e6 + 180) == 0  # both known: the look back is over
    assert dict(status.completions) == {"success": 0, "failure": 0, "cancelled": 0}


def test_the_look_back_is_bounded_and_stops_early_once_both_outcomes_are_known() -> None:
    api = FakeAnaplan()
    api.add(OBJ, *(finished(f"F{i:03d}", 1_000.0 + i, ok=False) for i in range(100)))
    tracker = ObjectTracker(ref())
    fetched = [_poll(tracker, api, 5_000.0 + 60 * n) for n in range(20)]
    assert fetched[0] == 1 and max(fetched) <= HISTORY_FETCHES_PER_POLL
    assert sum(fetched) == 1 + HISTORY_LOOKBACK  # never a success: the look back gives up after 25 runs
    assert tracker.status(9_999.0).last_success_time is None

    api = FakeAnaplan()
    api.add(OBJ, finished("S", 900.0, ok=True))
    api.add(OBJ, *(finished(f"F{i}", 1_000.0 + i, ok=False) for i in range(50)))
    api.add(OBJ, finished("NEW", 2_000.0, ok=True))
    tracker = ObjectTracker(ref())
    assert _poll(tracker, api, 3_000.0) == 1  # the newest (a success)
    assert _poll(tracker, api, 3_060.0) == 1  # and the run before it (a failure): both known
    assert _poll(tracker, api, 3_120.0) == 0
    assert (tracker.status(3_060.0).last_success_time, tracker.status(3_060.0).last_failure_time) == (
        2_000.0,
        1_049.0,
    )


def test_a_large_backlog_is_fetched_a_bounded_number_per_poll_and_counted_exactly_once() -> None:
    api = FakeAnaplan()
    tracker = ObjectTracker(ref())
    _poll(tracker, api, 10.0)  # baseline: nothing ran yet
    total = 2_000
    api.add(OBJ, *(finished(f"T{i:05d}", 100.0 + i, ok=i % 7 != 0) for i in range(total)))
    assert _poll(tracker, api, 5_000.0) == 1 + STATUS_FETCHES_PER_POLL
    status = tracker.status(5_000.0)
    assert status.task is not None and status.task.task_id == f"T{total - 1:05d}"  # the newest shows at once
    unknown = total - 1 - MAX_PENDING  # beyond the queue: counted without their result
    assert status.completions["unknown"] == unknown
    assert sum(status.completions.values()) == 1 + STATUS_FETCHES_PER_POLL + unknown
    # The fetches were the newest first.
    assert api.status_calls[-STATUS_FETCHES_PER_POLL:] == [f"T{i:05d}" for i in range(1998, 1978, -1)]
    polls = 0
    while sum(tracker.status(0).completions.values()) < total:
        polls += 1
        assert _poll(tracker, api, 5_000.0 + 60 * polls) <= STATUS_FETCHES_PER_POLL
    assert polls == MAX_PENDING // STATUS_FETCHES_PER_POLL - 1
    assert _poll(tracker, api, 99_000.0) == 0
    completions = tracker.status(99_000.0).completions
    assert sum(completions.values()) == total  # each task once: fetched, or counted as unknown
    fetched = [f"T{i:05d}" for i in range(total - 1 - MAX_PENDING, total)]
    assert sorted(api.status_calls) == sorted(fetched)  # every task fetched at most once
    assert completions["failure"] == sum(1 for t in fetched if int(t[1:]) % 7 == 0)
    assert completions["unknown"] == unknown


def test_a_pending_task_gone_from_anaplan_is_counted_as_unknown() -> None:
    api = FakeAnaplan()
    tracker = ObjectTracker(ref())
    _poll(tracker, api, 10.0)
    api.add(OBJ, *(finished(f"T{i:03d}", 100.0 + i) for i in range(STATUS_FETCHES_PER_POLL + 6)))
    _poll(tracker, api, 1_000.0)
    assert sum(tracker.status(1_000.0).completions.values()) == STATUS_FETCHES_PER_POLL + 1
    api.tasks[OBJ] = api.tasks[OBJ][3:]  # the three oldest age out of Anaplan's history
    _poll(tracker, api, 1_060.0)
    completions = tracker.status(1_060.0).completions
    assert completions["unknown"] == 3 and completions["success"] == STATUS_FETCHES_PER_POLL + 3


def test_restored_tracker_counts_what_finished_meanwhile_and_fetches_nothing_known() -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0, ok=True), finished("B", 200.0, ok=False), running("C", 300.0))
    first = ObjectTracker(ref())
    _poll(first, api, 310.0)
    saved = first.saved_state()
    assert set(saved.counted) == {"A", "B"} and saved.newest is not None and saved.newest.task_id == "C"

    # Down for a while: C fails, D succeeds, E starts.
    api.set(OBJ, finished("C", 300.0, ok=False))
    api.add(OBJ, finished("D", 400.0, ok=True), running("E", 500.0))
    api.status_calls.clear()
    second = ObjectTracker(ref())
    second.restore(saved, now=600.0)
    assert _poll(second, api, 600.0) == 3  # E (newest, running), then C and D: never A or B
    status = second.status(600.0)
    assert dict(status.completions) == {"success": 1, "failure": 1, "cancelled": 0}
    assert (status.last_success_time, status.last_failure_time) == (400.0, 300.0)
    assert status.task is not None and status.task.state is TaskState.IN_PROGRESS

    # Idle since the last save: a restart costs one task list and no status fetch.
    api.set(OBJ, finished("E", 500.0, ok=True))
    _poll(second, api, 700.0)
    third = ObjectTracker(ref())
    third.restore(second.saved_state(), now=800.0)
    calls = api.list_calls
    assert _poll(third, api, 800.0) == 0 and api.list_calls == calls + 1
    assert dict(third.status(800.0).completions) == {"success": 2, "failure": 1, "cancelled": 0}
    assert third.status(800.0).task == second.status(700.0).task


def test_revision_rises_only_when_the_saved_state_changes() -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = ObjectTracker(ref())
    _poll(tracker, api, 200.0)
    revision = tracker.revision
    _poll(tracker, api, 260.0)
    assert tracker.revision == revision  # nothing new
    api.add(OBJ, finished("B", 300.0, ok=False))
    _poll(tracker, api, 320.0)
    assert tracker.revision == revision + 1
