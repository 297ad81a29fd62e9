"""Calendar rhythms: schedules that are not one fixed interval, learned from the creation times of runs.

Two kinds, both in UTC:

- **weekly**: a set of weekday and time-of-day slots, such as Mondays and Thursdays at 06:00. Each run's time
  of the week is put in the slot within ``JITTER`` of it; a slot counts once runs fell in it in at least
  ``MIN_WEEKS`` different weeks (a manual run never becomes a slot). Needs ``MIN_RUNS`` runs.
- **monthly**: one time of day on one day of each month: a fixed day (the 1st), the last day of the month, or
  the last working day (Monday to Friday). Month-end kinds are tried first (runs on the 31st of long months
  and the 30th of short ones are "the last day"). Needs runs in ``MIN_MONTHS`` different months.

A pattern is learned only when at least ``REGULAR_SHARE`` of the runs fit it (a missed run, or a re-run by
hand, leaves it standing). ``rhythm.py`` keeps the fixed interval when it explains the runs as well: a daily
or weekday job stays "every day" rather than becoming seven weekly slots.

Pure functions of the creation times; DST does not exist in UTC.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from dataclasses import dataclass

DAY = 86400
WEEK = 7 * DAY
MONDAY_EPOCH = 4 * DAY
"""1970-01-05, the first Monday after the epoch (a Thursday): weeks count from Monday 00:00 UTC."""
JITTER = 900
"""Seconds a run may start away from its slot and still fit it (schedules start a few minutes late)."""
MIN_RUNS = 5
"""Runs needed before a weekly pattern is learned."""
MIN_WEEKS = 2
"""Different weeks in which a slot must have had a run to be part of a weekly pattern."""
MIN_MONTHS = 3
"""Different months with a fitting run needed before a monthly pattern is learned (three months' runs)."""
REGULAR_SHARE = 0.75
"""Share of the runs that must fit a pattern."""
LAST_DAY = 0
"""``MonthlyDay.day`` for the last day of the month."""
LAST_WORKING_DAY = -1
"""``MonthlyDay.day`` for the last Monday-to-Friday of the month."""
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _offset(value: float, reference: float, period: float) -> float:
    """``value - reference`` folded into ``[-period / 2, period / 2)``."""
    return (value - reference + period / 2) % period - period / 2


@dataclass(frozen=True, slots=True)
class WeeklySlots:
    """Runs at these times of the week (seconds after Monday 00:00 UTC, ascending)."""

    slots: tuple[int, ...]

    def next_after(self, moment: float) -> float:
        """The first slot strictly after ``moment``."""
        week_start = moment - (moment - MONDAY_EPOCH) % WEEK
        for week in (week_start, week_start + WEEK):
            for slot in self.slots:
                if week + slot > moment:
                    return float(week + slot)
        raise AssertionError("unreachable: a week always has a slot")  # pragma: no cover

    @property
    def shortest_gap(self) -> float:
        """The shortest time between two successive slots."""
        following = (*self.slots[1:], self.slots[0] + WEEK)
        return float(min(b - a for a, b in zip(self.slots, following, strict=True)))


@dataclass(frozen=True, slots=True)
class MonthlyDay:
    """Runs once a month at ``time_of_day`` (seconds after midnight UTC) on ``day``: 1 to 31, ``LAST_DAY`` or
    ``LAST_WORKING_DAY``. A fixed day a month does not have (the 31st of April) has no run that month."""

    day: int
    time_of_day: int

    def next_after(self, moment: float) -> float:
        """The first slot strictly after ``moment``."""
        year, month = time.gmtime(moment)[:2]
        while True:
            day = _day_in(year, month, self.day)
            if day is not None:
                at = calendar.timegm((year, month, day, 0, 0, 0)) + self.time_of_day
                if at > moment:
                    return float(at)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    @property
    def shortest_gap(self) -> float:
        """Two slots are at least 28 days apart (31 January and 28 February; last working days too)."""
        return 28.0 * DAY


Pattern = WeeklySlots | MonthlyDay


def slot_after_run(pattern: Pattern, created: float) -> float:
    """The slot after the one a run created at ``created`` belongs to (it may have started a little early)."""
    return pattern.next_after(created + JITTER)


def _day_in(year: int, month: int, rule: int) -> int | None:
    """The day of the month ``rule`` falls on in that month, or None when the month has no such day."""
    length = calendar.monthrange(year, month)[1]
    if rule == LAST_DAY:
        return length
    if rule == LAST_WORKING_DAY:
        day = length
        while calendar.weekday(year, month, day) >= 5:
            day -= 1
        return day
    return rule if rule <= length else None


def learn_pattern(times: Sequence[float]) -> tuple[Pattern, float] | None:
    """The calendar pattern that fits the runs created at ``times`` (ascending), and the share of them that
    fit it; None when neither kind fits enough of them."""
    weekly = _learn_weekly(times)
    monthly = _learn_monthly(times)
    found = [p for p in (weekly, monthly) if p is not None]
    return max(found, key=lambda p: p[1]) if found else None


def _learn_weekly(times: Sequence[float]) -> tuple[Pattern, float] | None:
    if len(times) < MIN_RUNS or times[-1] - times[0] < WEEK - JITTER:
        return None  # too few runs, or too short a time for a slot to recur
    clusters: list[tuple[float, list[float]]] = []  # (reference time of week, offsets from it)
    weeks: list[set[int]] = []
    for at in reversed(times):  # the newest runs set the references
        of_week = (at - MONDAY_EPOCH) % WEEK
        for i, (reference, offsets) in enumerate(clusters):
            offset = _offset(of_week, reference, WEEK)
            if abs(offset) <= JITTER:
                offsets.append(offset)
                weeks[i].add(int((at - offset - MONDAY_EPOCH) // WEEK))
                break
        else:
            clusters.append((of_week, [0.0]))
            weeks.append({int((at - MONDAY_EPOCH) // WEEK)})
    slots, fitting = [], 0
    for (reference, offsets), seen in zip(clusters, weeks, strict=True):
        if len(seen) >= MIN_WEEKS:
            slots.append(_to_minute(reference + min(offsets)) % WEEK)
            fitting += len(offsets)
    share = fitting / len(times)
    if not slots or share < REGULAR_SHARE:
        return None
    return WeeklySlots(tuple(sorted(set(slots)))), share


def _learn_monthly(times: Sequence[float]) -> tuple[Pattern, float] | None:
    months_spanned = (times[-1] - times[0]) / (28 * DAY) + 1 if times else 0  # at most (slots >= 28 d apart)
    if len(times) < MIN_MONTHS or months_spanned < MIN_MONTHS or len(times) * REGULAR_SHARE > months_spanned:
        return None  # too few runs, too short a time, or more runs than months for most to fit one a month
    reference = times[-1] % DAY
    offsets = [_offset(at % DAY, reference, DAY) for at in times]
    near = [o for o in offsets if abs(o) <= JITTER]
    time_of_day = _to_minute(reference + min(near)) % DAY
    # The calendar date each run was scheduled for, from its slot time (a run late past midnight counts for
    # the day before).
    dates = [
        time.gmtime(round((at - time_of_day) / DAY) * DAY)[:3]
        for at, offset in zip(times, offsets, strict=True)
        if abs(offset) <= JITTER
    ]
    days = {d for _, _, d in dates}
    best: tuple[Pattern, float] | None = None
    for rule in (LAST_DAY, LAST_WORKING_DAY, *sorted(days)):  # on a tie, the first rule wins
        months = {(y, m) for y, m, d in dates if _day_in(y, m, rule) == d}
        share = len(months) / len(times)
        if len(months) >= MIN_MONTHS and share >= REGULAR_SHARE and (best is None or share > best[1]):
            best = MonthlyDay(rule, time_of_day), share
    return best


def _to_minute(seconds: float) -> int:
    """A slot is its earliest start down to the minute: schedules are set to the minute and start late (by
    seconds to minutes), not early."""
    return int(seconds // 60) * 60


def describe(pattern: Pattern) -> str:
    """In words: ``Mon, Thu 06:00 UTC``, ``day 1 of the month 02:00 UTC``, ``last working day 18:00 UTC``."""
    if isinstance(pattern, WeeklySlots):
        by_time: dict[int, list[str]] = {}
        for slot in pattern.slots:
            day, of_day = divmod(slot, DAY)
            by_time.setdefault(of_day, []).append(DAY_NAMES[day])
        groups = [f"{', '.join(days)} {_clock(of_day)}" for of_day, days in by_time.items()]
        return "; ".join(groups) + " UTC"
    if pattern.day == LAST_DAY:
        which = "last day of the month"
    elif pattern.day == LAST_WORKING_DAY:
        which = "last working day of the month"
    else:
        which = f"day {pattern.day} of the month"
    return f"{which} {_clock(pattern.time_of_day)} UTC"


def _clock(of_day: int) -> str:
    hours, minutes = divmod(of_day // 60, 60)
    return f"{hours:02d}:{minutes:02d}"
