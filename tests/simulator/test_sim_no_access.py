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
