"""Calendar rhythms: weekday-and-time slots and days of the month, learned from creation times, their next
slots across weekends and month ends, and their description in words."""

from __future__ import annotations

import calendar
import random
import time

import pytest

from anaplan_exporter.calendar_rhythm import (
    LAST_DAY,
    LAST_WORKING_DAY,
    MonthlyDay,
    WeeklySlots,
    describe,
    slot_after_run,
)
from anaplan_exporter.polling.rhythm import Rhythm, learned_schedule

DAY = 86400
MONDAY = calendar.timegm((2026, 11, 2, 6, 0, 0))  # Monday 2 November 2026, 06:00 UTC
MON_THU = WeeklySlots((6 * 3600, 3 * DAY + 6 * 3600))


def utc(*fields: int) -> float:
    return float(calendar.timegm((*fields, 0)[:6] if len(fields) == 5 else fields))


def on_days(n: int, weekdays: set[int], start: int = MONDAY) -> list[float]:
    out: list[float] = []
    day = start
    while len(out) < n:
        if time.gmtime(day).tm_wday in weekdays:
            out.append(float(day))
        day += DAY
    return out


def monthly(day_of: object, n: int, hour: int, year: int = 2025) -> list[float]:
    """The n runs from January of ``year`` on, at ``hour`` on the day ``day_of(year, month)`` gives."""
    out = []
    for i in range(n):
        y, m = year + i // 12, i % 12 + 1
        out.append(utc(y, m, day_of(y, m), hour, 0))  # type: ignore[operator]
    return out


def last_day(y: int, m: int) -> int:
    return calendar.monthrange(y, m)[1]


def last_working_day(y: int, m: int) -> int:
    d = last_day(y, m)
    while calendar.weekday(y, m, d) >= 5:
        d -= 1
    return d


def test_mondays_and_thursdays_at_six() -> None:
    step, interval, pattern = learned_schedule(on_days(8, {0, 3}))
    assert pattern == MON_THU and step is None and interval is None
    assert describe(MON_THU) == "Mon, Thu 06:00 UTC"


def test_jitter_of_minutes_is_tolerated() -> None:
    rng = random.Random(7)
    times = [t + rng.uniform(0, 240) for t in on_days(12, {0, 3})]  # schedules start late
    assert learned_schedule(times)[2] == MON_THU


def test_a_missed_run_and_a_manual_run_leave_the_pattern_standing() -> None:
    times = on_days(12, {0, 3})
    del times[5]  # one Thursday missed
    times.append(MONDAY + 2 * DAY + 5 * 3600)  # Wednesday 11:00 by hand
    assert learned_schedule(times)[2] == MON_THU


def test_too_few_runs_learn_nothing() -> None:
    assert learned_schedule(on_days(4, {0, 3})) == (None, None, None)
    assert learned_schedule([utc(2025, 1, 1, 2, 0), utc(2025, 2, 1, 2, 0)]) == (None, None, None)


def test_a_slot_seen_in_one_week_only_is_no_slot() -> None:
    times = sorted([*on_days(4, {0}), MONDAY + 4 * DAY])  # four Mondays and one Friday, run by hand
    assert learned_schedule(times)[2] == WeeklySlots((6 * 3600,))


def test_a_daily_or_weekday_job_keeps_its_fixed_interval() -> None:
    assert learned_schedule([MONDAY + i * DAY for i in range(30)]) == (DAY, DAY, None)
    assert learned_schedule(on_days(20, {0, 1, 2, 3, 4})) == (DAY, 3 * DAY, None)


def test_different_times_on_different_days() -> None:
    times = sorted([*on_days(6, {0}), *(t + 3 * DAY + 12 * 3600 + 1800 for t in on_days(6, {0}))])
    pattern = learned_schedule(times)[2]
    assert pattern == WeeklySlots((6 * 3600, 3 * DAY + 18 * 3600 + 1800))
    assert describe(pattern) == "Mon 06:00; Thu 18:30 UTC"


