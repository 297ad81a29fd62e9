"""The whole page: classify, count, filter and sort the snapshot's objects, then join the sections.

Problems sort first and at most ``info.max_rows`` rows are drawn, which bounds the cost of a large tenant.
One object's data never breaks the page: an object that cannot be classified or drawn gets a one-line
"unreadable" row (and is reported to ``on_error``), a section that fails a one-line note.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..render_errors import problem
from ..snapshot import ObjectStatus, Snapshot
from . import sections
from .cells import row, unreadable_row
from .filters import Filters, matches
from .markup import Links, escape
from .outcomes import DOWN, FAILED, RANK, UNKNOWN, poll_health, task_outcome
from .page_info import PageInfo

log = logging.getLogger(__name__)

OnError = Callable[[ObjectStatus, Exception], None]
"""Told of each object whose row could not be drawn (it is shown as unreadable)."""

_SortKey = tuple[int, str, str, str, str]


def render_status_page(
    snapshot: Snapshot, info: PageInfo, query: str = "", on_error: OnError | None = None
) -> str:
    """The whole HTML page for ``snapshot`` with the filters of ``query`` (a raw query string)."""
    filters, notes = Filters.parse(query)
    links = Links(info.docs_url)
    now = info.now
    counts = dict.fromkeys(RANK, 0)
    matching: list[tuple[_SortKey, ObjectStatus, str, str]] = []
    for obj in snapshot.objects:
        key, outcome, health, keep = _classify(obj, filters)
        status = DOWN if health == "down" else outcome
        counts[status] += 1
        if status == DOWN and outcome == FAILED:
            counts[FAILED] += 1
        if keep:
            matching.append((key, obj, outcome, health))
    matching.sort(key=lambda item: item[0])
    shown = matching[: max(0, info.max_rows)]
    rows = "".join(_row(obj, outcome, health, now, links, on_error) for _, obj, outcome, health in shown)
    parts = [
        sections.head(filters),
        _section("header", lambda: sections.header(snapshot, info, filters, links)),
        _section("summary", lambda: sections.summary(counts, len(snapshot.objects), filters)),
        _section("exporter facts", lambda: sections.exporter_facts(snapshot, info, links)),
        _section("discovery errors", lambda: sections.discovery(snapshot, links)),
        _section("filter form", lambda: sections.filter_form(snapshot, filters, notes)),
        sections.table_intro(len(shown), len(matching), len(snapshot.objects), filters),
        sections.table(rows) if shown else "",
        sections.footer(info),
    ]
    return "".join(parts)


def _classify(obj: ObjectStatus, filters: Filters) -> tuple[_SortKey, str, str, bool]:
    """Sort key, outcome, health and filter match of ``obj``; unknown (and shown) when its data is broken."""
    try:
        outcome, health = task_outcome(obj), poll_health(obj)
        status = DOWN if health == "down" else outcome
        ref = obj.ref
        key = (
            RANK[status],
            ref.workspace_name.casefold(),
            ref.model_name.casefold(),
            ref.object_type.value,
            ref.object_name.casefold(),
        )
        return key, outcome, health, matches(obj, outcome, health, filters)
    except Exception:  # drawn as an unreadable row, which reports it
        return (RANK[UNKNOWN], "", "", "", ""), UNKNOWN, "up", True


def _row(
    obj: ObjectStatus, outcome: str, health: str, now: float, links: Links, on_error: OnError | None
) -> str:
    try:
        return row(obj, outcome, health, now, links)
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
