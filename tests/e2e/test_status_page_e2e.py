"""The status page as a person sees it: headless Chromium loads ``/`` from the exporter as a real process,
which watches the simulator as a real process, and the rendered DOM is read back.

The scenario holds still for the test's few seconds: a process whose only finished run (from before the
simulator started) failed at its import step with a dump, a process that is running through long steps, a
succeeded import, and an export in a second model; one configured name resolves to nothing.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from support.chromium import INSTALL_TIMEOUT, dump_dom, find_chromium, screenshot
from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.net import http_get
from support.pagetext import PageText, Row
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
OTHER_MODEL = "0C5A2E6B7D8F4A1B9C3D5E7F9A1B3C5D"
QUIET: dict[str, Any] = {"every": 3600, "offset": 1800, "history": 1}
"""Nothing new starts while the test runs: one finished run from before the start, the next in 30 min."""

SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "Status Workspace",
            "models": [
                {
                    "id": MODEL,
                    "name": "Status Planning",
                    "processes": [
                        {
                            "id": "118000000002",
                            "name": "Nightly Load",
                            "steps": [
                                {"id": "117000000015", "name": "Clear", "type": "DELETE_BY_SELECTION"},
                                {"id": "112000000009"},
                            ],
                            "step_durations": [2, 5],
                            "outcomes": ["failure_dump"],
                            "fail_step": 2,
                            **QUIET,
                        },
                        {
                            "id": "118000000003",
                            "name": "Month-End Close",
                            "steps": [
                                {"id": "112000000011", "name": "Load Actuals", "type": "IMPORT"},
                                {"id": "116000000002"},
                            ],
                            "step_durations": [600, 600],
                            "every": 3600,
                        },
                    ],
                    "imports": [
                        {
                            "id": "112000000009",
                            "name": "Sales from import-sales.csv",
                            "rows": {"hierarchy": "Sales", "total": 10, "success": 10},
                            "duration": 3,
                            **QUIET,
                        }
                    ],
                    "exports": [{"id": "116000000002", "name": "Revenue.xls", "duration": 2, **QUIET}],
                },
                {
                    "id": OTHER_MODEL,
                    "name": "Other Model",
                    "exports": [{"id": "116000000005", "name": "Headcount.csv", "duration": 2, **QUIET}],
                },
            ],
        }
    ],
}


def exporter_config(sim_url: str) -> dict[str, Any]:
    return simulator_config(
        sim_url,
        targets=[
            {
                "workspace": WS,
                "model": MODEL,
                "processes": ["Nightly Load", "Month-End Close", "No Such Process"],
                "imports": "*",
            },
            {"workspace": "Status Workspace", "model": "Other Model", "exports": "*"},
        ],
    )


def wait_for_page(exporter: ExporterHandle, *needles: str, timeout: float = 20.0) -> None:
    """Until the page shows every needle (the first poll cycle has found the failed and the running run)."""
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        status, body = http_get(exporter.url + "/?refresh=0")
        if status == 200 and all(needle in body for needle in needles):
            return
        time.sleep(0.3)
    raise AssertionError(f"the status page never showed {needles}:\n{body[-3000:]}")


def wait_for_metrics(exporter: ExporterHandle, needle: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in exporter.metrics():
            return
        time.sleep(0.3)
    raise AssertionError(f"/metrics never showed {needle}")


def row(page: PageText, name: str) -> Row:
    found = [r for r in page.rows if r.name == name]
    assert len(found) == 1, (name, page.names())
    return found[0]


# On a machine without Chromium, find_chromium installs it first (apt-get, up to INSTALL_TIMEOUT).
@pytest.mark.timeout(INSTALL_TIMEOUT + 120)
def test_status_page_in_chromium(tmp_path: Path) -> None:
    chromium = find_chromium()
    with (
        running_simulator(SCENARIO, tmp_path) as simulator,
        running_exporter(exporter_config(simulator.url), tmp_path) as exporter,
    ):
        wait_for_page(exporter, 'class="failed"', 'class="running"', "dump available")
        # Step names arrive after the first polls: process metadata is the poller's lowest priority.
        wait_for_metrics(exporter, 'step_name="Sales from import-sales.csv"')
        failed_run = next(
            t for t in simulator.ground_truth() if t["object_id"] == "118000000002" and t["outcome"]
        )
        assert failed_run["failed_step"] == "112000000009" and failed_run["failure_dump"]

        page = PageText(dump_dom(chromium, exporter.url + "/"))

        # every watched object, problems first
        assert page.names() == [
            "Nightly Load",
            "Month-End Close",
            "Headcount.csv",  # "Other Model" sorts before "Status Planning"
            "Sales from import-sales.csv",
        ]
        assert [r.css_class for r in page.rows] == ["failed", "running", "succeeded", "succeeded"]
        assert "0 down 1 failed 0 overdue 1 running 4 watched" in page.text

        # the failed process: its failed step, and the dump with every ID needed to fetch it
        failed = row(page, "Nightly Load")
        assert "FAILED" in failed.cells[1] and failed_run["task_id"] in failed.cells[1]
        assert "Sales from import-sales.csv 112000000009" in failed.cells[4]
        assert "Clear" not in failed.cells[4]
        assert (
            f"dump available: GET /2/0/workspaces/{WS}/models/{MODEL}/processes/118000000002/tasks/"
            f"{failed_run['task_id']}/dumps/112000000009"
        ) in failed.cells[4]
        assert failed.cells[3].endswith("ago") and failed.cells[2] == "never"

        # the running process: its progress and current step; every object polled and up
        running = row(page, "Month-End Close")
        assert re.search(r"RUNNING IN_PROGRESS \d+ % step: Load Actuals running for \d+ s", running.cells[1])
        assert any(tag == "progress" for tag, _ in page.tags)
        assert all(r.cells[5].startswith("UP polled") for r in page.rows)

        # the exporter and its targets
        assert "Ready ready" in page.text and "Request budget used" in page.text
        assert "Discovery errors (1)" in page.text
        assert "No Such Process" in page.text
        assert ("meta", {"http-equiv": "refresh", "content": "30"}) in page.tags

        # filters in the query string narrow the rows
        other = PageText(dump_dom(chromium, exporter.url + "/?model=Other+Model"))
        assert other.names() == ["Headcount.csv"]
        failed_only = PageText(dump_dom(chromium, exporter.url + "/?state=failed&type=process"))
        assert failed_only.names() == ["Nightly Load"]
        assert "1 matching objects" in failed_only.text

        # and a picture of it
        picture = screenshot(chromium, exporter.url + "/?refresh=0", tmp_path / "status.png")
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
