"""The simulator behind the socket: the run engine, tokens, auth service, faults and request statistics of one
scenario, and its answers to auth, Integration API and ``/__sim/`` control requests.

An answer is a ``Response`` value until the server writes it; the answers that are not the API's own are
Anaplan's JSON error body, a request quoted back and a gateway's HTML error page. ``classify`` names the
endpoint a path asks for (what the request statistics count it under). The Integration API answers one
authenticated GET (``IntegrationRequest``): the workspace and model listings, a model, its object listings
and process metadata, an object's task list and a task's status, each paged as Anaplan pages them
(``offset``/``limit``, with ``next`` and ``previous`` links).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from anaplan_exporter.anaplan.models import ObjectType

from . import payloads
from .auth import AuthService, Reply, TokenStore
from .cloudworks_api import PREFIX as CLOUDWORKS_PREFIX
from .cloudworks_api import CloudWorksAPI, kind_of
from .engine import Engine
from .faults import Decision, FaultInjector
from .scenario import Scenario, SimModel
from .stats import Stats
from .validate import ScenarioError

# --- answers ---

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Not Permitted",
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


def error_response(code: int, path: str) -> Response:
    """Anaplan's JSON error body for ``code`` on ``path``, stamped now."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return Response(code, payloads.error(code, REASONS.get(code, "Error"), path, stamp))


def echo_response(
    status: int, path: str, authorization: str | None, body: bytes, form: str = "as_sent"
) -> Response:
    """An error that quotes the request back, as some gateways and careless services do.

    ``form`` other than ``as_sent`` quotes the credentials re-encoded first, at the start of the message
    (so that a client's excerpt of it keeps them): see :func:`echoed_credentials`."""
    text = body.decode("utf-8", "replace")
    message = f"Rejected {path}. Authorization: {authorization}; request body: {text}"
    if form != "as_sent":
        message = f"Rejected {path}: credentials {echoed_credentials(authorization, text, form)} unknown"
    payload = {
        "status": {"code": status, "message": message},
        "statusMessage": message,
        "error_description": message,
        "headers": {"Authorization": authorization},
        "request": text,
    }
    return Response(status, payload)


def echoed_credentials(authorization: str | None, body: str, form: str) -> str:
    """The request's credentials in ``form``: the password (and the Basic header's ``user:password``),
    token, or OAuth refresh token and client secret, each written ``html``-escaped, ``upper``-cased,
    ``url``- or ``json``-escaped, ``collapsed`` (whitespace runs as one space) or in base64
    (``base64_unpadded``, or ``base64_wrapped`` every 16 characters with CRLF; for Basic, of
    ``user:password``)."""
    scheme, _, value = (authorization or "").partition(" ")
    secrets = [value] if value and scheme != "Basic" else []
    if scheme == "Basic":
        try:
            pair = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pair = value
        secrets.append(pair if form.startswith("base64") else pair.partition(":")[2])
    try:
        fields = json.loads(body) if body else {}
    except ValueError:
        fields = {}
    if isinstance(fields, dict):
        secrets += [str(fields[key]) for key in ("refresh_token", "client_secret") if key in fields]
    return " ".join(_ENCODINGS[form](secret) for secret in secrets)


def _base64(secret: str) -> str:
    return base64.b64encode(secret.encode("utf-8")).decode("ascii")


_ENCODINGS: dict[str, Callable[[str], str]] = {
    "base64_unpadded": lambda secret: _base64(secret).rstrip("="),
    "base64_wrapped": lambda secret: "\r\n".join(
        _base64(secret)[i : i + 16] for i in range(0, len(_base64(secret)), 16)
    ),
    "html": html.escape,
    "upper": str.upper,
    "url": lambda secret: quote(secret, safe=""),
    "json": lambda secret: json.dumps(secret)[1:-1],
    "collapsed": lambda secret: " ".join(secret.split()),
}


