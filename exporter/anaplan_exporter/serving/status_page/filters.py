"""The page's filters: the query string parsed into ``Filters``, and whether an object matches them.

The query string is untrusted: values are trimmed and cut to a bounded length, and an unknown type, state
or refresh is ignored with a note the page shows. ``Filters.href`` writes the links that change one filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from ...anaplan.models import ObjectType
from ...snapshot import ObjectStatus
from .outcomes import CANCELLED, DOWN, FAILED, NONE, OVERDUE, RUNNING, SUCCEEDED, UNKNOWN

DEFAULT_REFRESH = 30
_MAX_QUERY_VALUE = 200
STATE_FILTERS = {
    "problems": "problems (down, failed or overdue)",
    DOWN: "down (polls failing, not found, no access)",
    FAILED: "failed",
    OVERDUE: "overdue (no success in time)",
    RUNNING: "running",
    CANCELLED: "cancelled",
    SUCCEEDED: "succeeded",
    NONE: "never ran",
    UNKNOWN: "unknown",
}


@dataclass(frozen=True)
class Filters:
    """The query string, parsed: empty strings mean "any"."""

    workspace: str = ""
    model: str = ""
    type: str = ""
    state: str = ""
    name: str = ""
    refresh: int = DEFAULT_REFRESH

    @classmethod
    def parse(cls, query: str) -> tuple[Filters, list[str]]:
        """Filters from ``query`` (a raw query string) and notes about values that were ignored."""
        values = parse_qs(query, keep_blank_values=False)
        notes: list[str] = []

        def first(key: str) -> str:
            found = values.get(key)
            return found[0].strip()[:_MAX_QUERY_VALUE] if found else ""

        kind, state = first("type").lower(), first("state").lower()
        if kind and kind not in {t.value for t in ObjectType}:
            notes.append(f"unknown type {kind!r} ignored")
            kind = ""
        if state and state not in STATE_FILTERS:
            notes.append(f"unknown state {state!r} ignored")
            state = ""
        refresh = DEFAULT_REFRESH
        text = first("refresh")
        if text:
            if text.isdigit():
                refresh = 0 if int(text) == 0 else min(max(int(text), 5), 3600)
            else:
                notes.append(f"refresh {text!r} is not a number of seconds; using {DEFAULT_REFRESH}")
        return cls(first("workspace"), first("model"), kind, state, first("name"), refresh), notes

    def params(self, **changes: str | int) -> dict[str, str]:
        """The query parameters that reproduce these filters (defaults left out), with ``changes``."""
        current: dict[str, str | int] = {
            "workspace": self.workspace,
            "model": self.model,
            "type": self.type,
            "state": self.state,
            "name": self.name,
            "refresh": "" if self.refresh == DEFAULT_REFRESH else self.refresh,
        }
        current.update(changes)
        return {key: str(value) for key, value in current.items() if value != ""}

    def href(self, **changes: str | int) -> str:
        return "?" + urlencode(self.params(**changes))

    @property
    def active(self) -> bool:
        return bool(self.workspace or self.model or self.type or self.state or self.name)


def matches(obj: ObjectStatus, outcome: str, health: str, overdue: bool, filters: Filters) -> bool:
    """Whether ``obj``, already classified (``outcome``, ``health``, ``overdue``), passes every filter."""
    ref = obj.ref
    if filters.type and ref.object_type.value != filters.type:
        return False
    if filters.workspace and not _match_text(filters.workspace, ref.workspace_id, ref.workspace_name):
        return False
    if filters.model and not _match_text(filters.model, ref.model_id, ref.model_name):
        return False
    if filters.name and not _match_text(filters.name, ref.object_id, ref.object_name):
        return False
    return not filters.state or in_state(filters.state, outcome, health, overdue)


def in_state(state: str, outcome: str, health: str, overdue: bool) -> bool:
    """Whether an object so classified is in ``state`` (a key of ``STATE_FILTERS``): what the state filter
    shows and the summary card of that state counts."""
    down = health == "down"
    if state == "problems":
        return down or outcome == FAILED or overdue
    if state == DOWN:
        return down
    if state == FAILED:  # a failed run stays a failure while its object's polls fail
        return outcome == FAILED
    if state == OVERDUE:  # as the alert: whatever else is wrong with the object
        return overdue
    return outcome == state and not down


def _match_text(wanted: str, identifier: str, name: str) -> bool:
    """An ID matches exactly, a name by case-insensitive substring."""
    folded = wanted.casefold()
    return folded == identifier.casefold() or folded in name.casefold()
