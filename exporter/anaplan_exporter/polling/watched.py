"""The watched objects as the scheduling thread last saw them: each one's tracker, latest status and last
poll, which were never polled, which are down and which have a run going, and how long the latest sweep took
(the time for every watched object to be polled once). Changed only on the poller's scheduling thread."""

from __future__ import annotations

from ..snapshot import ObjectStatus
from .tracker import ObjectTracker

Key = tuple[str, str, str, str]
"""An object's identity (``ObjectRef.key``)."""


class WatchedObjects:
    """The trackers of the watched objects and where each stands. Not thread-safe: one owner."""

    def __init__(self) -> None:
        self.trackers: dict[Key, ObjectTracker] = {}
        self.statuses: dict[Key, ObjectStatus] = {}
        """The latest status of every polled object, in the order they were first polled."""
        self.last_polled: dict[Key, float] = {}
        """When each object was last polled (discovery time for objects not polled yet)."""
        self.unpolled: set[Key] = set()
        self.down: set[Key] = set()
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
        for members in (self.unpolled, self.down, self.active, self._sweep_pending):
            members.discard(key)

    def polled(self, key: Key, tracker: ObjectTracker, status: ObjectStatus, now: float) -> None:
        """Take in a poll's outcome; the sweep is complete once every object was polled since it began."""
        self.statuses[key] = status
        self.last_polled[key] = now
        self.unpolled.discard(key)
        if tracker.up:
            self.down.discard(key)
        else:
            self.down.add(key)
        if tracker.active_since is not None:
            self.active.add(key)
        else:
            self.active.discard(key)
        self._sweep_pending.discard(key)
        if not self._sweep_pending and self._sweep_started is not None:
            self.sweep_duration = now - self._sweep_started
            self._sweep_started, self._sweep_pending = now, set(self.trackers)
