"""The ``anaplan-simulator`` command: default scenario, clean stop, bad input, throughput."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from anaplan_simulator.scenario import parse_scenario
from support.simulator import DEFAULT_PASSWORD, running_simulator, serve_in_thread


def test_default_scenario_serves_the_demo_and_stops_cleanly_on_sigterm() -> None:
    with running_simulator() as sim:
        auth = "Basic " + base64.b64encode(f"demo@example.com:{DEFAULT_PASSWORD}".encode()).decode()
        login = requests.post(sim.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
        token = login.json()["tokenInfo"]["tokenValue"]
        headers = {"Authorization": f"AnaplanAuthToken {token}"}
        path = (
            "/workspaces/8a8b8c8d8e8f8g8i/models/75A40874E6B64FA3AE0743278996850F/actions/117000000019/tasks"
        )
        listed = requests.get(sim.api_url + path, headers=headers, timeout=10).json()
        assert listed["tasks"][0]["taskState"] == "COMPLETE"  # one history run
        sim.process.send_signal(signal.SIGTERM)
        assert sim.process.wait(10) == 0


def test_bad_scenario_exits_2_with_a_one_line_error(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yml"
    scenario.write_text("workspaces:\n  - name: W\n    id: NOT-VALID\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "anaplan_simulator",
            "--scenario",
            str(scenario),
            "--listen",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert (
        "bad.yml: workspaces[0].id: must be 1-32 lowercase letters or digits, got 'NOT-VALID'"
        in result.stderr
    )


def test_ten_thousand_objects_and_hundreds_of_requests_per_second() -> None:
    ws, model = "abc", "75A40874E6B64FA3AE0743278996850F"
    generate = {"processes": 7000, "imports": 3000, "steps": 5, "every": 600, "duration": 60, "history": 2}
    scenario = parse_scenario(
        {
            "users": [{"username": "u", "password": "p"}],
            "workspaces": [
                {"id": ws, "name": "W", "models": [{"id": model, "name": "M", "generate": generate}]}
            ],
        }
    )
    with serve_in_thread(scenario) as server:
        auth = "Basic " + base64.b64encode(b"u:p").decode()
        login = requests.post(server.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
        headers = {"Authorization": "AnaplanAuthToken " + login.json()["tokenInfo"]["tokenValue"]}
        base = f"{server.url}/2/0/workspaces/{ws}/models/{model}"
        listed = requests.get(f"{base}/processes", headers=headers, timeout=30).json()
        assert listed["meta"]["paging"] == {
            "currentPageSize": 5000,
            "offset": 0,
            "totalSize": 7000,
            "next": f"{base}/processes?offset=5000&limit=5000",
        }
        errors: list[str] = []
        done = [0]
        lock = threading.Lock()

        def worker(start: int) -> None:
            session = requests.Session()
            session.headers.update(headers)
            for i in range(start, start + 150):
                obj = f"118{i % 7000 + 1:09d}"
                tasks = session.get(f"{base}/processes/{obj}/tasks", timeout=10)
                task_id = tasks.json()["tasks"][-1]["taskId"]
                status = session.get(
                    f"{base}/processes/{obj}/tasks/{task_id}?includeProcessDetails=true", timeout=10
                )
                if tasks.status_code != 200 or status.status_code != 200:
                    errors.append(f"{obj}: {tasks.status_code} {status.status_code}")
                with lock:
                    done[0] += 2

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(n * 997,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        assert not errors
        assert done[0] == 1200
        # On two idle cores this runs at several hundred requests/s; the bound leaves room for a busy machine.
        assert done[0] / elapsed > 100, f"{done[0] / elapsed:.0f} requests/s"
