"""Deeply nested input, against the real exporter process: a one-line outcome, never a RecursionError.

A configuration of 250 nested brackets (about 500 bytes) is refused in one line at start and by
``--check-config``, and on SIGHUP the running configuration stays and shutdown still saves the state; a state
file of 1,000 nested brackets is set aside with one log line and the exporter starts fresh.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from anaplan_exporter.polling.state import decode
from support.exporter import exporter_command, running_exporter, simulator_config
from support.simulator import DEFAULT_PASSWORD, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
PROCESS = "118000000002"
RELOAD_OK = "anaplan_exporter_config_last_reload_successful"
DEEP = "[" * 250 + "]" * 250


def _deep_config(config: dict[str, Any]) -> str:
    """The configuration as YAML, with ``targets`` replaced by 250 nested brackets."""
    return f"targets: {DEEP}\n" + yaml.safe_dump({k: v for k, v in config.items() if k != "targets"})


def _sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_deeply_nested_config_is_one_line_at_start_and_at_check_config(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yml"
    path.write_text(_deep_config(simulator_config("http://127.0.0.1:9")))
    for extra in (["--check-config"], ["--web.listen-address", "127.0.0.1:0"]):
        result = subprocess.run(
            [*exporter_command(), "--config", str(path), *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "SIM_PASSWORD": "x"},
        )
        assert result.returncode == 1, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines() == [
            f"anaplan-exporter: {path}: line 1, column 73: YAML syntax error: nested deeper than 64 levels"
        ]


def test_a_deeply_nested_config_on_sighup_keeps_the_running_one_and_shutdown_saves(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with running_simulator(None, tmp_path) as sim:
        config = simulator_config(
            sim.url,
            targets=[{"workspace": WS, "model": MODEL, "processes": [PROCESS]}],
            state={"path": str(state), "save_interval": 3600},
        )
        path = tmp_path / "exporter.yml"
        path.write_text(yaml.safe_dump(config))
        with running_exporter(path, tmp_path, env={"SIM_PASSWORD": DEFAULT_PASSWORD}) as exporter:
            before = exporter.metrics()
            assert _sample(before, RELOAD_OK) == 1
            path.write_text(_deep_config(config))
            exporter.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while _sample(text := exporter.metrics(), RELOAD_OK) != 0:
                assert time.monotonic() < deadline, exporter.logs()[-3000:]
                time.sleep(0.2)
            assert f'object_id="{PROCESS}"' in text  # still watched
            exporter.process.send_signal(signal.SIGTERM)
            assert exporter.process.wait(timeout=15) == 0  # an orderly stop, with the final save
            logs = exporter.logs()
    assert "Traceback" not in logs and "RecursionError" not in logs
    assert logs.rstrip().endswith("stopped"), logs[-2000:]
    refused = [line for line in logs.splitlines() if "reload failed" in line]
    assert len(refused) == 1, logs
    assert f"{path}: line 1, column 73: YAML syntax error: nested deeper than 64 levels" in refused[0]
    assert [key[3] for key in decode(state.read_bytes())] == [PROCESS]


def test_a_deeply_nested_state_file_is_set_aside_with_one_log_line(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    deep = b"[" * 1000 + b"]" * 1000
    state.write_bytes(deep)
    with running_simulator(None, tmp_path) as sim:
        config = simulator_config(
            sim.url,
            targets=[{"workspace": WS, "model": MODEL, "processes": [PROCESS]}],
            state={"path": str(state), "save_interval": 1},
        )
        with running_exporter(config, tmp_path, env={"SIM_PASSWORD": DEFAULT_PASSWORD}) as exporter:
            assert f'object_id="{PROCESS}"' in exporter.metrics()
            logs = exporter.logs()
    assert "Traceback" not in logs
    lines = [line for line in logs.splitlines() if "state file" in line and "unusable" in line]
    assert len(lines) == 1, logs
    assert "nested deeper than 64 levels" in lines[0] and "starting fresh" in lines[0]
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == deep
    assert json.loads(state.read_bytes())["version"] == 1  # written afresh
