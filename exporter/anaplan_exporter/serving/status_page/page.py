"""The landing page ``/``: a status page for an incident, rendered on the server from one snapshot.

``render_status_page(snapshot, info, query)`` reads nothing but its arguments (the clock comes in as
``info.now``), so tests feed it hand-made snapshots. Every string from Anaplan, the configuration or the query
string goes through ``escape``. Problems (down, failed, then overdue as AnaplanTaskOverdue decides it) sort
first and at most ``info.max_rows`` rows are drawn, so a 10,000-object tenant still renders in a few
milliseconds; the filters (a plain GET form) narrow the rest.
Links are relative (``metrics``, ``-/healthy``) so the page also works behind a proxy that adds a path prefix.

The page is its sections (head, header, summary counts, the exporter's own facts, discovery errors, the
filter form, the table's intro and frame, and the footer with Anaplan's failure-dump endpoints) and one row
per object, whose class is its row status (``outcomes``), which the stylesheet colours. Times are written in
ISO 8601 UTC with their relative age (``3 h ago``), durations as ``12 min 3 s``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ...anaplan.auth_backoff import AuthRefusal
from ...anaplan.lookup import Absence
from ...anaplan.models import ObjectType, iso_time, readable_time
from ...calendar_rhythm import describe, slot_after_run
from ...snapshot import CONFIGURED_OFF, IN_USE, CloudWorksView, ObjectStatus, Snapshot, StateFileStatus
from ..render_errors import describe_object, problem
from . import cloudworks
from .filters import DEFAULT_REFRESH, STATE_FILTERS, Filters, in_state, matches
from .outcomes import (
    CANCELLED,
    DOWN,
    FAILED,
    LABEL,
    NONE,
    OVERDUE,
    RANK,
    RUNNING,
    UNKNOWN,
    Overdue,
    overdue,
    poll_health,
    row_status,
    task_outcome,
)
from .pieces import Links, badge, day_and_time, escape, format_duration, relative_time, time_of_day, when

log = logging.getLogger(__name__)

DOCS_URL = "https://github.com/anaplan-exporter/anaplan-exporter/blob/main/"
"""Where the README and docs/ are read. The runbook is not: the exporter serves it itself (``runbook``)."""
MAX_ROWS = 500
STATE_ALERT = "AnaplanExporterStateNotSaved"


@dataclass(frozen=True)
class PageInfo:
    """What the page shows besides the snapshot: the exporter's own facts and the clock."""

    version: str
    now: float
    telemetry_path: str = "/metrics"
    reload_successful: bool | None = None
    """Outcome of the last configuration load or reload; None when unknown (``--once``, tests)."""
    reload_time: float | None = None
    reload_success_time: float | None = None
    auth_refusal: AuthRefusal | None = None
    """The refused login that holds every login back; None while logins are allowed (or unknown)."""
    docs_url: str = DOCS_URL
    max_rows: int = MAX_ROWS
    started: float | None = None
    """When the exporter's process started (``process_start_time_seconds``): AnaplanTaskOverdue counts an
    object with no success on record from then. None when unknown (such objects are then not overdue by an
    interval)."""


OnError = Callable[[ObjectStatus, Exception], None]
"""Told of each object whose row could not be drawn (it is shown as unreadable)."""

_SortKey = tuple[int, str, str, str, str]
_CARDS = ((DOWN, "down"), (FAILED, "failed"), (OVERDUE, "overdue"), (RUNNING, "running"))
"""The summary's cards: a state filter and its label; each counts the objects its filter shows."""


