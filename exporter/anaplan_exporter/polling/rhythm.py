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

The usual duration is a high quantile (``USUAL_QUANTILE``, nearest rank) of the durations of the newest
finished runs, once there are at least ``MIN_DURATIONS`` of them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from statistics import median

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
    times = sorted(set(created))
    if len(times) < MIN_RUNS:
        return None
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
        return None
    base = median(merged)
    if base <= 0:
        return None
    fits: dict[int, list[float]] = {}
    for gap in merged:
        multiple = round(gap / base)
        if multiple >= 1 and abs(gap - multiple * base) <= TOLERANCE * base:
            fits.setdefault(multiple, []).append(gap)
    if sum(len(g) for g in fits.values()) < REGULAR_SHARE * len(merged):
        return None
    counts = Counter({multiple: len(g) for multiple, g in fits.items()})
    recurring = [m for m, n in counts.items() if n >= MIN_RECURRENCE]
    if not recurring:
        return float(base)
    return float(median(fits[max(recurring)]))


def usual_duration(durations: Iterable[float]) -> float | None:
    """A high quantile of the durations of recent finished runs, or None with too few of them."""
    values = sorted(durations)
    if len(values) < MIN_DURATIONS:
        return None
    rank = math.ceil(USUAL_QUANTILE * len(values))
    return float(values[rank - 1])


def newest_times(kept: Sequence[float], seen: Iterable[float], keep: int = KEEP) -> tuple[float, ...]:
    """The newest ``keep`` distinct creation times of ``kept`` and ``seen``, oldest first."""
    return tuple(sorted(set(kept).union(seen))[-keep:])


def newest_durations(
    kept: Mapping[float, float], created: float, duration: float, keep: int = KEEP
) -> dict[float, float] | None:
    """``kept`` (creation time -> duration) with one more run, the newest ``keep`` runs only; None when
    nothing changes (the run is known already, or older than every kept run of a full window)."""
    if created in kept or (len(kept) >= keep and created < min(kept)):
        return None
    out = dict(kept)
    out[created] = duration
    if len(out) > keep:
        for old in sorted(out)[: len(out) - keep]:
            del out[old]
    return out
