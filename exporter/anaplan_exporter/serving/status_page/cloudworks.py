"""The status page's CloudWorks parts: the failures among the page's problems, and a table of every watched
integration and flow.

The problems box sits under the discovery errors, like a failed task sorts to the top of the object table: it
names each integration or flow whose latest run failed or partly succeeded, with its error code and message,
and links to its row. The table comes after the object table, problems first: the schedule in words (its time
zone, active or not, the next run), the latest run (result, trigger, start and end, error code and message),
and for a failed or partial run the run errors' text read from the run-error endpoint (which names the Anaplan
task, or says there was none: a connector failure). A flow's row shows the result of each step of its latest
run, naming the failed step and the skipped ones. Every string from CloudWorks goes through ``escape``; the
poller has already scrubbed secrets and SAS signatures from it.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping

from ...anaplan.cloudworks_models import Schedule, ScheduleType
from ...snapshot import CloudWorksStatus, CloudWorksView, ObjectRef, Snapshot
from ..render_errors import problem
from .pieces import Links, badge, escape, format_duration, when

log = logging.getLogger(__name__)

# A run's result (``CloudWorksStatus.latest_result``) -> row class, badge text and place in the sort.
_ROW_CLASS = {
    "failure": "failed",
    "partial": "partial",
    "running": "running",
    "cancelled": "cancelled",
    "unknown": "unknown",
    "": "none",
    "success": "succeeded",
}
_LABEL = {
    "failure": "FAILED",
    "partial": "PARTIAL",
    "running": "RUNNING",
    "cancelled": "CANCELLED",
    "unknown": "UNKNOWN",
    "": "NO RUNS",
    "success": "OK",
}
_RANK = {result: rank for rank, result in enumerate(_ROW_CLASS)}
PROBLEMS = ("failure", "partial")
"""Latest results that put an integration or flow among the page's problems."""
_STEP_WORDS = {
    "success": "succeeded",
    "partial": "partly succeeded",
    "failure": "failed",
    "cancelled": "cancelled",
    "skipped": "skipped",
    "running": "running",
}
_MAX_MESSAGE = 500
_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}


def failed_count(view: CloudWorksView) -> int:
    """Integrations and flows whose latest run failed."""
    return sum(1 for item in view.items if item.latest_result == "failure")


def problems(view: CloudWorksView, now: float, links: Links) -> str:
    """The box of failed and partly succeeded latest runs, under the discovery errors; '' when none."""
    if not view.enabled:
        return ""
    found = sorted(
        (item for item in view.items if item.latest_result in PROBLEMS),
        key=lambda item: (_RANK.get(item.latest_result, 9), item.name.casefold()),
    )
    if not found:
        return ""
    failed = any(item.latest_result == "failure" for item in found)
    items = "".join(f"<li>{_problem(item, now, links)}</li>" for item in found)
    return (
        f'<section class="box {"alert" if failed else "warning"}" id="cloudworks-problems">'
        f"<b>CloudWorks problems ({len(found)})</b>: integrations and flows whose latest run failed or "
        f'partly succeeded (<a href="#cloudworks">all of them</a>).<ul>{items}</ul></section>\n'
    )


def _problem(item: CloudWorksStatus, now: float, links: Links) -> str:
    run = item.latest_run
    what = "failed" if item.latest_result == "failure" else "partly succeeded"
    ended = f" {when(run.end, now)}" if run is not None else ""
    parts = [
        f'<a href="#{_anchor(item)}"><b>{escape(item.name)}</b></a> <span class="muted">{item.kind}</span> '
        f"{badge(_ROW_CLASS[item.latest_result], what)}{ended}"
    ]
    if run is not None and run.execution_error_code is not None:
        parts.append(f"error code {run.execution_error_code}")
    if run is not None and run.message:
        parts.append(f'<span class="error">{escape(_cut(run.message))}</span>')
    if item.kind == "flow":
        parts.append(_flow_summary(item))
    elif _errors_of_latest(item):
        first = item.run_errors[0]
        where = (
            f"Anaplan task <code>{escape(first.task_id)}</code>"
            if first.task_id
            else "no Anaplan task: failed before Anaplan ran it"
        )
        parts.append(f'<span class="small">{where}</span>')
    parts.append(_runbook(item, links))
    return " · ".join(part for part in parts if part)


