"""The collector is a pure function of a hand-made snapshot."""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.anaplan.lookup import Absence
from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, Task, TaskResult, TaskState
from anaplan_exporter.serving.metrics import ApiStats, SnapshotCollector
from anaplan_exporter.snapshot import MEMORY_ONLY_REASONS, ObjectStatus, Snapshot, StateFileStatus, StepStatus
from support.fake_anaplan import finished, ref, running

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(snapshot: Snapshot) -> tuple[str, Samples]:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot, "1.2.3"))
    text = generate_latest(registry).decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    matches = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(matches) <= 1, f"{name} {labels} matches {len(matches)} series"
    return matches[0] if matches else None


PROCESS = ObjectStatus(
    ref=ref("118000000002", expected_every=3600.0, max_duration=1800.0),
    up=True,
    task=finished("T1", 1677624625.0, ok=False, failure_dump_available=True, duration_seconds=0.868),
    duration_seconds=0.868,
    steps=(
        StepStatus("117000000015", "Clear", True, 0.2, 1677624625.59),
        StepStatus("112000000007", "Load sales", False, 1.112, 1677624625.79, failure_dump_available=True),
    ),
    last_success_time=1677620000.0,
    last_failure_time=1677624625.0,
    completions={"success": 4, "failure": 2, "cancelled": 1},
    errors={"rate_limited": 3},
    learned_interval_seconds=3 * 86400.0,
    usual_duration_seconds=1.5,
)
IMPORT = ObjectStatus(
    ref=ref("112000000009", ObjectType.IMPORT),
    up=False,
    task=running("T2", 1677624000.0, progress=0.25),
    duration_seconds=60.0,
    row_counts=ImportRowCounts(total=95, success=90, ignored=5),
)
SNAPSHOT = Snapshot(
    objects=(PROCESS, IMPORT),
    ready=True,
    up=False,
    last_success_time=1677624700.0,
    poll_duration_seconds=0.42,
    poll_interval_seconds=60.0,
    token_expires_at=1677626000.0,
)


def test_task_state_is_one_hot_over_every_state() -> None:
    _, samples = scrape(SNAPSHOT)
    states = {
        s.value: value(samples, "anaplan_task_state", object_id="118000000002", state=s.value)
        for s in TaskState
    }
    assert states == {
        "NOT_STARTED": 0,
        "IN_PROGRESS": 0,
        "COMPLETE": 1,
        "CANCELLING": 0,
        "CANCELLED": 0,
        "UNKNOWN": 0,
    }
    assert value(samples, "anaplan_task_state", object_id="112000000009", state="IN_PROGRESS") == 1


def test_per_object_values() -> None:
    _, s = scrape(SNAPSHOT)
    p = {"object_id": "118000000002"}
    assert value(s, "anaplan_task_success", **p) == 0
    assert value(s, "anaplan_task_failure_dump_available", **p) == 1
    assert value(s, "anaplan_task_progress_ratio", **p) == 1
    assert value(s, "anaplan_task_created_timestamp_seconds", **p) == 1677624625.0
    assert value(s, "anaplan_task_duration_seconds", **p) == 0.868
    assert value(s, "anaplan_task_last_success_timestamp_seconds", **p) == 1677620000.0
    assert value(s, "anaplan_task_last_failure_timestamp_seconds", **p) == 1677624625.0
    assert value(s, "anaplan_task_completions_total", result="failure", **p) == 2
    assert value(s, "anaplan_task_completions_total", result="cancelled", **p) == 1
    assert value(s, "anaplan_task_expected_interval_seconds", **p) == 3600
    assert value(s, "anaplan_task_max_duration_seconds", **p) == 1800
    assert value(s, "anaplan_task_learned_interval_seconds", **p) == 3 * 86400
    assert value(s, "anaplan_task_usual_duration_seconds", **p) == 1.5
    assert value(s, "anaplan_task_step_duration_seconds", step_name="Load sales", **p) == 1.112
    assert value(s, "anaplan_task_step_success", step_id="112000000007", **p) == 0
    assert value(s, "anaplan_task_step_start_timestamp_seconds", step_id="112000000007", **p) == 1677624625.79
    assert value(s, "anaplan_task_step_failure_dump_available", step_id="112000000007", **p) == 1
    assert value(s, "anaplan_task_step_failure_dump_available", step_id="117000000015", **p) == 0
    assert value(s, "anaplan_target_up", **p) == 1
    assert value(s, "anaplan_poll_errors_total", reason="rate_limited", **p) == 3
    assert value(s, "anaplan_poll_errors_total", reason="not_found", **p) == 0
    assert value(s, "anaplan_task_info", task_id="T1", current_step="Failed.", **p) == 1


