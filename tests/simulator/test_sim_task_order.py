"""Task-list order in the real simulator process: ``sort=-creationDate`` newest first as on Anaplan, the
``ignore_sort`` fault (oldest first whatever is asked, for one object with ``path``), and the body bytes
served counted per endpoint kind."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from support.simulator import SimulatorHandle, running_simulator

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
FIRST, SECOND = "112000000007", "112000000008"
BASE = f"/workspaces/{WS}/models/{MODEL}"
HISTORY = 12


def _import(object_id: str) -> dict[str, Any]:
    return {
        "id": object_id,
        "name": f"Import {object_id}",
        "every": 3600,
        "offset": 1800,
        "duration": 5,
        "history": HISTORY,
    }


SCENARIO: dict[str, Any] = {
    "users": [{"username": "u@example.com", "password": "pw"}],
    "workspaces": [
        {
            "id": WS,
            "name": "W",
            "models": [{"id": MODEL, "name": "M", "imports": [_import(FIRST), _import(SECOND)]}],
        }
    ],
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with running_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(scope="module")
def http(sim: SimulatorHandle) -> requests.Session:
    session = requests.Session()
    auth = "Basic " + base64.b64encode(b"u@example.com:pw").decode()
    token = session.post(sim.url + "/token/authenticate", headers={"Authorization": auth}, timeout=10)
    session.headers["Authorization"] = "AnaplanAuthToken " + token.json()["tokenInfo"]["tokenValue"]
    return session


def _times(sim: SimulatorHandle, http: requests.Session, object_id: str, **params: Any) -> list[int]:
    body = http.get(f"{sim.api_url}{BASE}/imports/{object_id}/tasks", params=params, timeout=10).json()
    assert body["meta"]["paging"]["totalSize"] == HISTORY
    return [task["creationTime"] for task in body.get("tasks", [])]


def test_sort_by_creation_date_descending_lists_newest_first(
    sim: SimulatorHandle, http: requests.Session
) -> None:
    oldest_first = _times(sim, http, FIRST)
    assert len(oldest_first) == HISTORY and oldest_first == sorted(oldest_first)
    newest = _times(sim, http, FIRST, sort="-creationDate", offset=0, limit=5)
    assert newest == oldest_first[::-1][:5]
    assert _times(sim, http, FIRST, sort="-creationDate", offset=10, limit=5) == oldest_first[1::-1]


def test_the_ignore_sort_fault_lists_oldest_first_for_the_objects_it_applies_to(
    sim: SimulatorHandle, http: requests.Session
) -> None:
    sim.set_faults(ignore_sort=True, path=f"/imports/{FIRST}/")
    try:
        ignored = _times(sim, http, FIRST, sort="-creationDate", limit=5)
        honoured = _times(sim, http, SECOND, sort="-creationDate", limit=5)
    finally:
        sim.set_faults(ignore_sort=None, path=None)
    assert ignored == sorted(ignored) and len(ignored) == 5
    assert honoured == sorted(honoured, reverse=True) and len(honoured) == 5
    newest_five = sorted(_times(sim, http, FIRST), reverse=True)[:5]
    assert _times(sim, http, FIRST, sort="-creationDate", limit=5) == newest_five  # the fault is off again


def test_body_bytes_are_counted_per_endpoint_kind(sim: SimulatorHandle, http: requests.Session) -> None:
    before = sim.stats()["bytes"].get("task_list", 0)
    sizes = [
        len(http.get(f"{sim.api_url}{BASE}/imports/{FIRST}/tasks", params={"limit": n}, timeout=10).content)
        for n in (1, 12)
    ]
    after = sim.stats()["bytes"]
    assert after["task_list"] - before == sum(sizes) and sizes[1] > sizes[0] > 0
    assert after["authenticate"] > 0
