"""Fixtures for the client-against-simulator tests: the secret book with its log check, and clients."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from support.simulator import SimulatorHandle

from .harness import PASSWORD, USER, ClientFactory, Connect, RecordingObserver, SecretBook

_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")


def _log_text(records: list[logging.LogRecord]) -> str:
    """Each record as a handler would write it, tracebacks included, plus its raw arguments."""
    return "\n".join(f"{_FORMAT.format(record)} {record.args!r}" for record in records)


@pytest.fixture(autouse=True)
def book(caplog: pytest.LogCaptureFixture) -> Iterator[SecretBook]:
    """Captures every log record at DEBUG; after the test, no secret the test handled may appear in one."""
    caplog.set_level(logging.DEBUG)
    secrets = SecretBook()
    secrets.add(PASSWORD)
    yield secrets
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    leaks = secrets.leaks(_log_text(records))
    assert not leaks, f"secrets in the log output: {leaks}"


@pytest.fixture
def make_client(book: SecretBook) -> Iterator[ClientFactory]:
    factory = ClientFactory(book)
    yield factory
    factory.close_all()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def connect(
    sim: SimulatorHandle, make_client: ClientFactory, observer: RecordingObserver
) -> Iterator[Connect]:
    """A logged-in client (so integration faults meet only integration calls), with setting overrides.

    Needs a ``sim`` fixture from the test module."""

    def build(**overrides: Any) -> AnaplanClient:
        client = make_client(sim, BasicCredentials(USER, PASSWORD), observer=observer, **overrides)
        client.list_workspaces()
        observer.retries.clear()
        return client

    yield build
