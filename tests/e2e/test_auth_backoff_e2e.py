"""A refused password is tried once, not on every poll of every object (real exporter and simulator).

The simulator counts the logins it receives; the exporter polls two objects every 2 seconds with a password
the simulator refuses. Over 20 seconds it must log in once, show the refusal on ``/metrics`` and ``/``, try
again at once on SIGHUP, and log in at once, without a signal, when the password file is fixed.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.net import http_get
from support.simulator import DEFAULT_PASSWORD, SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
OBJECTS = {"118000000002", "112000000007", "116000000002"}


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def value(text: str, name: str) -> float | None:
    found = samples(text, name)
    return found[0][1] if found else None


def logins(sim: SimulatorHandle) -> dict[str, int]:
    codes: dict[str, int] = sim.stats()["requests"].get("authenticate", {})
    return codes


def wait_for(check: Callable[[], bool], what: str, exporter: ExporterHandle, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not reached in {timeout:.0f}s\n{exporter.logs()[-3000:]}")


def test_a_refused_password_is_tried_once_then_at_once_after_sighup_or_a_fixed_file(tmp_path: Path) -> None:
    with running_simulator(None, tmp_path) as sim:
        password = tmp_path / "password"
        password.write_text("wrong-password\n")
        config: dict[str, Any] = simulator_config(sim.url)
        config["anaplan"]["auth"] = {
            "method": "basic",
            "username": "demo@example.com",
            "password_file": str(password),
        }
        config["targets"] = [
            {
                "workspace": WS,
                "model": MODEL,
                "processes": ["118000000002"],
                "imports": ["112000000007"],
                "exports": ["116000000002"],
            }
        ]
        with running_exporter(config, tmp_path) as exporter:
            started = time.monotonic()

            def watched() -> set[str]:
                return {labels["object_id"] for labels, _ in samples(exporter.metrics(), "anaplan_target_up")}

            wait_for(lambda: watched() == OBJECTS, "every object watched", exporter)
            time.sleep(max(0.0, 20.0 - (time.monotonic() - started)))
            text = exporter.metrics()
            assert logins(sim) == {"401": 1}, exporter.logs()[-3000:]  # not one per poll of each object
            auth_errors = {
                labels["object_id"]: count
                for labels, count in samples(text, "anaplan_poll_errors_total")
                if labels["reason"] == "auth"
            }
            assert set(auth_errors) == OBJECTS and min(auth_errors.values()) >= 3  # polls failed locally
            assert value(text, "anaplan_auth_refused") == 1
            assert value(text, "anaplan_auth_failures_total") == 1
            next_attempt = value(text, "anaplan_auth_next_attempt_timestamp_seconds")
            assert next_attempt is not None and 0 < next_attempt - time.time() <= 60
            status, page = http_get(exporter.url + "/")
            assert status == 200
            assert re.search(r"authentication refused, next attempt at \d\d:\d\d:\d\d UTC \(in \d+ s\)", page)
            assert "wrong-password" not in page and "wrong-password" not in exporter.logs()

            # A reload tries again at once (the same wrong password: refused again, once).
            exporter.process.send_signal(signal.SIGHUP)
            wait_for(lambda: logins(sim) == {"401": 2}, "a login after SIGHUP", exporter, timeout=10)
            time.sleep(5)
            assert logins(sim) == {"401": 2}
            text = exporter.metrics()
            assert value(text, "anaplan_auth_refused") == 1
            assert value(text, "anaplan_exporter_config_last_reload_successful") == 1

            # The fixed password file is used at once, without a signal; the objects come up.
            password.write_text(f"{DEFAULT_PASSWORD}\n")
            wait_for(
                lambda: all(up == 1 for _, up in samples(exporter.metrics(), "anaplan_target_up")),
                "every object up after the password file was fixed",
                exporter,
            )
            text = exporter.metrics()
            assert logins(sim) == {"401": 2, "201": 1}
            assert value(text, "anaplan_auth_refused") == 0
            assert value(text, "anaplan_auth_next_attempt_timestamp_seconds") is None
            assert "Traceback" not in exporter.logs()