def render_status_page(
    snapshot: Snapshot, info: PageInfo, query: str = "", on_error: OnError | None = None
) -> str:
    """The whole HTML page for ``snapshot`` with the filters of ``query`` (a raw query string).

    One object's data never breaks the page: an object that cannot be classified or drawn gets a one-line
    "unreadable" row (and is reported to ``on_error``), a section that fails a one-line note.
    """
    filters, notes = Filters.parse(query)
    links = Links(info.docs_url)
    now = info.now
    classes: dict[tuple[str, str, bool], int] = {}  # objects by (outcome, health, overdue), for the cards
    matching: list[tuple[_SortKey, ObjectStatus, str, str, Overdue | None]] = []
    for obj in snapshot.objects:
        key, outcome, health, late, keep = _classify(obj, filters, now, info.started)
        kind = (outcome, health, late is not None)
        classes[kind] = classes.get(kind, 0) + 1
        if keep:
            matching.append((key, obj, outcome, health, late))
    counts = {
        state: sum(count for kind, count in classes.items() if in_state(state, *kind)) for state, _ in _CARDS
    }
    matching.sort(key=lambda item: item[0])
    shown = matching[: max(0, info.max_rows)]
    rows = "".join(
        _row(obj, outcome, health, late, now, links, on_error) for _, obj, outcome, health, late in shown
    )
    parts = [
        head(filters),
        _section("header", lambda: header(snapshot, info, filters, links)),
        _section("summary", lambda: summary(counts, len(snapshot.objects), filters, snapshot.cloudworks)),
        _section("exporter facts", lambda: exporter_facts(snapshot, info, links)),
        _section("discovery errors", lambda: discovery(snapshot, links)),
        _section("CloudWorks problems", lambda: cloudworks.problems(snapshot.cloudworks, now, links)),
        _section("filter form", lambda: filter_form(snapshot, filters, notes)),
        table_intro(len(shown), len(matching), len(snapshot.objects), filters),
        table(rows) if shown else "",
        _section("CloudWorks table", lambda: cloudworks.section(snapshot, now, links)),
        footer(info),
    ]
    return "".join(parts)


def _classify(
    obj: ObjectStatus, filters: Filters, now: float, started: float | None
) -> tuple[_SortKey, str, str, Overdue | None, bool]:
    """Sort key, outcome, health, overdue reason and filter match of ``obj``; unknown (and shown) when its
    data is broken."""
    try:
        outcome, health, late = task_outcome(obj), poll_health(obj), overdue(obj, now, started)
        status = row_status(outcome, health, late)
        ref = obj.ref
        key = (
            RANK[status],
            ref.workspace_name.casefold(),
            ref.model_name.casefold(),
            ref.object_type.value,
            ref.object_name.casefold(),
        )
        return key, outcome, health, late, matches(obj, outcome, health, late is not None, filters)
    except Exception:  # drawn as an unreadable row, which reports it
        return (RANK[UNKNOWN], "", "", "", ""), UNKNOWN, "up", None, True


def _row(
    obj: ObjectStatus,
    outcome: str,
    health: str,
    late: Overdue | None,
    now: float,
    links: Links,
    on_error: OnError | None,
) -> str:
    try:
        return row(obj, outcome, health, now, links, late)
    except Exception as exc:  # one object's data must not break the page: say so in its row
        if on_error is not None:
            on_error(obj, exc)
        return unreadable_row(obj, exc)


def _section(name: str, build: Callable[[], str]) -> str:
    try:
        return build()
    except Exception as exc:  # the rest of the page is still worth showing
        log.warning("status page: the %s could not be shown: %s", name, problem(exc))
        return f'<p class="note">The {name} could not be shown ({escape(problem(exc))}).</p>\n'


_MAX_CHOICES = 200
_TOKEN_WARNING = 300.0

_API_PREFIX = "/2/0/workspaces/{workspaceId}/models/{modelId}"
DUMP_PATTERNS = (
    ("import", _API_PREFIX + "/imports/{importId}/tasks/{taskId}/dump"),
    ("process step", _API_PREFIX + "/processes/{processId}/tasks/{taskId}/dumps/{objectId}"),
)
"""Anaplan's failure-dump endpoints (GET; add ``/chunks`` and ``/chunks/{n}`` for large files)."""


# --- sections ---


def head(filters: Filters) -> str:
    refresh = f'<meta http-equiv="refresh" content="{filters.refresh}">' if filters.refresh else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>Anaplan exporter status</title><style>{STYLESHEET}</style></head><body>\n"
    )


def header(snapshot: Snapshot, info: PageInfo, filters: Filters, links: Links) -> str:
    metrics = info.telemetry_path.lstrip("/") or "metrics"
    if filters.refresh:
        refresh = (
            f"refreshes every {filters.refresh} s · "
            f'<a href="{escape(filters.href(refresh=0))}">stop auto-refresh</a>'
        )
    else:
        refresh = f'auto-refresh off · <a href="{escape(filters.href(refresh=""))}">turn it on</a>'
    return (
        "<header><h1>Anaplan exporter status</h1>"
        f'<p class="muted">Generated {escape(iso_time(info.now))} · {refresh}</p>'
        f'<nav><a href="{escape(metrics)}">Metrics</a><a href="-/healthy">Health</a>'
        f'<a href="-/ready">Readiness</a><a href="{escape(links.docs)}README.md">Docs</a>'
        f'<a href="{escape(links.docs)}docs/metrics.md">Metrics reference</a>'
        f'<a href="{escape(links.runbook)}">Runbook</a>'
        f'<a href="{escape(links.docs)}docs/configuration.md">Configuration</a></nav></header>\n'
    )


