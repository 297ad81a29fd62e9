"""The exporter as a real process against the simulator as a real process: metrics match the ground truth.

Every object runs every 20 s and all runs finish within a few seconds of each other, so there are quiet
windows in which nothing changes; the test compares the exporter's counters with the simulator's ground
truth in such a window, while 429 bursts, early token expiry and latency are switched on.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.binaries import find_binary
from support.exporter import exporter_command, running_exporter, simulator_config
from support.simulator import DEFAULT_PASSWORD, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"

SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "E2E Workspace",
            "models": [
                {
                    "id": MODEL,
                    "name": "E2E Model",
                    "processes": [
                        {
                            "id": "118000000002",
                            "name": "Nightly Load",
                            "steps": [{"id": "117000000015", "name": "Clear"}, {"id": "112000000007"}],
                            "step_durations": [1, 2],
                            "every": 20,
                            "offset": 6,
                            "outcomes": ["failure_dump", "success"],
                            "fail_step": 2,
                            "history": 2,
                        },
                        {
                            "id": "118000000003",
                            "name": "Long Close",
                            "steps": [{"id": "112000000007"}, {"id": "116000000002"}],
                            "step_durations": [300, 300],
                            "every": 1000,
                            "offset": 6,
                        },
                    ],
                    "imports": [
                        {
                            "id": "112000000007",
                            "name": "Sales Import",
                            "rows": {"hierarchy": "Sales", "total": 100, "success": 90, "ignored": 10},
                            "every": 20,
                            "offset": 7,
                            "duration": 1,
                            "outcomes": ["success", "failure"],
                            "history": 1,
                        }
                    ],
                    "exports": [
                        {
                            "id": "116000000002",
                            "name": "Revenue Export",
                            "every": 20,
                            "offset": 7,
                            "duration": 2,
                            "cancelling": 1,
                            "outcomes": ["cancelled", "success"],
                        }
                    ],
                    "actions": [
                        {
                            "id": "117000000019",
                            "name": "Delete Old",
                            "every": 20,
                            "offset": 8,
                            "duration": 1,
                            "history": 3,
                        }
                    ],
                }
            ],
        }
    ],
    "faults": {
        "latency": {"min": 0.0, "max": 0.02},
        "rate_limit": {"every": 9, "for": 1, "retry_after": 1},
        "token_early_expiry": 7,
    },
}

CHECK_AT = 40.0
"""Seconds after the simulator started: inside the quiet window after the second round of runs."""


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def pick(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, (name, labels)
    return found[0] if found else None


def _finished_newest_tasks(truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for task in truth:
        if (
            task["object_id"] not in newest
            or task["creation_time"] > newest[task["object_id"]]["creation_time"]
        ):
            newest[task["object_id"]] = task
    return [task for task in newest.values() if task["state"] in ("COMPLETE", "CANCELLED")]


def _metrics_once_caught_up(read: Callable[[], str], truth: list[dict[str, Any]], deadline: float) -> str:
    """/metrics once every finished newest task shows finished (a busy machine can delay the last poll by a
    second or two; the quiet window lasts until the next round at 46 s), or the last read at the deadline."""
    expected = _finished_newest_tasks(truth)
    while True:
        text = read()
        samples = parse(text)
        if time.time() >= deadline or all(
            pick(
                samples, "anaplan_task_info", task_id=t["task_id"], object_id=t["object_id"], state=t["state"]
            )
            == 1
            for t in expected
        ):
            return text
        time.sleep(0.5)


def exporter_config(sim_url: str) -> dict[str, Any]:
    return simulator_config(
        sim_url,
        targets=[
            {
                "workspace": "E2E Workspace",
                "model": MODEL,
                "processes": "*",
                "imports": ["Sales Import"],
                "exports": ["116000000002"],
                "actions": [{"id": "117000000019", "expected_every": "20m", "max_duration": 60}],
            }
        ],
    )


def test_metrics_match_the_simulators_ground_truth(tmp_path: Path) -> None:
    promtool = find_binary("promtool")
    with running_simulator(SCENARIO, tmp_path) as sim:
        sim_started = time.time() - sim.stats()["uptime_seconds"]
        with running_exporter(exporter_config(sim.url), tmp_path) as exporter:
            ready_at = time.time()
            assert ready_at - sim_started < 6, "exporter took too long to start: the scenario's timing is off"
            time.sleep(max(0.0, sim_started + CHECK_AT - time.time()))
            truth = sim.ground_truth()
            text = _metrics_once_caught_up(exporter.metrics, truth, deadline=sim_started + CHECK_AT + 4)
            stats = sim.stats()
            assert exporter.process.poll() is None, exporter.logs()[-2000:]
        logs = exporter.logs()
        assert exporter.process.returncode == 0, logs[-2000:]

    samples = parse(text)
    live = [t for t in truth if not t["history"] and t["outcome"] is not None]
    assert all(t["finish_time"] > ready_at for t in live), "a run finished before the first poll"
    assert all(t["finish_time"] < sim_started + CHECK_AT - 6 for t in live), (
        "no quiet window before the check"
    )

    # Completions: exactly the live runs, history not counted, each run once.
    expected = Counter((t["object_id"], t["outcome"]) for t in live)
    assert sum(expected.values()) >= 7
    for object_id in ("118000000002", "118000000003", "112000000007", "116000000002", "117000000019"):
        for result in ("success", "failure", "cancelled"):
            got = pick(samples, "anaplan_task_completions_total", object_id=object_id, result=result)
            assert got == expected[(object_id, result)], (object_id, result, got, expected)

    # Newest task per object: state, success, dump, creation time.
    for object_id in ("118000000002", "112000000007", "116000000002", "117000000019"):
        newest = max((t for t in truth if t["object_id"] == object_id), key=lambda t: t["creation_time"])
        labels = {"object_id": object_id}
        assert pick(samples, "anaplan_task_state", state=newest["state"], **labels) == 1
        assert pick(samples, "anaplan_task_info", task_id=newest["task_id"], **labels) == 1
        assert pick(samples, "anaplan_task_created_timestamp_seconds", **labels) == pytest.approx(
            newest["creation_time"], abs=0.001
        )
        if newest["state"] == "COMPLETE":
            assert pick(samples, "anaplan_task_success", **labels) == (newest["outcome"] == "success")
            assert pick(samples, "anaplan_task_failure_dump_available", **labels) == newest["failure_dump"]

    # The failed process run and its dump, then the successful one; step names from the metadata.
    process = {"object_id": "118000000002"}
    runs = sorted((t for t in live if t["object_id"] == "118000000002"), key=lambda t: t["creation_time"])
    assert [r["outcome"] for r in runs] == ["failure", "success"]
    assert runs[0]["failure_dump"]
    assert pick(samples, "anaplan_task_last_failure_timestamp_seconds", **process) == pytest.approx(
        runs[0]["creation_time"], abs=0.001
    )
    assert pick(samples, "anaplan_task_last_success_timestamp_seconds", **process) == pytest.approx(
        runs[1]["creation_time"], abs=0.001
    )
    for step in runs[1]["steps"]:
        step_labels = {**process, "step_id": step["object_id"], "step_name": step["name"]}
        assert pick(samples, "anaplan_task_step_success", **step_labels) == 1
        assert pick(samples, "anaplan_task_step_failure_dump_available", **step_labels) == 0
        assert pick(samples, "anaplan_task_step_duration_seconds", **step_labels) == pytest.approx(
            step["duration"], abs=0.01
        )
    assert pick(samples, "anaplan_task_duration_seconds", **process) == pytest.approx(3.0, abs=0.01)

    # The long run is in progress, with a progress ratio and a growing duration.
    long_run = {"object_id": "118000000003"}
    assert pick(samples, "anaplan_task_state", state="IN_PROGRESS", **long_run) == 1
    progress = pick(samples, "anaplan_task_progress_ratio", **long_run)
    assert progress is not None and 0 < progress < 1
    duration = pick(samples, "anaplan_task_duration_seconds", **long_run)
    assert duration is not None and 20 < duration < 40

    # Import row counts of the newest (failed) import run.
    rows = {"object_id": "112000000007"}
    assert pick(samples, "anaplan_import_rows", outcome="total", **rows) == 100
    failed_rows = pick(samples, "anaplan_import_rows", outcome="failed", **rows)
    assert failed_rows is not None and failed_rows > 0

    # Configured expectations are exported; names were resolved.
    action = {"object_id": "117000000019", "object_name": "Delete Old", "workspace_name": "E2E Workspace"}
    assert pick(samples, "anaplan_task_expected_interval_seconds", **action) == 1200
    assert pick(samples, "anaplan_task_max_duration_seconds", **action) == 60

    # Faults were met and survived: 429s retried, tokens renewed, nothing written to Anaplan.
    assert (pick(samples, "anaplan_api_retries_total", reason="rate_limited") or 0) > 0
    assert (pick(samples, "anaplan_api_requests_total", endpoint="list_tasks", code="429") or 0) > 0
    renewals = sum(
        v for (n, ls), v in samples.items() if n == "anaplan_api_requests_total" and ("code", "401") in ls
    )
    assert renewals > 0, "the token never expired mid-run: the scenario's fault did not apply"
    assert pick(samples, "anaplan_up") == 1
    assert all(v == 1 for (n, _), v in samples.items() if n == "anaplan_target_up")
    assert stats["non_get_integration_requests"] == 0

    # The exposition is clean for promtool, and secrets never reached the logs.
    lint = subprocess.run([str(promtool), "check", "metrics"], input=text, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "demo" not in logs.replace("demo@example.com", "")


def test_sigterm_stops_the_exporter_within_seconds(tmp_path: Path) -> None:
    with running_simulator(None, tmp_path) as sim:
        config = exporter_config(sim.url)
        config["targets"] = [{"workspace": WS, "model": MODEL, "processes": "*"}]
        with running_exporter(config, tmp_path, env={"SIM_PASSWORD": DEFAULT_PASSWORD}) as exporter:
            sim.set_faults(latency={"min": 3, "max": 3})  # requests in flight when the signal comes
            time.sleep(1)
            started = time.monotonic()
            exporter.process.send_signal(signal.SIGTERM)
            exporter.process.wait(timeout=10)
            assert time.monotonic() - started < 5, exporter.logs()[-3000:]
            assert exporter.process.returncode == 0


def test_once_prints_the_exposition_and_fails_on_an_object_anaplan_does_not_confirm(tmp_path: Path) -> None:
    with running_simulator(None, tmp_path) as sim:
        config = exporter_config(sim.url)
        config["targets"] = [{"workspace": WS, "model": MODEL, "processes": "*", "imports": "*"}]
        path = tmp_path / "ok.yml"
        import yaml

        path.write_text(yaml.safe_dump(config))
        env = {"SIM_PASSWORD": DEFAULT_PASSWORD, "PATH": "/usr/bin:/bin"}
        ok = subprocess.run(
            [*exporter_command(), "--config", str(path), "--once"], capture_output=True, text=True, env=env
        )
        assert ok.returncode == 0, ok.stderr
        assert 'anaplan_task_state{model_id="75A40874E6B64FA3AE0743278996850F"' in ok.stdout
        assert "anaplan_up 1.0" in ok.stdout

        config["targets"][0]["actions"] = ["117999999999"]  # not in the model: an empty task list
        path.write_text(yaml.safe_dump(config))
        bad = subprocess.run(
            [*exporter_command(), "--config", str(path), "--once"], capture_output=True, text=True, env=env
        )
        assert bad.returncode == 1  # a check fails on it, though anaplan_up leaves it to its own series
        assert "anaplan_up 1.0" in bad.stdout
        assert (
            'object_id="117999999999",object_name="117999999999",object_type="action",reason="not_found"'
            in (bad.stdout)
        )
        assert "--once: Anaplan does not confirm 1 object(s): action 117999999999" in bad.stderr


def test_bad_config_gives_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("anaplan:\n  auth:\n    method: basic\n    username: u\n    pasword: x\ntargets: []\n")
    result = subprocess.run(
        [*exporter_command(), "--config", str(path), "--check-config"], capture_output=True, text=True
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and "pasword" in lines[0]
    assert "Traceback" not in result.stderr


def test_check_config_accepts_the_example_file() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "anaplan-exporter.yml"
    result = subprocess.run(
        [*exporter_command(), "--config", str(example), "--check-config"],
        capture_output=True,
        text=True,
        env={"ANAPLAN_PASSWORD": "not-a-real-password", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_demo_mode_serves_live_metrics(tmp_path: Path) -> None:
    from support.net import free_port, http_get, wait_http

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "anaplan_exporter", "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'object_name="Nightly Load"' in body
        assert "anaplan_up 1.0" in body
        status, page = http_get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "Nightly Load" in page and 'href="metrics"' in page
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
