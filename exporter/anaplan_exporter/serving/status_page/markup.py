"""The small HTML pieces every part of the page shares: escaping, a timestamp, a badge, documentation links.

Every string from Anaplan, the configuration or the query string reaches the page through ``escape``.
"""

from __future__ import annotations

import html

from ...anaplan.models import iso_time
from .time_text import relative_time


def escape(value: object) -> str:
    """``value`` as text safe in HTML content and in quoted attribute values."""
    return html.escape(str(value), quote=True)


def when(timestamp: float | None, now: float, never: str = "never") -> str:
    """A ``<time>`` in UTC with its relative age, or ``never`` (muted) when there is no timestamp."""
    if timestamp is None:
        return f'<span class="muted">{escape(never)}</span>'
    iso = iso_time(timestamp)
    ago = escape(relative_time(timestamp, now))
    return f'<time datetime="{iso}">{iso}</time> <span class="rel">{ago}</span>'


def badge(kind: str, text: str) -> str:
    return f'<span class="badge {kind}">{escape(text)}</span>'


class Links:
    """Links into the project's documentation at ``docs_url``, and into the runbook by alert."""

    def __init__(self, docs_url: str) -> None:
        self.docs = docs_url
        self.runbook = docs_url + "docs/runbook.md"

    def alert(self, name: str) -> str:
        return f'<a class="runbook" href="{escape(self.runbook)}#{name.lower()}">runbook: {name}</a>'
