"""Prometheus side: the snapshot's metric families (a pure function of the snapshot) and the API counters.

Example of what one watched process contributes (abridged)::

    anaplan_task_state{...,object_type="process",object_id="118000000002",state="COMPLETE"} 1.0
    anaplan_task_success{...,object_id="118000000002"} 0.0
    anaplan_task_completions_total{...,object_id="118000000002",result="failure"} 3.0
    anaplan_task_step_duration_seconds{...,step_id="112000000007",step_name="Load sales"} 1.112

Each per-object family is described once (``FAMILIES``: name, help, type, extra labels and a function from
an object's status to its samples). ``build_families`` turns them into prometheus_client families;
``exposition.render_snapshot`` writes the same series as text straight from the snapshot, which is what
``/metrics`` serves (the library path costs seconds and hundreds of MB at 10,000 objects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..anaplan.auth_backoff import AuthRefusal
from ..anaplan.models import TaskState
from ..anaplan.timestamps import BAD_TIMESTAMP
from ..snapshot import COMPLETION_RESULTS, ERROR_REASONS, ObjectStatus, Snapshot, StateFileStatus, StepStatus
from .cloudworks_metrics import cloudworks_families

OBJECT_LABELS = (
    "workspace_id",
    "workspace_name",
    "model_id",
    "model_name",
    "object_type",
    "object_id",
    "object_name",
)
STATES = tuple(state.value for state in TaskState)
RETRY_REASONS = ("rate_limited", "server_error", "connection", "unauthorized")
IGNORED_SOURCES = ("anaplan", "state_file")
IGNORED_REASONS = (BAD_TIMESTAMP,)

Sample = tuple[tuple[str, ...], float]
"""Values of the family's extra labels (after the object's labels) and the sample value."""


@dataclass(frozen=True)
class Family:
    """A per-object metric family: every watched object contributes ``samples(status)``."""

    name: str
    documentation: str
    type: str  # "gauge" or "counter" (the counter's samples are named ``name + "_total"``)
    extra_labels: tuple[str, ...]
    samples: Callable[[ObjectStatus], Sequence[Sample]]


_NONE: tuple[Sample, ...] = ()


def _one(value: float | None) -> Sequence[Sample]:
    return _NONE if value is None else (((), value),)


def _state(obj: ObjectStatus) -> Sequence[Sample]:
    task = obj.task
    if task is None:
        return _NONE
    current = task.state.value
    return [((value,), 1.0 if value == current else 0.0) for value in STATES]


def _progress(obj: ObjectStatus) -> Sequence[Sample]:
    return _NONE if obj.task is None else _one(obj.task.progress)


def _success(obj: ObjectStatus) -> Sequence[Sample]:
    task = obj.task
    if task is None or task.result is None:
        return _NONE
    return (((), 1.0 if task.result.successful else 0.0),)


def _dump(obj: ObjectStatus) -> Sequence[Sample]:
    task = obj.task
    if task is None or task.result is None:
        return _NONE
    return (((), 1.0 if task.result.failure_dump_available else 0.0),)


def _created(obj: ObjectStatus) -> Sequence[Sample]:
    return _NONE if obj.task is None else _one(obj.task.creation_time)


def _duration(obj: ObjectStatus) -> Sequence[Sample]:
    return _NONE if obj.task is None else _one(obj.duration_seconds)


def _info(obj: ObjectStatus) -> Sequence[Sample]:
    task = obj.task
    if task is None:
        return _NONE
    return (((task.task_id, task.current_step, task.state.value), 1.0),)


def _completions(obj: ObjectStatus) -> Sequence[Sample]:
    samples = [((result,), float(obj.completions.get(result, 0))) for result in COMPLETION_RESULTS]
    # "unknown" (counted without its status) appears once it happens: most objects never need the series.
    extra = sorted((r, n) for r, n in obj.completions.items() if r not in COMPLETION_RESULTS)
    samples.extend(((r,), float(n)) for r, n in extra)
    return samples


def _step_values(obj: ObjectStatus, pick: Callable[[StepStatus], float | None]) -> list[Sample]:
    out: list[Sample] = []
    for step in obj.steps:
        value = pick(step)
        if value is not None:
            out.append(((step.step_id, step.step_name), value))
    return out


def _rows(obj: ObjectStatus) -> Sequence[Sample]:
    if obj.row_counts is None:
        return _NONE
    return [((outcome,), float(count)) for outcome, count in obj.row_counts.as_dict().items()]


def _not_found(obj: ObjectStatus) -> Sequence[Sample]:
    return _NONE if obj.absence is None else (((obj.absence.value,), 1.0),)


def _errors(obj: ObjectStatus) -> Sequence[Sample]:
    return [((reason,), float(obj.errors.get(reason, 0))) for reason in ERROR_REASONS]


FAMILIES: tuple[Family, ...] = (
    Family(
        "anaplan_task_state",
        "State of the newest task of the object: 1 for its state, 0 for the others.",
        "gauge",
        ("state",),
        _state,
    ),
    Family("anaplan_task_progress_ratio", "Progress of the newest task (0 to 1).", "gauge", (), _progress),
    Family(
        "anaplan_task_success",
        "1 if the newest task succeeded, 0 if it failed; absent until it ends.",
        "gauge",
        (),
        _success,
    ),
    Family(
        "anaplan_task_failure_dump_available",
        "1 if the newest finished task left a failure dump file.",
        "gauge",
        (),
        _dump,
    ),
    Family(
        "anaplan_task_created_timestamp_seconds", "Creation time of the newest task.", "gauge", (), _created
    ),
    Family(
        "anaplan_task_duration_seconds",
        "Run time of the newest task: Anaplan's duration when given, else time since creation while running.",
        "gauge",
        (),
        _duration,
    ),
    Family(
        "anaplan_task_info",
        "Identity of the newest task.",
        "gauge",
        ("task_id", "current_step", "state"),
        _info,
    ),
    Family(
        "anaplan_task_last_success_timestamp_seconds",
        "Creation time of the newest successful task seen.",
        "gauge",
        (),
        lambda obj: _one(obj.last_success_time),
    ),
    Family(
        "anaplan_task_last_failure_timestamp_seconds",
        "Creation time of the newest failed task seen.",
        "gauge",
        (),
        lambda obj: _one(obj.last_failure_time),
    ),
    Family(
        "anaplan_task_completions",
        "Tasks seen finishing since the exporter started, by result (history at start-up is not counted).",
        "counter",
        ("result",),
        _completions,
    ),
    Family(
        "anaplan_task_step_duration_seconds",
        "Duration of a process step.",
        "gauge",
        ("step_id", "step_name"),
        lambda obj: _step_values(obj, lambda step: step.duration_seconds),
    ),
    Family(
        "anaplan_task_step_success",
        "1 if the process step succeeded, else 0.",
        "gauge",
        ("step_id", "step_name"),
        lambda obj: _step_values(obj, lambda step: 1.0 if step.successful else 0.0),
    ),
    Family(
        "anaplan_task_step_start_timestamp_seconds",
        "Start time of a process step.",
        "gauge",
        ("step_id", "step_name"),
        lambda obj: _step_values(obj, lambda step: step.start_time),
    ),
    Family(
        "anaplan_task_step_failure_dump_available",
        "1 if the process step left a failure dump file (fetch it with the step's object id), else 0.",
        "gauge",
        ("step_id", "step_name"),
        lambda obj: _step_values(obj, lambda step: 1.0 if step.failure_dump_available else 0.0),
    ),
    Family(
        "anaplan_import_rows",
        "Row counts of the newest finished import task.",
        "gauge",
        ("outcome",),
        _rows,
    ),
    Family(
        "anaplan_task_expected_interval_seconds",
        "Configured interval within which a success is due.",
        "gauge",
        (),
        lambda obj: _one(obj.ref.expected_every),
    ),
    Family(
        "anaplan_task_max_duration_seconds",
        "Configured run time after which a task is stuck.",
        "gauge",
        (),
        lambda obj: _one(obj.ref.max_duration),
    ),
    Family(
        "anaplan_task_learned_interval_seconds",
        "Usual interval between runs of the object, learned from the creation times of its recent runs "
        "(the longest recurring gap, e.g. the weekend of a weekday job); absent without a regular rhythm.",
        "gauge",
        (),
        lambda obj: _one(obj.learned_interval_seconds),
    ),
    Family(
        "anaplan_task_success_due_timestamp_seconds",
        "When a success of the object is next due by the calendar pattern learned from its recent runs "
        "(e.g. Mon and Thu 06:00 UTC, the last working day): the first slot after its newest success; "
        "absent without such a pattern.",
        "gauge",
        (),
        lambda obj: _one(obj.success_due_time),
    ),
    Family(
        "anaplan_task_usual_duration_seconds",
        "90th percentile of the durations of the object's recent finished runs; absent with fewer than 5.",
        "gauge",
        (),
        lambda obj: _one(obj.usual_duration_seconds),
    ),
    Family(
        "anaplan_target_up",
        "1 if the last poll of the object succeeded (0 too while Anaplan does not confirm the object).",
        "gauge",
        (),
        lambda obj: (((), 1.0 if obj.up else 0.0),),
    ),
    Family(
        "anaplan_target_not_found",
        "1 while Anaplan does not confirm the object and its task list lists no run, by reason: not_found "
        "(not in its model's list, its workspace or model not listed, or its metadata answers 404) or "
        "no_access (its model is listed, but masked as NO ACCESS); absent for confirmed objects.",
        "gauge",
        ("reason",),
        _not_found,
    ),
    Family(
        "anaplan_poll_errors",
        "Failed polls of the object, by reason.",
        "counter",
        ("reason",),
        _errors,
    ),
)


def build_families(
    snapshot: Snapshot,
    version: str,
    on_error: Callable[[ObjectStatus, Exception], None] | None = None,
) -> list[Metric]:
    """Every metric family that describes ``snapshot``: no I/O, no clock, same input same output.

    An object whose data breaks a family's samples is left out of that family (and reported to
    ``on_error`` once); the other objects' series are kept.
    """
    families: list[Metric] = []
    failed: set[int] = set()
    for spec in FAMILIES:
        labels = [*OBJECT_LABELS, *spec.extra_labels]
        family: GaugeMetricFamily | CounterMetricFamily
        if spec.type == "counter":
            family = CounterMetricFamily(spec.name, spec.documentation, labels=labels)
        else:
            family = GaugeMetricFamily(spec.name, spec.documentation, labels=labels)
        for obj in snapshot.objects:
            try:
                object_labels = obj.ref.label_values()
                series = [([*object_labels, *extra], float(value)) for extra, value in spec.samples(obj)]
            except Exception as exc:  # one object's data must not fail the scrape: leave it out
                if on_error is not None and id(obj) not in failed:
                    failed.add(id(obj))
                    on_error(obj, exc)
                continue
            for labels_values, value in series:
                family.add_metric(labels_values, value)
        families.append(family)
    families.extend(exporter_families(snapshot, version))
    return families


def exporter_families(snapshot: Snapshot, version: str) -> Iterator[Metric]:
    """The exporter-wide families of a snapshot (CloudWorks, health, poll timing, token expiry, build)."""
    yield from cloudworks_families(snapshot.cloudworks)
    yield GaugeMetricFamily(
        "anaplan_up",
        "1 if discovery succeeded and the last poll of every object succeeded.",
        value=1.0 if snapshot.up else 0.0,
    )
    if snapshot.last_success_time is not None:
        yield GaugeMetricFamily(
            "anaplan_last_poll_success_timestamp_seconds",
            "Last time discovery and the last poll of every object had all succeeded.",
            value=snapshot.last_success_time,
        )
    if snapshot.poll_duration_seconds is not None:
        yield GaugeMetricFamily(
            "anaplan_poll_duration_seconds",
            "Time the last sweep took to poll every watched object once.",
            value=snapshot.poll_duration_seconds,
        )
    yield GaugeMetricFamily(
        "anaplan_poll_interval_seconds",
        "Configured interval between two polls of an idle object (polling.idle_interval).",
        value=snapshot.poll_interval_seconds,
    )
    if snapshot.oldest_poll_age_seconds is not None:
        yield GaugeMetricFamily(
            "anaplan_poll_oldest_age_seconds",
            "Seconds since the least recently polled object was polled: above the idle interval, the "
            "request budget cannot cover every object that often.",
            value=snapshot.oldest_poll_age_seconds,
        )
    if snapshot.budget_used_ratio is not None:
        yield GaugeMetricFamily(
            "anaplan_request_budget_used_ratio",
            "Share of this replica's request budget (requests_per_second) used over the last minute.",
            value=snapshot.budget_used_ratio,
        )
    if snapshot.token_expires_at is not None:
        yield GaugeMetricFamily(
            "anaplan_auth_token_expiry_timestamp_seconds",
            "Expiry time of the cached Anaplan token.",
            value=snapshot.token_expires_at,
        )
    if snapshot.state_file is not None:
        yield from state_file_families(snapshot.state_file)
    build = GaugeMetricFamily("anaplan_exporter_build_info", "Version of the exporter.", labels=["version"])
    build.add_metric([version], 1.0)
    yield build


def state_file_families(state: StateFileStatus) -> Iterator[Metric]:
    """Whether the state survives a restart: kept in a file (and how its saves go), or why not."""
    kept = GaugeMetricFamily(
        "anaplan_exporter_state_file_kept",
        "1 while the state (counts, last success and failure) is kept in a file across restarts; 0 when it "
        "is kept in memory only, with the reason (configured_off, no_home, default_unwritable, in_use).",
        labels=["reason"],
    )
    kept.add_metric([state.memory_only_reason], 1.0 if state.kept else 0.0)
    yield kept
    if state.last_save_time is not None:
        yield GaugeMetricFamily(
            "anaplan_exporter_state_file_last_save_timestamp_seconds",
            "When the state file was last written (a save happens when something changed).",
            value=state.last_save_time,
        )
    yield CounterMetricFamily(
        "anaplan_exporter_state_file_save_failures",
        "Saves of the state file that failed (each is tried again at the next save interval).",
        value=state.save_failures,
    )


class SnapshotCollector(Collector):
    """Yields the families of the current snapshot (the library path: ``--once`` and plain registries).

    ``/metrics`` does not come through here: it renders the snapshot directly (see ``exposition``).
    """

    def __init__(
        self,
        get_snapshot: Callable[[], Snapshot],
        version: str,
        on_error: Callable[[ObjectStatus, Exception], None] | None = None,
    ) -> None:
        self.get_snapshot = get_snapshot
        self.version = version
        self.on_error = on_error

    def describe(self) -> list[Metric]:
        return []  # unchecked collector: registering it must not trigger a collect

    def collect(self) -> Iterable[Metric]:
        return build_families(self.get_snapshot(), self.version, self.on_error)


class AuthCollector(Collector):
    """Whether a refused login holds every login back, and when the next attempt is due (read live)."""

    def __init__(self, get_refusal: Callable[[], AuthRefusal | None]) -> None:
        self.get_refusal = get_refusal

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        refusal = self.get_refusal()
        yield GaugeMetricFamily(
            "anaplan_auth_refused",
            "1 while a login refused by Anaplan holds every login back (polls fail at once with reason auth "
            "until the next attempt), else 0.",
            value=0.0 if refusal is None else 1.0,
        )
        if refusal is not None:
            yield GaugeMetricFamily(
                "anaplan_auth_next_attempt_timestamp_seconds",
                "When the exporter next tries to log in after a refusal (backing off from 1 to 30 minutes); "
                "absent while logins are allowed.",
                value=refusal.next_attempt_at,
            )


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
            "Authentications and token refreshes refused by the auth service (not network errors).",
            registry=registry,
        )
        self.ignored = Counter(
            "anaplan_ignored_values",
            "Impossible values from Anaplan or the state file treated as absent, by source and reason "
            "(bad_timestamp: a time before 2000, more than a day ahead, or not a number).",
            ["source", "reason"],
            registry=registry,
        )
        for source in IGNORED_SOURCES:
            for reason in IGNORED_REASONS:
                self.ignored.labels(source, reason)

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        self.requests.labels(endpoint, code).inc()
        self.latency.labels(endpoint).observe(seconds)

    def retried(self, reason: str) -> None:
        self.retries.labels(reason).inc()

    def auth_failed(self) -> None:
        self.auth_failures.inc()

    def ignored_values(self, reason: str, count: int) -> None:
        self.ignored.labels("anaplan", reason).inc(count)

    def state_values_ignored(self, reason: str, count: int) -> None:
        """Values the state file held that were dropped when it was read."""
        self.ignored.labels("state_file", reason).inc(count)
