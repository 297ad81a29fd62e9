"""Cheap task lists over real HTTP: an object with 10,000 listed runs costs one small request per look, and
a server that ignores ``sort`` (the simulator's ``ignore_sort`` fault) is read whole instead, remembered and
logged once, counting no old run as new."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.polling.tracker import ObjectTracker
from anaplan_exporter.snapshot import ObjectRef
from support.simulator import SimulatorHandle

from .harness import (
    MODEL,
    PASSWORD,
    USER,
    WORKSPACE,
    ClientFactory,
    StatsDelta,
    base_scenario,
    checked_simulator,
)

RUNS = 10_000
SORTED, UNSORTED = "112000000001", "112000000002"


def _long_history(object_id: str) -> dict[str, object]:
    """10,000 finished runs, successes and failures in turn; no run while the test runs."""
    return {
        "id": object_id,
        "name": f"Import {object_id}",
        "every": 600,
        "offset": 3_600,
        "duration": 5,
        "history": RUNS,
        "outcomes": ["success", "failure"],
    }


SCENARIO = base_scenario(
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "Long histories",
            "models": [
                {"id": MODEL, "name": "M", "imports": [_long_history(SORTED), _long_history(UNSORTED)]}
            ],
        }
    ],
    faults={"ignore_sort": True, "path": f"/imports/{UNSORTED}/"},
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture
def client(sim: SimulatorHandle, make_client: ClientFactory) -> AnaplanClient:
    return make_client(sim, BasicCredentials(USER, PASSWORD))


def _tracker(object_id: str) -> ObjectTracker:
    return ObjectTracker(
        ObjectRef(WORKSPACE, "Long histories", MODEL, "M", ObjectType.IMPORT, object_id, "I")
    )


def _looks(
    sim: SimulatorHandle, client: AnaplanClient, tracker: ObjectTracker, looks: int
) -> list[tuple[int, int]]:
    """Task-list requests and bytes of each of ``looks`` successive polls."""
    costs = []
    for look in range(looks):
        before = sim.stats()
        delta = StatsDelta(sim)
        assert tracker.poll(client, 1e10 + 60.0 * look), tracker.status(0.0).errors
        served = sim.stats()["bytes"].get("task_list", 0) - before["bytes"].get("task_list", 0)
        costs.append((delta("task_list", "200"), served))
    return costs


def test_each_look_at_ten_thousand_runs_is_one_small_request(
    sim: SimulatorHandle, client: AnaplanClient
) -> None:
    tracker = _tracker(SORTED)
    costs = _looks(sim, client, tracker, 4)
    assert [requests for requests, _ in costs] == [1, 1, 1, 1]
    assert all(0 < served < 10_000 for _, served in costs), costs  # 50 runs: a few kilobytes
    status = tracker.status(1e10)
    assert status.task is not None and status.task.creation_time == max(
        t["creation_time"] for t in sim.ground_truth() if t["object_id"] == SORTED
    )
    assert status.last_success_time is not None and status.last_failure_time is not None
    assert sum(status.completions.values()) == 0  # history, never counted


def test_a_server_that_ignores_sort_is_read_whole_and_logged_once(
    sim: SimulatorHandle, client: AnaplanClient, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = _tracker(UNSORTED)
    costs = _looks(sim, client, tracker, 3)
    # The first look asks for a small page, sees it oldest first, and reads every page of 5,000 instead;
    # later looks go straight to the whole list.
    assert [requests for requests, _ in costs] == [3, 2, 2]
    assert all(served > 500_000 for _, served in costs), costs
    status = tracker.status(1e10)
    assert status.task is not None and status.task.creation_time == max(
        t["creation_time"] for t in sim.ground_truth() if t["object_id"] == UNSORTED
    )
    assert sum(status.completions.values()) == 0
    notices = [r for r in caplog.records if r.levelno >= logging.INFO and "sort=" in r.getMessage()]
    assert len(notices) == 1 and notices[0].levelno == logging.WARNING
    assert f"import {UNSORTED}" in notices[0].getMessage()
