"""Why a poll failed, as a bounded label value: each client error maps to one of the snapshot's
``ERROR_REASONS`` (the ``reason`` label of ``anaplan_poll_errors_total``), so that any number of distinct
error messages makes a handful of series."""

from __future__ import annotations

from ..anaplan.errors import (
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

_REASONS: tuple[tuple[type[AnaplanError], str], ...] = (
    # Subclasses before their bases: a timeout is a connection error, too large a bad response.
    (AnaplanStoppedError, "stopped"),
    (AnaplanTimeoutError, "timeout"),
    (AnaplanTooLargeError, "too_large"),
    (AnaplanNotFoundError, "not_found"),
    (AnaplanPermissionError, "forbidden"),
    (AnaplanAuthError, "auth"),
    (AnaplanRateLimitError, "rate_limited"),
    (AnaplanServerError, "server_error"),
    (AnaplanConnectionError, "connection"),
    (AnaplanResponseError, "bad_response"),
)


def error_reason(exc: BaseException) -> str:
    """A bounded label value for a failed poll (one of ``ERROR_REASONS``, or ``stopped`` for a request
    abandoned because the exporter is shutting down, which is not a failure of the object)."""
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    if isinstance(exc, AnaplanHTTPError) and exc.status == 401:
        return "auth"
    return "other"
