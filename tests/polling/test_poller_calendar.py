"""A calendar pattern at work in the tracker and the schedule: the look 5 s after each slot (over the weekend
too), when a success is due (for the overdue alert), and the metric that carries it."""

from __future__ import annotations

import calendar

from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.polling.poller import EXPECTED_RUN_DELAY, schedule_next_poll
from anaplan_exporter.polling.schedule import Schedule
from anaplan_exporter.polling.tracker import ObjectTracker
from anaplan_exporter.serving.metrics import build_families
from anaplan_exporter.snapshot import Snapshot
from support.fake_anaplan import FakeAnaplan, finished, ref

DAY = 86400.0


def utc(*fields: int) -> float:
    return float(calendar.timegm((*fields, 0, 0)))


def mon_thu_runs(failed_last: bool = False) -> FakeAnaplan:
    """Mondays and Thursdays at 06:00 UTC for four weeks, up to Thursday 26 November 2026."""
    api = FakeAnaplan()
    days = [utc(2026, 11, d, 6) for d in (2, 5, 9, 12, 16, 19, 23, 26)]
    api.add(
        "118000000002", *(finished(f"T{i}", at, ok=not (failed_last and i == 7)) for i, at in enumerate(days))
    )
    return api


def test_a_mon_thu_job_is_looked_at_on_monday_not_at_the_weekend() -> None:
    tracker = ObjectTracker(ref())
    saturday = utc(2026, 11, 28, 12)
    tracker.poll(mon_thu_runs(), saturday)
    monday = utc(2026, 11, 30, 6)
    assert tracker.next_slot_after(saturday) == monday
    polling = PollingConfig(idle_interval=2 * DAY)  # the idle poll would come on Monday at noon
    schedule = Schedule(polling.idle_interval)
    schedule_next_poll(schedule, tracker.ref.key, tracker, polling, saturday)
    assert schedule.next_due() == monday + EXPECTED_RUN_DELAY
    assert schedule.take(monday + EXPECTED_RUN_DELAY) == tracker.ref.key


def test_a_success_is_due_at_the_slot_after_the_newest_success() -> None:
    tracker = ObjectTracker(ref())
    tracker.poll(mon_thu_runs(), utc(2026, 11, 28, 12))
    status = tracker.status(utc(2026, 11, 28, 12))
    assert status.success_due_time == utc(2026, 11, 30, 6)  # Monday after Thursday's success
    (family,) = [
        f
        for f in build_families(Snapshot(objects=(status,)), "test")
        if f.name == "anaplan_task_success_due_timestamp_seconds"
    ]
    assert [s.value for s in family.samples] == [utc(2026, 11, 30, 6)]


def test_after_a_failed_run_the_success_is_due_since_the_last_success() -> None:
    tracker = ObjectTracker(ref())
    api = mon_thu_runs(failed_last=True)
    now = utc(2026, 11, 26, 8)
    for i in range(4):  # the look back finds Monday's success over the next polls
        tracker.poll(api, now + i * 60)
    status = tracker.status(now + 300)
    assert status.last_success_time == utc(2026, 11, 23, 6)
    assert status.success_due_time == utc(2026, 11, 26, 6)  # Thursday's: it failed


def test_idle_polls_move_onto_the_grid_of_a_run_found_late() -> None:
    """A job every 120 s with runs of a few seconds and no rhythm learned yet, idle interval 60 s: the poll
    that finds a run already finished puts the next idle polls 5 s after its creation plus whole minutes, so
    the following run (120 s after) is found 5 s after it starts, not a fixed 25 s late every time."""
    polling = PollingConfig(idle_interval=60.0)
    schedule = Schedule(polling.idle_interval)
    api = FakeAnaplan()
    api.add("118000000002", finished("R1", 1000.0))
    tracker = ObjectTracker(ref())
    key = tracker.ref.key
    tracker.poll(api, 1010.0)
    schedule_next_poll(schedule, key, tracker, polling, 1010.0)
    assert schedule.next_due() == 1070.0  # the first poll sets no phase
    api.add("118000000002", finished("R2", 1100.0))
    tracker.poll(api, 1130.0)  # finds R2 30 s late
    schedule_next_poll(schedule, key, tracker, polling, 1130.0)
    assert schedule.next_due() == 1165.0  # 1100 + 5 + 60: the next runs come at 1220, 1340...
    tracker.poll(api, 1165.0)  # nothing new: a plain idle interval keeps the phase
    schedule_next_poll(schedule, key, tracker, polling, 1165.0)
    assert schedule.next_due() == 1225.0
