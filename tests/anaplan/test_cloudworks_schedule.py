"""When CloudWorks schedules fire: each schedule type, start and end dates, both sides of daylight-saving
changes (a fixed UTC time by default, the wall clock on request), and properties true of any schedule."""

from __future__ import annotations

import dataclasses
import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.cloudworks_models import Schedule, ScheduleType
from anaplan_exporter.anaplan.cloudworks_schedule import next_run, previous_run

UTC = datetime.timezone.utc
TIME = datetime.time
DATE = datetime.date


def at(text: str) -> datetime.datetime:
    """An aware UTC datetime from ``YYYY-MM-DD HH:MM``."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


WINTER = DATE(2026, 1, 5)


def daily(
    zone: str, hour: int = 6, minute: int = 0, start: DATE | None = WINTER, **fields: object
) -> Schedule:
    schedule = Schedule(ScheduleType.DAILY, time=TIME(hour, minute), timezone=zone, start_date=start)
    return dataclasses.replace(schedule, **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("after", "expected", "local"),
    [
        # Europe/London: summer time from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
        ("2026-03-27 12:00", "2026-03-28 06:00", "06:00 GMT, the day before the change"),
        ("2026-03-28 12:00", "2026-03-29 06:00", "07:00 BST, the day of the change"),
        ("2026-03-30 12:00", "2026-03-31 06:00", "07:00 BST"),
        ("2026-10-24 12:00", "2026-10-25 06:00", "06:00 GMT again, the day of the change back"),
        ("2026-10-26 12:00", "2026-10-27 06:00", "06:00 GMT"),
    ],
)
def test_london_daily_keeps_its_utc_time_across_both_changes(after: str, expected: str, local: str) -> None:
    assert next_run(daily("Europe/London"), at(after)) == at(expected), local


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # America/New_York: daylight time 2026-03-08 07:00 to 2026-11-01 06:00 UTC; 06:00 EST is 11:00 UTC.
        ("2026-03-06 12:00", "2026-03-07 11:00"),  # 06:00 EST
        ("2026-03-07 12:00", "2026-03-08 11:00"),  # 07:00 EDT
        ("2026-10-31 12:00", "2026-11-01 11:00"),  # 06:00 EST, the day of the change back
        ("2026-11-01 12:00", "2026-11-02 11:00"),
    ],
)
def test_new_york_daily_keeps_its_utc_time_across_both_changes(after: str, expected: str) -> None:
    assert next_run(daily("America/New_York"), at(after)) == at(expected)


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        ("Europe/London", "2026-03-27 12:00", "2026-03-28 06:00"),
        ("Europe/London", "2026-03-28 12:00", "2026-03-29 05:00"),  # 06:00 BST
        ("Europe/London", "2026-10-24 01:00", "2026-10-24 05:00"),  # 06:00 BST
        ("Europe/London", "2026-10-24 12:00", "2026-10-25 06:00"),  # 06:00 GMT
        ("America/New_York", "2026-03-07 12:00", "2026-03-08 10:00"),  # 06:00 EDT
        ("America/New_York", "2026-10-31 12:00", "2026-11-01 11:00"),  # 06:00 EST
    ],
)
def test_wall_clock_reading_follows_both_changes(zone: str, after: str, expected: str) -> None:
    assert next_run(daily(zone), at(after), follow_dst=True) == at(expected)


def test_the_offset_is_the_one_in_force_on_the_start_date() -> None:
    """Saved in summer, a London 06:00 schedule runs at 05:00 UTC all year, 05:00 local in winter."""
    summer = daily("Europe/London", start=DATE(2026, 7, 1))
    assert next_run(summer, at("2026-07-01 00:00")) == at("2026-07-01 05:00")
    assert next_run(summer, at("2026-12-01 12:00")) == at("2026-12-02 05:00")


def test_without_a_start_date_the_zone_standard_offset_is_used() -> None:
    assert next_run(daily("Europe/London", start=None), at("2026-07-01 12:00")) == at("2026-07-02 06:00")
    # Sydney's standard time is UTC+10 (its summer time, UTC+11, is in January).
    assert next_run(daily("Australia/Sydney", start=None), at("2026-01-10 00:00")) == at("2026-01-10 20:00")


def test_previous_run_on_both_sides_of_a_change() -> None:
    schedule = daily("Europe/London")
    assert previous_run(schedule, at("2026-03-29 05:59")) == at("2026-03-28 06:00")
    assert previous_run(schedule, at("2026-03-29 06:00")) == at("2026-03-29 06:00")
    assert previous_run(schedule, at("2026-03-29 06:00"), follow_dst=True) == at("2026-03-29 05:00")
    assert previous_run(schedule, at("2026-10-25 05:30"), follow_dst=True) == at("2026-10-24 05:00")


def test_wall_clock_times_skipped_or_repeated_by_a_change() -> None:
    skipped = daily("America/New_York", hour=2, minute=30)  # 02:30 does not exist on 2026-03-08
    assert next_run(skipped, at("2026-03-08 00:00"), follow_dst=True) == at("2026-03-08 07:30")  # 03:30 EDT
    repeated = daily("America/New_York", hour=1, minute=30)  # 01:30 happens twice on 2026-11-01
    assert next_run(repeated, at("2026-11-01 00:00"), follow_dst=True) == at("2026-11-01 05:30")  # the first
    assert next_run(repeated, at("2026-11-01 05:30"), follow_dst=True) == at("2026-11-02 06:30")


# --------------------------------------------------------------------------- the schedule types


def test_hourly_window_repeat_and_days() -> None:
    schedule = Schedule(
        ScheduleType.HOURLY,
        from_time=TIME(8, 15),
        to_time=TIME(12, 15),
        repeat_every=2,
        days_of_week=(1, 3),  # Monday, Wednesday
        timezone="UTC",
    )
    runs = []
    moment = at("2026-06-01 00:00")  # a Monday
    for _ in range(7):
        found = next_run(schedule, moment)
        assert found is not None
        runs.append(found)
        moment = found
    assert runs == [
        at("2026-06-01 08:15"),
        at("2026-06-01 10:15"),
        at("2026-06-01 12:15"),  # the window's end is included
        at("2026-06-03 08:15"),
        at("2026-06-03 10:15"),
        at("2026-06-03 12:15"),
        at("2026-06-08 08:15"),
    ]


def test_hourly_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    schedule = Schedule(
        ScheduleType.HOURLY,
        from_time=TIME(22, 0),
        to_time=TIME(1, 0),
        repeat_every=1,
        days_of_week=(5,),  # Friday
        timezone="UTC",
    )
    assert next_run(schedule, at("2026-06-05 21:00")) == at("2026-06-05 22:00")  # a Friday
    assert next_run(schedule, at("2026-06-05 23:30")) == at("2026-06-06 00:00")  # Saturday, Friday's window
    assert next_run(schedule, at("2026-06-06 00:30")) == at("2026-06-06 01:00")
    assert next_run(schedule, at("2026-06-06 01:00")) == at("2026-06-12 22:00")
    assert previous_run(schedule, at("2026-06-06 00:59")) == at("2026-06-06 00:00")


def test_hourly_without_days_runs_every_day_and_without_an_end_once() -> None:
    schedule = Schedule(ScheduleType.HOURLY, from_time=TIME(9, 0), timezone="UTC")
    assert next_run(schedule, at("2026-06-06 10:00")) == at("2026-06-07 09:00")


def test_weekly_days() -> None:
    schedule = Schedule(ScheduleType.WEEKLY, time=TIME(7, 0), days_of_week=(1, 4), timezone="UTC")  # Mon, Thu
    assert next_run(schedule, at("2026-06-05 12:00")) == at("2026-06-08 07:00")  # Friday -> Monday
    assert next_run(schedule, at("2026-06-08 06:59")) == at("2026-06-08 07:00")
    assert next_run(schedule, at("2026-06-08 07:00")) == at("2026-06-11 07:00")
    assert previous_run(schedule, at("2026-06-07 23:00")) == at("2026-06-04 07:00")  # no weekend run
    assert next_run(dataclasses.replace(schedule, days_of_week=()), at("2026-06-05 12:00")) is None


def test_daily_keeps_to_its_days_when_it_has_some() -> None:
    weekdays = daily("UTC", days_of_week=(1, 2, 3, 4, 5))
    assert next_run(weekdays, at("2026-06-05 12:00")) == at("2026-06-08 06:00")


def test_monthly_specific_day_skips_months_without_it() -> None:
    schedule = Schedule(ScheduleType.MONTHLY_SPECIFIC_DAY, time=TIME(3, 0), day_of_month=31, timezone="UTC")
    assert next_run(schedule, at("2026-03-31 04:00")) == at("2026-05-31 03:00")  # no 31 April
    thirtieth = dataclasses.replace(schedule, day_of_month=30)
    assert next_run(thirtieth, at("2026-01-30 04:00")) == at("2026-03-30 03:00")  # no 30 February
    assert previous_run(schedule, at("2026-07-15 00:00")) == at("2026-05-31 03:00")


def test_monthly_relative_weekday() -> None:
    second_tuesday = Schedule(
        ScheduleType.MONTHLY_RELATIVE_WEEKDAY, time=TIME(9, 0), day_of_week=2, repeat_every=2, timezone="UTC"
    )
    assert next_run(second_tuesday, at("2026-06-01 00:00")) == at("2026-06-09 09:00")
    assert next_run(second_tuesday, at("2026-06-09 09:00")) == at("2026-07-14 09:00")
    last_friday = dataclasses.replace(second_tuesday, day_of_week=5, repeat_every=-1)
    assert next_run(last_friday, at("2026-06-01 00:00")) == at("2026-06-26 09:00")
    assert next_run(last_friday, at("2026-07-25 00:00")) == at("2026-07-31 09:00")
    fifth_friday = dataclasses.replace(last_friday, repeat_every=5)
    assert next_run(fifth_friday, at("2026-06-01 00:00")) == at("2026-07-31 09:00")  # June has four
    from_days = dataclasses.replace(second_tuesday, day_of_week=None, days_of_week=(1,))
    assert next_run(from_days, at("2026-06-01 00:00")) == at("2026-06-08 09:00")  # second Monday


# --------------------------------------------------------------------------- dates, status, bad values


def test_start_and_end_dates_are_inclusive() -> None:
    schedule = daily("UTC", start=DATE(2026, 6, 10), end_date=DATE(2026, 6, 12))
    assert next_run(schedule, at("2026-01-01 00:00")) == at("2026-06-10 06:00")
    assert next_run(schedule, at("2026-06-11 06:00")) == at("2026-06-12 06:00")
    assert next_run(schedule, at("2026-06-12 06:00")) is None
    assert previous_run(schedule, at("2026-06-30 00:00")) == at("2026-06-12 06:00")
    assert previous_run(schedule, at("2026-06-10 05:59")) is None


def test_schedules_that_never_fire() -> None:
    moment = at("2026-06-01 00:00")
    assert next_run(daily("UTC", active=False), moment) is None
    assert previous_run(daily("UTC", active=False), moment + datetime.timedelta(days=30)) is None
    for zone in ("Mars/Olympus_Mons", "", "America", "x" * 300, "../etc/passwd", "UTC\x00"):  # not IANA zones
        assert next_run(daily(zone), moment) is None, zone
    assert next_run(daily("UTC", time=None), moment) is None
    assert next_run(Schedule(ScheduleType.UNKNOWN, time=TIME(1, 0), timezone="UTC"), moment) is None
    assert (
        next_run(Schedule(ScheduleType.MONTHLY_SPECIFIC_DAY, time=TIME(1, 0), timezone="UTC"), moment) is None
    )


def test_a_naive_moment_is_utc() -> None:
    assert next_run(daily("UTC"), datetime.datetime(2026, 6, 1, 7, 0)) == at("2026-06-02 06:00")


def test_the_edges_of_the_calendar_give_none() -> None:
    schedule = daily("Pacific/Kiritimati", start=None)
    assert next_run(schedule, datetime.datetime.max.replace(tzinfo=UTC)) is None
    assert previous_run(schedule, datetime.datetime.min.replace(tzinfo=UTC)) is None
    # The last day of the calendar: its run is past, and there is no next day.
    assert next_run(daily("UTC", start=None), at("9999-12-31 12:00")) is None
    # A run time past the calendar's end: the day after 9999-12-31, or UTC behind a negative offset.
    late = Schedule(ScheduleType.HOURLY, from_time=TIME(23, 0), to_time=TIME(1, 0), timezone="UTC")
    assert next_run(late, at("9999-12-31 23:00")) is None
    assert next_run(daily("Pacific/Honolulu", hour=23, start=None), at("9999-12-31 10:00")) is None
    assert previous_run(daily("UTC", start=None), at("0001-01-01 05:00")) is None


# --------------------------------------------------------------------------- properties

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Chatham"]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    start = draw(st.none() | st.dates(DATE(2020, 1, 1), DATE(2030, 12, 31)))
    end = draw(
        st.none()
        | st.integers(0, 1500).map(lambda days: (start or DATE(2026, 1, 1)) + datetime.timedelta(days))
    )
    minutes = st.integers(0, 23 * 60 + 59).map(lambda m: TIME(m // 60, m % 60))
    return Schedule(
        type=draw(st.sampled_from([t for t in ScheduleType if t is not ScheduleType.UNKNOWN])),
        time=draw(minutes),
        from_time=draw(minutes),
        to_time=draw(st.none() | minutes),
        repeat_every=draw(st.sampled_from([-1, 1, 2, 3, 4, 5, 6, 12])),
        days_of_week=tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1)))),
        day_of_month=draw(st.integers(1, 31)),
        day_of_week=draw(st.none() | st.integers(0, 6)),
        start_date=start,
        end_date=end,
        timezone=draw(st.sampled_from(ZONES)),
        active=True,
    )


MOMENTS = st.datetimes(datetime.datetime(2019, 1, 1), datetime.datetime(2032, 12, 31), timezones=st.just(UTC))


def _fixed_offset(schedule: Schedule) -> datetime.timedelta:
    """The schedule's UTC offset as the module documents it, computed here independently."""
    zone = ZoneInfo(schedule.timezone)
    first = schedule.from_time or schedule.time if schedule.type is ScheduleType.HOURLY else schedule.time
    assert first is not None
    if schedule.start_date is not None:
        offset = datetime.datetime.combine(schedule.start_date, first, tzinfo=zone).utcoffset()
    else:
        probe = datetime.datetime(2026, 1, 15, tzinfo=zone)
        total, saving = probe.utcoffset(), probe.dst()
        assert total is not None and saving is not None
        offset = total - saving
    assert offset is not None
    return offset


