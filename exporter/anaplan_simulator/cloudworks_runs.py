"""CloudWorks integration runs, computed lazily from the run engine like the Anaplan tasks they create.

A scheduled integration's run ``k`` is its object's run slot ``k``: it starts when the slot's task is
created and ends a second after the task ends (the connector writing the result back); its result follows
the task's (a successful import with rejected rows is CloudWorks' partial success, code 38). A slot whose
connector failed has a run that ends ``CONNECTOR_FAILURE_SECONDS`` after it started, with the cloud
store's own error text, and no Anaplan task.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from anaplan_exporter.anaplan.models import ObjectType

from .cloudworks_scenario import ConnectorFailure, SimIntegration
from .engine import Engine, Run
from .scenario import Outcome

CONNECTOR_FAILURE_SECONDS = 2.0
WRITE_BACK_SECONDS = 1.0
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

    def running(self, now: float) -> bool:
        return now < self.end


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

    def _hex(self, *parts: object) -> str:
        digest = self._key.copy()
        digest.update("/".join(str(p) for p in parts).encode())
        return digest.hexdigest()[:32]

    def runs(self, integration: SimIntegration, now: float) -> list[CloudWorksRun]:
        """Runs started by ``now``, oldest first."""
        if not integration.scheduled:
            return []
        obj = self._object(integration)
        runs = [
            self.run(integration, k)
            for k in self.engine.index_range(obj, now)
            if self.engine.slot_exists(obj, k)
        ]
        return [run for run in runs if run.start <= now]

    def all_runs(self, now: float) -> Iterator[CloudWorksRun]:
        for integration in self.spec.integrations:
            yield from self.runs(integration, now)

    def latest(self, integration: SimIntegration, now: float) -> CloudWorksRun | None:
        runs = self.runs(integration, now)
        return runs[-1] if runs else None

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
        obj = self._object(integration)
        run_id, trace_id = self._hex("run", integration.id, k), self._hex("trace", integration.id, k)
        failure = integration.failure(k)
        start = self.engine.created(obj, k)
        if failure is not ConnectorFailure.NONE:
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
                trigger_source="scheduled",
                task=None,
                connector_failure=failure,
            )
        task = self.engine.run(integration.workspace_id, integration.model_id, obj, k)
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
            trigger_source="scheduled",
            task=task,
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
            url = f"https://demostorage.blob.core.windows.net/{location}"
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
        }

    def finished_between(self, after: float, until: float) -> list[CloudWorksRun]:
        done = [run for run in self.all_runs(until) if after < run.end <= until]
        done.sort(key=lambda r: (r.end, r.id))
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
