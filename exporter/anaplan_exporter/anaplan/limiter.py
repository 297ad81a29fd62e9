"""One shared gate for every HTTP attempt: a concurrency cap plus a requests-per-second budget.

The rate part is a virtual-scheduling token bucket (GCRA): each caller reserves the next free start time
under a lock and then sleeps until it outside the lock, so waits are exact and testable with a fake clock.

``requests_per_second`` is a ceiling on what Anaplan sees in any one-second window, not only on average.
Starts spaced exactly ``1/rate`` apart would put ``rate + 1`` of them in a closed second, and a request
delayed on its way (a thread switch, the network) moves closer to the next one; so starts are spaced
``(1 + arrival_margin) / rate`` apart: ``rate + 1`` consecutive starts then span ``1 + arrival_margin``
seconds, and a second can hold ``rate`` arrivals at most while no request is delayed by more than the margin.
The sustained rate is ``rate / (1 + arrival_margin)``, about 9% below the setting with the default margin.

Anaplan's ``Retry-After`` is for the tenant, not for one request: :meth:`Limiter.pause` holds every thread's
next start until then. :meth:`Limiter.close` abandons every waiting caller (``LimiterClosed``) so that
stopping never sends what was queued.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

USAGE_WINDOW = 60.0
"""Seconds over which :meth:`Limiter.used_ratio` measures the share of the budget spent."""

ARRIVAL_MARGIN = 0.1
"""Seconds of delay between a request's start and its arrival at Anaplan that cannot push a one-second
window over the rate."""

AFTER_CLOSE_MAX_WAIT = 2.0
"""The longest a last request at shutdown (a logout) waits for its rate slot before it is given up."""


class LimiterClosed(Exception):
    """The limiter was closed while (or before) the caller waited; the request must not be sent."""


class Limiter:
    """Caps concurrent requests at ``max_concurrency`` and starts at ``requests_per_second``.

    ``burst`` is how many requests may start back to back after an idle period (1 = evenly spaced; above 1
    a second may see more than the rate). Thread-safe; share one instance between every thread that talks
    to the same tenant.

    Waits use ``sleep`` when one is given (a fake clock's, in tests); otherwise they wait on an event that
    :meth:`close` sets, so closing wakes every waiting thread at once.
    """

    def __init__(
        self,
        max_concurrency: int,
        requests_per_second: float,
        *,
        burst: float = 1.0,
        arrival_margin: float = ARRIVAL_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be positive, got {requests_per_second}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        if arrival_margin < 0:
            raise ValueError(f"arrival_margin must not be negative, got {arrival_margin}")
        self._max_concurrency = max_concurrency
        self._interval = (1.0 + arrival_margin) / requests_per_second
        self._tolerance = (burst - 1.0) * self._interval
        self._clock = clock
        self._closed = threading.Event()
        self._sleep = sleep if sleep is not None else self._closed.wait
        self._sleep_after_close = sleep if sleep is not None else time.sleep
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._holding = 0  # concurrency slots taken (waiting for a rate slot or in flight)
        self._next_start: float | None = None  # the theoretical arrival time of the next request
        self._paused_until: float | None = None
        self._longest_pause = 0.0
        self._in_flight = 0
        # Reservations are made inside a concurrency slot, so they never run further ahead than this; a
        # clock stepping backwards must not turn into a long sleep.
        self._max_ahead = max_concurrency * self._interval + self._tolerance
        self._starts: deque[float] = deque()
        """Booked start times of the last :data:`USAGE_WINDOW` seconds."""

    @property
    def in_flight(self) -> int:
        """How many callers are inside :meth:`slot` right now."""
        with self._lock:
            return self._in_flight

    @property
    def interval(self) -> float:
        """Seconds between two starts at the sustained rate."""
        return self._interval

    def free_in(self) -> float:
        """Seconds until a request booked now could start: 0 when nobody is waiting for a start and no
        ``Retry-After`` pause is in force."""
        with self._lock:
            now = self._clock()
            paused = self._pause_left(now)
            if self._next_start is None:
                return paused
            return max(paused, min(self._next_start - self._tolerance, now + self._max_ahead) - now)

    def used_ratio(self) -> float:
        """Share of the sustained budget booked over the last minute (0 to 1)."""
        with self._lock:
            self._forget_old_starts(self._clock())
            return min(1.0, len(self._starts) * self._interval / USAGE_WINDOW)

    def _forget_old_starts(self, now: float) -> None:
        while self._starts and self._starts[0] < now - USAGE_WINDOW:
            self._starts.popleft()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def paused_for(self) -> float:
        """Seconds until the current pause ends (0 when there is none)."""
        with self._lock:
            return self._pause_left(self._clock())

    def pause(self, seconds: float) -> None:
        """Start no request for ``seconds`` from now (a longer pause already in force is kept)."""
        if not seconds > 0:
            return
        with self._lock:
            now = self._clock()
            until = now + seconds
            self._longest_pause = max(self._longest_pause, seconds)
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until

    def close(self) -> None:
        """Abandon every waiting caller and refuse new ones; requests already in flight finish."""
        with self._lock:
            self._closed.set()
            self._slot_free.notify_all()

    def _pause_left(self, now: float) -> float:
        """Lock held. A clock stepping backwards cannot stretch a pause beyond the longest one asked for."""
        if self._paused_until is None:
            return 0.0
        left = self._paused_until - now
        if left <= 0:
            self._paused_until = None
            return 0.0
        if left > self._longest_pause:
            self._paused_until = now + self._longest_pause
            left = self._longest_pause
        return left

    def reserve(self) -> float:
        """Book the next start time and return how long the caller must wait for it (seconds)."""
        with self._lock:
            now = self._clock()
            paused = self._pause_left(now)
            # The earliest start: now, or the end of a pause (with no burst allowance right after it).
            earliest = now + paused + self._tolerance if paused > 0 else now
            theoretical = earliest if self._next_start is None else max(self._next_start, earliest)
            # Bookings run ahead of the earliest start by at most one interval per concurrency slot (a clock
            # stepping backwards must not become a long sleep); counted from the pause's end, so that callers
            # booking during a pause keep their spacing after it.
            theoretical = min(theoretical, earliest + self._max_ahead)
            wait = max(0.0, theoretical - self._tolerance - now)
            self._next_start = theoretical + self._interval
            self._starts.append(theoretical)
            self._forget_old_starts(now)
            return wait

    @contextmanager
    def slot(self, *, after_close: bool = False) -> Iterator[None]:
        """Hold one concurrency slot, after waiting for a rate slot, for the duration of one attempt.

        Raises ``LimiterClosed`` when the limiter is (or gets) closed before the attempt may start.
        ``after_close`` is for one last request at shutdown (a logout): it is let through a closed limiter
        and waits for its rate slot (so the rate holds at shutdown too), but it is refused while a pause is
        in force or when its slot is more than ``AFTER_CLOSE_MAX_WAIT`` away, so shutdown never hangs on it.
        """
        self._acquire(after_close)
        try:
            self._wait_for_start(after_close)
            with self._lock:
                self._in_flight += 1
            try:
                yield
            finally:
                with self._lock:
                    self._in_flight -= 1
        finally:
            with self._lock:
                self._holding -= 1
                self._slot_free.notify()

    def _acquire(self, after_close: bool) -> None:
        with self._lock:
            while self._holding >= self._max_concurrency and not (self.closed and not after_close):
                self._slot_free.wait()
            if self.closed and not after_close:
                raise LimiterClosed
            self._holding += 1

    def _wait_for_start(self, after_close: bool) -> None:
        if after_close:
            if self.paused_for() > 0:
                raise LimiterClosed
            wait = self.reserve()  # its own rate slot: one last request must not exceed the rate either
            if wait > AFTER_CLOSE_MAX_WAIT:
                raise LimiterClosed
            if wait > 0:
                self._sleep_after_close(wait)
            return
        while True:
            if self.closed:
                raise LimiterClosed
            wait = self.reserve()
            if wait > 0:
                self._sleep(wait)
                if self.closed:
                    raise LimiterClosed
            # A pause that began while this caller slept holds it too: book again after the pause.
            if self.paused_for() <= 0:
                return