def section(snapshot: Snapshot, now: float, links: Links) -> str:
    """The table of every watched integration and flow, problems first; one line when CloudWorks is off or
    refused (the 403's one line)."""
    view = snapshot.cloudworks
    title = '<h2 id="cloudworks">CloudWorks integrations and flows</h2>'
    if view.forbidden:
        return (
            f'{title}<p class="note" id="cloudworks-note">{escape(view.forbidden_message)} '
            f"{links.alert('AnaplanCloudWorksForbidden')}</p>\n"
        )
    if not view.enabled:
        return ""
    if not view.items:
        return f'{title}<p id="cloudworks-note">No integration or flow watched.</p>\n'
    objects = {ref.object_id: ref for ref in (obj.ref for obj in snapshot.objects)}
    items = sorted(view.items, key=_sort_key)
    rows = "".join(_row(item, objects, now, links) for item in items)
    integrations = sum(1 for item in items if item.kind == "integration")
    flows = len(items) - integrations
    return (
        f'{title}<p id="cloudworks-note">{integrations} integration{"s" * (integrations != 1)}, {flows} '
        f"flow{'s' * (flows != 1)}, problems first.</p>\n"
        '<table id="cloudworks-items"><thead><tr><th style="width:17%">Integration or flow</th>'
        '<th style="width:16%">Schedule</th><th style="width:22%">Latest run</th>'
        '<th style="width:10%">Last success</th><th style="width:10%">Last failure</th>'
        '<th style="width:25%">Run errors and steps</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>\n"
    )


def _sort_key(item: CloudWorksStatus) -> tuple[int, int, str]:
    return (_RANK.get(item.latest_result, len(_RANK)), item.kind != "integration", item.name.casefold())


def _row(item: CloudWorksStatus, objects: Mapping[str, ObjectRef], now: float, links: Links) -> str:
    try:
        cells = (
            _name_cell(item, objects),
            _schedule_cell(item, now),
            _run_cell(item, now, links),
            when(item.last_success_time, now),
            when(item.last_failure_time, now),
            _errors_cell(item),
        )
    except Exception as exc:  # one item's data must not break the page: say so in its row
        log.warning("status page: CloudWorks %s %s could not be shown: %s", item.kind, item.id, problem(exc))
        return (
            f'<tr class="unknown unreadable" id="{_anchor(item)}"><td colspan="6"><b class="name">'
            f"{escape(item.name)}</b> ({item.kind} {escape(item.id)}): this row could not be shown "
            f'<span class="small muted">({escape(problem(exc))}; see the exporter\'s log)</span></td></tr>'
        )
    status = _ROW_CLASS.get(item.latest_result, "unknown")
    tds = "".join(f"<td>{cell}</td>" for cell in cells)
    return f'<tr class="{status}" id="{_anchor(item)}">{tds}</tr>'


def _anchor(item: CloudWorksStatus) -> str:
    return escape(f"cw-{item.id}")


def _name_cell(item: CloudWorksStatus, objects: Mapping[str, ObjectRef]) -> str:
    kind = "flow" if item.kind == "flow" else f"integration · {escape(item.type or 'type unknown')}"
    parts = [
        f'<b class="name">{escape(item.name)}</b> <span class="muted">{kind} '
        f'<code class="id">{escape(item.id)}</code></span>'
    ]
    runs = [_object_name(object_id, objects) for object_id in item.object_ids]
    if runs:
        parts.append(f'<span class="small">runs {", ".join(runs)}</span>')
    if item.model_id:
        parts.append(
            f'<span class="small muted">workspace <code class="id">{escape(item.workspace_id)}</code> model '
            f'<code class="id">{escape(item.model_id)}</code></span>'
        )
    return "<br>".join(parts)


