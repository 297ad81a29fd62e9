"""The CloudWorks dashboard and alerts on a real Prometheus, fed with series shaped as the metric contract.

The exporter's CloudWorks series (docs/metrics.md, "CloudWorks metrics") are served from a loopback endpoint:
an integration whose latest run failed and a flow still running, with counters that grow at every scrape.
Prometheus scrapes it with the project's rules; every query of the CloudWorks dashboard, its variables filled
in as Grafana would, must run and return data, and AnaplanCloudWorksRunFailed must fire with its details.
"""

from __future__ import annotations

import contextlib
import http.server
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from monitoring.artifacts import PROMETHEUS_CONFIG, RULES, dashboard_targets, load_dashboard
from monitoring.promql import substitute
from monitoring.servers import Server, running_prometheus, wait_for

UID = "anaplan-cloudworks"
WORKSPACE, MODEL = "8a81b09d5e8c6f27015ece3402487d33", "75A40874E6B64FA3AE0743278996850F"
INTEGRATION = (
    'kind="integration",cloudworks_id="4a1b2c3d4e5f60718293a4b5c6d7e8f9",cloudworks_name="Nightly S3 load"'
)
FLOW = 'kind="flow",cloudworks_id="9f8e7d6c5b4a39281706f5e4d3c2b1a0",cloudworks_name="Month-end close"'


def exposition(scrape: int, now: float) -> str:
    """What an exporter watching one integration and one flow would serve at its ``scrape``-th scrape."""
    day = now - now % 86400
    lines = [
        f'anaplan_cloudworks_info{{{INTEGRATION},type="Process",workspace_id="{WORKSPACE}",model_id="{MODEL}",'
        'object_id="118000000002",schedule_type="daily",time_zone="Europe/London",schedule_active="true"} 1',
        f'anaplan_cloudworks_info{{{FLOW},type="flow",workspace_id="",model_id="",object_id="",'
        'schedule_type="weekly",time_zone="UTC",schedule_active="true"} 1',
        f"anaplan_cloudworks_running{{{INTEGRATION}}} 0",
        f"anaplan_cloudworks_running{{{FLOW}}} 1",
        f"anaplan_cloudworks_last_run_start_timestamp_seconds{{{INTEGRATION}}} {now - 600:.0f}",
        f"anaplan_cloudworks_last_run_start_timestamp_seconds{{{FLOW}}} {now - 60:.0f}",
        f"anaplan_cloudworks_last_run_end_timestamp_seconds{{{INTEGRATION}}} {now - 300:.0f}",
        f"anaplan_cloudworks_last_run_end_timestamp_seconds{{{FLOW}}} {now - 86400:.0f}",
        f'anaplan_cloudworks_last_run_info{{{INTEGRATION},run_id="c0ffee00c0ffee00c0ffee00c0ffee00",'
        'trigger_source="scheduled",result="failure",error_code="39",message="Process failed"} 1',
        f'anaplan_cloudworks_last_run_info{{{FLOW},run_id="",trigger_source="manual",result="running",'
        'error_code="",message=""} 1',
        f"anaplan_cloudworks_last_run_error_code{{{INTEGRATION}}} 39",
        f"anaplan_cloudworks_last_success_timestamp_seconds{{{INTEGRATION}}} {now - 86400:.0f}",
        f"anaplan_cloudworks_last_success_timestamp_seconds{{{FLOW}}} {now - 86400:.0f}",
        f"anaplan_cloudworks_last_failure_timestamp_seconds{{{INTEGRATION}}} {now - 300:.0f}",
        f"anaplan_cloudworks_next_run_timestamp_seconds{{{INTEGRATION}}} {day + 86400 + 6 * 3600:.0f}",
        f"anaplan_cloudworks_last_scheduled_run_timestamp_seconds{{{INTEGRATION}}} {day - 18 * 3600:.0f}",
        f"anaplan_cloudworks_next_run_timestamp_seconds{{{FLOW}}} {day + 7 * 86400:.0f}",
        f"anaplan_cloudworks_last_scheduled_run_timestamp_seconds{{{FLOW}}} {now - 60:.0f}",
        f'anaplan_cloudworks_flow_step_result{{{FLOW},step="1",step_integration_id="4a1b2c3d4e5f60718293a4b5c6d7e8f9",'
        'step_name="Nightly S3 load",result="success"} 1',
        f'anaplan_cloudworks_flow_step_result{{{FLOW},step="2",step_integration_id="5b2c3d4e5f60718293a4b5c6d7e8f90a",'
        'step_name="P&L to S3",result="running"} 1',
        "anaplan_cloudworks_up 1",
        "anaplan_cloudworks_forbidden 0",
        'anaplan_cloudworks_poll_errors_total{reason="timeout"} 0',
    ]
    # Runs finish at every few scrapes: each result's counter grows at its own pace.
    for item in (INTEGRATION, FLOW):
        for result, every in (("success", 4), ("partial", 3), ("failure", 2), ("cancelled", 5)):
            lines.append(
                f'anaplan_cloudworks_completions_total{{{item},result="{result}"}} {scrape // every}'
            )
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def serving_series() -> Iterator[str]:
    """A loopback endpoint serving ``exposition`` at /metrics; yields its host:port."""
    scrapes = itertools.count()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = exposition(next(scrapes), time.time()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Prometheus with the project's rules, scraping the series every second."""
    tmp_path = tmp_path_factory.mktemp("cloudworks-dashboard")
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(RULES)]
    config.pop("alerting", None)
    with serving_series() as target:
        (job,) = config["scrape_configs"]
        job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [target]}])
        with running_prometheus(config, tmp_path) as server:
            yield server


