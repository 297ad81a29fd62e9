"""Prometheus side: the snapshot collector (a pure function of the snapshot) and the API call counters.

Example of what one watched process contributes (abridged)::

    anaplan_task_state{...,object_type="process",object_id="118000000002",state="COMPLETE"} 1.0
    anaplan_task_success{...,object_id="118000000002"} 0.0
    anaplan_task_completions_total{...,object_id="118000000002",result="failure"} 3.0
    anaplan_task_step_duration_seconds{...,step_id="112000000007",step_name="Load sales"} 1.112
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .anaplan.models import TaskState
from .snapshot import COMPLETION_RESULTS, ERROR_REASONS, Snapshot

OBJECT_LABELS = (
    "workspace_id",
    "workspace_name",
    "model_id",
    "model_name",
    "object_type",
    "object_id",
    "object_name",
)
STEP_LABELS = (*OBJECT_LABELS, "step_id", "step_name")
STATES = tuple(state.value for state in TaskState)
ROW_OUTCOMES = ("total", "success", "failed", "ignored", "warnings")
RETRY_REASONS = ("rate_limited", "server_error", "connection", "unauthorized")


def _gauge(name: str, doc: str, labels: Iterable[str] = OBJECT_LABELS) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def build_families(snapshot: Snapshot, version: str) -> list[Metric]:
    """Every metric family that describes ``snapshot``: no I/O, no clock, same input same output."""
    state = _gauge(
        "anaplan_task_state",
        "State of the newest task of the object: 1 for its state, 0 for the others.",
        [*OBJECT_LABELS, "state"],
    )
    progress = _gauge("anaplan_task_progress_ratio", "Progress of the newest task (0 to 1).")
    success = _gauge(
        "anaplan_task_success", "1 if the newest task succeeded, 0 if it failed; absent until it ends."
    )
    dump = _gauge(
        "anaplan_task_failure_dump_available", "1 if the newest finished task left a failure dump file."
    )
    created = _gauge("anaplan_task_created_timestamp_seconds", "Creation time of the newest task.")
    duration = _gauge(
        "anaplan_task_duration_seconds",
        "Run time of the newest task: Anaplan's duration when given, else time since creation while running.",
    )
    info = _gauge(
        "anaplan_task_info",
        "Identity of the newest task.",
        [*OBJECT_LABELS, "task_id", "current_step", "state"],
    )
    last_success = _gauge(
        "anaplan_task_last_success_timestamp_seconds", "Creation time of the newest successful task seen."
    )
    last_failure = _gauge(
        "anaplan_task_last_failure_timestamp_seconds", "Creation time of the newest failed task seen."
    )
    completions = CounterMetricFamily(
        "anaplan_task_completions",
        "Tasks seen finishing since the exporter started, by result (history at start-up is not counted).",
        labels=[*OBJECT_LABELS, "result"],
    )
    step_duration = _gauge("anaplan_task_step_duration_seconds", "Duration of a process step.", STEP_LABELS)
    step_success = _gauge(
        "anaplan_task_step_success", "1 if the process step succeeded, else 0.", STEP_LABELS
    )
    step_start = _gauge(
        "anaplan_task_step_start_timestamp_seconds", "Start time of a process step.", STEP_LABELS
    )
    rows = _gauge(
        "anaplan_import_rows", "Row counts of the newest finished import task.", [*OBJECT_LABELS, "outcome"]
    )
    expected = _gauge(
        "anaplan_task_expected_interval_seconds", "Configured interval within which a success is due."
    )
    max_duration = _gauge(
        "anaplan_task_max_duration_seconds", "Configured run time after which a task is stuck."
    )
    target_up = _gauge("anaplan_target_up", "1 if the last poll of the object succeeded.")
    errors = CounterMetricFamily(
        "anaplan_poll_errors", "Failed polls of the object, by reason.", labels=[*OBJECT_LABELS, "reason"]
    )

    for obj in snapshot.objects:
        labels = list(obj.ref.label_values())
        target_up.add_metric(labels, 1.0 if obj.up else 0.0)
        for reason in ERROR_REASONS:
            errors.add_metric([*labels, reason], float(obj.errors.get(reason, 0)))
        for result in COMPLETION_RESULTS:
            completions.add_metric([*labels, result], float(obj.completions.get(result, 0)))
        if obj.ref.expected_every is not None:
            expected.add_metric(labels, obj.ref.expected_every)
        if obj.ref.max_duration is not None:
            max_duration.add_metric(labels, obj.ref.max_duration)
        if obj.last_success_time is not None:
            last_success.add_metric(labels, obj.last_success_time)
        if obj.last_failure_time is not None:
            last_failure.add_metric(labels, obj.last_failure_time)
        for step in obj.steps:
            step_labels = [*labels, step.step_id, step.step_name]
            step_success.add_metric(step_labels, 1.0 if step.successful else 0.0)
            if step.duration_seconds is not None:
                step_duration.add_metric(step_labels, step.duration_seconds)
            if step.start_time is not None:
                step_start.add_metric(step_labels, step.start_time)
        if obj.row_counts is not None:
            for outcome, count in obj.row_counts.as_dict().items():
                rows.add_metric([*labels, outcome], float(count))
        task = obj.task
        if task is None:
            continue
        for value in STATES:
            state.add_metric([*labels, value], 1.0 if task.state.value == value else 0.0)
        info.add_metric([*labels, task.task_id, task.current_step, task.state.value], 1.0)
        if task.progress is not None:
            progress.add_metric(labels, task.progress)
        if task.creation_time is not None:
            created.add_metric(labels, task.creation_time)
        if obj.duration_seconds is not None:
            duration.add_metric(labels, obj.duration_seconds)
        if task.result is not None:
            success.add_metric(labels, 1.0 if task.result.successful else 0.0)
            dump.add_metric(labels, 1.0 if task.result.failure_dump_available else 0.0)

    families: list[Metric] = [
        state,
        progress,
        success,
        dump,
        created,
        duration,
        info,
        last_success,
        last_failure,
        completions,
        step_duration,
        step_success,
        step_start,
        rows,
        expected,
        max_duration,
        target_up,
        errors,
    ]
    families.extend(_exporter_families(snapshot, version))
    return families


def _exporter_families(snapshot: Snapshot, version: str) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "anaplan_up",
        "1 if the last poll round reached every object without error.",
        value=1.0 if snapshot.up else 0.0,
    )
    if snapshot.last_success_time is not None:
        yield GaugeMetricFamily(
            "anaplan_last_poll_success_timestamp_seconds",
            "End of the last poll round that reached every object without error.",
            value=snapshot.last_success_time,
        )
    if snapshot.poll_duration_seconds is not None:
        yield GaugeMetricFamily(
            "anaplan_poll_duration_seconds",
            "Duration of the last full poll cycle.",
            value=snapshot.poll_duration_seconds,
        )
    yield GaugeMetricFamily(
        "anaplan_poll_interval_seconds",
        "Configured interval between full poll cycles.",
        value=snapshot.poll_interval_seconds,
    )
    if snapshot.token_expires_at is not None:
        yield GaugeMetricFamily(
            "anaplan_auth_token_expiry_timestamp_seconds",
            "Expiry time of the cached Anaplan token.",
            value=snapshot.token_expires_at,
        )
    build = GaugeMetricFamily("anaplan_exporter_build_info", "Version of the exporter.", labels=["version"])
    build.add_metric([version], 1.0)
    yield build


class SnapshotCollector(Collector):
    """Yields the families of the current snapshot, built once per snapshot and reused by later scrapes."""

    def __init__(self, get_snapshot: Callable[[], Snapshot], version: str) -> None:
        self._get_snapshot = get_snapshot
        self._version = version
        self._cache: tuple[Snapshot, list[Metric]] | None = None

    def describe(self) -> list[Metric]:
        return []  # unchecked collector: registering it must not trigger a collect

    def collect(self) -> Iterable[Metric]:
        snapshot = self._get_snapshot()
        cache = self._cache
        if cache is None or cache[0] is not snapshot:
            cache = (snapshot, build_families(snapshot, self._version))
            self._cache = cache
        return cache[1]


class ApiStats:
    """Counts the exporter's own calls to Anaplan: the client's observer (direct instrumentation)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "anaplan_api_requests",
            "HTTP requests made to Anaplan, by endpoint and status code.",
            ["endpoint", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "anaplan_api_request_duration_seconds",
            "Latency of HTTP requests to Anaplan.",
            ["endpoint"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
            registry=registry,
        )
        self.retries = Counter(
            "anaplan_api_retries", "Requests to Anaplan retried, by reason.", ["reason"], registry=registry
        )
        for reason in RETRY_REASONS:
            self.retries.labels(reason)
        self.auth_failures = Counter(
            "anaplan_auth_failures",
            "Refused or failed authentications and token refreshes.",
            registry=registry,
        )

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        self.requests.labels(endpoint, code).inc()
        self.latency.labels(endpoint).observe(seconds)

    def retried(self, reason: str) -> None:
        self.retries.labels(reason).inc()

    def auth_failed(self) -> None:
        self.auth_failures.inc()
