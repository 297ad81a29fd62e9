"""The time-driven run model: which tasks exist at a given instant and what state each is in.

Nothing runs in the background. Run ``k`` of an object is a pure function of the schedule and the
simulator's start time (``epoch``), so state is computed lazily when asked for; 10,000 objects cost
no more than one. Runs with ``k < 0`` are history: they finished before the simulator started. ``k`` numbers
the schedule's slots: a slot that ``until`` or ``days`` leave out has no run (and its task ID is never used).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from anaplan_exporter.anaplan.models import ObjectType, TaskState

from .scenario import EXTRA_BASE, Outcome, Scenario, Schedule, SimModel, SimObject, SimWorkspace, Step

Clock = Callable[[], float]
ObjectKey = tuple[str, str, str]  # workspace id, model id, object id


@dataclass(frozen=True)
class StepRun:
    """One process step that ran (or is planned to run) within a process run."""

    step: Step
    start: float
    duration: float
    successful: bool
    failure_dump: bool = False


@dataclass(frozen=True)
class Run:
    """The plan of one task: its times are fixed when the run is created."""

    workspace_id: str
    model_id: str
    obj: SimObject
    index: int
    task_id: str
    created: float  # epoch seconds, millisecond precision (NOT_STARTED from here)
    started: float  # IN_PROGRESS from here
    ends: float  # COMPLETE or CANCELLED from here
    outcome: Outcome
    cancel_at: float | None = None  # CANCELLING from here
    steps: tuple[StepRun, ...] = ()  # processes: the steps that run, in order

    @property
    def history(self) -> bool:
        return self.index < 0

    @property
    def successful(self) -> bool:
        return self.outcome is Outcome.SUCCESS

    @property
    def failed_step(self) -> StepRun | None:
        return next((s for s in self.steps if not s.successful), None)

    def steps_ran(self) -> tuple[StepRun, ...]:
        """The steps a terminal run reports: all planned ones, or those finished before a cancel."""
        if self.cancel_at is None:
            return self.steps
        return tuple(s for s in self.steps if s.start + s.duration <= self.cancel_at + 0.001)


@dataclass(frozen=True)
class RunView:
    """A run as seen at one instant."""

    run: Run
    state: TaskState
    progress: float
    current_step: Step | None = None

    @property
    def terminal(self) -> bool:
        return self.state.terminal


def _ms(value: float) -> float:
    """Round to whole milliseconds, so that times survive the trip through epoch-ms integers."""
    return round(value * 1000) / 1000


class ExtraTasks(Protocol):
    """Tasks started outside an object's slots (CloudWorks manual and flow runs), indices >= EXTRA_BASE."""

    def extra_indices(self, obj: SimObject, now: float) -> list[int]:
        """Indices of the object's extra tasks created by ``now``."""

    def extra_plan(self, k: int) -> tuple[float, Outcome]:
        """(creation time, outcome) of extra task ``k``."""


