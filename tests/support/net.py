"""Loopback ports and waiting for HTTP servers started by tests."""

from __future__ import annotations

import collections
import os
import random
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

LOWEST_PORT = 10000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: collections.deque[int] = collections.deque(maxlen=500)


def _port_range() -> range:
    """This test process's own share of the ports below the kernel's ephemeral range.

    A port the kernel picks (a server bound to port 0, the local end of a connection) is never in it, and
    each xdist worker has its own share, so a port handed out here stays free until the test binds it.
    """
    try:
        top = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        top = 32768  # Linux's default
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index, count = int(worker.removeprefix("gw")), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    share = (top - LOWEST_PORT) // count
    return range(LOWEST_PORT + index * share, LOWEST_PORT + (index + 1) * share)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing uses right now and that no other test process is given."""
    ports = _port_range()
    for _ in range(1000):
        port = random.choice(ports)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.append(port)
        return port
    raise OSError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_http(
    url: str, timeout: float = 15.0, expect_status: int = 200, headers: dict[str, str] | None = None
) -> None:
    """Poll ``url`` until it answers ``expect_status``; raise TimeoutError with the last problem otherwise."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers=headers or {})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == expect_status:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code == expect_status:
                return
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer {expect_status} within {timeout}s: {last}")


def http_get(url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET ``url`` and return (status, body text), without raising on HTTP errors."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
