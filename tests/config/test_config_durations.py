"""Durations: seconds as numbers, or strings with units, largest first."""

from __future__ import annotations

import pytest

from anaplan_exporter.config.source import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("2.5", 2.5),
        ("90s", 90.0),
        ("15m", 900.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1w", 604800.0),
        ("1d2h3m4s", 93784.0),
        ("500ms", 0.5),
        ("1m30s250ms", 90.25),
        ("1.5h", 5400.0),
        (" 5m ", 300.0),
    ],
)
def test_valid(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "",
        "m",
        "15x",
        "1h 30m",
        "30m1h",
        "1s1s",
        "-5s",
        "1y",
        "1.h",
        -1,
        float("nan"),
        float("inf"),
        True,
        None,
        [1],
    ],
)
def test_invalid(value: object) -> None:
    with pytest.raises(ValueError, match=r"expected a"):
        parse_duration(value)
