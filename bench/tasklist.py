"""The cost of one look at an object with a long task history: requests and bytes per poll of its tracker,
reading the newest runs first in one small page, against the old way (every page of 5,000, oldest first),
which the exporter still takes for a server that ignores ``sort`` and which the simulator's ``ignore_sort``
fault brings about here.

Measured in-process: the exporter's own ``AnaplanClient`` and ``ObjectTracker``, the requests and body bytes
counted by the simulator (``/__sim/stats`` before and after each poll). The simulator adds no latency here:
the time is the simulator's and the client's work for the bodies.
"""

from __future__ import annotations

import time
from pathlib import Path

from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.polling.tracker import TASK_PAGE, ObjectTracker
from anaplan_exporter.snapshot import ObjectRef
from harness import Row, SimulatorHandle, exporter_config, median, parse_exporter_config, running_simulator
from scenarios import MODEL, SORTED_IMPORT, UNSORTED_IMPORT, WORKSPACE, all_of_model, long_histories

LOOKS = 5
"""Polls per object: the first look, then steady ones (no new run meanwhile)."""


def _looks(sim: SimulatorHandle, client: AnaplanClient, ref: ObjectRef) -> list[tuple[int, int, float]]:
    """Task-list requests, bytes and seconds of each poll."""
    tracker = ObjectTracker(ref)
    costs: list[tuple[int, int, float]] = []
    for look in range(LOOKS):
        before = sim.stats()
        started = time.perf_counter()
        if not tracker.poll(client, time.time() + 60.0 * look):
            raise RuntimeError(f"poll of {ref.object_id} failed: {tracker.status(time.time()).last_error}")
        seconds = time.perf_counter() - started
        after = sim.stats()
        requests = sum(after["requests"].get("task_list", {}).values()) - sum(
            before["requests"].get("task_list", {}).values()
        )
        served = after["bytes"].get("task_list", 0) - before["bytes"].get("task_list", 0)
        costs.append((requests, served, seconds))
    return costs


def _describe(costs: list[tuple[int, int, float]]) -> str:
    steady = costs[1:]
    requests = sorted({r for r, _, _ in steady})
    served = median([float(b) for _, b, _ in steady])
    seconds = median([s for _, _, s in steady])
    first = costs[0]
    return (
        f"{_requests('/'.join(map(str, requests)))}, {served / 1024:,.1f} KiB, {seconds * 1000:.0f} ms "
        f"(first look: {_requests(str(first[0]))}, {first[1] / 1024:,.1f} KiB)"
    )


def _requests(count: str) -> str:
    return f"{count} request" if count == "1" else f"{count} requests"


def task_list_cost(runs: int, workdir: Path) -> list[Row]:
    with running_simulator(long_histories(runs), workdir) as sim:
        config = parse_exporter_config(
            exporter_config(
                sim.url, all_of_model("imports"), concurrency=4, requests_per_second=10000.0, workers=4
            )
        )
        client = AnaplanClient(config.client, config.credentials)
        try:
            (workspace,) = [w for w in client.list_workspaces() if w.name == WORKSPACE]
            (model,) = [m for m in client.list_models(workspace.id) if m.name == MODEL]

            def ref(object_id: str) -> ObjectRef:
                return ObjectRef(
                    workspace.id, WORKSPACE, model.id, MODEL, ObjectType.IMPORT, object_id, object_id
                )

            after = _looks(sim, client, ref(SORTED_IMPORT))
            before = _looks(sim, client, ref(UNSORTED_IMPORT))
        finally:
            client.close()
    steady_after = [r for r, _, _ in after[1:]]
    ratio = median([float(b) for _, b, _ in before[1:]]) / max(
        1.0, median([float(b) for _, b, _ in after[1:]])
    )
    return [
        Row(
            f"task list per look, {runs:,} listed runs, newest first ({TASK_PAGE} a page)",
            _describe(after),
            "1 request per steady look",
            all(r == 1 for r in steady_after),
        ),
        Row(
            f"task list per look, {runs:,} listed runs, every page (the old way; a server ignoring sort)",
            _describe(before),
            f"{ratio:,.0f}x the bytes of newest first",
            None,
        ),
    ]