def _object_name(object_id: str, objects: Mapping[str, ObjectRef]) -> str:
    ref = objects.get(object_id)
    code = f'<code class="id">{escape(object_id)}</code>'
    if ref is None:
        return code
    return f"{escape(ref.object_name)} ({ref.object_type.value} {code})"


def _schedule_cell(item: CloudWorksStatus, now: float) -> str:
    schedule = item.schedule
    if schedule is None:
        return '<span class="muted">no schedule</span>'
    state = badge("up", "active") if schedule.active else badge("none", "inactive")
    parts = [f"{state} {escape(describe_schedule(schedule))}"]
    if schedule.name:
        parts.append(f'<span class="small muted">&ldquo;{escape(schedule.name)}&rdquo;</span>')
    if item.next_run_time is not None:
        parts.append(f'<span class="small">next run {when(item.next_run_time, now)}</span>')
    elif schedule.active:
        parts.append('<span class="small muted">no next run</span>')
    return "<br>".join(parts)


def describe_schedule(schedule: Schedule) -> str:
    """In words, with its time zone: ``daily at 02:00 (Europe/London)``, ``weekly on Mon, Thu at 06:30
    (Europe/Paris)``, ``every 2 h from 08:00 to 18:00 on Mon-Fri (UTC)``, ``monthly on the last Fri at 22:00
    (America/New_York)``; dates it starts and ends on follow."""
    kind = schedule.type
    at = f" at {_clock(schedule.time)}"
    days = _days(schedule.days_of_week)
    if kind is ScheduleType.HOURLY:
        every = schedule.repeat_every or 1
        text = f"every {every} h" if every != 1 else "hourly"
        text += f" from {_clock(schedule.from_time)} to {_clock(schedule.to_time)}"
        text += f" on {days}" if days else ""
    elif kind is ScheduleType.DAILY:
        text = "daily" + at + (f" on {days}" if days else "")
    elif kind is ScheduleType.WEEKLY:
        text = f"weekly on {days or 'no day'}" + at
    elif kind is ScheduleType.MONTHLY_SPECIFIC_DAY:
        text = f"monthly on day {schedule.day_of_month if schedule.day_of_month is not None else '?'}" + at
    elif kind is ScheduleType.MONTHLY_RELATIVE_WEEKDAY:
        nth = _ORDINALS.get(schedule.repeat_every or 0, "?")
        day = schedule.day_of_week
        weekday = _DAYS[day] if day is not None and 0 <= day <= 6 else "?"
        text = f"monthly on the {nth} {weekday}" + at
    else:
        text = f"{schedule.raw_type or 'unknown type'}" + at
    text += f" ({schedule.timezone})" if schedule.timezone else " (no time zone)"
    if schedule.start_date is not None:
        text += f", from {schedule.start_date.isoformat()}"
    if schedule.end_date is not None:
        text += f", until {schedule.end_date.isoformat()}"
    return text


def _clock(value: datetime.time | None) -> str:
    return "?" if value is None else value.strftime("%H:%M")


def _days(days: tuple[int, ...]) -> str:
    """``Mon-Fri`` for the working week, else the days named in CloudWorks' order (0 = Sunday)."""
    unique = sorted({day for day in days if 0 <= day <= 6}, key=lambda day: (day + 6) % 7)
    if unique == [1, 2, 3, 4, 5]:
        return "Mon-Fri"
    return ", ".join(_DAYS[day] for day in unique)