def with_creation_time(response: Response, value: float | str) -> Response:
    """``response`` with every ``creationTime`` in its JSON body replaced by ``value`` (a fault)."""

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: value if k == "creationTime" else replace(v) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(item) for item in node]
        return node

    return Response(response.status, replace(response.body), response.headers, response.text)


def fault_response(decision: Decision, path: str) -> Response | None:
    """The injected error ``decision`` asks for (None: no error): 429 and 500 as Anaplan, others as HTML."""
    if decision.status is None:
        return None
    if decision.status == 429:
        response = error_response(429, path)
        if decision.retry_after is not None:
            response.headers.append(("Retry-After", decision.retry_after))
        return response
    if decision.status == 500:
        return error_response(500, path)
    reason = REASONS[decision.status]
    page = f"<html><body><h1>{decision.status} {reason}</h1></body></html>"
    return Response(decision.status, text=page)


# --- routes ---

KINDS = {kind.collection: kind for kind in ObjectType}
_AUTH_KINDS = {
    "/token/authenticate": "authenticate",
    "/token/refresh": "refresh",
    "/token/validate": "validate",
    "/token/logout": "logout",
    "/oauth/token": "oauth_token",
}


def classify(path: str) -> tuple[str, str]:
    """(area, kind): area is integration, auth or other; kind names the endpoint for the stats."""
    if path.startswith("/2/0/") or path == "/2/0":
        return "integration", _integration_kind(segments(path)[2:])
    if path.startswith(CLOUDWORKS_PREFIX + "/"):
        return "cloudworks", kind_of(segments(path[len(CLOUDWORKS_PREFIX) :]))
    if path in _AUTH_KINDS:
        return "auth", _AUTH_KINDS[path]
    return "other", "unknown"


def segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def split_model_path(parts: list[str]) -> tuple[str | None, str, list[str]] | None:
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
    split = split_model_path(parts)
    if split is None:
        return "not_found"
    rest = split[2]
    if not rest:
        return "model"
    if rest[0] not in KINDS:
        return "not_found"
    return {1: "objects", 2: "object", 3: "task_list", 4: "task_status"}.get(len(rest), "not_found")


# --- the simulator ---


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
        self.cloudworks = CloudWorksAPI(self.engine)
        self.base_url = ""
        self.no_access = {m.id for ws in scenario.workspaces for m in ws.models if m.no_access}
        """IDs of the models masked as NO ACCESS: the scenario's, changed at run time by ``/__sim/access``."""

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
            return error_response(405, path)
        if self.auth.integration_token(authorization) is None:
            return error_response(401, path)
        return IntegrationRequest(self, path, query, host).answer()

    def handle_cloudworks(
        self, method: str, path: str, query: dict[str, list[str]], authorization: str | None
    ) -> Response:
        """CloudWorks under ``/cloudworks/2/0``: the Integration API's token; 403 without the role."""
        if method != "GET":
            self.stats.non_get(method, path)
            return error_response(405, path)
        token = self.auth.integration_token(authorization)
        if token is None:
            return error_response(401, path)
        if token.user in self.scenario.cloudworks_denied:
            return error_response(403, path)
        status, body = self.cloudworks.answer(path, query, self.clock())
        return Response(status, body)

    def control(self, method: str, path: str, body: bytes) -> Response:
        """The ``/__sim/`` endpoints for tests and benchmarks: ground truth, stats, faults, token expiry, and
        which models the users have NO ACCESS to."""
        now = self.clock()
        if path == "/__sim/ground-truth" and method == "GET":
            return Response(200, self.engine.ground_truth(now))
        if path == "/__sim/cloudworks-truth" and method == "GET":
            runs = self.cloudworks.runs
            records = [runs.truth(run) | {"running": run.running(now)} for run in runs.all_runs(now)]
            records += [
                runs.flow_truth(run) | {"running": run.running(now)}
                for flow in runs.spec.flows
                for run in runs.flow_runs(flow, now)
            ]
            return Response(200, records)
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
        if path == "/__sim/access" and method == "GET":
            return Response(200, {"no_access": sorted(self.no_access)})
        if path == "/__sim/access" and method == "POST":
            return self.set_access(body)
        return Response(404, {"error": f"no control endpoint {method} {path}"})

    def set_access(self, body: bytes) -> Response:
        """``{"model": ID, "no_access": true|false}``: mask a model as NO ACCESS, or grant the role back."""
        try:
            data = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            return Response(400, {"error": f"access: body is not JSON ({exc})"})
        model_id = data.get("model") if isinstance(data, dict) else None
        masked = data.get("no_access") if isinstance(data, dict) else None
        if not isinstance(model_id, str) or not isinstance(masked, bool):
            expected = 'access: expected {"model": "<model ID>", "no_access": true|false}'
            return Response(400, {"error": expected})
        if self.engine.model(model_id) is None:
            return Response(404, {"error": f"access: no model {model_id!r} in the scenario"})
        if masked:
            self.no_access.add(model_id)
        else:
            self.no_access.discard(model_id)
        return Response(200, {"no_access": sorted(self.no_access)})


