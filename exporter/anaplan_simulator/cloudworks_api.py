"""The CloudWorks API v2 under ``/cloudworks/2/0`` (as Anaplan also serves it at
``https://api.anaplan.com/cloudworks/2/0``), shaped as the live-tested OpenAPI description records it.

Its quirks, on purpose: ``runs: {}`` (an empty object) when a run had no errors; ``latestRun`` and
``schedule`` absent when there are none; ``endDate`` (and ``lastRun``) absent while a run goes on; the
model ID upper case, every other ID lower case; ISO 8601 times with milliseconds; ``GET /integrations/{id}``
without ``integrationType``; the run's ``meta.schema`` citing ``1/0``; lists paged by ``offset``/``limit``
(25 without a limit) with ``meta.paging`` and no links; run history requiring both. A user without the
integration role (``cloudworks_role: false``) gets 403 everywhere.
"""

from __future__ import annotations

import time
from typing import Any

from anaplan_exporter.anaplan.models import ObjectType

from .cloudworks_runs import CloudWorksRun, CloudWorksRuns, FlowRun
from .cloudworks_scenario import CONNECTORS, SimFlow, SimIntegration
from .engine import Engine

PREFIX = "/cloudworks/2/0"
SCHEMA = "https://api.cloudworks.anaplan.com/2/0/integrations/objects/"
RUN_SCHEMA = "https://api.cloudworks.anaplan.com/1/0/integrations/objects/run"
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000
"""No published maximum; more is served as pages of this many (the client follows ``meta.paging``)."""
SUCCESS = {"code": 200, "message": "Success"}
_TYPES = {ObjectType.IMPORT: "Import", ObjectType.EXPORT: "Export", ObjectType.PROCESS: "Process"}


def kind_of(parts: list[str]) -> str:
    """The statistics name of a CloudWorks path (``parts`` after ``/cloudworks/2/0``)."""
    if parts == ["integrations"]:
        return "cloudworks_integrations"
    if parts == ["integrationflows"]:
        return "cloudworks_flows"
    if len(parts) == 2 and parts[0] == "integrationflows":
        return "cloudworks_flow"
    if len(parts) == 3 and parts[0] == "integrations":
        return {
            "runs": "cloudworks_run_history",
            "run": "cloudworks_run",
            "runerror": "cloudworks_run_errors",
        }.get(parts[1], "not_found")
    if len(parts) == 2 and parts[0] == "integrations":
        return "cloudworks_integration"
    return "not_found"