def _allowed_times(schedule: Schedule) -> set[tuple[datetime.time, int]]:
    """(local time of day, days after the window's start day) at which the schedule may fire."""
    if schedule.type is not ScheduleType.HOURLY:
        assert schedule.time is not None
        return {(schedule.time, 0)}
    start = schedule.from_time or schedule.time
    assert start is not None
    if schedule.to_time is None:
        return {(start, 0)}
    base = datetime.datetime.combine(DATE(2000, 1, 1), start)
    end = datetime.datetime.combine(DATE(2000, 1, 1), schedule.to_time)
    if end < base:
        end += datetime.timedelta(days=1)
    step = datetime.timedelta(
        hours=schedule.repeat_every if schedule.repeat_every and schedule.repeat_every > 0 else 1
    )
    allowed = set()
    moment = base
    while moment <= end:
        allowed.add((moment.time(), (moment.date() - base.date()).days))
        moment += step
    return allowed


def _fires_on(schedule: Schedule, day: DATE) -> bool:
    weekday = day.isoweekday() % 7
    if schedule.type in (ScheduleType.HOURLY, ScheduleType.DAILY, ScheduleType.WEEKLY):
        return weekday in schedule.days_of_week
    if schedule.type is ScheduleType.MONTHLY_SPECIFIC_DAY:
        return day.day == schedule.day_of_month
    days = (schedule.day_of_week,) if schedule.day_of_week is not None else schedule.days_of_week
    if weekday not in days:
        return False
    if schedule.repeat_every == -1:
        return (day + datetime.timedelta(days=7)).month != day.month
    return (day.day - 1) // 7 + 1 == schedule.repeat_every


