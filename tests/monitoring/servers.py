"""Real Prometheus and Alertmanager processes on loopback ports, for the monitoring tests."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from support.binaries import find_binary
from support.net import free_port, http_get, wait_http

T = TypeVar("T")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def get_json(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        status, body = http_get(self.url + path + query, timeout=10)
        assert status == 200, f"GET {path}{query} answered {status}: {body[:500]}"
        return json.loads(body)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    """Call ``probe`` until it returns something other than None (or an empty value) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def _running(
    command: list[str], log_path: Path, ready_url: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            wait_http(ready_url, timeout=30)
        except TimeoutError as exc:
            raise AssertionError(f"{command[0]} not ready: {exc}\n{log_path.read_text()[-3000:]}") from None
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_alertmanager(config: Path, tmp_path: Path) -> Iterator[Server]:
    """Alertmanager with gossip clustering off, listening on a free loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(find_binary("prometheus-alertmanager")),
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    log_path = tmp_path / "alertmanager.log"
    with _running(command, log_path, url + "/-/ready") as process:
        yield Server(url, process, log_path)


@contextmanager
def running_prometheus(config: dict[str, Any], tmp_path: Path, *extra_args: str) -> Iterator[Server]:
    """Prometheus with the given configuration (written to ``tmp_path``) on a free loopback port.

    Its TSDB is ``tmp_path / "prometheus-data"``: blocks written there beforehand (a backfill) are history."""
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(find_binary("prometheus")),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # Alerts reach Alertmanager again at every evaluation, so their annotations stay current.
        "--rules.alert.resend-delay=1s",
        *extra_args,
    ]
    log_path = tmp_path / "prometheus.log"
    with _running(command, log_path, url + "/-/ready") as process:
        yield Server(url, process, log_path)


@contextmanager
def running_exporter(
    script: Path, config: Path, tmp_path: Path, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``anaplan-exporter --config FILE --web.listen-address 127.0.0.1:PORT``, once its first poll is done.

    ``port``: the same one again for a restart (Prometheus keeps scraping one address); ``env``: the whole
    environment (default: the test's)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(script), "--config", str(config), "--web.listen-address", f"127.0.0.1:{port}"]
    log_path = tmp_path / f"exporter-{time.monotonic_ns()}.log"
    with _running(command, log_path, url + "/-/ready", env) as process:
        yield Server(url, process, log_path)
