"""Polls placed by an object's learned rhythm: one look just after each slot a run may be created in, never
more often than idle polling, and nothing more when a run is later than its learned interval."""

from __future__ import annotations

import calendar
import time

from anaplan_exporter.anaplan.models import ModelObject, ObjectType
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, TargetConfig
from anaplan_exporter.polling.poller import EXPECTED_RUN_DELAY, Poller
from support.fake_anaplan import MODEL, WS, FakeAnaplan, finished

HOUR = 3600.0
T0 = 1_000_000.0
HOURLY, FAST = "112000000001", "112000000002"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scenario(with_fast: bool = True) -> FakeAnaplan:
    api = FakeAnaplan()
    api.objects = {ObjectType.IMPORT: [ModelObject(HOURLY, "hourly", ObjectType.IMPORT)]}
    api.add(HOURLY, *(finished(f"H{k}", T0 + k * HOUR) for k in range(8)))
    if with_fast:
        api.objects[ObjectType.IMPORT].append(ModelObject(FAST, "every minute", ObjectType.IMPORT))
        api.add(FAST, *(finished(f"F{k}", T0 + 7 * HOUR + k * 60) for k in range(8)))
    return api


def test_the_next_hourly_run_is_looked_for_just_after_it_is_due() -> None:
    api = scenario(with_fast=False)
    clock = Clock(T0 + 7 * HOUR + 3300)  # 5 minutes before the hourly run is due
    polling = PollingConfig(idle_interval=600, discovery_interval=86400, workers=2)
    target = TargetConfig(WS, MODEL, {ObjectType.IMPORT: ObjectSelection(all=True)})
    poller = Poller(api, [target], polling, clock=clock)
    try:
        poller.tick()
        expected = T0 + 8 * HOUR + EXPECTED_RUN_DELAY
        # The hourly import is looked at 5 s after its run is due, before its idle poll (10 min away).
        assert poller.next_due() == expected
        api.add(HOURLY, finished("H8", T0 + 8 * HOUR))
        clock.now = expected
        lists = api.list_calls
        poller.tick()
        assert api.list_calls == lists + 1
        (hourly,) = [o for o in poller.snapshot.objects if o.ref.object_id == HOURLY]
        assert hourly.task is not None and hourly.task.task_id == "H8"
        assert poller.next_due() == expected + 600  # the next run is further away than the idle poll
    finally:
        poller.stop()


def test_a_late_run_is_left_to_the_idle_sweep() -> None:
    api = scenario()
    clock = Clock(T0 + 7 * HOUR + 3300)
    polling = PollingConfig(idle_interval=600, discovery_interval=86400, workers=2)
    target = TargetConfig(WS, MODEL, {ObjectType.IMPORT: ObjectSelection(all=True)})
    poller = Poller(api, [target], polling, clock=clock)
    try:
        poller.tick()
        clock.now = T0 + 8 * HOUR + EXPECTED_RUN_DELAY
        poller.tick()  # the run is late: nothing new
        # The every-minute import runs faster than the idle interval: it keeps its idle schedule.
        assert poller.next_due() == T0 + 7 * HOUR + 3300 + 600
        clock.now = poller.next_due()
        poller.tick()
        assert poller.next_due() == T0 + 8 * HOUR + EXPECTED_RUN_DELAY + 600  # hourly: idle, not re-predicted
    finally:
        poller.stop()


DAY = 86400.0
FRIDAY = float(calendar.timegm((2026, 11, 27, 6, 0, 0)))  # 27 November 2026, a Friday, 06:00 UTC


def test_a_weekday_job_is_looked_for_on_each_day_of_the_weekend_and_found_on_monday() -> None:
    days = [FRIDAY - k * DAY for k in range(26)]
    api = FakeAnaplan()
    api.objects = {ObjectType.IMPORT: [ModelObject(HOURLY, "weekdays at 06:00", ObjectType.IMPORT)]}
    api.add(HOURLY, *(finished(f"D{k}", t) for k, t in enumerate(days) if time.gmtime(t).tm_wday < 5))
    clock = Clock(FRIDAY + 3600)
    polling = PollingConfig(idle_interval=2 * 3600, discovery_interval=7 * DAY, workers=2)
    target = TargetConfig(WS, MODEL, {ObjectType.IMPORT: ObjectSelection(all=True)})
    poller = Poller(api, [target], polling, clock=clock)

    def polls_until(end: float) -> list[float]:
        """Run every poll due before ``end``; the times of the polls."""
        times = []
        while poller.next_due() < end:
            clock.now = poller.next_due()
            poller.tick()
            times.append(clock.now)
        return times

    try:
        poller.tick()
        # A learned interval of three days (the weekend), but a look just after every daily slot until then:
        # Saturday's and Sunday's find nothing.
        for day in (1, 2):
            slot = FRIDAY + day * DAY + EXPECTED_RUN_DELAY
            assert slot in polls_until(slot + 1), f"no look just after day {day}'s slot"
        polls_until(FRIDAY + 3 * DAY)
        api.add(HOURLY, finished("MONDAY", FRIDAY + 3 * DAY))  # Monday's run starts on time
        assert poller.next_due() == FRIDAY + 3 * DAY + EXPECTED_RUN_DELAY  # ... and is looked for 5 s later
        clock.now = poller.next_due()
        poller.tick()
        (job,) = poller.snapshot.objects
        assert job.task is not None and job.task.task_id == "MONDAY"
    finally:
        poller.stop()