@settings(max_examples=400, deadline=None)
@given(schedule=schedules(), after=MOMENTS)
def test_next_run_is_later_on_an_allowed_day_and_time_and_nothing_fires_in_between(
    schedule: Schedule, after: datetime.datetime
) -> None:
    found = next_run(schedule, after)
    if found is None:
        return
    assert found > after and found.tzinfo is not None and found.utcoffset() == datetime.timedelta(0)
    local = (found + _fixed_offset(schedule)).replace(tzinfo=None)
    matches = [days for time, days in _allowed_times(schedule) if time == local.time()]
    assert matches, f"{local.time()} is not a run time of {schedule}"
    day = local.date() - datetime.timedelta(days=matches[0])
    assert _fires_on(schedule, day)
    assert schedule.start_date is None or day >= schedule.start_date
    assert schedule.end_date is None or day <= schedule.end_date
    assert previous_run(schedule, found) == found
    before = previous_run(schedule, found - datetime.timedelta(microseconds=1))
    assert before is None or before <= after


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), moment=MOMENTS, follow_dst=st.booleans())
def test_previous_run_is_at_or_before_and_next_run_follows_it(
    schedule: Schedule, moment: datetime.datetime, follow_dst: bool
) -> None:
    previous = previous_run(schedule, moment, follow_dst=follow_dst)
    if previous is None:
        return
    assert previous <= moment
    following = next_run(schedule, previous, follow_dst=follow_dst)
    assert following is None or following > moment


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), after=MOMENTS)
def test_wall_clock_runs_are_later_and_within_the_dates(schedule: Schedule, after: datetime.datetime) -> None:
    found = next_run(schedule, after, follow_dst=True)
    if found is None:
        return
    assert found > after
    local_day = found.astimezone(ZoneInfo(schedule.timezone)).date()
    slack = datetime.timedelta(days=1)  # an hourly window may end the next day
    assert schedule.start_date is None or local_day >= schedule.start_date
    assert schedule.end_date is None or local_day <= schedule.end_date + slack


