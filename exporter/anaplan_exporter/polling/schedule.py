"""Which piece of work is most urgent now: a priority queue of due times, with no threads and no I/O.

Five classes of work, taken in this order:

1. **active**: objects whose newest task is unfinished, due on their own (>= 5 s) schedule;
2. **new**: objects never polled, due at once;
3. **expected**: idle objects whose next run is due by their learned rhythm, a few seconds after it (an
   alarm set with :meth:`Schedule.promote_at` moves them up from idle then, however late the sweep is);
4. **idle**: objects polled before, due ``idle_interval`` after their last poll, oldest first;
5. **low**: discovery and process metadata, when nothing above is due.

When the request budget cannot cover every object at ``idle_interval``, idle objects are always overdue and
the oldest-first order stretches the sweep evenly over all of them. Low work then still gets its turn: once
it has waited ``idle_interval`` past its due time it competes with idle objects as if it were one of them
(an idle object's due time is its last poll plus ``idle_interval``), so it never starves.

Every key is in at most one class; taking a key removes it until it is scheduled again (so a key is never
worked on twice at once). Stale heap entries are skipped lazily.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from enum import IntEnum


class Urgency(IntEnum):
    ACTIVE = 0
    NEW = 1
    EXPECTED = 2
    IDLE = 3
    LOW = 4


class Schedule:
    """Due times of keys by urgency class. Not thread-safe: one owner (the poller's scheduling thread)."""

    def __init__(self, idle_interval: float) -> None:
        self._idle_interval = idle_interval
        self._heaps: dict[Urgency, list[tuple[float, int, Hashable]]] = {u: [] for u in Urgency}
        self._current: dict[Hashable, tuple[Urgency, int]] = {}
        self._counter = itertools.count()
        self._alarms: list[tuple[float, int, Hashable, Urgency]] = []
        self._alarm_at: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._current)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._current

    def urgency(self, key: Hashable) -> Urgency | None:
        entry = self._current.get(key)
        return entry[0] if entry is not None else None

    def put(self, key: Hashable, urgency: Urgency, due: float) -> None:
        """Schedule ``key`` (replacing any earlier schedule of it). ``due`` orders new keys too (FIFO)."""
        seq = next(self._counter)
        self._current[key] = (urgency, seq)
        heapq.heappush(self._heaps[urgency], (due, seq, key))

    def remove(self, key: Hashable) -> None:
        self._current.pop(key, None)
        self._alarm_at.pop(key, None)

    def promote_at(self, key: Hashable, at: float, urgency: Urgency = Urgency.EXPECTED) -> None:
        """At ``at``, move ``key`` up to ``urgency`` (due at ``at``) if it then waits in a less urgent class.

        One alarm per key: a new time replaces the old one, the same time again changes nothing."""
        if self._alarm_at.get(key) == at:
            return
        self._alarm_at[key] = at
        heapq.heappush(self._alarms, (at, next(self._counter), key, urgency))

    def _ring(self, now: float) -> None:
        while self._alarms and self._alarms[0][0] <= now:
            at, _, key, urgency = heapq.heappop(self._alarms)
            if self._alarm_at.get(key) != at:
                continue  # replaced or removed
            del self._alarm_at[key]
            current = self._current.get(key)
            if current is not None and current[0] > urgency:
                self.put(key, urgency, at)

    def _top(self, urgency: Urgency) -> tuple[float, int, Hashable] | None:
        heap = self._heaps[urgency]
        while heap:
            _, seq, key = heap[0]
            if self._current.get(key) == (urgency, seq):
                return heap[0]
            heapq.heappop(heap)
        return None

    def peek(self, now: float) -> tuple[Hashable, Urgency] | None:
        """The most urgent key due at ``now`` (without taking it), and its class."""
        self._ring(now)
        active = self._top(Urgency.ACTIVE)
        if active is not None and active[0] <= now:
            return active[2], Urgency.ACTIVE
        new = self._top(Urgency.NEW)
        if new is not None:
            return new[2], Urgency.NEW
        expected = self._top(Urgency.EXPECTED)
        if expected is not None and expected[0] <= now:
            return expected[2], Urgency.EXPECTED
        idle = self._top(Urgency.IDLE)
        low = self._top(Urgency.LOW)
        idle_due = idle is not None and idle[0] <= now
        low_due = low is not None and low[0] <= now
        if idle_due and low_due:
            assert idle is not None and low is not None
            # Low work that has waited an idle interval past its due time counts as the older one.
            if low[0] + self._idle_interval <= idle[0]:
                return low[2], Urgency.LOW
            return idle[2], Urgency.IDLE
        if idle_due:
            assert idle is not None
            return idle[2], Urgency.IDLE
        if low_due:
            assert low is not None
            return low[2], Urgency.LOW
        return None

    def take(self, now: float) -> Hashable | None:
        """Remove and return the most urgent key due at ``now``, or None when nothing is due."""
        found = self.peek(now)
        if found is None:
            return None
        self._current.pop(found[0])
        return found[0]

    def next_due(self) -> float | None:
        """The earliest due time of any scheduled key (new keys count as due at their given time)."""
        tops = [top[0] for urgency in Urgency if (top := self._top(urgency)) is not None]
        while self._alarms and self._alarm_at.get(self._alarms[0][2]) != self._alarms[0][0]:
            heapq.heappop(self._alarms)  # replaced or removed
        if self._alarms:
            tops.append(self._alarms[0][0])
        return min(tops) if tops else None
