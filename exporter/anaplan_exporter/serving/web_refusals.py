"""Requests the web server turned away, counted by reason: a metric, and a warn line at most once a minute.

A flood (of wrong passwords, or of more requests than the handlers take) would otherwise show only at debug
level, a line per request. Here it shows as one line with counts a few seconds after it starts (time enough
for the counts to say something), then one a minute while it lasts. The lines carry counts only: never a
client's credentials, nor anything derived from them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)

REASONS = ("bad_credentials", "rate_limited", "busy")
"""Wrong basic-auth credentials (401), too many of them from one address (429), no free handler (503)."""


class Refusals:
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        interval: float = 60.0,
        gather: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metric = Counter(
            "anaplan_exporter_web_requests_refused",
            "Requests the web server turned away, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:
            self._metric.labels(reason)
        self._interval = interval
        self._gather = gather
        self._clock = clock
        self._counts = dict.fromkeys(REASONS, 0)
        self._since: float | None = None  # when the first refusal not yet reported happened
        self._last_line: float | None = None
        self._lock = threading.Lock()

    def count(self, reason: str) -> None:
        if reason not in self._counts:
            raise ValueError(f"unknown refusal reason {reason!r}")
        self._metric.labels(reason).inc()
        with self._lock:
            self._counts[reason] += 1
            if self._since is None:
                self._since = self._clock()

    def report(self) -> None:
        """Log what was refused since the last line, if anything was and the last line is old enough.

        Called often (the web server's accept loop calls it every 0.1 s); it costs a comparison when due.
        """
        with self._lock:
            if self._since is None:
                return
            now = self._clock()
            if now - self._since < self._gather:
                return
            if self._last_line is not None and now - self._last_line < self._interval:
                return
            counts, since = self._counts, self._since
            self._counts, self._since, self._last_line = dict.fromkeys(REASONS, 0), None, now
        log.warning(
            "web: refused %d requests with wrong basic-auth credentials (401), %d from addresses with too "
            "many of those recently (429), %d for lack of a free handler or password check (503), "
            "in the last %.0f s",
            counts["bad_credentials"],
            counts["rate_limited"],
            counts["busy"],
            now - since,
        )
