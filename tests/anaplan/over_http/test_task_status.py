"""Task status documents as the simulator sends them (string milliseconds, flat row counts) made typed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.errors import AnaplanNotFoundError
from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, TaskState
from support.simulator import SimulatorHandle

from .harness import (
    MODEL,
    PASSWORD,
    USER,
    WORKSPACE,
    ClientFactory,
    SecretBook,
    StatsDelta,
    base_scenario,
    checked_simulator,
)

PROCESS = "118000000002"
RUNNING_PROCESS = "118000000003"
IMPORT = "112000000007"
EXPORT = "116000000002"
ACTION = "117000000015"
ROWS = ImportRowCounts(total=95, success=90, failed=0, ignored=5, warnings=2)
FAILURE_ROWS = ImportRowCounts(total=95, success=60, failed=30, ignored=5, warnings=0)

SCENARIO = base_scenario(
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "Status",
            "models": [
                {
                    "id": MODEL,
                    "name": "Planning",
                    "processes": [
                        {
                            "id": PROCESS,
                            "name": "Nightly Load",
                            "steps": [{"id": ACTION}, {"id": IMPORT}, {"id": EXPORT}],
                            "step_durations": [1.5, 2.25, 0.75],
                            "every": 600,
                            "outcomes": ["success", "failure_dump", "failure"],
                            "fail_step": 2,
                            "history": 6,
                        },
                        {
                            "id": RUNNING_PROCESS,
                            "name": "Month-End Close",
                            "steps": [{"id": IMPORT}, {"id": EXPORT}],
                            "step_durations": [300, 200],
                            "every": 600,
                        },
                    ],
                    "imports": [
                        {
                            "id": IMPORT,
                            "name": "Employees from Organization.txt",
                            "rows": {
                                "hierarchy": "Employees",
                                "total": 95,
                                "success": 90,
                                "ignored": 5,
                                "warnings": 2,
                            },
                            "failure_rows": {
                                "hierarchy": "Employees",
                                "total": 95,
                                "success": 60,
                                "failed": 30,
                                "ignored": 5,
                            },
                            "every": 600,
                            "duration": 5,
                            "outcomes": ["success", "failure"],
                            "history": 4,
                        }
                    ],
                    "exports": [
                        {"id": EXPORT, "name": "Sales.csv", "every": 600, "duration": 5, "history": 2}
                    ],
                    "actions": [
                        {"id": ACTION, "name": "Clear Staging", "every": 600, "duration": 5, "history": 2}
                    ],
                }
            ],
        }
    ]
)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(scope="module")
def truth(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return sim.ground_truth()


@pytest.fixture
def client(sim: SimulatorHandle, make_client: ClientFactory) -> AnaplanClient:
    return make_client(sim, BasicCredentials(USER, PASSWORD))


def history_of(truth: list[dict[str, Any]], object_id: str) -> list[dict[str, Any]]:
    runs = [t for t in truth if t["object_id"] == object_id and t["history"]]
    assert runs, f"the scenario gives {object_id} history"
    return runs


def test_process_details_give_nested_step_durations_in_seconds(
    client: AnaplanClient, truth: list[dict[str, Any]]
) -> None:
    outcomes = set()
    for expected in history_of(truth, PROCESS):
        task = client.task_status(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS, expected["task_id"])
        assert task.task_id == expected["task_id"]
        assert task.state is TaskState.COMPLETE and task.progress == 1.0
        assert task.creation_time == pytest.approx(expected["creation_time"], abs=1e-3)
        result = task.result
        assert result is not None
        assert result.object_id == PROCESS
        assert result.successful is (expected["outcome"] == "success")
        assert result.failure_dump_available is expected["failure_dump"]
        # Anaplan sends "duration"/"startTime" as strings of milliseconds; the client gives seconds.
        assert isinstance(result.duration_seconds, float) and isinstance(result.start_time, float)
        assert result.start_time == pytest.approx(expected["start_time"], abs=1e-3)
        assert result.duration_seconds == pytest.approx(
            expected["finish_time"] - expected["start_time"], abs=2e-3
        )
        steps = expected["steps"]
        assert [n.object_id for n in result.nested] == [s["object_id"] for s in steps]
        for nested, step in zip(result.nested, steps, strict=True):
            assert nested.successful is step["successful"]
            assert nested.duration_seconds == pytest.approx(step["duration"], abs=1e-3)
            assert nested.start_time == pytest.approx(step["start_time"], abs=1e-3)
            if step["object_id"] == IMPORT:
                assert nested.row_counts == (ROWS if step["successful"] else FAILURE_ROWS)
        assert [s["successful"] for s in steps] == (
            [True, True, True] if result.successful else [True, False]
        )
        outcomes.add((result.successful, result.failure_dump_available))
    assert outcomes == {(True, False), (False, True), (False, False)}


def test_imports_give_row_counts(client: AnaplanClient, truth: list[dict[str, Any]]) -> None:
    seen = set()
    for expected in history_of(truth, IMPORT):
        task = client.task_status(WORKSPACE, MODEL, ObjectType.IMPORT, IMPORT, expected["task_id"])
        assert task.state is TaskState.COMPLETE and task.progress == 1.0
        assert task.result is not None
        successful = expected["outcome"] == "success"
        assert task.result.successful is successful
        assert task.result.row_counts == (ROWS if successful else FAILURE_ROWS)
        assert task.result.duration_seconds is None  # process details are asked for processes only
        seen.add(successful)
    assert seen == {True, False}


@pytest.mark.parametrize(("kind", "object_id"), [(ObjectType.EXPORT, EXPORT), (ObjectType.ACTION, ACTION)])
def test_exports_and_actions_give_a_plain_result(
    client: AnaplanClient, truth: list[dict[str, Any]], kind: ObjectType, object_id: str
) -> None:
    for expected in history_of(truth, object_id):
        task = client.task_status(WORKSPACE, MODEL, kind, object_id, expected["task_id"])
        assert task.state is TaskState.COMPLETE
        assert task.current_step == "Complete."
        assert task.result is not None
        assert task.result.successful and task.result.object_id == object_id
        assert task.result.row_counts is None and task.result.nested == ()


def test_running_process_has_progress_and_no_result(
    client: AnaplanClient, truth: list[dict[str, Any]]
) -> None:
    (running,) = [t for t in truth if t["object_id"] == RUNNING_PROCESS]
    listed = client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, RUNNING_PROCESS)
    assert [(t.task_id, t.state) for t in listed] == [(running["task_id"], TaskState.IN_PROGRESS)]
    task = client.task_status(WORKSPACE, MODEL, ObjectType.PROCESS, RUNNING_PROCESS, running["task_id"])
    assert task.state is TaskState.IN_PROGRESS
    assert task.result is None
    assert task.progress is not None and 0.0 <= task.progress < 1.0
    assert task.current_step == "Employees from Organization.txt"


def test_unknown_task_id_is_not_found(sim: SimulatorHandle, client: AnaplanClient, book: SecretBook) -> None:
    delta = StatsDelta(sim)
    with book.raises(AnaplanNotFoundError) as info:
        client.task_status(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS, "0123456789ABCDEF0123456789ABCDEF")
    assert isinstance(info.value, AnaplanNotFoundError) and info.value.status == 404
    with book.raises(AnaplanNotFoundError):
        client.task_status(WORKSPACE, MODEL, ObjectType.IMPORT, "112999999999", "0123456789ABCDEF")
    assert delta("task_status", "404") == 2  # a 404 is an answer, not retried


@pytest.mark.parametrize(
    ("model", "kind", "object_id"),
    [
        (MODEL, ObjectType.PROCESS, "118999999999"),  # no such process
        (MODEL, ObjectType.IMPORT, PROCESS),  # a process ID under imports
        ("00000000000000000000000000000000", ObjectType.PROCESS, PROCESS),  # no such model
    ],
)
def test_unknown_parent_gives_an_empty_task_list(
    client: AnaplanClient, model: str, kind: ObjectType, object_id: str
) -> None:
    assert client.list_tasks(WORKSPACE, model, kind, object_id) == []
