"""Log output in logfmt (the Prometheus ecosystem's default) or JSON, one line per record.

Every record starts with its time in ISO 8601 UTC with milliseconds (``ts=2026-03-01T12:00:00.000Z``);
times inside messages use ``anaplan.models.iso_time`` so a person reads them the same way.

The client masks secrets where it builds messages and errors; :func:`redact_logs` adds a last net at the
output, so that a message or traceback the client never saw (an unexpected exception's text, a library's
own log line) cannot carry a credential or token to the log either.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable

LEVELS = ("debug", "info", "warn", "error")


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _logfmt_value(value: str) -> str:
    """Quote a value that needs it; newlines are escaped so a record stays on one line."""
    if value and not any(c in value for c in ' ="\\') and value.isprintable():
        return value
    escaped = "".join(_ESCAPES.get(c, c if c.isprintable() else f"\\u{ord(c):04x}") for c in value)
    return f'"{escaped}"'


Scrub = Callable[[str], str]


def _unchanged(text: str) -> str:
    return text


class _LineFormatter(logging.Formatter):
    """One line per record; its message and traceback pass through ``scrub`` (see :func:`redact_logs`)."""

    scrub: Scrub = staticmethod(_unchanged)

    def _fields(self, record: logging.LogRecord) -> dict[str, str]:
        fields = {
            "ts": _timestamp(record),
            "level": record.levelname.lower().replace("warning", "warn"),
            "logger": record.name,
            "msg": self.scrub(record.getMessage()),
        }
        if record.exc_info:
            error = logging.Formatter().formatException(record.exc_info)
            fields["error"] = self.scrub(error).replace("\n", " | ")
        return fields


class LogfmtFormatter(_LineFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in self._fields(record).items())


class JsonFormatter(_LineFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self._fields(record), ensure_ascii=False)


def redact_logs(scrub: Scrub) -> None:
    """Pass every record's message and traceback through ``scrub`` (the client's redactor) from now on."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, _LineFormatter):
            handler.formatter.scrub = scrub


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    """Configure the root logger; ``level`` is one of LEVELS, ``fmt`` logfmt or json."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"warn": logging.WARNING}.get(level, getattr(logging, level.upper(), logging.INFO)))
    # urllib3 logs full URLs at debug; keep it quiet so nothing sensitive or noisy leaks.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