def _run_cell(item: CloudWorksStatus, now: float, links: Links) -> str:
    run = item.latest_run
    result = item.latest_result
    if run is None:
        return badge("none", _LABEL[""])
    parts = [badge(_ROW_CLASS.get(result, "unknown"), _LABEL.get(result, "UNKNOWN"))]
    trigger = f"{escape(run.trigger_source or 'unknown')} run"
    if run.triggered_by:
        trigger += f" by {escape(run.triggered_by)}"
    parts[0] += f' <span class="small">{trigger}</span>'
    times = []
    if run.start is not None:
        times.append(f"started {when(run.start, now)}")
    if run.end is not None:
        times.append(f"ended {when(run.end, now)}")
    if run.start is not None and run.end is not None:
        times.append(f"took {escape(format_duration(run.end - run.start))}")
    elif run.start is not None:
        times.append(f"running for {escape(format_duration(now - run.start))}")
    if times:
        parts.append(f'<span class="small">{"<br>".join(times)}</span>')
    if run.execution_error_code is not None:
        parts.append(f'<span class="small">error code <b>{run.execution_error_code}</b></span>')
    if run.message:
        css = "error" if result == "failure" else "warn" if result == "partial" else "muted"
        parts.append(f'<span class="{css} small">{escape(_cut(run.message))}</span>')
    if item.run_id:
        parts.append(f'<span class="small muted">run <code>{escape(item.run_id)}</code></span>')
    if result in PROBLEMS:
        parts.append(_runbook(item, links))
    return "<br>".join(parts)


def _runbook(item: CloudWorksStatus, links: Links) -> str:
    if item.latest_result == "partial":
        return links.alert("AnaplanCloudWorksRunPartial")
    return links.alert("AnaplanCloudWorksFlowFailed" if item.kind == "flow" else "AnaplanCloudWorksRunFailed")


def _errors_of_latest(item: CloudWorksStatus) -> bool:
    """The run errors kept are those of the latest run (not of an earlier failure)."""
    run = item.latest_run
    return (
        bool(item.run_errors)
        and run is not None
        and run.start is not None
        and item.run_errors_start is not None
        and abs(run.start - item.run_errors_start) < 1.0
    )


def _errors_cell(item: CloudWorksStatus) -> str:
    if item.kind == "flow":
        return _steps(item) or '<span class="muted">—</span>'
    if not _errors_of_latest(item):
        if item.latest_result in PROBLEMS:
            return '<span class="muted small">run errors not read yet</span>'
        return '<span class="muted">—</span>'
    entries = []
    for error in item.run_errors:
        action = escape(error.action_name) or '<span class="muted">action</span>'
        if error.action_id:
            action += f' <code class="id">{escape(error.action_id)}</code>'
        task = (
            f'<span class="small">task <code>{escape(error.task_id)}</code></span>'
            if error.task_id
            else '<span class="small warn">no Anaplan task (failed before Anaplan ran it)</span>'
        )
        message = (
            f'<br><span class="error small">{escape(_cut(error.message))}</span>' if error.message else ""
        )
        entries.append(f'<li><span class="step">{action}</span> {task}{message}</li>')
    return f'<span class="small muted">run errors:</span><ul class="steps">{"".join(entries)}</ul>'


def _steps(item: CloudWorksStatus) -> str:
    """Each step's result, then which step failed and which were skipped."""
    if not item.steps:
        return ""
    entries = "".join(
        f'<li><span class="step">{step.position}. {escape(step.name or step.integration_id)}</span> '
        f"{badge(_ROW_CLASS.get(step.result, 'none'), _STEP_WORDS.get(step.result, step.result))}</li>"
        for step in item.steps
    )
    summary = _flow_summary(item)
    return f'<ol class="steps">{entries}</ol>' + (f'<span class="small">{summary}</span>' if summary else "")


def _flow_summary(item: CloudWorksStatus) -> str:
    """``failed at step 2 (Revenue to Azure Blob); skipped: 3 (Month-end close)``."""
    failed = [step for step in item.steps if step.result == "failure"]
    skipped = [step for step in item.steps if step.result == "skipped"]
    parts = []
    if failed:
        named = ", ".join(f"{s.position} ({escape(s.name or s.integration_id)})" for s in failed)
        parts.append(f"failed at step {named}")
    if skipped:
        named = ", ".join(f"{s.position} ({escape(s.name or s.integration_id)})" for s in skipped)
        parts.append(f"skipped: {named}")
    return "; ".join(parts)


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"
