"""Hostile answers for one object, through the real exporter process: the object is reported down with a
bounded reason, the exporter's memory stays bounded, no secret shows anywhere, and the other objects' runs
keep reaching /metrics as they end (no slow or endless answer holds the others)."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest

from anaplan_simulator.faults import ECHO_FORMS
from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.leaks import Readings
from support.net import http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

HOSTILE_ID = "112000000099"
LIVELY = [f"11200000001{i}" for i in range(4)]
PASSWORD = "demo"

SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": PASSWORD}],
    "workspaces": [
        {
            "name": "Hostile Workspace",
            "models": [
                {
                    "name": "Hostile Model",
                    "imports": [
                        {
                            "id": HOSTILE_ID,
                            "name": "Hostile import",
                            "every": 600,
                            "duration": 5,
                            "history": 1,
                        },
                        *(
                            {"id": object_id, "name": f"Lively {i}", "every": 6, "duration": 2, "offset": i}
                            for i, object_id in enumerate(LIVELY)
                        ),
                    ],
                }
            ],
        }
    ],
}

FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "endless": ({"endless": True}, "too_large"),
    "huge": ({"huge": 50 * 1024 * 1024}, "too_large"),
    "drip": ({"drip": 1.0}, "timeout"),
    "drip_headers": ({"drip_headers": 1.0}, "timeout"),
    "echo_secrets": ({"echo_secrets": 500}, "server_error"),
}


def config(sim_url: str) -> dict[str, Any]:
    cfg = simulator_config(
        sim_url,
        targets=[{"workspace": "Hostile Workspace", "model": "Hostile Model", "imports": "*"}],
    )
    cfg["anaplan"]["timeouts"] = {"connect": "2s", "read": "2s", "total": "3s"}
    cfg["anaplan"]["max_response_size"] = "1MiB"
    cfg["anaplan"]["retries"] = {"max": 1, "backoff_initial": 0.1, "backoff_max": 0.5}
    cfg["polling"] = {"idle_interval": 1, "active_interval": 5, "discovery_interval": 600}
    return cfg


def sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def counted(text: str) -> int:
    """Completions counted for the lively objects."""
    return sum(
        int(sample(text, "anaplan_task_completions_total", object_id=o, result=r) or 0)
        for o in LIVELY
        for r in ("success", "failure", "cancelled")
    )


def finished_by(sim: SimulatorHandle, until: float) -> int:
    return sum(
        1
        for t in sim.ground_truth()
        if t["object_id"] in LIVELY and not t["history"] and t["finish_time"] and t["finish_time"] <= until
    )


def rss_mb(exporter: ExporterHandle) -> float:
    with open(f"/proc/{exporter.process.pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_hostile_answer_for_one_object_holds_nothing_else(fault: str, tmp_path: Path) -> None:
    settings, reason = FAULTS[fault]
    with (
        running_simulator(SCENARIO, tmp_path) as sim,
        running_exporter(config(sim.url), tmp_path) as exporter,
    ):
        sim.set_faults(path=f"/imports/{HOSTILE_ID}/tasks", **settings)
        started = time.time()
        first = counted(exporter.metrics())
        deadline = started + 25
        text = exporter.metrics()
        while time.time() < deadline:
            text = exporter.metrics()
            errors = sample(text, "anaplan_poll_errors_total", object_id=HOSTILE_ID, reason=reason) or 0
            if errors >= 2 and counted(text) >= first + 4:
                break
            time.sleep(0.5)
        # The hostile object is down, with the bounded reason, and polled again and again.
        assert sample(text, "anaplan_target_up", object_id=HOSTILE_ID) == 0, text[-2000:]
        assert (sample(text, "anaplan_poll_errors_total", object_id=HOSTILE_ID, reason=reason) or 0) >= 2
        # The others: up, and their runs counted as they end (ground truth, less a few seconds of lag).
        assert all(sample(text, "anaplan_target_up", object_id=o) == 1 for o in LIVELY)
        assert counted(text) >= finished_by(sim, time.time() - 8) - finished_by(sim, started) + first - 1
        assert counted(text) >= first + 4
        # Memory stays bounded whatever the body (the cap is 1 MiB; a 50 MiB or endless body is abandoned).
        assert rss_mb(exporter) < 120
        # No secret anywhere a person or a scraper can read.
        _, page = http_get(exporter.url + "/?refresh=0")
        basic = base64.b64encode(f"demo@example.com:{PASSWORD}".encode()).decode()
        for where, body in (("logs", exporter.logs()), ("/metrics", text), ("status page", page)):
            assert not Readings(body).forms_of(f"demo@example.com:{PASSWORD}"), where
            assert basic not in body, where
            assert f"password={PASSWORD}" not in body and f'"password": "{PASSWORD}"' not in body, where


HOSTILE_PASSWORD = 'Tr0ub4dor&3x Q<z>  \t"é"+%'


def test_a_password_echoed_in_any_form_reaches_no_log_page_or_metric(tmp_path: Path) -> None:
    """The auth service fails (500) echoing the password re-encoded, one form after another; the exporter
    logs and shows each failure with the password masked in every form, never the password."""
    scenario = {**SCENARIO, "users": [{"username": "demo@example.com", "password": HOSTILE_PASSWORD}]}
    with (
        running_simulator(scenario, tmp_path) as sim,
        running_exporter(config(sim.url), tmp_path, env={"SIM_PASSWORD": HOSTILE_PASSWORD}) as exporter,
    ):
        assert sample(exporter.metrics(), "anaplan_target_up", object_id=LIVELY[0]) is not None
        pages: list[str] = []
        for form in ECHO_FORMS[1:]:
            logged = exporter.logs().count("authentication failed")
            sim.set_faults(echo_secrets=500, echo_form=form, scope="all", path="/token/authenticate")
            sim.expire_tokens()
            deadline = time.time() + 20
            while exporter.logs().count("authentication failed") == logged and time.time() < deadline:
                time.sleep(0.2)
            assert exporter.logs().count("authentication failed") > logged, (form, exporter.logs()[-3000:])
            pages.append(http_get(exporter.url + "/?refresh=0")[1])
        logs, metrics = exporter.logs(), exporter.metrics()
    assert "Rejected /token/authenticate: credentials *** unknown" in logs
    assert any("credentials ***" in page for page in pages)
    for where, body in (("logs", logs), ("/metrics", metrics), *(("status page", page) for page in pages)):
        readings = Readings(body)
        assert not readings.forms_of(HOSTILE_PASSWORD), where
        assert not readings.forms_of(f"demo@example.com:{HOSTILE_PASSWORD}"), where
