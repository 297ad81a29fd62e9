"""Times and durations as the page writes them: ISO 8601 in UTC, ``12 min 3 s``, ``3 h ago``.

Plain text only (no markup, no escaping), so the functions serve any caller that wants the page's wording.
None of them raises, whatever the float: a time no calendar can hold is ``invalid time``, a NaN or infinite
duration ``unknown``.
"""

from __future__ import annotations

import datetime
import math

INVALID_TIME = "invalid time"
_CENTURY = 100 * 365 * 86400
"""Longer durations are written ``over 100 years``, not as a number of days hundreds of digits long."""


def readable_time(timestamp: float) -> bool:
    """True if ``timestamp`` is a moment ``iso_time`` can write (years 1 to 9999 UTC)."""
    try:
        datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError, TypeError):
        return False
    return True


def iso_time(timestamp: float) -> str:
    """ISO 8601 in UTC, to the second: ``2026-12-01T15:14:48Z``; ``invalid time`` beyond the calendar."""
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError, TypeError):
        return INVALID_TIME
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