def summary(counts: Mapping[str, int], total: int, filters: Filters, view: CloudWorksView) -> str:
    cards = []
    for kind, label, state in (*((state, label, state) for state, label in _CARDS), ("total", "watched", "")):
        count = total if kind == "total" else counts[kind]
        zero = " zero" if count == 0 and kind != "total" else ""
        href = filters.href(state=state, workspace="", model="", type="", name="")
        cards.append(
            f'<a class="{kind}{zero}" id="count-{kind}" href="{escape(href)}"><b>{count}</b>{label}</a>'
        )
    if view.enabled:
        failed = cloudworks.failed_count(view)
        zero = " zero" if failed == 0 else ""
        cards.append(
            f'<a class="failed{zero}" id="count-cloudworks-failed" href="#cloudworks"><b>{failed}</b>'
            "CloudWorks failed</a>"
        )
    return f'<section class="summary">{"".join(cards)}</section>\n'


def exporter_facts(snapshot: Snapshot, info: PageInfo, links: Links) -> str:
    now = info.now
    ready = (
        badge("up", "ready")
        if snapshot.ready
        else badge("pending", "not ready") + " waiting for the first full poll cycle"
    )
    unconfirmed = sum(1 for obj in snapshot.objects if obj.absence is not None)
    if snapshot.up:
        cycle = badge("up", "up")
        if unconfirmed:  # anaplan_up leaves them to their own series and alert
            cycle += (
                f' <span class="warn">{unconfirmed} object{"s" if unconfirmed > 1 else ""} not confirmed by '
                f"Anaplan</span> {links.alert('AnaplanTargetNotFound')}"
            )
    elif snapshot.ready:
        cycle = badge("down", "errors") + " " + links.alert("AnaplanPollStale")
    else:
        cycle = badge("pending", "pending")
    cycle += f" last fully successful: {when(snapshot.last_success_time, now, 'not yet')}"
    if snapshot.poll_duration_seconds is not None:
        took = format_duration(snapshot.poll_duration_seconds)
        every = format_duration(snapshot.poll_interval_seconds)
        cycle += f' <span class="muted">(took {escape(took)}, every {escape(every)})</span>'
    oldest = (
        escape(format_duration(snapshot.oldest_poll_age_seconds))
        if snapshot.oldest_poll_age_seconds is not None
        else '<span class="muted">n/a</span>'
    )
    budget = (
        f"{snapshot.budget_used_ratio * 100:.0f} %"
        if snapshot.budget_used_ratio is not None
        else '<span class="muted">n/a</span>'
    )
    if snapshot.token_expires_at is None:
        token = '<span class="muted">no token yet</span>'
    else:
        token = when(snapshot.token_expires_at, now)
        if snapshot.token_expires_at - now < _TOKEN_WARNING:
            token = f'<span class="warn">{token}</span>'
    if info.reload_successful is None:
        reload = '<span class="muted">n/a</span>'
    elif info.reload_successful:
        reload = badge("up", "loaded") + " " + when(info.reload_time, now)
    else:
        reload = (
            badge("failed", "refused")
            + f" {when(info.reload_time, now)}; running the configuration loaded "
            + f"{when(info.reload_success_time, now)} {links.alert('AnaplanExporterConfigReloadFailed')}"
        )
    facts = (
        ("Version", escape(info.version)),
        ("Authentication", _authentication(info, links)),
        ("Ready", ready),
        ("Poll cycle", cycle),
        ("Oldest poll", oldest),
        ("Request budget used", budget),
        ("Token expires", token),
        ("Last config reload", reload),
        ("Watched objects", str(len(snapshot.objects))),
        ("CloudWorks", _cloudworks(snapshot.cloudworks, now)),
        ("State file", _state_file(snapshot.state_file, now, links)),
    )
    cells = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return f'<section class="box" id="exporter"><dl class="facts">{cells}</dl></section>\n'