def test_running_import_has_no_success_yet_but_row_counts_of_its_previous_run() -> None:
    _, s = scrape(SNAPSHOT)
    i = {"object_id": "112000000009"}
    assert value(s, "anaplan_task_success", **i) is None
    assert value(s, "anaplan_task_progress_ratio", **i) == 0.25
    assert value(s, "anaplan_import_rows", outcome="ignored", **i) == 5
    assert value(s, "anaplan_import_rows", outcome="total", **i) == 95
    assert value(s, "anaplan_target_up", **i) == 0
    assert value(s, "anaplan_task_expected_interval_seconds", **i) is None
    assert value(s, "anaplan_task_learned_interval_seconds", **i) is None
    assert value(s, "anaplan_task_usual_duration_seconds", **i) is None
    assert value(s, "anaplan_task_completions_total", result="success", **i) == 0


def test_exporter_health() -> None:
    _, s = scrape(SNAPSHOT)
    assert value(s, "anaplan_up") == 0
    assert value(s, "anaplan_last_poll_success_timestamp_seconds") == 1677624700.0
    assert value(s, "anaplan_poll_duration_seconds") == 0.42
    assert value(s, "anaplan_poll_interval_seconds") == 60
    assert value(s, "anaplan_auth_token_expiry_timestamp_seconds") == 1677626000.0
    assert value(s, "anaplan_exporter_build_info", version="1.2.3") == 1


def test_labels_identify_the_object_and_task_id_only_on_info() -> None:
    _, s = scrape(SNAPSHOT)
    for (name, labels), _v in s.items():
        keys = dict(labels)
        if name.startswith("anaplan_task") or name in ("anaplan_target_up", "anaplan_import_rows"):
            assert {
                "workspace_id",
                "workspace_name",
                "model_id",
                "model_name",
                "object_type",
                "object_id",
                "object_name",
            } <= keys.keys(), name
            assert "type" not in keys
        if "task_id" in keys:
            assert name == "anaplan_task_info"


def test_object_not_in_snapshot_disappears() -> None:
    current = {"snap": SNAPSHOT}
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: current["snap"], "1"))
    assert b'object_id="112000000009"' in generate_latest(registry)
    current["snap"] = Snapshot(objects=(PROCESS,), ready=True)
    text = generate_latest(registry)
    assert b'object_id="112000000009"' not in text
    assert b'object_id="118000000002"' in text


def test_openmetrics_exposition_is_valid() -> None:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: SNAPSHOT, "1"))
    text = generate_openmetrics(registry).decode()  # type: ignore[no-untyped-call]
    assert text.endswith("# EOF\n")
    assert "anaplan_task_completions_total{" in text


def test_object_with_no_task_yet_has_health_and_counters_only() -> None:
    empty = ObjectStatus(ref=ref("116000000001", ObjectType.EXPORT), up=True)
    _, s = scrape(Snapshot(objects=(empty,), ready=True, up=True))
    assert value(s, "anaplan_target_up", object_id="116000000001") == 1
    assert value(s, "anaplan_task_completions_total", object_id="116000000001", result="success") == 0
    assert value(s, "anaplan_task_state", object_id="116000000001", state="COMPLETE") is None


