"""When to poll an object again after a poll: while its newest run is unfinished, on the active interval
(5 s at first, a tenth of the run's age later, capped); otherwise after the idle interval, and also just
after the next slot of its learned rhythm, so that a scheduled run shows within seconds of its start."""

from __future__ import annotations

from ..config.file import PollingConfig
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
    schedule.put(key, Urgency.IDLE, now + polling.idle_interval)
    step = tracker.rhythm_step
    if step is None or step < polling.idle_interval:
        return
    slot = tracker.next_slot_after(now - EXPECTED_RUN_DELAY)
    if slot is not None:
        schedule.promote_at(key, slot + EXPECTED_RUN_DELAY)
