"""The status page's small shared pieces: escaping, times and durations in words, badges, runbook links.

Every section module (``page``, ``cloudworks``) draws with these, so that a time, a badge or an alert's
runbook link looks the same wherever it is shown.
"""

from __future__ import annotations

import datetime
import html
import math

from ...anaplan.models import INVALID_TIME, iso_time, readable_time
from ..runbook import RUNBOOK_PATH

# --- shared HTML pieces ---


def escape(value: object) -> str:
    """``value`` as text safe in HTML content and in quoted attribute values."""
    return html.escape(str(value), quote=True)


def when(timestamp: float | None, now: float, never: str = "never") -> str:
    """A ``<time>`` in UTC with its relative age, or ``never`` (muted) when there is no timestamp."""
    if timestamp is None:
        return f'<span class="muted">{escape(never)}</span>'
    if not readable_time(timestamp):
        return f'<span class="muted">{INVALID_TIME}</span>'
    iso = iso_time(timestamp)
    ago = escape(relative_time(timestamp, now))
    return f'<time datetime="{iso}">{iso}</time> <span class="rel">{ago}</span>'


def day_and_time(timestamp: float, now: float) -> str:
    """A ``<time>`` written as a slot of a weekly pattern, ``Mon 06:00 UTC``, with its relative age."""
    if not readable_time(timestamp):
        return f'<span class="muted">{INVALID_TIME}</span>'
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    ago = escape(relative_time(timestamp, now))
    return (
        f'<time datetime="{iso_time(timestamp)}">{moment.strftime("%a %H:%M UTC")}</time> '
        f'<span class="rel">{ago}</span>'
    )


def badge(kind: str, text: str) -> str:
    return f'<span class="badge {kind}">{escape(text)}</span>'


class Links:
    """Links into the project's documentation at ``docs_url``, and into the runbook by alert.

    The runbook is the exporter's own page, relative like the metrics link, so it opens wherever the status
    page does (also behind a proxy's path prefix), at the anchor the alerts' ``runbook_url`` uses.
    """

    def __init__(self, docs_url: str) -> None:
        self.docs = docs_url
        self.runbook = RUNBOOK_PATH.lstrip("/")

    def alert(self, name: str) -> str:
        return f'<a class="runbook" href="{escape(self.runbook)}#{name.lower()}">runbook: {name}</a>'


# --- times and durations, as plain text ---


_CENTURY = 100 * 365 * 86400
"""Longer durations are written ``over 100 years``, not as a number of days hundreds of digits long."""


def time_of_day(timestamp: float) -> str:
    """``15:14:48 UTC``: the time in UTC, to the second, without the date."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%H:%M:%S UTC")


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min 3 s``, ``3 h 5 min``, ``2 d 4 h``; ``unknown`` for NaN and infinities."""
    if not math.isfinite(seconds):
        return "unknown"
    if seconds > _CENTURY:
        return "over 100 years"
    total = int(max(0.0, seconds))
    if total < 60:
        return f"{total} s"
    if total < 3600:
        minutes, secs = divmod(total, 60)
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    if total < 86400:
        hours, rest = divmod(total, 3600)
        return f"{hours} h {rest // 60} min" if rest // 60 else f"{hours} h"
    days, rest = divmod(total, 86400)
    return f"{days} d {rest // 3600} h" if rest // 3600 else f"{days} d"


def relative_time(timestamp: float, now: float) -> str:
    """``3 h ago``, ``in 25 min``, ``just now``: the largest whole unit only; ``at an unknown time`` when
    either time is NaN or infinite."""
    delta = now - timestamp
    if not math.isfinite(delta):
        return "at an unknown time"
    amount = abs(delta)
    if amount < 1:
        return "just now"
    if amount > _CENTURY:
        text = "over 100 years"
    elif amount < 60:
        text = f"{int(amount)} s"
    elif amount < 3600:
        text = f"{int(amount // 60)} min"
    elif amount < 2 * 86400:
        text = f"{int(amount // 3600)} h"
    else:
        text = f"{int(amount // 86400)} d"
    return f"{text} ago" if delta > 0 else f"in {text}"
