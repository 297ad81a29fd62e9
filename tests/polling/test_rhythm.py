"""The learned rhythm: interval between runs from creation times, usual duration from finished runs."""

from __future__ import annotations

import calendar
import random
import time

import pytest

from anaplan_exporter.polling.rhythm import (
    EMPTY,
    KEEP,
    Rhythm,
    learned_cadence,
    learned_interval,
    usual_duration,
)

HOUR = 3600.0
DAY = 86400.0
MONDAY = float(calendar.timegm((2026, 11, 2, 6, 0, 0)))  # 2 November 2026 was a Monday, 06:00 UTC


def every(interval: float, n: int, start: float = MONDAY) -> list[float]:
    return [start + i * interval for i in range(n)]


def weekdays(n: int, start: float = MONDAY) -> list[float]:
    """Daily at 06:00 UTC, Monday to Friday only."""
    out: list[float] = []
    day = start
    while len(out) < n:
        if time.gmtime(day).tm_wday < 5:
            out.append(day)
        day += DAY
    return out


def test_hourly() -> None:
    assert learned_interval(every(HOUR, 30)) == HOUR


def test_daily() -> None:
    assert learned_interval(every(DAY, 12)) == DAY


def test_small_noise_keeps_the_interval_close() -> None:
    rng = random.Random(1)
    times = [t + rng.uniform(-60, 60) for t in every(HOUR, 30)]
    value = learned_interval(times)
    assert value is not None and abs(value - HOUR) < 120


def test_weekday_daily_learns_the_weekend_gap() -> None:
    times = weekdays(20)  # four weeks: gaps of one day and, every Friday to Monday, three days
    assert learned_interval(times) == 3 * DAY


def test_a_weekday_job_runs_on_a_grid_of_days_with_an_interval_of_three() -> None:
    assert learned_cadence(weekdays(20)) == (DAY, 3 * DAY)
    assert Rhythm.of(weekdays(20)).step == DAY
    assert learned_cadence(every(HOUR, 30)) == (HOUR, HOUR)


def test_an_irregular_object_has_neither_step_nor_interval() -> None:
    rng = random.Random(7)
    times = sorted(MONDAY + rng.uniform(0, 30 * DAY) for _ in range(20))
    assert learned_cadence(times) == (None, None)
    assert Rhythm.of(times).step is None


def test_a_single_missed_run_does_not_stretch_the_interval() -> None:
    times = every(HOUR, 20)
    del times[10]
    assert learned_interval(times) == HOUR


def test_missed_runs_that_recur_become_the_interval() -> None:
    times = every(HOUR, 24)
    del times[16]
    del times[8]
    assert learned_interval(times) == 2 * HOUR


def test_a_manual_run_shortly_after_a_scheduled_one_is_ignored() -> None:
    times = every(DAY, 10)
    times.append(times[4] + 600)  # re-run ten minutes after a failure
    assert learned_interval(times) == DAY


def test_a_manual_run_mid_interval_is_tolerated() -> None:
    times = every(HOUR, 20)
    times.append(times[7] + 0.6 * HOUR)
    assert learned_interval(times) == HOUR


def test_a_manual_run_just_after_the_newest_is_ignored() -> None:
    times = every(HOUR, 10)
    times.append(times[-1] + 60)
    assert learned_interval(times) == HOUR


def test_irregular_manual_runs_have_no_interval() -> None:
    rng = random.Random(7)
    t, times = MONDAY, []
    for _ in range(30):
        t += rng.uniform(0.2, 3.0) * HOUR
        times.append(t)
    assert learned_interval(times) is None


def test_jittered_grid_has_no_interval() -> None:
    rng = random.Random(3)
    times = [t + rng.uniform(0, 0.9) * HOUR for t in every(HOUR, 30)]
    assert learned_interval(times) is None


def test_two_interleaved_rhythms_are_irregular() -> None:
    # Mondays and Thursdays: gaps of three and four days, not multiples of one interval.
    times = sorted([*every(7 * DAY, 6), *every(7 * DAY, 6, MONDAY + 3 * DAY)])
    assert learned_interval(times) is None


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_too_few_runs(n: int) -> None:
    assert learned_interval(every(HOUR, n)) is None


def test_five_runs_are_enough() -> None:
    assert learned_interval(every(HOUR, 5)) == HOUR


def test_duplicate_times_count_once() -> None:
    times = every(HOUR, 4)
    assert learned_interval(times + times) is None


def test_a_stopped_schedule_keeps_the_interval_learned_from_its_past_runs() -> None:
    # Nothing in the estimator depends on the current time: the runs before the stop still show the rhythm.
    kept = EMPTY.with_times(every(DAY, 40, MONDAY - 100 * DAY))
    assert len(kept.created) == KEEP
    assert kept.interval == DAY


def test_usual_duration_is_a_high_quantile() -> None:
    assert usual_duration([60.0] * 4) is None
    assert usual_duration([10.0, 20.0, 30.0, 40.0, 50.0]) == 50.0
    durations = [float(d) for d in range(1, 31)]
    assert usual_duration(durations) == 27.0
    assert usual_duration([*[100.0] * 27, 900.0, 1000.0, 5000.0]) == 100.0  # rare slow runs stay out


def test_creation_times_are_bounded_and_sorted() -> None:
    kept = Rhythm.of([5.0, 1.0]).with_times([3.0, 5.0, 9.0])
    assert list(kept.created) == [1.0, 3.0, 5.0, 9.0]
    many = kept.with_times(float(t) for t in range(100, 200))
    assert list(many.created) == [float(t) for t in range(200 - KEEP, 200)]
    assert many.with_times([1.0, 150.0]) is many  # older than the window, or known: no change
    assert many.interval == 1.0 and kept.interval is None


def test_durations_keep_the_newest_runs() -> None:
    kept = EMPTY
    for created in [5.0, 1.0, 3.0, 9.0, 7.0]:
        kept = kept.with_duration(created, created * 10)
    assert list(kept.finished) == [1.0, 3.0, 5.0, 7.0, 9.0]
    assert list(kept.durations) == [10.0, 30.0, 50.0, 70.0, 90.0]
    assert kept.usual_duration == 90.0
    assert kept.with_duration(5.0, 1.0) is kept  # known already
    for created in range(100, 100 + KEEP):
        kept = kept.with_duration(float(created), 1.0)
    assert list(kept.finished) == [float(t) for t in range(100, 100 + KEEP)]
    assert kept.with_duration(50.0, 1.0) is kept  # older than every run of a full window
    assert kept.usual_duration == 1.0


def test_saved_values_in_any_order() -> None:
    restored = Rhythm.of([9.0, 1.0, 5.0, 5.0], [(9.0, 2.0), (1.0, 1.0)])
    assert list(restored.created) == [1.0, 5.0, 9.0]
    assert list(restored.finished) == [1.0, 9.0] and list(restored.durations) == [1.0, 2.0]


def test_business_hours_learns_the_night_gap() -> None:
    # Hourly from 09:00 to 17:00 UTC on weekdays: eight gaps of an hour, then sixteen hours overnight.
    day_start = MONDAY + 3 * HOUR
    times = [day_start + d * DAY + h * HOUR for d in range(4) for h in range(9)]
    assert learned_interval(times[-KEEP:]) == 16 * HOUR