def _authentication(info: PageInfo, links: Links) -> str:
    """``authentication refused, next attempt at 14:05:00 UTC (in 4 min)`` while logins are held back."""
    refusal = info.auth_refusal
    if refusal is None:
        return '<span class="muted">no refusal</span>'
    at = time_of_day(refusal.next_attempt_at)
    due = relative_time(refusal.next_attempt_at, info.now) if refusal.next_attempt_at > info.now else "now"
    return (
        badge("failed", "refused")
        + f" authentication refused, next attempt at {escape(at)} ({escape(due)}); "
        + f"refused {refusal.refusals} time{'s' if refusal.refusals != 1 else ''} in a row since "
        + f"{when(refusal.since, info.now)}: "
        + f'<span class="error">{escape(refusal.message)}</span> {links.alert("AnaplanAuthFailing")}'
    )


def _state_file(state: StateFileStatus | None, now: float, links: Links) -> str:
    """The file the state is kept in and when it was last saved, or why the state is kept in memory only."""
    if state is None:
        return '<span class="muted">n/a</span>'
    alert = links.alert(STATE_ALERT)
    if not state.kept:
        if state.memory_only_reason == CONFIGURED_OFF:
            return '<span class="muted">none: kept in memory only (state.path is "")</span>'
        where = f" {escape(state.path)}" if state.path else ""
        fix = (
            "give each exporter a file of its own with state.path"
            if state.memory_only_reason == IN_USE
            else "set state.path to a writable file"
        )
        return (
            badge("down", "memory only")
            + f"{where}: {escape(state.detail)}; a restart forgets what was counted: {fix} {alert}"
        )
    saved = when(state.last_save_time, now, "not yet (saved once something changes)")
    line = f"{escape(state.path)}; last saved {saved}"
    if state.last_error:
        failures = f"{state.save_failures} failed save{'s' * (state.save_failures != 1)}"
        return (
            badge("failed", "not saving")
            + f" {line}; {failures}, the latest: "
            + f'<span class="error">{escape(state.last_error)}</span> {alert}'
        )
    return badge("up", "saved") + f" {line}"


def _cloudworks(view: CloudWorksView, now: float) -> str:
    """One line: off, refused (the 403's one line), failing, or how many integrations and flows."""
    if view.forbidden:
        return (
            badge("failed" if view.required else "pending", "forbidden")
            + f" {escape(view.forbidden_message)}"
        )
    if view.hints:
        return '<span class="muted">shown by replica 0; read here to poll linked objects at once</span>'
    if not view.enabled:
        return '<span class="muted">not read</span>'
    integrations = sum(1 for item in view.items if item.kind == "integration")
    flows = len(view.items) - integrations
    watched = f"{integrations} integration{'s' * (integrations != 1)}, {flows} flow{'s' * (flows != 1)}"
    read = when(view.last_read_time, now, "not yet")
    if not view.up:
        return (
            badge("down", "errors")
            + f" {watched}; lists last read {read}: "
            + (f'<span class="error">{escape(view.last_error)}</span>')
        )
    unmatched = (
        f'; <span class="warn">no match for {escape(", ".join(view.unmatched))}</span>'
        if view.unmatched
        else ""
    )
    return badge("up", "up") + f" {watched}; lists read {read}{unmatched}"


def discovery(snapshot: Snapshot, links: Links) -> str:
    errors = snapshot.discovery_errors
    if not errors:
        return '<section class="box" id="discovery">Discovery: no errors.</section>\n'
    items = "".join(f"<li>{escape(error)}</li>" for error in errors)
    return (
        f'<section class="box alert" id="discovery"><b>Discovery errors ({len(errors)})</b>: targets '
        "that could not be resolved (authentication, connection, names or &quot;*&quot; that matched "
        "nothing, IDs Anaplan does not list, models with NO ACCESS). "
        f"<ul>{items}</ul>{links.alert('AnaplanAuthFailing')} · {links.alert('AnaplanTargetNotFound')} · "
        f"{links.alert('AnaplanTargetDown')}</section>\n"
    )


def _choices(values: Iterable[str]) -> str:
    unique = sorted(set(values), key=str.casefold)[:_MAX_CHOICES]
    return "".join(f'<option value="{escape(value)}">' for value in unique)


