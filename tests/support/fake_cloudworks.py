"""An in-memory CloudWorks for poller tests: integrations, flows, run histories and run errors, no HTTP."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

from anaplan_exporter.anaplan.cloudworks import CloudWorksAccessError
from anaplan_exporter.anaplan.cloudworks_models import (
    Flow,
    FlowStep,
    Integration,
    IntegrationJob,
    IntegrationType,
    Run,
    RunError,
    RunHistory,
    Schedule,
    ScheduleType,
)
from anaplan_exporter.anaplan.errors import AnaplanError
from support.fake_anaplan import MODEL, WS


def done(start: float, end: float, ok: bool = True, **kw: object) -> Run:
    """A finished run (``ok`` False: failed)."""
    message = "Success" if ok else "Process failed"
    return Run(start=start, end=end, success=ok, message=message, **kw)  # type: ignore[arg-type]


def going(start: float) -> Run:
    return Run(start=start, trigger_source="scheduled")


def daily(at: str = "06:00", timezone: str = "Europe/London", active: bool = True) -> Schedule:
    hour, minute = (int(part) for part in at.split(":"))
    return Schedule(
        type=ScheduleType.DAILY,
        raw_type="daily",
        time=datetime.time(hour, minute),
        start_date=datetime.date(2026, 1, 5),
        timezone=timezone,
        active=active,
    )


def integration(
    integration_id: str,
    name: str,
    *,
    process_id: str = "",
    run: Run | None = None,
    schedule: Schedule | None = None,
    kind: IntegrationType = IntegrationType.PROCESS,
) -> Integration:
    return Integration(
        id=integration_id,
        name=name,
        type=kind,
        workspace_id=WS,
        model_id=MODEL,
        process_id=process_id,
        latest_run=run,
        schedule=schedule,
    )


@dataclass
class FakeCloudWorks:
    """The lists answer ``integrations`` and ``flows`` with their latest runs; every run goes to the history
    (newest first) when it is set with :meth:`run`. Calls are counted per endpoint."""

    integrations: dict[str, Integration] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    history: dict[str, list[Run]] = field(default_factory=dict)
    errors: dict[str, list[RunError]] = field(default_factory=dict)
    jobs: dict[str, tuple[IntegrationJob, ...]] = field(default_factory=dict)
    failing: AnaplanError | None = None
    calls: dict[str, int] = field(default_factory=dict)
    page_size: int = 5000

    def _call(self, endpoint: str) -> None:
        self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
        if self.failing is not None:
            raise self.failing

    def forbid(self) -> None:
        self.failing = CloudWorksAccessError(403, "Forbidden", "cloudworks_integrations")

    def add(self, item: Integration) -> None:
        self.integrations[item.id] = item
        if item.latest_run is not None:
            self.history.setdefault(item.id, []).insert(0, item.latest_run)

    def run(self, integration_id: str, run: Run, *, listed: bool = True) -> None:
        """A new run (or the latest run's new state): to the history, and to the list unless ``listed``
        is False."""
        runs = self.history.setdefault(integration_id, [])
        if runs and runs[0].start == run.start:
            runs[0] = run
        else:
            runs.insert(0, run)
        if listed:
            self.integrations[integration_id] = replace(self.integrations[integration_id], latest_run=run)

    def list_integrations(self) -> list[Integration]:
        self._call("integrations")
        return list(self.integrations.values())

    def integration(self, integration_id: str) -> Integration:
        self._call("integration")
        return replace(self.integrations[integration_id], jobs=self.jobs.get(integration_id, ()))

    def run_history(self, integration_id: str, *, offset: int = 0, limit: int = 10) -> RunHistory:
        self._call("history")
        runs = [
            replace(run, id=run.id or f"run-{integration_id}-{run.start:.0f}", integration_id=integration_id)
            for run in self.history.get(integration_id, [])
        ]
        return RunHistory(integration_id, tuple(runs[offset : offset + limit]), len(runs))

    def run_errors(self, run_id: str) -> list[RunError]:
        self._call("runerror")
        return list(self.errors.get(run_id, []))

    def list_flows(self) -> list[Flow]:
        self._call("flows")
        return [replace(flow, steps=()) for flow in self.flows.values()]

    def flow(self, flow_id: str) -> Flow:
        self._call("flow")
        return self.flows[flow_id]


def step(integration_id: str, name: str, run: Run | None = None, skipped: bool = False) -> FlowStep:
    return FlowStep(integration_id=integration_id, name=name, latest_run=run, is_skipped=skipped)
