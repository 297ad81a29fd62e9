"""HTTP attempts with a deadline and a size cap, the shared limiter, retries with backoff, and typed errors.

Retried: 429, 5xx, connection failures and read timeouts, with exponential backoff and full jitter; a
``Retry-After`` header (seconds or HTTP date) is a floor, and every single wait is capped. A ``Retry-After``
on any answer also pauses the shared limiter, so every thread waits, not only the one that was told to.
Everything else that is not 2xx becomes a typed error at once.

Every attempt has a total deadline (connect, headers and the whole body) and a maximum body size: the body is
read in a stream, piece by piece as it arrives, and abandoned (the connection closed) past either. Neither is
retried: a server that drips or floods would do it again, and the caller polls again on its next turn.

Messages name the endpoint, the URL without its query and the operating system's error; text taken from a
response or an exception passes through the :class:`Redactor` first, so no credential leaks through them.
"""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from .deadline import Watchdog
from .errors import (
    AnaplanAuthError,
    AnaplanConnectionError,
    AnaplanError,
    AnaplanHTTPError,
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanServerError,
    AnaplanStoppedError,
    AnaplanTimeoutError,
    AnaplanTooLargeError,
)
from .limiter import Limiter, LimiterClosed
from .nesting import NestingError, loads_json
from .observer import ApiObserver
from .redact import Redactor

log = logging.getLogger(__name__)

