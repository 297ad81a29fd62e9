"""When a CloudWorks schedule fires: the next time after a moment, and the latest time at or before one.

Pure: no I/O, no clock; every result is an aware UTC datetime, or None when the schedule never fires again
(inactive, past its end date, an unknown time zone, or fields its type needs are missing).

**Daylight saving.** Anaplan's help ("Create an integration schedule") says CloudWorks schedule times "are
anchored to Coordinated Universal Time (UTC)" and that integrations "shift by one hour per your local time"
where daylight saving applies; Anaplan's own best-practice article ("Adjusting CloudWorks Integration
Schedules for DST using Python") is a script that moves every schedule by an hour at each change, and the
public OpenAPI description repeats that schedules do not follow daylight saving on their own. No source
says the opposite, so by default a schedule keeps one UTC offset all year: the offset its time zone has at
the schedule's first run time on its ``startDate`` (CloudWorks only accepts a start date from the day the
schedule is saved, so this is the offset in force when it was saved; without a start date, the zone's
standard offset). A London 06:00 daily schedule started in winter thus fires at 06:00 UTC all year, 07:00
local in summer; a user who moves it to 05:00 at the spring change gets 05:00 UTC. Day-of-week and date
rules are read in that fixed-offset time as well, as a UTC cron made from the schedule would be.
``follow_dst=True`` gives the other reading (the wall-clock time in the zone all year: a time skipped by a
spring change fires at the same instant as an hour later, one repeated in autumn fires at its first
occurrence), should a tenant be seen to behave so.

**Choices where the sources are silent** (each errs towards expecting no run, so an overdue alert built on
these functions cannot page for a run CloudWorks never meant to start):

- ``monthly_specific_day`` on a day the month lacks (31 in April, 30 in February): no run that month.
- ``monthly_relative_weekday``: ``repeatEvery`` 1..4 is the nth weekday, 5 the fifth (months without one
  have no run), -1 the last. The weekday is ``dayOfWeek``, else those of ``daysOfWeek``.
- ``hourly``: runs at ``fromTime`` and every ``repeatEvery`` hours after it up to ``toTime`` inclusive; a
  ``toTime`` before ``fromTime`` ends the window the next day (the days of the week are those the window
  starts on). ``daily`` and ``hourly`` with no ``daysOfWeek`` run every day; ``weekly`` without runs never.
- ``startDate`` and ``endDate`` are inclusive.

CloudWorks starts a scheduled run up to :data:`TRIGGER_WINDOW` after its time (Anaplan: "Schedules will
trigger within 15 minutes of the selected start time"), and runs none during platform maintenance (usually
Saturdays 13:00-17:00 US Pacific): an overdue check allows for both.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from .cloudworks_models import Schedule, ScheduleType

TRIGGER_WINDOW = datetime.timedelta(minutes=15)
"""How long after its scheduled time CloudWorks may start a run."""

HORIZON_DAYS = 800
"""How far a search looks (a fifth Friday or a 31st comes within months; two years and more is garbage)."""

_UTC = datetime.timezone.utc
_DAY = datetime.timedelta(days=1)


def next_run(
    schedule: Schedule, after: datetime.datetime, *, follow_dst: bool = False
) -> datetime.datetime | None:
    """The first time the schedule fires strictly after ``after`` (a naive ``after`` is taken as UTC)."""
    plan = _plan(schedule, follow_dst, after)
    if plan is None:
        return None
    zone, offsets = plan
    try:
        moment = _aware(after)
        first = moment.astimezone(zone).date() - _DAY * (1 + offsets[-1].days)
    except (OverflowError, ValueError):
        return None
    if schedule.start_date is not None and first < schedule.start_date:
        first = schedule.start_date
    for day in _days(first, 1):
        if schedule.end_date is not None and day > schedule.end_date:
            return None
        if not _fires_on(schedule, day):
            continue
        for offset in offsets:
            fire = _at(day, offset, zone)
            if fire is not None and fire > moment:
                return fire
    return None


def previous_run(
    schedule: Schedule, at: datetime.datetime, *, follow_dst: bool = False
) -> datetime.datetime | None:
    """The latest time the schedule fired (or should have) at or before ``at``; None if there is none.

    An overdue check: a run is due when ``previous_run(now - TRIGGER_WINDOW - grace)`` is later than the
    start of the latest run seen.
    """
    plan = _plan(schedule, follow_dst, at)
    if plan is None:
        return None
    zone, offsets = plan
    try:
        moment = _aware(at)
        last = moment.astimezone(zone).date()
    except (OverflowError, ValueError):
        return None
    if schedule.end_date is not None and last > schedule.end_date:
        last = schedule.end_date
    for day in _days(last, -1):
        if schedule.start_date is not None and day < schedule.start_date:
            return None
        if not _fires_on(schedule, day):
            continue
        for offset in reversed(offsets):
            fire = _at(day, offset, zone)
            if fire is not None and fire <= moment:
                return fire
    return None


# --------------------------------------------------------------------------- internals


def _plan(
    schedule: Schedule, follow_dst: bool, moment: datetime.datetime
) -> tuple[datetime.tzinfo, list[datetime.timedelta]] | None:
    """The zone the schedule is read in and its run times as offsets from local midnight; None: no runs."""
    if not schedule.active or not _has_days(schedule):
        return None
    offsets = _offsets(schedule)
    if not offsets:
        return None
    zone = _zone(schedule, offsets[0], follow_dst, moment)
    return (zone, offsets) if zone is not None else None


def _zone(
    schedule: Schedule, first: datetime.timedelta, follow_dst: bool, moment: datetime.datetime
) -> datetime.tzinfo | None:
    try:
        real = ZoneInfo(schedule.timezone)
    except (ValueError, OSError, LookupError):  # a malformed, unknown (a KeyError) or directory name
        return None
    if follow_dst:
        return real
    try:
        if schedule.start_date is not None:
            local = datetime.datetime.combine(schedule.start_date, datetime.time(), tzinfo=real) + first
            offset = local.utcoffset()
        else:
            local = _aware(moment).astimezone(real)
            total, saving = local.utcoffset(), local.dst()
            offset = total - saving if total is not None and saving is not None else total
    except (OverflowError, ValueError):
        return None
    return datetime.timezone(offset) if offset is not None else None


def _offsets(schedule: Schedule) -> list[datetime.timedelta]:
    """The run times of one day, as sorted offsets from its midnight (an hourly window may pass the next
    midnight, so an offset may exceed a day)."""
    if schedule.type is ScheduleType.HOURLY:
        start = schedule.from_time or schedule.time
        if start is None:
            return []
        first = _since_midnight(start)
        if schedule.to_time is None:
            return [first]
        last = _since_midnight(schedule.to_time)
        if last < first:
            last += _DAY
        step = datetime.timedelta(
            hours=schedule.repeat_every if schedule.repeat_every and schedule.repeat_every > 0 else 1
        )
        offsets = []
        offset = first
        while offset <= last:
            offsets.append(offset)
            offset += step
        return offsets
    if schedule.type is ScheduleType.UNKNOWN or schedule.time is None:
        return []
    return [_since_midnight(schedule.time)]


def _since_midnight(value: datetime.time) -> datetime.timedelta:
    return datetime.timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)


def _weekday(day: datetime.date) -> int:
    """CloudWorks' day of the week: 0 = Sunday .. 6 = Saturday."""
    return (day.weekday() + 1) % 7


