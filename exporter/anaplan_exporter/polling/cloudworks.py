"""Watching CloudWorks: which integrations and flows, how often their lists are read, and what a 403 means.

The integration and flow lists carry every one's latest run and schedule, so one read of the two lists
(a page each at most tenants) shows every run's start and end: they are read every
``cloudworks.list_interval`` (5 s) at the poller's most urgent class, so a run shows on ``/metrics`` within
about 10 s however many Anaplan objects are watched. The lists share the Integration API's request budget;
the interval stretches so that they never take more than ``MAX_BUDGET_SHARE`` of it. What else a run needs
(its ID, its errors, a flow's steps, an integration's Anaplan objects) is read per item, once per run
(:mod:`.cloudworks_item`).

``cloudworks.enabled: auto`` reads CloudWorks when the user may: a 403 (the user lacks the integration role)
is one log line, ``anaplan_cloudworks_forbidden`` 1 and a line on the status page, and the Integration API
side carries on; the lists are tried again every discovery interval. ``true`` is the same, but the 403 is
an error and keeps ``anaplan_up`` at 0. ``false`` never asks.

With sharding, replica 0 watches CloudWorks as above. The other replicas watch it *for hints only*
(``hints_only``): they read the integration list alone (no flows), keep only the integrations in the models of
their own objects, and read such an integration's Anaplan objects (``GET /integrations/{id}``) once and every
``metadata_refresh_interval``, within their own budget share, so that a run's start or end polls the linked
object at once on whichever replica owns it. They read no history nor errors, count nothing, keep nothing in
the state file, export no series and report nothing (a 403 is one info line: replica 0 reports it).

The workers only read (:func:`read_lists`, :func:`follow_up`); everything here is changed on the poller's
scheduling thread.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from ..anaplan.cloudworks import CloudWorksAccessError
from ..anaplan.cloudworks_models import Flow, Integration, RunError, RunHistory
from ..config.cloudworks import CloudWorksConfig, CloudWorksMode, CloudWorksSelection
from ..snapshot import CloudWorksView
from .catalog_reads import retry_delay
from .cloudworks_item import (
    FLOW,
    HISTORY_PAGE,
    INTEGRATION,
    CloudWorksItem,
    CloudWorksKey,
    CloudWorksState,
    FollowUp,
    FollowUpResult,
    Scrub,
    same_start,
)
from .tracker import error_reason

log = logging.getLogger(__name__)

MAX_BUDGET_SHARE = 0.25
"""The most of the request budget the list reads may take; beyond it, they are read less often."""
GAP_AFTER_INTERVALS = 3.0
"""Lists not read for this many intervals (plus ``GAP_SLACK``): runs may have finished unseen."""
GAP_SLACK = 10.0


class CloudWorksReader(Protocol):
    """The CloudWorks calls the poller makes (``anaplan.cloudworks.CloudWorksClient`` provides them)."""

    @property
    def page_size(self) -> int: ...

    def list_integrations(self) -> list[Integration]: ...

    def integration(self, integration_id: str) -> Integration: ...

    def run_history(self, integration_id: str, *, offset: int = 0, limit: int = 10) -> RunHistory: ...

    def run_errors(self, run_id: str) -> list[RunError]: ...

    def list_flows(self) -> list[Flow]: ...

    def flow(self, flow_id: str) -> Flow: ...


@dataclass(frozen=True)
class ListsResult:
    """One read of the lists (``None``: not asked); ``error`` when it failed."""

    integrations: list[Integration] | None = None
    flows: list[Flow] | None = None
    error: Exception | None = None


def read_lists(reader: CloudWorksReader, config: CloudWorksConfig) -> ListsResult:
    """In a worker: the integration list (needed for flows chosen by ``targets`` too) and the flow list."""
    want_integrations = not config.integrations.empty or config.flows.targets
    try:
        integrations = reader.list_integrations() if want_integrations else None
        flows = reader.list_flows() if not config.flows.empty else None
    except Exception as exc:  # counted and shown; a bug must not stop the poller
        return ListsResult(error=exc)
    return ListsResult(integrations, flows)


def follow_up(reader: CloudWorksReader, plan: FollowUp) -> FollowUpResult:
    """In a worker: the reads one item's plan asks for; what succeeded before a failure is kept."""
    outcome = FollowUpResult(plan)
    try:
        if plan.history:
            history = reader.run_history(plan.id, offset=0, limit=HISTORY_PAGE)
            outcome = replace(outcome, history=history)
            if plan.errors_for is not None:
                run = next((r for r in history.runs if r.id and same_start(r.start, plan.errors_for)), None)
                if run is not None:
                    outcome = replace(outcome, run_errors=tuple(reader.run_errors(run.id)))
        if plan.detail:
            if plan.kind == INTEGRATION:
                outcome = replace(outcome, integration=reader.integration(plan.id))
            else:
                outcome = replace(outcome, flow=reader.flow(plan.id))
    except Exception as exc:
        return replace(outcome, error=exc)
    return outcome


