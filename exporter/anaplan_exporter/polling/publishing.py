"""Publishing the poller's snapshot: what goes in it (the objects' statuses, readiness, health, the sweep's
timing) and when (outcomes arriving within ``PUBLISH_COALESCE`` share one snapshot, and one is published at
least every ``PUBLISH_EVERY``). Only the scheduling thread publishes; any thread may read ``snapshot``."""

from __future__ import annotations

from ..snapshot import Snapshot
from .catalog_reads import DiscoveryRecord, StepNameRecord
from .watched import WatchedObjects

PUBLISH_COALESCE = 0.2
"""Outcomes arriving within this many seconds share one snapshot (so 10,000 quick polls are not 10,000
snapshots); an outcome is published no later than this after it arrives."""
PUBLISH_EVERY = 1.0
"""A snapshot is published at least this often: running durations and the poll lag keep growing."""


class SnapshotPublisher:
    """Builds each snapshot and paces their publishing."""

    def __init__(self, idle_interval: float) -> None:
        self._idle_interval = idle_interval
        self.snapshot = Snapshot(poll_interval_seconds=idle_interval)
        """The latest published snapshot (replaced whole: a plain attribute read is safe from any thread)."""
        self.changed = False
        """Something to show arrived since the last snapshot: the next one is due sooner."""
        self._last_publish = float("-inf")
        self._ready = False
        self._last_success: float | None = None

    def due(self, now: float) -> bool:
        """True when the next snapshot is due."""
        return now - self._last_publish >= (PUBLISH_COALESCE if self.changed else PUBLISH_EVERY)

    def due_in(self, now: float) -> float:
        """Seconds until the next snapshot is due."""
        return self._last_publish + (PUBLISH_COALESCE if self.changed else PUBLISH_EVERY) - now

    def publish(
        self,
        now: float,
        watched: WatchedObjects,
        discovery: DiscoveryRecord,
        step_names: StepNameRecord,
        token_expires_at: float | None,
        budget_used_ratio: float | None,
    ) -> None:
        """Replace the snapshot: up when everything was discovered and every object's last poll succeeded;
        ready (for good) once everything discovered was polled."""
        up = (
            discovery.discovered
            and discovery.ok
            and not step_names.errors
            and not watched.down
            and not watched.unpolled
        )
        if discovery.discovered and not watched.unpolled:
            self._ready = True
        if up:
            self._last_success = now
        oldest = min(watched.last_polled.values(), default=None)
        self.snapshot = Snapshot(
            objects=tuple(watched.statuses.values()),
            ready=self._ready,
            up=up,
            last_success_time=self._last_success,
            poll_duration_seconds=watched.sweep_duration,
            poll_interval_seconds=self._idle_interval,
            token_expires_at=token_expires_at,
            discovery_errors=discovery.errors + step_names.errors,
            oldest_poll_age_seconds=None if oldest is None else max(0.0, now - oldest),
            budget_used_ratio=budget_used_ratio,
        )
        self.changed = False
        self._last_publish = now
