"""The background poller: decides what to ask Anaplan and when, and publishes immutable snapshots.

Scheduling is continuous (see ``schedule``): every object has its own due time, and one scheduling thread
hands the most urgent due work to the worker pool as soon as a worker is free and the shared request budget
allows a start. Running tasks come first (one check per ``active_interval``, Anaplan's 5 s, slowing down for
long runs up to ``active_max_interval``), then objects never polled, then objects whose next run is due by
their learned rhythm, then idle objects oldest first (every ``idle_interval``, stretched evenly when the
budget cannot cover them all), then discovery and process metadata. No request waits for another object's
answer, and each outcome is published within a second.

An object that discovery could not confirm (``lookup.Absence``: not found, no access; or its process metadata
answered 404) is watched all the same, and its status says so (``unconfirmed``: down, with the reason) while
its task list lists no run; a run listed confirms it, and so does the next discovery that finds it.

After a poll, ``schedule_next_poll`` says when the object is due again: on the active interval while its
newest run is unfinished, else after the idle interval, and also just after the next slot of its learned
rhythm, so that a scheduled run shows within seconds of its start. With sharding, each replica polls only its
share of the objects (``shard_of``, a stable hash of the object's IDs). Replica 0 watches CloudWorks; the
others read its integration list for hints only (``CloudWorksWatch.hints_only``), so that a CloudWorks run
polls its Anaplan object at once on whichever replica owns the object.

Threads: only the scheduling thread changes the poller's state. A worker owns the tracker (or discovery) it
was handed until it returns a closure, which the scheduling thread applies. What the poller needs from the
client and the limiter is written as protocols (``AnaplanReader``, ``RequestBudget``).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

from ..anaplan.errors import AnaplanError, AnaplanNotFoundError
from ..anaplan.lookup import Absence
from ..anaplan.models import ObjectType
from ..config.cloudworks import CloudWorksConfig, CloudWorksMode
from ..config.file import PollingConfig
from ..config.targets import TargetConfig
from ..snapshot import Key, ObjectRef, ObjectStatus, Snapshot
from .catalog_reads import DiscoveryRecord, StepNameRecord
from .cloudworks import CloudWorksReader, CloudWorksWatch, ListsResult, follow_up, linked_keys, read_lists
from .cloudworks_item import FLOW, CloudWorksItem, FollowUp, FollowUpResult
from .discovery import CatalogReader, Discoverer, DiscoveryResult
from .problems import ProblemLog
from .schedule import Schedule, Urgency
from .state import StateStore
from .tracker import ObjectTracker, TaskReader
from .watched import PUBLISH_EVERY, SnapshotPublisher, WatchedObjects


class AnaplanReader(CatalogReader, TaskReader, Protocol):
    """Everything the poller reads from Anaplan."""

    @property
    def token_expires_at(self) -> float | None: ...


class RequestBudget(Protocol):
    """The shared request budget, as the scheduler sees it (``anaplan.limiter.Limiter`` provides it)."""

    @property
    def interval(self) -> float: ...

    def free_in(self) -> float: ...

    def used_ratio(self) -> float: ...


log = logging.getLogger(__name__)

Apply = Callable[[float], None]


@dataclass(frozen=True)
class _Discovery:
    """The schedule's key for discovery."""


@dataclass(frozen=True)
class _Metadata:
    """The schedule's key for reading one process's step names."""

    key: Key


@dataclass(frozen=True)
class _CloudWorksLists:
    """The schedule's key for reading the CloudWorks integration and flow lists."""


@dataclass(frozen=True)
class _CloudWorksFollowUp:
    """The schedule's key for one integration's or flow's own reads (history, errors, steps, objects)."""

    kind: str
    id: str


DISCOVERY = _Discovery()
CLOUDWORKS_LISTS = _CloudWorksLists()


