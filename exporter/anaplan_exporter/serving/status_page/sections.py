"""The page's sections, top to bottom, each a function that returns its HTML.

Head, header, summary counts, the exporter's own facts, discovery errors, the filter form, the table's intro
and frame (its rows come from ``cells``), and the footer with Anaplan's failure-dump endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ...anaplan.models import ObjectType, iso_time
from ...snapshot import Snapshot
from .filters import DEFAULT_REFRESH, STATE_FILTERS, Filters
from .markup import Links, badge, escape, when
from .outcomes import DOWN, FAILED, RUNNING
from .page_info import PageInfo
from .stylesheet import STYLESHEET
from .time_text import format_duration

_MAX_CHOICES = 200
_TOKEN_WARNING = 300.0

_API_PREFIX = "/2/0/workspaces/{workspaceId}/models/{modelId}"
DUMP_PATTERNS = (
    ("import", _API_PREFIX + "/imports/{importId}/tasks/{taskId}/dump"),
    ("process step", _API_PREFIX + "/processes/{processId}/tasks/{taskId}/dumps/{objectId}"),
)
"""Anaplan's failure-dump endpoints (GET; add ``/chunks`` and ``/chunks/{n}`` for large files)."""


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


def summary(counts: Mapping[str, int], total: int, filters: Filters) -> str:
    cards = []
    for kind, label, state in (
        (DOWN, "down", DOWN),
        (FAILED, "failed", FAILED),
        (RUNNING, "running", RUNNING),
        ("total", "watched", ""),
    ):
        count = total if kind == "total" else counts[kind]
        zero = " zero" if count == 0 and kind != "total" else ""
        href = filters.href(state=state, workspace="", model="", type="", name="")
        cards.append(
            f'<a class="{kind}{zero}" id="count-{kind}" href="{escape(href)}"><b>{count}</b>{label}</a>'
        )
    return f'<section class="summary">{"".join(cards)}</section>\n'


def exporter_facts(snapshot: Snapshot, info: PageInfo, links: Links) -> str:
    now = info.now
    ready = (
        badge("up", "ready")
        if snapshot.ready
        else badge("pending", "not ready") + " waiting for the first full poll cycle"
    )
    if snapshot.up:
        cycle = badge("up", "up")
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
        ("Ready", ready),
        ("Poll cycle", cycle),
        ("Oldest poll", oldest),
        ("Request budget used", budget),
        ("Token expires", token),
        ("Last config reload", reload),
        ("Watched objects", str(len(snapshot.objects))),
    )
    cells = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
    return f'<section class="box" id="exporter"><dl class="facts">{cells}</dl></section>\n'


def discovery(snapshot: Snapshot, links: Links) -> str:
    errors = snapshot.discovery_errors
    if not errors:
        return '<section class="box" id="discovery">Discovery: no errors.</section>\n'
    items = "".join(f"<li>{escape(error)}</li>" for error in errors)
    return (
        f'<section class="box alert" id="discovery"><b>Discovery errors ({len(errors)})</b>: targets '
        "that could not be resolved (authentication, connection, names or &quot;*&quot; that matched "
        f"nothing). <ul>{items}</ul>{links.alert('AnaplanAuthFailing')} · "
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
