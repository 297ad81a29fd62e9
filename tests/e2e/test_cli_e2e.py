"""The command line as an operator meets it, as a real process: one-line start-up errors, exit codes, help."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from anaplan_simulator.scenario import load_scenario
from support.exporter import exporter_command, simulator_config
from support.net import wait_http

pytestmark = pytest.mark.e2e

ENV = {"SIM_PASSWORD": "demo", "PATH": "/usr/bin:/bin"}


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port this test listens on, as a second exporter or another program would."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*exporter_command(), *args], capture_output=True, text=True, env=ENV, timeout=timeout
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("anaplan-exporter: ")
    return lines[0]


def _config_file(tmp_path: Path, **overrides: object) -> Path:
    path = tmp_path / "exporter.yml"
    target = {"workspace": "8a8b8c8d8e8f8g8i", "model": "75A40874E6B64FA3AE0743278996850F", "processes": "*"}
    config = simulator_config("http://127.0.0.1:9", targets=[target], **overrides)
    path.write_text(yaml.safe_dump(config))
    return path


def test_port_in_use_in_demo_mode_is_one_line_with_a_hint(taken_port: int) -> None:
    result = _run("--web.listen-address", f"127.0.0.1:{taken_port}")
    assert result.returncode == 3
    line = _one_line(result)
    assert f"cannot listen on 127.0.0.1:{taken_port}: address already in use" in line
    assert "is another anaplan-exporter running?" in line
    assert "--web.listen-address" in line


def test_port_in_use_with_a_config_is_one_line(taken_port: int, tmp_path: Path) -> None:
    # The state in memory: ENV has no HOME, so the default state file would add its warning to stderr.
    config = _config_file(tmp_path, state={"path": ""})
    result = _run("--config", str(config), "--web.listen-address", f"127.0.0.1:{taken_port}")
    assert result.returncode == 3
    assert "address already in use" in _one_line(result)


@pytest.mark.parametrize("address", ["foo", "127.0.0.1:99999", "::1:10118"])
def test_check_config_refuses_a_bad_listen_address(address: str, tmp_path: Path) -> None:
    for mode in ([], ["--config", str(_config_file(tmp_path))]):
        result = _run(*mode, "--web.listen-address", address, "--check-config")
        assert result.returncode == 2, result.stderr
        line = _one_line(result)
        assert "--web.listen-address" in line and repr(address) in line


def test_check_config_refuses_a_bad_shard(tmp_path: Path) -> None:
    result = _run("--config", str(_config_file(tmp_path)), "--shard", "3/2", "--check-config")
    assert result.returncode == 2
    assert "3/2" in _one_line(result)


def test_unloadable_tls_certificate_is_one_line_at_check_and_at_start(tmp_path: Path) -> None:
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    cert.write_text("not a certificate\n")
    key.write_text("not a key\n")
    config = _config_file(tmp_path, web={"tls_server_config": {"cert_file": str(cert), "key_file": str(key)}})
    for extra in (["--check-config"], ["--web.listen-address", "127.0.0.1:0"]):
        result = _run("--config", str(config), *extra)
        assert result.returncode == 1, result.stderr
        line = _one_line(result)
        assert f"cannot load TLS certificate {cert}" in line and str(key) in line
    web_config = tmp_path / "web.yml"
    web_config.write_text(
        yaml.safe_dump({"tls_server_config": {"cert_file": str(cert), "key_file": str(key)}})
    )
    result = _run("--web.config.file", str(web_config), "--check-config")  # demo mode, same check
    assert result.returncode == 1
    assert "cannot load TLS certificate" in _one_line(result)


def test_bad_flags_exit_2() -> None:
    result = _run("--log.level", "loud")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_help_tells_the_listen_addresses_and_exit_codes() -> None:
    result = _run("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Demo mode listens on 127.0.0.1:10118" in text
    assert "--web.listen-address :10118" in text
    for code in (
        "0 stopped by SIGTERM",
        "1 invalid configuration",
        "2 bad command-line",
        "3 could not start",
    ):
        assert code in text, code


def test_demo_prints_working_simulator_credentials(tmp_path: Path) -> None:
    from support.net import free_port

    port = free_port()
    process = subprocess.Popen(
        [*exporter_command(), "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert f"open http://127.0.0.1:{port}/" in lines[0]
        scenario = load_scenario(None)
        user, password = next(iter(scenario.users.items()))
        assert f"user {user} password {password}" in lines[1]
        client, token = next(iter(scenario.oauth_clients.items()))
        assert f"OAuth client {client} refresh token {token}" in lines[1]
        assert f"--web.listen-address :{port}" in lines[2]
        simulator_url = lines[1].split(" at ", 1)[1].split(": ", 1)[0]
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(
            simulator_url + "/token/authenticate",
            method="POST",
            headers={"Authorization": f"Basic {credentials}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status in (200, 201)
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
def test_every_log_line_starts_with_an_iso_8601_time(log_format: str) -> None:
    result = _run("--once", "--log.level", "debug", "--log.format", log_format)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) >= 2, result.stderr
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    for line in lines:
        if log_format == "json":
            assert re.fullmatch(iso, json.loads(line)["ts"]), line
        else:
            assert re.match(rf"ts={iso} level=(debug|info|warn|error) ", line), line