class Engine:
    extras: ExtraTasks | None = None

    def __init__(self, scenario: Scenario, clock: Clock = time.time, start: float | None = None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.epoch = _ms(clock() if start is None else start)
        # IDs differ between simulator starts, so a restarted simulator never reuses a task ID.
        self._key = hashlib.blake2b(f"{scenario.seed}:{self.epoch}".encode(), digest_size=16).digest()
        self._models: dict[str, tuple[SimWorkspace, SimModel]] = {}
        for ws in scenario.workspaces:
            for model in ws.models:
                self._models[model.id] = (ws, model)
        self._workspaces = {ws.id: ws for ws in scenario.workspaces}
        self._lock = threading.Lock()
        self._task_ids: dict[ObjectKey, tuple[dict[str, int], int]] = {}

    def now(self) -> float:
        return self.clock()

    # ---- lookups -------------------------------------------------------------------------------------
    def workspace(self, workspace_id: str) -> SimWorkspace | None:
        return self._workspaces.get(workspace_id)

    def model(self, model_id: str, workspace_id: str | None = None) -> tuple[SimWorkspace, SimModel] | None:
        found = self._models.get(model_id)
        if found is None or (workspace_id is not None and found[0].id != workspace_id):
            return None
        return found

    def object(self, model_id: str, object_id: str, workspace_id: str | None = None) -> SimObject | None:
        found = self.model(model_id, workspace_id)
        return None if found is None else found[1].by_id.get(object_id)

    # ---- runs ----------------------------------------------------------------------------------------
    def index_range(self, obj: SimObject, now: float) -> range:
        """Indices of the slots whose time came by ``now`` (history included), oldest first."""
        s = obj.schedule
        if s is None:
            return range(0)
        since = now - self.epoch - s.offset
        last = math.floor(since / s.every) if since >= 0 else -1
        if last >= 0 and s.jitter and self.created(obj, last) > now:
            last -= 1  # a jittered run comes after its slot (the one before it always came by now)
        return range(-s.history, last + 1)

    def indices(self, obj: SimObject, now: float) -> Sequence[int]:
        """Indices of the runs created by ``now`` (history included), oldest first."""
        slots = self.index_range(obj, now)
        extra = self.extras.extra_indices(obj, now) if self.extras is not None else []
        if not extra and (obj.schedule is None or not obj.schedule.filtered):
            return slots
        indices = [k for k in slots if self.exists(obj, k)] + extra
        if extra:
            indices.sort(key=lambda k: (self.created(obj, k), k))
        return indices

    def created(self, obj: SimObject, k: int) -> float:
        """When run ``k`` is created (or would be, for a slot left out)."""
        s = obj.schedule
        if s is None:
            raise ValueError(f"object {obj.id} has no schedule")
        if k >= EXTRA_BASE and self.extras is not None:
            return _ms(self.extras.extra_plan(k)[0])
        shift = s.jitter * s.every * self._fraction(obj.id, k) if s.jitter else 0.0
        if k >= 0:
            created = self.epoch + s.offset + k * s.every + shift
        else:  # history: on the live runs' grid, the most recent slot that ends a second before the start
            created = self.epoch + _history_base(s) - (-k - 1) * s.every - shift
        return _ms(created)

    def exists(self, obj: SimObject, k: int) -> bool:
        """Whether slot ``k`` has a task (``until`` and ``days`` leave some out, and so does a CloudWorks
        run whose connector failed before it created the task: ``gaps``)."""
        s = obj.schedule
        if s is None:
            return False
        if k >= EXTRA_BASE:
            return True
        if s.gaps and s.gaps[k % len(s.gaps)]:
            return False
        return self.slot_exists(obj, k)

    def slot_exists(self, obj: SimObject, k: int) -> bool:
        """Whether slot ``k`` is a time something runs at (``until`` and ``days``), task or not."""
        s = obj.schedule
        if s is None:
            return False
        if s.until is None and s.days is None:
            return True
        created = self.created(obj, k)
        if s.until is not None and created >= self.epoch + s.until:
            return False
        return s.days is None or time.gmtime(created).tm_wday in s.days

    def _fraction(self, obj_id: str, k: int) -> float:
        """A number in [0, 1) fixed by the scenario's seed, the object and the slot (not the start time)."""
        digest = hashlib.blake2b(f"{self.scenario.seed}/{obj_id}/{k}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64

    def runs(self, ws_id: str, model_id: str, obj: SimObject, now: float) -> list[Run]:
        return [self.run(ws_id, model_id, obj, k) for k in self.indices(obj, now)]

    def task_id(self, ws_id: str, model_id: str, obj_id: str, index: int) -> str:
        data = f"{ws_id}/{model_id}/{obj_id}/{index}".encode()
        return hashlib.blake2b(data, key=self._key, digest_size=16).hexdigest().upper()

    def find_run(self, ws_id: str, model_id: str, obj: SimObject, task_id: str, now: float) -> Run | None:
        """The run with ``task_id`` among this object's runs created by ``now`` (task IDs are per object)."""
        if self.extras is not None:
            for k in self.extras.extra_indices(obj, now):
                if self.task_id(ws_id, model_id, obj.id, k) == task_id:
                    return self.run(ws_id, model_id, obj, k)
        indices = self.index_range(obj, now)
        if not indices:
            return None
        key = (ws_id, model_id, obj.id)
        with self._lock:
            known, filled = self._task_ids.get(key, ({}, indices.start - 1))
            for k in range(filled + 1, indices.stop):
                known[self.task_id(ws_id, model_id, obj.id, k)] = k
            self._task_ids[key] = (known, max(filled, indices.stop - 1))
            k_found = known.get(task_id)
        if k_found is None or k_found not in indices or not self.exists(obj, k_found):
            return None
        return self.run(ws_id, model_id, obj, k_found)

    def run(self, ws_id: str, model_id: str, obj: SimObject, k: int) -> Run:
        s = obj.schedule
        if s is None:
            raise ValueError(f"object {obj.id} has no schedule")
        if k >= EXTRA_BASE and self.extras is not None:
            created, outcome = self.extras.extra_plan(k)
            return self.plan(ws_id, model_id, obj, k, _ms(created), outcome)
        return self.plan(ws_id, model_id, obj, k, self.created(obj, k), s.outcomes[k % len(s.outcomes)])

    def plan(
        self, ws_id: str, model_id: str, obj: SimObject, k: int, created: float, outcome: Outcome
    ) -> Run:
        """Run ``k`` created at ``created`` with ``outcome``: its start, steps and end."""
        s = obj.schedule
        if s is None:
            raise ValueError(f"object {obj.id} has no schedule")
        started = _ms(created + s.start_delay)
        length = s.run_duration(k)
        scale = length / s.duration
        cancel_at = _ms(started + length / 2) if outcome is Outcome.CANCELLED else None
        ends = _ms(started + length)
        steps: list[StepRun] = []
        if obj.type is ObjectType.PROCESS:
            at = started
            for i, (step, planned) in enumerate(zip(obj.steps, s.step_durations, strict=True)):
                duration = planned * scale
                failing = outcome in (Outcome.FAILURE, Outcome.FAILURE_DUMP) and i == s.fail_step
                dump = failing and outcome is Outcome.FAILURE_DUMP
                steps.append(StepRun(step, _ms(at), duration, not failing, dump))
                at += duration
                if failing:
                    ends = _ms(at)
                    break
        if cancel_at is not None:
            ends = _ms(cancel_at + min(s.cancelling, length / 2))
        return Run(
            workspace_id=ws_id,
            model_id=model_id,
            obj=obj,
            index=k,
            task_id=self.task_id(ws_id, model_id, obj.id, k),
            created=created,
            started=started,
            ends=ends,
            outcome=outcome,
            cancel_at=cancel_at,
            steps=tuple(steps),
        )

    def view(self, run: Run, now: float) -> RunView:
        duration = run.obj.schedule.run_duration(run.index) if run.obj.schedule else 0.0
        if now < run.started:
            return RunView(run, TaskState.NOT_STARTED, 0.0)
        if now >= run.ends:
            if run.cancel_at is not None:
                return RunView(run, TaskState.CANCELLED, _progress(run.cancel_at - run.started, duration))
            return RunView(run, TaskState.COMPLETE, 1.0)
        if run.cancel_at is not None and now >= run.cancel_at:
            return RunView(run, TaskState.CANCELLING, _progress(run.cancel_at - run.started, duration))
        current = next((s.step for s in run.steps if now < s.start + s.duration), None)
        if current is None and run.steps:
            current = run.steps[-1].step
        return RunView(run, TaskState.IN_PROGRESS, _progress(now - run.started, duration), current)

    # ---- ground truth --------------------------------------------------------------------------------
    def scheduled(self) -> Iterator[tuple[SimWorkspace, SimModel, SimObject]]:
        for ws, model, obj in self.scenario.objects():
            if obj.schedule is not None:
                yield ws, model, obj

    def ground_truth(self, now: float) -> list[dict[str, Any]]:
        """Every task created by ``now`` (history included), oldest first per object."""
        return [
            truth(self.view(run, now))
            for ws, model, obj in self.scheduled()
            for run in self.runs(ws.id, model.id, obj, now)
        ]

    def finished_between(self, after: float, until: float) -> list[Run]:
        """Live (non-history) runs that reached a terminal state in ``(after, until]``, by finish time."""
        done: list[Run] = []
        for ws, model, obj in self.scheduled():
            s = obj.schedule
            assert s is not None
            base = self.epoch + s.offset
            first = max(0, math.ceil((after - s.length - s.jitter * s.every - base) / s.every) - 1)
            last = math.floor((until - base) / s.every)
            for k in range(first, last + 1):
                if not self.exists(obj, k):
                    continue
                run = self.run(ws.id, model.id, obj, k)
                if after < run.ends <= until:
                    done.append(run)
            for k in self.extras.extra_indices(obj, until) if self.extras is not None else []:
                run = self.run(ws.id, model.id, obj, k)
                if after < run.ends <= until:
                    done.append(run)
        done.sort(key=lambda r: (r.ends, r.task_id))
        return done


def _history_base(s: Schedule) -> float:
    """Seconds from the start to run -1: the latest slot of the ``offset`` grid whose run ends at least a
    second before the simulator starts (jitter moves history runs earlier, never later)."""
    latest = -1.0 - s.length
    return s.offset - s.every * math.ceil((s.offset - latest) / s.every)


def _progress(elapsed: float, duration: float) -> float:
    """A running task's progress, a double with two decimals as Anaplan shows it (never 1 before the end)."""
    if duration <= 0:
        return 0.0
    return min(round(max(elapsed, 0.0) / duration, 2), 0.99)


def outcome_label(run: Run) -> str:
    if run.outcome is Outcome.CANCELLED:
        return "cancelled"
    return "success" if run.outcome is Outcome.SUCCESS else "failure"


def truth(view: RunView) -> dict[str, Any]:
    """The ground-truth record of one task, as ``/__sim/ground-truth`` and ``--ground-truth`` give it."""
    run = view.run
    terminal = view.terminal
    failed = run.failed_step if terminal else None
    return {
        "object_type": run.obj.type.value,
        "workspace_id": run.workspace_id,
        "model_id": run.model_id,
        "object_id": run.obj.id,
        "object_name": run.obj.name,
        "task_id": run.task_id,
        "history": run.history,
        "creation_time": run.created,
        "start_time": run.started,
        "state": view.state.value,
        "progress": view.progress,
        "outcome": outcome_label(run) if terminal else None,
        "finish_time": run.ends if terminal else None,
        "failure_dump": terminal and run.outcome is Outcome.FAILURE_DUMP,
        "failed_step": failed.step.object_id if failed else None,
        "steps": [
            {
                "object_id": s.step.object_id,
                "name": s.step.name,
                "successful": s.successful,
                "start_time": s.start,
                "duration": s.duration,
                "failure_dump": s.failure_dump,
            }
            for s in (run.steps_ran() if terminal else ())
        ],
    }