@dataclass(frozen=True)
class ListsApplied:
    """What a read of the lists changed: integrations whose run started or ended (their Anaplan objects
    are polled at once), and the items to plan follow-up reads for."""

    changed: tuple[CloudWorksItem, ...] = ()
    items: tuple[CloudWorksItem, ...] = ()
    removed: tuple[CloudWorksKey, ...] = ()


class CloudWorksWatch:
    """The watched integrations and flows and the state of CloudWorks access. Scheduling thread only."""

    def __init__(
        self, config: CloudWorksConfig, scrub: Scrub, *, page_size: int = 5000, hints_only: bool = False
    ) -> None:
        self.config = config
        self.hints_only = hints_only
        """A replica other than 0: the integration list is read only to poll this replica's own objects when
        a linked integration's run starts or ends (see the module's docstring)."""
        self._scrub = scrub
        self._page_size = max(1, page_size)
        self.items: dict[CloudWorksKey, CloudWorksItem] = {}
        self.selected: set[CloudWorksKey] = set()
        self.readable = False
        """A read of the lists has succeeded since the start (``auto`` exports CloudWorks from then on)."""
        self.up = False
        self.forbidden = False
        self.forbidden_message = ""
        self.last_read: float | None = None
        self.last_error = ""
        self.errors: dict[str, int] = {}
        self.failures = 0
        """Failed reads of the lists in a row."""
        self._requests = 2
        """Requests the last read of the lists took (estimated from the page size)."""
        self._unmatched: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """Whether the lists are read: CloudWorks on, and (for hints) integrations selected."""
        if self.hints_only:
            return self.config.enabled and not self.config.integrations.empty
        return self.config.enabled

    @property
    def read_config(self) -> CloudWorksConfig:
        """What :func:`read_lists` is asked for: for hints, the integration list alone."""
        if self.hints_only:
            return replace(self.config, flows=CloudWorksSelection())
        return self.config

    def reconfigure(self, config: CloudWorksConfig) -> None:
        self.config = config
        if not self.enabled:
            self.items.clear()
            self.selected.clear()

    def interval(self, budget_interval: float | None) -> float:
        """Seconds until the next read of the lists: the configured interval, or longer so that the lists
        take no more than ``MAX_BUDGET_SHARE`` of the request budget."""
        floor = 0.0 if budget_interval is None else self._requests * budget_interval / MAX_BUDGET_SHARE
        return max(self.config.list_interval, floor)

    # -- the lists ----------------------------------------------------------------------------------------

    def lists_done(
        self,
        result: ListsResult,
        now: float,
        target_models: Collection[str],
        restore: Callable[[CloudWorksItem], object],
        own_models: Collection[str] = (),
    ) -> ListsApplied:
        """Take in a read of the lists: failure, or every item's latest run and which are selected. For hints,
        only the integrations in ``own_models`` (those of this replica's objects) are kept."""
        if result.error is not None:
            self._failed(result.error)
            return ListsApplied()
        if self.failures:
            log.info(
                "CloudWorks: the %s readable again", "integration list is" if self.hints_only else "lists are"
            )
        self.forbidden, self.forbidden_message, self.failures = False, "", 0
        continuous = self.last_read is not None and (
            now - self.last_read <= GAP_AFTER_INTERVALS * self.config.list_interval + GAP_SLACK
        )
        self.readable, self.up, self.last_read, self.last_error = True, True, now, ""
        integrations = result.integrations or []
        flows = result.flows or []
        self._requests = self._pages(result.integrations) + self._pages(result.flows)
        config = self.config
        models = {m.upper() for m in target_models}
        in_targets = {i.id for i in integrations if i.model_id and i.model_id.upper() in models}
        owned = {m.upper() for m in own_models}
        wanted: dict[CloudWorksKey, Integration | Flow] = {}
        matched: set[str] = set()
        for integration in integrations:
            if self.hints_only and integration.model_id.upper() not in owned:
                continue  # it cannot run an object of this replica
            if _chosen(config.integrations, integration.id, integration.name, matched) or (
                config.integrations.targets and integration.id in in_targets
            ):
                wanted[(INTEGRATION, integration.id)] = integration
        candidates: set[CloudWorksKey] = set()
        for flow in flows:
            key = (FLOW, flow.id)
            if _chosen(config.flows, flow.id, flow.name, matched):
                wanted[key] = flow
            elif config.flows.targets:
                item = self.items.get(key)
                steps = None if item is None else item.step_ids
                if steps is None:
                    candidates.add(key)  # its steps decide: read them first
                    wanted[key] = flow
                elif in_targets.intersection(steps):
                    wanted[key] = flow
        if not self.hints_only:
            self._report_unmatched(matched)
        removed = tuple(key for key in self.items if key not in wanted)
        for key in removed:
            del self.items[key]
        changed: list[CloudWorksItem] = []
        for key, listed in wanted.items():
            item = self.items.get(key)
            if item is None:
                item = self.items[key] = CloudWorksItem(key[0], key[1], listed.name)
                if not self.hints_only:
                    restore(item)
            if isinstance(listed, Integration):
                moved = item.observe_integration(listed, self._scrub, continuous)
            else:
                moved = item.observe_flow(listed, self._scrub, continuous)
            if moved:
                changed.append(item)
        self.selected = set(wanted) - candidates
        return ListsApplied(tuple(changed), tuple(self.items.values()), removed)

    def _pages(self, listed: list[Integration] | list[Flow] | None) -> int:
        """Requests one read of a list took (none when it was not asked for)."""
        return 0 if listed is None else max(1, math.ceil(len(listed) / self._page_size))

    def _failed(self, exc: Exception) -> None:
        """A failed read of the lists: counted, and logged once per spell of failures (a 403 as the one
        line saying that CloudWorks is left alone)."""
        reason = error_reason(exc)
        if reason == "stopped":
            return
        self.errors[reason] = self.errors.get(reason, 0) + 1
        self.up = False
        self.last_error = str(exc)
        self.failures += 1
        if self.hints_only:  # replica 0 reports CloudWorks; here only the hints stop
            if isinstance(exc, CloudWorksAccessError) and not self.forbidden:
                log.info(
                    "CloudWorks answers %s on this replica: its objects wait for their own polls when a "
                    "linked integration runs (replica 0 reports CloudWorks)",
                    exc.status,
                )
            elif not isinstance(exc, CloudWorksAccessError) and self.failures == 1:
                log.info("CloudWorks: reading the integration list for hints failed (%s): %s", reason, exc)
            self.forbidden = isinstance(exc, CloudWorksAccessError)
            return
        if isinstance(exc, CloudWorksAccessError):
            if not self.forbidden:
                required = self.config.mode is CloudWorksMode.ON
                self.forbidden_message = (
                    f"CloudWorks answers {exc.status}: {exc.message or 'forbidden'}; "
                    + (
                        "cloudworks.enabled is true, so anaplan_up stays 0 until the role is granted"
                        if required
                        else "carrying on with the Integration API alone (cloudworks.enabled: auto)"
                    )
                )
                log.log(logging.ERROR if required else logging.WARNING, "%s", self.forbidden_message)
            self.forbidden = True
        elif self.failures == 1:
            log.warning(
                "CloudWorks: reading the lists failed (%s): %s%s",
                reason,
                exc,
                "" if self.readable else "; trying again later, with the Integration API meanwhile",
            )

    def retry_in(self, interval: float, ceiling: float) -> float:
        """Seconds until the lists are read again: ``interval``; ``ceiling`` (the discovery interval) while
        CloudWorks refuses the user; backing off from 5 s up to it while, with ``auto``, CloudWorks was
        never readable."""
        if self.forbidden:
            return max(interval, ceiling)
        if not self.up and not self.readable and self.failures:
            return max(interval, retry_delay(self.failures, ceiling))
        return interval

    def _report_unmatched(self, matched: set[str]) -> None:
        configured = (*self.config.integrations.items, *self.config.flows.items)
        unmatched = tuple(ref for ref in configured if ref.casefold() not in matched)
        if unmatched and unmatched != self._unmatched:
            log.warning("CloudWorks: no integration or flow matches %s", ", ".join(map(repr, unmatched)))
        self._unmatched = unmatched

    # -- follow-ups ---------------------------------------------------------------------------------------

    def plan(self, item: CloudWorksItem, now: float, active_interval: float) -> FollowUp | None:
        """What to read now for ``item`` (None: nothing). For hints, only an integration's Anaplan objects,
        once and every ``detail_every``: no history, no errors, no flow steps."""
        if not self.hints_only:
            return item.plan(now, active_interval)
        if item.kind != INTEGRATION or now < item.detail_due:
            return None
        return FollowUp(INTEGRATION, item.id, detail=True)

    def next_follow_up(self, item: CloudWorksItem, now: float, active_interval: float) -> float | None:
        """When :meth:`plan` next has something to do for ``item`` without a new read of the lists."""
        if not self.hints_only:
            return item.next_follow_up(now, active_interval)
        if self.plan(item, now, active_interval) is not None:
            return now
        return item.detail_due if item.kind == INTEGRATION and math.isfinite(item.detail_due) else None

    def follow_up_done(
        self, outcome: FollowUpResult, now: float, detail_every: float
    ) -> CloudWorksItem | None:
        item = self.items.get((outcome.plan.kind, outcome.plan.id))
        if outcome.error is not None:
            reason = error_reason(outcome.error)
            if reason != "stopped":
                self.errors[reason] = self.errors.get(reason, 0) + 1
                level = logging.INFO if self.hints_only else logging.WARNING
                log.log(level, "CloudWorks: %s %s: %s", outcome.plan.kind, outcome.plan.id, outcome.error)
        if item is None:
            return None
        item.apply(outcome, now, self._scrub, detail_every)
        return item

    # -- output -------------------------------------------------------------------------------------------

    @property
    def exported(self) -> bool:
        """Whether CloudWorks series are shown: on, and (with ``auto``) readable at least once; never for
        hints (replica 0 shows them)."""
        return (
            not self.hints_only and self.enabled and (self.config.mode is CloudWorksMode.ON or self.readable)
        )

    @property
    def healthy(self) -> bool:
        """False when failing CloudWorks reads should keep ``anaplan_up`` at 0: required and not up, or
        (``auto``) readable once and now failing for another reason than a 403. Hints never are."""
        if not self.enabled or self.hints_only:
            return True
        if self.config.mode is CloudWorksMode.ON:
            return self.up
        return self.up or not self.readable or self.forbidden

    def view(self, now: float) -> CloudWorksView:
        if self.hints_only:
            return CloudWorksView(hints=self.enabled and self.readable and not self.forbidden)
        items = tuple(self.items[key].status(now) for key in self.items if key in self.selected)
        return CloudWorksView(
            enabled=self.exported,
            up=self.up,
            forbidden=self.forbidden,
            forbidden_message=self.forbidden_message,
            required=self.config.mode is CloudWorksMode.ON,
            last_read_time=self.last_read,
            errors=dict(self.errors),
            last_error=self.last_error,
            items=items,
            unmatched=self._unmatched,
        )

    def saved_states(self) -> dict[str, CloudWorksState]:
        """What the state file keeps: every item that has taken its first look (nothing for hints)."""
        if self.hints_only:
            return {}
        return {
            f"{kind}/{item_id}": item.saved_state()
            for (kind, item_id), item in self.items.items()
            if item.baseline
        }


def state_key(item: CloudWorksItem) -> str:
    return f"{item.kind}/{item.id}"


def _chosen(selection: CloudWorksSelection, item_id: str, name: str, matched: set[str]) -> bool:
    """Selected by ``"*"`` or by its ID or name; the configured references that match go to ``matched``."""
    hit = False
    for ref in selection.items:
        folded = ref.casefold()
        if folded == item_id.casefold() or (name and folded == name.casefold()):
            matched.add(folded)
            hit = True
    return hit or selection.all


def linked_keys(
    item: CloudWorksItem, watched: Iterable[tuple[str, str, str, str]]
) -> list[tuple[str, str, str, str]]:
    """The watched Anaplan objects (poller keys: workspace, model, type, object ID) the integration runs."""
    ids = set(item.object_ids)
    if item.kind != INTEGRATION or not ids:
        return []
    return [
        key
        for key in watched
        if key[3] in ids
        and key[1].upper() == item.model_id.upper()
        and (not item.workspace_id or key[0] == item.workspace_id)
    ]
