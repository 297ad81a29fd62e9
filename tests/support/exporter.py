"""Start the real ``anaplan-exporter`` command for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .net import free_port, http_get, wait_http


@dataclass
class ExporterHandle:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def metrics(self) -> str:
        status, body = http_get(self.url + "/metrics")
        assert status == 200, f"/metrics answered {status}: {body[:200]}"
        return body

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def exporter_command() -> list[str]:
    return [sys.executable, "-m", "anaplan_exporter"]


def simulator_config(api_root: str, **overrides: Any) -> dict[str, Any]:
    """A config that watches a simulator at ``api_root`` (``http://127.0.0.1:PORT``) with the demo user."""
    config: dict[str, Any] = {
        "anaplan": {
            "api_url": f"{api_root}/2/0",
            "auth_url": api_root,
            "oauth_url": api_root,
            "cloudworks_url": f"{api_root}/cloudworks/2/0",
            "auth": {"method": "basic", "username": "demo@example.com", "password": "${SIM_PASSWORD}"},
            "retries": {"max": 6, "backoff_initial": 0.2, "backoff_max": 3},
        },
        "polling": {"idle_interval": 2, "active_interval": 5, "discovery_interval": 600},
        "targets": [],
        "cloudworks": {"enabled": False},  # tests of CloudWorks turn it on
    }
    for key, value in overrides.items():
        config[key] = value
    return config


@contextmanager
def running_exporter(
    config: dict[str, Any] | Path,
    tmp_path: Path,
    *extra_args: str,
    env: dict[str, str] | None = None,
    ready_timeout: float = 30.0,
    ready_headers: dict[str, str] | None = None,
) -> Iterator[ExporterHandle]:
    """Run the exporter on a free loopback port until the block ends; wait until it is ready.

    The benchmarks raise ``ready_timeout`` for 10,000 objects; SIGTERM at the end, SIGKILL after 15 s.
    ``ready_headers`` go with the readiness checks (an ``Authorization`` header when basic auth is on).
    """
    if isinstance(config, dict):
        path = tmp_path / "exporter.yml"
        path.write_text(yaml.safe_dump(config))
    else:
        path = config
    port = free_port()
    log_path = tmp_path / f"exporter-{port}.log"
    full_env = {**os.environ, "SIM_PASSWORD": "demo", **(env or {})}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                *exporter_command(),
                "--config",
                str(path),
                "--web.listen-address",
                f"127.0.0.1:{port}",
                *extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=full_env,
        )
    handle = ExporterHandle(f"http://127.0.0.1:{port}", process, log_path)
    try:
        try:
            wait_http(handle.url + "/-/ready", timeout=ready_timeout, headers=ready_headers)
        except TimeoutError as exc:
            raise AssertionError(f"exporter not ready: {exc}\n{handle.logs()[-3000:]}") from None
        yield handle
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