def iso(seconds: float) -> str:
    whole = int(seconds)
    millis = round((seconds - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def error(code: int, message: str, path: str) -> dict[str, Any]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + ".000Z"
    return {"status": {"code": code, "message": message}, "path": path, "timestamp": stamp}


class CloudWorksAPI:
    """Answers of one simulator's CloudWorks endpoints: (status, JSON body)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.runs = CloudWorksRuns(engine)
        self.created = engine.epoch - 30 * 86400  # integrations were set up a month before the start

    def answer(self, path: str, query: dict[str, list[str]], now: float) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path[len(PREFIX) :].split("/") if p]
        kind = kind_of(parts)
        if kind == "cloudworks_integrations":
            items = [self.integration_item(i, now) for i in self.runs.spec.integrations]
            return self.page(path, query, "integrations", items, tenant=True)
        if kind == "cloudworks_flows":
            items = [self.flow_item(f, now, detail=False) for f in self.runs.spec.flows]
            return self.page(path, query, "integrationFlows", items)
        if kind == "cloudworks_flow":
            flow = self.runs.flows.get(parts[1])
            if flow is None:
                return 404, error(404, "Resource not found", path)
            body = {"status": SUCCESS, "integrationFlow": self.flow_item(flow, now, detail=True)}
            return 200, {
                **body,
                "meta": {"schema": SCHEMA.replace("integrations/", "integrationflows/") + "integrationFlow"},
            }
        if kind == "cloudworks_integration":
            integration = self.runs.integrations.get(parts[1])
            if integration is None:
                return 404, error(404, "Resource not found", path)
            item = self.integration_item(integration, now)
            del item["integrationType"]  # the by-ID answer leaves it out
            item["version"] = "2.0"
            item["jobs"] = self.jobs(integration)
            return 200, {"status": SUCCESS, "integration": item}
        if kind == "cloudworks_run_history":
            return self.history(path, query, parts[2], now)
        if kind in ("cloudworks_run", "cloudworks_run_errors"):
            run = self.runs.find(parts[2], now)
            if run is None:
                return 404, error(404, "Resource not found", path)
            if kind == "cloudworks_run":
                return 200, {
                    "status": SUCCESS,
                    "run": self.run_status(run, now),
                    "meta": {"schema": RUN_SCHEMA},
                }
            return 200, {
                "status": SUCCESS,
                "runs": self.run_errors(run, now),
                "meta": {"schema": SCHEMA + "runerror"},
            }
        return 404, error(404, "Not Found", path)

    # ---- documents ---------------------------------------------------------------------------------
    def _audit(self, owner: str) -> dict[str, Any]:
        stamp = iso(self.created)
        return {"createdBy": owner, "creationDate": stamp, "modificationDate": stamp, "modifiedBy": owner}

    def integration_item(self, integration: SimIntegration, now: float) -> dict[str, Any]:
        item: dict[str, Any] = {
            "integrationId": integration.id,
            "name": integration.name,
            "integrationType": _TYPES[integration.object_type],
        }
        if integration.object_type is ObjectType.PROCESS:
            item["processId"] = integration.object_id
        item["workspaceId"] = integration.workspace_id
        item["modelId"] = integration.model_id.upper()
        item.update(self._audit(integration.owner))
        latest = self.runs.latest(integration, now)
        if latest is not None:
            item["latestRun"] = self.latest_run(latest, now)
        item["notificationId"] = self.runs._hex("notification", integration.id)
        item["nuxVisible"] = False
        if integration.schedule is not None:
            item["schedule"] = dict(integration.schedule)
        return item

    def jobs(self, integration: SimIntegration) -> list[dict[str, Any]]:
        """One job per Anaplan import/export it runs (a process: each of its import and export steps)."""
        to_anaplan, from_anaplan, store = CONNECTORS[integration.connector]
        if integration.object_type is ObjectType.PROCESS:
            obj = self.engine.object(integration.model_id, integration.object_id)
            assert obj is not None
            actions = [
                (s.object_id, s.action_type) for s in obj.steps if s.action_type in ("IMPORT", "EXPORT")
            ]
        else:
            actions = [(integration.object_id, integration.object_type.value.upper())]
        bucket, _, file = integration.location.partition("/")
        cloud: dict[str, Any] = {
            "type": store,
            "connectionId": integration.connection_id,
            "connectionName": f"{store} connection",
            "isConnectionDeleted": False,
        }
        if integration.connector == "google_bigquery":
            cloud["table"] = integration.location
        else:
            cloud.update(file=file or bucket, bucketName=bucket)
        jobs = []
        for action_id, action_type in actions:
            anaplan: dict[str, Any] = {"type": "Anaplan", "actionId": action_id}
            if action_type == "IMPORT":
                anaplan["fileId"] = "113" + action_id[3:]
                jobs.append({"type": to_anaplan, "sources": [dict(cloud)], "targets": [anaplan]})
            else:
                anaplan["fileId"] = action_id
                jobs.append(
                    {"type": from_anaplan, "sources": [anaplan], "targets": [dict(cloud, overwrite=True)]}
                )
        return jobs

    def _result_fields(self, run: CloudWorksRun, now: float) -> dict[str, Any]:
        fields: dict[str, Any] = {"startDate": iso(run.start)}
        if run.running(now):
            fields.update(success=False, message="Running", executionErrorCode=None)
        else:
            fields.update(
                endDate=iso(run.end),
                success=run.success,
                message=run.message,
                executionErrorCode=run.error_code,
            )
        return fields

    def latest_run(self, run: CloudWorksRun, now: float) -> dict[str, Any]:
        return {
            "triggeredBy": run.integration.owner,
            **self._result_fields(run, now),
            "triggerSource": run.trigger_source,
        }

    def flow_latest_run(self, run: FlowRun, now: float) -> dict[str, Any]:
        fields: dict[str, Any] = {"triggeredBy": run.flow.owner, "startDate": iso(run.start)}
        if run.running(now):
            fields.update(success=False, message="Running", executionErrorCode=None)
        else:
            code = 38 if run.result == "partial" else None
            message = "Success" if run.success else "Failed"
            fields.update(endDate=iso(run.end), success=run.success, message=message, executionErrorCode=code)
        fields["triggerSource"] = "scheduled"
        return fields

    def history_record(self, run: CloudWorksRun, now: float) -> dict[str, Any]:
        record: dict[str, Any] = {"id": run.id, "triggeredBy": run.integration.owner}
        if not run.running(now):
            record["lastRun"] = int(run.end)
        record.update(self._result_fields(run, now))
        record.update(traceId=run.trace_id, triggerSource=run.trigger_source)
        return record

    def run_status(self, run: CloudWorksRun, now: float) -> dict[str, Any]:
        status: dict[str, Any] = {"id": run.id, "integrationId": run.integration.id, "traceId": run.trace_id}
        status.update(self._result_fields(run, now))
        status.update(
            creationDate=iso(run.start),
            modificationDate=iso(run.start if run.running(now) else run.end),
            createdBy=run.integration.owner,
            modifiedBy=run.integration.owner,
            flowGroupId=run.flow_id or None,
            triggerSource=run.trigger_source,
        )
        return status

    def run_errors(self, run: CloudWorksRun, now: float) -> Any:
        """The failing action of a run; ``{}`` when it had none (or is still going)."""
        if run.running(now) or run.result in ("success", "cancelled"):
            return {}
        integration = run.integration
        task = run.task
        obj = self.engine.object(integration.model_id, integration.object_id)
        assert obj is not None
        action_id, action_name, dump = obj.id, obj.name, False
        if task is not None and task.failed_step is not None:
            action_id, action_name = task.failed_step.step.object_id, task.failed_step.step.name
            dump = task.failed_step.failure_dump
        elif task is not None:
            dump = task.outcome.value == "failure_dump"
        if task is None:
            messages = [
                {"localMessageText": run.message, "occurrences": 0, "type": "connectorError", "values": []}
            ]
        else:
            target = self.engine.object(integration.model_id, action_id) or obj
            rows = target.rows if run.result == "partial" else target.failure_rows
            if rows is not None and target.type is ObjectType.IMPORT:
                values = ["hierarchyName", rows.hierarchy, "successRowCount", str(rows.success)]
                values += ["failedCount", str(rows.failed), "ignoredCount", str(rows.ignored)]
                values += ["totalRowCount", str(rows.total)]
                text = f"{rows.hierarchy}: {rows.failed} (of {rows.total}) rows failed to load"
                messages = [
                    {
                        "localMessageText": text,
                        "occurrences": rows.failed,
                        "type": "hierarchyRowsProcessedWithFailures",
                        "values": values,
                    }
                ]
            else:
                messages = [
                    {"localMessageText": run.message, "occurrences": 0, "type": "actionFailed", "values": []}
                ]
        record: dict[str, Any] = {"id": run.id}
        if task is not None:
            record["taskId"] = task.task_id
        record["errorMessages"] = [
            {
                "errorMessage": messages,
                "actionId": action_id,
                "actionName": action_name,
                "failureDumpGenerated": dump,
            }
        ]
        record.update(creationDate=iso(run.end), createdBy=integration.owner)
        return [record]

    def flow_item(self, flow: SimFlow, now: float, detail: bool) -> dict[str, Any]:
        item: dict[str, Any] = {"id": flow.id, "name": flow.name, **self._audit(flow.owner)}
        item.update(nuxVisible=False, stepsCount=len(flow.steps))
        runs = [run for run in self.runs.flow_runs(flow, now) if run.start <= now]
        latest = runs[-1] if runs else None
        if latest is not None:
            item["latestRun"] = self.flow_latest_run(latest, now)
        if flow.schedule is not None:
            item["schedule"] = dict(flow.schedule)
        if not detail:
            return item
        item["version"] = "2.0"
        steps = []
        previous: str | None = None
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.created)) + ".000000+00:00"
        for step in flow.steps:
            integration = self.runs.integrations[step.integration_id]
            entry: dict[str, Any] = {
                "referrer": integration.id,
                "name": integration.name,
                "type": _TYPES[integration.object_type],
                "createdBy": flow.owner,
                "createdDate": stamp,
                "modifiedDate": stamp,
                "modifiedBy": None,
                "modelId": integration.model_id.upper(),
                "workspaceId": integration.workspace_id,
                "dependsOn": [previous] if previous else [],
                "isSkipped": step.skipped,
                "exceptionBehavior": [
                    {"type": "failure", "strategy": step.on_failure},
                    {"type": "partial_success", "strategy": step.on_partial},
                ],
            }
            ran = [
                step_run
                for flow_run in runs[::-1]
                for step_run in flow_run.steps
                if step_run.integration.id == integration.id
            ]
            if ran:
                entry["latestRun"] = self.latest_run(ran[0], now)
            steps.append(entry)
            previous = integration.id
        item["steps"] = steps
        return item

    # ---- lists -------------------------------------------------------------------------------------
    def _window(self, query: dict[str, list[str]], required: bool) -> tuple[int, int] | str:
        raw_offset, raw_limit = query.get("offset", [None])[-1], query.get("limit", [None])[-1]
        if required and (raw_offset is None or raw_limit is None):
            return "offset and limit are required"
        try:
            offset = int(raw_offset) if raw_offset is not None else 0
            limit = int(raw_limit) if raw_limit is not None else DEFAULT_LIMIT
        except ValueError:
            return "offset and limit must be integers"
        if offset < 0 or limit < 1:
            return "offset must be at least 0 and limit at least 1"
        return offset, min(limit, MAX_LIMIT)  # a larger limit gets a smaller page, as paging then says

    def page(
        self,
        path: str,
        query: dict[str, list[str]],
        key: str,
        items: list[dict[str, Any]],
        tenant: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        window = self._window(query, required=False)
        if isinstance(window, str):
            return 400, error(400, window, path)
        offset, limit = window
        chosen = items[offset : offset + limit]
        meta: dict[str, Any] = {
            "paging": {"currentPageSize": len(chosen), "totalSize": len(items), "offset": offset}
        }
        if tenant:
            meta.update(
                tenantCurrentCount=len(items) + len(self.runs.spec.flows),
                tenantMaxAllowed=self.runs.spec.tenant_max_allowed,
            )
        meta["schema"] = SCHEMA + key
        return 200, {"status": SUCCESS, key: chosen, "meta": meta}

    def history(
        self, path: str, query: dict[str, list[str]], integration_id: str, now: float
    ) -> tuple[int, dict[str, Any]]:
        integration = self.runs.integrations.get(integration_id)
        if integration is None:
            return 404, error(404, "Resource not found", path)
        window = self._window(query, required=True)
        if isinstance(window, str):
            return 400, error(400, window, path)
        offset, limit = window
        runs = self.runs.runs(integration, now)[::-1]  # newest first
        chosen = runs[offset : offset + limit]
        summary = self.integration_item(integration, now)
        history: dict[str, Any] = {
            "integrationId": integration.id,
            "name": integration.name,
            "integrationType": summary["integrationType"],
        }
        if "processId" in summary:
            history["processId"] = summary["processId"]
        history.update(
            version="2.0",
            schedule=dict(integration.schedule) if integration.schedule is not None else None,
            workspaceId=integration.workspace_id,
            modelId=integration.model_id.upper(),
            **self._audit(integration.owner),
            status=1,
            notificationId=summary["notificationId"],
            runs=[self.history_record(run, now) for run in chosen],
            totalRuns=len(runs),
        )
        paging = {"currentPageSize": len(chosen), "totalSize": len(runs), "offset": offset}
        return 200, {
            "status": SUCCESS,
            "history_of_runs": history,
            "meta": {"paging": paging, "schema": SCHEMA + "runs"},
        }