def filter_form(snapshot: Snapshot, filters: Filters, notes: list[str]) -> str:
    types = "".join(
        f'<option value="{t.value}"{" selected" if t.value == filters.type else ""}>{t.value}</option>'
        for t in ObjectType
    )
    states = "".join(
        f'<option value="{key}"{" selected" if key == filters.state else ""}>{escape(label)}</option>'
        for key, label in STATE_FILTERS.items()
    )
    hidden = (
        f'<input type="hidden" name="refresh" value="{filters.refresh}">'
        if filters.refresh != DEFAULT_REFRESH
        else ""
    )
    clear = filters.href(workspace="", model="", type="", state="", name="")
    note = "".join(f'<p class="note">{escape(text)}</p>' for text in notes)
    objects = snapshot.objects
    return (
        '<form class="filters" method="get" action="">'
        f'<label>Workspace<input name="workspace" list="workspaces" value="{escape(filters.workspace)}" '
        'placeholder="name or ID"></label>'
        f'<datalist id="workspaces">{_choices(o.ref.workspace_name for o in objects)}</datalist>'
        f'<label>Model<input name="model" list="models" value="{escape(filters.model)}" '
        'placeholder="name or ID"></label>'
        f'<datalist id="models">{_choices(o.ref.model_name for o in objects)}</datalist>'
        f'<label>Type<select name="type"><option value="">any</option>{types}</select></label>'
        f'<label>State<select name="state"><option value="">any</option>{states}</select></label>'
        f'<label>Name<input name="name" value="{escape(filters.name)}" placeholder="name or ID"></label>'
        f'{hidden}<button type="submit">Filter</button> <a href="{escape(clear)}">clear</a></form>{note}\n'
    )


def table_intro(shown: int, matching: int, total: int, filters: Filters) -> str:
    if total == 0:
        return '<p id="rows-note">No watched objects yet: see the discovery errors above, if any.</p>\n'
    if matching == 0:
        return f'<p id="rows-note">No object of {total} matches the filters.</p>\n'
    what = "matching objects" if filters.active else "objects"
    if shown < matching:
        return (
            f'<p id="rows-note" class="note">Showing {shown} of {matching} {what}, problems first; '
            "use the filters to see the rest.</p>\n"
        )
    return f'<p id="rows-note">{matching} {what}, problems first.</p>\n'


def table(rows: str) -> str:
    return (
        '<table id="objects"><thead><tr><th style="width:17%">Object</th>'
        '<th style="width:17%">Newest task</th>'
        '<th style="width:11%">Last success</th><th style="width:11%">Last failure</th>'
        '<th style="width:26%">Failed steps and dumps</th><th style="width:18%">Poll</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>\n"
    )


def footer(info: PageInfo) -> str:
    patterns = "; ".join(f"{kind}: <code>GET {escape(path)}</code>" for kind, path in DUMP_PATTERNS)
    return (
        f'<footer><p class="muted small">Failure dumps ({patterns}) are kept by Anaplan for 48 hours at most '
        "and only for the last run of the user who ran the import. Times are UTC. anaplan-exporter "
        f"{escape(info.version)}.</p></footer></body></html>\n"
    )


# --- a row per object ---

_MAX_MESSAGE = 500


def row(
    obj: ObjectStatus, outcome: str, health: str, now: float, links: Links, late: Overdue | None = None
) -> str:
    """The ``<tr>`` of ``obj``, already classified (``outcome``, ``health``, ``late``: why it is overdue),
    at the clock ``now``."""
    status = row_status(outcome, health, late)
    ref = obj.ref
    obj_cell = (
        f'<b class="name">{escape(ref.object_name)}</b> <span class="muted">{ref.object_type.value} '
        f'<code class="id">{escape(ref.object_id)}</code></span><br>'
        f'<span class="small" title="workspace {escape(ref.workspace_id)}, model {escape(ref.model_id)}">'
        f"{escape(ref.workspace_name)} / {escape(ref.model_name)}</span>"
    )
    cells = (
        obj_cell,
        _task_cell(obj, outcome, late, now, links),
        when(obj.last_success_time, now),
        when(obj.last_failure_time, now),
        _steps_cell(obj),
        _poll_cell(obj, health, now, links),
    )
    return f'<tr class="{status}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def unreadable_row(obj: ObjectStatus, exc: BaseException) -> str:
    """The row of an object whose data could not be drawn: who it is and what went wrong, on one line."""
    return (
        f'<tr class="{UNKNOWN} unreadable"><td colspan="6">'
        f'<b class="name">{escape(describe_object(obj))}</b>: '
        f'this row could not be shown <span class="small muted">({escape(problem(exc))}; see the '
        "exporter's log)</span></td></tr>"
    )


