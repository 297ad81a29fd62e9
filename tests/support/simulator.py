"""Start the real ``anaplan-simulator`` process for a test and talk to its ``/__sim/`` control endpoints; or
serve a simulator in the test's own process (``serve_in_thread``)."""

from __future__ import annotations

import base64
import datetime
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from anaplan_simulator.scenario import Scenario
from anaplan_simulator.server import SimulatorServer, make_server
from support.net import wait_http

DEFAULT_PASSWORD = "demo-password"
"""The password of demo@example.com in the packaged default scenario (the demo's)."""

START_TIMEOUT = 15.0


@dataclass
class SimulatorHandle:
    url: str  # http://127.0.0.1:PORT; also the auth_url and oauth_url
    api_url: str  # url + "/2/0"
    process: subprocess.Popen[str]
    ground_truth_file: Path | None = None  # the --ground-truth JSON-lines file

    def _call(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method="GET" if payload is None else "POST"
        )
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def ground_truth(self) -> list[dict[str, Any]]:
        """Every task the simulator has created so far, history included (see engine.truth)."""
        result: list[dict[str, Any]] = self._call("/__sim/ground-truth")
        return result

    def cloudworks_truth(self) -> list[dict[str, Any]]:
        """Every CloudWorks run and flow run so far, with ``running`` (see ``/__sim/cloudworks-truth``)."""
        result: list[dict[str, Any]] = self._call("/__sim/cloudworks-truth")
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("/__sim/stats")
        return result

    def set_faults(self, **faults: Any) -> None:
        """Change fault settings, e.g. ``set_faults(error_rate_5xx=0.5)``; None turns one off."""
        self._call("/__sim/faults", faults)

    def expire_tokens(self) -> None:
        self._call("/__sim/expire-tokens", {})

    def set_access(self, model_id: str, no_access: bool) -> None:
        """Mask the model as NO ACCESS (``True``) or grant the role back, while the simulator runs."""
        self._call("/__sim/access", {"model": model_id, "no_access": no_access})


def _read_first_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


@contextmanager
def running_simulator(
    scenario: Path | dict[str, Any] | None = None, tmp_path: Path | None = None
) -> Iterator[SimulatorHandle]:
    """Run ``python -m anaplan_simulator`` on 127.0.0.1:0 until the block ends.

    ``scenario`` is a YAML file, a mapping (written to ``tmp_path``), or None for the packaged default.
    Fails the test with the simulator's stderr if it does not start or dies before the block ends.
    """
    with ExitStack() as stack:
        workdir = tmp_path or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="anaplan-sim-")))
        args = [sys.executable, "-m", "anaplan_simulator", "--listen", "127.0.0.1:0"]
        if isinstance(scenario, dict):
            scenario_file = workdir / "scenario.yml"
            scenario_file.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
            args += ["--scenario", str(scenario_file)]
        elif scenario is not None:
            args += ["--scenario", str(scenario)]
        truth_file = workdir / "ground-truth.jsonl"
        args += ["--ground-truth", str(truth_file)]
        stderr_file = stack.enter_context((workdir / "simulator.stderr").open("w+", encoding="utf-8"))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr_file, text=True, env=env)

        def stderr_text() -> str:
            stderr_file.flush()
            stderr_file.seek(0)
            return stderr_file.read().strip()

        try:
            line = _read_first_line(process, START_TIMEOUT)
            if " on " not in line:
                process.kill()
                process.wait(5)
                rc = process.returncode
                raise AssertionError(f"anaplan-simulator did not start (rc={rc}): {stderr_text()}")
            url = line.strip().rsplit(" on ", 1)[1]
            wait_http(url + "/__sim/stats", timeout=START_TIMEOUT)
            handle = SimulatorHandle(url, url + "/2/0", process, ground_truth_file=truth_file)
            yield handle
            if process.poll() not in (None, 0):  # 0: the test stopped it cleanly itself
                raise AssertionError(f"anaplan-simulator died (rc={process.returncode}): {stderr_text()}")
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            if process.stdout is not None:
                process.stdout.close()


def make_certificate(directory: Path, name: str = "cert") -> tuple[Path, rsa.RSAPrivateKey]:
    """A self-signed RSA certificate written as ``<name>.pem`` (the private key stays in memory)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}@example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path, key


def certificate_login(
    cert_path: Path, key: rsa.RSAPrivateKey, v2: bool = True, timestamp: float | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, JSON body) for ``POST /token/authenticate`` with Anaplan's CA-certificate scheme."""
    nonce = os.urandom(100)
    if v2:
        stamp = int(time.time() if timestamp is None else timestamp)
        nonce = stamp.to_bytes(8, "big") + os.urandom(92)
    signature = key.sign(nonce, padding.PKCS1v15(), hashes.SHA512())
    body = {
        "encodedData": base64.b64encode(nonce).decode(),
        "encodedSignedData": base64.b64encode(signature).decode(),
    }
    if v2:
        body["encodedDataFormat"] = "v2"
    header = base64.b64encode(cert_path.read_bytes()).decode()
    return {"Authorization": f"CACertificate {header}"}, body


@contextmanager
def serve_in_thread(scenario: Scenario, clock: Callable[[], float] = time.time) -> Iterator[SimulatorServer]:
    """An in-process simulator on a free loopback port, for tests that need no separate process."""
    server = make_server(scenario, clock=clock)
    thread = threading.Thread(target=server.serve_forever, name="anaplan-simulator", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
