"""The web server's front door: accepting connections with bounded threads, memory and time.

One thread accepts connections and watches them, without a thread each, until each has finished its TLS
handshake and sent its whole request header; only then does a bounded pool of handler threads take it. Idle
and slow clients therefore cost a file descriptor each (up to a cap, oldest dropped first) and never a thread,
and are dropped once ``header_timeout`` has passed, so a well-behaved scraper is served at once however many
of them are open. With a ``priority`` test (credentials already verified), requests that pass it have
handler threads of their own, so they never queue behind requests that need a slow password check.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .web_refusals import Refusals

log = logging.getLogger(__name__)

Handle = Callable[[socket.socket, Any, bytes], None]
"""Serves one connection: the socket (blocking), the client's address, the bytes already read from it."""

_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nBusy\n"
)


@dataclass(frozen=True)
class Limits:
    backlog: int = 128
    """Connections the kernel queues before ``accept``."""
    max_handlers: int = 64
    """Handler threads, at most; each serves one request at a time."""
    max_waiting: int = 256
    """Accepted connections whose request header is not complete yet; beyond it the oldest is dropped."""
    max_queued: int = 128
    """Complete requests waiting for a free handler; beyond it a request gets a quick 503."""
    header_timeout: float = 5.0
    """Seconds from ``accept`` to the end of the request header (TLS handshake included)."""
    max_header_bytes: int = 65536
    """Past this, the request goes to a handler anyway, which answers 414 or 431."""
    priority_handlers: int = 16
    """Of ``max_handlers``, those kept for requests passing the acceptor's ``priority`` test, if any."""


@dataclass(eq=False)
class _Waiting:
    sock: socket.socket
    address: Any
    deadline: float
    handshaking: bool
    events: int = selectors.EVENT_READ
    buffer: bytearray = field(default_factory=bytearray)


def _header_complete(buffer: bytearray) -> bool:
    return b"\r\n\r\n" in buffer or b"\n\n" in buffer


