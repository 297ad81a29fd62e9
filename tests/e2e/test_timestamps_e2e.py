"""Impossible times, through the real exporter and simulator processes: a task created in the year 10000 and
a state file holding ``last_success: 1e300`` are counted and dropped; the status page and /metrics keep
answering 200, across a restart too, and the bad value never reaches the state file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.net import http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
HOSTILE = "112000000099"
GOOD = "112000000010"
YEAR_10000_MS = 253402300800000

SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "Time Workspace",
            "models": [
                {
                    "id": MODEL,
                    "name": "Time Model",
                    "imports": [
                        {"id": HOSTILE, "name": "Far future", "every": 600, "duration": 2, "history": 2},
                        {"id": GOOD, "name": "Plain", "every": 600, "duration": 2, "history": 2},
                    ],
                }
            ],
        }
    ],
}


def _config(sim: SimulatorHandle, state: Path) -> dict[str, Any]:
    return simulator_config(
        sim.url,
        targets=[{"workspace": WS, "model": MODEL, "imports": "*"}],
        state={"path": str(state), "save_interval": 1},
        polling={"idle_interval": 1, "active_interval": 5, "discovery_interval": 600},
    )


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def _wait(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _ignored(handle: ExporterHandle, source: str) -> float:
    text = handle.metrics()
    return _sample(text, "anaplan_ignored_values_total", source=source, reason="bad_timestamp") or 0.0


def _page(handle: ExporterHandle) -> str:
    status, body = http_get(handle.url + "/?refresh=0")
    assert status == 200, f"/ answered {status}: {body[:300]}\n{handle.logs()[-2000:]}"
    return body


def _saved_objects(state: Path) -> set[str]:
    try:
        return {key.rsplit("/", 1)[1] for key in json.loads(state.read_bytes())["objects"]}
    except (OSError, ValueError):
        return set()


def test_a_task_created_in_the_year_10000_leaves_the_page_and_the_state_file_intact(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running_simulator(SCENARIO, tmp_path) as sim:
        sim.set_faults(path=f"/imports/{HOSTILE}/tasks", creation_time=YEAR_10000_MS)
        with running_exporter(_config(sim, state), tmp_path) as first:
            _wait("a save of both objects", lambda: _saved_objects(state) == {HOSTILE, GOOD})
            page = _page(first)
            assert "Far future" in page and "Plain" in page and "could not be shown" not in page
            _wait("the impossible time to be counted", lambda: _ignored(first, "anaplan") >= 1)
            text = first.metrics()
            assert _sample(text, "anaplan_target_up", object_id=HOSTILE) == 1  # the rest of it is reported
            assert _sample(text, "anaplan_task_created_timestamp_seconds", object_id=GOOD) is not None
            assert _sample(text, "anaplan_task_created_timestamp_seconds", object_id=HOSTILE) is None
        saved = state.read_text()
        assert str(YEAR_10000_MS // 1000) not in saved and "1e+" not in saved

        with running_exporter(_config(sim, state), tmp_path) as second:
            assert "Far future" in _page(second)
            _wait("the impossible time to be counted again", lambda: _ignored(second, "anaplan") >= 1)
            assert _ignored(second, "state_file") == 0  # nothing impossible was saved
            assert "Far future" in _page(second)
        assert str(YEAR_10000_MS // 1000) not in state.read_text()


def test_a_state_file_with_last_success_1e300_is_read_without_it(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running_simulator(SCENARIO, tmp_path) as sim:
        with running_exporter(_config(sim, state), tmp_path):
            _wait("a save of both objects", lambda: _saved_objects(state) == {HOSTILE, GOOD})
        doc = json.loads(state.read_bytes())
        for entry in doc["objects"].values():
            entry["last_success"] = 1e300
        state.write_text(json.dumps(doc))
        assert state.read_text().count('"last_success": 1e+300') == 2

        with running_exporter(_config(sim, state), tmp_path) as handle:
            assert "Far future" in _page(handle)
            assert _ignored(handle, "state_file") == 2
            assert "2 impossible times dropped" in handle.logs()
            _wait("the state file rewritten without 1e300", lambda: "1e+300" not in state.read_text())
            assert "Far future" in _page(handle)
        assert "1e+300" not in state.read_text() and "state.json.corrupt" not in str(list(tmp_path.iterdir()))