def firing(prometheus: Server, alertname: str) -> list[dict[str, Any]] | None:
    alerts: list[dict[str, Any]] = prometheus.get_json("/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == alertname and a["state"] == "firing"] or None


def test_run_failure_fires_with_its_details(prometheus: Server) -> None:
    (alert,) = wait_for(lambda: firing(prometheus, "AnaplanCloudWorksRunFailed"), 60, "the failure alert")
    labels = alert["labels"]
    assert labels["cloudworks_name"] == "Nightly S3 load" and labels["kind"] == "integration"
    assert (labels["model_id"], labels["object_id"]) == (MODEL, "118000000002")
    assert labels["integration_id"] == "4a1b2c3d4e5f60718293a4b5c6d7e8f9"
    description = alert["annotations"]["description"]
    assert '(trigger: scheduled): "Process failed", error code 39, run c0ffee00' in description, description
    assert "It runs the Anaplan object 118000000002 of model " + MODEL in description, description


def test_dashboard_queries_return_data(prometheus: Server) -> None:
    wait_for(lambda: firing(prometheus, "AnaplanCloudWorksRunFailed"), 60, "the failure alert")
    dashboard = load_dashboard(UID)
    values = {"kind": ".*", "cloudworks": ".*", "__range": "60s", "__rate_interval": "5s", "__interval": "1s"}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            selector = substitute(variable["query"], values).removeprefix("label_values(").rsplit(", ", 1)[0]
            label = variable["query"].rsplit(", ", 1)[1].rstrip(")")
            found = prometheus.get_json(f"/api/v1/label/{label}/values", **{"match[]": selector})["data"]
            assert found, f"variable {variable['name']} has no values"
    exprs = sorted({substitute(query["expr"], values) for _, query in dashboard_targets(dashboard)})
    problems: dict[str, str] = {}

    def all_answer() -> bool:
        problems.clear()
        end = time.time()
        for expr in exprs:
            answer = prometheus.get_json(
                "/api/v1/query_range", query=expr, start=str(end - 60), end=str(end), step="1"
            )
            if answer["status"] != "success":
                problems[expr] = str(answer)
            elif not answer["data"]["result"]:
                problems[expr] = "no data"
        return not problems

    with contextlib.suppress(AssertionError):  # the assertion below lists what is missing
        wait_for(all_answer, 30, "every query to return data", interval=1)
    assert not problems, "\n".join(f"{problem}: {expr}" for expr, problem in problems.items())