_MAX_MESSAGE = 200
_CHUNK = 64 * 1024
_ERROR_BODY_LIMIT = 64 * 1024
"""Only this much of a non-2xx body is kept: Anaplan's message is short, the rest is dropped unread."""
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9.+_-]{1,60}/[A-Za-z0-9.+_-]{1,60}")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_initial: float = 1.0
    backoff_max: float = 60.0

    def delay(self, attempt: int, jitter: float, retry_after: float | None) -> float:
        """Wait before retry number ``attempt + 1``: full jitter, ``retry_after`` as a floor, capped."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** min(attempt, 60))
        wait = jitter * ceiling
        if retry_after is not None:
            wait = max(wait, retry_after)
        return max(0.0, min(wait, self.backoff_max))


@dataclass(frozen=True)
class Limits:
    """Per-attempt bounds: ``connect`` and ``read`` per socket operation, ``total`` for the whole attempt."""

    connect: float = 10.0
    read: float = 60.0
    total: float = 120.0
    max_response_size: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    """A complete answer: status, headers and the whole (bounded) body."""

    status: int
    headers: Mapping[str, str]
    content: bytes


def parse_retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds from ``now`` (epoch seconds): delta seconds or an HTTP date; None if bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            return None
        return max(0.0, when.timestamp() - now)
    return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None


def anaplan_message(content: bytes) -> str:
    """Anaplan's human message from an error body of any of its three services, as sent ('' when there is
    none): it is scrubbed before anything else changes it, see :meth:`Redactor.excerpt`."""
    try:
        body = loads_json(content or b"null")
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    candidates: list[object] = []
    status = body.get("status")
    if isinstance(status, dict):
        candidates.append(status.get("message"))
    candidates += [
        body.get("statusMessage"),
        body.get("error_description"),
        body.get("error"),
        body.get("message"),
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return ""


def http_error(status: int, message: str, endpoint: str, *, auth_endpoint: bool = False) -> AnaplanHTTPError:
    """The typed error for a non-2xx status; on the auth services every 4xx but 429 is a refused login."""
    if status == 429:
        return AnaplanRateLimitError(status, message, endpoint)
    if status >= 500:
        return AnaplanServerError(status, message, endpoint)
    if status == 401 or (auth_endpoint and 400 <= status < 500):
        return AnaplanAuthError(status, message, endpoint)
    if status == 403:
        return AnaplanPermissionError(status, message, endpoint)
    if status == 404:
        return AnaplanNotFoundError(status, message, endpoint)
    return AnaplanHTTPError(status, message, endpoint)


def decode_json(reply: Reply, endpoint: str) -> object:
    """The JSON body of a 2xx reply, or AnaplanResponseError (not retried: the caller decides)."""
    try:
        return loads_json(reply.content)
    except ValueError as exc:
        media = _MEDIA_TYPE.match(reply.headers.get("Content-Type", "").strip())
        problem = f"is {exc}" if isinstance(exc, NestingError) else "is not valid JSON"
        raise AnaplanResponseError(
            f"the body {problem} ({len(reply.content)} bytes, {media.group(0) if media else 'unknown type'})",
            endpoint,
        ) from None


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path``: no user info, query or fragment (a query could carry anything)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def os_error(exc: BaseException) -> str | None:
    """The operating system's error behind a requests/urllib3 exception, e.g. ``[Errno 111] Connection
    refused`` or ``[Errno -2] Name or service not known``; None when the chain holds none."""
    queue: list[BaseException] = [exc]
    seen: set[int] = set()
    while queue:
        current = queue.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and not isinstance(current, requests.RequestException):
            if isinstance(current, ssl.SSLError):
                return str(current)
            if current.errno is not None and current.strerror:
                return f"[Errno {current.errno}] {current.strerror}"
            if isinstance(current, socket.timeout | TimeoutError):
                return "timed out"
            return str(current) or type(current).__name__
        links = [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
        queue += [link for link in links if isinstance(link, BaseException)]
    return None


class Transport:
    """Sends one logical request as a series of limited, observed, bounded attempts."""

    def __init__(
        self,
        session: requests.Session,
        limiter: Limiter,
        *,
        observer: ApiObserver,
        retry: RetryPolicy,
        limits: Limits,
        verify_tls: bool | str,
        user_agent: str,
        redactor: Redactor,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float],
    ) -> None:
        self._session = session
        self._limiter = limiter
        self._observer = observer
        self._retry = retry
        self._limits = limits
        self._timeout = (limits.connect, min(limits.read, limits.total))
        self._verify = verify_tls
        self._user_agent = user_agent
        self._redactor = redactor
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._random = random
        self._watchdog = Watchdog(monotonic)

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def send(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        auth_endpoint: bool = False,
        max_retries: int | None = None,
        after_close: bool = False,
    ) -> Reply:
        """Return the first 2xx reply, or raise the typed error of the last attempt.

        ``after_close``: one attempt that may go out while the client stops (logout), never waiting.
        """
        retries = self._retry.max_retries if max_retries is None else max_retries
        all_headers = {"Accept": "application/json", "User-Agent": self._user_agent, **(headers or {})}
        attempt = 0
        while True:
            outcome, reason, retry_after = self._attempt(
                method, url, endpoint, all_headers, params, json_body, auth_endpoint, after_close
            )
            if isinstance(outcome, Reply):
                return outcome
            if reason is None or attempt >= retries:
                raise outcome
            wait = self._retry.delay(attempt, self._random(), retry_after)
            self._observer.retried(reason)
            log.warning(
                "%s: %s; retry %d of %d in %.2fs", endpoint, _short(outcome), attempt + 1, retries, wait
            )
            self._sleep(wait)
            attempt += 1

    def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        headers: Mapping[str, str],
        params: Mapping[str, str | int] | None,
        json_body: Any,
        auth_endpoint: bool,
        after_close: bool,
    ) -> tuple[Reply | AnaplanError, str | None, float | None]:
        """One attempt: (reply, None, None) on 2xx, else (error, retry reason or None, Retry-After)."""
        try:
            with self._limiter.slot(after_close=after_close):
                return self._exchange(method, url, endpoint, headers, params, json_body, auth_endpoint)
        except LimiterClosed:
            return AnaplanStoppedError(endpoint), None, None

    def _exchange(
        self,
        method: str,
        url: str,
        endpoint: str,
        headers: Mapping[str, str],
        params: Mapping[str, str | int] | None,
        json_body: Any,
        auth_endpoint: bool,
    ) -> tuple[Reply | AnaplanError, str | None, float | None]:
        started = self._clock()
        deadline = self._monotonic() + self._limits.total
        where = safe_url(url)
        failure: requests.RequestException | None = None
        with self._watchdog.watching(deadline) as watch:
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json=json_body,
                    timeout=self._timeout,
                    verify=self._verify,
                    allow_redirects=False,
                    stream=True,
                )
            except requests.RequestException as exc:
                failure = exc
        if failure is not None:
            self._observer.request_done(endpoint, "error", max(0.0, self._clock() - started))
            if watch.fired or self._past(deadline):
                return self._deadline_error(endpoint, where, None), None, None
            error, reason = self._request_failure(failure, endpoint, where)
            return error, reason, None
        try:
            status = response.status_code
            limit = self._limits.max_response_size if 200 <= status < 300 else _ERROR_BODY_LIMIT
            content = self._read_body(response, endpoint, where, deadline, limit, truncate=status >= 300)
        except AnaplanError as broken:
            self._observer.request_done(endpoint, "error", max(0.0, self._clock() - started))
            retryable = type(broken) in (AnaplanConnectionError, AnaplanTimeoutError)
            return broken, ("connection" if retryable and not self._past(deadline) else None), None
        finally:
            response.close()  # a body left unread closes the connection instead of returning it to the pool
        self._observer.request_done(endpoint, str(status), max(0.0, self._clock() - started))
        log.debug("%s %s: HTTP %d, %d bytes", method, endpoint, status, len(content))
        reply = Reply(status, response.headers, content)
        if 200 <= status < 300:
            return reply, None, None
        message = self._redactor.excerpt(anaplan_message(content), _MAX_MESSAGE)
        error = http_error(status, message, endpoint, auth_endpoint=auth_endpoint)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        if retry_after is not None and retry_after > 0:
            pause = min(retry_after, self._retry.backoff_max)
            self._limiter.pause(pause)
            log.info("%s: HTTP %d with Retry-After: every request waits %.1fs", endpoint, status, pause)
        if status == 429:
            return error, "rate_limited", retry_after
        if status >= 500:
            return error, "server_error", retry_after
        return error, None, None

    def _past(self, deadline: float) -> bool:
        return self._monotonic() >= deadline

    def _deadline_error(self, endpoint: str, where: str, received: int | None) -> AnaplanTimeoutError:
        got = "" if received is None else f" ({received} bytes received)"
        return AnaplanTimeoutError(
            f"{where} did not answer in full within the {self._limits.total:g}s deadline{got}; "
            "abandoned (anaplan.timeouts.total)",
            endpoint,
        )

    def _read_body(
        self,
        response: requests.Response,
        endpoint: str,
        where: str,
        deadline: float,
        limit: int,
        *,
        truncate: bool,
    ) -> bytes:
        """The body, read as it arrives: never past ``deadline``, never more than ``limit`` bytes (decoded).

        ``read1`` returns whatever one socket read brings, so a dripping server is checked against the
        deadline after every byte it sends; the socket's timeout is the shorter of the read timeout and what
        is left of the deadline, so a silent one is too.
        """
        if self._past(deadline):
            raise self._deadline_error(endpoint, where, None)
        declared = response.headers.get("Content-Length", "").strip()
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise self._too_large(endpoint, where, limit)
        raw = response.raw
        sock = _socket_of(raw)
        body = bytearray()
        while True:
            left = deadline - self._monotonic()
            if left <= 0:
                raise self._deadline_error(endpoint, where, len(body))
            if sock is not None:
                sock.settimeout(max(0.001, min(self._limits.read, left)))
            try:
                chunk = raw.read1(min(_CHUNK, limit + 1 - len(body)), decode_content=True)
            except urllib3.exceptions.ReadTimeoutError:
                if self._past(deadline):
                    raise self._deadline_error(endpoint, where, len(body)) from None
                raise AnaplanTimeoutError(
                    f"{where} sent nothing for {self._limits.read:g}s while sending its body "
                    "(anaplan.timeouts.read)",
                    endpoint,
                ) from None
            except urllib3.exceptions.DecodeError:
                raise AnaplanResponseError(
                    "the body could not be decoded (bad Content-Encoding)", endpoint
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                cause = os_error(exc)
                raise AnaplanConnectionError(
                    self._redactor.scrub(
                        f"connection to {where} dropped while reading the response"
                        + (f": {cause}" if cause else "")
                    ),
                    endpoint,
                ) from None
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > limit:
                if truncate:
                    return bytes(body[:limit])
                raise self._too_large(endpoint, where, limit)

    def _too_large(self, endpoint: str, where: str, limit: int) -> AnaplanTooLargeError:
        return AnaplanTooLargeError(
            f"the response from {where} is larger than {limit} bytes; abandoned (anaplan.max_response_size)",
            endpoint,
        )

    def _request_failure(
        self, exc: requests.RequestException, endpoint: str, where: str
    ) -> tuple[AnaplanError, str | None]:
        """The typed error for a request that got no response, and its retry reason (None: not retried)."""
        cause = os_error(exc)
        suffix = f": {cause}" if cause else ""
        error: AnaplanError
        reason: str | None = "connection"
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            error = AnaplanConnectionError(
                f"connection to {where} timed out after {self._limits.connect:g}s (anaplan.timeouts.connect)",
                endpoint,
            )
        elif isinstance(exc, requests.exceptions.ReadTimeout):
            error = AnaplanTimeoutError(
                f"no answer from {where} within {self._timeout[1]:g}s (anaplan.timeouts.read)", endpoint
            )
        elif isinstance(exc, requests.exceptions.SSLError):
            error = AnaplanConnectionError(
                f"connection to {where} failed: TLS handshake or certificate verification failed{suffix}",
                endpoint,
            )
            reason = None
        elif isinstance(exc, requests.exceptions.ProxyError):
            error = AnaplanConnectionError(f"connection to {where} failed: proxy error{suffix}", endpoint)
        elif isinstance(exc, requests.exceptions.ChunkedEncodingError):
            error = AnaplanConnectionError(
                f"connection to {where} dropped while reading the response{suffix}", endpoint
            )
        elif isinstance(exc, requests.ConnectionError):
            error = AnaplanConnectionError(f"connection to {where} failed{suffix}", endpoint)
        else:
            error = AnaplanConnectionError(f"request to {where} failed ({type(exc).__name__})", endpoint)
            reason = None
        error.args = (self._redactor.scrub(str(error)),)
        return error, reason


def _socket_of(raw: object) -> socket.socket | None:
    """The socket under a streamed urllib3 response (None for mocked ones)."""
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _short(error: Exception) -> str:
    if isinstance(error, AnaplanHTTPError):
        return f"HTTP {error.status}"
    return str(error).split(": ", 1)[-1]
