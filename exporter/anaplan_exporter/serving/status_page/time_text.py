"""Durations and relative times as the page writes them: ``12 min 3 s``, ``3 h ago``.

Plain text only (no markup, no escaping), so the functions serve any caller that wants the page's wording.
"""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min 3 s``, ``3 h 5 min``, ``2 d 4 h``."""
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
    """``3 h ago``, ``in 25 min``, ``just now``: the largest whole unit only."""
    delta = now - timestamp
    amount = abs(delta)
    if amount < 1:
        return "just now"
    if amount < 60:
        text = f"{int(amount)} s"
    elif amount < 3600:
        text = f"{int(amount // 60)} min"
    elif amount < 2 * 86400:
        text = f"{int(amount // 3600)} h"
    else:
        text = f"{int(amount // 86400)} d"
    return f"{text} ago" if delta > 0 else f"in {text}"
