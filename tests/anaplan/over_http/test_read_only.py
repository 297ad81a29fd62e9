"""The client only reads: every public call, through retries and re-authentication, sends GETs alone.

(Every other module's simulator makes the same check when it stops; see ``checked_simulator``.)
"""

from __future__ import annotations

from pathlib import Path

import requests

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.models import ObjectType
from support.simulator import running_simulator

from .harness import MODEL, PASSWORD, USER, WORKSPACE, ClientFactory, base_scenario, count

OBJECTS = {
    ObjectType.PROCESS: "118000000002",
    ObjectType.IMPORT: "112000000007",
    ObjectType.EXPORT: "116000000002",
    ObjectType.ACTION: "117000000015",
}
SCHEDULE = {"every": 600, "duration": 2, "history": 2}
SCENARIO = base_scenario(
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "W",
            "models": [
                {
                    "id": MODEL,
                    "name": "M",
                    "processes": [
                        {
                            "id": OBJECTS[ObjectType.PROCESS],
                            "name": "P",
                            "steps": [{"id": OBJECTS[ObjectType.IMPORT]}, {"id": OBJECTS[ObjectType.EXPORT]}],
                            **SCHEDULE,
                        }
                    ],
                    "imports": [{"id": OBJECTS[ObjectType.IMPORT], "name": "I", **SCHEDULE}],
                    "exports": [{"id": OBJECTS[ObjectType.EXPORT], "name": "E", **SCHEDULE}],
                    "actions": [{"id": OBJECTS[ObjectType.ACTION], "name": "A", **SCHEDULE}],
                }
            ],
        }
    ]
)


def test_every_client_call_is_a_get(tmp_path: Path, make_client: ClientFactory) -> None:
    with running_simulator(SCENARIO, tmp_path) as sim:
        sim.set_faults(error_rate_5xx=0.2, drop_connection_rate=0.1)
        client = make_client(sim, BasicCredentials(USER, PASSWORD), max_retries=12, page_size=1)
        for round_ in range(2):
            assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
            assert [m.id for m in client.list_models(WORKSPACE)] == [MODEL]
            client.process_metadata(WORKSPACE, MODEL, OBJECTS[ObjectType.PROCESS])
            for kind, object_id in OBJECTS.items():
                assert [o.id for o in client.list_objects(WORKSPACE, MODEL, kind)] == [object_id]
                tasks = client.list_tasks(WORKSPACE, MODEL, kind, object_id)
                assert len(tasks) == 3
                for task in tasks:
                    client.task_status(WORKSPACE, MODEL, kind, object_id, task.task_id)
            if round_ == 0:
                sim.expire_tokens()  # the second round re-authenticates on a 401
        client.close()
        stats = sim.stats()
        assert stats["non_get_integration_requests"] == 0, stats["non_get_integration_recent"]
        assert count(stats, "logout", "204") == 1  # POSTs went to the auth service only
        assert count(stats, "authenticate", "201") == 2
        assert sum(count(stats, "task_status", code) for code in ("500", "502", "503", "dropped")) > 0

        # The counter is live: a cancel (DELETE on a task), which the client never sends, is counted.
        task_url = f"{sim.api_url}/workspaces/{WORKSPACE}/models/{MODEL}/processes/118000000002/tasks/X"
        assert requests.delete(task_url, timeout=10).status_code == 405
        assert sim.stats()["non_get_integration_requests"] == 1
