"""``anaplan-exporter --check-tenant`` as a real process against the real simulator: good objects, a wrong ID,
an object named twice and a model without access give one table and exit 1, and the simulator saw one
login and GETs only, within the request budget."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.exporter import exporter_command, simulator_config
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

WS, MODEL, CLOSED = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F", "11111111111111111111111111111111"
RATE = 3
_STEP = [{"id": "117000000015", "name": "Clear", "type": "DELETE_BY_SELECTION"}]
SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "Demo Workspace",
            "models": [
                {
                    "id": MODEL,
                    "name": "Demo Planning",
                    "processes": [
                        {
                            "id": "118000000002",
                            "name": "Nightly Load",
                            "steps": _STEP,
                            "step_durations": [2],
                            "every": 3600,
                            "offset": 1800,
                            "history": 4,
                        }
                    ],
                    "imports": [
                        {
                            "id": "112000000007",
                            "name": "Employees",
                            "every": 3600,
                            "duration": 600,
                            "history": 2,
                        },
                        {"id": "112000000009", "name": "Sales"},
                    ],
                },
                {
                    "id": CLOSED,
                    "name": "Payroll",
                    "no_access": True,
                    "processes": [{"id": "118000000002", "name": "Pay run", "steps": _STEP}],
                },
            ],
        }
    ],
}
TARGETS = [
    {
        "workspace": WS,
        "model": "Demo Planning",
        "processes": ["Nightly Load", "118000000099", "118000000002"],
        "imports": "*",
    },
    {"workspace": "Demo Workspace", "model": CLOSED, "processes": ["118000000002"]},
]


def _rows(stdout: str) -> list[tuple[str, str, str, str]]:
    """(result, check, item, detail) of each table row, split on the header's column starts."""
    lines = stdout.splitlines()
    header = lines[0]
    starts = [header.index(name) for name in ("RESULT", "CHECK", "ITEM", "DETAIL")]
    rows = []
    for line in lines[1:]:
        if not line.strip():
            break
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line) + 1], strict=True)]
        rows.append((cells[0], cells[1], cells[2], cells[3]))
    return rows


@pytest.mark.timeout(60)
def test_the_tenant_check_reports_problems_in_one_table_and_sends_only_gets(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.json"
    state.parent.mkdir()
    with running_simulator(SCENARIO, tmp_path) as sim:
        config = simulator_config(sim.url, targets=TARGETS, state={"path": str(state)})
        config["anaplan"]["requests_per_second"] = RATE
        config["polling"]["idle_interval"] = 60
        config["cloudworks"] = {"enabled": True}
        path = tmp_path / "exporter.yml"
        path.write_text(yaml.safe_dump(config))
        before = sim.stats()
        result = subprocess.run(
            [*exporter_command(), "--config", str(path), "--check-tenant"],
            capture_output=True,
            text=True,
            env={"SIM_PASSWORD": "demo", "PATH": "/usr/bin:/bin"},
            timeout=50,
        )
        after = sim.stats()
    print(result.stdout)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    rows = _rows(result.stdout)
    by_item = {item: (verdict, check, detail) for verdict, check, item, detail in rows}

    assert by_item["basic as demo@example.com"][0] == "ok"
    assert "token valid until" in by_item["basic as demo@example.com"][2]
    assert by_item["targets[0] Demo Workspace / Demo Planning"][0] == "ok"
    verdict, check, detail = by_item["Nightly Load (118000000002)"]
    assert (verdict, check) == ("ok", "process")
    assert detail.startswith("4 runs listed; newest ") and detail.endswith("COMPLETE")
    running = by_item["Employees (112000000007)"][2]  # two in its history, one started with the simulator
    assert running.startswith("3 runs listed") and running.endswith("IN_PROGRESS")
    assert (
        by_item["Sales (112000000009)"][:1] == ("ok",)
        and by_item["Sales (112000000009)"][2] == "no runs listed"
    )

    wrong = by_item["targets[0].processes '118000000099'"]
    assert wrong[0] == "FAIL" and "not among the model's 1 processes" in wrong[2]
    twice = by_item["targets[0].processes '118000000002'"]
    assert twice[0] == "warn" and "the same process as targets[0].processes 'Nightly Load'" in twice[2]
    closed = by_item["targets[1] Demo Workspace / Payroll"]
    assert closed[0] == "FAIL" and closed[2].startswith("NO ACCESS: the model is listed, but")

    budget = next(row for row in rows if row[1] == "budget")
    assert budget[0] == "ok" and budget[2] == f"5 objects every 60 s at {RATE} req/s"
    cloudworks = next(row for row in rows if row[1] == "cloudworks")
    assert cloudworks[0] == "ok" and cloudworks[3] == "readable: 0 integrations, 0 flows"
    state_row = next(row for row in rows if row[1] == "state")
    assert state_row[0] == "ok" and state_row[2].endswith("/state/state.json")
    assert list(state.parent.iterdir()) == []  # only tried beside it: nothing written, nothing left

    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{path}: 2 problems, 1 warning.")
    assert [row[2] for row in rows[2:5]] == [  # the objects in the order they are configured
        "Nightly Load (118000000002)",
        "targets[0].processes '118000000099'",
        "targets[0].processes '118000000002'",
    ]
    sent = re.search(r"sent 1 login \(POST\) and (\d+) GETs, at most (\d+) in any second", summary)
    assert sent is not None, summary

    # What the simulator saw: the login, GETs only (none refused), one task list per object it could read.
    assert after["non_get_integration_requests"] == before["non_get_integration_requests"] == 0
    requests = after["requests"]
    assert requests["authenticate"] == {"201": 1}
    assert "logout" not in requests and "refresh" not in requests
    assert requests["task_list"] == {"200": 3}  # Nightly Load, Employees, Sales
    assert requests["objects"] == {"200": 2, "404": 1}  # the two lists of Demo Planning, Payroll's refused
    assert "task_status" not in requests
    assert after["total_requests"] - before["total_requests"] == 1 + int(sent.group(1))
    assert after["max_requests_per_second"] <= RATE
    assert int(sent.group(2)) <= RATE
