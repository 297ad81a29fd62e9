"""Restarts with a state file, the exporter and the simulator as real processes.

A run that fails while the exporter is stopped is counted exactly once after it comes back; restarts with no
runs add nothing; ``kill -9`` in the middle of frequent saves never leaves a file the next start cannot use;
a bad file is one log line and a fresh start; an unwritable path is a one-line start-up error.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.polling.state import decode
from support.exporter import ExporterHandle, exporter_command, running_exporter, simulator_config
from support.simulator import SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
IMPORT = "112000000007"
EVERY = 20.0
OFFSET = 8.0


def _scenario(generate: dict[str, Any] | None = None, **schedule: Any) -> dict[str, Any]:
    model: dict[str, Any] = {
        "id": MODEL,
        "name": "State Model",
        "imports": [{"id": IMPORT, "name": "Sales", **schedule}],
    }
    if generate:
        model["generate"] = generate
    return {
        "users": [{"username": "demo@example.com", "password": "demo"}],
        "workspaces": [
            {
                "id": WS,
                "name": "State Workspace",
                "models": [model],
            }
        ],
    }


def _config(sim: SimulatorHandle, state: Path, **extra: Any) -> dict[str, Any]:
    return simulator_config(
        sim.url,
        targets=[{"workspace": WS, "model": MODEL, "imports": "*"}],
        state={"path": str(state), "save_interval": extra.pop("save_interval", 1)},
        **extra,
    )


def _completions(handle: ExporterHandle, object_id: str = IMPORT) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(handle.metrics()):
        for sample in family.samples:
            if sample.name == "anaplan_task_completions_total" and sample.labels["object_id"] == object_id:
                out[sample.labels["result"]] = sample.value
    return out


def _live_failures_finished(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [
        t
        for t in sim.ground_truth()
        if not t["history"] and t["outcome"] == "failure" and t["object_id"] == IMPORT
    ]


def _wait(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _status_fetches(sim: SimulatorHandle) -> int:
    return sum(sim.stats()["requests"].get("task_status", {}).values())


def test_a_failure_while_the_exporter_is_down_is_counted_exactly_once_after_the_restart(
    tmp_path: Path,
) -> None:
    # Run k is created at OFFSET + k * EVERY and fails a second later: quiet windows of ~19 s in between.
    scenario = _scenario(every=EVERY, offset=OFFSET, duration=1, outcomes=["failure"], history=2)
    state = tmp_path / "state.json"
    with running_simulator(scenario, tmp_path) as sim:
        with running_exporter(_config(sim, state), tmp_path) as first:
            assert _completions(first)["failure"] == 0  # the history is not counted
            _wait("the first live failure", lambda: _completions(first)["failure"] == 1, OFFSET + EVERY)
            assert len(_live_failures_finished(sim)) == 1
        assert first.process.returncode == 0
        saved = decode(state.read_bytes())
        assert [key[3] for key in saved] == [IMPORT]

        # Down while the next run fails.
        _wait(
            "a failure while the exporter is down", lambda: len(_live_failures_finished(sim)) == 2, EVERY + 5
        )
        fetches = _status_fetches(sim)
        with running_exporter(_config(sim, state), tmp_path) as second:
            counted = _completions(second)
            truth = _live_failures_finished(sim)
            assert len(truth) == 2, (
                "a run finished during the check: the scenario's quiet window is too short"
            )
            assert counted == {"success": 0, "failure": 2, "cancelled": 0}
            # Only the run that finished meanwhile was fetched: the rest was known from the state file.
            assert _status_fetches(sim) - fetches == 1
            last_failure = max(t["creation_time"] for t in truth)
            metrics = second.metrics()
            assert "anaplan_task_last_failure_timestamp_seconds{" in metrics
            assert any(
                s.value == pytest.approx(last_failure)
                for f in text_string_to_metric_families(metrics)
                if f.name == "anaplan_task_last_failure_timestamp_seconds"
                for s in f.samples
            )


def test_restarts_without_runs_add_nothing(tmp_path: Path) -> None:
    # History only: the first live run is an hour away.
    scenario = _scenario(every=3600, offset=3600, duration=1, outcomes=["failure", "success"], history=4)
    state = tmp_path / "state.json"
    with running_simulator(scenario, tmp_path) as sim:
        seen = []
        for _ in range(3):
            with running_exporter(_config(sim, state), tmp_path) as handle:
                seen.append(_completions(handle))
                metrics = handle.metrics()
            assert handle.process.returncode == 0
        assert seen == [{"success": 0, "failure": 0, "cancelled": 0}] * 3
        assert "anaplan_task_last_success_timestamp_seconds{" in metrics
        assert "anaplan_task_last_failure_timestamp_seconds{" in metrics


def test_kill_9_during_frequent_saves_never_leaves_an_unusable_file(tmp_path: Path) -> None:
    # 150 busy imports (a run every 2 s each) and a save every 50 ms: the file is rewritten all the time.
    scenario = _scenario(
        every=2,
        duration=1,
        outcomes=["success", "failure"],
        history=3,
        generate={"imports": 150, "every": 2, "duration": 1, "outcomes": ["success", "failure"]},
    )
    state = tmp_path / "state.json"
    rng = random.Random(7)
    with running_simulator(scenario, tmp_path) as sim:
        config = _config(
            sim,
            state,
            save_interval=0.05,
            polling={"idle_interval": 1, "active_interval": 5, "discovery_interval": 600, "workers": 8},
        )
        config["anaplan"]["requests_per_second"] = 1000
        config["anaplan"]["max_concurrency"] = 8
        sizes = []
        for round_ in range(8):
            with running_exporter(config, tmp_path) as handle:
                _wait("a save", state.exists, 10)
                time.sleep(rng.uniform(0.1, 1.0))
                handle.process.send_signal(signal.SIGKILL)
                handle.process.wait(10)
                logs = handle.logs()
            assert "Traceback" not in logs, logs[-3000:]
            assert "unusable" not in logs, f"round {round_}: {logs[-2000:]}"
            # Whatever instant the kill hit, the file is a complete one (the rename is atomic).
            objects = decode(state.read_bytes())
            sizes.append(len(objects))
        assert min(sizes) == 151
        assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
        with running_exporter(config, tmp_path) as handle:  # and a clean start after all that
            assert "anaplan_task_completions_total{" in handle.metrics()
            assert "unusable" not in handle.logs()


def test_a_truncated_file_is_one_log_line_then_a_fresh_start(tmp_path: Path) -> None:
    scenario = _scenario(every=3600, offset=3600, duration=1, history=2)
    state = tmp_path / "state.json"
    with running_simulator(scenario, tmp_path) as sim:
        with running_exporter(_config(sim, state), tmp_path):
            pass
        good = state.read_bytes()
        state.write_bytes(good[: len(good) // 2])
        with running_exporter(_config(sim, state), tmp_path) as handle:
            assert _completions(handle) == {"success": 0, "failure": 0, "cancelled": 0}
            lines = [
                line for line in handle.logs().splitlines() if "state file" in line and "unusable" in line
            ]
            assert len(lines) == 1, handle.logs()
        aside = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.corrupt-")]
        assert len(aside) == 1 and aside[0].read_bytes() == good[: len(good) // 2]
        assert json.loads(state.read_bytes())["version"] == 1  # written afresh


def test_an_unwritable_state_path_is_a_one_line_start_up_error(tmp_path: Path) -> None:
    config = simulator_config(
        "http://127.0.0.1:9",
        targets=[{"workspace": WS, "model": MODEL, "imports": "*"}],
        state={"path": str(tmp_path / "no-such-folder" / "state.json")},
    )
    path = tmp_path / "exporter.yml"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [*exporter_command(), "--config", str(path), "--web.listen-address", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SIM_PASSWORD": "x"},
    )
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no-such-folder/state.json: cannot write the state file: No such file or directory" in lines[0]
