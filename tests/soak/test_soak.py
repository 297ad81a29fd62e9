"""``make soak`` for 50 s: the exporter survives every fault and counts every completion once.

Long enough for a restart early in the first period (while runs start) and a quiet period at the end; the
10-minute soak is ``make soak``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The test runs the code of ``make soak`` itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from soak import (
    MEMORY_GROWTH_LIMIT_MB,
    REQUESTS_PER_SECOND,
    SCRAPE_DEADLINE,
    STALL_LIMIT,
    run_soak,
)

pytestmark = pytest.mark.e2e

DURATION = 50.0


@pytest.mark.timeout(180)
def test_short_soak_under_faults(tmp_path: Path) -> None:
    report = run_soak(DURATION, tmp_path)
    summary = report.summary() if report.rss_mb else ""
    assert not report.crashed, report.crashed
    assert report.exporter_exit == 0, summary
    assert report.restarts == 1 and report.finished_while_down > 0, summary
    assert report.scrapes >= (DURATION - report.down_seconds) * 0.8, summary
    assert report.slow_or_failed_scrapes == [], f"over {SCRAPE_DEADLINE} s or failed\n{summary}"
    assert report.longest_stall <= STALL_LIMIT, summary
    assert report.memory_growth_mb <= MEMORY_GROWTH_LIMIT_MB, summary
    assert report.max_requests_per_second <= REQUESTS_PER_SECOND, summary
    assert report.non_get_requests == 0, summary
    assert report.faulty_answers > 0 and report.auth_requests >= 2, f"the faults did not apply\n{summary}"
    assert report.timing_problem == "", report.timing_problem
    assert sum(report.expected.values()) > 0, summary
    assert report.counted == report.expected, summary
    assert report.failures() == []