def _fires_on(schedule: Schedule, day: datetime.date) -> bool:
    """Whether the schedule's run times of ``day`` (a local date) are run times."""
    kind = schedule.type
    if kind in (ScheduleType.HOURLY, ScheduleType.DAILY):
        return not schedule.days_of_week or _weekday(day) in schedule.days_of_week
    if kind is ScheduleType.WEEKLY:
        return _weekday(day) in schedule.days_of_week
    if kind is ScheduleType.MONTHLY_SPECIFIC_DAY:
        return schedule.day_of_month is not None and day.day == schedule.day_of_month
    if kind is ScheduleType.MONTHLY_RELATIVE_WEEKDAY:
        weekdays = (schedule.day_of_week,) if schedule.day_of_week is not None else schedule.days_of_week
        nth = schedule.repeat_every
        if _weekday(day) not in weekdays or nth is None:
            return False
        if nth == -1:
            return (day + datetime.timedelta(days=7)).month != day.month
        return 1 <= nth <= 5 and (day.day - 1) // 7 + 1 == nth
    return False


def _has_days(schedule: Schedule) -> bool:
    """Whether the day rule can match any day at all (so a search of the horizon is not wasted on it)."""
    kind = schedule.type
    if kind is ScheduleType.WEEKLY:
        return bool(schedule.days_of_week)
    if kind is ScheduleType.MONTHLY_SPECIFIC_DAY:
        return schedule.day_of_month is not None and 1 <= schedule.day_of_month <= 31
    if kind is ScheduleType.MONTHLY_RELATIVE_WEEKDAY:
        weekdays = (schedule.day_of_week,) if schedule.day_of_week is not None else schedule.days_of_week
        return any(0 <= day <= 6 for day in weekdays) and schedule.repeat_every in (-1, 1, 2, 3, 4, 5)
    return kind is not ScheduleType.UNKNOWN


def _days(first: datetime.date, step: int) -> Iterator[datetime.date]:
    """HORIZON_DAYS dates from ``first``, forwards (step 1) or backwards (-1), ending early at the calendar's
    edge."""
    day = first
    for _ in range(HORIZON_DAYS):
        yield day
        try:
            day += datetime.timedelta(days=step)
        except OverflowError:
            return


def _at(day: datetime.date, offset: datetime.timedelta, zone: datetime.tzinfo) -> datetime.datetime | None:
    """The UTC instant of local ``day`` midnight + ``offset`` in ``zone`` (None past the calendar's edge).

    Wall-clock arithmetic: in a zone with daylight saving a nonexistent time takes the offset before the
    change (fold 0), an ambiguous one its first occurrence.
    """
    try:
        local = datetime.datetime.combine(day, datetime.time()) + offset
        return local.replace(tzinfo=zone).astimezone(_UTC)
    except (OverflowError, ValueError):
        return None


def _aware(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)
