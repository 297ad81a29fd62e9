"""Typed values the client returns: Anaplan's vocabulary, nothing of HTTP or Prometheus.

Times are Unix epoch seconds (floats) and durations are seconds, whatever unit Anaplan used on the wire.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

INVALID_TIME = "invalid time"
"""What ``iso_time`` writes for a time no calendar can hold (it never raises, whatever the float)."""


def readable_time(epoch: float) -> bool:
    """True if ``epoch`` is a moment ``iso_time`` can write (years 1 to 9999 UTC)."""
    try:
        datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError, TypeError):
        return False
    return True


def iso_time(epoch: float) -> str:
    """``1767225600.5`` -> ``"2026-01-01T00:00:00Z"``: a Unix time as ISO 8601 UTC, to the second, as logs
    and the status page write times for people; ``invalid time`` beyond the calendar."""
    try:
        moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    except (OverflowError, ValueError, OSError, TypeError):
        return INVALID_TIME
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class TaskState(str, enum.Enum):
    """A task's ``taskState``; values Anaplan may add later map to UNKNOWN instead of failing."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, value: object) -> TaskState:
        if isinstance(value, str):
            try:
                return cls(value.strip().upper())
            except ValueError:
                return cls.UNKNOWN
        return cls.UNKNOWN

    @property
    def terminal(self) -> bool:
        """True once the task can no longer change (Anaplan: poll until COMPLETE or CANCELLED)."""
        return self in (TaskState.COMPLETE, TaskState.CANCELLED)


class ObjectType(str, enum.Enum):
    """The four kinds of object whose tasks the Integration API exposes."""

    PROCESS = "process"
    IMPORT = "import"
    EXPORT = "export"
    ACTION = "action"

    @property
    def collection(self) -> str:
        """The path segment and the payload key of its list endpoint (``processes``, ``imports`` ...)."""
        return _COLLECTIONS[self]

    @property
    def id_prefix(self) -> str:
        """The first three digits of this kind's 12-digit object IDs."""
        return _ID_PREFIXES[self]

    @classmethod
    def from_id(cls, object_id: str) -> ObjectType | None:
        """Guess the kind from an object ID's prefix (112 import, 116 export, 117 action, 118 process)."""
        for kind, prefix in _ID_PREFIXES.items():
            if object_id.startswith(prefix):
                return kind
        return None


_COLLECTIONS = {
    ObjectType.PROCESS: "processes",
    ObjectType.IMPORT: "imports",
    ObjectType.EXPORT: "exports",
    ObjectType.ACTION: "actions",
}
_ID_PREFIXES = {
    ObjectType.IMPORT: "112",
    ObjectType.EXPORT: "116",
    ObjectType.ACTION: "117",
    ObjectType.PROCESS: "118",
}


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str
    active: bool = True


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    workspace_id: str = ""
    active_state: str = ""


@dataclass(frozen=True)
class ModelObject:
    """A process, import, export or action of a model."""

    id: str
    name: str
    type: ObjectType
    code: str = ""


@dataclass(frozen=True)
class ProcessStep:
    """One action of a process, in run order (from the process metadata)."""

    object_id: str
    name: str
    action_type: str = ""


@dataclass(frozen=True)
class ProcessMetadata:
    name: str
    steps: tuple[ProcessStep, ...] = ()


@dataclass(frozen=True)
class TaskSummary:
    """An entry of a task list: no progress, no result."""

    task_id: str
    state: TaskState
    creation_time: float | None = None


@dataclass(frozen=True)
class ImportRowCounts:
    """Row counts summed over an import result's ``details[].values`` (absent keys are 0)."""

    total: int = 0
    success: int = 0
    failed: int = 0
    ignored: int = 0
    warnings: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "success": self.success,
            "failed": self.failed,
            "ignored": self.ignored,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class ResultDetail:
    """One entry of ``result.details``; ``values`` is Anaplan's flat key/value list made a mapping."""

    type: str = ""
    message: str = ""
    occurrences: int = 0
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskResult:
    """A task's ``result``; for processes ``nested`` holds one result per step, in run order."""

    successful: bool
    failure_dump_available: bool = False
    object_id: str = ""
    object_name: str = ""
    duration_seconds: float | None = None
    start_time: float | None = None
    details: tuple[ResultDetail, ...] = ()
    nested: tuple[TaskResult, ...] = ()
    row_counts: ImportRowCounts | None = None


@dataclass(frozen=True)
class Task:
    """A task's status document (``GET .../tasks/{taskId}``)."""

    task_id: str
    state: TaskState
    raw_state: str = ""
    progress: float | None = None
    current_step: str = ""
    creation_time: float | None = None
    result: TaskResult | None = None
    cancelled_by: str = ""