def test_an_object_anaplan_does_not_confirm_is_down_with_its_reason_and_a_never_run_one_is_up() -> None:
    wrong = ObjectStatus(ref=ref("118000000099"), up=False, absence=Absence.NOT_FOUND, last_poll_time=1.0)
    masked = ObjectStatus(
        ref=ref("112000000001", ObjectType.IMPORT), up=False, absence=Absence.NO_ACCESS, last_poll_time=1.0
    )
    idle = ObjectStatus(ref=ref("116000000001", ObjectType.EXPORT), up=True, last_poll_time=1.0)
    text, s = scrape(Snapshot(objects=(wrong, masked, idle), ready=True))
    assert value(s, "anaplan_target_not_found", object_id="118000000099", reason="not_found") == 1
    assert value(s, "anaplan_target_not_found", object_id="112000000001", reason="no_access") == 1
    assert value(s, "anaplan_target_up", object_id="118000000099") == 0
    assert value(s, "anaplan_target_up", object_id="112000000001") == 0
    # One series per unconfirmed object, none for the others: a healthy tenant's series are unchanged.
    assert value(s, "anaplan_target_not_found", object_id="116000000001") is None
    assert value(s, "anaplan_target_up", object_id="116000000001") == 1
    assert text.count("anaplan_target_not_found{") == 2
    # Not a poll error: its polls did not fail, Anaplan answered "nothing".
    assert value(s, "anaplan_poll_errors_total", object_id="118000000099", reason="not_found") == 0


def test_api_stats_count_requests_retries_and_auth_failures() -> None:
    registry = CollectorRegistry()
    stats = ApiStats(registry)
    stats.request_done("list_tasks", "200", 0.1)
    stats.request_done("list_tasks", "429", 0.05)
    stats.retried("rate_limited")
    stats.auth_failed()
    text = generate_latest(registry).decode()
    assert 'anaplan_api_requests_total{code="429",endpoint="list_tasks"} 1.0' in text
    assert 'anaplan_api_retries_total{reason="rate_limited"} 1.0' in text
    assert 'anaplan_api_retries_total{reason="server_error"} 0.0' in text
    assert "anaplan_auth_failures_total 1.0" in text
    assert 'anaplan_api_request_duration_seconds_count{endpoint="list_tasks"} 2.0' in text


def test_result_of_cancelled_task_is_reported() -> None:
    cancelled = ObjectStatus(
        ref=ref(),
        up=True,
        task=Task("C", TaskState.CANCELLED, creation_time=1.0, result=TaskResult(successful=False)),
    )
    _, s = scrape(Snapshot(objects=(cancelled,)))
    assert value(s, "anaplan_task_state", state="CANCELLED") == 1
    assert value(s, "anaplan_task_success") == 0


def test_the_state_file_kept_its_last_save_and_failed_saves() -> None:
    kept = StateFileStatus(
        "/var/lib/anaplan-exporter/state.json",
        last_save_time=1677624600.0,
        save_failures=3,
    )
    text, s = scrape(dataclasses.replace(SNAPSHOT, state_file=kept))
    assert value(s, "anaplan_exporter_state_file_kept") == 1
    assert value(s, "anaplan_exporter_state_file_last_save_timestamp_seconds") == 1677624600.0
    assert value(s, "anaplan_exporter_state_file_save_failures_total") == 3
    assert "/var/lib" not in text  # the path is for the log and the status page, not a label
    for reason in MEMORY_ONLY_REASONS:
        _, s = scrape(dataclasses.replace(SNAPSHOT, state_file=StateFileStatus("/x", reason, "why")))
        assert value(s, "anaplan_exporter_state_file_kept", reason=reason) == 0
        assert value(s, "anaplan_exporter_state_file_last_save_timestamp_seconds") is None  # never saved
        assert value(s, "anaplan_exporter_state_file_save_failures_total") == 0
    _, s = scrape(SNAPSHOT)  # a poller without a store (tests): nothing said
    assert value(s, "anaplan_exporter_state_file_kept") is None
