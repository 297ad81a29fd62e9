"""The ``anaplan_cloudworks_*`` families: a pure function of the snapshot's CloudWorks view.

Every per-integration and per-flow series carries ``kind`` (``integration`` or ``flow``), ``cloudworks_id``
and ``cloudworks_name``; a tenant has at most a few hundred integrations and flows, so these go through the
library's families (``/metrics`` appends them after the per-object families). Example (abridged)::

    anaplan_cloudworks_info{kind="integration",cloudworks_id="4c3f…",cloudworks_name="Load sales",
        type="Import",workspace_id="8a8b…",model_id="75A4…",object_id="112000000007",schedule_type="daily",
        time_zone="Europe/London",schedule_active="true"} 1.0
    anaplan_cloudworks_completions_total{kind="integration",cloudworks_id="4c3f…",…,result="failure"} 2.0
    anaplan_cloudworks_next_run_timestamp_seconds{kind="integration",cloudworks_id="4c3f…",…} 1.7811e+09
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..snapshot import CLOUDWORKS_RESULTS, ERROR_REASONS, CloudWorksStatus, CloudWorksView

IDENTITY_LABELS = ("kind", "cloudworks_id", "cloudworks_name")
MAX_MESSAGE = 200
"""Characters of a run's message in ``anaplan_cloudworks_last_run_info`` (already scrubbed)."""
RUN_RESULTS = (*CLOUDWORKS_RESULTS, "running")

Values = Sequence[tuple[tuple[str, ...], float]]


def _one(value: float | None) -> Values:
    return () if value is None else (((), value),)


def _info(item: CloudWorksStatus) -> Values:
    schedule = item.schedule
    return (
        (
            (
                item.type,
                item.workspace_id,
                item.model_id,
                item.object_id,
                "" if schedule is None else schedule.raw_type or schedule.type.value,
                "" if schedule is None else schedule.timezone,
                "true" if schedule is not None and schedule.active else "false",
            ),
            1.0,
        ),
    )


def _running(item: CloudWorksStatus) -> Values:
    return (((), 1.0 if item.latest_run is not None and item.latest_run.end is None else 0.0),)


def _last_run(item: CloudWorksStatus) -> Values:
    run = item.latest_run
    if run is None or item.latest_result not in RUN_RESULTS:
        return ()
    code = "" if run.execution_error_code is None else str(run.execution_error_code)
    message = " ".join(run.message.split())[:MAX_MESSAGE]
    return (((item.run_id, run.trigger_source, item.latest_result, code, message), 1.0),)


def _error_code(item: CloudWorksStatus) -> Values:
    run = item.latest_run
    if run is None or run.end is None or run.execution_error_code is None:
        return ()
    return (((), float(run.execution_error_code)),)


def _completions(item: CloudWorksStatus) -> Values:
    return [((result,), float(item.completions.get(result, 0))) for result in CLOUDWORKS_RESULTS]


def _steps(item: CloudWorksStatus) -> Values:
    return [((str(s.position), s.integration_id, s.name, s.result), 1.0) for s in item.steps]


_FAMILIES: tuple[tuple[str, str, str, tuple[str, ...], Callable[[CloudWorksStatus], Values]], ...] = (
    (
        "anaplan_cloudworks_info",
        "Identity of a CloudWorks integration or flow: its type, the Anaplan import, export or process it "
        "runs, and its schedule.",
        "gauge",
        ("type", "workspace_id", "model_id", "object_id", "schedule_type", "time_zone", "schedule_active"),
        _info,
    ),
    ("anaplan_cloudworks_running", "1 while the latest run has no end, else 0.", "gauge", (), _running),
    (
        "anaplan_cloudworks_last_run_start_timestamp_seconds",
        "Start of the latest run.",
        "gauge",
        (),
        lambda item: _one(None if item.latest_run is None else item.latest_run.start),
    ),
    (
        "anaplan_cloudworks_last_run_end_timestamp_seconds",
        "End of the latest finished run.",
        "gauge",
        (),
        lambda item: _one(item.last_end_time),
    ),
    (
        "anaplan_cloudworks_last_run_info",
        "The latest run: its ID (once read), what triggered it, its result, error code and message.",
        "gauge",
        ("run_id", "trigger_source", "result", "error_code", "message"),
        _last_run,
    ),
    (
        "anaplan_cloudworks_last_run_error_code",
        "The latest finished run's executionErrorCode; absent when it has none.",
        "gauge",
        (),
        _error_code,
    ),
    (
        "anaplan_cloudworks_last_success_timestamp_seconds",
        "End of the newest run seen that succeeded (fully or partly).",
        "gauge",
        (),
        lambda item: _one(item.last_success_time),
    ),
    (
        "anaplan_cloudworks_last_failure_timestamp_seconds",
        "End of the newest run seen that failed.",
        "gauge",
        (),
        lambda item: _one(item.last_failure_time),
    ),
    (
        "anaplan_cloudworks_completions",
        "Runs seen finishing, by result, each counted once (across restarts with a state file).",
        "counter",
        ("result",),
        _completions,
    ),
    (
        "anaplan_cloudworks_next_run_timestamp_seconds",
        "When the schedule next fires, as CloudWorks fires it; absent without an active schedule.",
        "gauge",
        (),
        lambda item: _one(item.next_run_time),
    ),
    (
        "anaplan_cloudworks_last_scheduled_run_timestamp_seconds",
        "The most recent time the schedule fired (or should have) at or before now; absent without an "
        "active schedule.",
        "gauge",
        (),
        lambda item: _one(item.last_scheduled_time),
    ),
    (
        "anaplan_cloudworks_flow_step_result",
        "Flows: the result of each step of the latest run (1 for its result).",
        "gauge",
        ("step", "step_integration_id", "step_name", "result"),
        _steps,
    ),
)


def cloudworks_families(view: CloudWorksView) -> Iterator[Metric]:
    """The CloudWorks families of a snapshot; nothing at all while CloudWorks is off."""
    if not view.enabled:
        if view.forbidden:
            yield _forbidden(view)
        return
    for name, documentation, kind, extra, samples in _FAMILIES:
        labels = [*IDENTITY_LABELS, *extra]
        family: GaugeMetricFamily | CounterMetricFamily
        if kind == "counter":
            family = CounterMetricFamily(name, documentation, labels=labels)
        else:
            family = GaugeMetricFamily(name, documentation, labels=labels)
        for item in view.items:
            identity = (item.kind, item.id, item.name)
            for values, value in samples(item):
                family.add_metric([*identity, *values], value)
        yield family
    yield GaugeMetricFamily(
        "anaplan_cloudworks_up",
        "1 if the last read of the CloudWorks integration and flow lists succeeded, else 0.",
        value=1.0 if view.up else 0.0,
    )
    yield _forbidden(view)
    errors = CounterMetricFamily(
        "anaplan_cloudworks_poll_errors",
        "Failed reads of the CloudWorks API (lists and per-run reads), by reason.",
        labels=["reason"],
    )
    for reason in ERROR_REASONS:
        errors.add_metric([reason], float(view.errors.get(reason, 0)))
    yield errors


def _forbidden(view: CloudWorksView) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "anaplan_cloudworks_forbidden",
        "1 while CloudWorks answers 403 (the user lacks the integration role), else 0.",
        value=1.0 if view.forbidden else 0.0,
    )
