"""What sits at the state path, against the real exporter process: a file that cannot be read (a named pipe,
a folder) is a one-line start-up error with exit 3 and left as it is; SIGTERM stops a start-up that blocks."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support.exporter import exporter_command, simulator_config

pytestmark = pytest.mark.e2e

ENV = {**os.environ, "SIM_PASSWORD": "x"}


def _config_file(tmp_path: Path, state: Path) -> Path:
    target = {"workspace": "8a8b8c8d8e8f8g8i", "model": "75A40874E6B64FA3AE0743278996850F", "processes": "*"}
    config = simulator_config("http://127.0.0.1:9", targets=[target], state={"path": str(state)})
    path = tmp_path / "exporter.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(tmp_path: Path, state: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the exporter until it exits (at most 20 s: it must not wait for anything); and how long it took."""
    started = time.monotonic()
    result = subprocess.run(
        [
            *exporter_command(),
            "--config",
            str(_config_file(tmp_path, state)),
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        env=ENV,
    )
    return result, time.monotonic() - started


def test_a_named_pipe_at_the_state_path_is_a_one_line_error_at_once_and_stays(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    os.mkfifo(state)
    result, took = _start(tmp_path, state)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"anaplan-exporter: {state}: cannot read the state file: it is a named pipe (FIFO), not a file"
    ]
    assert took < 10
    assert stat.S_ISFIFO(os.stat(state).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exporter.yml", "state.json"]


def test_a_folder_at_the_state_path_is_a_one_line_error_and_stays(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.mkdir()
    (state / "keep").write_text("x")
    result, _ = _start(tmp_path, state)
    assert result.returncode == 3, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"anaplan-exporter: {state}: cannot write the state file: it is a folder"
    ]
    assert (state / "keep").read_text() == "x"


_BLOCKED_START = """
import sys, threading
from anaplan_exporter.cli import main
from anaplan_exporter.polling.state import StateStore

def blocked(self):  # a start-up step that never ends by itself (a hung network disk, say)
    print("loading", flush=True)
    threading.Event().wait()

StateStore.load = blocked
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_while_start_up_is_blocked_stops_the_process_within_seconds(tmp_path: Path) -> None:
    config = _config_file(tmp_path, tmp_path / "state.json")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _BLOCKED_START,
            "--config",
            str(config),
            "--web.listen-address",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "loading\n"
        time.sleep(0.3)  # into the blocked wait
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert code == 0, stderr
    assert took < 5
    assert "Traceback" not in stderr
    assert "stopped while starting" in stderr
