"""Objects that could not be rendered: counted, and logged at warn at most once a minute per object and page.

``/metrics`` and the status page render each object on its own; when one object's data breaks its rendering,
that object is left out of ``/metrics`` (or shown as unreadable on the page) and the rest is served as usual.
This is where such failures are reported, so a scrape that silently lacks an object can be noticed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from ..snapshot import ObjectStatus

log = logging.getLogger(__name__)

PAGES = ("metrics", "status")
LOG_INTERVAL = 60.0
"""At most one warn line per object and page in this many seconds."""
_MAX_REMEMBERED = 10_000
_MAX_MESSAGE = 200


def describe_object(obj: ObjectStatus) -> str:
    """``name (object_type object_id)`` of ``obj``, or a stand-in when even that cannot be read."""
    try:
        ref = obj.ref
        return f"{ref.object_name} ({ref.object_type.value} {ref.object_id})"
    except Exception:  # the object's own data is what failed: describe it without trusting it
        return "an unreadable object"


def problem(exc: BaseException) -> str:
    """The exception as one bounded line."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "…"


class RenderErrors:
    """``anaplan_exporter_render_errors_total{page}`` and the throttled warn lines (thread-safe)."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic) -> None:
        self.counter = Counter(
            "anaplan_exporter_render_errors",
            "Objects left out of a /metrics scrape (page=metrics) or shown as unreadable on the status page "
            "(page=status) because their data could not be rendered.",
            ["page"],
            registry=registry,
        )
        for page in PAGES:
            self.counter.labels(page)
        self._clock = clock
        self._lock = threading.Lock()
        self._logged: dict[tuple[str, str], float] = {}

    def failed(self, page: str, obj: ObjectStatus, exc: BaseException) -> None:
        """One object of one scrape or page view could not be rendered."""
        self.counter.labels(page).inc()
        what = describe_object(obj)
        now = self._clock()
        with self._lock:
            last = self._logged.get((page, what))
            if last is not None and now - last < LOG_INTERVAL:
                return
            if len(self._logged) >= _MAX_REMEMBERED:
                self._logged = {k: t for k, t in self._logged.items() if now - t < LOG_INTERVAL}
            self._logged[(page, what)] = now
        where = "left out of /metrics" if page == "metrics" else "shown as unreadable on the status page"
        log.warning("%s could not be rendered, %s: %s", what, where, problem(exc))

    def for_page(self, page: str) -> Callable[[ObjectStatus, Exception], None]:
        """The ``on_error`` callback of one page."""
        return lambda obj, exc: self.failed(page, obj, exc)
