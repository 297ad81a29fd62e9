"""One watched CloudWorks integration or flow: its latest run, each finished run counted once, its schedule.

The integration and flow lists carry each one's ``latestRun`` (start, end, success, message, error code; no
run ID) and ``schedule``. A :class:`CloudWorksItem` takes in what each read of the lists says
(:meth:`CloudWorksItem.observe`) and decides what else to read (:meth:`CloudWorksItem.plan`), at most once per
run: the run history (the run's ID, and runs that finished unseen), the run's errors when it failed or partly
succeeded, an integration's Anaplan objects (``GET /integrations/{id}``, rarely), a flow's steps (``GET
/integrationflows/{id}``, when its run changes and while it runs).

**Counting once.** Runs of one integration do not overlap, so a run is known by its start: ``watermark`` is
the start of the newest run counted (or taken as history at the first look, which is never counted). A
finished run that started after it is counted, and the watermark moves up. Runs may finish unseen: the
exporter was down (a state file restores the watermark and counters), the lists could not be read for a
while, or runs ended between two reads. So when a new run shows in the list, the run history (read for its
ID anyway) comes first: every finished run after the watermark in its newest ``HISTORY_PAGE`` runs is counted
once, oldest first; the new run itself then counts when the list (or a history) shows it finished. Flows
have no run history in the API: a flow's runs are counted as the lists show them.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ..anaplan.cloudworks_models import Flow, Integration, Run, RunError, RunHistory, RunResult, Schedule
from ..anaplan.cloudworks_schedule import next_run, previous_run
from ..snapshot import CLOUDWORKS_RESULTS, CloudWorksRunError, CloudWorksStatus, CloudWorksStep

INTEGRATION = "integration"
FLOW = "flow"

HISTORY_PAGE = 20
"""Runs read from an integration's history when runs may have finished unseen (and for a run's ID)."""
SAME_START = 1.0
"""Seconds within which two reports of a run's start are the same run (history and list round alike)."""
MAX_ERROR_TEXT = 2000
"""Characters kept of one run error's text (the status page shows it; alerts cut it further)."""
MAX_RUN_ERRORS = 20
"""Run errors kept per failed run."""
ERRORS_READ_FOR = ("failure", "partial")
"""Results whose run errors are read (once per run): a failure's cause, a partial success's rejected rows."""

Scrub = Callable[[str], str]
CloudWorksKey = tuple[str, str]
"""``(kind, id)``: ``("integration", "4c3f…")`` or ``("flow", "9a1e…")``."""


@dataclass(frozen=True)
class CloudWorksState:
    """What an integration or flow keeps across restarts (``polling/state.py`` writes it)."""

    watermark: float | None = None
    """Start of the newest run counted or taken as history; None: no run seen yet (any run is new)."""
    completions: Mapping[str, int] = field(default_factory=dict)
    last_success: float | None = None
    last_failure: float | None = None
    errors_start: float | None = None
    """Start of the failed (or partial) run whose errors were read (they are not read again)."""
    run_errors: tuple[CloudWorksRunError, ...] = ()


@dataclass(frozen=True)
class FollowUp:
    """What one worker reads for one integration or flow (a plan taken on the scheduling thread)."""

    kind: str
    id: str
    history: bool = False
    run_start: float | None = None
    """The start of the latest run when the plan was made (the history read is for it)."""
    errors_for: float | None = None
    """The start of the failed run whose errors to read (its ID comes from the history)."""
    detail: bool = False


@dataclass(frozen=True)
class FollowUpResult:
    """What a follow-up read; ``error`` is the exception of the read that failed (the rest is what it got)."""

    plan: FollowUp
    history: RunHistory | None = None
    run_errors: tuple[RunError, ...] | None = None
    integration: Integration | None = None
    flow: Flow | None = None
    error: Exception | None = None


