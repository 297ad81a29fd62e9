"""Objects at the edge of AnaplanTaskOverdue, and whether each is overdue: one table for the status page's
decision (tests/serving/status_page/test_overdue.py) and for the rule on promtool
(tests/monitoring/test_overdue_page_agrees.py), so that the two cannot drift apart unnoticed.

The clock is promtool's: its time starts at 0, so ``NOW`` is 600 minutes in; every time is a whole number of
seconds before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.calendar_rhythm import WeeklySlots
from anaplan_exporter.snapshot import ObjectRef, ObjectStatus

NOW = 36_000.0
STARTED = NOW - 2 * 3600
"""When the exporter's process started (``process_start_time_seconds``)."""
STARTED_FOR_1_5 = (NOW - STARTED) / 1.5
"""An ``expected_every`` that the exporter's uptime is exactly 1.5 times."""
HOUR = 3600.0
MON_THU_0600 = WeeklySlots((6 * 3600, 3 * 86400 + 6 * 3600))
WORKSPACE_ID, MODEL_ID = "8a81b09d5e8c6f27015ece3402487d33", "75A40874E6B64FA3AE0743278996850F"


@dataclass(frozen=True)
class Case:
    name: str
    obj: ObjectStatus
    overdue: bool


def _object(object_id: str, expected_every: float | None = None, **status: object) -> ObjectStatus:
    ref = ObjectRef(
        WORKSPACE_ID,
        "Finance",
        MODEL_ID,
        "FP&A Plan",
        ObjectType.PROCESS,
        object_id,
        f"Process {object_id}",
        expected_every=expected_every,
    )
    return replace(ObjectStatus(ref, up=True, last_poll_time=NOW - 5), **status)  # type: ignore[arg-type]


def _cases(*rows: tuple[str, bool, float | None, dict[str, object]]) -> tuple[Case, ...]:
    """``(name, overdue, expected_every, status fields)`` rows, numbered 118000000010 on."""
    return tuple(
        Case(name, _object(f"1180000000{10 + i}", every, **status), overdue)
        for i, (name, overdue, every, status) in enumerate(rows)
    )


_PATTERN = {"learned_pattern": MON_THU_0600}
CASES = _cases(
    ("configured, 1.5 intervals to the second", True, HOUR, {"last_success_time": NOW - 1.5 * HOUR}),
    ("configured, a success just in time", False, HOUR, {"last_success_time": NOW - 1.5 * HOUR + 1}),
    (
        "learned interval, last success 3 h ago",
        True,
        None,
        {"learned_interval_seconds": HOUR, "last_success_time": NOW - 3 * HOUR},
    ),
    (
        "learned interval, last success 1 h ago",
        False,
        None,
        {"learned_interval_seconds": HOUR, "last_success_time": NOW - HOUR},
    ),
    (
        "configured wins over a shorter learned interval",
        False,
        HOUR,
        {"learned_interval_seconds": 600.0, "last_success_time": NOW - HOUR},
    ),
    ("never succeeded: counted from the exporter's start", True, None, {"learned_interval_seconds": HOUR}),
    ("never succeeded, configured, exporter up 1.5 intervals", True, STARTED_FOR_1_5, {}),
    ("never succeeded, configured longer than the exporter ran", False, 10 * HOUR, {}),
    (
        "pattern, due 2 h ago, usually 10 min",
        True,
        None,
        {
            **_PATTERN,
            "success_due_time": NOW - 2 * HOUR,
            "usual_duration_seconds": 600.0,
            "last_success_time": NOW - 80 * HOUR,
        },
    ),
    (
        "pattern, an hour and the usual duration after, to the second",
        True,
        None,
        {
            **_PATTERN,
            "success_due_time": NOW - HOUR - 600,
            "usual_duration_seconds": 600.0,
            "last_success_time": NOW - 70 * HOUR,
        },
    ),
    (
        "pattern, a second before that",
        False,
        None,
        {
            **_PATTERN,
            "success_due_time": NOW - HOUR - 599,
            "usual_duration_seconds": 600.0,
            "last_success_time": NOW - 70 * HOUR,
        },
    ),
    (
        "pattern without a usual duration, an hour after",
        True,
        None,
        {**_PATTERN, "success_due_time": NOW - HOUR, "last_success_time": NOW - 70 * HOUR},
    ),
    (
        "pattern, due later today",
        False,
        None,
        {**_PATTERN, "success_due_time": NOW + 5 * HOUR, "last_success_time": NOW - 60 * HOUR},
    ),
    ("pattern, never succeeded", True, None, {**_PATTERN, "success_due_time": NOW - 2 * HOUR}),
    (
        "configured wins over a pattern",
        False,
        24 * HOUR,
        {**_PATTERN, "success_due_time": NOW - 5 * HOUR, "last_success_time": NOW - 8 * HOUR},
    ),
    ("nothing configured or learned", False, None, {"last_success_time": NOW - 9 * HOUR}),
    (
        "down, learned interval: overdue all the same",
        True,
        None,
        {"up": False, "learned_interval_seconds": HOUR, "last_success_time": NOW - 3 * HOUR},
    ),
)