ABSENCE_LABEL = {Absence.NOT_FOUND: "NOT FOUND", Absence.NO_ACCESS: "NO ACCESS"}
ABSENCE_TEXT = {
    Absence.NOT_FOUND: (
        "Anaplan does not confirm this {kind}: it is not in the model's list of {kinds} (or its workspace or "
        "model is not listed, or its metadata answers 404). A wrong ID, a deleted object, or one hidden from "
        "this user; its empty task list proves nothing. Fix the ID and reload, or remove it."
    ),
    Absence.NO_ACCESS: (
        "The model is listed, but this user cannot read it: Anaplan's answer for NO ACCESS (404 on the "
        "model, an empty task list whatever runs). Give the exporter's user a role in the model."
    ),
}


def _absence(obj: ObjectStatus, links: Links) -> str:
    """What Anaplan does not confirm of ``obj`` and what to do, with its alert's runbook link."""
    absence = obj.absence
    if absence is None:
        return ""
    kind = obj.ref.object_type
    text = ABSENCE_TEXT[absence].format(kind=kind.value, kinds=kind.collection)
    return (
        f'{badge(DOWN, ABSENCE_LABEL[absence])} <span class="error small">{escape(text)}</span> '
        + links.alert("AnaplanTargetNotFound")
    )


def _task_cell(obj: ObjectStatus, outcome: str, late: Overdue | None, now: float, links: Links) -> str:
    task = obj.task
    if task is None:
        # not "never ran" for an absent object: Anaplan would not say if it ran
        absence = obj.absence
        first = badge(DOWN, ABSENCE_LABEL[absence]) if absence is not None else badge(NONE, LABEL[NONE])
        return first + (f"<br>{_overdue(obj, late, now, links)}" if late is not None else "")
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
    if late is not None:
        parts.append(_overdue(obj, late, now, links))
    if outcome == FAILED:
        parts.append(links.alert("AnaplanTaskFailed"))
    elif outcome == CANCELLED:
        if task.cancelled_by:
            parts.append(f'<span class="small">cancelled by {escape(task.cancelled_by)}</span>')
        parts.append(links.alert("AnaplanTaskCancelled"))
    return "<br>".join(parts)


def _overdue(obj: ObjectStatus, late: Overdue, now: float, links: Links) -> str:
    """Why the object is overdue, in the alert's terms: ``overdue: expected every 1 h`` (configured),
    ``overdue: usually every 1 h, last success 3 h ago`` (learned), ``overdue: a success was due at Mon 06:00
    UTC 27 h ago (usually Mon, Thu 06:00 UTC)`` (learned pattern); with the alert's runbook link."""
    if late.interval is not None:
        how = "expected" if late.configured else "usually"
        why = f"overdue: {how} every {escape(format_duration(late.interval))}"
        if not late.succeeded:
            started = now - (late.since_success or 0.0)
            why += f", no success since the exporter started {escape(relative_time(started, now))}"
        elif not late.configured and obj.last_success_time is not None:
            why += f", last success {escape(relative_time(obj.last_success_time, now))}"
    else:
        due = late.due if late.due is not None else now
        why = f"overdue: a success was due at {day_and_time(due, now)}"
        if late.pattern is not None:
            why += f" (usually {escape(describe(late.pattern))})"
    return f'<span class="warn">{why}</span> ' + links.alert("AnaplanTaskOverdue")