# --- the Integration API ---

MAX_PAGE = 5000


class IntegrationRequest:
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
        parts = segments(self.path)[2:]
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
                return error_response(404, self.path)
            items = [payloads.model_item(ws, m) for m in ws.models]
            return self.page("models", payloads.schema(None, "model"), items)
        split = split_model_path(parts)
        if split is None:
            return error_response(404, self.path)
        ws_id, model_id, rest = split
        if len(rest) in (3, 4) and rest[0] in KINDS and rest[2] == "tasks":
            return self.tasks(ws_id, model_id, KINDS[rest[0]], rest[1], rest[3] if len(rest) == 4 else None)
        found = self.engine.model(model_id, ws_id)
        if found is None:
            return error_response(404, self.path)
        ws, model = found
        if not rest:
            if ws_id is not None:  # GET /workspaces/{w}/models/{m} is 405 on Anaplan
                return error_response(405, self.path)
            return Response(
                200, payloads.envelope(payloads.schema(None, "model"), model=payloads.model_item(ws, model))
            )
        if rest[0] not in KINDS or model.id in self.sim.no_access:  # NO ACCESS is masked as 404
            return error_response(404, self.path)
        kind = KINDS[rest[0]]
        if len(rest) == 1:
            items = [payloads.object_item(obj) for obj in model.of_type(kind)]
            return self.page(kind.collection, payloads.schema(model.id, kind.value), items)
        obj = model.by_id.get(rest[1])
        if len(rest) == 2 and kind is ObjectType.PROCESS and obj is not None and obj.type is kind:
            metadata = payloads.process_metadata(obj, model)
            return Response(
                200, payloads.envelope(payloads.schema(None, "process"), processMetadata=metadata)
            )
        return error_response(404, self.path)

    def tasks(
        self, ws_id: str | None, model_id: str, kind: ObjectType, obj_id: str, task_id: str | None
    ) -> Response:
        found = self.engine.model(model_id, ws_id)
        if found is not None and found[1].id in self.sim.no_access:
            found = None  # NO ACCESS: an empty task list, a 404 for a task, as for an unknown model
        model: SimModel | None = found[1] if found else None
        obj = model.by_id.get(obj_id) if model else None
        if obj is not None and obj.type is not kind:
            obj = None
        if task_id is None:
            return self.task_list(found[0].id if found else "", model_id, obj)
        if found is None or model is None or obj is None:
            return error_response(404, self.path)
        run = self.engine.find_run(found[0].id, model.id, obj, task_id, self.now)
        if run is None:
            return error_response(404, self.path)
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
        if self.sim.faults.settings.ignore_sort and self.sim.faults.applies_to(True, self.path):
            newest_first = False  # a fault: Anaplan's default order, oldest first
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
            return error_response(400, self.path)
        if offset < 0 or limit < 1:
            return error_response(400, self.path)
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
