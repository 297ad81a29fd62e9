"""What the simulator answers, before it is written to the socket: the ``Response`` value, and the answers
that are not the API's own (Anaplan's JSON error body, a request quoted back, a gateway's HTML error page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import payloads
from .faults import Decision

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able; None for no body
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None  # a non-JSON body (HTML error pages)


def error_response(code: int, path: str) -> Response:
    """Anaplan's JSON error body for ``code`` on ``path``, stamped now."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return Response(code, payloads.error(code, REASONS.get(code, "Error"), path, stamp))


def echo_response(status: int, path: str, authorization: str | None, body: bytes) -> Response:
    """An error that quotes the request back, as some gateways and careless services do."""
    text = body.decode("utf-8", "replace")
    message = f"Rejected {path}. Authorization: {authorization}; request body: {text}"
    payload = {
        "status": {"code": status, "message": message},
        "statusMessage": message,
        "error_description": message,
        "headers": {"Authorization": authorization},
        "request": text,
    }
    return Response(status, payload)


def fault_response(decision: Decision, path: str) -> Response | None:
    """The injected error ``decision`` asks for (None: no error): 429 and 500 as Anaplan, others as HTML."""
    if decision.status is None:
        return None
    if decision.status == 429:
        response = error_response(429, path)
        if decision.retry_after is not None:
            response.headers.append(("Retry-After", decision.retry_after))
        return response
    if decision.status == 500:
        return error_response(500, path)
    reason = REASONS[decision.status]
    page = f"<html><body><h1>{decision.status} {reason}</h1></body></html>"
    return Response(decision.status, text=page)
