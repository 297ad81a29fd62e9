"""What the simulator answers, before it is written to the socket: the ``Response`` value, and the answers
that are not the API's own (Anaplan's JSON error body, a request quoted back, a gateway's HTML error page).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

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


def echo_response(
    status: int, path: str, authorization: str | None, body: bytes, form: str = "as_sent"
) -> Response:
    """An error that quotes the request back, as some gateways and careless services do.

    ``form`` other than ``as_sent`` quotes the credentials re-encoded first, at the start of the message
    (so that a client's excerpt of it keeps them): see :func:`echoed_credentials`."""
    text = body.decode("utf-8", "replace")
    message = f"Rejected {path}. Authorization: {authorization}; request body: {text}"
    if form != "as_sent":
        message = f"Rejected {path}: credentials {echoed_credentials(authorization, text, form)} unknown"
    payload = {
        "status": {"code": status, "message": message},
        "statusMessage": message,
        "error_description": message,
        "headers": {"Authorization": authorization},
        "request": text,
    }
    return Response(status, payload)


def echoed_credentials(authorization: str | None, body: str, form: str) -> str:
    """The request's credentials in ``form``: the password (and the Basic header's ``user:password``),
    token, or OAuth refresh token and client secret, each written ``html``-escaped, ``upper``-cased,
    ``url``- or ``json``-escaped, ``collapsed`` (whitespace runs as one space) or in base64
    (``base64_unpadded``, or ``base64_wrapped`` every 16 characters with CRLF; for Basic, of
    ``user:password``)."""
    scheme, _, value = (authorization or "").partition(" ")
    secrets = [value] if value and scheme != "Basic" else []
    if scheme == "Basic":
        try:
            pair = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pair = value
        secrets.append(pair if form.startswith("base64") else pair.partition(":")[2])
    try:
        fields = json.loads(body) if body else {}
    except ValueError:
        fields = {}
    if isinstance(fields, dict):
        secrets += [str(fields[key]) for key in ("refresh_token", "client_secret") if key in fields]
    return " ".join(_ENCODINGS[form](secret) for secret in secrets)


def _base64(secret: str) -> str:
    return base64.b64encode(secret.encode("utf-8")).decode("ascii")


_ENCODINGS: dict[str, Callable[[str], str]] = {
    "base64_unpadded": lambda secret: _base64(secret).rstrip("="),
    "base64_wrapped": lambda secret: "\r\n".join(
        _base64(secret)[i : i + 16] for i in range(0, len(_base64(secret)), 16)
    ),
    "html": html.escape,
    "upper": str.upper,
    "url": lambda secret: quote(secret, safe=""),
    "json": lambda secret: json.dumps(secret)[1:-1],
    "collapsed": lambda secret: " ".join(secret.split()),
}


def with_creation_time(response: Response, value: float | str) -> Response:
    """``response`` with every ``creationTime`` in its JSON body replaced by ``value`` (a fault)."""

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: value if k == "creationTime" else replace(v) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(item) for item in node]
        return node

    return Response(response.status, replace(response.body), response.headers, response.text)


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
