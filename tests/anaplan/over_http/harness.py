"""Helpers for running the real Anaplan client against the real simulator process.

``SecretBook`` collects every secret a test handles (passwords, keys, and each token and refresh token that
crosses the wire, seen by a response hook on the client's session) so that logs and exception texts can be
searched for them. ``checked_simulator`` runs the simulator and fails if anything but GET reached its
Integration API.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from anaplan_exporter.anaplan.auth import Credentials
from anaplan_exporter.anaplan.client import AnaplanClient, ClientSettings
from support.leaks import Readings
from support.simulator import SimulatorHandle, running_simulator

WORKSPACE = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
USER = "integration@example.com"
PASSWORD = "pw-Integration-4f9c2e71"


def base_scenario(**extra: Any) -> dict[str, Any]:
    """One Basic user plus whatever the test adds (workspaces, faults, token lifetime ...)."""
    return {"users": [{"username": USER, "password": PASSWORD}], **extra}


@contextmanager
def checked_simulator(scenario: dict[str, Any], tmp_path: Path) -> Iterator[SimulatorHandle]:
    """The simulator process; on exit, asserts the client never sent a non-GET to the Integration API."""
    with running_simulator(scenario, tmp_path) as sim:
        yield sim
        stats = sim.stats()
        assert stats["non_get_integration_requests"] == 0, stats["non_get_integration_recent"]


def count(stats: dict[str, Any], kind: str, code: str | None = None) -> int:
    """Requests of one endpoint kind the simulator answered (with status ``code``, or any)."""
    codes: dict[str, int] = stats["requests"].get(kind, {})
    return codes.get(code, 0) if code is not None else sum(codes.values())


class StatsDelta:
    """Counts of simulator requests since it was made, so tests sharing a simulator stay independent."""

    def __init__(self, sim: SimulatorHandle) -> None:
        self._sim = sim
        self._before = sim.stats()

    def __call__(self, kind: str, code: str | None = None) -> int:
        return count(self._sim.stats(), kind, code) - count(self._before, kind, code)


class OffsetClock:
    """Wall-clock time shifted by ``offset`` seconds; moving it ages the client's token instantly."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class RecordingObserver:
    """Thread-safe record of the client's observer calls; ``on_request`` runs after each attempt."""

    def __init__(self, on_request: Callable[[str, str], None] | None = None) -> None:
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.retries: list[str] = []
        self.auth_failures = 0
        self.on_request = on_request

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        assert seconds >= 0
        with self._lock:
            self.requests.append((endpoint, code))
        if self.on_request is not None:
            self.on_request(endpoint, code)

    def retried(self, reason: str) -> None:
        with self._lock:
            self.retries.append(reason)

    def auth_failed(self) -> None:
        with self._lock:
            self.auth_failures += 1

    def ignored_values(self, reason: str, count: int) -> None:
        pass

    def retry_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self.retries)


_TOKEN_KEYS = ("tokenValue", "access_token", "refresh_token", "client_secret")


class SecretBook:
    """Every secret value a test has handled; none of them may show in logs or exception texts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()

    def add(self, *values: str | bytes) -> None:
        with self._lock:
            for value in values:
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                if len(text.strip()) >= 8:  # shorter strings would match by accident
                    self._values.add(text.strip())

    @property
    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def leaks(self, text: str) -> list[str]:
        """The secrets (abbreviated, so a failure message does not repeat them) found in ``text``, in any
        form: any case or spacing, escaped, or in base64 (see ``support.leaks``)."""
        readings = Readings(text)
        return [f"{value[:4]}...({len(value)} chars)" for value in self.values if readings.forms_of(value)]

    def assert_clean(self, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(exc)) + repr(exc)
        assert not self.leaks(text), f"{type(exc).__name__} carries secrets: {self.leaks(text)}"

    @contextmanager
    def raises(self, kind: type[BaseException]) -> Iterator[pytest.ExceptionInfo[BaseException]]:
        """``pytest.raises(kind)`` that also checks the exception, its chain and traceback for secrets."""
        with pytest.raises(kind) as info:
            yield info
        self.assert_clean(info.value)

    def record_exchange(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """A ``requests`` response hook: note the Authorization header and any token in either body.

        The client streams bodies, so the response's body is noted as the client reads it (up to a cap, so
        an endless body stays endless), through a wrapper around ``response.raw``.
        """
        header = response.request.headers.get("Authorization")
        if header:
            self.add(header, header.partition(" ")[2])
        self._note_tokens(response.request.body)
        response.raw = _TeeRaw(response.raw, self._note_tokens)

    def _note_tokens(self, raw: object) -> None:
        if not isinstance(raw, str | bytes) or not raw:
            return
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(body, dict):
            return
        for scope in (body, body.get("tokenInfo")):
            if isinstance(scope, dict):
                for key in _TOKEN_KEYS:
                    if isinstance(scope.get(key), str):
                        self.add(scope[key])


class _TeeRaw:
    """Passes a streamed body through and hands its first bytes to ``sink`` once it has been read."""

    LIMIT = 1024 * 1024

    def __init__(self, raw: Any, sink: Callable[[bytes], None]) -> None:
        self._raw = raw
        self._sink = sink
        self._seen = bytearray()

    def read1(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        data: bytes = self._raw.read1(amt, decode_content=decode_content)
        if len(self._seen) < self.LIMIT:
            self._seen += data[: self.LIMIT - len(self._seen)]
        if not data:
            self._sink(bytes(self._seen))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


# Fast retries so the suite stays quick; a high rate budget so only the limiter test feels the limiter.
FAST = {
    "backoff_initial": 0.05,
    "backoff_max": 1.0,
    "connect_timeout": 5.0,
    "read_timeout": 10.0,
    "requests_per_second": 1000.0,
    "max_concurrency": 8,
}


Connect = Callable[..., AnaplanClient]
"""The ``connect`` fixture: a logged-in client for the module's simulator, with setting overrides."""


class ClientFactory:
    """Builds clients wired to a simulator, a recording observer and the secret book; closes them after."""

    def __init__(self, book: SecretBook) -> None:
        self.book = book
        self._clients: list[AnaplanClient] = []
        self._sessions: list[requests.Session] = []

    def __call__(
        self,
        sim: SimulatorHandle,
        credentials: Credentials,
        *,
        observer: RecordingObserver | None = None,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> AnaplanClient:
        settings = dataclasses.replace(
            ClientSettings(api_url=sim.api_url, auth_url=sim.url, oauth_url=sim.url),
            **{**FAST, **overrides},
        )
        session = requests.Session()
        session.hooks["response"].append(self.book.record_exchange)
        client = AnaplanClient(
            settings, credentials, observer=observer or RecordingObserver(), clock=clock, session=session
        )
        self._clients.append(client)
        self._sessions.append(session)
        return client

    def close_all(self) -> None:
        for client in self._clients:
            client.close()  # logs out; the factory made the session, so the client leaves it open
        for session in self._sessions:
            session.close()
