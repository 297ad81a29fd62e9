"""CloudWorks with sharding, end to end: two exporter replicas (shard 0 and 1 of 2) as real processes against
the simulator (a real process too).

Each replica owns one of two imports, each run by hand by its own CloudWorks integration 15 s after the
simulator starts (and replica 1's again at 45 s, in case a busy machine started the exporters late); neither
import runs otherwise, and the replicas look at an idle object only every 300 s.
Replica 1 must show its import's new task within 10 s of the run's start, as replica 0 does for its own:
it reads the integration list for hints. Only replica 0 exports ``anaplan_cloudworks_*`` series.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.polling.poller import shard_of
from anaplan_exporter.snapshot import ObjectRef
from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.net import http_get
from support.simulator import SimulatorHandle, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
RUN_AT = (15.0, 45.0)
"""Seconds after the simulator's start when replica 1's integration runs by hand (replica 0's: the first)."""
SHOWN_WITHIN = 10.0
IDLE_INTERVAL = 300


def owned_by(shard: int) -> str:
    """An import ID that ``shard`` of 2 owns."""
    for n in range(1, 100):
        object_id = f"1120000000{n:02d}"
        ref = ObjectRef(WS, "W", MODEL, "M", ObjectType.IMPORT, object_id, object_id)
        if shard_of(ref, 2) == shard:
            return object_id
    raise AssertionError("no such ID")


MINE, THEIRS = owned_by(1), owned_by(0)
"""Replica 1's import and replica 0's."""
MINE_INTEGRATION, THEIRS_INTEGRATION = "1" * 32, "0" * 32


def on_demand(object_id: str, name: str) -> dict[str, Any]:
    # Runs only when CloudWorks starts it (its own slots are an hour away); the task takes 20 s.
    return {"id": object_id, "name": name, "every": 3600, "offset": 3000, "duration": 20, "history": 0}


SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "Shards",
            "models": [
                {
                    "id": MODEL,
                    "name": "Planning",
                    "imports": [
                        on_demand(MINE, "Replica 1's import"),
                        on_demand(THEIRS, "Replica 0's import"),
                    ],
                }
            ],
        }
    ],
    "cloudworks": {
        "integrations": [
            {
                "id": MINE_INTEGRATION,
                "name": "Load for replica 1",
                "object": MINE,
                "manual": [{"at": at, "outcome": "success"} for at in RUN_AT],
            },
            {
                "id": THEIRS_INTEGRATION,
                "name": "Load for replica 0",
                "object": THEIRS,
                "manual": [{"at": RUN_AT[0], "outcome": "success"}],
            },
        ]
    },
}


def exporter_config(sim: SimulatorHandle) -> dict[str, Any]:
    config = simulator_config(
        sim.url,
        targets=[{"workspace": WS, "model": MODEL, "imports": "*"}],
        cloudworks={"enabled": True},
        state={"path": ""},
    )
    config["polling"] = {"idle_interval": IDLE_INTERVAL, "active_interval": 5, "discovery_interval": 600}
    return config


def tasks(exporter: ExporterHandle) -> dict[str, str]:
    """The newest task ID of each object on the replica's /metrics."""
    return {
        sample.labels["object_id"]: sample.labels["task_id"]
        for family in text_string_to_metric_families(exporter.metrics())
        for sample in family.samples
        if sample.name == "anaplan_task_info"
    }


def objects(exporter: ExporterHandle) -> set[str]:
    return {
        sample.labels["object_id"]
        for family in text_string_to_metric_families(exporter.metrics())
        for sample in family.samples
        if sample.name == "anaplan_target_up"
    }


def reads_hints(exporter: ExporterHandle) -> bool:
    status, body = http_get(exporter.url + "/?refresh=0")
    return status == 200 and "read here to poll linked objects at once" in body


def run_of(sim: SimulatorHandle, integration_id: str, after: float = 0.0) -> dict[str, Any] | None:
    """The integration's first run that started after ``after`` (a time), with its Anaplan task."""
    runs = [
        r
        for r in sim.cloudworks_truth()
        if r.get("integration_id") == integration_id and r["start_time"] > after and r.get("task_id")
    ]
    return min(runs, key=lambda r: float(r["start_time"]), default=None)


def wait_for(what: str, check: Any, timeout: float, *exporters: ExporterHandle) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    logs = "\n".join(exporter.logs()[-3000:] for exporter in exporters)
    raise AssertionError(f"never happened: {what}\n{logs}")


def test_replica_1_shows_the_task_of_a_cloudworks_run_of_its_own_object_within_seconds(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        sim = stack.enter_context(running_simulator(SCENARIO, tmp_path))
        replicas = []
        for shard in (0, 1):
            home = tmp_path / f"shard-{shard}"
            home.mkdir()
            replicas.append(
                stack.enter_context(running_exporter(exporter_config(sim), home, "--shard", f"{shard}/2"))
            )
        zero, one = replicas
        assert objects(zero) == {THEIRS} and objects(one) == {MINE}
        wait_for("replica 1 reading the integration list", lambda: reads_hints(one), 10.0, one)
        hinted = time.time()
        before = tasks(one).get(MINE)  # none, unless the first run had started before the exporters were up

        run = wait_for("a manual run", lambda: run_of(sim, MINE_INTEGRATION, hinted), RUN_AT[-1] + 5.0)
        wait_for(
            "replica 1 showing the run's task",
            lambda: tasks(one).get(MINE) == run["task_id"],
            SHOWN_WITHIN + 5.0,
            one,
        )
        assert before != run["task_id"]
        shown_after = time.time() - run["start_time"]
        print(f"replica 1 showed the task {shown_after:.1f} s after the run's start")  # seen with -s
        assert shown_after <= SHOWN_WITHIN, f"replica 1 showed the task {shown_after:.1f} s after the start"
        wait_for("replica 0 showing its own run's task", lambda: tasks(zero).get(THEIRS), 5.0, zero)

        shown_one, shown_zero = one.metrics(), zero.metrics()
        assert "anaplan_cloudworks_" not in shown_one  # only replica 0 exports CloudWorks
        assert "anaplan_cloudworks_up 1.0" in shown_zero
        assert f'cloudworks_id="{MINE_INTEGRATION}"' in shown_zero
        assert f'cloudworks_id="{THEIRS_INTEGRATION}"' in shown_zero
