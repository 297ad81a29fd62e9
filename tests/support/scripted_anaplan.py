"""A scripted Anaplan for the tracker and poller properties: runs that start and finish over time.

Time is a poll index. A run appears at ``start``, is unfinished until ``end`` and then stays finished with
its one outcome for ever. ``list_tasks`` shows the newest ``retention`` runs (older ones age out, as in
Anaplan's task history); faults are set per call by the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from anaplan_exporter.anaplan.errors import (
    AnaplanAuthError,
    AnaplanConnectionError,
    AnaplanError,
    AnaplanHTTPError,
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanServerError,
)
from anaplan_exporter.anaplan.models import ObjectType, Task, TaskResult, TaskState, TaskSummary

OUTCOMES = ("success", "failure", "cancelled")
T0 = 1_700_000_000.0
POLL_EVERY = 60.0

# Each typed error the client raises, with the ``reason`` label a failed poll must be counted under.
ERRORS: tuple[tuple[AnaplanError, str], ...] = (
    (AnaplanResponseError("expected a JSON object, got a list", "list_tasks"), "bad_response"),
    (AnaplanServerError(503, "Service Unavailable", "list_tasks"), "server_error"),
    (AnaplanRateLimitError(429, "", "list_tasks"), "rate_limited"),
    (AnaplanConnectionError("connection failed", "list_tasks"), "connection"),
    (AnaplanNotFoundError(404, "Not Found", "list_tasks"), "not_found"),
    (AnaplanPermissionError(403, "Forbidden", "list_tasks"), "forbidden"),
    (AnaplanAuthError(401, "Unauthorized", "list_tasks"), "auth"),
    (AnaplanHTTPError(400, "Bad Request", "list_tasks"), "other"),
)  # fmt: skip


@dataclass(frozen=True)
class Run:
    task_id: str
    start: int
    end: int
    outcome: str
    created: float

    def state(self, step: int) -> TaskState:
        if step < self.end:
            return (
                TaskState.NOT_STARTED
                if step == self.start and self.end > self.start + 1
                else (TaskState.IN_PROGRESS)
            )
        return TaskState.CANCELLED if self.outcome == "cancelled" else TaskState.COMPLETE

    def task(self, step: int) -> Task:
        state = self.state(step)
        result = None
        if state is TaskState.COMPLETE:
            result = TaskResult(successful=self.outcome == "success", object_id="118000000002")
        progress = 1.0 if state.terminal else min(0.99, (step - self.start) / max(1, self.end - self.start))
        return Task(self.task_id, state, state.value, progress, "", self.created, result)


@st.composite
def run_lists(draw: st.DrawFn, max_runs: int = 8) -> list[Run]:
    """Runs in creation order; several may start at the same poll, some never finish."""
    runs: list[Run] = []
    start = draw(st.integers(min_value=0, max_value=2))
    for index in range(draw(st.integers(min_value=0, max_value=max_runs))):
        start += draw(st.integers(min_value=0, max_value=2))
        length = draw(st.integers(min_value=0, max_value=4) | st.just(1000))
        outcome = draw(st.sampled_from(OUTCOMES))
        created = T0 + start * POLL_EVERY + index  # distinct, increasing
        runs.append(Run(f"T{index:03d}", start, start + length, outcome, created))
    return runs


@dataclass
class ScriptedAnaplan:
    """Answers the tracker's two calls from ``runs`` at poll ``step``; raises ``list_fault`` or
    ``status_fault`` (when set) instead, and ``truncate`` keeps only the newest N of the listed runs."""

    runs: list[Run]
    retention: int = 1000
    step: int = 0
    list_fault: AnaplanError | None = None
    status_fault: AnaplanError | None = None
    truncate: int | None = None
    listed: list[list[str]] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def visible(self) -> list[Run]:
        born = [r for r in self.runs if r.start <= self.step]
        kept = born[-self.retention :] if self.retention else []
        return kept[-self.truncate :] if self.truncate else kept

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
        if self.list_fault is not None:
            raise self.list_fault
        runs = self.visible()
        self.listed.append([r.task_id for r in runs])
        # Anaplan's list order is not documented: newest first here, the tracker must not care.
        return [TaskSummary(r.task_id, r.state(self.step), r.created) for r in reversed(runs)]

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        if self.status_fault is not None:
            raise self.status_fault
        self.fetched.append(task_id)
        for run in self.runs:
            if run.task_id == task_id and run.start <= self.step:
                return run.task(self.step)
        raise AnaplanNotFoundError(404, "Not Found", "task_status")
