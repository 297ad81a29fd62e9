"""Two real exporter processes on one state file: the lock keeps them from overwriting each other's counts.

With no ``state:`` key (the default file under $XDG_STATE_HOME) the second keeps its state in memory, says so
in one log line and on /metrics (``in_use``); with one configured path the second stops at once with one
line naming the path and the first one's pid. A first one killed with SIGKILL leaves no stale lock, and
``state.path: ""`` never touches the file or its lock. Anaplan is an address that refuses connections: the
lock is taken before anything is polled, so no simulator is needed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.exporter import ExporterHandle, exporter_command, running_exporter, simulator_config

pytestmark = pytest.mark.e2e

TARGET = {"workspace": "8a8b8c8d8e8f8g8i", "model": "75A40874E6B64FA3AE0743278996850F", "processes": "*"}
IN_USE = "is in use by another exporter"
HEALTHY = "/-/healthy"
"""Serving is enough: the state file is settled before the web server starts."""


def _config(**state: str) -> dict[str, Any]:
    config = simulator_config("http://127.0.0.1:9", targets=[TARGET])
    if state:
        config["state"] = state
    return config


def _kept(handle: ExporterHandle) -> list[str]:
    """The ``anaplan_exporter_state_file_kept`` series of a scrape, as written."""
    return re.findall(r"^anaplan_exporter_state_file_kept\{.*$", handle.metrics(), re.MULTILINE)


def _folder(tmp_path: Path, name: str) -> Path:
    """Each exporter's own folder for its config and log (the state is what they share)."""
    folder = tmp_path / name
    folder.mkdir()
    return folder


def test_a_second_exporter_on_the_default_file_keeps_memory_only_and_says_so_once(tmp_path: Path) -> None:
    home = Path(os.environ["XDG_STATE_HOME"])  # this test's own (conftest), shared by the exporters here
    state = home / "anaplan-exporter" / "state.json"
    with running_exporter(_config(), _folder(tmp_path, "first"), ready_path=HEALTHY) as first:
        assert _kept(first) == ['anaplan_exporter_state_file_kept{reason=""} 1.0']
        assert (home / "anaplan-exporter" / "state.json.lock").read_text() == f"{first.process.pid}\n"
        with running_exporter(_config(), _folder(tmp_path, "second"), ready_path=HEALTHY) as second:
            assert _kept(second) == ['anaplan_exporter_state_file_kept{reason="in_use"} 0.0']
            assert "anaplan_exporter_state_file_save_failures_total 0.0" in second.metrics()
            lines = [line for line in second.logs().splitlines() if IN_USE in line]
            assert len(lines) == 1, second.logs()
            assert f"state file {state} {IN_USE} (pid {first.process.pid})" in lines[0]
            assert "give each exporter a file of its own with state.path" in lines[0]
            # state.path "" beside them: memory only by choice, nothing said, nothing locked
            memory_only = _config(path="")
            with running_exporter(memory_only, _folder(tmp_path, "third"), ready_path=HEALTHY) as third:
                assert _kept(third) == ['anaplan_exporter_state_file_kept{reason="configured_off"} 0.0']
                assert IN_USE not in third.logs()
        assert IN_USE not in first.logs()
    assert sorted(p.name for p in state.parent.iterdir()) == ["state.json.lock"]  # nothing changed: no runs


def test_a_second_exporter_on_a_configured_file_stops_and_a_killed_first_leaves_no_lock(
    tmp_path: Path,
) -> None:
    state = tmp_path / "shared" / "state.json"
    state.parent.mkdir()
    config = _config(path=str(state))
    with running_exporter(config, _folder(tmp_path, "first"), ready_path=HEALTHY) as first:
        second_config = _folder(tmp_path, "second") / "exporter.yml"
        second_config.write_text(yaml.safe_dump(config))
        second = subprocess.run(
            [*exporter_command(), "--config", str(second_config), "--web.listen-address", "127.0.0.1:0"],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "SIM_PASSWORD": "x"},
        )
        assert second.returncode == 3, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"anaplan-exporter: {state}: cannot use the state file: it is in use by another exporter "
            f"(pid {first.process.pid}), which holds {state}.lock; give each exporter its own state.path"
        ]
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
    with running_exporter(config, _folder(tmp_path, "again"), ready_path=HEALTHY) as again:
        assert _kept(again) == ['anaplan_exporter_state_file_kept{reason=""} 1.0']
        assert (state.parent / "state.json.lock").read_text() == f"{again.process.pid}\n"
        assert "in use" not in again.logs()
