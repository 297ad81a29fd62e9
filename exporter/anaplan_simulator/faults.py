"""Fault settings (latency, 5xx, 429 bursts, malformed JSON, dropped connections, early token expiry, and
hostile bodies: dripping, endless, huge, echoing the request's credentials, or impossible task times), and
task lists that ignore ``sort``.

Settings come from the scenario's ``faults`` mapping and can be changed at runtime; ``FaultInjector``
decides, request by request, what goes wrong. All faults are off by default.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from .validate import Node

RETRY_AFTER_FORMATS = ("seconds", "http-date")
ECHO_FORMS = ("as_sent", "base64_unpadded", "base64_wrapped", "html", "upper", "url", "json", "collapsed")
"""How ``echo_secrets`` quotes the credentials (see ``response.echo_response``)."""
SCOPES = ("integration", "all")


@dataclass(frozen=True)
class RateLimitBursts:
    """Every ``every`` seconds (from ``started``), answer 429 for ``duration`` seconds."""

    every: float
    duration: float
    offset: float = 0.0
    retry_after: float | None = None  # None: the time left in the burst, rounded up
    retry_after_format: str = "seconds"
    started: float = 0.0  # set when the settings are applied


@dataclass(frozen=True)
class FaultSettings:
    latency_min: float = 0.0
    latency_max: float = 0.0
    error_rate_5xx: float = 0.0
    rate_limit: RateLimitBursts | None = None
    max_requests_per_second: int = 0  # 0: unlimited; above it, 429 with Retry-After: 1
    malformed_json_rate: float = 0.0
    token_early_expiry: float | None = None  # tokens die this many seconds after issue/refresh
    drop_connection_rate: float = 0.0
    drip: float | None = None  # the body is sent one byte every this many seconds
    drip_headers: float | None = None  # the status line and headers too
    endless: bool = False  # 2xx bodies never end (no Content-Length; sent until the client hangs up)
    huge: int | None = None  # 2xx JSON bodies padded to at least this many bytes (with Content-Length)
    echo_secrets: int | None = None  # answer with this status and a body quoting Authorization and the body
    echo_form: str = "as_sent"  # one of ECHO_FORMS: the credentials as sent, or re-encoded first
    creation_time: float | str | None = None  # every task's creationTime is sent as this value (epoch ms)
    ignore_sort: bool = False  # task lists come oldest first whatever ``sort`` asks (Anaplan's default order)
    scope: str = "integration"  # "all" also applies faults to the auth and OAuth endpoints
    path: str | None = None  # faults apply only to requests whose path contains this text

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FAULT_KEYS = (
    "latency",
    "error_rate_5xx",
    "rate_limit",
    "max_requests_per_second",
    "malformed_json_rate",
    "token_early_expiry",
    "drop_connection_rate",
    "drip",
    "drip_headers",
    "endless",
    "huge",
    "echo_secrets",
    "echo_form",
    "creation_time",
    "ignore_sort",
    "scope",
    "path",
)


def parse_faults(
    data: object, path: str, source: str, base: FaultSettings | None = None, now: float = 0.0
) -> FaultSettings:
    """Apply the keys present in ``data`` on top of ``base`` (a null value turns a fault off)."""
    node = Node(data, path, source)
    node.only(*_FAULT_KEYS)
    current = base or FaultSettings()
    changes: dict[str, Any] = {}
    if "latency" in node.data:
        changes["latency_min"], changes["latency_max"] = _latency(node)
    for key in ("error_rate_5xx", "malformed_json_rate", "drop_connection_rate"):
        if key in node.data:
            changes[key] = node.rate(key)
    if "max_requests_per_second" in node.data:
        changes["max_requests_per_second"] = node.integer("max_requests_per_second", 0)
    if "token_early_expiry" in node.data:
        changes["token_early_expiry"] = (
            node.number("token_early_expiry", positive=True) if node.has("token_early_expiry") else None
        )
    if "scope" in node.data:
        changes["scope"] = node.choice("scope", SCOPES)
    for key in ("drip", "drip_headers"):
        if key in node.data:
            changes[key] = node.number(key, positive=True) if node.has(key) else None
    for key in ("endless", "ignore_sort"):
        if key in node.data:
            changes[key] = node.boolean(key) if node.has(key) else False
    if "huge" in node.data:
        changes["huge"] = node.integer("huge", minimum=1) if node.has("huge") else None
    if "echo_secrets" in node.data:
        changes["echo_secrets"] = None
        if node.has("echo_secrets"):
            status = node.integer("echo_secrets", minimum=200)
            if status > 599:
                node.fail(f"must be an HTTP status (200..599), got {status}", "echo_secrets")
            changes["echo_secrets"] = status
    if "echo_form" in node.data:
        changes["echo_form"] = node.choice("echo_form", ECHO_FORMS) if node.has("echo_form") else "as_sent"
    if "creation_time" in node.data:
        changes["creation_time"] = _creation_time(node) if node.has("creation_time") else None
    if "path" in node.data:
        changes["path"] = node.string("path") if node.has("path") else None
    if "rate_limit" in node.data:
        changes["rate_limit"] = _rate_limit(node, now) if node.has("rate_limit") else None
    return dataclasses.replace(current, **changes)


def _latency(node: Node) -> tuple[float, float]:
    if not node.has("latency"):
        return 0.0, 0.0
    value = node.raw("latency")
    if isinstance(value, Mapping):
        inner = node.child("latency")
        inner.only("min", "max")
        low = inner.number("min", 0.0)
        high = inner.number("max", low)
        if high < low:
            inner.fail(f"must not be below min ({low:g}), got {high:g}", "max")
        return low, high
    fixed = node.number("latency")
    return fixed, fixed


def _creation_time(node: Node) -> float | str:
    """Any number or text: the fault exists to send times no real tenant would (year 10000, -1, "soon")."""
    value = node.raw("creation_time")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        node.fail(f"must be a number or a string, got {value!r}", "creation_time")
    return value if isinstance(value, str) else float(value)


def _rate_limit(node: Node, now: float) -> RateLimitBursts:
    inner = node.child("rate_limit")
    inner.only("every", "for", "offset", "retry_after", "retry_after_format")
    every = inner.number("every", positive=True)
    duration = inner.number("for", positive=True)
    if duration > every:
        inner.fail(f"must not exceed every ({every:g}), got {duration:g}", "for")
    retry_after = inner.number("retry_after", positive=True) if inner.has("retry_after") else None
    return RateLimitBursts(
        every=every,
        duration=duration,
        offset=inner.number("offset", 0.0),
        retry_after=retry_after,
        retry_after_format=inner.choice("retry_after_format", RETRY_AFTER_FORMATS, "seconds"),
        started=now,
    )


@dataclass(frozen=True)
class Decision:
    """What to do with one request before (or instead of) answering it normally."""

    latency: float = 0.0
    drop: bool = False
    status: int | None = None  # 429 or 5xx instead of the real answer
    retry_after: str | None = None
    malformed: bool = False
    drip: float | None = None
    drip_headers: float | None = None
    endless: bool = False
    huge: int | None = None
    echo_status: int | None = None
    echo_form: str = "as_sent"
    creation_time: float | str | None = None


class FaultInjector:
    """Thread-safe holder of the current settings and the per-request dice."""

    def __init__(self, settings: FaultSettings, clock: Callable[[], float], seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._clock = clock
        self._recent: collections.deque[float] = collections.deque()
        self._settings = self._anchor(settings, clock())

    @staticmethod
    def _anchor(settings: FaultSettings, now: float) -> FaultSettings:
        if settings.rate_limit is not None and settings.rate_limit.started == 0.0:
            return dataclasses.replace(
                settings, rate_limit=dataclasses.replace(settings.rate_limit, started=now)
            )
        return settings

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    def update(self, data: object, source: str = "faults") -> FaultSettings:
        """Merge runtime changes (same keys as the scenario's ``faults``); raises ScenarioError."""
        now = self._clock()
        with self._lock:
            self._settings = parse_faults(data, "", source, self._settings, now)
            return self._settings

    def token_early_expiry(self) -> float | None:
        return self._settings.token_early_expiry

    def applies_to(self, integration: bool, path: str = "") -> bool:
        settings = self._settings
        if settings.path is not None and settings.path not in path:
            return False
        return integration or settings.scope == "all"

    def decide(self) -> Decision:
        settings = self._settings
        now = self._clock()
        with self._lock:
            roll = self._rng.random
            latency = settings.latency_min
            if settings.latency_max > settings.latency_min:
                latency = self._rng.uniform(settings.latency_min, settings.latency_max)
            if settings.drop_connection_rate and roll() < settings.drop_connection_rate:
                return Decision(latency=latency, drop=True)
            if settings.echo_secrets is not None:
                return Decision(
                    latency=latency,
                    echo_status=settings.echo_secrets,
                    echo_form=settings.echo_form,
                    drip=settings.drip,
                )
            burst = _in_burst(settings.rate_limit, now)
            if burst is not None:
                return Decision(latency=latency, status=429, retry_after=burst)
            if settings.max_requests_per_second and not self._admit(now, settings.max_requests_per_second):
                return Decision(latency=latency, status=429, retry_after="1")
            if settings.error_rate_5xx and roll() < settings.error_rate_5xx:
                return Decision(latency=latency, status=self._rng.choice((500, 502, 503)))
            malformed = bool(settings.malformed_json_rate) and roll() < settings.malformed_json_rate
            return Decision(
                latency=latency,
                malformed=malformed,
                drip=settings.drip,
                drip_headers=settings.drip_headers,
                endless=settings.endless,
                huge=settings.huge,
                creation_time=settings.creation_time,
            )

    def _admit(self, now: float, limit: int) -> bool:
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= limit:
            return False
        self._recent.append(now)
        return True


def _in_burst(limit: RateLimitBursts | None, now: float) -> str | None:
    """The Retry-After value if ``now`` falls inside a 429 burst, else None."""
    if limit is None:
        return None
    elapsed = now - limit.started - limit.offset
    if elapsed < 0:
        return None
    into = elapsed % limit.every
    if into >= limit.duration:
        return None
    wait = limit.retry_after if limit.retry_after is not None else limit.duration - into
    if limit.retry_after_format == "http-date":
        return formatdate(now + max(wait, 1.0), usegmt=True)
    return str(max(1, math.ceil(wait)))
