"""Request accounting is complete before the client sees the answer, so stats read right after agree."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from anaplan_simulator.app import Response
from anaplan_simulator.scenario import parse_scenario
from anaplan_simulator.server import RequestHandler
from support.simulator import serve_in_thread

SCENARIO = parse_scenario({"users": [{"username": "u", "password": "p"}], "workspaces": [{"name": "W"}]})


def test_request_is_counted_before_its_response_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    at_send: list[dict[str, Any]] = []
    original = RequestHandler.send

    def send(self: RequestHandler, response: Response, malformed: bool = False, **kwargs: Any) -> None:
        at_send.append(self.server.sim.stats.snapshot())
        original(self, response, malformed, **kwargs)

    monkeypatch.setattr(RequestHandler, "send", send)
    with serve_in_thread(SCENARIO) as server:
        assert requests.get(server.url + "/2/0/workspaces", timeout=10).status_code == 401
    assert at_send[-1]["requests"] == {"workspaces": {"401": 1}}
    assert at_send[-1]["in_flight"] == 0


def test_dropped_request_is_counted_before_the_connection_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    at_drop: list[dict[str, Any]] = []
    original = RequestHandler.drop

    def drop(self: RequestHandler) -> None:
        at_drop.append(self.server.sim.stats.snapshot())
        original(self)

    monkeypatch.setattr(RequestHandler, "drop", drop)
    with serve_in_thread(SCENARIO) as server:
        server.sim.faults.update({"drop_connection_rate": 1.0})
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/2/0/workspaces", timeout=10)
    assert len(at_drop) == 1
    assert at_drop[0]["requests"] == {"workspaces": {"dropped": 1}}
