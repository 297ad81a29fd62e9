"""The background poller: decides what to ask Anaplan and when, and publishes immutable snapshots.

Scheduling: every object is polled on each *full cycle* (every ``idle_interval``); an object whose newest
task is unfinished is also polled in between, never more often than ``active_interval`` (Anaplan asks for at
most one status check per 5 s) and less often as the run gets longer, up to ``active_max_interval``.
Discovery (names, "*" selections, process step names) runs at start and every ``discovery_interval``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from ..config import PollingConfig, TargetConfig
from ..snapshot import Snapshot
from .discovery import CatalogReader, Discoverer, WatchedObject
from .sharding import shard_of
from .state import StateStore
from .tracker import ObjectTracker, TaskReader

log = logging.getLogger(__name__)


class AnaplanReader(CatalogReader, TaskReader, Protocol):
    """Everything the poller reads from Anaplan."""

    @property
    def token_expires_at(self) -> float | None: ...


def active_interval(polling: PollingConfig, running_for: float) -> float:
    """Poll interval for an unfinished task: 5 s at first, a tenth of its age later, capped."""
    return min(polling.active_max_interval, max(polling.active_interval, running_for / 10.0))


class Poller:
    """Owns the trackers; ``tick()`` does one round, ``start()`` runs rounds in a background thread."""

    def __init__(
        self,
        client: AnaplanReader,
        targets: Sequence[TargetConfig],
        polling: PollingConfig,
        *,
        shard: int = 0,
        shard_total: int = 1,
        clock: Callable[[], float] = time.time,
        state: StateStore | None = None,
    ) -> None:
        self._client = client
        self._state = state
        """Where trackers are restored from and saved to (the state file); None: nothing kept."""
        self._targets = tuple(targets)
        self._polling = polling
        self._shard = shard
        self._shard_total = shard_total
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=max(1, polling.workers), thread_name_prefix="poll")
        self._discoverer = Discoverer(
            client,
            mapper=self._executor.map,
            wanted=lambda ref: shard_of(ref, shard_total) == shard,
        )
        self._trackers: dict[tuple[str, str, str, str], ObjectTracker] = {}
        self._by_target: dict[int, list[WatchedObject]] = {}
        self._next_discovery = 0.0
        self._next_full = 0.0
        self._next_active: dict[tuple[str, str, str, str], float] = {}
        self._seen: set[tuple[str, str, str, str]] = set()
        """Objects polled at least once; new ones are polled on the next round, not the next full cycle."""
        self._discovery_ok = False
        self._discovery_errors: tuple[str, ...] = ()
        self._ready = False
        self._last_success: float | None = None
        self._poll_duration: float | None = None
        self._snapshot = Snapshot(poll_interval_seconds=polling.idle_interval)
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set to end the background thread's wait early (stop, or new targets to apply)."""
        self._pending_targets: tuple[TargetConfig, ...] | None = None
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The latest published snapshot (a plain attribute read: safe from any thread)."""
        return self._snapshot

    # -- one round ------------------------------------------------------------------------------------

    def reconfigure(self, targets: Sequence[TargetConfig]) -> None:
        """Watch ``targets`` from the next round on (a configuration reload).

        The next round runs discovery at once. Objects watched before and after keep their trackers, so
        their counters, last success and last failure carry on; objects no longer configured disappear.
        """
        with self._pending_lock:
            self._pending_targets = tuple(targets)
        self._wake.set()

    def _apply_pending_targets(self) -> bool:
        with self._pending_lock:
            pending, self._pending_targets = self._pending_targets, None
        if pending is None:
            return False
        self._targets = pending
        self._by_target = {}  # indexes refer to the old list; a failing target falls back to its IDs
        return True

    def tick(self) -> bool:
        """Run whatever is due now: discovery, a full cycle, or the active objects. Returns anaplan_up."""
        now = self._clock()
        if self._apply_pending_targets() or now >= self._next_discovery:
            self._discover()
            self._next_discovery = now + self._polling.discovery_interval
        full = now >= self._next_full
        if full:
            self._next_full = now + self._polling.idle_interval
        # An unfinished task keeps its own (>= 5 s) schedule even on a full cycle: Anaplan asks for it.
        due = [
            t
            for k, t in self._trackers.items()
            if k not in self._seen or (self._next_active.get(k, 0.0) <= now if t.active else full)
        ]
        self._seen.update(t.ref.key for t in due)
        started = time.monotonic()
        if due:
            list(self._executor.map(self._poll_one, due))
        finished = self._clock()
        for tracker in due:
            since = tracker.active_since
            if since is not None:
                self._next_active[tracker.ref.key] = finished + active_interval(
                    self._polling, max(0.0, finished - since)
                )
        up = self._discovery_ok and all(t.up for t in self._trackers.values())
        if full:
            self._poll_duration = time.monotonic() - started
            self._ready = True
        if up and (full or due):
            self._last_success = finished
        self._publish(finished, up)
        if self._state is not None:
            self._state.save_if_due(self._trackers.values(), finished)
        return up

    def _poll_one(self, tracker: ObjectTracker) -> bool:
        if self._stop.is_set():  # shutting down: leave the rest of the round undone
            return False
        return tracker.poll(self._client, self._clock())

    def next_due(self) -> float:
        """When the next tick has work to do."""
        due = min(self._next_full, self._next_discovery)
        for key, tracker in self._trackers.items():
            if key not in self._seen:
                return self._clock()
            if tracker.active:
                due = min(due, self._next_active.get(key, 0.0))
        return due

    def _discover(self) -> None:
        result = self._discoverer.discover(self._targets)
        found: dict[int, list[WatchedObject]] = {}
        for watched in result.objects:
            found.setdefault(watched.target_index, []).append(watched)
        for index in range(len(self._targets)):
            if index in result.failed_targets:
                # Keep what an earlier discovery found; else watch the objects configured by ID.
                found[index] = self._by_target.get(index) or result.fallbacks.get(index, [])
        self._by_target = found
        wanted = {
            w.ref.key: w
            for group in found.values()
            for w in group
            if shard_of(w.ref, self._shard_total) == self._shard
        }
        for key in list(self._trackers):
            if key not in wanted:
                del self._trackers[key]
                self._next_active.pop(key, None)
                self._seen.discard(key)
        for key, watched in wanted.items():
            tracker = self._trackers.get(key)
            if tracker is None:
                tracker = self._trackers[key] = ObjectTracker(watched.ref, watched.step_names)
                if self._state is not None:
                    self._state.restore(tracker, self._clock())
            else:
                tracker.ref = watched.ref
                if watched.step_names:
                    tracker.step_names = watched.step_names
        if self._state is not None and result.ok:
            self._state.prune(wanted)  # saved objects no longer watched leave the state file
        self._discovery_ok = result.ok
        self._discovery_errors = tuple(result.errors)
        log.info("discovery: watching %d objects (%d errors)", len(self._trackers), len(result.errors))

    def _publish(self, now: float, up: bool) -> None:
        try:
            token_expiry = self._client.token_expires_at
        except Exception:  # a property of the client must never break publishing
            token_expiry = None
        self._snapshot = Snapshot(
            objects=tuple(t.status(now) for t in self._trackers.values()),
            ready=self._ready,
            up=up,
            last_success_time=self._last_success,
            poll_duration_seconds=self._poll_duration,
            poll_interval_seconds=self._polling.idle_interval,
            token_expires_at=token_expiry,
            discovery_errors=self._discovery_errors,
        )

    # -- background thread --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a reload during it ends the next wait at once
            try:
                self.tick()
            except Exception:  # keep polling whatever happens; the error is logged and the round retried
                log.exception("poll round failed")
                self._stop.wait(self._polling.active_interval)
                continue
            wait = self.next_due() - self._clock()
            self._wake.wait(min(max(wait, 0.05), self._polling.idle_interval))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._state is not None:
            self._state.save(list(self._trackers.values()))  # the last word at shutdown
