"""Paged listings over real HTTP: small pages, every item exactly once, no page fetched twice."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.models import ObjectType, TaskState
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

PAGE = 7
HISTORY = 40
LONG_HISTORY = "118000000001"
GENERATED = {ObjectType.PROCESS: 30, ObjectType.IMPORT: 16, ObjectType.EXPORT: 9, ObjectType.ACTION: 14}

SCENARIO = base_scenario(
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "Paging",
            "models": [
                {
                    "id": MODEL,
                    "name": "Many Objects",
                    "processes": [
                        {
                            "id": LONG_HISTORY,
                            "name": "Long History",
                            "steps": [{"id": "117000000900", "name": "Clear", "type": "DELETE_BY_SELECTION"}],
                            "every": 600,
                            "duration": 2,
                            "history": HISTORY,
                        }
                    ],
                    "generate": {
                        "processes": GENERATED[ObjectType.PROCESS],
                        "imports": GENERATED[ObjectType.IMPORT],
                        "exports": GENERATED[ObjectType.EXPORT],
                        "actions": GENERATED[ObjectType.ACTION],
                        "steps": 2,
                        "every": 600,
                        "duration": 5,
                    },
                },
                *({"name": f"Empty {i}"} for i in range(1, 8)),
            ],
        },
        *({"name": f"Workspace {i}"} for i in range(2, 10)),
    ]
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture
def client(sim: SimulatorHandle, make_client: ClientFactory) -> AnaplanClient:
    return make_client(sim, BasicCredentials(USER, PASSWORD), page_size=PAGE)


def pages(items: int) -> int:
    return max(1, math.ceil(items / PAGE))


def test_workspaces_and_models_are_paged(sim: SimulatorHandle, client: AnaplanClient) -> None:
    delta = StatsDelta(sim)
    workspaces = client.list_workspaces()
    assert len(workspaces) == 9 and len({ws.id for ws in workspaces}) == 9
    assert workspaces[0].id == WORKSPACE
    assert {ws.name for ws in workspaces[1:]} == {f"Workspace {i}" for i in range(2, 10)}
    models = client.list_models(WORKSPACE)
    assert len(models) == 8 and len({m.id for m in models}) == 8
    assert models[0].id == MODEL and all(m.workspace_id == WORKSPACE for m in models)
    assert delta("workspaces", "200") == pages(9) == 2
    assert delta("models", "200") == pages(8) == 2


@pytest.mark.parametrize("kind", list(ObjectType))
def test_objects_are_paged(sim: SimulatorHandle, client: AnaplanClient, kind: ObjectType) -> None:
    delta = StatsDelta(sim)
    objects = client.list_objects(WORKSPACE, MODEL, kind)
    generated = GENERATED[kind]
    expected_names = {f"Generated {kind.value} {i}" for i in range(1, generated + 1)}
    if kind is ObjectType.PROCESS:
        expected_names.add("Long History")
    assert len(objects) == len(expected_names)
    assert len({obj.id for obj in objects}) == len(objects)
    assert {obj.name for obj in objects} == expected_names
    assert all(obj.type is kind and obj.id.startswith(kind.id_prefix) for obj in objects)
    # 14 actions make exactly two full pages: the client must not ask for an empty third one.
    assert delta("objects", "200") == pages(len(objects))


def test_task_lists_are_paged(sim: SimulatorHandle, client: AnaplanClient) -> None:
    truth: list[dict[str, Any]] = [t for t in sim.ground_truth() if t["object_id"] == LONG_HISTORY]
    assert len(truth) == HISTORY + 1  # the history plus the run created at start-up
    delta = StatsDelta(sim)
    tasks = client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, LONG_HISTORY)
    assert [t.task_id for t in tasks] == [t["task_id"] for t in reversed(truth)]  # newest first, each once
    for task, expected in zip(tasks, reversed(truth), strict=True):
        assert task.state is TaskState(expected["state"])
        assert task.creation_time == pytest.approx(expected["creation_time"], abs=1e-3)
    assert delta("task_list", "200") == pages(HISTORY + 1) == 6
