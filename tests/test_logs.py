"""Log records: one line each, an ISO 8601 UTC timestamp first, in logfmt and in JSON."""

from __future__ import annotations

import datetime
import json
import logging
import re

import pytest

from anaplan_exporter.anaplan.models import iso_time
from anaplan_exporter.logs import JsonFormatter, LogfmtFormatter

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