_ANY_TIME = st.none() | st.times()
_ANY_SCHEDULE = st.builds(
    Schedule,
    type=st.sampled_from(ScheduleType),
    time=_ANY_TIME,
    from_time=_ANY_TIME,
    to_time=_ANY_TIME,
    repeat_every=st.none() | st.integers(-3, 30),
    days_of_week=st.lists(st.integers(-2, 9), max_size=8).map(tuple),
    day_of_month=st.none() | st.integers(-1, 40),
    day_of_week=st.none() | st.integers(-1, 9),
    start_date=st.none() | st.dates(),
    end_date=st.none() | st.dates(),
    timezone=st.sampled_from(
        [*ZONES, "", "Nowhere/Else", "../../etc/passwd", "Europe/London\x00", "x" * 300]
    ),
    active=st.booleans(),
)


@settings(max_examples=500, deadline=None)
@given(
    schedule=_ANY_SCHEDULE,
    moment=st.datetimes(timezones=st.none() | st.timezones() | st.just(UTC)),
    follow_dst=st.booleans(),
)
def test_never_raises_for_any_schedule_or_moment(
    schedule: Schedule, moment: datetime.datetime, follow_dst: bool
) -> None:
    for found in (
        next_run(schedule, moment, follow_dst=follow_dst),
        previous_run(schedule, moment, follow_dst=follow_dst),
    ):
        assert found is None or found.tzinfo is not None
