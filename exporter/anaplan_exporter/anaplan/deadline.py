"""Enforces a request's total deadline while its status line and headers arrive.

``requests`` returns only once the headers are complete, and a socket timeout bounds each read, not their
sum: a server that sends a header byte every few seconds would hold the request for hours. The transport
checks the deadline itself while it streams the body; before that, this watchdog shuts the socket down
when the deadline passes, which ends the blocked read at once.

The client's own session uses connection classes that tell the watchdog which socket the current thread's
request runs on (:class:`WatchingAdapter`); a session passed in by the caller is not watched this way, and
its header reads are bounded by the read timeout alone.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class Watch:
    """One attempt's deadline and, once connected, its socket."""

    __slots__ = ("deadline", "done", "fired", "lock", "sock")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None
        self.done = False
        self.fired = False
        self.lock = threading.Lock()


class Watchdog:
    """A daemon thread that shuts down the sockets of attempts past their deadline (started on first use)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, deadline: float) -> Iterator[Watch]:
        """Watch the request the current thread sends inside the block (until its headers are in)."""
        watch = Watch(deadline)
        with self._wake:
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="anaplan-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()
        _current.watch = watch
        try:
            yield watch
        finally:
            _current.watch = None
            with watch.lock:
                watch.done = True  # before the connection can go back to the pool
                watch.sock = None

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > self._clock():
                    timeout = self._heap[0][0] - self._clock() if self._heap else None
                    self._wake.wait(timeout)
                _, _, watch = heapq.heappop(self._heap)
            with watch.lock:
                if watch.done or watch.sock is None:
                    continue
                watch.fired = True
                with contextlib.suppress(OSError):
                    watch.sock.shutdown(socket.SHUT_RDWR)


def _note_socket(sock: socket.socket | None) -> None:
    watch: Watch | None = getattr(_current, "watch", None)
    if watch is not None and sock is not None:
        with watch.lock:
            if not watch.done:
                watch.sock = sock


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _note_socket(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _note_socket(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchingAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose direct connections report their sockets to the watchdog (proxied ones do not)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
