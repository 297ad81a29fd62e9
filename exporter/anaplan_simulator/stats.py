"""Request accounting that tests assert on: counts by endpoint kind and status, body bytes served by
endpoint kind, peak rate, mutations."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any

AUTH_KINDS = frozenset({"authenticate", "refresh", "validate", "logout", "oauth_token"})


class Stats:
    def __init__(self, clock: Callable[[], float], started: float | None = None) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock() if started is None else started
        self._by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self._bytes: collections.Counter[str] = collections.Counter()
        self._window: collections.deque[float] = collections.deque()
        self._max_per_second = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._total = 0
        self._non_get = 0
        self._non_get_requests: collections.deque[str] = collections.deque(maxlen=20)

    def begin(self) -> None:
        """A request to the simulated Anaplan services arrived (``/__sim/`` is not counted)."""
        now = self._clock()
        with self._lock:
            self._total += 1
            self._window.append(now)
            while self._window[0] <= now - 1.0:
                self._window.popleft()
            self._max_per_second = max(self._max_per_second, len(self._window))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def end(self, kind: str, status: int | str) -> None:
        with self._lock:
            self._in_flight -= 1
            self._by_kind[kind][str(status)] += 1

    def served(self, kind: str, size: int) -> None:
        """A response body of ``size`` bytes is being sent (counted before the client can read it)."""
        with self._lock:
            self._bytes[kind] += size

    def non_get(self, method: str, path: str) -> None:
        with self._lock:
            self._non_get += 1
            self._non_get_requests.append(f"{method} {path}")

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            requests = {kind: dict(sorted(codes.items())) for kind, codes in sorted(self._by_kind.items())}
            auth = sum(sum(codes.values()) for kind, codes in self._by_kind.items() if kind in AUTH_KINDS)
            return {
                "started_at": self._started,
                "uptime_seconds": round(self._clock() - self._started, 3),
                "total_requests": self._total,
                "requests": requests,
                "bytes": dict(sorted(self._bytes.items())),
                "auth_requests": auth,
                "non_get_integration_requests": self._non_get,
                "non_get_integration_recent": list(self._non_get_requests),
                "max_requests_per_second": self._max_per_second,
                "max_concurrent_requests": self._max_in_flight,
                "in_flight": self._in_flight,
            }
