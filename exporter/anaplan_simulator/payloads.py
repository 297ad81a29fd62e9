"""Integration API response bodies, shaped the way Anaplan sends them.

Deliberately Anaplan's quirks, not the client's convenience: ``duration``/``startTime`` are strings of
milliseconds, ``progress`` is an integer ``1`` on some completed tasks and ``1.0`` on imports, keys are
missing where Anaplan omits them (no ``currentStep`` before a task starts, no ``result`` before it ends,
no list key for an empty list), and row counts are a flat list of string key/value pairs.
"""

from __future__ import annotations

from typing import Any

from anaplan_exporter.anaplan.models import ObjectType, TaskState

from .engine import Run, RunView, StepRun
from .scenario import Outcome, RowCounts, SimModel, SimObject, SimWorkspace

SUCCESS_STATUS = {"code": 200, "message": "Success"}

_RUNNING_STEP = {
    ObjectType.IMPORT: "Importing data.",
    ObjectType.EXPORT: "Exporting data.",
    ObjectType.ACTION: "Deleting items.",
}


def schema(model_id: str | None, kind: str) -> str:
    if model_id is None:
        return f"https://api.anaplan.com/2/0/objects/{kind}"
    return f"https://api.anaplan.com//2/0/models/{model_id}/objects/{kind}"


def envelope(schema_url: str, **payload: Any) -> dict[str, Any]:
    return {"meta": {"schema": schema_url}, "status": dict(SUCCESS_STATUS), **payload}


def paged(
    schema_url: str, key: str, items: list[dict[str, Any]], offset: int, total: int, links: dict[str, str]
) -> dict[str, Any]:
    """A list page; the list key is left out when the page is empty, as Anaplan may do."""
    paging: dict[str, Any] = {"currentPageSize": len(items), "offset": offset, "totalSize": total, **links}
    body: dict[str, Any] = {"meta": {"paging": paging, "schema": schema_url}, "status": dict(SUCCESS_STATUS)}
    if items:
        body[key] = items
    return body


def error(code: int, message: str, path: str, timestamp: str) -> dict[str, Any]:
    return {"status": {"code": code, "message": message}, "path": path, "timestamp": timestamp}