def same_start(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < SAME_START


def result_of(run: Run | None) -> str:
    """A run's result as the metrics name it (``running`` while unfinished, ``unknown`` when undecided)."""
    return "" if run is None else run.result.value


class CloudWorksItem:
    """One integration or flow. Not thread-safe: changed on the poller's scheduling thread only."""

    def __init__(self, kind: str, item_id: str, name: str = "") -> None:
        self.kind = kind
        self.id = item_id
        self.name = name
        self.type = "flow" if kind == FLOW else ""
        self.workspace_id = ""
        self.model_id = ""
        self.process_id = ""
        self.action_ids: tuple[str, ...] = ()
        self.step_ids: tuple[str, ...] | None = None
        """A flow's step integrations once its steps were read (None before)."""
        self.schedule: Schedule | None = None
        self.latest: Run | None = None
        """The latest run as listed (message scrubbed)."""
        self.latest_result = ""
        self.run_id = ""
        self.run_id_start: float | None = None
        self.history_start: float | None = None
        """The start of the latest run when the history was last read (it is read once per run)."""
        self.baseline = False
        self.gap = False
        """Runs may have finished unseen: read the history before counting."""
        self.watermark: float | None = None
        self.completions: dict[str, int] = dict.fromkeys(CLOUDWORKS_RESULTS, 0)
        self.last_success: float | None = None
        self.last_failure: float | None = None
        self.last_end: float | None = None
        self.errors_start: float | None = None
        self.run_errors: tuple[CloudWorksRunError, ...] = ()
        self.steps: tuple[CloudWorksStep, ...] = ()
        self.steps_for: tuple[float | None, float | None] | None = None
        """The (start, end) of the flow run the steps were read for."""
        self.steps_read_at = -math.inf
        self.detail_due = -math.inf
        """When ``GET /integrations/{id}`` (or ``/integrationflows/{id}``) is next read."""
        self._raw_message: str | None = None
        self._scrubbed = ""
        self._status: CloudWorksStatus | None = None
        self._times: tuple[Schedule | None, float | None, float | None] | None = None

    @property
    def key(self) -> CloudWorksKey:
        return (self.kind, self.id)

    @property
    def object_ids(self) -> tuple[str, ...]:
        """The Anaplan objects the integration runs (its process, the imports and exports of its jobs)."""
        ids = [self.process_id] if self.process_id else []
        return tuple(ids + [a for a in self.action_ids if a not in ids])

    @property
    def running(self) -> bool:
        return self.latest is not None and self.latest.end is None and self.latest_result == "running"

    # -- state file -------------------------------------------------------------------------------------

    def saved_state(self) -> CloudWorksState:
        return CloudWorksState(
            watermark=self.watermark,
            completions={k: v for k, v in self.completions.items() if v},
            last_success=self.last_success,
            last_failure=self.last_failure,
            errors_start=self.errors_start,
            run_errors=self.run_errors,
        )

    def restore(self, state: CloudWorksState) -> None:
        """Carry on from a saved state: runs that finished meanwhile are counted (after a history read)."""
        self.watermark = state.watermark
        self.completions = {**dict.fromkeys(CLOUDWORKS_RESULTS, 0), **state.completions}
        self.last_success = state.last_success
        self.last_failure = state.last_failure
        self.errors_start = state.errors_start
        self.run_errors = state.run_errors
        self.baseline = True
        self.gap = True
        self._status = None

    # -- the lists ----------------------------------------------------------------------------------------

    def observe_integration(self, integration: Integration, scrub: Scrub, continuous: bool) -> bool:
        self.name = integration.name
        self.type = integration.type.value
        self.workspace_id = integration.workspace_id
        self.model_id = integration.model_id
        self.process_id = integration.process_id
        self.schedule = integration.schedule
        return self._observe(integration.latest_run, scrub, continuous)

    def observe_flow(self, flow: Flow, scrub: Scrub, continuous: bool) -> bool:
        self.name = flow.name
        self.schedule = flow.schedule
        return self._observe(flow.latest_run, scrub, continuous)

    def _observe(self, run: Run | None, scrub: Scrub, continuous: bool) -> bool:
        """Take in the latest run as listed; True when a run started or ended since the last look (not at
        the first look)."""
        self._status = None
        before = self.latest
        if run is not None and run.message != self._raw_message:
            self._raw_message = run.message
            self._scrubbed = scrub(run.message)
        result = result_of(run)
        self.latest = None if run is None else replace(run, message=self._scrubbed)
        self.latest_result = result
        if self.run_id and not same_start(self.run_id_start, None if run is None else run.start):
            self.run_id, self.run_id_start = "", None
        changed = self.baseline and (
            (before is None) != (run is None)
            or (
                before is not None
                and run is not None
                and (not same_start(before.start, run.start) or (before.end is None) != (run.end is None))
            )
        )
        if not self.baseline:
            self._take_baseline(run)
            return False
        if run is None or run.start is None:
            return changed
        if not continuous:
            self.gap = True
        if self.kind == INTEGRATION:
            if self._is_new(run.start) and not same_start(self.history_start, run.start):
                self.gap = True  # a new run: the history read for its ID counts it and any that ended unseen
            if self.gap:
                if not self._is_new(run.start):
                    self.gap = False  # nothing after the watermark: nothing unseen
                return changed
        if run.end is not None and self._is_new(run.start):
            self._count(run.start, run.end, result)
        elif run.end is not None and (self.last_end is None or run.end > self.last_end):
            self.last_end = run.end
        return changed

    def _take_baseline(self, run: Run | None) -> None:
        """First look: a finished latest run is history (its outcome is kept, it is not counted); one still
        running is counted when it ends."""
        self.baseline = True
        if run is None or run.start is None:
            return
        self.history_start = run.start  # no history read for the ID of a run that was there before
        if run.end is None:
            self.watermark = run.start - SAME_START
            return
        self.watermark = run.start
        self._remember(result_of(run), run.end)

    def _is_new(self, start: float) -> bool:
        return self.watermark is None or (start > self.watermark and not same_start(start, self.watermark))

    def _count(self, start: float, end: float | None, result: str) -> None:
        self.watermark = start if self.watermark is None else max(self.watermark, start)
        if result in self.completions:
            self.completions[result] += 1
        self._remember(result, end)
        self._status = None

    def _remember(self, result: str, end: float | None) -> None:
        if end is None:
            return
        if self.last_end is None or end > self.last_end:
            self.last_end = end
        if result in ("success", "partial") and (self.last_success is None or end > self.last_success):
            self.last_success = end
        elif result == "failure" and (self.last_failure is None or end > self.last_failure):
            self.last_failure = end

    # -- follow-up reads ---------------------------------------------------------------------------------

    def plan(self, now: float, active_interval: float) -> FollowUp | None:
        """What to read now for this item, or None when nothing is needed."""
        run = self.latest
        start = None if run is None else run.start
        history = errors_for = None
        if self.kind == INTEGRATION and start is not None:
            unseen = self.gap and self._is_new(start)
            no_id = not same_start(self.history_start, start)
            erred = self.latest_result in ERRORS_READ_FOR and not same_start(self.errors_start, start)
            history = unseen or no_id or erred
            errors_for = start if erred else None
        detail = now >= self.detail_due
        if self.kind == FLOW and run is not None:
            stale = self.steps_for != (run.start, run.end)
            detail = detail or stale or (self.running and now - self.steps_read_at >= active_interval)
        if not (history or detail):
            return None
        return FollowUp(
            self.kind, self.id, history=bool(history), run_start=start, errors_for=errors_for, detail=detail
        )

    def next_follow_up(self, now: float, active_interval: float) -> float | None:
        """When :meth:`plan` next has something to do without a new read of the lists (None: not before)."""
        if self.plan(now, active_interval) is not None:
            return now
        due = self.detail_due
        if self.kind == FLOW and self.running:
            due = min(due, self.steps_read_at + active_interval)
        return due if math.isfinite(due) else None

    def apply(self, outcome: FollowUpResult, now: float, scrub: Scrub, detail_every: float) -> None:
        """Take in a follow-up's reads (on the scheduling thread)."""
        self._status = None
        plan = outcome.plan
        if outcome.history is not None:
            self._take_history(outcome.history, plan.run_start)
        if plan.errors_for is not None and outcome.run_errors is not None:
            self.errors_start = plan.errors_for
            self.run_errors = tuple(_run_error(e, scrub) for e in outcome.run_errors[:MAX_RUN_ERRORS])
        elif plan.errors_for is not None and outcome.history is not None and outcome.error is None:
            # The failed run is not in the history (yet): its errors cannot be read; do not ask again.
            self.errors_start, self.run_errors = plan.errors_for, ()
        if outcome.integration is not None:
            integration = outcome.integration
            self.action_ids = tuple(a for job in integration.jobs for a in job.action_ids)
            self.process_id = integration.process_id or self.process_id
        if outcome.flow is not None:
            self._take_steps(outcome.flow, now)
        if plan.detail and (outcome.integration is not None or outcome.flow is not None):
            self.detail_due = now + detail_every

    def _take_history(self, history: RunHistory, read_for: float | None) -> None:
        """Count what the history shows finished after the watermark; note the latest run's ID. The read
        covers the run that was latest when it was planned (a newer one needs a read of its own). The latest
        run, while the list shows it running, is left to the list even when the history shows it ended:
        counted with its result as the list shows it, never before the exported latest run says how it
        ended (a failure counted while its run still shows as running pages without its message)."""
        latest = self.latest
        start = None if latest is None else latest.start
        self.history_start = read_for
        for run in history.runs:
            if run.id and same_start(run.start, start):
                self.run_id, self.run_id_start = run.id, start
        listed_running = latest is not None and latest.end is None
        finished = sorted(
            (
                r
                for r in history.runs
                if r.start is not None
                and r.end is not None
                and self._is_new(r.start)
                and not (listed_running and same_start(r.start, start))
            ),
            key=lambda r: r.start or 0.0,
        )
        for run in finished:
            assert run.start is not None
            self._count(run.start, run.end, result_of(run))
        if not same_start(read_for, start):
            return  # a newer run showed meanwhile: its own history read comes next
        self.gap = False
        if latest is not None and latest.end is not None and start is not None and self._is_new(start):
            self._count(start, latest.end, self.latest_result)  # not finished in the page: counted as listed

    def _take_steps(self, flow: Flow, now: float) -> None:
        self.step_ids = tuple(step.integration_id for step in flow.steps)
        self.steps_read_at = now
        run = self.latest
        self.steps_for = None if run is None else (run.start, run.end)
        if run is None or run.start is None:
            self.steps = ()
            return
        steps = []
        for position, step in enumerate(flow.steps, 1):
            step_run = step.latest_run
            in_this_run = (
                step_run is not None
                and step_run.start is not None
                and step_run.start >= run.start - SAME_START
            )
            if step.is_skipped or (not in_this_run and run.end is not None):
                result = "skipped"
            elif not in_this_run or step_run is None:
                continue  # not started yet
            else:
                result = step_run.result.value
                if result == RunResult.UNKNOWN.value:
                    continue
            steps.append(CloudWorksStep(position, step.integration_id, step.name, result))
        self.steps = tuple(steps)

    # -- output ---------------------------------------------------------------------------------------

    def status(self, now: float) -> CloudWorksStatus:
        """An immutable view for the snapshot; cached until something changes or the schedule fires."""
        times = self._times
        if times is None or times[0] is not self.schedule or (times[1] is not None and now >= times[1]):
            self._times = times = (self.schedule, *_schedule_times(self.schedule, now))
            self._status = None
        if self._status is not None:
            return self._status
        ids = self.object_ids
        self._status = CloudWorksStatus(
            kind=self.kind,
            id=self.id,
            name=self.name,
            type=self.type,
            workspace_id=self.workspace_id,
            model_id=self.model_id,
            object_id=ids[0] if ids else "",
            object_ids=ids,
            schedule=self.schedule,
            latest_run=self.latest,
            latest_result=self.latest_result,
            run_id=self.run_id,
            last_end_time=self.last_end,
            last_success_time=self.last_success,
            last_failure_time=self.last_failure,
            completions=dict(self.completions),
            next_run_time=times[1],
            last_scheduled_time=times[2],
            steps=self.steps,
            run_errors=self.run_errors,
            run_errors_start=self.errors_start,
        )
        return self._status


def _schedule_times(schedule: Schedule | None, now: float) -> tuple[float | None, float | None]:
    """When the schedule next fires after ``now`` and when it last fired at or before it."""
    if schedule is None or not schedule.active:
        return None, None
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    after, before = next_run(schedule, moment), previous_run(schedule, moment)
    return (
        None if after is None else after.timestamp(),
        None if before is None else before.timestamp(),
    )


def _run_error(error: RunError, scrub: Scrub) -> CloudWorksRunError:
    text = "; ".join(m.message.strip() for m in error.messages if m.message.strip())
    return CloudWorksRunError(
        task_id=error.task_id,
        action_id=error.action_id,
        action_name=scrub(error.action_name),
        message=scrub(text)[:MAX_ERROR_TEXT],
    )
