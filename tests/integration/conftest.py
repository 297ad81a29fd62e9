"""Fixtures for the client-against-simulator tests: the secret book with its log check, and clients."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from .harness import PASSWORD, ClientFactory, SecretBook

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