class Poller:
    """Owns the trackers; ``start()`` schedules continuously in a background thread, ``tick()`` does
    everything due now in the caller's thread (``--once``, tests, benchmarks)."""

    def __init__(
        self,
        client: AnaplanReader,
        targets: Sequence[TargetConfig],
        polling: PollingConfig,
        *,
        shard: int = 0,
        shard_total: int = 1,
        clock: Callable[[], float] = time.time,
        budget: RequestBudget | None = None,
        state: StateStore | None = None,
        cloudworks: CloudWorksReader | None = None,
        cloudworks_config: CloudWorksConfig | None = None,
        scrub: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._client = client
        self._cloudworks = cloudworks
        """The CloudWorks reader (None: CloudWorks is not read here)."""
        config = cloudworks_config or CloudWorksConfig(mode=CloudWorksMode.OFF)
        page_size = cloudworks.page_size if cloudworks is not None else 5000
        self._cw = CloudWorksWatch(config, scrub, page_size=page_size, hints_only=shard != 0)
        """With sharding, replica 0 watches CloudWorks; the others read the integration list for hints."""
        self._repoll: set[Key] = set()
        """Objects whose CloudWorks integration started or ended while they were being polled."""
        self._state = state
        """Where trackers are restored from and saved to (the state file); None: nothing kept."""
        self._targets = tuple(targets)
        self._polling = polling
        self._shard = shard
        self._shard_total = shard_total
        self._clock = clock
        self._budget = budget
        self._executor = ThreadPoolExecutor(max_workers=max(1, polling.workers), thread_name_prefix="poll")
        self._discoverer = Discoverer(client)
        self._schedule = Schedule(polling.idle_interval)
        # The first discovery goes before the CloudWorks integrations' first reads (new work too): a run that
        # starts meanwhile can poll its Anaplan object at once only once that object is watched.
        self._schedule.put(DISCOVERY, Urgency.NEW, 0.0)
        self._watched = WatchedObjects()
        self._in_flight: set[Hashable] = set()
        self._discovery = DiscoveryRecord()
        self._absences: dict[Key, Absence] = {}
        """What the latest discovery could not confirm, by object."""
        self._resolved: set[Key] = set()
        """Objects whose target the latest discovery resolved: their model's listings answered, so a 404 to
        their metadata means the object is gone (elsewhere it may be a wrong URL or an outage)."""
        self._step_names = StepNameRecord()
        self._next_dispatch = 0.0
        self._problems = ProblemLog()
        self._publisher = SnapshotPublisher(
            polling.idle_interval, state.status if state is not None else None
        )
        self._done: queue.SimpleQueue[tuple[Hashable, Apply]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set to end the scheduling thread's wait early (work done, stop, or new targets to apply)."""
        self._pending_targets: tuple[TargetConfig, ...] | None = None
        self._pending_cloudworks: CloudWorksConfig | None = None
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if self._cloudworks is not None and self._cw.enabled:
            self._schedule.put(CLOUDWORKS_LISTS, Urgency.ACTIVE, 0.0)

    @property
    def snapshot(self) -> Snapshot:
        """The latest published snapshot (a plain attribute read: safe from any thread)."""
        return self._publisher.snapshot

    def reconfigure(
        self, targets: Sequence[TargetConfig], cloudworks: CloudWorksConfig | None = None
    ) -> None:
        """Watch ``targets`` (and the ``cloudworks`` selection) from now on (a configuration reload):
        discovery and the CloudWorks lists are read again at once.

        Objects watched before and after keep their trackers, so their counters, last success and last
        failure carry on; objects no longer configured disappear. So do integrations and flows.
        """
        with self._pending_lock:
            self._pending_targets = tuple(targets)
            self._pending_cloudworks = cloudworks
        self._wake.set()

    def next_due(self) -> float:
        """When the next piece of work is due (now, when something is due already)."""
        due = self._schedule.next_due()
        return self._clock() if due is None else due

    # -- the synchronous form -----------------------------------------------------------------------

    def tick(self) -> bool:
        """Do everything due now (discovery first), wait for it, publish; return anaplan_up (which leaves
        objects Anaplan does not confirm to their own series: see ``snapshot.objects``' ``absence``)."""
        self._apply_pending_targets()
        while not self._stop.is_set():
            now = self._clock()
            due: list[Hashable] = []
            while (key := self._schedule.take(now)) is not None:
                due.append(key)
            if not due:
                break
            for first in (DISCOVERY, CLOUDWORKS_LISTS):  # they decide what exists: before the others
                if first in due:
                    due.remove(first)
                    self._execute(first, self._subject(first))(self._clock())
            subjects = [self._subject(key) for key in due]
            for apply in list(self._executor.map(self._execute, due, subjects)):
                apply(self._clock())
        self._publish(self._clock())
        return self._publisher.snapshot.up

    # -- the background form ------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._state is not None:  # the last word at shutdown
            self._state.save(list(self._watched.trackers.values()), self._cw.saved_states())

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the work: anything arriving meanwhile ends the next wait at once
            try:
                wait = self._step()
            except Exception:  # keep scheduling whatever happens; the error is logged
                log.exception("poller: scheduling failed")
                wait = 1.0
            self._wake.wait(max(wait, 0.0))

    def _step(self) -> float:
        """Apply finished work, start due work, publish; return how long to wait before looking again."""
        self._apply_pending_targets()
        while True:
            try:
                key, apply = self._done.get_nowait()
            except queue.Empty:
                break
            self._in_flight.discard(key)
            apply(self._clock())
        now = self._clock()
        wait = self._dispatch(now)
        if self._publisher.due(now):
            self._publish(now)
        return min(wait, self._publisher.due_in(now), PUBLISH_EVERY)

    def _dispatch(self, now: float) -> float:
        """Start due work while a worker is free and the budget allows a start; return when to look again.

        One piece of work is started per budget interval, and only when no request is waiting for a start:
        work is not queued inside the limiter, where a running task could not overtake it.
        """
        while len(self._in_flight) < self._polling.workers:
            gate = self._next_dispatch - now
            if self._budget is not None:
                gate = max(gate, self._budget.free_in())
            if gate > 0:
                return gate
            key = self._schedule.take(now)
            if key is None:
                due = self._schedule.next_due()
                return PUBLISH_EVERY if due is None else due - now
            self._in_flight.add(key)
            self._executor.submit(self._work, key, self._subject(key))
            if self._budget is not None:
                self._next_dispatch = now + self._budget.interval
        return PUBLISH_EVERY  # all workers busy: a finished one wakes us

    def _work(self, key: Hashable, subject: object) -> None:
        """In a worker: do the work, then hand its outcome to the scheduling thread."""
        if self._stop.is_set():
            return
        try:
            apply = self._execute(key, subject)
        except Exception:  # the tracker and discovery catch their own errors; this is a bug
            log.exception("poller: work on %r failed", key)

            def apply(now: float) -> None:
                self._reschedule_after_bug(key, now)

        self._done.put((key, apply))
        self._wake.set()

    # -- what each piece of work does (in a worker), and how its outcome is applied (scheduling thread) --

    def _subject(self, key: Hashable) -> object:
        """What a worker needs for ``key``, read on the scheduling thread."""
        if key == DISCOVERY:
            return self._targets
        if key == CLOUDWORKS_LISTS:
            return self._cw.read_config
        if isinstance(key, _CloudWorksFollowUp):
            item = self._cw.items.get((key.kind, key.id))
            return None if item is None else self._cw.plan(item, self._clock(), self._polling.active_interval)
        if isinstance(key, _Metadata):
            tracker = self._watched.trackers.get(key.key)
            return tracker.ref if tracker is not None else None
        return self._watched.trackers.get(key)  # type: ignore[call-overload]

    def _execute(self, key: Hashable, subject: object) -> Apply:
        if key == DISCOVERY:
            assert isinstance(subject, tuple)
            result = self._discoverer.discover(subject)
            return lambda now: self._discovery_done(subject, result, now)
        if key == CLOUDWORKS_LISTS:
            assert isinstance(subject, CloudWorksConfig) and self._cloudworks is not None
            lists = read_lists(self._cloudworks, subject)
            return lambda now: self._cloudworks_lists_done(lists, now)
        if isinstance(key, _CloudWorksFollowUp):
            if not isinstance(subject, FollowUp) or self._cloudworks is None:
                return lambda now: self._cloudworks_schedule(key, now)
            outcome = follow_up(self._cloudworks, subject)
            return lambda now: self._cloudworks_follow_up_done(outcome, now)
        if isinstance(key, _Metadata):
            if not isinstance(subject, ObjectRef):
                return lambda now: None  # no longer watched
            try:
                names = self._discoverer.step_names(subject)
            except AnaplanError as exc:
                message = f"process {subject.object_id} metadata: {exc}"
                not_found = isinstance(exc, AnaplanNotFoundError)
                return lambda now: self._metadata_failed(key.key, message, not_found, now)
            return lambda now: self._metadata_done(key.key, names, now)
        if not isinstance(subject, ObjectTracker):
            return lambda now: None  # no longer watched
        subject.poll(self._client, self._clock())
        status = subject.status(self._clock())
        return lambda now: self._polled(subject, status, now)

    def _polled(self, tracker: ObjectTracker, status: ObjectStatus, now: float) -> None:
        key = tracker.ref.key
        if self._watched.trackers.get(key) is not tracker:
            return  # no longer watched
        failed = not status.up
        status = self._unconfirmed(key, tracker, status)
        self._watched.polled(key, tracker, status, failed, now)
        if not tracker.up and status.last_error is not None:
            self._problems.failed(tracker.ref, status.last_error.reason, status.last_error.message, now)
        schedule_next_poll(self._schedule, key, tracker, self._polling, now)
        if key in self._repoll:  # its CloudWorks integration started or ended meanwhile: look again now
            self._repoll.discard(key)
            self._schedule.put(key, Urgency.ACTIVE, now)
        if tracker.names_unknown_step and tracker.ref.object_type is ObjectType.PROCESS:
            read_at = self._step_names.read_at(key)
            if now - read_at >= self._polling.idle_interval and _Metadata(key) not in self._in_flight:
                self._schedule.put(_Metadata(key), Urgency.LOW, now)
        self._publisher.changed = True

    def _metadata_done(self, key: Key, names: dict[str, str], now: float) -> None:
        self._step_names.read(key, names, now)
        tracker = self._watched.trackers.get(key)
        if tracker is None:
            return
        tracker.step_names = names
        self._refresh_status(key, tracker, now)
        self._schedule.put(_Metadata(key), Urgency.LOW, now + self._polling.metadata_refresh_interval)

    def _metadata_failed(self, key: Key, message: str, not_found: bool, now: float) -> None:
        tracker = self._watched.trackers.get(key)
        if tracker is None:
            return
        delay = self._step_names.failed(key, message, self._polling.discovery_interval, not_found)
        log.warning("discovery: %s", message)
        self._schedule.put(_Metadata(key), Urgency.LOW, now + delay)
        self._refresh_status(key, tracker, now)
        self._publisher.changed = True

    def _reschedule_after_bug(self, key: Hashable, now: float) -> None:
        """Try again in a minute whatever failed unexpectedly, so that nothing is dropped for good."""
        if key == CLOUDWORKS_LISTS:
            if self._cw.enabled:
                self._schedule.put(key, Urgency.ACTIVE, now + 60.0)
        elif isinstance(key, _CloudWorksFollowUp):
            if (key.kind, key.id) in self._cw.items:
                self._schedule.put(key, Urgency.LOW, now + 60.0)
        elif key == DISCOVERY or isinstance(key, _Metadata):
            self._schedule.put(key, Urgency.LOW, now + 60.0)
        elif key in self._watched.trackers:
            self._schedule.put(key, Urgency.IDLE, now + 60.0)

    def _refresh_status(self, key: Key, tracker: ObjectTracker, now: float) -> None:
        """Recompute a polled object's status on the scheduling thread (only while no worker has it)."""
        statuses = self._watched.statuses
        if key in statuses and key not in self._in_flight:
            status = tracker.status(now)
            self._watched.refreshed(key, self._unconfirmed(key, tracker, status), not status.up)
            self._publisher.changed = True

    def _unconfirmed(self, key: Key, tracker: ObjectTracker, status: ObjectStatus) -> ObjectStatus:
        """``status``, down and with its reason, while Anaplan does not confirm the object: discovery (or
        its process metadata) could not, and its task list lists no run (which it would for an object that
        exists and is readable, had it ever run). Only while no worker has the tracker."""
        absence = self._absences.get(key)
        if absence is None and key in self._resolved:
            absence = self._step_names.absence(key)
        if absence is None or tracker.listed_runs:
            return status
        return replace(status, up=False, absence=absence)

    # -- discovery ------------------------------------------------------------------------------------

    def _apply_pending_targets(self) -> None:
        with self._pending_lock:
            pending, self._pending_targets = self._pending_targets, None
            cloudworks, self._pending_cloudworks = self._pending_cloudworks, None
        if cloudworks is not None:
            self._reconfigure_cloudworks(cloudworks)
        if pending is None:
            return
        self._targets = pending
        self._discovery.forget_targets()
        if DISCOVERY not in self._in_flight:  # else: its outcome notices the new targets
            self._schedule.put(DISCOVERY, Urgency.LOW, self._clock())

    def _discovery_done(self, targets: tuple[TargetConfig, ...], result: DiscoveryResult, now: float) -> None:
        if targets is not self._targets:  # a reload came in meanwhile: discover the new targets at once
            self._schedule.put(DISCOVERY, Urgency.LOW, now)
            return
        next_in = self._discovery.record(result, len(self._targets), self._polling.discovery_interval)
        wanted = {
            w.ref.key: w
            for w in self._discovery.objects()
            if shard_of(w.ref, self._shard_total) == self._shard
        }
        for key in [k for k in self._watched.trackers if k not in wanted]:
            self._forget(key)
        absences, self._absences = self._absences, {k: w.absence for k, w in wanted.items() if w.absence}
        resolved = self._resolved
        self._resolved = {k for k, w in wanted.items() if w.target_index not in result.failed_targets}
        for key, watched in wanted.items():
            changed = absences.get(key) != watched.absence or (key in resolved) != (key in self._resolved)
            self._watch(key, watched.ref, now, changed=changed)
        if self._state is not None and result.ok:
            self._state.prune(wanted)  # saved objects no longer watched leave the state file
        self._schedule.put(DISCOVERY, Urgency.LOW, now + next_in)
        self._publisher.changed = True
        log.info(
            "discovery: watching %d objects (%d errors)%s",
            len(self._watched.trackers),
            len(result.errors),
            "" if result.ok else f"; trying again in {next_in:.0f}s",
        )

    def _watch(self, key: Key, ref: ObjectRef, now: float, changed: bool = False) -> None:
        """Watch ``key`` from now on (``changed``: what discovery confirms of it changed)."""
        tracker = self._watched.trackers.get(key)
        if tracker is not None:
            if tracker.ref != ref or changed:
                tracker.ref = ref
                self._refresh_status(key, tracker, now)
            return
        tracker = ObjectTracker(ref, self._step_names.names(key))
        self._watched.add(key, tracker, now)
        if self._state is not None:
            self._state.restore(tracker, now)  # before its first poll: finished meanwhile is counted
        self._schedule.put(key, Urgency.NEW, now)
        if ref.object_type is ObjectType.PROCESS and not self._step_names.known(key):
            self._schedule.put(_Metadata(key), Urgency.LOW, now)

    def _forget(self, key: Key) -> None:
        self._watched.remove(key)
        self._repoll.discard(key)
        self._step_names.forget(key)
        self._schedule.remove(key)
        self._schedule.remove(_Metadata(key))

    # -- CloudWorks -----------------------------------------------------------------------------------

    def _reconfigure_cloudworks(self, config: CloudWorksConfig) -> None:
        """A reload's ``cloudworks:``: the lists are read again at once (or no longer read)."""
        before = list(self._cw.items)
        self._cw.reconfigure(config)
        if not self._cw.enabled:
            for kind, item_id in before:
                self._schedule.remove(_CloudWorksFollowUp(kind, item_id))
        if self._cloudworks is None:
            return
        if not self._cw.enabled:
            self._schedule.remove(CLOUDWORKS_LISTS)
        elif CLOUDWORKS_LISTS not in self._in_flight:
            self._schedule.put(CLOUDWORKS_LISTS, Urgency.ACTIVE, self._clock())
        self._publisher.changed = True

    def _cloudworks_lists_done(self, lists: ListsResult, now: float) -> None:
        if not self._cw.enabled:
            return  # switched off by a reload meanwhile
        own = {key[1] for key in self._watched.trackers}
        models = own | {target.model for target in self._targets}
        restore = self._state.restore_cloudworks if self._state is not None else _no_restore
        applied = self._cw.lists_done(lists, now, models, restore, own_models=own)
        for key in applied.removed:
            self._schedule.remove(_CloudWorksFollowUp(*key))
        for item in applied.changed:
            self._poll_linked(item, now)
        for item in applied.items:
            self._cloudworks_schedule(_CloudWorksFollowUp(item.kind, item.id), now)
        if lists.error is None and self._state is not None and not self._cw.hints_only:
            self._state.prune_cloudworks(self._cw.saved_states())
        budget = self._budget.interval if self._budget is not None else None
        wait = self._cw.retry_in(self._cw.interval(budget), self._polling.discovery_interval)
        self._schedule.put(CLOUDWORKS_LISTS, Urgency.ACTIVE, now + wait)
        self._publisher.changed = True

    def _cloudworks_follow_up_done(self, outcome: FollowUpResult, now: float) -> None:
        before = self._cw.items.get((outcome.plan.kind, outcome.plan.id))
        known = before.object_ids if before is not None else ()
        item = self._cw.follow_up_done(outcome, now, self._polling.metadata_refresh_interval)
        if item is not None:
            if item.running and item.object_ids != known:
                # Its Anaplan objects were not known when the run started (an import or export integration
                # whose jobs had not been read yet, as just after the start): poll them now, not at the sweep.
                self._poll_linked(item, now)
            self._cloudworks_schedule(_CloudWorksFollowUp(item.kind, item.id), now, failed=outcome.error)
            self._publisher.changed = True

    def _cloudworks_schedule(self, key: _CloudWorksFollowUp, now: float, failed: object = None) -> None:
        """Schedule an item's own reads: at once for a run's history and errors or a running flow's steps,
        soon for a first look at its Anaplan objects or steps, rarely to refresh them; after a failure,
        ``FOLLOW_UP_RETRY`` later."""
        if key in self._in_flight:
            return  # its outcome schedules it
        item = self._cw.items.get((key.kind, key.id))
        if item is None:
            self._schedule.remove(key)
            return
        if failed is not None:
            self._schedule.put(key, Urgency.LOW, now + FOLLOW_UP_RETRY)
            return
        active = self._polling.active_interval
        plan = self._cw.plan(item, now, active)
        if plan is not None:
            if plan.history or (item.kind == FLOW and item.latest is not None and not _first(item)):
                self._schedule.put(key, Urgency.ACTIVE, now)
            else:
                self._schedule.put(key, Urgency.NEW if _first(item) else Urgency.LOW, now)
            return
        due = self._cw.next_follow_up(item, now, active)
        if due is None:
            self._schedule.remove(key)
        else:
            self._schedule.put(key, Urgency.ACTIVE if item.running else Urgency.LOW, due)

    def _poll_linked(self, item: CloudWorksItem, now: float) -> None:
        """An integration's run started or ended: poll the watched Anaplan objects it runs at once."""
        for key in linked_keys(item, self._watched.trackers):
            if key in self._in_flight:
                self._repoll.add(key)
            else:
                self._schedule.put(key, Urgency.ACTIVE, now)

    # -- publishing -----------------------------------------------------------------------------------

    def _publish(self, now: float) -> None:
        self._problems.flush(now)
        for key in self._watched.active:
            self._refresh_status(key, self._watched.trackers[key], now)  # a running task's duration grows
        try:
            token_expiry = self._client.token_expires_at
        except Exception:  # a property of the client must never break publishing
            token_expiry = None
        used_ratio = self._budget.used_ratio() if self._budget is not None else None
        self._publisher.publish(
            now,
            self._watched,
            self._discovery,
            self._step_names,
            token_expiry,
            used_ratio,
            self._cw.view(now),
            self._cw.healthy,
            self._state.status if self._state is not None else None,
            resolved=self._resolved,
        )
        if self._state is not None:
            self._state.save_if_due(self._watched.trackers.values(), now, self._cw.saved_states())


FOLLOW_UP_RETRY = 30.0
"""Seconds before a failed read of one integration's or flow's details is tried again."""


def _no_restore(item: CloudWorksItem) -> None:
    """Without a state file an integration or flow starts with a first look."""


def _first(item: CloudWorksItem) -> bool:
    """Its Anaplan objects (or a flow's steps) were never read."""
    return item.detail_due == float("-inf")


EXPECTED_RUN_DELAY = 5.0
"""Seconds after a run's expected creation to look for it (schedules start a little late)."""


def active_interval(polling: PollingConfig, running_for: float) -> float:
    """Poll interval for an unfinished task: 5 s at first, a tenth of its age later, capped."""
    return min(polling.active_max_interval, max(polling.active_interval, running_for / 10.0))


def schedule_next_poll(
    schedule: Schedule, key: Key, tracker: ObjectTracker, polling: PollingConfig, now: float
) -> None:
    """Schedule the object's next poll after the one that just ended."""
    since = tracker.active_since
    if since is not None:
        due = now + active_interval(polling, max(0.0, now - since))
        schedule.put(key, Urgency.ACTIVE, due)
    else:
        _schedule_idle(schedule, key, tracker, polling, now)


def _schedule_idle(
    schedule: Schedule, key: Key, tracker: ObjectTracker, polling: PollingConfig, now: float
) -> None:
    """Due ``idle_interval`` from now; and just after the next slot of its rhythm, ahead of the sweep.

    Only for rhythms whose slots are no closer than the idle interval, so an object is never looked at
    more often than idle polling would: one extra poll per slot, which shows the run's start within
    seconds even when the idle sweep is stretched. A weekday job is looked at on each day of the weekend
    too (its slots are days, its interval three days); a run later than the interval is left to the sweep.
    """
    schedule.put(key, Urgency.IDLE, idle_due(tracker, polling.idle_interval, now))
    step = tracker.rhythm_step
    if step is None or step < polling.idle_interval:
        return
    slot = tracker.next_slot_after(now - EXPECTED_RUN_DELAY)
    if slot is not None:
        schedule.promote_at(key, slot + EXPECTED_RUN_DELAY)


def idle_due(tracker: ObjectTracker, idle_interval: float, now: float) -> float:
    """``now + idle_interval``; after a poll that found a new run or saw one end, moved onto the grid of
    ``idle_interval`` through ``EXPECTED_RUN_DELAY`` after that run's creation.

    The due time is the grid's point in ``(now, now + idle_interval]``: never later than a plain idle poll, so
    every object is still looked at within the idle interval; the cost is at most one earlier poll per new run
    or run end. Plain idle polls after it keep the phase. Objects with a learned rhythm are looked at after
    each slot instead, and keep plain idle polls."""
    created = tracker.newest_created
    if created is None or not tracker.newest_changed or tracker.rhythm_step is not None:
        return now + idle_interval
    latest = now + idle_interval
    return latest - (latest - created - EXPECTED_RUN_DELAY) % idle_interval


def shard_of(ref: ObjectRef, total: int) -> int:
    """The shard (0..total-1) that owns ``ref``; depends only on the object's IDs, never on config order."""
    if total <= 1:
        return 0
    key = "/".join(ref.key).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % total
