"""The simulator behind the socket: the run engine, tokens, auth service, faults and request statistics of one
scenario, and its answers to auth, Integration API and ``/__sim/`` control requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from .auth import AuthService, Reply, TokenStore
from .engine import Engine
from .faults import FaultInjector
from .integration import IntegrationRequest
from .response import Response, error_response
from .scenario_types import Scenario
from .stats import Stats
from .validate import ScenarioError


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

    def control(self, method: str, path: str, body: bytes) -> Response:
        """The ``/__sim/`` endpoints for tests and benchmarks: ground truth, stats, faults, token expiry."""
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
