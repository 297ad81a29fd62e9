"""Log records: one line each, an ISO 8601 UTC timestamp first, in logfmt and in JSON, secrets masked."""

from __future__ import annotations

import datetime
import json
import logging
import re
from collections.abc import Iterator

import pytest

from anaplan_exporter.anaplan.models import iso_time
from anaplan_exporter.app import Exporter
from anaplan_exporter.config.file import parse_config
from anaplan_exporter.logs import JsonFormatter, LogfmtFormatter, setup_logging

ISO_8601_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    record = logging.LogRecord("anaplan_exporter.test", logging.WARNING, __file__, 1, message, args, exc_info)
    record.created = 1767225600.25
    record.msecs = 250.0
    return record


def test_iso_time() -> None:
    assert iso_time(1767225600.9) == "2026-01-01T00:00:00Z"
    assert iso_time(0) == "1970-01-01T00:00:00Z"


def test_logfmt_starts_with_an_iso_8601_timestamp() -> None:
    line = LogfmtFormatter().format(_record("token expires at %s", iso_time(1767229200)))
    assert line == (
        'ts=2026-01-01T00:00:00.250Z level=warn logger=anaplan_exporter.test msg="token expires at '
        '2026-01-01T01:00:00Z"'
    )
    ts = line.split(" ", 1)[0].removeprefix("ts=")
    assert ISO_8601_UTC.fullmatch(ts)
    parsed = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    assert parsed == datetime.datetime(2026, 1, 1, 0, 0, 0, 250000, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    "message", ["two\nlines", "carriage\rreturn", 'quote " and \\ back', "tab\there", "\x1b[31m"]
)
def test_logfmt_keeps_every_record_on_one_line(message: str) -> None:
    line = LogfmtFormatter().format(_record(message, exc=True))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.startswith("ts=2026-01-01T00:00:00.250Z ")
    assert "RuntimeError: boom" in line


def test_json_has_the_same_fields_on_one_line() -> None:
    line = JsonFormatter().format(_record("two\nlines", exc=True))
    assert "\n" not in line
    fields = json.loads(line)
    assert fields["ts"] == "2026-01-01T00:00:00.250Z"
    assert fields["msg"] == "two\nlines"
    assert fields["level"] == "warn"


@pytest.fixture
def root_handlers() -> Iterator[None]:
    """Restore the root logger's handlers and level after a test that installs its own."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


@pytest.mark.usefixtures("root_handlers")
@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_a_secret_in_an_unexpected_exception_never_reaches_the_log(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last net: text the client never built (an exception's message, a library's log line) is masked at
    the output by the running exporter's redactor, in the message and in the traceback."""
    password = "Pa55-Unexpected-SECRET"
    config = parse_config(
        {
            "anaplan": {"auth": {"method": "basic", "username": "alice@example.com", "password": password}},
            "targets": [{"workspace": "w", "model": "m", "processes": "*"}],
            "state": {"path": ""},
        },
        "exporter.yml",
        {},
    )
    setup_logging("info", fmt)
    Exporter(config)
    try:
        raise ValueError(f"connect failed for alice@example.com:{password}@host")
    except ValueError:
        logging.getLogger("some.library").exception("unexpected: %s", password.lower())
    logging.getLogger("some.library").warning("token=%s", password)
    output = capsys.readouterr().err
    assert output.count("\n") == 2, output
    assert "connect failed" in output and "unexpected" in output
    assert password not in output and password.lower() not in output


def test_without_a_redactor_the_formatters_leave_text_alone() -> None:
    assert "plain-text" in LogfmtFormatter().format(_record("plain-text"))