def test_day_one_of_the_month() -> None:
    pattern = learned_schedule(monthly(lambda y, m: 1, 3, 2))[2]
    assert pattern == MonthlyDay(1, 2 * 3600)
    assert describe(pattern) == "day 1 of the month 02:00 UTC"


def test_last_day_of_the_month() -> None:
    pattern = learned_schedule(monthly(last_day, 12, 23))[2]
    assert pattern == MonthlyDay(LAST_DAY, 23 * 3600)
    assert describe(pattern) == "last day of the month 23:00 UTC"


def test_last_working_day_with_jitter_and_a_missed_month() -> None:
    rng = random.Random(3)
    times = [t + rng.uniform(0, 300) for t in monthly(last_working_day, 8, 18)]
    del times[3]
    pattern = learned_schedule(times)[2]
    assert pattern == MonthlyDay(LAST_WORKING_DAY, 18 * 3600)
    assert describe(pattern) == "last working day of the month 18:00 UTC"


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 11, 5, 6, 0), utc(2026, 11, 9, 6, 0)),  # Thursday's run: next Monday, over the weekend
        (utc(2026, 11, 7, 12, 0), utc(2026, 11, 9, 6, 0)),  # on Saturday
        (utc(2026, 11, 9, 5, 59), utc(2026, 11, 9, 6, 0)),
        (utc(2026, 11, 9, 6, 0), utc(2026, 11, 12, 6, 0)),
        (utc(2026, 12, 31, 7, 0), utc(2027, 1, 4, 6, 0)),  # over the year's end
    ],
)
def test_next_weekly_slot(after: float, expected: float) -> None:
    assert MON_THU.next_after(after) == expected


@pytest.mark.parametrize(
    ("pattern", "after", "expected"),
    [
        (MonthlyDay(LAST_DAY, 0), utc(2027, 1, 31, 1, 0), utc(2027, 2, 28, 0, 0)),  # February
        (MonthlyDay(LAST_DAY, 0), utc(2028, 1, 31, 1, 0), utc(2028, 2, 29, 0, 0)),  # a leap year
        (MonthlyDay(LAST_DAY, 3600), utc(2026, 4, 1, 0, 0), utc(2026, 4, 30, 1, 0)),  # a 30-day month
        # Saturday 31 October 2026: the last working day is Friday the 30th; in November, Monday the 30th.
        (MonthlyDay(LAST_WORKING_DAY, 18 * 3600), utc(2026, 10, 1, 0, 0), utc(2026, 10, 30, 18, 0)),
        (MonthlyDay(LAST_WORKING_DAY, 18 * 3600), utc(2026, 10, 30, 18, 5), utc(2026, 11, 30, 18, 0)),
        (MonthlyDay(1, 7200), utc(2026, 12, 1, 2, 0), utc(2027, 1, 1, 2, 0)),
        (MonthlyDay(31, 0), utc(2026, 4, 1, 0, 0), utc(2026, 5, 31, 0, 0)),  # April has no 31st
    ],
)
def test_next_monthly_slot(pattern: MonthlyDay, after: float, expected: float) -> None:
    assert pattern.next_after(after) == expected


def test_the_slot_after_a_run_that_started_a_little_early_is_the_next_one() -> None:
    assert slot_after_run(MON_THU, utc(2026, 11, 9, 5, 58)) == utc(2026, 11, 12, 6, 0)


def test_the_rhythm_and_a_restored_rhythm_carry_the_pattern() -> None:
    times = on_days(8, {0, 3})
    assert Rhythm.of(times).pattern == MON_THU
    assert Rhythm.of().with_times(times).pattern == MON_THU
    assert Rhythm.of(times).with_duration(times[-1], 30.0).pattern == MON_THU


def test_three_months_of_last_working_days_are_enough() -> None:
    # The minimum: three months. Friday 29 January (the 30th and 31st are a weekend), Friday 26 February,
    # Wednesday 31 March 2027.
    times = [utc(2027, 1, 29, 18, 0), utc(2027, 2, 26, 18, 0), utc(2027, 3, 31, 18, 0)]
    assert learned_schedule(times)[2] == MonthlyDay(LAST_WORKING_DAY, 18 * 3600)
