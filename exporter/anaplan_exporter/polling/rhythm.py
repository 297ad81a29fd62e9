"""An object's usual rhythm, learned from its own recent runs: how often it runs, and how long a run takes.

Pure functions of bounded inputs (the creation times and durations of the newest ``KEEP`` runs), so that
the tracker can recompute them whenever a run is added and the state file can keep their inputs.

The interval estimator, for creation times ``t1 < t2 < ... < tn`` (at least ``MIN_RUNS``):

1. The gaps between successive runs; ``m0`` is their median.
2. Gaps shorter than ``m0 / 2`` are merged into the gap that follows them: a run started by hand shortly
   after a scheduled one (a re-run after a failure) does not split the schedule's interval in two.
3. ``base`` is the median of the merged gaps. The rhythm is regular when at least ``REGULAR_SHARE`` of the
   merged gaps lie within ``TOLERANCE x base`` of a whole multiple of ``base`` (a missed run is a gap of
   twice the base and still fits; a weekend is three days of a weekday-daily job and fits too).
4. The learned interval is the longest multiple of ``base`` that recurs (seen at least twice), measured as
   the median of its gaps: three days for a job that runs on weekdays, the night for one that runs in
   business hours, so that "no run for 1.5 x the interval" does not hold every weekend or every night. A
   single missed run (a multiple seen once) does not stretch it.

Irregular objects (manual runs, or schedules whose gaps are not multiples of one interval, such as
Mondays and Thursdays) have no learned interval.

Schedules that are not one interval (Mondays and Thursdays at 06:00, the last working day of the month) are
learned as a calendar ``pattern`` (``calendar_rhythm.py``). The simplest model that explains the runs wins:
the fixed interval when at least as many runs lie on its grid (within ``JITTER``) as fit the pattern, so a
daily or weekday job keeps its interval; otherwise the pattern, and then there is no step or interval.

The learned step is ``base`` itself (for a regular rhythm): the slot grid on which runs are created. A weekday
job's step is one day while its interval is three, so the poller can look just after each slot up to the
interval (Saturday, Sunday, Monday after a Friday run) rather than only after a weekend.

The usual duration is a high quantile (``USUAL_QUANTILE``, nearest rank) of the durations of the newest
finished runs, once there are at least ``MIN_DURATIONS`` of them.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

from ..calendar_rhythm import JITTER, Pattern, learn_pattern

KEEP = 30
"""Creation times and durations kept per object (the newest ones)."""
MIN_RUNS = 5
"""Runs needed before an interval is learned."""
TOLERANCE = 0.15
"""How far (as a share of the base interval) a gap may be from a whole multiple of it and still fit."""
REGULAR_SHARE = 0.75
"""Share of the gaps that must fit for the rhythm to count as regular."""
MIN_RECURRENCE = 2
"""How often a multiple of the base interval must occur to become the learned interval."""
MIN_DURATIONS = 5
"""Finished runs with a duration needed before a usual duration is given."""
USUAL_QUANTILE = 0.9


def learned_interval(created: Iterable[float]) -> float | None:
    """The object's usual interval between runs in seconds, or None without a regular rhythm."""
    return learned_cadence(created)[1]


def learned_cadence(created: Iterable[float]) -> tuple[float | None, float | None]:
    """``(step, interval)`` in seconds: the slot grid runs are created on, and the usual interval between
    runs (a whole multiple of the step); both None without a regular rhythm."""
    times = sorted(set(created))
    if len(times) < MIN_RUNS:
        return None, None
    gaps = [b - a for a, b in pairwise(times)]
    first = median(gaps)
    merged: list[float] = []
    pending = 0.0
    for gap in gaps:
        pending += gap
        if pending >= first / 2:
            merged.append(pending)
            pending = 0.0
    # A short gap left at the end is a run started by hand just after the newest scheduled one: ignored.
    if len(merged) < MIN_RUNS - 1:
        return None, None
    base = median(merged)
    if base <= 0:
        return None, None
    fits: dict[int, list[float]] = {}
    for gap in merged:
        multiple = round(gap / base)
        if multiple >= 1 and abs(gap - multiple * base) <= TOLERANCE * base:
            fits.setdefault(multiple, []).append(gap)
    if sum(len(g) for g in fits.values()) < REGULAR_SHARE * len(merged):
        return None, None
    counts = Counter({multiple: len(g) for multiple, g in fits.items()})
    recurring = [m for m, n in counts.items() if n >= MIN_RECURRENCE]
    if not recurring:
        return float(base), float(base)
    return float(base), float(median(fits[max(recurring)]))


