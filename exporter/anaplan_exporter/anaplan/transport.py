"""HTTP attempts with timeouts, the shared limiter, retries with backoff, and typed errors.

Retried: 429, 5xx, connection failures and timeouts, with exponential backoff and full jitter; a
``Retry-After`` header (seconds or HTTP date) is a floor, and every single wait is capped. Everything else
that is not 2xx becomes a typed error at once. Exception messages never carry URLs, headers or bodies beyond
Anaplan's own short status message, so no credential can leak through them.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from .errors import (
    AnaplanAuthError,
    AnaplanConnectionError,
    AnaplanHTTPError,
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanServerError,
)
from .limiter import Limiter
from .observer import ApiObserver

log = logging.getLogger(__name__)

_MAX_MESSAGE = 200
_RETRYABLE_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


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


def anaplan_message(response: requests.Response) -> str:
    """Anaplan's human message from an error body of any of its three services; '' when there is none."""
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
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
            return " ".join(candidate.split())[:_MAX_MESSAGE]
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


def decode_json(response: requests.Response, endpoint: str) -> object:
    """The JSON body of a 2xx response, or AnaplanResponseError (not retried: the caller decides)."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        content_type = response.headers.get("Content-Type", "unknown type")
        raise AnaplanResponseError(
            f"the body is not valid JSON ({len(response.content)} bytes, {content_type})", endpoint
        ) from None


def _describe(exc: requests.RequestException) -> str:
    """A short cause without the URL or request (requests' messages embed them)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake or certificate verification failed"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy error"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped while reading the response"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return f"request failed ({type(exc).__name__})"


class Transport:
    """Sends one logical request as a series of limited, observed attempts."""

    def __init__(
        self,
        session: requests.Session,
        limiter: Limiter,
        *,
        observer: ApiObserver,
        retry: RetryPolicy,
        connect_timeout: float,
        read_timeout: float,
        verify_tls: bool | str,
        user_agent: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float],
    ) -> None:
        self._session = session
        self._limiter = limiter
        self._observer = observer
        self._retry = retry
        self._timeout = (connect_timeout, read_timeout)
        self._verify = verify_tls
        self._user_agent = user_agent
        self._clock = clock
        self._sleep = sleep
        self._random = random

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
    ) -> requests.Response:
        """Return the first 2xx response, or raise the typed error of the last attempt."""
        retries = self._retry.max_retries if max_retries is None else max_retries
        all_headers = {"Accept": "application/json", "User-Agent": self._user_agent, **(headers or {})}
        attempt = 0
        while True:
            failure, reason, retry_after = self._attempt(
                method, url, endpoint, all_headers, params, json_body, auth_endpoint
            )
            if isinstance(failure, requests.Response):
                return failure
            if reason is None or attempt >= retries:
                raise failure
            wait = self._retry.delay(attempt, self._random(), retry_after)
            self._observer.retried(reason)
            log.warning(
                "%s: %s; retry %d of %d in %.2fs", endpoint, _short(failure), attempt + 1, retries, wait
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
    ) -> tuple[requests.Response | Exception, str | None, float | None]:
        """One attempt: (response, None, None) on 2xx, else (error, retry reason or None, Retry-After)."""
        started = self._clock()
        error: Exception
        try:
            with self._limiter.slot():
                started = self._clock()
                response = self._session.request(
                    method,
                    url,
                    headers=headers,
                    params=params,
                    json=json_body,
                    timeout=self._timeout,
                    verify=self._verify,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            self._observer.request_done(endpoint, "error", max(0.0, self._clock() - started))
            retryable = isinstance(exc, _RETRYABLE_EXCEPTIONS) and not isinstance(
                exc, requests.exceptions.SSLError
            )
            error = AnaplanConnectionError(_describe(exc), endpoint)
            return error, ("connection" if retryable else None), None
        status = response.status_code
        self._observer.request_done(endpoint, str(status), max(0.0, self._clock() - started))
        log.debug("%s %s: HTTP %d", method, endpoint, status)
        if 200 <= status < 300:
            return response, None, None
        error = http_error(status, anaplan_message(response), endpoint, auth_endpoint=auth_endpoint)
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        if status == 429:
            return error, "rate_limited", retry_after
        if status >= 500:
            return error, "server_error", retry_after
        return error, None, None


def _short(error: Exception) -> str:
    if isinstance(error, AnaplanHTTPError):
        return f"HTTP {error.status}"
    return str(error).split(": ", 1)[-1]
