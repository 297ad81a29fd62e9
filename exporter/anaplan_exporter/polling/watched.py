"""The watched objects as the scheduling thread last saw them: each one's tracker, latest status and last
poll, which were never polled, whose polls fail and which have a run going, and how long the latest sweep
took (the time for every watched object to be polled once). Changed only on the poller's scheduling thread.

The snapshot is published from them: outcomes arriving within ``PUBLISH_COALESCE`` share one snapshot, and
one is published at least every ``PUBLISH_EVERY``. Only the scheduling thread publishes; any thread may read
``SnapshotPublisher.snapshot``."""

from __future__ import annotations

from collections.abc import Container

from ..snapshot import CloudWorksView, Key, ObjectStatus, Snapshot, StateFileStatus
from .catalog_reads import DiscoveryRecord, StepNameRecord
from .tracker import ObjectTracker


class WatchedObjects:
    """The trackers of the watched objects and where each stands. Not thread-safe: one owner."""

    def __init__(self) -> None:
        self.trackers: dict[Key, ObjectTracker] = {}
        self.statuses: dict[Key, ObjectStatus] = {}
        """The latest status of every polled object, in the order they were first polled."""
        self.last_polled: dict[Key, float] = {}
        """When each object was last polled (discovery time for objects not polled yet)."""
        self.unpolled: set[Key] = set()
        self.failing: set[Key] = set()
        """Objects whose latest poll failed. Not those down only because Anaplan does not confirm them (not
        found, NO ACCESS): each reports that on its own series, and ``anaplan_up`` leaves them to it."""
        self.active: set[Key] = set()
        self.sweep_duration: float | None = None
        """How long the latest complete sweep took; None until one has completed."""
        self._sweep_started: float | None = None
        self._sweep_pending: set[Key] = set()

    def add(self, key: Key, tracker: ObjectTracker, now: float) -> None:
        """Watch a new object (not polled yet)."""
        self.trackers[key] = tracker
        self.unpolled.add(key)
        self.last_polled[key] = now
        self._sweep_pending.add(key)
        if self._sweep_started is None:
            self._sweep_started = now

    def remove(self, key: Key) -> None:
        """Stop watching an object."""
        del self.trackers[key]
        self.statuses.pop(key, None)
        self.last_polled.pop(key, None)
        for members in (self.unpolled, self.failing, self.active, self._sweep_pending):
            members.discard(key)

    def polled(
        self, key: Key, tracker: ObjectTracker, status: ObjectStatus, failed: bool, now: float
    ) -> None:
        """Take in a poll's outcome (an unconfirmed object's status is down; ``failed``: the poll itself
        failed); the sweep is complete once every object was polled since it began."""
        self.refreshed(key, status, failed)
        self.last_polled[key] = now
        self.unpolled.discard(key)
        if tracker.active_since is not None:
            self.active.add(key)
        else:
            self.active.discard(key)
        self._sweep_pending.discard(key)
        if not self._sweep_pending and self._sweep_started is not None:
            self.sweep_duration = now - self._sweep_started
            self._sweep_started, self._sweep_pending = now, set(self.trackers)

    def refreshed(self, key: Key, status: ObjectStatus, failed: bool) -> None:
        """Take in a polled object's status computed again (not a poll: a rename, its absence, its steps);
        ``failed``: its latest poll failed (``status.up`` is also False while it is not confirmed)."""
        self.statuses[key] = status
        if failed:
            self.failing.add(key)
        else:
            self.failing.discard(key)


PUBLISH_COALESCE = 0.2
"""Outcomes arriving within this many seconds share one snapshot (so 10,000 quick polls are not 10,000
snapshots); an outcome is published no later than this after it arrives."""
PUBLISH_EVERY = 1.0
"""A snapshot is published at least this often: running durations and the poll lag keep growing."""


class SnapshotPublisher:
    """Builds each snapshot and paces their publishing."""

    def __init__(self, idle_interval: float, state_file: StateFileStatus | None = None) -> None:
        self._idle_interval = idle_interval
        self.snapshot = Snapshot(poll_interval_seconds=idle_interval, state_file=state_file)
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
        cloudworks: CloudWorksView | None = None,
        cloudworks_healthy: bool = True,
        state_file: StateFileStatus | None = None,
        resolved: Container[Key] = frozenset(),
    ) -> None:
        """Replace the snapshot: up when discovery and every confirmed object's last poll succeeded, and
        CloudWorks (when it is read) too; ready (for good) once everything discovered was polled.

        An object Anaplan does not confirm (a wrong ID, NO ACCESS to its model), and the discovery or
        metadata error that names it, do not make it down: the object says so on its own series, and its
        alert (AnaplanTargetNotFound) names it; AnaplanPollStale would only repeat it for the whole exporter.
        ``resolved``: the objects whose target the latest discovery resolved (``StepNameRecord.failing``)."""
        up = (
            cloudworks_healthy
            and discovery.discovered
            and not discovery.failing
            and not step_names.failing(resolved)
            and not watched.failing
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
            cloudworks=cloudworks if cloudworks is not None else CloudWorksView(),
            state_file=state_file,
        )
        self.changed = False
        self._last_publish = now
