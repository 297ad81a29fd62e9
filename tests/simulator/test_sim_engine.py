"""The run model with an injected clock: states, progress, outcomes, history and task IDs."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from anaplan_exporter.anaplan.models import ObjectType, TaskState
from anaplan_simulator import payloads
from anaplan_simulator.engine import Engine, Run
from anaplan_simulator.scenario import SimModel, SimObject, parse_scenario

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
T0 = 1_800_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scenario(**model: Any) -> dict[str, Any]:
    return {"workspaces": [{"id": WS, "name": "W", "models": [{"id": MODEL, "name": "M", **model}]}]}


def engine_for(**model: Any) -> tuple[Engine, FakeClock, SimModel]:
    clock = FakeClock()
    eng = Engine(parse_scenario(scenario(**model)), clock)
    found = eng.model(MODEL, WS)
    assert found is not None
    return eng, clock, found[1]


def only(model: SimModel, kind: ObjectType) -> SimObject:
    (obj,) = model.of_type(kind)
    return obj


def test_export_moves_not_started_in_progress_complete() -> None:
    eng, clock, model = engine_for(
        exports=[
            {"id": "116000000002", "name": "E", "every": 60, "offset": 5, "start_delay": 2, "duration": 10}
        ]
    )
    export = only(model, ObjectType.EXPORT)
    assert eng.runs(WS, MODEL, export, clock.now) == []  # first run is created 5 s after start
    clock.now = T0 + 5
    (run,) = eng.runs(WS, MODEL, export, clock.now)
    assert run.created == T0 + 5
    assert eng.view(run, clock.now).state is TaskState.NOT_STARTED
    clock.now = T0 + 7 + 2.5  # a quarter into the 10 s of work
    view = eng.view(run, clock.now)
    assert (view.state, view.progress) == (TaskState.IN_PROGRESS, 0.25)
    clock.now = T0 + 7 + 9.999
    assert eng.view(run, clock.now).progress == 0.99  # never 1 before the end
    clock.now = T0 + 17
    view = eng.view(run, clock.now)
    assert (view.state, view.progress) == (TaskState.COMPLETE, 1.0)
    clock.now = T0 + 65
    assert len(eng.runs(WS, MODEL, export, clock.now)) == 2


def test_cancelled_run_goes_cancelling_then_cancelled_with_progress_frozen() -> None:
    eng, clock, model = engine_for(
        actions=[{"id": "117000000019", "name": "A", "every": 60, "duration": 10, "outcomes": ["cancelled"]}]
    )
    (run,) = eng.runs(WS, MODEL, only(model, ObjectType.ACTION), clock.now)
    assert run.cancel_at == T0 + 5
    states = []
    for offset in (4.9, 5.0, 7.9, 8.0, 30):
        clock.now = T0 + offset
        view = eng.view(run, clock.now)
        states.append((view.state, view.progress))
    assert states == [
        (TaskState.IN_PROGRESS, 0.49),
        (TaskState.CANCELLING, 0.5),
        (TaskState.CANCELLING, 0.5),
        (TaskState.CANCELLED, 0.5),
        (TaskState.CANCELLED, 0.5),
    ]


PROCESS = {
    "id": "118000000002",
    "name": "P",
    "steps": [
        {"id": "117000000015", "name": "Clear"},
        {"id": "112000000007"},
        {"id": "116000000002", "name": "Report"},
    ],
    "step_durations": [2, 4, 6],
    "every": 60,
    "outcomes": ["success", "failure_dump", "cancelled"],
    "fail_step": 2,
}
IMPORT = {
    "id": "112000000007",
    "name": "Employees",
    "rows": {"total": 95, "success": 90, "ignored": 5},
}


def test_process_walks_steps_and_fails_at_the_configured_step() -> None:
    eng, clock, model = engine_for(processes=[PROCESS], imports=[IMPORT])
    process = only(model, ObjectType.PROCESS)
    clock.now = T0 + 61  # run 1 (failure_dump) started a second ago
    run = eng.runs(WS, MODEL, process, clock.now)[1]
    names = []
    for offset in (1, 3, 5.9):
        names.append(eng.view(run, T0 + 60 + offset).current_step)
    assert [s.name if s else None for s in names] == ["Clear", "Employees", "Employees"]
    assert run.ends == T0 + 66  # stops after the failing second step; the export never runs
    view = eng.view(run, T0 + 66)
    assert view.state is TaskState.COMPLETE
    task = payloads.task_status(view, model, process_details=True)
    result = task["result"]
    assert (task["currentStep"], task["progress"], result["successful"]) == ("Failed.", 1, False)
    assert result["failureDumpAvailable"] is True
    assert [n["objectId"] for n in result["nestedResults"]] == ["117000000015", "112000000007"]
    assert [n["successful"] for n in result["nestedResults"]] == [True, False]
    assert [n["failureDumpAvailable"] for n in result["nestedResults"]] == [False, True]
    assert result["nestedResults"][1]["duration"] == "4000"
    assert result["nestedResults"][1]["startTime"] == str(round((T0 + 62) * 1000))
    assert (result["duration"], result["startTime"]) == ("6000", str(round((T0 + 60) * 1000)))


def test_cancelled_process_reports_only_steps_finished_before_the_cancel() -> None:
    eng, _, model = engine_for(processes=[PROCESS], imports=[IMPORT])
    run = eng.run(WS, MODEL, only(model, ObjectType.PROCESS), 2)  # cancelled, cancel at 6 s of 12
    view = eng.view(run, run.ends)
    assert view.state is TaskState.CANCELLED
    task = payloads.task_status(view, model, process_details=False)
    assert task["currentStep"] == "Cancelled."
    assert [n["objectId"] for n in task["result"]["nestedResults"]] == ["117000000015", "112000000007"]
    assert "duration" not in task["result"]


def test_result_only_once_terminal_and_no_current_step_before_start() -> None:
    eng, _, model = engine_for(
        imports=[{**IMPORT, "every": 60, "duration": 10, "start_delay": 5}],
    )
    run = eng.run(WS, MODEL, only(model, ObjectType.IMPORT), 0)
    waiting = payloads.task_status(eng.view(run, T0 + 1), model, process_details=True)
    assert "currentStep" not in waiting and "result" not in waiting
    assert waiting["taskState"] == "NOT_STARTED"
    running = payloads.task_status(eng.view(run, T0 + 8), model, process_details=True)
    assert running["taskState"] == "IN_PROGRESS" and "result" not in running
    done = payloads.task_status(eng.view(run, T0 + 15), model, process_details=True)
    assert done["progress"] == 1.0 and isinstance(done["progress"], float)
    assert "duration" not in done["result"]  # includeProcessDetails is for processes
    values = done["result"]["details"][0]["values"]
    counts = dict(zip(values[::2], values[1::2], strict=True))
    assert (counts["successRowCount"], counts["ignoredCount"], counts["totalRowCount"]) == ("90", "5", "95")


def test_history_runs_finished_before_start_and_are_not_reported_as_finishing() -> None:
    eng, clock, model = engine_for(
        actions=[{"id": "117000000019", "name": "A", "every": 30, "duration": 10, "history": 4}]
    )
    action = only(model, ObjectType.ACTION)
    runs = eng.runs(WS, MODEL, action, clock.now)
    assert [r.index for r in runs] == [-4, -3, -2, -1, 0]
    assert all(r.history and r.ends < T0 for r in runs[:-1])
    assert [r.created for r in runs] == sorted(r.created for r in runs)
    finished = eng.finished_between(T0 - 1000, T0 + 100)
    assert [r.index for r in finished] == [0, 1, 2, 3]
    truth = eng.ground_truth(T0 + 1)
    assert [t["history"] for t in truth] == [True, True, True, True, False]
    assert truth[-1]["outcome"] is None and truth[0]["outcome"] == "success"


def test_finished_between_reports_every_live_run_once_across_windows() -> None:
    eng, _, _ = engine_for(processes=[PROCESS], imports=[{**IMPORT, "every": 7, "duration": 3}])
    seen: list[Run] = []
    edges = [T0 + i * 2.5 for i in range(100)]
    for after, until in itertools.pairwise(edges):
        seen.extend(eng.finished_between(after, until))
    ids = [r.task_id for r in seen]
    assert len(ids) == len(set(ids))
    imports = [r for r in seen if r.obj.type is ObjectType.IMPORT]
    assert [r.index for r in imports] == list(range(len(imports)))
    assert all(edges[0] < r.ends <= edges[-1] for r in seen)
    assert len(imports) == 35  # runs 0..34 end by 247.5 s (run k ends at 7k + 3)


def test_task_ids_are_hex_unique_and_found_only_once_created() -> None:
    eng, clock, model = engine_for(imports=[{**IMPORT, "every": 10, "duration": 5, "history": 3}])
    imp = only(model, ObjectType.IMPORT)
    clock.now = T0 + 100
    runs = eng.runs(WS, MODEL, imp, clock.now)
    ids = [r.task_id for r in runs]
    assert all(re.fullmatch(r"[0-9A-F]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids) == 14
    found = eng.find_run(WS, MODEL, imp, ids[5], clock.now)
    assert found is not None and found.index == runs[5].index
    future = eng.task_id(WS, MODEL, imp.id, 50)
    assert eng.find_run(WS, MODEL, imp, future, clock.now) is None
    assert eng.find_run(WS, MODEL, imp, future, T0 + 500) is not None
    other = Engine(eng.scenario, FakeClock(T0 + 1))
    assert other.task_id(WS, MODEL, imp.id, 0) != eng.task_id(WS, MODEL, imp.id, 0)


@pytest.mark.parametrize("outcome", ["success", "failure", "failure_dump"])
def test_ground_truth_matches_payload_outcome(outcome: str) -> None:
    eng, _, model = engine_for(processes=[{**PROCESS, "outcomes": [outcome]}], imports=[IMPORT])
    run = eng.run(WS, MODEL, only(model, ObjectType.PROCESS), 0)
    view = eng.view(run, run.ends)
    truth = eng.ground_truth(run.ends)[0]
    task = payloads.task_status(view, model, process_details=False)
    assert truth["outcome"] == ("success" if outcome == "success" else "failure")
    assert truth["failure_dump"] is task["result"]["failureDumpAvailable"] is (outcome == "failure_dump")
    assert truth["finish_time"] == run.ends and truth["state"] == task["taskState"] == "COMPLETE"
    assert task["result"]["successful"] is (outcome == "success")


def test_ten_thousand_objects_are_cheap() -> None:
    data = scenario(generate={"processes": 7000, "imports": 3000, "steps": 5, "every": 600, "duration": 60})
    eng = Engine(parse_scenario(data), FakeClock())
    found = eng.model(MODEL)
    assert found is not None
    model = found[1]
    assert len(model.objects) == 10_000
    assert model.of_type(ObjectType.PROCESS)[0].id == "118000000001"
    finished = eng.finished_between(T0 + 600, T0 + 1200)
    assert len(finished) == 10_000  # spread offsets: every object finishes exactly one run per period
