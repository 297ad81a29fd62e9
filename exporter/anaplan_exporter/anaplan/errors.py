"""Typed errors raised by the Anaplan client. Messages never carry credentials or tokens."""

from __future__ import annotations


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
