"""When to poll an object again after a poll: while its newest run is unfinished, on the active interval
(5 s at first, a tenth of the run's age later, capped); otherwise after the idle interval, and also just
after the next slot of its learned rhythm, so that a scheduled run shows within seconds of its start.

Without a learned rhythm, idle polls are put on a grid of the idle interval anchored 5 s after the newest
run's creation whenever a poll finds a new run or sees one end (see :func:`idle_due`); plain idle polls then
keep that phase. A job that runs every N idle intervals is so looked at 5 s after each run starts, where
counting the idle interval from the check that saw the previous run end found it a fixed, large delay late
at every run (the poll locked into phase with the job)."""

from __future__ import annotations

from ..config import PollingConfig
from .schedule import Schedule, Urgency
from .tracker import ObjectTracker
from .watched import Key

EXPECTED_RUN_DELAY = 5.0
"""Seconds after a run's expected creation to look for it (schedules start a little late)."""


def active_interval(polling: PollingConfig, running_for: float) -> float:
    """Poll interval for an unfinished task: 5 s at first, a tenth of its age later, capped."""
    return min(polling.active_max_interval, max(polling.active_interval, running_for / 10.0))


def schedule_next_poll(
    schedule: Schedule, key: Key, tracker: ObjectTracker, polling: PollingConfig, now: float
) -> None:
    """Schedule the object's next poll after the one that just ended."""
    since = tracker.active_since
    if since is not None:
        due = now + active_interval(polling, max(0.0, now - since))
        schedule.put(key, Urgency.ACTIVE, due)
    else:
        _schedule_idle(schedule, key, tracker, polling, now)


def _schedule_idle(
    schedule: Schedule, key: Key, tracker: ObjectTracker, polling: PollingConfig, now: float
) -> None:
    """Due ``idle_interval`` from now; and just after the next slot of its rhythm, ahead of the sweep.

    Only for rhythms whose slots are no closer than the idle interval, so an object is never looked at
    more often than idle polling would: one extra poll per slot, which shows the run's start within
    seconds even when the idle sweep is stretched. A weekday job is looked at on each day of the weekend
    too (its slots are days, its interval three days); a run later than the interval is left to the sweep.
    """
    schedule.put(key, Urgency.IDLE, idle_due(tracker, polling.idle_interval, now))
    step = tracker.rhythm_step
    if step is None or step < polling.idle_interval:
        return
    slot = tracker.next_slot_after(now - EXPECTED_RUN_DELAY)
    if slot is not None:
        schedule.promote_at(key, slot + EXPECTED_RUN_DELAY)


def idle_due(tracker: ObjectTracker, idle_interval: float, now: float) -> float:
    """``now + idle_interval``; after a poll that found a new run or saw one end, moved onto the grid of
    ``idle_interval`` through ``EXPECTED_RUN_DELAY`` after that run's creation.

    The due time is the grid's point in ``(now, now + idle_interval]``: never later than a plain idle poll, so
    every object is still looked at within the idle interval; the cost is at most one earlier poll per new run
    or run end. Plain idle polls after it keep the phase. Objects with a learned rhythm are looked at after
    each slot instead, and keep plain idle polls."""
    created = tracker.newest_created
    if created is None or not tracker.newest_changed or tracker.rhythm_step is not None:
        return now + idle_interval
    latest = now + idle_interval
    return latest - (latest - created - EXPECTED_RUN_DELAY) % idle_interval
