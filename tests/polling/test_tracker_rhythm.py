"""The tracker learns each object's rhythm from what it reads anyway, bounded, kept in the state file."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from anaplan_exporter.anaplan.models import ObjectType, Task, TaskState
from anaplan_exporter.anaplan.timestamps import TimeCheck
from anaplan_exporter.polling.rhythm import KEEP
from anaplan_exporter.polling.state import decode_object, encode_object
from anaplan_exporter.polling.tracker import ObjectTracker
from anaplan_exporter.snapshot import ObjectStatus
from support.fake_anaplan import FakeAnaplan, finished, ref, running

PROCESS = "118000000002"
IMPORT = "112000000007"
HOUR = 3600.0
T0 = 1_800_000_000.0


def hourly(n: int, start: float = T0, duration: float = 120.0, prefix: str = "T") -> list[Task]:
    return [finished(f"{prefix}{i}", start + i * HOUR, duration_seconds=duration + i) for i in range(n)]


def poll_until_quiet(tracker: ObjectTracker, api: FakeAnaplan, now: float, polls: int = 12) -> ObjectStatus:
    for i in range(polls):
        tracker.poll(api, now + i)
    return tracker.status(now + polls)


def test_interval_learned_from_the_first_task_list_without_extra_requests() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(8))
    tracker = ObjectTracker(ref(PROCESS))
    assert tracker.poll(api, T0 + 8 * HOUR)
    assert tracker.status(T0 + 8 * HOUR).learned_interval_seconds == HOUR
    assert api.list_calls == 1
    assert len(api.status_calls) == 1  # the newest run only: the interval needs no status at all


def test_interval_appears_once_there_are_enough_runs() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(4))
    tracker = ObjectTracker(ref(PROCESS))
    tracker.poll(api, T0 + 4 * HOUR)
    assert tracker.status(T0 + 4 * HOUR).learned_interval_seconds is None
    api.add(PROCESS, running("T4", T0 + 4 * HOUR))
    tracker.poll(api, T0 + 4 * HOUR + 10)
    assert tracker.status(T0 + 4 * HOUR + 10).learned_interval_seconds == HOUR


def test_usual_duration_from_the_durations_of_fetched_finished_runs() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(4))
    tracker = ObjectTracker(ref(PROCESS))
    status = poll_until_quiet(tracker, api, T0 + 4 * HOUR)
    assert status.usual_duration_seconds is None  # four finished runs: too few
    api.add(PROCESS, finished("T4", T0 + 4 * HOUR, duration_seconds=500.0))
    status = poll_until_quiet(tracker, api, T0 + 5 * HOUR)
    assert status.usual_duration_seconds == 500.0  # p90 of 120, 121, 122, 123, 500


def test_cancelled_runs_and_runs_without_a_duration_are_left_out() -> None:
    api = FakeAnaplan()
    tasks = hourly(6)
    tasks[5] = replace(tasks[5], state=TaskState.CANCELLED)
    tasks[4] = finished("T4", T0 + 4 * HOUR)  # no duration from Anaplan, and never seen running
    api.add(PROCESS, *tasks)
    tracker = ObjectTracker(ref(PROCESS))
    status = poll_until_quiet(tracker, api, T0 + 6 * HOUR)
    assert status.learned_interval_seconds == HOUR  # cancelled or not, each run was created on time
    assert status.usual_duration_seconds is None  # four finished runs with a duration


def test_imports_use_the_run_time_the_tracker_measured() -> None:
    api = FakeAnaplan()
    tracker = ObjectTracker(ref(IMPORT, ObjectType.IMPORT))
    for i in range(5):
        created = T0 + i * HOUR
        api.set(IMPORT, running(f"I{i}", created))
        tracker.poll(api, created + 5)
        api.set(IMPORT, finished(f"I{i}", created))  # imports have no duration in their result
        tracker.poll(api, created + 60.0 + i)
    status = tracker.status(T0 + 5 * HOUR)
    assert status.usual_duration_seconds == 64.0
    assert status.learned_interval_seconds == HOUR


def test_what_is_kept_is_bounded_per_object() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(3 * KEEP))
    tracker = ObjectTracker(ref(PROCESS))
    poll_until_quiet(tracker, api, T0 + 3 * KEEP * HOUR, polls=20)
    for i in range(3 * KEEP, 4 * KEEP):
        api.add(PROCESS, finished(f"T{i}", T0 + i * HOUR, duration_seconds=60.0))
        tracker.poll(api, T0 + i * HOUR + 100)
    state = tracker.saved_state()
    assert len(state.rhythm.created) == KEEP
    assert state.rhythm.created[-1] == T0 + (4 * KEEP - 1) * HOUR
    assert len(state.rhythm.durations) == KEEP
    assert state.rhythm.finished[0] == T0 + 3 * KEEP * HOUR  # the newest runs, not the first ones fetched
    assert tracker.status(T0 + 5 * KEEP * HOUR).usual_duration_seconds == 60.0


def test_rhythm_survives_a_state_file_round_trip() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(10))
    tracker = ObjectTracker(ref(PROCESS))
    before = poll_until_quiet(tracker, api, T0 + 10 * HOUR)
    assert before.learned_interval_seconds == HOUR
    assert before.usual_duration_seconds is not None

    state = decode_object(json.loads(encode_object(tracker.saved_state())), TimeCheck(T0 + 11 * HOUR))
    saved = tracker.saved_state().rhythm
    assert state.rhythm.created == saved.created and len(saved.created) == 10
    assert state.rhythm.finished == saved.finished and state.rhythm.durations == saved.durations
    restored = ObjectTracker(ref(PROCESS))
    restored.restore(state, T0 + 11 * HOUR)
    after = restored.status(T0 + 11 * HOUR)
    assert after.learned_interval_seconds == HOUR
    assert after.usual_duration_seconds == before.usual_duration_seconds

    # Anaplan no longer lists the old runs: what was learned stays, and a new run adds to it.
    api.tasks[PROCESS] = [finished("NEW", T0 + 10 * HOUR, duration_seconds=130.0)]
    assert restored.poll(api, T0 + 11 * HOUR)
    assert restored.status(T0 + 11 * HOUR).learned_interval_seconds == HOUR
    assert restored.saved_state().rhythm.created[-1] == T0 + 10 * HOUR
    assert restored.saved_state().rhythm.finished[-1] == T0 + 10 * HOUR
    assert restored.saved_state().rhythm.durations[-1] == 130.0


def test_a_saved_state_without_rhythm_fields_is_not_the_current_format() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(3))
    tracker = ObjectTracker(ref(PROCESS))
    tracker.poll(api, T0 + 3 * HOUR)
    entry = json.loads(encode_object(tracker.saved_state()))
    assert len(decode_object(entry, TimeCheck(T0 + 3 * HOUR)).rhythm.created) == 3
    for field in ("created", "durations"):
        with pytest.raises(ValueError, match=f"'{field}' is missing"):
            decode_object({k: v for k, v in entry.items() if k != field})


def test_each_new_run_reaches_the_saved_state() -> None:
    api = FakeAnaplan()
    api.add(PROCESS, *hourly(3))
    tracker = ObjectTracker(ref(PROCESS))
    poll_until_quiet(tracker, api, T0 + 3 * HOUR)
    revision = tracker.revision
    # A new finished run: its creation time and its duration are in the state the store writes next.
    api.add(PROCESS, finished("T3", T0 + 3 * HOUR, duration_seconds=90.0))
    tracker.poll(api, T0 + 3 * HOUR + 100)
    assert tracker.revision > revision
    assert tracker.saved_state().rhythm.finished[-1] == T0 + 3 * HOUR
    assert tracker.saved_state().rhythm.durations[-1] == 90.0
    assert tracker.saved_state().rhythm.created[-1] == T0 + 3 * HOUR
