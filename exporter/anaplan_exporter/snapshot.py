"""The poller's output: one immutable value the collector turns into metrics.

The poller builds a new ``Snapshot`` after each round of polls and swaps a reference; a scrape reads whichever
snapshot is current, so it never waits on Anaplan and never sees a half-updated state. The classes use slots:
at 10,000 watched processes there are some 60,000 of these objects alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .anaplan.lookup import Absence
from .anaplan.models import ImportRowCounts, ObjectType, Task
from .calendar_rhythm import Pattern

COMPLETION_RESULTS = ("success", "failure", "cancelled")
ERROR_REASONS = (
    "not_found",
    "forbidden",
    "auth",
    "rate_limited",
    "server_error",
    "connection",
    "timeout",
    "bad_response",
    "too_large",
    "other",
)


Key = tuple[str, str, str, str]
"""An object's identity (``ObjectRef.key``): workspace, model, object type and object IDs."""


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A watched object: its identity, readable names and the run expectations configured for it."""

    workspace_id: str
    workspace_name: str
    model_id: str
    model_name: str
    object_type: ObjectType
    object_id: str
    object_name: str
    expected_every: float | None = None
    max_duration: float | None = None

    @property
    def key(self) -> Key:
        """Identity that survives renames: what the poller keys its state by."""
        return (self.workspace_id, self.model_id, self.object_type.value, self.object_id)

    def label_values(self) -> tuple[str, ...]:
        return (
            self.workspace_id,
            self.workspace_name,
            self.model_id,
            self.model_name,
            self.object_type.value,
            self.object_id,
            self.object_name,
        )


@dataclass(frozen=True, slots=True)
class StepStatus:
    """One step of a process run, from the task's nested results."""

    step_id: str
    step_name: str
    successful: bool
    duration_seconds: float | None = None
    start_time: float | None = None
    failure_dump_available: bool = False
    """This step left the failure dump (its ``objectId`` is the one to ask Anaplan's dump endpoint for)."""


@dataclass(frozen=True, slots=True)
class PollError:
    """The last failed poll of an object: a bounded reason, Anaplan's or the network's message, and when."""

    reason: str
    message: str
    time: float


@dataclass(frozen=True, slots=True)
class ObjectStatus:
    """Everything known about one watched object after its latest poll."""

    ref: ObjectRef
    up: bool = False
    task: Task | None = None
    """The newest task (by creation time) as last fetched."""
    duration_seconds: float | None = None
    steps: tuple[StepStatus, ...] = ()
    """Steps of the newest run that has a result (a running process shows its previous run's steps)."""
    row_counts: ImportRowCounts | None = None
    last_success_time: float | None = None
    last_failure_time: float | None = None
    completions: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(COMPLETION_RESULTS, 0))
    errors: Mapping[str, int] = field(default_factory=dict)
    last_poll_time: float | None = None
    """When the last poll of the object ended (successful or not); None before the first."""
    last_error: PollError | None = None
    """The most recent failed poll, kept after the object recovers (compare its time with the last poll)."""
    learned_interval_seconds: float | None = None
    """The object's usual interval between runs, learned from its recent runs (``polling/rhythm.py``)."""
    usual_duration_seconds: float | None = None
    """A high quantile of the durations of its recent finished runs."""
    learned_pattern: Pattern | None = None
    """The calendar pattern of its runs (Mon and Thu 06:00 UTC), where one explains them better than an
    interval."""
    success_due_time: float | None = None
    """When a success is next due by that pattern: the first slot after the newest success (after the newest
    run while none is on record)."""
    absence: Absence | None = None
    """Why Anaplan does not confirm the object (not found, no access), while its task list lists no run;
    ``up`` is False meanwhile. None for a confirmed object, one that never ran included."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole state the collector reads."""

    objects: tuple[ObjectStatus, ...] = ()
    ready: bool = False
    """True once the first full poll cycle has finished."""
    up: bool = False
    """True when the last full poll cycle polled every object (and discovery) without error."""
    last_success_time: float | None = None
    poll_duration_seconds: float | None = None
    poll_interval_seconds: float = 60.0
    token_expires_at: float | None = None
    discovery_errors: tuple[str, ...] = ()
    """What the last discovery could not resolve (refused authentication, unreachable host, unknown names)."""
    oldest_poll_age_seconds: float | None = None
    """Age of the least recently polled object's last poll: how far the idle sweep lags."""
    budget_used_ratio: float | None = None
    """Share of the request budget used over the last minute."""