def workspace_item(ws: SimWorkspace, tenant_details: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": ws.id, "name": ws.name, "active": ws.active}
    if tenant_details:
        item["sizeAllowance"] = 1073741824
        item["currentSize"] = 52428800 * max(len(ws.models), 1)
    return item


def model_item(ws: SimWorkspace, model: SimModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "name": model.name,
        "activeState": "UNLOCKED",
        "currentWorkspaceId": ws.id,
        "currentWorkspaceName": ws.name,
        "modelUrl": f"https://us1a.app.anaplan.com/core?selectedWorkspaceId={ws.id}&selectedModelId={model.id}",
        "categoryValues": [],
    }


def object_item(obj: SimObject) -> dict[str, Any]:
    item: dict[str, Any] = {"id": obj.id, "name": obj.name}
    if obj.code:
        item["code"] = obj.code
    if obj.type is ObjectType.IMPORT:
        item["importDataSourceId"] = obj.data_source_id
        item["importType"] = obj.import_type
    elif obj.type is ObjectType.EXPORT:
        item.update(
            exportType=obj.export_type, exportFormat=obj.export_format, encoding="UTF-8", layout="TABLE"
        )
    elif obj.type is ObjectType.ACTION:
        item["actionType"] = obj.action_type
    return item


def process_metadata(process: SimObject, model: SimModel) -> dict[str, Any]:
    actions: list[dict[str, Any]] = []
    for step in process.steps:
        action: dict[str, Any] = {"id": step.object_id, "name": step.name, "actionType": step.action_type}
        target = model.by_id.get(step.object_id)
        if target is not None and target.type is ObjectType.IMPORT:
            action.update(importDataSourceId=target.data_source_id, importType=target.import_type)
        elif target is not None and target.type is ObjectType.EXPORT:
            action.update(exportType=target.export_type, exportFormat=target.export_format)
        actions.append(action)
    return {"name": process.name, "actions": actions}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def task_summary(view: RunView) -> dict[str, Any]:
    return {"taskId": view.run.task_id, "taskState": view.state.value, "creationTime": _ms(view.run.created)}


def task_status(view: RunView, model: SimModel, process_details: bool) -> dict[str, Any]:
    """The ``task`` object of a task-status response, keys in the order of Anaplan's examples."""
    run = view.run
    task: dict[str, Any] = {"type": "taskInformation", "taskId": run.task_id}
    step = _current_step(view)
    if step is not None:
        task["currentStep"] = step
    if view.state is TaskState.COMPLETE:
        task["progress"] = 1.0 if run.obj.type is ObjectType.IMPORT else 1
    else:
        task["progress"] = view.progress
    if view.terminal:
        task["result"] = _result(run, model, process_details and run.obj.type is ObjectType.PROCESS)
    task["taskState"] = view.state.value
    task["creationTime"] = _ms(run.created)
    return task


def _current_step(view: RunView) -> str | None:
    run = view.run
    if view.state is TaskState.NOT_STARTED:
        return None
    if view.state is TaskState.COMPLETE:
        return "Complete." if run.successful else "Failed."
    if view.state is TaskState.CANCELLED:
        return "Cancelled."
    if view.state is TaskState.CANCELLING:
        return "Cancelling."
    if view.current_step is not None:
        return view.current_step.name
    return _RUNNING_STEP.get(run.obj.type, "Running.")


def _result(run: Run, model: SimModel, details: bool) -> dict[str, Any]:
    obj = run.obj
    cancelled = run.outcome is Outcome.CANCELLED
    result: dict[str, Any] = {}
    if obj.type is ObjectType.IMPORT and not cancelled:
        rows = obj.rows if run.successful else obj.failure_rows
        if rows is not None:
            result["details"] = import_details(rows)
    nested = (
        [_nested(step, model, details) for step in run.steps_ran()] if obj.type is ObjectType.PROCESS else []
    )
    result["failureDumpAvailable"] = run.outcome is Outcome.FAILURE_DUMP
    if obj.type is ObjectType.PROCESS:
        result["nestedResults"] = nested
    result["objectId"] = obj.id
    result["successful"] = run.successful
    if details:
        result["duration"] = str(_ms(run.ends) - _ms(run.started))
        result["startTime"] = str(_ms(run.started))
    return result


def _nested(step_run: StepRun, model: SimModel, details: bool) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    target = model.by_id.get(step_run.step.object_id)
    if target is not None and target.type is ObjectType.IMPORT:
        rows = target.rows if step_run.successful else target.failure_rows
        if rows is not None:
            nested["details"] = import_details(rows)
    nested["failureDumpAvailable"] = step_run.failure_dump
    nested["objectId"] = step_run.step.object_id
    nested["successful"] = step_run.successful
    if details:
        nested["duration"] = str(round(step_run.duration * 1000))
        nested["startTime"] = str(_ms(step_run.start))
    return nested


def import_details(rows: RowCounts) -> list[dict[str, Any]]:
    """``details`` of an import result: the flat ``values`` list of strings Anaplan uses."""
    counts = {
        "hierarchyName": rows.hierarchy,
        "successRowCount": rows.success,
        "successCreateCount": 0,
        "successUpdateCount": rows.success,
        "warningsRowCount": rows.warnings,
        "warningsCreateCount": 0,
        "warningsUpdateCount": rows.warnings,
        "failedCount": rows.failed,
        "ignoredCount": rows.ignored,
        "totalRowCount": rows.total,
        "totalCreateCount": 0,
        "totalUpdateCount": rows.success + rows.warnings,
        "invalidCount": rows.failed,
        "updatedCount": rows.success,
        "renamedCount": rows.success,
        "createdCount": 0,
    }
    values = [str(item) for pair in counts.items() for item in pair]
    message = f"{rows.hierarchy}: {rows.success} (0/{rows.success}) rows successful, {rows.ignored} ignored "
    details: list[dict[str, Any]] = [
        {"localMessageText": message, "occurrences": 0, "type": "hierarchyRowsProcessed", "values": values}
    ]
    if rows.failed:
        # A second, value-less entry: parsers must not assume every detail carries ``values``.
        details.append(
            {
                "localMessageText": f"{rows.failed} rows failed",
                "occurrences": rows.failed,
                "type": "rowsFailed",
            }
        )
    return details
