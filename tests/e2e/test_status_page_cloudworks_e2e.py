"""CloudWorks on the status page, end to end: the exporter as a real process reads the simulator's CloudWorks
API (a real process too) and its page at ``/`` shows the integrations and flows.

The scenario is the demo's in small: an Azure Blob export integration whose run fails on expired credentials
before Anaplan has a task (the storage's message carries a SAS URL with a ``sig=`` value), and a flow whose
first step fails, so the two steps after it do not run (one of them is skipped in any case). The page must
show the connector's message from the run-error endpoint with the signature masked and the markup escaped, the
flow's failed and skipped steps, and both among the page's problems.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.net import http_get
from support.pagetext import PageText, Row
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
BLOB = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"
FLOW = "d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1"
BLOB_NAME = "Revenue <b>to</b> Azure & Blob"
"""Markup in a name CloudWorks sends: the page must show it as text."""
QUIET: dict[str, Any] = {"every": 3600, "offset": 1800, "duration": 1}

SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "CW Workspace",
            "models": [
                {
                    "id": MODEL,
                    "name": "CW Planning",
                    "imports": [{"id": "112000000009", "name": "Sales", **QUIET}],
                    # Its first run after the start (3 s) fails in the connector; the next is an hour later.
                    "exports": [
                        {
                            "id": "116000000002",
                            "name": "Revenue.xls",
                            "every": 3600,
                            "offset": 3,
                            "duration": 1,
                            "history": 1,
                        }
                    ],
                    "processes": [
                        {
                            "id": "118000000003",
                            "name": "Month-End Close",
                            "steps": [{"id": "112000000009"}],
                            "step_durations": [1],
                            **QUIET,
                        }
                    ],
                }
            ],
        }
    ],
    "cloudworks": {
        "integrations": [
            {
                "id": BLOB,
                "name": BLOB_NAME,
                "object": "116000000002",
                "connector": "azure_blob",
                "location": "exports/revenue/sales-revenue.xls",
                "schedule": {
                    "name": "Weekdays",
                    "type": "weekly",
                    "time": "06:30",
                    "daysOfWeek": [1, 2, 3, 4, 5],
                    "timezone": "Europe/Paris",
                },
                "connector_failures": ["expired_credentials"],
            },
            {"name": "Load sales from S3", "object": "112000000009"},
            {"name": "Month-end close", "object": "118000000003"},
        ],
        "flows": [
            {
                "id": FLOW,
                "name": "Sales round trip",
                "every": 3600,
                "offset": 2,
                "steps": [
                    {"integration": "Load sales from S3", "on_failure": "stop", "outcomes": ["failure"]},
                    {"integration": "Month-end close"},
                    {"integration": BLOB, "skipped": True},
                ],
            }
        ],
    },
}


def exporter_config(sim_url: str) -> dict[str, Any]:
    return simulator_config(
        sim_url,
        targets=[{"workspace": WS, "model": MODEL, "imports": "*", "exports": "*", "processes": "*"}],
        cloudworks={"enabled": True},
    )


def page_when(exporter: ExporterHandle, ready: Any, timeout: float = 40.0) -> tuple[str, PageText]:
    """The page (raw and parsed) once ``ready(parsed)`` holds."""
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        status, body = http_get(exporter.url + "/?refresh=0")
        if status == 200 and ready(PageText(body)):
            return body, PageText(body)
        time.sleep(0.5)
    raise AssertionError(f"the status page never showed what was awaited:\n{body[-4000:]}\n{exporter.logs()}")


def cloudworks_row(page: PageText, name: str) -> Row:
    found = [row for row in page.tables.get("cloudworks-items", []) if row.name == name]
    assert len(found) == 1, [row.name for row in page.tables.get("cloudworks-items", [])]
    return found[0]


def settled(page: PageText) -> bool:
    """The failed Blob run with its run errors, and the flow's ended run with its steps."""
    rows = {row.name: row for row in page.tables.get("cloudworks-items", [])}
    blob, flow = rows.get(BLOB_NAME), rows.get("Sales round trip")
    return (
        blob is not None
        and "no Anaplan task" in blob.cells[5]
        and flow is not None
        and "skipped:" in flow.cells[5]
    )


@pytest.mark.timeout(120)
def test_a_connector_failure_and_a_failed_flow_on_the_status_page(tmp_path: Path) -> None:
    with (
        running_simulator(SCENARIO, tmp_path) as simulator,
        running_exporter(exporter_config(simulator.url), tmp_path) as exporter,
    ):
        html, page = page_when(exporter, settled)
        truth = simulator.cloudworks_truth()
        failures = [run for run in truth if run.get("integration_id") == BLOB and run["result"] == "failure"]
        failed = max(failures, key=lambda run: run["start_time"])  # one before the start, one after
        assert failed["task_id"] is None and failed["connector_failure"] == "expired_credentials"
        signature = re.search(r"sig=([^&\s]+)", failed["message"])
        assert signature, failed["message"]

        # The Blob integration: its connector failure, the storage's text from the run-error endpoint.
        blob = cloudworks_row(page, BLOB_NAME)
        assert blob.css_class == "failed"
        name, schedule, run, _, failure, errors = blob.cells
        assert f"integration · Export {BLOB}" in name and "Revenue.xls (export 116000000002)" in name
        assert (
            schedule.startswith("active weekly on Mon-Fri at 06:30 (Europe/Paris)") and "next run" in schedule
        )
        assert run.startswith("FAILED scheduled run by ") and "error code 39" in run
        assert "Signed expiry time has passed. ErrorCode: AuthenticationFailed" in run
        assert failure.endswith("ago")
        assert "no Anaplan task (failed before Anaplan ran it)" in errors
        blob_url = "planningexports.blob.core.windows.net/exports/revenue/sales-revenue.xls?sv=2022-11-02"
        assert blob_url in errors
        assert "sig=***" in errors

        # Never the signature, and every string escaped.
        assert signature.group(1) not in html and "sig=***" in html
        assert "<b>to</b>" not in html and "Revenue &lt;b&gt;to&lt;/b&gt; Azure &amp; Blob" in html
        assert "&amp;ss=b&amp;srt=co" in html

        # The flow: the step that failed and the two that did not run.
        flow = cloudworks_row(page, "Sales round trip")
        assert flow.css_class == "failed" and flow.cells[2].startswith("FAILED scheduled run")
        assert flow.cells[5].endswith(
            f"failed at step 1 (Load sales from S3); skipped: 2 (Month-end close), 3 ({BLOB_NAME})"
        )

        # The three failures among the problems, counted in the summary; the table has them first, then
        # the integration that never ran (only skipped by the flow).
        assert "CloudWorks problems (3)" in page.text and "3 CloudWorks failed" in page.text
        assert [row.name for row in page.tables["cloudworks-items"]] == [
            "Load sales from S3",  # the flow's failed step
            BLOB_NAME,
            "Sales round trip",
            "Month-end close",
        ]
        assert cloudworks_row(page, "Month-end close").cells[2] == "NO RUNS"
        assert len(page.rows) == 3 and all(row.cells[5].startswith("UP") for row in page.rows)
