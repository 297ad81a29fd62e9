"""The HTTP face of the simulator: auth service, OAuth service and Integration API v2 on one port.

Routes:
  POST /token/authenticate, POST /token/refresh, GET /token/validate, POST /token/logout
  POST /oauth/token
  GET  /2/0/...                               Integration API (any other method: 405, and counted)
  GET  /__sim/ground-truth, /__sim/stats, /__sim/faults; POST /__sim/faults, /__sim/expire-tokens
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from ..anaplan.models import ObjectType
from . import payloads
from .auth import AuthService, Reply, TokenStore
from .engine import Engine
from .faults import Decision, FaultInjector
from .scenario import Scenario, SimModel
from .stats import Stats
from .validate import ScenarioError

MAX_PAGE = 5000
_KINDS = {kind.collection: kind for kind in ObjectType}
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able; None for no body
    headers: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None  # a non-JSON body (HTML error pages)


class Simulator:
    """Everything behind the socket: the run engine, tokens, faults and request accounting."""

    def __init__(self, scenario: Scenario, clock: Callable[[], float] = time.time) -> None:
        self.scenario = scenario
        self.clock = clock
        self.engine = Engine(scenario, clock)
        self.faults = FaultInjector(scenario.faults, clock, seed=scenario.seed)
        self.tokens = TokenStore(scenario.token_lifetime_seconds, clock, self.faults.token_early_expiry)
        self.auth = AuthService(scenario, self.tokens, clock)
        self.stats = Stats(clock, started=self.engine.epoch)
        self.base_url = ""

    # ---- routing -------------------------------------------------------------------------------------
    def classify(self, path: str) -> tuple[str, str]:
        """(area, kind): area is integration, auth or other; kind names the endpoint for the stats."""
        if path.startswith("/2/0/") or path == "/2/0":
            return "integration", _integration_kind(_segments(path)[2:])
        auth_kinds = {
            "/token/authenticate": "authenticate",
            "/token/refresh": "refresh",
            "/token/validate": "validate",
            "/token/logout": "logout",
            "/oauth/token": "oauth_token",
        }
        if path in auth_kinds:
            return "auth", auth_kinds[path]
        return "other", "unknown"

    def handle_auth(self, kind: str, method: str, authorization: str | None, body: bytes) -> Response:
        expected = "GET" if kind == "validate" else "POST"
        if method != expected:
            return Response(405, {"status": "FAILURE_BAD_REQUEST", "statusMessage": f"use {expected}"})
        reply: Reply
        if kind == "authenticate":
            reply = self.auth.authenticate(authorization, body)
        elif kind == "refresh":
            reply = self.auth.refresh(authorization)
        elif kind == "validate":
            reply = self.auth.validate(authorization)
        elif kind == "logout":
            reply = self.auth.logout(authorization)
        else:
            reply = self.auth.oauth_token(body)
        return Response(reply.status, reply.body)

    def handle_integration(
        self, method: str, path: str, query: dict[str, list[str]], authorization: str | None, host: str
    ) -> Response:
        if method != "GET":
            # The exporter must never start, cancel or change anything: count it so tests can assert 0.
            self.stats.non_get(method, path)
            return self.error(405, path)
        if self.auth.integration_token(authorization) is None:
            return self.error(401, path)
        return _IntegrationRequest(self, path, query, host).answer()

    def error(self, code: int, path: str) -> Response:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        return Response(code, payloads.error(code, _REASONS.get(code, "Error"), path, stamp))

    def echo(self, status: int, path: str, authorization: str | None, body: bytes) -> Response:
        """An error that quotes the request back, as some gateways and careless services do."""
        text = body.decode("utf-8", "replace")
        message = f"Rejected {path}. Authorization: {authorization}; request body: {text}"
        payload = {
            "status": {"code": status, "message": message},
            "statusMessage": message,
            "error_description": message,
            "headers": {"Authorization": authorization},
            "request": text,
        }
        return Response(status, payload)

    def fault_response(self, decision: Decision, path: str) -> Response | None:
        if decision.status is None:
            return None
        if decision.status == 429:
            response = self.error(429, path)
            if decision.retry_after is not None:
                response.headers.append(("Retry-After", decision.retry_after))
            return response
        if decision.status == 500:
            return self.error(500, path)
        reason = _REASONS[decision.status]
        page = f"<html><body><h1>{decision.status} {reason}</h1></body></html>"
        return Response(decision.status, text=page)

    def control(self, method: str, path: str, body: bytes) -> Response:
        now = self.clock()
        if path == "/__sim/ground-truth" and method == "GET":
            return Response(200, self.engine.ground_truth(now))
        if path == "/__sim/stats" and method == "GET":
            return Response(200, self.stats.snapshot())
        if path == "/__sim/faults" and method == "GET":
            return Response(200, self.faults.settings.as_dict())
        if path == "/__sim/faults" and method == "POST":
            try:
                data = json.loads(body or b"{}")
                return Response(200, self.faults.update(data).as_dict())
            except (ValueError, UnicodeDecodeError) as exc:
                message = str(exc) if isinstance(exc, ScenarioError) else f"faults: body is not JSON ({exc})"
                return Response(400, {"error": message})
        if path == "/__sim/expire-tokens" and method == "POST":
            return Response(200, {"expired": self.tokens.expire_all()})
        return Response(404, {"error": f"no control endpoint {method} {path}"})


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _split_model_path(parts: list[str]) -> tuple[str | None, str, list[str]] | None:
    """(workspace id or None, model id, rest) for ``[workspaces/{w}/]models/{m}/...`` paths."""
    if len(parts) >= 4 and parts[0] == "workspaces" and parts[2] == "models":
        return parts[1], parts[3], parts[4:]
    if len(parts) >= 2 and parts[0] == "models":
        return None, parts[1], parts[2:]
    return None


def _integration_kind(parts: list[str]) -> str:
    if parts == ["workspaces"]:
        return "workspaces"
    if parts == ["models"] or (len(parts) == 3 and parts[0] == "workspaces" and parts[2] == "models"):
        return "models"
    split = _split_model_path(parts)
    if split is None:
        return "not_found"
    rest = split[2]
    if not rest:
        return "model"
    if rest[0] not in _KINDS:
        return "not_found"
    return {1: "objects", 2: "object", 3: "task_list", 4: "task_status"}.get(len(rest), "not_found")


class _IntegrationRequest:
    """One authenticated GET on the Integration API."""

    def __init__(self, sim: Simulator, path: str, query: dict[str, list[str]], host: str) -> None:
        self.sim = sim
        self.engine = sim.engine
        self.path = path
        self.query = query
        self.host = host
        self.now = sim.clock()

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def answer(self) -> Response:
        parts = _segments(self.path)[2:]
        if parts == ["workspaces"]:
            details = self.param("tenantDetails") == "true"
            items = [payloads.workspace_item(ws, details) for ws in self.sim.scenario.workspaces]
            return self.page("workspaces", payloads.schema(None, "workspace"), items)
        if parts == ["models"]:
            items = [payloads.model_item(ws, m) for ws in self.sim.scenario.workspaces for m in ws.models]
            return self.page("models", payloads.schema(None, "model"), items)
        if len(parts) == 3 and parts[0] == "workspaces" and parts[2] == "models":
            ws = self.engine.workspace(parts[1])
            if ws is None:
                return self.sim.error(404, self.path)
            items = [payloads.model_item(ws, m) for m in ws.models]
            return self.page("models", payloads.schema(None, "model"), items)
        split = _split_model_path(parts)
        if split is None:
            return self.sim.error(404, self.path)
        ws_id, model_id, rest = split
        if len(rest) in (3, 4) and rest[0] in _KINDS and rest[2] == "tasks":
            return self.tasks(ws_id, model_id, _KINDS[rest[0]], rest[1], rest[3] if len(rest) == 4 else None)
        found = self.engine.model(model_id, ws_id)
        if found is None:
            return self.sim.error(404, self.path)
        ws, model = found
        if not rest:
            if ws_id is not None:  # GET /workspaces/{w}/models/{m} is 405 on Anaplan
                return self.sim.error(405, self.path)
            return Response(
                200, payloads.envelope(payloads.schema(None, "model"), model=payloads.model_item(ws, model))
            )
        if rest[0] not in _KINDS:
            return self.sim.error(404, self.path)
        kind = _KINDS[rest[0]]
        if len(rest) == 1:
            items = [payloads.object_item(obj) for obj in model.of_type(kind)]
            return self.page(kind.collection, payloads.schema(model.id, kind.value), items)
        obj = model.by_id.get(rest[1])
        if len(rest) == 2 and kind is ObjectType.PROCESS and obj is not None and obj.type is kind:
            metadata = payloads.process_metadata(obj, model)
            return Response(
                200, payloads.envelope(payloads.schema(None, "process"), processMetadata=metadata)
            )
        return self.sim.error(404, self.path)

    def tasks(
        self, ws_id: str | None, model_id: str, kind: ObjectType, obj_id: str, task_id: str | None
    ) -> Response:
        found = self.engine.model(model_id, ws_id)
        model: SimModel | None = found[1] if found else None
        obj = model.by_id.get(obj_id) if model else None
        if obj is not None and obj.type is not kind:
            obj = None
        if task_id is None:
            return self.task_list(found[0].id if found else "", model_id, obj)
        if found is None or model is None or obj is None:
            return self.sim.error(404, self.path)
        run = self.engine.find_run(found[0].id, model.id, obj, task_id, self.now)
        if run is None:
            return self.sim.error(404, self.path)
        details = self.param("includeProcessDetails") == "true"
        task = payloads.task_status(self.engine.view(run, self.now), model, details)
        return Response(200, payloads.envelope(payloads.schema(model.id, "task"), task=task))

    def task_list(self, ws_id: str, model_id: str, obj: Any) -> Response:
        """Unknown parents answer 200 with an empty list, as Anaplan does (NO ACCESS masking)."""
        schema = payloads.schema(model_id, "task")
        if obj is None:
            return self.page("tasks", schema, [])
        indices = self.engine.indices(obj, self.now)
        newest_first = (self.param("sort") or "").replace(" ", "") in ("-creationTime", "-creationDate")
        ordered = indices[::-1] if newest_first else indices
        paging = self.paging()
        if isinstance(paging, Response):
            return paging
        offset, limit = paging
        chosen = ordered[offset : offset + limit]
        items = [
            payloads.task_summary(self.engine.view(self.engine.run(ws_id, model_id, obj, k), self.now))
            for k in chosen
        ]
        return self.page("tasks", schema, items, total=len(indices), paging=paging)

    def paging(self) -> tuple[int, int] | Response:
        try:
            offset = int(self.param("offset") or 0)
            limit = min(int(self.param("limit") or MAX_PAGE), MAX_PAGE)
        except ValueError:
            return self.sim.error(400, self.path)
        if offset < 0 or limit < 1:
            return self.sim.error(400, self.path)
        return offset, limit

    def page(
        self,
        key: str,
        schema: str,
        items: list[dict[str, Any]],
        total: int | None = None,
        paging: tuple[int, int] | None = None,
    ) -> Response:
        if total is None:  # slice here; callers that page lazily pass the page and the total
            window = self.paging()
            if isinstance(window, Response):
                return window
            paging = window
            total = len(items)
            items = items[window[0] : window[0] + window[1]]
        assert paging is not None
        offset, limit = paging
        links: dict[str, str] = {}
        if offset + len(items) < total:
            links["next"] = self.link(offset + limit, limit)
        if offset > 0:
            links["previous"] = self.link(max(offset - limit, 0), limit)
        return Response(200, payloads.paged(schema, key, items, offset, total, links))

    def link(self, offset: int, limit: int) -> str:
        query = {k: v[-1] for k, v in self.query.items() if k not in ("offset", "limit")}
        query.update(offset=str(offset), limit=str(limit))
        return f"http://{self.host}{self.path}?{urlencode(query)}"


class _Handler(BaseHTTPRequestHandler):
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
        area, kind = sim.classify(path)
        sim.stats.begin()
        # The request is counted before the client can see the answer (or the dropped connection), so
        # stats read right after a response always include it and in-flight never outlasts a client's wait.
        status: int | str = "dropped"
        counted = False
        try:
            decision = Decision()
            if area != "other" and sim.faults.applies_to(area == "integration", path):
                decision = sim.faults.decide()
            if decision.latency:
                time.sleep(decision.latency)
            if decision.drop:
                sim.stats.end(kind, status)
                counted = True
                self.drop()
                return
            response = sim.fault_response(decision, path)
            authorization = self.headers.get("Authorization")
            if response is None and decision.echo_status is not None:
                response = sim.echo(decision.echo_status, path, authorization, body)
            if response is None:
                if area == "integration":
                    host = self.headers.get("Host") or sim.base_url.removeprefix("http://")
                    query = parse_qs(url.query)
                    response = sim.handle_integration(self.command, path, query, authorization, host)
                elif area == "auth":
                    response = sim.handle_auth(kind, self.command, authorization, body)
                else:
                    response = Response(404, {"error": f"no such endpoint {path}"})
            status = response.status
            sim.stats.end(kind, status)
            counted = True
            self.send(response, malformed=decision.malformed, decision=decision)
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

    def send(self, response: Response, malformed: bool = False, decision: Decision | None = None) -> None:
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
        super().__init__(address, _Handler)
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
