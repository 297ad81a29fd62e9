"""The whole page: classify, count, filter and sort the snapshot's objects, then join the sections.

Problems sort first and at most ``info.max_rows`` rows are drawn, which bounds the cost of a large tenant.
"""

from __future__ import annotations

from ...snapshot import ObjectStatus, Snapshot
from . import sections
from .cells import row
from .filters import Filters, matches
from .markup import Links
from .outcomes import DOWN, FAILED, RANK, poll_health, task_outcome
from .page_info import PageInfo


def render_status_page(snapshot: Snapshot, info: PageInfo, query: str = "") -> str:
    """The whole HTML page for ``snapshot`` with the filters of ``query`` (a raw query string)."""
    filters, notes = Filters.parse(query)
    links = Links(info.docs_url)
    now = info.now
    counts = dict.fromkeys(RANK, 0)
    matching: list[tuple[int, str, str, str, str, ObjectStatus, str, str]] = []
    for obj in snapshot.objects:
        outcome, health = task_outcome(obj), poll_health(obj)
        status = DOWN if health == "down" else outcome
        counts[status] += 1
        if status == DOWN and outcome == FAILED:
            counts[FAILED] += 1
        if matches(obj, outcome, health, filters):
            ref = obj.ref
            matching.append(
                (
                    RANK[status],
                    ref.workspace_name.casefold(),
                    ref.model_name.casefold(),
                    ref.object_type.value,
                    ref.object_name.casefold(),
                    obj,
                    outcome,
                    health,
                )
            )
    matching.sort(key=lambda item: item[:5])
    shown = matching[: max(0, info.max_rows)]
    rows = "".join(row(item[5], item[6], item[7], now, links) for item in shown)
    parts = [
        sections.head(filters),
        sections.header(snapshot, info, filters, links),
        sections.summary(counts, len(snapshot.objects), filters),
        sections.exporter_facts(snapshot, info, links),
        sections.discovery(snapshot, links),
        sections.filter_form(snapshot, filters, notes),
        sections.table_intro(len(shown), len(matching), len(snapshot.objects), filters),
        sections.table(rows) if shown else "",
        sections.footer(info),
    ]
    return "".join(parts)
