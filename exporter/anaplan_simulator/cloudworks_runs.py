"""CloudWorks integration runs, computed lazily from the run engine like the Anaplan tasks they create.

A scheduled integration's run ``k`` is its object's run slot ``k``: it starts when the slot's task is
created and ends a second after the task ends (the connector writing the result back); its result follows
the task's (a successful import with rejected rows is CloudWorks' partial success, code 38). A slot whose
connector failed has a run that ends ``CONNECTOR_FAILURE_SECONDS`` after it started, with the cloud
store's own error text, and no Anaplan task.

Manual runs and flow runs create tasks outside the object's slots: the engine asks this module for them
(``extra_indices``, ``extra_plan``; run indices from ``EXTRA_BASE`` on encode the integration, the source
(0 manual, n + 1 flow n) and the run number). A flow run starts its steps one after the other, each a
second after the one before ended, and runs no more steps after a failure (or partial success) whose
``exceptionBehavior`` says stop.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from anaplan_exporter.anaplan.models import ObjectType

from .cloudworks_scenario import (
    CONNECTOR_FAILURE_SECONDS,
    FLOW_STEP_GAP,
    WRITE_BACK_SECONDS,
    ConnectorFailure,
    SimFlow,
    SimIntegration,
)
from .engine import Engine, Run
from .scenario import EXTRA_BASE, Outcome, SimObject

PARTIAL_SUCCESS_CODE = 38
DATA_TYPE_MISMATCH_CODE = 12
"""The codes CloudWorks is seen to send (its documentation gives no list). The simulator sends 35 for a
file missing in the bucket and 39 for expired connector credentials: codes seen live whose meaning is not
published, so a client must not read more into them than "failed"."""
FILE_MISSING_CODE = 35
EXPIRED_CREDENTIALS_CODE = 39


@dataclass(frozen=True)
class CloudWorksRun:
    integration: SimIntegration
    index: int
    id: str
    trace_id: str
    start: float
    end: float
    success: bool
    message: str
    error_code: int | None
    result: str  # success, partial, failure, cancelled
    trigger_source: str
    task: Run | None  # the Anaplan task it created; None when the connector failed first
    connector_failure: ConnectorFailure = ConnectorFailure.NONE
    flow_id: str = ""

    def running(self, now: float) -> bool:
        return now < self.end


@dataclass(frozen=True)
class FlowRun:
    flow: SimFlow
    index: int
    start: float
    end: float
    steps: tuple[CloudWorksRun, ...]  # the steps that ran, in order
    stopped_after: str  # the integration ID whose failure stopped the flow; '' when none did

    @property
    def success(self) -> bool:
        return all(run.result in ("success", "partial") for run in self.steps)

    @property
    def result(self) -> str:
        if not self.success:
            return "failure"
        return "partial" if any(run.result == "partial" for run in self.steps) else "success"

    def running(self, now: float) -> bool:
        return now < self.end


_SOURCE_BITS, _INDEX_BITS = 8, 24


class CloudWorksRuns:
    """The runs of the scenario's integrations, by ID and by integration."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.spec = engine.scenario.cloudworks
        self.integrations = {i.id: i for i in self.spec.integrations}
        self.flows = {f.id: f for f in self.spec.flows}
        self._key = hashlib.blake2b(
            f"cloudworks:{engine.scenario.seed}:{engine.epoch}".encode(), digest_size=16
        )
        self._by_id: dict[str, tuple[str, int]] = {}
        self._numbers = {integration.id: n for n, integration in enumerate(self.spec.integrations)}
        self._linked: dict[int, list[SimIntegration]] = {}
        for integration in self.spec.integrations:
            self._linked.setdefault(id(self._object(integration)), []).append(integration)
        self._flow_runs: dict[tuple[int, int], FlowRun] = {}
        engine.extras = self

    # ---- tasks outside the slots (the engine's ExtraTasks) --------------------------------------------
    def _encode(self, integration: SimIntegration, source: int, j: int) -> int:
        number = self._numbers[integration.id]
        return EXTRA_BASE + (((number << _SOURCE_BITS) + source) << _INDEX_BITS) + j

    def _decode(self, k: int) -> tuple[SimIntegration, int, int]:
        rest = k - EXTRA_BASE
        j, rest = rest & ((1 << _INDEX_BITS) - 1), rest >> _INDEX_BITS
        source, number = rest & ((1 << _SOURCE_BITS) - 1), rest >> _SOURCE_BITS
        return self.spec.integrations[number], source, j

    def extra_indices(self, obj: SimObject, now: float) -> list[int]:
        indices = []
        for integration in self._linked.get(id(obj), []):
            indices += [run.index for run in self._extra_runs(integration, now) if run.task is not None]
        return indices

    def extra_plan(self, k: int) -> tuple[float, Outcome]:
        integration, _, _ = self._decode(k)
        run = self.run(integration, k)
        assert run.task is not None, k
        return run.task.created, run.task.outcome

    def _extra_runs(self, integration: SimIntegration, now: float) -> list[CloudWorksRun]:
        """Its manual runs and flow step runs started by ``now``."""
        runs = [
            self.run(integration, self._encode(integration, 0, i))
            for i, (at, _) in enumerate(integration.manual)
            if self.engine.epoch + at <= now
        ]
        for number, flow in enumerate(self.spec.flows):
            if not any(step.integration_id == integration.id for step in flow.steps):
                continue
            for j in self._flow_indices(flow, now):
                runs += [r for r in self.flow_run(number, j).steps if r.integration.id == integration.id]
        return [run for run in runs if run.start <= now]

    def _latest_extra_runs(self, integration: SimIntegration, now: float) -> list[CloudWorksRun]:
        """Its manual runs started by ``now``, and its latest step run of each flow: the newest flow run in
        which its step started by ``now`` (flow runs start one after the other)."""
        runs = [
            self.run(integration, self._encode(integration, 0, i))
            for i, (at, _) in enumerate(integration.manual)
            if self.engine.epoch + at <= now
        ]
        for number, flow in enumerate(self.spec.flows):
            if not any(step.integration_id == integration.id for step in flow.steps):
                continue
            for j in reversed(self._flow_indices(flow, now)):
                ran = [r for r in self.flow_run(number, j).steps if r.integration.id == integration.id]
                if ran and ran[0].start <= now:
                    runs.append(ran[0])
                    break
        return [run for run in runs if run.start <= now]

    def _flow_indices(self, flow: SimFlow, now: float) -> range:
        if flow.every is None:
            return range(0)
        since = now - self.engine.epoch - flow.offset
        return range(0, int(since // flow.every) + 1 if since >= 0 else 0)

    def flow_runs(self, flow: SimFlow, now: float) -> list[FlowRun]:
        number = self.spec.flows.index(flow)
        return [self.flow_run(number, j) for j in self._flow_indices(flow, now)]

    def flow_runs_newest_first(self, flow: SimFlow, now: float) -> Iterator[FlowRun]:
        """``flow_runs(flow, now)`` newest first, built only as far back as the caller reads."""
        number = self.spec.flows.index(flow)
        for j in reversed(self._flow_indices(flow, now)):
            run = self.flow_run(number, j)
            if run.start <= now:
                yield run

    def flow_run(self, number: int, j: int) -> FlowRun:
        cached = self._flow_runs.get((number, j))
        if cached is not None:
            return cached
        flow = self.spec.flows[number]
        assert flow.every is not None
        start = self.engine.epoch + flow.offset + j * flow.every
        at, stopped_after = start, ""
        runs: list[CloudWorksRun] = []
        for step in flow.steps:
            if step.skipped or stopped_after:
                continue
            integration = self.integrations[step.integration_id]
            outcome = step.outcomes[j % len(step.outcomes)]
            k = self._encode(integration, number + 1, j)
            run = self._made(integration, k, at, outcome, "scheduled_inf", flow.id)
            runs.append(run)
            if (run.result in ("failure", "cancelled") and step.on_failure == "stop") or (
                run.result == "partial" and step.on_partial == "stop"
            ):
                stopped_after = integration.id
            at = run.end + FLOW_STEP_GAP
        end = runs[-1].end if runs else start
        plan = FlowRun(flow, j, start, end, tuple(runs), stopped_after)
        self._flow_runs[(number, j)] = plan
        return plan

    def flow_truth(self, run: FlowRun) -> dict[str, Any]:
        """The ground-truth record of a finished flow run (``record: cloudworks_flow_run``)."""
        return {
            "record": "cloudworks_flow_run",
            "flow_id": run.flow.id,
            "flow_name": run.flow.name,
            "start_time": run.start,
            "finish_time": run.end,
            "success": run.success,
            "result": run.result,
            "steps": [
                {"integration_id": r.integration.id, "run_id": r.id, "result": r.result} for r in run.steps
            ],
            "stopped_after": run.stopped_after or None,
        }

    def _hex(self, *parts: object) -> str:
        digest = self._key.copy()
        digest.update("/".join(str(p) for p in parts).encode())
        return digest.hexdigest()[:32]

    def runs(self, integration: SimIntegration, now: float) -> list[CloudWorksRun]:
        """Runs started by ``now``, oldest first."""
        runs = self._extra_runs(integration, now)
        if integration.scheduled:
            obj = self._object(integration)
            runs += [
                self.run(integration, k)
                for k in self.engine.index_range(obj, now)
                if self.engine.slot_exists(obj, k)
            ]
        runs = [run for run in runs if run.start <= now]
        runs.sort(key=lambda run: (run.start, run.index))
        return runs

    def all_runs(self, now: float) -> Iterator[CloudWorksRun]:
        for integration in self.spec.integrations:
            yield from self.runs(integration, now)

    def latest(self, integration: SimIntegration, now: float) -> CloudWorksRun | None:
        """``runs(integration, now)[-1]``, without building every run since the start: a scheduled run's
        start grows with its slot, so the newest slot that has a run is the latest scheduled one. (The lists
        answer this for every integration at every read: it must not grow with the simulator's uptime.)"""
        candidates = self._latest_extra_runs(integration, now)
        if integration.scheduled:
            obj = self._object(integration)
            for k in reversed(self.engine.index_range(obj, now)):
                if self.engine.slot_exists(obj, k):
                    run = self.run(integration, k)
                    if run.start <= now:
                        candidates.append(run)
                        break
        return max(candidates, key=lambda run: (run.start, run.index), default=None)

    def find(self, run_id: str, now: float) -> CloudWorksRun | None:
        found = self._by_id.get(run_id)
        if found is None:
            for run in self.all_runs(now):
                self._by_id[run.id] = (run.integration.id, run.index)
            found = self._by_id.get(run_id)
        if found is None:
            return None
        run = self.run(self.integrations[found[0]], found[1])
        return run if run.start <= now else None

    def _object(self, integration: SimIntegration) -> Any:
        obj = self.engine.object(integration.model_id, integration.object_id, integration.workspace_id)
        assert obj is not None, integration.object_id
        return obj

    def run(self, integration: SimIntegration, k: int) -> CloudWorksRun:
        """Run ``k``: a slot of its object (scheduled), a manual run or a flow step (``k >= EXTRA_BASE``)."""
        if k >= EXTRA_BASE:
            _, source, j = self._decode(k)
            if source == 0:
                at, outcome = integration.manual[j]
                return self._made(integration, k, self.engine.epoch + at, outcome, "manual", "")
            flow_run = self.flow_run(source - 1, j)
            return next(run for run in flow_run.steps if run.integration.id == integration.id)
        obj = self._object(integration)
        start = self.engine.created(obj, k)
        failure = integration.failure(k)
        task = None
        if failure is ConnectorFailure.NONE:
            task = self.engine.run(integration.workspace_id, integration.model_id, obj, k)
        return self._finished(integration, k, start, failure, task, "scheduled", "")

    def _made(
        self, integration: SimIntegration, k: int, start: float, outcome: str, trigger: str, flow_id: str
    ) -> CloudWorksRun:
        """A manual or flow run starting at ``start``: its task planned with ``outcome``, or none when the
        outcome is a connector failure."""
        start = round(start * 1000) / 1000
        if outcome in (ConnectorFailure.FILE_MISSING.value, ConnectorFailure.EXPIRED_CREDENTIALS.value):
            return self._finished(integration, k, start, ConnectorFailure(outcome), None, trigger, flow_id)
        obj = self._object(integration)
        task = self.engine.plan(
            integration.workspace_id, integration.model_id, obj, k, start, Outcome(outcome)
        )
        return self._finished(integration, k, start, ConnectorFailure.NONE, task, trigger, flow_id)

    def _finished(
        self,
        integration: SimIntegration,
        k: int,
        start: float,
        failure: ConnectorFailure,
        task: Run | None,
        trigger: str,
        flow_id: str,
    ) -> CloudWorksRun:
        run_id, trace_id = self._hex("run", integration.id, k), self._hex("trace", integration.id, k)
        if task is None:
            return CloudWorksRun(
                integration=integration,
                index=k,
                id=run_id,
                trace_id=trace_id,
                start=start,
                end=start + CONNECTOR_FAILURE_SECONDS,
                success=False,
                message=self.connector_message(integration, failure),
                error_code=FILE_MISSING_CODE
                if failure is ConnectorFailure.FILE_MISSING
                else EXPIRED_CREDENTIALS_CODE,
                result="failure",
                trigger_source=trigger,
                task=None,
                connector_failure=failure,
                flow_id=flow_id,
            )
        success, message, code, result = _outcome(task)
        return CloudWorksRun(
            integration=integration,
            index=k,
            id=run_id,
            trace_id=trace_id,
            start=start,
            end=task.ends + WRITE_BACK_SECONDS,
            success=success,
            message=message,
            error_code=code,
            result=result,
            trigger_source=trigger,
            task=task,
            flow_id=flow_id,
        )

    def sas_signature(self, integration: SimIntegration) -> str:
        """A made-up SAS ``sig`` value (URL-encoded base64, as Azure writes it): a secret to scrub."""
        raw = hashlib.sha256(f"sas:{self.engine.scenario.seed}:{integration.id}".encode()).digest()
        return base64.b64encode(raw).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")

    def connector_message(self, integration: SimIntegration, failure: ConnectorFailure) -> str:
        """The cloud store's error text, as CloudWorks passes it on."""
        location = integration.location
        if integration.connector == "amazon_s3":
            if failure is ConnectorFailure.FILE_MISSING:
                return (
                    "The specified key does not exist. (Service: Amazon S3; Status Code: 404; "
                    f"Error Code: NoSuchKey) s3://{location}"
                )
            return (
                "The provided token has expired. (Service: Amazon S3; Status Code: 400; "
                "Error Code: ExpiredToken)"
            )
        if integration.connector == "azure_blob":
            url = f"https://planningexports.blob.core.windows.net/{location}"
            if failure is ConnectorFailure.FILE_MISSING:
                return f"The specified blob does not exist. ErrorCode: BlobNotFound. {url}"
            return (
                "Server failed to authenticate the request. Signed expiry time has passed. "
                f"ErrorCode: AuthenticationFailed. {url}?sv=2022-11-02&ss=b&srt=co&sp=rwl"
                f"&se=2026-01-01T00%3A00%3A00Z&sig={self.sas_signature(integration)}"
            )
        if failure is ConnectorFailure.FILE_MISSING:
            return f"Not found: Table {location} was not found in location EU"
        return "invalid_grant: Token has been expired or revoked."

    def truth(self, run: CloudWorksRun) -> dict[str, Any]:
        """The ground-truth record of a finished CloudWorks run (``record: cloudworks_run``)."""
        return {
            "record": "cloudworks_run",
            "run_id": run.id,
            "integration_id": run.integration.id,
            "integration_name": run.integration.name,
            "object_id": run.integration.object_id,
            "model_id": run.integration.model_id,
            "workspace_id": run.integration.workspace_id,
            "trigger_source": run.trigger_source,
            "start_time": run.start,
            "finish_time": run.end,
            "success": run.success,
            "result": run.result,
            "execution_error_code": run.error_code,
            "message": run.message,
            "task_id": run.task.task_id if run.task else None,
            "connector_failure": run.connector_failure.value,
            "flow_id": run.flow_id or None,
        }

    def finished_between(self, after: float, until: float) -> list[CloudWorksRun]:
        """Runs that ended in ``(after, until]``, by end: the scheduled ones from the slots that can end
        after ``after`` only (the ground-truth log asks every half second, for ever)."""
        done: list[CloudWorksRun] = []
        for integration in self.spec.integrations:
            candidates = self._extra_runs(integration, until)
            if integration.scheduled:
                obj = self._object(integration)
                indices = self.engine.index_range(obj, until)
                for k in range(self._first_ending_after(obj, indices, after), indices.stop):
                    if self.engine.slot_exists(obj, k):
                        candidates.append(self.run(integration, k))
            done += [run for run in candidates if run.start <= until and after < run.end <= until]
        done.sort(key=lambda r: (r.end, r.id))
        return done

    def _first_ending_after(self, obj: SimObject, indices: range, after: float) -> int:
        """The first slot of ``indices`` whose run may end after ``after`` (one slot early, to be safe): a
        slot's run ends at most ``longest`` after its creation, and creation grows with the slot."""
        schedule = obj.schedule
        assert schedule is not None
        longest = max(schedule.length + WRITE_BACK_SECONDS, CONNECTOR_FAILURE_SECONDS) + 1.0
        low, high = indices.start, indices.stop
        while low < high:  # the first k with created(k) + longest > after
            middle = (low + high) // 2
            if self.engine.created(obj, middle) + longest > after:
                high = middle
            else:
                low = middle + 1
        return max(indices.start, low - 1)

    def flows_finished_between(self, after: float, until: float) -> list[FlowRun]:
        done = [
            run for flow in self.spec.flows for run in self.flow_runs(flow, until) if after < run.end <= until
        ]
        done.sort(key=lambda r: (r.end, r.flow.id))
        return done


def _outcome(task: Run) -> tuple[bool, str, int | None, str]:
    """(success, message, executionErrorCode, result) of a run whose task ended as ``task`` plans."""
    obj = task.obj
    if task.outcome is Outcome.CANCELLED:
        return False, "Cancelled", None, "cancelled"
    if task.outcome is Outcome.SUCCESS:
        rows = obj.rows if obj.type is ObjectType.IMPORT else None
        if rows is not None and rows.failed:
            message = (
                f"Total rows: {rows.total}, successful: {rows.success}, failed: {rows.failed}, "
                f"ignored: {rows.ignored}"
            )
            return True, message, PARTIAL_SUCCESS_CODE, "partial"
        return True, "Success", None, "success"
    code = DATA_TYPE_MISMATCH_CODE if obj.type is ObjectType.IMPORT else None
    return False, "Process failed", code, "failure"
