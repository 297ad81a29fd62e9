"""An in-memory Anaplan for poller, tracker and collector tests: no HTTP, fully controlled by the test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from anaplan_exporter.anaplan.errors import AnaplanError, AnaplanNotFoundError
from anaplan_exporter.anaplan.models import (
    Model,
    ModelObject,
    ObjectType,
    ProcessMetadata,
    ProcessStep,
    Task,
    TaskResult,
    TaskState,
    TaskSummary,
    Workspace,
)
from anaplan_exporter.snapshot import ObjectRef

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"


def ref(object_id: str = "118000000002", kind: ObjectType = ObjectType.PROCESS, **kw: object) -> ObjectRef:
    defaults: dict[str, object] = {
        "workspace_id": WS,
        "workspace_name": "Finance",
        "model_id": MODEL,
        "model_name": "Planning",
        "object_type": kind,
        "object_id": object_id,
        "object_name": f"name-{object_id}",
    }
    defaults.update(kw)
    return ObjectRef(**defaults)  # type: ignore[arg-type]


def finished(task_id: str, created: float, ok: bool = True, **result: object) -> Task:
    return Task(
        task_id=task_id,
        state=TaskState.COMPLETE,
        progress=1.0,
        current_step="Complete." if ok else "Failed.",
        creation_time=created,
        result=TaskResult(successful=ok, **result),  # type: ignore[arg-type]
    )


def running(task_id: str, created: float, progress: float = 0.5) -> Task:
    return Task(task_id=task_id, state=TaskState.IN_PROGRESS, progress=progress, creation_time=created)


@dataclass
class FakeAnaplan:
    """Tasks by object ID; counts every call so tests can assert what was (not) fetched."""

    tasks: dict[str, list[Task]] = field(default_factory=dict)
    objects: dict[ObjectType, list[ModelObject]] = field(default_factory=dict)
    steps: dict[str, tuple[ProcessStep, ...]] = field(default_factory=dict)
    failing: dict[str, AnaplanError] = field(default_factory=dict)
    list_calls: int = 0
    paged: bool = False
    """List as ``AnaplanClient.list_tasks`` does on Anaplan: newest first, ``limit`` runs a page, only back
    to ``since``. Otherwise every call answers the whole list (as for a server that ignores ``sort``)."""
    pages_read: int = 0
    status_calls: list[str] = field(default_factory=list)
    token_expires_at: float | None = 2_000_000_000.0

    def add(self, object_id: str, *tasks: Task) -> None:
        self.tasks.setdefault(object_id, []).extend(tasks)

    def set(self, object_id: str, task: Task) -> None:
        items = self.tasks.setdefault(object_id, [])
        self.tasks[object_id] = [task if t.task_id == task.task_id else t for t in items]
        if task.task_id not in [t.task_id for t in items]:
            self.tasks[object_id].append(task)

    def list_tasks(
        self,
        workspace_id: str,
        model_id: str,
        object_type: ObjectType,
        object_id: str,
        *,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[TaskSummary]:
        self.list_calls += 1
        if object_id in self.failing:
            raise self.failing[object_id]
        summaries = [TaskSummary(t.task_id, t.state, t.creation_time) for t in self.tasks.get(object_id, [])]
        if not self.paged or since is None or limit is None:
            self.pages_read += max(1, math.ceil(len(summaries) / 5000))  # the client's page_size
            return summaries
        newest_first = sorted(summaries, key=lambda t: t.creation_time or 0.0, reverse=True)
        listed: list[TaskSummary] = []
        for start in range(0, max(len(newest_first), 1), limit):
            page = newest_first[start : start + limit]
            self.pages_read += 1
            listed.extend(page)
            if not page or (page[-1].creation_time or 0.0) < since:
                break
        return listed

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        self.status_calls.append(task_id)
        if object_id in self.failing:
            raise self.failing[object_id]
        for task in self.tasks.get(object_id, []):
            if task.task_id == task_id:
                return replace(task)
        raise AnaplanNotFoundError(404, "Not Found", "task_status")

    def list_workspaces(self) -> list[Workspace]:
        return [Workspace(WS, "Finance")]

    def list_models(self, workspace_id: str) -> list[Model]:
        return [Model(MODEL, "Planning", WS)]

    def list_objects(self, workspace_id: str, model_id: str, object_type: ObjectType) -> list[ModelObject]:
        return list(self.objects.get(object_type, []))

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata:
        return ProcessMetadata(name=process_id, steps=self.steps.get(process_id, ()))
