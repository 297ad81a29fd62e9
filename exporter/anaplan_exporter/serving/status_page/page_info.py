"""The page's input besides the snapshot (``PageInfo``), with its defaults: the docs' address and the row cap.

The clock comes in as ``PageInfo.now`` so that rendering reads nothing but its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCS_URL = "https://github.com/anaplan-exporter/anaplan-exporter/blob/main/"
"""Where the README and docs/ are read (the alerts' runbook_url points at the same place)."""
MAX_ROWS = 500


@dataclass(frozen=True)
class PageInfo:
    """What the page shows besides the snapshot: the exporter's own facts and the clock."""

    version: str
    now: float
    telemetry_path: str = "/metrics"
    reload_successful: bool | None = None
    """Outcome of the last configuration load or reload; None when unknown (``--once``, tests)."""
    reload_time: float | None = None
    reload_success_time: float | None = None
    docs_url: str = DOCS_URL
    max_rows: int = MAX_ROWS
