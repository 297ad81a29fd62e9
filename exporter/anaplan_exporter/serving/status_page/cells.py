"""One table row per watched object, cell by cell: object, newest task and rhythm, failed steps, poll health.

A row's class is its row status (``outcomes``), which the stylesheet colours.
"""

from __future__ import annotations

from ...anaplan.models import ObjectType
from ...snapshot import ObjectStatus
from .markup import Links, badge, escape, when
from .outcomes import CANCELLED, DOWN, FAILED, LABEL, NONE, RUNNING
from .time_text import format_duration, relative_time

_MAX_MESSAGE = 500


def row(obj: ObjectStatus, outcome: str, health: str, now: float, links: Links) -> str:
    """The ``<tr>`` of ``obj``, already classified (``outcome``, ``health``), at the clock ``now``."""
    status = DOWN if health == "down" else outcome
    ref = obj.ref
    obj_cell = (
        f'<b class="name">{escape(ref.object_name)}</b> <span class="muted">{ref.object_type.value} '
        f'<code class="id">{escape(ref.object_id)}</code></span><br>'
        f'<span class="small" title="workspace {escape(ref.workspace_id)}, model {escape(ref.model_id)}">'
        f"{escape(ref.workspace_name)} / {escape(ref.model_name)}</span>"
    )
    cells = (
        obj_cell,
        _task_cell(obj, outcome, now, links),
        when(obj.last_success_time, now),
        when(obj.last_failure_time, now),
        _steps_cell(obj),
        _poll_cell(obj, health, now, links),
    )
    return f'<tr class="{status}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _task_cell(obj: ObjectStatus, outcome: str, now: float, links: Links) -> str:
    task = obj.task
    if task is None:
        return badge(NONE, LABEL[NONE])
    state = task.raw_state or task.state.value
    parts = [f'{badge(outcome, LABEL[outcome])} <span class="muted">{escape(state)}</span>']
    if outcome == RUNNING:
        if task.progress is not None:
            fraction = min(max(task.progress, 0.0), 1.0)
            parts.append(f'<progress value="{fraction:.3f}" max="1"></progress> {fraction * 100:.0f} %')
        if task.current_step:
            parts.append(f'step: <span class="step">{escape(task.current_step)}</span>')
    facts = []
    if obj.duration_seconds is not None:
        took = format_duration(obj.duration_seconds)
        facts.append(f"running for {took}" if outcome == RUNNING else f"took {took}")
    if task.creation_time is not None:
        facts.append("started " + relative_time(task.creation_time, now))
    if facts:
        parts.append(f'<span class="small">{escape(", ".join(facts))}</span>')
    rhythm = _rhythm(obj, now)
    if rhythm:
        parts.append(rhythm)
    parts.append(f'<span class="small muted">task <code>{escape(task.task_id)}</code></span>')
    ref = obj.ref
    if (
        outcome == RUNNING
        and ref.max_duration is not None
        and obj.duration_seconds is not None
        and obj.duration_seconds > ref.max_duration
    ):
        parts.append(
            f'<span class="warn">stuck: longer than max_duration {format_duration(ref.max_duration)}</span> '
            + links.alert("AnaplanTaskStuck")
        )
    if (
        ref.expected_every is not None
        and obj.last_success_time is not None
        and now - obj.last_success_time > 1.5 * ref.expected_every
    ):
        every = escape(format_duration(ref.expected_every))
        parts.append(
            f'<span class="warn">overdue: expected every {every}</span> ' + links.alert("AnaplanTaskOverdue")
        )
    if outcome == FAILED:
        parts.append(links.alert("AnaplanTaskFailed"))
    elif outcome == CANCELLED:
        if task.cancelled_by:
            parts.append(f'<span class="small">cancelled by {escape(task.cancelled_by)}</span>')
        parts.append(links.alert("AnaplanTaskCancelled"))
    return "<br>".join(parts)


def _rhythm(obj: ObjectStatus, now: float) -> str:
    """How often the object runs (configured, else learned), when its next run is due, how long it takes."""
    facts = []
    configured = obj.ref.expected_every
    interval = configured if configured is not None else obj.learned_interval_seconds
    if interval is not None:
        how = "expected" if configured is not None else "usually"
        facts.append(f"{how} every {format_duration(interval)}")
        created = obj.task.creation_time if obj.task is not None else None
        if created is not None:
            facts.append(f"next run expected by {when(created + interval, now)}")
    if obj.usual_duration_seconds is not None:
        facts.append(f"usually takes {format_duration(obj.usual_duration_seconds)}")
    return f'<span class="small rhythm">{", ".join(facts)}</span>' if facts else ""


def _steps_cell(obj: ObjectStatus) -> str:
    task, ref = obj.task, obj.ref
    result = task.result if task is not None else None
    # The steps belong to the newest task when it has a result, otherwise to an earlier run.
    task_id = task.task_id if task is not None and result is not None else "{taskId}"
    prefix = f"/2/0/workspaces/{ref.workspace_id}/models/{ref.model_id}"
    parts: list[str] = []
    failed = [step for step in obj.steps if not step.successful]
    if failed:
        if result is None:
            parts.append('<span class="muted small">previous run:</span>')
        items = []
        for step in failed:
            item = (
                f'<span class="step">{escape(step.step_name)}</span> '
                f'<code class="id">{escape(step.step_id)}</code>'
            )
            if step.failure_dump_available:
                path = f"{prefix}/processes/{ref.object_id}/tasks/{task_id}/dumps/{step.step_id}"
                item += f"<br>{_dump(path)}"
            else:
                item += ' <span class="muted small">no dump</span>'
            items.append(f"<li>{item}</li>")
        parts.append(f'<ul class="steps">{"".join(items)}</ul>')
    elif ref.object_type is ObjectType.IMPORT and result is not None and result.failure_dump_available:
        path = f"{prefix}/imports/{ref.object_id}/tasks/{task_id}/dump"
        parts.append(_dump(path))
    elif result is not None and not result.successful and not obj.steps:
        parts.append('<span class="muted small">no dump</span>')
    rows = obj.row_counts
    if rows is not None and (rows.failed or rows.ignored or rows.warnings):
        parts.append(
            f'<span class="small">rows: {rows.total} total, {rows.success} ok, {rows.failed} failed, '
            f"{rows.ignored} ignored, {rows.warnings} warnings</span>"
        )
    return "<br>".join(parts) if parts else '<span class="muted">—</span>'


def _dump(path: str) -> str:
    return f'<span class="small">dump available: <code class="dump">GET {escape(path)}</code></span>'


def _poll_cell(obj: ObjectStatus, health: str, now: float, links: Links) -> str:
    parts = [
        badge(health, health.upper())
        + f' <span class="small">polled {when(obj.last_poll_time, now, "not yet")}</span>'
    ]
    error = obj.last_error
    if error is not None:
        message = error.message if len(error.message) <= _MAX_MESSAGE else error.message[:_MAX_MESSAGE] + "…"
        recovered = obj.up and (obj.last_poll_time is None or error.time <= obj.last_poll_time)
        label = "earlier error (recovered)" if recovered else "last error"
        parts.append(
            f'<span class="{"muted" if recovered else "error"} small">{label}: <b>{escape(error.reason)}</b> '
            f"{escape(message)}<br>at {when(error.time, now)}</span>"
        )
    if health == "down":
        reason = error.reason if error is not None else ""
        alert = {"auth": "AnaplanAuthFailing", "rate_limited": "AnaplanRateLimited"}.get(
            reason, "AnaplanTargetDown"
        )
        parts.append(links.alert(alert))
    return "<br>".join(parts)
