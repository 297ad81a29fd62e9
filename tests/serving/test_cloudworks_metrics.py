"""The ``anaplan_cloudworks_*`` families, as ``/metrics`` writes them from a hand-built snapshot."""

from __future__ import annotations

import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.anaplan.cloudworks_models import Run, Schedule, ScheduleType
from anaplan_exporter.serving.metrics import SnapshotCollector
from anaplan_exporter.snapshot import CloudWorksStatus, CloudWorksStep, CloudWorksView, Snapshot

T = 1_780_000_000.0
IDENTITY = {"kind": "integration", "cloudworks_id": "a" * 32, "cloudworks_name": "Load sales"}


def scrape(view: CloudWorksView) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: Snapshot(cloudworks=view), "test"))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("anaplan_cloudworks")
    }


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def sales() -> CloudWorksStatus:
    return CloudWorksStatus(
        kind="integration",
        id="a" * 32,
        name="Load sales",
        type="Process",
        workspace_id="8a8b8c8d8e8f8g8i",
        model_id="75A40874E6B64FA3AE0743278996850F",
        object_id="118000000002",
        schedule=Schedule(
            type=ScheduleType.DAILY, raw_type="daily", time=datetime.time(6), timezone="Europe/London"
        ),
        latest_run=Run(
            start=T,
            end=T + 30,
            success=False,
            message="x" * 300,
            execution_error_code=12,
            trigger_source="scheduled",
        ),
        latest_result="failure",
        run_id="r" * 32,
        last_end_time=T + 30,
        last_failure_time=T + 30,
        completions={"success": 3, "partial": 0, "failure": 1, "cancelled": 0},
        next_run_time=T + 3600,
        last_scheduled_time=T - 60,
    )


def test_an_integration_contributes_the_contract_series() -> None:
    view = CloudWorksView(enabled=True, up=True, items=(sales(),), errors={"timeout": 2})
    samples = scrape(view)
    info = {
        **IDENTITY,
        "type": "Process",
        "workspace_id": "8a8b8c8d8e8f8g8i",
        "model_id": "75A40874E6B64FA3AE0743278996850F",
        "object_id": "118000000002",
        "schedule_type": "daily",
        "time_zone": "Europe/London",
        "schedule_active": "true",
    }
    assert samples[key("anaplan_cloudworks_info", **info)] == 1.0
    assert samples[key("anaplan_cloudworks_running", **IDENTITY)] == 0.0
    assert samples[key("anaplan_cloudworks_last_run_start_timestamp_seconds", **IDENTITY)] == T
    assert samples[key("anaplan_cloudworks_last_run_end_timestamp_seconds", **IDENTITY)] == T + 30
    assert samples[key("anaplan_cloudworks_last_run_error_code", **IDENTITY)] == 12.0
    assert samples[key("anaplan_cloudworks_last_failure_timestamp_seconds", **IDENTITY)] == T + 30
    assert key("anaplan_cloudworks_last_success_timestamp_seconds", **IDENTITY) not in samples
    assert samples[key("anaplan_cloudworks_next_run_timestamp_seconds", **IDENTITY)] == T + 3600
    assert samples[key("anaplan_cloudworks_last_scheduled_run_timestamp_seconds", **IDENTITY)] == T - 60
    for result, count in {"success": 3, "partial": 0, "failure": 1, "cancelled": 0}.items():
        assert samples[key("anaplan_cloudworks_completions_total", **IDENTITY, result=result)] == count
    (last_run,) = [labels for name, labels in samples if name == "anaplan_cloudworks_last_run_info"]
    labels = dict(last_run)
    assert labels["result"] == "failure" and labels["error_code"] == "12" and labels["run_id"] == "r" * 32
    assert labels["message"] == "x" * 200 and labels["trigger_source"] == "scheduled"
    assert samples[key("anaplan_cloudworks_up")] == 1.0
    assert samples[key("anaplan_cloudworks_forbidden")] == 0.0
    assert samples[key("anaplan_cloudworks_poll_errors_total", reason="timeout")] == 2.0
    assert samples[key("anaplan_cloudworks_poll_errors_total", reason="forbidden")] == 0.0


def test_a_flow_has_one_series_per_step_of_its_latest_run() -> None:
    flow = CloudWorksStatus(
        kind="flow",
        id="f" * 32,
        name="Nightly",
        type="flow",
        latest_run=Run(start=T),
        latest_result="running",
        steps=(
            CloudWorksStep(1, "a" * 32, "Sales", "success"),
            CloudWorksStep(2, "b" * 32, "Orgs", "running"),
        ),
    )
    samples = scrape(CloudWorksView(enabled=True, up=True, items=(flow,)))
    identity = {"kind": "flow", "cloudworks_id": "f" * 32, "cloudworks_name": "Nightly"}
    assert samples[key("anaplan_cloudworks_running", **identity)] == 1.0
    step = {"step": "2", "step_integration_id": "b" * 32, "step_name": "Orgs", "result": "running"}
    assert samples[key("anaplan_cloudworks_flow_step_result", **identity, **step)] == 1.0
    info = dict(next(labels for name, labels in samples if name == "anaplan_cloudworks_info"))
    assert info["object_id"] == "" and info["schedule_type"] == "" and info["schedule_active"] == "false"
    assert key("anaplan_cloudworks_last_run_end_timestamp_seconds", **identity) not in samples


def test_off_nothing_and_forbidden_in_auto_only_the_forbidden_gauge() -> None:
    assert scrape(CloudWorksView()) == {}
    assert scrape(CloudWorksView(forbidden=True)) == {key("anaplan_cloudworks_forbidden"): 1.0}
