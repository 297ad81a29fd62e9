"""Typed errors raised by the Anaplan client. Messages never carry credentials or tokens."""

from __future__ import annotations

import time


class AnaplanError(Exception):
    """Base of every error the client raises."""


class AnaplanHTTPError(AnaplanError):
    """Anaplan answered with a non-2xx status (after retries, where the status is retryable)."""

    def __init__(self, status: int, message: str, endpoint: str) -> None:
        super().__init__(f"{endpoint}: HTTP {status}: {message}" if message else f"{endpoint}: HTTP {status}")
        self.status = status
        self.message = message
        self.endpoint = endpoint


class AnaplanAuthError(AnaplanHTTPError):
    """Authentication was refused (bad credentials, expired refresh token, 401 after re-authenticating)."""


class AnaplanAuthBackoffError(AnaplanAuthError):
    """No login was tried: an earlier refusal holds logins back until ``next_attempt_at`` (see auth_backoff).

    ``refusal`` is the message of that refusal; a poll that fails this way counts as an auth failure.
    """

    def __init__(self, refusal: str, next_attempt_at: float) -> None:
        AnaplanError.__init__(
            self,
            f"authentication refused ({refusal}); next attempt at "
            f"{time.strftime('%H:%M:%S', time.gmtime(next_attempt_at))} UTC, no login sent meanwhile",
        )
        self.status = 401
        self.message = refusal
        self.endpoint = "authenticate"
        self.next_attempt_at = next_attempt_at


class AnaplanNotFoundError(AnaplanHTTPError):
    """404: unknown ID, or an object the user has no access to (Anaplan masks NO ACCESS as 404)."""


class AnaplanPermissionError(AnaplanHTTPError):
    """403: the user lacks permission on the model or object."""


class AnaplanRateLimitError(AnaplanHTTPError):
    """429 that outlasted every retry."""


class AnaplanServerError(AnaplanHTTPError):
    """5xx that outlasted every retry."""


class AnaplanConnectionError(AnaplanError):
    """The request did not complete: connection refused or dropped, timeout, TLS failure."""

    def __init__(self, message: str, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint


class AnaplanTimeoutError(AnaplanConnectionError):
    """The server did not answer in time: no data within the read timeout, or the whole response (connect,
    headers and body) took longer than the request's total deadline."""


class AnaplanResponseError(AnaplanError):
    """The body could not be understood: not JSON, or not the shape the endpoint promises."""

    def __init__(self, message: str, endpoint: str) -> None:
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint


class AnaplanTooLargeError(AnaplanResponseError):
    """The response body is larger than the configured maximum; it was abandoned unread (not retried)."""


class AnaplanStoppedError(AnaplanError):
    """The client is stopping: a request waiting for its turn was abandoned instead of being sent."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(f"{endpoint}: abandoned, the client is stopping")
        self.endpoint = endpoint


class AnaplanConfigurationError(AnaplanError):
    """The client was set up wrongly (unreadable key file, unknown auth method)."""