def _rhythm(obj: ObjectStatus, now: float) -> str:
    """How often the object runs (configured, else learned), when its next run is due, how long it takes."""
    facts = []
    configured = obj.ref.expected_every
    interval = configured if configured is not None else obj.learned_interval_seconds
    created = obj.task.creation_time if obj.task is not None else None
    if interval is not None:
        how = "expected" if configured is not None else "usually"
        facts.append(f"{how} every {format_duration(interval)}")
        if created is not None:
            facts.append(f"next run expected by {when(created + interval, now)}")
    elif obj.learned_pattern is not None:
        facts.append(f"usually {escape(describe(obj.learned_pattern))}")
        if created is not None and readable_time(created):  # a calendar has no slot after the year 9999
            facts.append(f"next run expected at {when(slot_after_run(obj.learned_pattern, created), now)}")
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
    if obj.absence is not None:
        parts.append(_absence(obj, links))
    error = obj.last_error
    if error is not None:
        message = error.message if len(error.message) <= _MAX_MESSAGE else error.message[:_MAX_MESSAGE] + "…"
        recovered = obj.up and (obj.last_poll_time is None or error.time <= obj.last_poll_time)
        label = "earlier error (recovered)" if recovered else "last error"
        parts.append(
            f'<span class="{"muted" if recovered else "error"} small">{label}: <b>{escape(error.reason)}</b> '
            f"{escape(message)}<br>at {when(error.time, now)}</span>"
        )
    if health == "down" and obj.absence is None:
        reason = error.reason if error is not None else ""
        alert = {"auth": "AnaplanAuthFailing", "rate_limited": "AnaplanRateLimited"}.get(
            reason, "AnaplanTargetDown"
        )
        parts.append(links.alert(alert))
    return "<br>".join(parts)


# --- the stylesheet ---

STYLESHEET = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2em 1.6em;color:#1d2330;
font-size:14px;background:#fafbfc}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .4em}
a{color:#1457b8}nav a{margin-right:1em}.muted,.rel{color:#6b7280}.rel{font-size:.92em}
time,.rel{white-space:nowrap}
.summary{display:flex;gap:.8em;margin:1em 0;flex-wrap:wrap}
.summary a{display:block;padding:.5em 1.1em;border-radius:6px;text-decoration:none;color:#fff;min-width:7em}
.summary b{display:block;font-size:1.8em;line-height:1.1}
.summary .down{background:#8b1a1a}.summary .failed{background:#d12d2d}.summary .running{background:#1f6fd1}
.summary .overdue{background:#b35c00}
.summary .total{background:#4b5563}.summary .zero{opacity:.45}
dl.facts{display:grid;grid-template-columns:max-content 1fr max-content 1fr;gap:.25em 1.2em;margin:0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.box{border:1px solid #d7dbe0;border-radius:6px;padding:.6em 1em;background:#fff;margin:.8em 0}
.box.alert{border-color:#d12d2d;background:#fff3f3}.box.warning{border-color:#c98a00;background:#fffaf0}
.box ul{margin:.3em 0;padding-left:1.4em}
form.filters{display:flex;gap:.8em;align-items:flex-end;flex-wrap:wrap}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:#4b5563}
form.filters input,form.filters select{font-size:1em;padding:.2em .3em;min-width:9em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{padding:.35em .5em;text-align:left;vertical-align:top;border-bottom:1px solid #e5e7eb}
th{background:#eef1f5;position:sticky;top:0}
tr.down td:first-child{border-left:5px solid #8b1a1a}tr.failed td:first-child{border-left:5px solid #d12d2d}
tr.running td:first-child{border-left:5px solid #1f6fd1}
tr.overdue td:first-child{border-left:5px solid #b35c00}
tr.cancelled td:first-child,tr.partial td:first-child{border-left:5px solid #c98a00}
tr.succeeded td:first-child{border-left:5px solid #2e8b57}
tr.none td:first-child,tr.unknown td:first-child{border-left:5px solid #9ca3af}
.badge{display:inline-block;padding:.05em .5em;border-radius:4px;font-size:.85em;font-weight:700;color:#fff}
.badge.down{background:#8b1a1a}.badge.failed{background:#d12d2d}.badge.running{background:#1f6fd1}
.badge.cancelled,.badge.partial{background:#c98a00}.badge.succeeded,.badge.up{background:#2e8b57}
.badge.none,.badge.unknown,.badge.pending{background:#9ca3af}
code{font-size:.9em;background:#f1f3f6;padding:0 .25em;border-radius:3px;word-break:break-all}
code.id{white-space:nowrap;word-break:normal}.small{font-size:.9em}.error{color:#8b1a1a;word-break:break-word}.warn{color:#9a5b00}
progress{width:8em;vertical-align:middle}ul.steps,ol.steps{margin:0;padding-left:1.1em}ol.steps{list-style:none;padding-left:0}
.note{color:#9a5b00;font-weight:600}
"""