def learned_schedule(created: Iterable[float]) -> tuple[float | None, float | None, Pattern | None]:
    """``(step, interval, pattern)``: the fixed interval (see :func:`learned_cadence`) or, when a calendar
    pattern explains more of the runs, that pattern (then step and interval are None)."""
    times = sorted(set(created))
    step, interval = learned_cadence(times)
    on_grid = _grid_share(times, step) if step is not None else 0.0
    if on_grid == 1.0:
        return step, interval, None  # every run on the interval's grid: no pattern can explain more
    found = learn_pattern(times)
    if found is None or found[1] <= on_grid:
        return step, interval, None
    return None, None, found[0]


def _grid_share(times: list[float], step: float) -> float:
    """The share of the runs that lie on one grid of ``step`` (within ``JITTER``, or less for short steps).

    The step is refined over the whole window first, so that a median off by a few seconds does not add up
    over thirty runs; the grid is placed where the most runs lie within ``2 x tolerance`` of each other."""
    slots = round((times[-1] - times[0]) / step)
    if slots >= 1:
        step = (times[-1] - times[0]) / slots
    tolerance = min(JITTER, TOLERANCE * step)
    phases = sorted((at - times[0]) % step for at in times)
    wrapped = phases + [p + step for p in phases]  # the grid is a circle: a window may wrap around
    best, start = 0, 0
    for end, phase in enumerate(wrapped):
        while phase - wrapped[start] > 2 * tolerance:
            start += 1
        best = max(best, end - start + 1)
    return min(best, len(times)) / len(times)


def usual_duration(durations: Iterable[float]) -> float | None:
    """A high quantile of the durations of recent finished runs, or None with too few of them."""
    values = sorted(durations)
    if len(values) < MIN_DURATIONS:
        return None
    rank = math.ceil(USUAL_QUANTILE * len(values))
    return float(values[rank - 1])


@dataclass(frozen=True, slots=True)
class Rhythm:
    """What an object's rhythm is learned from, and what was learned.

    Immutable (every change makes a new value, so a tracker and its saved state share one) and compact:
    arrays of doubles, about 1 KB per object with full windows, where tuples and dicts took four times that.
    """

    created: array[float]
    """Creation times of the newest ``KEEP`` runs, in whole seconds, oldest first."""
    finished: array[float]
    """Creation times of the newest ``KEEP`` finished runs with a duration, oldest first."""
    durations: array[float]
    """Their durations, in the same order."""
    interval: float | None
    usual_duration: float | None
    step: float | None = None
    """The slot grid runs are created on (see :func:`learned_cadence`); None without a regular rhythm."""
    pattern: Pattern | None = None
    """The calendar pattern of the runs, where one explains them better than a fixed interval."""

    @classmethod
    def of(cls, created: Iterable[float] = (), durations: Iterable[tuple[float, float]] = ()) -> Rhythm:
        """From saved values (any order; only the newest ``KEEP`` of each are kept)."""
        times = array("d", sorted(set(created))[-KEEP:])
        pairs = sorted(dict(durations).items())[-KEEP:]
        values = array("d", (seconds for _, seconds in pairs))
        step, interval, pattern = learned_schedule(times)
        return cls(
            times,
            array("d", (at for at, _ in pairs)),
            values,
            interval,
            usual_duration(values),
            step,
            pattern,
        )

    def with_times(self, seen: Iterable[float]) -> Rhythm:
        """With more creation times (those already kept, or older than a full window, change nothing)."""
        times = array("d", sorted(set(self.created).union(seen))[-KEEP:])
        if times == self.created:
            return self
        step, interval, pattern = learned_schedule(times)
        return Rhythm(times, self.finished, self.durations, interval, self.usual_duration, step, pattern)

    def with_duration(self, created: float, seconds: float) -> Rhythm:
        """With the duration of one more finished run (created at ``created``)."""
        finished = self.finished
        if (len(finished) >= KEEP and created < finished[0]) or created in finished:
            return self
        at = bisect_left(finished, created)
        times, values = array("d", finished), array("d", self.durations)
        times.insert(at, created)
        values.insert(at, seconds)
        if len(times) > KEEP:
            del times[0], values[0]
        return Rhythm(
            self.created, times, values, self.interval, usual_duration(values), self.step, self.pattern
        )


EMPTY = Rhythm.of()
