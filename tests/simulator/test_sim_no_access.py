"""A model the user has NO ACCESS to: listed, but masked as Anaplan masks it (404 on model-scoped reads, an
empty 200 task list)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from anaplan_simulator.scenario import parse_scenario
from support.simulator import serve_in_thread

WS, OPEN, CLOSED = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F", "11111111111111111111111111111111"
_PROCESS = {
    "id": "118000000002",
    "name": "Nightly",
    "steps": [{"id": "112000000007", "name": "Load"}],
    "step_durations": [5],
    "every": 3600,
    "history": 2,
}
SCENARIO = parse_scenario(
    {
        "users": [{"username": "u", "password": "p"}],
        "workspaces": [
            {
                "id": WS,
                "name": "W",
                "models": [
                    {"id": OPEN, "name": "Open", "processes": [_PROCESS]},
                    {"id": CLOSED, "name": "Closed", "no_access": True, "processes": [_PROCESS]},
                ],
            }
        ],
    }
)


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, requests.Session]]:
    with serve_in_thread(SCENARIO) as server:
        session = requests.Session()
        login = session.post(
            server.url + "/token/authenticate",
            headers={"Authorization": "Basic " + base64.b64encode(b"u:p").decode()},
            timeout=10,
        )
        token = login.json()["tokenInfo"]["tokenValue"]
        session.headers["Authorization"] = f"AnaplanAuthToken {token}"
        yield server.url + "/2/0", session


def _model_ids(body: dict[str, object]) -> list[str]:
    models = body["models"]
    assert isinstance(models, list)
    return [model["id"] for model in models]


def test_the_closed_model_is_listed(api: tuple[str, requests.Session]) -> None:
    url, http = api
    assert _model_ids(http.get(f"{url}/workspaces/{WS}/models", timeout=10).json()) == [OPEN, CLOSED]
    assert CLOSED in _model_ids(http.get(f"{url}/models", timeout=10).json())
    assert http.get(f"{url}/models/{CLOSED}", timeout=10).status_code == 200


def test_its_reads_are_masked(api: tuple[str, requests.Session]) -> None:
    url, http = api
    for model, listed in ((OPEN, 200), (CLOSED, 404)):
        base = f"{url}/workspaces/{WS}/models/{model}"
        assert http.get(f"{base}/processes", timeout=10).status_code == listed
        assert http.get(f"{base}/processes/118000000002", timeout=10).status_code == listed
        tasks = http.get(f"{base}/processes/118000000002/tasks", timeout=10)
        assert tasks.status_code == 200
        assert bool(tasks.json().get("tasks")) is (model == OPEN)


def test_access_can_be_taken_and_granted_while_it_runs() -> None:
    with serve_in_thread(SCENARIO) as server:
        http = requests.Session()
        token = http.post(
            server.url + "/token/authenticate",
            headers={"Authorization": "Basic " + base64.b64encode(b"u:p").decode()},
            timeout=10,
        ).json()["tokenInfo"]["tokenValue"]
        http.headers["Authorization"] = f"AnaplanAuthToken {token}"
        base = f"{server.url}/2/0/workspaces/{WS}/models"

        def readable(model: str) -> tuple[int, bool]:
            listed = http.get(f"{base}/{model}/processes", timeout=10).status_code
            runs = http.get(f"{base}/{model}/processes/118000000002/tasks", timeout=10).json().get("tasks")
            return listed, bool(runs)

        assert http.get(f"{server.url}/__sim/access", timeout=10).json() == {"no_access": [CLOSED]}
        assert readable(CLOSED) == (404, False)
        granted = http.post(
            f"{server.url}/__sim/access", json={"model": CLOSED, "no_access": False}, timeout=10
        )
        assert granted.status_code == 200 and granted.json() == {"no_access": []}
        assert readable(CLOSED) == (200, True)
        taken = http.post(f"{server.url}/__sim/access", json={"model": OPEN, "no_access": True}, timeout=10)
        assert taken.json() == {"no_access": [OPEN]}
        assert readable(OPEN) == (404, False)
        unknown = http.post(
            f"{server.url}/__sim/access", json={"model": "NOPE", "no_access": True}, timeout=10
        )
        assert unknown.status_code == 404
        bad = http.post(f"{server.url}/__sim/access", json={"model": OPEN}, timeout=10)
        assert bad.status_code == 400