def close_connection(sock: socket.socket) -> None:
    """Half-close then close, as ``socketserver`` does, ignoring a peer that has gone."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()


class Acceptor:
    """Runs ``serve()`` in one thread until ``stop()``; hands complete requests to ``handle`` in a pool."""

    def __init__(
        self,
        listener: socket.socket,
        handle: Handle,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: Limits | None = None,
        priority: Callable[[bytes], bool] | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        """``priority`` gets a request's header bytes; True sends it to the reserved handlers."""
        limits = limits or Limits()
        listener.setblocking(False)
        self._listener = listener
        self._context = ssl_context
        self._limits = limits
        self._priority = priority
        self._refusals = refusals if refusals is not None else Refusals()
        if priority is None:
            self._workers = _Workers(handle, limits.max_handlers, limits.max_queued)
            self._priority_workers = self._workers
        else:
            if not 0 < limits.priority_handlers < limits.max_handlers:
                raise ValueError("priority_handlers must be more than 0 and less than max_handlers")
            others = limits.max_handlers - limits.priority_handlers
            self._workers = _Workers(handle, others, limits.max_queued)
            self._priority_workers = _Workers(handle, limits.priority_handlers, limits.max_queued)
        self._waiting: dict[_Waiting, None] = {}  # insertion order = accept order = deadline order
        self._stopping = threading.Event()
        self._selector = selectors.DefaultSelector()

    @property
    def waiting(self) -> int:
        """Connections accepted whose request header has not arrived yet."""
        return len(self._waiting)

    def serve(self, poll_interval: float = 0.1) -> None:
        selector = self._selector
        selector.register(self._listener, selectors.EVENT_READ, None)
        try:
            while not self._stopping.is_set():
                for key, _ in selector.select(timeout=poll_interval):
                    try:
                        if key.data is None:
                            self._accept()
                        else:
                            self._advance(key.data)
                    except Exception:  # one bad connection must not stop the server
                        log.exception("error accepting a connection")
                        if key.data is not None:
                            self._drop(key.data)
                self._expire(time.monotonic())
                self._refusals.report()
        finally:
            for waiting in list(self._waiting):
                self._drop(waiting)
            selector.close()
            self._workers.stop()
            self._priority_workers.stop()

    def stop(self) -> None:
        self._stopping.set()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of file descriptors, or the peer reset before accept
                log.debug("accept failed: %s", exc)
                return
            if len(self._waiting) >= self._limits.max_waiting:
                self._drop(next(iter(self._waiting)))
            sock.setblocking(False)
            if self._context is not None:
                try:
                    sock = self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                except (OSError, ValueError) as exc:
                    log.debug("TLS set-up for %s failed: %s", address, exc)
                    sock.close()
                    continue
            deadline = time.monotonic() + self._limits.header_timeout
            waiting = _Waiting(sock, address, deadline, handshaking=self._context is not None)
            self._waiting[waiting] = None
            self._selector.register(sock, selectors.EVENT_READ, waiting)
            self._advance(waiting)

    def _advance(self, waiting: _Waiting) -> None:
        """Move the handshake on, read what has arrived, and dispatch once the header is complete."""
        sock = waiting.sock
        try:
            if waiting.handshaking:
                assert isinstance(sock, ssl.SSLSocket)
                sock.do_handshake()
                waiting.handshaking = False
            while True:
                chunk = sock.recv(16384)
                if not chunk:
                    self._drop(waiting)
                    return
                waiting.buffer += chunk
                if _header_complete(waiting.buffer) or len(waiting.buffer) > self._limits.max_header_bytes:
                    self._dispatch(waiting)
                    return
        except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
            self._want(waiting, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            self._want(waiting, selectors.EVENT_WRITE)
        except OSError as exc:  # a failed handshake, a reset connection
            log.debug("connection from %s dropped: %s", waiting.address, exc)
            self._drop(waiting)

    def _want(self, waiting: _Waiting, events: int) -> None:
        if waiting.events != events:
            self._selector.modify(waiting.sock, events, waiting)
            waiting.events = events

    def _dispatch(self, waiting: _Waiting) -> None:
        del self._waiting[waiting]
        self._selector.unregister(waiting.sock)
        head = bytes(waiting.buffer)
        workers = self._priority_workers if self._priority and self._priority(head) else self._workers
        if not workers.submit((waiting.sock, waiting.address, head)):
            log.debug("every handler busy: 503 for %s", waiting.address)
            self._refusals.count("busy")
            with contextlib.suppress(OSError):
                waiting.sock.send(_BUSY)
            close_connection(waiting.sock)

    def _expire(self, now: float) -> None:
        while self._waiting:
            oldest = next(iter(self._waiting))
            if oldest.deadline > now:
                return
            log.debug("connection from %s dropped: no complete request header in time", oldest.address)
            self._drop(oldest)

    def _drop(self, waiting: _Waiting) -> None:
        self._waiting.pop(waiting, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(waiting.sock)
        waiting.sock.close()


class _Workers:
    """At most ``limit`` daemon threads, started as needed, serving a queue of at most ``max_queued``."""

    def __init__(self, handle: Handle, limit: int, max_queued: int) -> None:
        self._handle = handle
        self._limit = limit
        self._max_queued = max_queued
        self._queue: collections.deque[tuple[socket.socket, Any, bytes]] = collections.deque()
        self._condition = threading.Condition()
        self._threads = 0
        self._idle = 0
        self._stopping = False

    def submit(self, item: tuple[socket.socket, Any, bytes]) -> bool:
        """Queue a connection; False (nothing queued) when the queue is full."""
        with self._condition:
            if self._stopping or len(self._queue) >= self._max_queued:
                return False
            self._queue.append(item)
            if self._idle < len(self._queue) and self._threads < self._limit:
                self._threads += 1
                threading.Thread(target=self._run, name="web-handler", daemon=True).start()
            self._condition.notify()
        return True

    def stop(self) -> None:
        """Close queued connections and let idle threads end (busy ones finish their request first)."""
        with self._condition:
            self._stopping = True
            queued = list(self._queue)
            self._queue.clear()
            self._condition.notify_all()
        for sock, _, _ in queued:
            sock.close()

    def _run(self) -> None:
        while True:
            with self._condition:
                self._idle += 1
                while not self._queue and not self._stopping:
                    self._condition.wait()
                self._idle -= 1
                if not self._queue:
                    self._threads -= 1
                    return
                sock, address, prefix = self._queue.popleft()
            try:
                self._handle(sock, address, prefix)
            except Exception:
                log.debug("error serving %s", address, exc_info=True)
