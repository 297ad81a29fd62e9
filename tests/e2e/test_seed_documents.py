"""Anaplan's own example documents, served verbatim over real HTTP, turned into the right metrics.

The task-status bodies are the published examples (``tests/anaplan/data``: a process with step details whose
``duration`` and ``startTime`` are strings, and a delete action); the listings around them use the
envelopes of the Integration API v2. The exporter runs as a real process (``--once``) with a static token.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from support.exporter import exporter_command

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[1] / "anaplan" / "data"
WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
PROCESS = "118000000002"
PROCESS_TASK = "2846F8E2FD624F7FA91EC6E2F6E318C0"
ACTION = "117000000019"
ACTION_TASK = "0690AA1C761F48549C3442A02F91D962"
TOKEN = "seed-token-value"
STATUS = {"code": 200, "message": "Success"}
M = f"/2/0/workspaces/{WS}/models/{MODEL}"


def _paged(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    paging = {"currentPageSize": len(items), "offset": 0, "totalSize": len(items)}
    return {
        "meta": {"paging": paging, "schema": "https://api.anaplan.com/2/0/objects/x"},
        "status": STATUS,
        key: items,
    }


ROUTES: dict[str, object] = {
    "/2/0/workspaces": _paged("workspaces", [{"id": WS, "name": "Seed Workspace", "active": True}]),
    f"/2/0/workspaces/{WS}/models": _paged(
        "models", [{"id": MODEL, "name": "Seed Model", "activeState": "UNLOCKED", "currentWorkspaceId": WS}]
    ),
    f"{M}/processes": _paged("processes", [{"id": PROCESS, "name": "Nightly Load"}]),
    f"{M}/actions": _paged(
        "actions", [{"id": ACTION, "name": "Delete old rows", "actionType": "DELETE_BY_SELECTION"}]
    ),
    f"{M}/processes/{PROCESS}": {
        "meta": {"schema": "https://api.anaplan.com/2/0/objects/process"},
        "status": STATUS,
        "processMetadata": {
            "name": "Nightly Load",
            "actions": [
                {"id": "117000000015", "name": "Delete from Products", "actionType": "DELETE_BY_SELECTION"}
            ],
        },
    },
    f"{M}/processes/{PROCESS}/tasks": _paged(
        "tasks", [{"taskId": PROCESS_TASK, "taskState": "COMPLETE", "creationTime": 1677624625000}]
    ),
    f"{M}/actions/{ACTION}/tasks": {
        "tasks": [{"taskId": ACTION_TASK, "taskState": "COMPLETE", "creationTime": 1535145589808}]
    },
    f"{M}/processes/{PROCESS}/tasks/{PROCESS_TASK}": (DATA / "process_task_status_details.json").read_text(),
    f"{M}/actions/{ACTION}/tasks/{ACTION_TASK}": (DATA / "action_task_status.json").read_text(),
}


class SeedServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SeedHandler)
        self.seen: list[tuple[str, str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()


class SeedHandler(BaseHTTPRequestHandler):
    server: SeedServer

    def _record(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        with self.server.lock:
            self.server.seen.append((self.command, parts.path, parse_qs(parts.query)))
        return parts.path, parse_qs(parts.query)

    def do_GET(self) -> None:
        path, _query = self._record()
        if self.headers.get("Authorization") != f"AnaplanAuthToken {TOKEN}":
            self._send(401, {"status": {"code": 401, "message": "Unauthorized"}})
        elif path in ROUTES:
            self._send(200, ROUTES[path])
        else:
            self._send(404, {"status": {"code": 404, "message": "Not Found"}})

    def do_POST(self) -> None:
        self._record()
        self._send(405, {})

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _send(self, code: int, body: object) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def seed_server() -> Iterator[SeedServer]:
    server = SeedServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            keep = ("object_id", "state", "step_id", "step_name", "task_id", "current_step", "result")
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k in keep))
            out[(sample.name, labels)] = sample.value
    return out


def test_the_published_examples_become_the_right_metrics(tmp_path: Path) -> None:
    with seed_server() as server:
        root = f"http://127.0.0.1:{server.server_address[1]}"
        config = {
            "anaplan": {
                "api_url": f"{root}/2/0",
                "auth_url": root,
                "auth": {"method": "token", "token": "${SEED_TOKEN}"},
            },
            "cloudworks": {"enabled": False},
            "targets": [
                {"workspace": "Seed Workspace", "model": MODEL, "processes": "*", "actions": [ACTION]}
            ],
        }
        path = tmp_path / "seed.yml"
        path.write_text(yaml.safe_dump(config))
        run = subprocess.run(
            [*exporter_command(), "--config", str(path), "--once"],
            capture_output=True,
            text=True,
            env={"SEED_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
        seen = list(server.seen)
    assert run.returncode == 0, run.stderr
    assert TOKEN not in run.stdout + run.stderr
    got = samples(run.stdout)
    process = (("object_id", PROCESS),)
    action = (("object_id", ACTION),)

    assert got[("anaplan_up", ())] == 1.0
    assert got[("anaplan_task_state", (("object_id", PROCESS), ("state", "COMPLETE")))] == 1.0
    assert got[("anaplan_task_state", (("object_id", PROCESS), ("state", "IN_PROGRESS")))] == 0.0
    assert got[("anaplan_task_success", process)] == 1.0
    assert got[("anaplan_task_progress_ratio", process)] == 1.0
    assert got[("anaplan_task_failure_dump_available", process)] == 0.0
    assert got[("anaplan_task_created_timestamp_seconds", process)] == pytest.approx(1677624625.0)
    assert got[("anaplan_task_duration_seconds", process)] == pytest.approx(0.868)  # "duration": "868" (ms)
    step = (("object_id", PROCESS), ("step_id", "117000000015"), ("step_name", "Delete from Products"))
    assert got[("anaplan_task_step_duration_seconds", step)] == pytest.approx(1.112)  # "1112" ms
    assert got[("anaplan_task_step_start_timestamp_seconds", step)] == pytest.approx(1677624625.790)
    assert got[("anaplan_task_step_success", step)] == 1.0
    assert got[("anaplan_task_step_failure_dump_available", step)] == 0.0
    info = (
        ("current_step", "Complete."),
        ("object_id", PROCESS),
        ("state", "COMPLETE"),
        ("task_id", PROCESS_TASK),
    )
    assert got[("anaplan_task_info", info)] == 1.0

    assert got[("anaplan_task_state", (("object_id", ACTION), ("state", "COMPLETE")))] == 1.0
    assert got[("anaplan_task_success", action)] == 1.0
    assert got[("anaplan_task_failure_dump_available", action)] == 0.0
    assert got[("anaplan_task_created_timestamp_seconds", action)] == pytest.approx(1535145589.808)
    # History at start-up is not counted as new completions.
    assert got[("anaplan_task_completions_total", (("object_id", PROCESS), ("result", "success")))] == 0.0

    # Read-only, with step details asked for on the process task and not on the action's.
    assert {method for method, _, _ in seen} == {"GET"}
    queries = {p: q for _, p, q in seen}
    assert queries[f"{M}/processes/{PROCESS}/tasks/{PROCESS_TASK}"].get("includeProcessDetails") == ["true"]
    assert "includeProcessDetails" not in queries[f"{M}/actions/{ACTION}/tasks/{ACTION_TASK}"]
