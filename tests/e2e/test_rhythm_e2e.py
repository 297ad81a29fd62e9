"""Learned rhythms end to end: the simulator's rhythm scenario and the exporter, both real processes.

The scenario's past runs are history the exporter lists at its first poll, so the hourly, daily and weekday
intervals are learned at once; the durations come from the statuses it fetches while looking back.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.polling.state import decode
from anaplan_simulator.scenario import DEFAULT_SCENARIO
from support.binaries import find_binary
from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.net import http_get
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

SCENARIO = DEFAULT_SCENARIO.with_name("rhythm-scenario.yml")
WS = "8a8b8c8d8e8f8g8i"
MODEL = "9C1E5D0F3B2A4C6E8D0F1A2B3C4D5E6F"
HOURLY, WEEKDAY, DAILY, TWICE = "118000000011", "118000000012", "112000000021", "118000000013"
STOPPED, QUICK, MANUAL = "116000000021", "116000000022", "117000000021"
HOUR, DAY = 3600.0, 86400.0


def _gauge(handle: ExporterHandle, name: str) -> dict[str, float]:
    """The family's values by object ID."""
    return {
        sample.labels["object_id"]: sample.value
        for family in text_string_to_metric_families(handle.metrics())
        if family.name == name
        for sample in family.samples
    }


def _wait(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_learned_intervals_and_usual_duration_on_the_simulator(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running_simulator(SCENARIO, tmp_path) as sim:
        config = simulator_config(
            sim.url,
            targets=[
                {
                    "workspace": WS,
                    "model": MODEL,
                    "processes": "*",
                    "imports": "*",
                    "exports": "*",
                    "actions": "*",
                }
            ],
            state={"path": str(state), "save_interval": 1},
        )
        with running_exporter(config, tmp_path) as exporter:
            intervals = _gauge(exporter, "anaplan_task_learned_interval_seconds")
            assert intervals.keys() == {HOURLY, WEEKDAY, DAILY, STOPPED, QUICK}  # not the manual runs
            assert intervals[HOURLY] == pytest.approx(HOUR, rel=0.01)
            assert intervals[DAILY] == pytest.approx(DAY, rel=0.01)
            assert intervals[WEEKDAY] == pytest.approx(3 * DAY, rel=0.01)  # the weekend gap
            assert intervals[STOPPED] == pytest.approx(HOUR, rel=0.01)
            assert intervals[QUICK] == pytest.approx(20.0, rel=0.01)
            created = _gauge(exporter, "anaplan_task_created_timestamp_seconds")
            assert time.time() - created[STOPPED] > 10 * HOUR  # overdue by any measure

            # Mondays and Thursdays: no interval, but a pattern; a success is next due in the slot after the
            # newest run (all runs succeed), on the next Monday or Thursday at the same minute of the day.
            due = _gauge(exporter, "anaplan_task_success_due_timestamp_seconds")
            assert due.keys() == {TWICE}
            slot = created[TWICE] // 60 * 60  # a slot is its earliest start, to the minute
            assert due[TWICE] - slot in (3 * DAY, 4 * DAY)
            assert time.gmtime(due[TWICE]).tm_wday in (0, 3)
            assert time.gmtime(created[TWICE]).tm_wday in (0, 3)
            clock = time.strftime("%H:%M", time.gmtime(created[TWICE]))
            status, page = http_get(exporter.url + "/")
            assert status == 200 and f"usually Mon, Thu {clock} UTC, next run expected at" in page

            # The hourly process's statuses carry Anaplan's duration (20 s); every history run succeeded, so
            # the look back reads up to 25 of them, a few per poll: enough for a usual duration soon.
            _wait(
                "a usual duration",
                lambda: HOURLY in _gauge(exporter, "anaplan_task_usual_duration_seconds"),
            )
            usual = _gauge(exporter, "anaplan_task_usual_duration_seconds")
            assert usual[HOURLY] == pytest.approx(20.0)
            assert MANUAL not in usual  # actions carry no duration, and none of its runs was seen running
            assert MANUAL not in _gauge(exporter, "anaplan_task_learned_interval_seconds")
            lint = subprocess.run(
                [str(find_binary("promtool")), "check", "metrics"],
                input=exporter.metrics(),
                capture_output=True,
                text=True,
            )
            assert lint.returncode == 0, lint.stdout + lint.stderr
            # What the exporter learned is in its state file, for the next start.
            _wait(
                "the state file with what was learned",
                lambda: (
                    state.exists()
                    and len(decode(state.read_bytes())) == 7
                    and any(
                        key[3] == HOURLY and entry.rhythm.usual_duration is not None
                        for key, entry in decode(state.read_bytes()).items()
                    )
                ),
            )
            saved = {key[3]: entry for key, entry in decode(state.read_bytes()).items()}
            assert len(saved[HOURLY].rhythm.created) == 30 and len(saved[MANUAL].rhythm.created) == 30
            assert saved[HOURLY].rhythm.usual_duration == pytest.approx(20.0)
