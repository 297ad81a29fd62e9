"""The HTTP face of the simulator: auth service, OAuth service and Integration API v2 on one port.

Routes:
  POST /token/authenticate, POST /token/refresh, GET /token/validate, POST /token/logout
  POST /oauth/token
  GET  /2/0/...                               Integration API (any other method: 405, and counted)
  GET  /cloudworks/2/0/...                    CloudWorks API (likewise)
  GET  /__sim/ground-truth, /__sim/cloudworks-truth, /__sim/stats, /__sim/faults, /__sim/access;
  POST /__sim/faults, /__sim/expire-tokens, /__sim/access ({"model": ID, "no_access": true|false})

This module binds and runs the server and does the HTTP plumbing of each connection (``RequestHandler``):
read a request, pass it through the fault injector (latency, dropped connections, injected errors) to the
``Simulator`` of ``app``, count it, and write the answer's bytes, dripping, padded, truncated or endless
when a fault asks for it.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import Response, Simulator, classify, echo_response, fault_response, with_creation_time
from .faults import Decision
from .scenario import Scenario


class RequestHandler(BaseHTTPRequestHandler):
    """Answers a connection's requests from the server's ``Simulator``."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait for ACKs
    server: SimulatorServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self) -> None:
        sim = self.server.sim
        body = self.read_body()
        url = urlsplit(self.path)
        path = url.path
        if path.startswith("/__sim/"):
            self.send(sim.control(self.command, path, body))
            return
        area, kind = classify(path)
        sim.stats.begin()
        # The request is counted before the client can see the answer (or the dropped connection), so
        # stats read right after a response always include it and in-flight never outlasts a client's wait.
        status: int | str = "dropped"
        counted = False
        try:
            decision = Decision()
            if area != "other" and sim.faults.applies_to(area in ("integration", "cloudworks"), path):
                decision = sim.faults.decide()
            if decision.latency:
                time.sleep(decision.latency)
            if decision.drop:
                sim.stats.end(kind, status)
                counted = True
                self.drop()
                return
            response = fault_response(decision, path)
            authorization = self.headers.get("Authorization")
            if response is None and decision.echo_status is not None:
                response = echo_response(decision.echo_status, path, authorization, body, decision.echo_form)
            if response is None:
                if area == "integration":
                    host = self.headers.get("Host") or sim.base_url.removeprefix("http://")
                    query = parse_qs(url.query)
                    response = sim.handle_integration(self.command, path, query, authorization, host)
                elif area == "cloudworks":
                    response = sim.handle_cloudworks(self.command, path, parse_qs(url.query), authorization)
                elif area == "auth":
                    response = sim.handle_auth(kind, self.command, authorization, body)
                else:
                    response = Response(404, {"error": f"no such endpoint {path}"})
                if decision.creation_time is not None and area == "integration":
                    response = with_creation_time(response, decision.creation_time)
            status = response.status
            sim.stats.end(kind, status)
            counted = True
            self.send(response, malformed=decision.malformed, decision=decision, kind=kind)
        finally:
            if not counted:
                sim.stats.end(kind, status)

    def read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            return self.rfile.read(int(length))
        except ValueError:
            return b""

    def drop(self) -> None:
        """Close the socket without a response (what a dying load balancer does)."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    header_drip: float | None = None

    def flush_headers(self) -> None:
        if not self.header_drip:
            super().flush_headers()
            return
        data = b"".join(getattr(self, "_headers_buffer", []))
        self._headers_buffer: list[bytes] = []
        with suppress(OSError):
            self.write_dripping(data, self.header_drip)

    def send(
        self,
        response: Response,
        malformed: bool = False,
        decision: Decision | None = None,
        kind: str | None = None,
    ) -> None:
        """Write the answer; with ``kind``, its body's bytes are counted in the stats first."""
        decision = decision or Decision()
        self.header_drip = decision.drip_headers
        content_type = "application/json"
        if response.text is not None:
            data, content_type = response.text.encode(), "text/html; charset=utf-8"
        elif response.body is not None:
            data = json.dumps(response.body, separators=(",", ":")).encode()
            if malformed and response.status == 200:
                data = data[: len(data) // 2]  # a truncated document is never valid JSON
        else:
            data = b""
        ok = 200 <= response.status < 300 and response.body is not None
        if ok and decision.endless:
            self.send_endless(response, content_type)
            return
        pad = decision.huge - len(data) if ok and decision.huge and data.startswith(b"{") else 0
        prefix, suffix = b'{"padding":"', b'",' + data[1:]  # {"padding":"xxx…",<the real members>}
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", content_type)
            size = len(prefix) + pad + len(suffix) if pad > 0 else len(data)
            self.send_header("Content-Length", str(size))
            if kind is not None:
                self.server.sim.stats.served(kind, size)
        self.end_headers()
        if not data or self.command == "HEAD":
            return
        with suppress(OSError):
            if pad > 0:  # still valid JSON, just large
                self.wfile.write(prefix)
                self.write_repeated(b"x", pad)
                self.wfile.write(suffix)
            elif decision.drip:
                self.write_dripping(data, decision.drip)
            else:
                self.wfile.write(data)

    def write_repeated(self, unit: bytes, size: int) -> None:
        block = unit * (64 * 1024)
        while size > 0:
            piece = block[:size]
            self.wfile.write(piece)
            size -= len(piece)

    def write_dripping(self, data: bytes, interval: float) -> None:
        """One byte at a time; every read the client makes then returns a single byte."""
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            if index + 1 < len(data):
                time.sleep(interval)

    def send_endless(self, response: Response, content_type: str) -> None:
        """A JSON list that never closes, sent as fast as the client reads, until it hangs up."""
        self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        item = b'{"taskId":"0123456789ABCDEF0123456789ABCDEF","taskState":"COMPLETE","creationTime":0},'
        block = item * 700  # about 64 KiB of whole items
        with suppress(OSError):
            self.wfile.write(b'{"tasks":[')
            while True:
                self.wfile.write(block)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator, log_requests: bool = False) -> None:
        super().__init__(address, RequestHandler)
        self.sim = sim
        self.log_requests = log_requests
        host, port = self.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        sim.base_url = self.url
        sim.auth.validation_url = f"{self.url}/token/validate"


def make_server(
    scenario: Scenario,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] = time.time,
    log_requests: bool = False,
) -> SimulatorServer:
    """Bind (port 0 picks a free port); call ``serve_forever()`` to answer requests."""
    return SimulatorServer((host, port), Simulator(scenario, clock), log_requests)
