"""The range of times the exporter believes; any other time from Anaplan or the state file is absent.

A task created in the year 10000, before 1970 or at ``1e300`` is not a run to report but garbage; passed on,
it breaks date formatting (the status page) and every calculation it enters (durations, rhythms, alerts).
So each time is checked where it comes in: a time before 2000-01-01 UTC, more than a day ahead of the clock,
or not a finite number at all is dropped there and counted, and never stored.
"""

from __future__ import annotations

import math

EARLIEST = 946_684_800.0
"""2000-01-01T00:00:00Z: Anaplan's Integration API did not exist before, so no task is older."""
FUTURE_SLACK = 86_400.0
"""How far ahead of the clock a time may be (clock skew between Anaplan and this host), in seconds."""
BAD_TIMESTAMP = "bad_timestamp"
"""The counted reason of a dropped time (``anaplan_ignored_values_total``)."""


def plausible(seconds: float, now: float) -> bool:
    """True for a Unix time from 2000-01-01 up to a day after ``now``; False for NaN and infinities too."""
    return math.isfinite(seconds) and EARLIEST <= seconds <= now + FUTURE_SLACK


class TimeCheck:
    """Checks the times of one document (an Anaplan answer, a state file) against the clock ``now``.

    ``refused`` counts the times dropped, so the caller can report them once the document is read.
    """

    def __init__(self, now: float) -> None:
        self.now = now
        self.refused = 0

    def __call__(self, seconds: float | None) -> float | None:
        """``seconds`` if it is a plausible time, else None (counted); None itself passes uncounted."""
        if seconds is None:
            return None
        if plausible(seconds, self.now):
            return seconds
        self.refused += 1
        return None

    def refuse(self) -> None:
        """Count a time that was present but not a number at all."""
        self.refused += 1
