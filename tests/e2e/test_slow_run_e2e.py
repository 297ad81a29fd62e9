"""A run far slower than usual, through the simulator and the exporter as real processes: the exporter learns
the usual duration from the history it already reads, and while the slow run is going its duration passes
twice the usual, which is what ``AnaplanTaskSlow`` compares (the rule itself is tested with promtool)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

PROCESS = "118000000002"
USUAL, FACTOR, OFFSET = 2.0, 4.0, 14.0
SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "name": "Slow Workspace",
            "models": [
                {
                    "name": "Slow Model",
                    "processes": [
                        {
                            "id": PROCESS,
                            "name": "Nightly Load",
                            "steps": [{"id": "112000000007", "name": "Load", "type": "IMPORT"}],
                            "every": 12,
                            "duration": USUAL,
                            "offset": OFFSET,
                            "history": 12,
                            "slow_every": 10,  # live run 0 is the slow one; the history is all usual
                            "slow_factor": FACTOR,
                        }
                    ],
                }
            ],
        }
    ],
}


def gauge(exporter: ExporterHandle, name: str, **labels: str) -> float | None:
    for line in exporter.metrics().splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_slow_run_passes_twice_its_usual_duration_while_it_runs(tmp_path: Path) -> None:
    with running_simulator(SCENARIO, tmp_path) as sim:
        started = time.time()
        config = simulator_config(
            sim.url, targets=[{"workspace": "Slow Workspace", "model": "Slow Model", "processes": "*"}]
        )
        config["polling"] = {"idle_interval": 1, "active_interval": 5}
        with running_exporter(config, tmp_path) as exporter:
            deadline = started + OFFSET - 1
            usual = None
            while time.time() < deadline and usual is None:  # from the history, before the slow run
                usual = gauge(exporter, "anaplan_task_usual_duration_seconds", object_id=PROCESS)
                time.sleep(0.3)
            assert usual is not None, "no usual duration before the slow run"
            assert usual == pytest.approx(USUAL, abs=0.01)
            seen: list[float] = []
            # The run ends at OFFSET + USUAL * FACTOR; a running task is looked at every 5 s, so its end
            # shows up to 5 s later: wait for it rather than for a fixed time.
            ended = False
            while not ended and time.time() < started + OFFSET + USUAL * FACTOR + 5 + 10:
                if gauge(exporter, "anaplan_task_state", object_id=PROCESS, state="IN_PROGRESS") == 1:
                    seen.append(gauge(exporter, "anaplan_task_duration_seconds", object_id=PROCESS) or 0.0)
                elif seen:
                    ended = True
                time.sleep(0.3)
            assert ended, f"the slow run was never seen to end: {seen}"
            final = gauge(exporter, "anaplan_task_duration_seconds", object_id=PROCESS)
            after = gauge(exporter, "anaplan_task_usual_duration_seconds", object_id=PROCESS)
        truth = sim.ground_truth()
    (slow,) = [t for t in truth if not t["history"] and t["creation_time"] < started + OFFSET + 1]
    assert slow["finish_time"] - slow["start_time"] == pytest.approx(USUAL * FACTOR, abs=0.01)
    assert max(seen) > 2 * usual, f"the slow run never showed past twice its usual duration: {seen}"
    assert final == pytest.approx(USUAL * FACTOR, abs=0.01)  # Anaplan's own duration once it ended
    assert after == pytest.approx(USUAL, abs=0.01)  # one slow run does not move the usual (p90 of 13)
