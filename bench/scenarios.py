"""Simulator scenarios (as YAML data) for the benchmarks and the soak."""

from __future__ import annotations

from typing import Any

USERS = [{"username": "demo@example.com", "password": "demo"}]
WORKSPACE = "Bench Workspace"
MODEL = "Bench Model"
QUIET_FOREVER = 100_000.0
"""Offset of the first live run: no run starts during a benchmark, so only history exists."""


def _tenant(model: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "users": USERS,
        "workspaces": [{"name": WORKSPACE, "models": [{"name": MODEL, **model}]}],
        **extra,
    }


def idle_mix(count: int) -> dict[str, Any]:
    """A ``generate`` block: ``count`` imports, exports and actions (a third each), two finished runs of
    history each and no run for ``QUIET_FOREVER`` seconds."""
    third, extra = divmod(count, 3)
    return {
        "imports": third + extra,
        "exports": third,
        "actions": third,
        "every": 2 * QUIET_FOREVER,
        "offset": QUIET_FOREVER,
        "duration": 60,
        "history": 2,
        "outcomes": ["success", "failure"],
    }


def idle_objects(count: int, *, latency: float, token_lifetime: float = 2100.0) -> dict[str, Any]:
    """``count`` imports, exports and actions (a third each) with two finished runs of history each.

    Nothing runs while the benchmark does, so a steady poll cycle needs one task list per object and no
    status at all; the first cycle also fetches the newest run and one older one (last success/failure).
    """
    return _tenant(
        {"generate": idle_mix(count)}, token_lifetime_seconds=token_lifetime, faults={"latency": latency}
    )


def idle_processes(count: int, steps: int, *, latency: float = 0.0) -> dict[str, Any]:
    """``count`` processes of ``steps`` steps each; the newest (failed) run reports every step."""
    generate = {
        "processes": count,
        "steps": steps,
        "every": 2 * QUIET_FOREVER,
        "offset": QUIET_FOREVER,
        "duration": 60,
        "history": 2,
        "outcomes": ["success", "failure"],
    }
    return _tenant({"generate": generate}, faults={"latency": latency})


def all_of_model(*kinds: str) -> list[dict[str, Any]]:
    """An exporter ``targets`` list watching every object of these kinds in the bench model."""
    return [{"workspace": WORKSPACE, "model": MODEL, **{kind: "*" for kind in kinds}}]


SOAK_PERIOD = 30.0
"""Every soak object runs once per period; all runs end by ``SOAK_BUSY`` seconds into it."""
SOAK_BUSY = 18.0
SOAK_FIRST_RUN = 10.0
"""Seconds after the simulator starts before the first run is created: time for the exporter's baseline."""


def soak_objects() -> dict[str, list[dict[str, Any]]]:
    """24 objects of every kind and every outcome, each running once per ``SOAK_PERIOD``."""
    steps = [{"id": "112000000001"}, {"id": "116000000001"}, {"id": "117000000001"}]
    processes = [
        {
            "id": f"1180000000{i:02d}",
            "name": f"Soak process {i}",
            "steps": steps,
            "step_durations": [1, 2, 1],
            "every": SOAK_PERIOD,
            "offset": SOAK_FIRST_RUN + 0.5 * i,
            "outcomes": [["success", "failure"], ["failure_dump", "success"], ["cancelled", "success"]][
                i % 3
            ],
            "fail_step": 1,
            "cancelling": 1,
            "history": 2,
        }
        for i in range(1, 5)
    ]
    imports = [
        {
            "id": f"1120000000{i:02d}",
            "name": f"Soak import {i}",
            "every": SOAK_PERIOD,
            "offset": SOAK_FIRST_RUN + 0.25 * i,
            "start_delay": 1,
            "duration": 2 + i % 4,
            "outcomes": ["success", "failure", "success", "failure_dump"],
            "history": 1,
        }
        for i in range(1, 9)
    ]
    exports = [
        {
            "id": f"1160000000{i:02d}",
            "name": f"Soak export {i}",
            "every": SOAK_PERIOD,
            "offset": SOAK_FIRST_RUN + 0.3 * i,
            "duration": 3,
            "cancelling": 1,
            "outcomes": ["success", "cancelled"],
        }
        for i in range(1, 7)
    ]
    actions = [
        {
            "id": f"1170000000{i:02d}",
            "name": f"Soak action {i}",
            "every": SOAK_PERIOD,
            "offset": SOAK_FIRST_RUN + 0.4 * i,
            "duration": 1 + i % 3,
            "outcomes": ["success", "success", "failure"],
            "history": 3,
        }
        for i in range(1, 7)
    ]
    return {"processes": processes, "imports": imports, "exports": exports, "actions": actions}


def soak_scenario() -> dict[str, Any]:
    """The soak tenant; faults are switched on at runtime, once the exporter has its baseline."""
    return _tenant(soak_objects())


def soak_busy_until(objects: dict[str, list[dict[str, Any]]]) -> float:
    """Seconds into a period by which every run has ended (the quiet window is from here to the end)."""
    return max(
        float(o["offset"]) + float(o.get("start_delay", 0)) + _duration(o) - SOAK_PERIOD * _periods(o)
        for group in objects.values()
        for o in group
    )


def _periods(obj: dict[str, Any]) -> int:
    return int(float(obj["offset"]) // SOAK_PERIOD)


def _duration(obj: dict[str, Any]) -> float:
    return float(obj["duration"]) if "duration" in obj else float(sum(obj["step_durations"]))


SORTED_IMPORT, UNSORTED_IMPORT = "112000000001", "112000000002"
"""The imports of ``long_histories``: the second one's task list ignores ``sort`` (the old way's cost)."""


def long_histories(runs: int) -> dict[str, Any]:
    """Two imports with ``runs`` finished runs each and no run during the benchmark; the simulator lists the
    second one's tasks oldest first whatever ``sort`` asks, so the exporter reads every page of it. No
    latency: faults scoped to a path (as this one is) apply to that path alone. Runs are 16 hours apart, so
    10,000 of them reach back 19 years, not before 2000: the exporter drops older creation times as
    impossible, and a list without times shows no order."""
    imports = [
        {
            "id": object_id,
            "name": f"Long history {object_id}",
            "every": 60_000,
            "offset": 30_000,
            "duration": 60,
            "history": runs,
            "outcomes": ["success", "failure"],
        }
        for object_id in (SORTED_IMPORT, UNSORTED_IMPORT)
    ]
    faults = {"ignore_sort": True, "path": f"/imports/{UNSORTED_IMPORT}/"}
    return _tenant({"imports": imports}, faults=faults)
