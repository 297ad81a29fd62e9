"""The poller's output: one immutable value the collector turns into metrics.

The poller builds a new ``Snapshot`` after each round of polls and swaps a reference; a scrape reads whichever
snapshot is current, so it never waits on Anaplan and never sees a half-updated state. The classes use slots:
at 10,000 watched processes there are some 60,000 of these objects alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .anaplan.cloudworks_models import Run, Schedule
from .anaplan.lookup import Absence
from .anaplan.models import ImportRowCounts, ObjectType, Task
from .calendar_rhythm import Pattern

COMPLETION_RESULTS = ("success", "failure", "cancelled")
CLOUDWORKS_RESULTS = ("success", "partial", "failure", "cancelled")
"""The results a finished CloudWorks run is counted under (``anaplan_cloudworks_completions_total``)."""
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


# --------------------------------------------------------------------------- CloudWorks


@dataclass(frozen=True, slots=True)
class CloudWorksStep:
    """One step of a flow's latest run: its position (1-based), the integration it runs, and its result
    (``success``, ``partial``, ``failure``, ``cancelled``, ``skipped`` or ``running``)."""

    position: int
    integration_id: str
    name: str
    result: str


@dataclass(frozen=True, slots=True)
class CloudWorksRunError:
    """One failing action of a failed (or partial) run, from the run-error endpoint. ``message`` is
    Anaplan's text, scrubbed of secrets and SAS signatures but not escaped (the page escapes it)."""

    task_id: str
    action_id: str
    action_name: str
    message: str


@dataclass(frozen=True, slots=True)
class CloudWorksStatus:
    """One watched integration (``kind`` ``integration``) or integration flow (``flow``).

    ``latest_run`` is the newest run as CloudWorks lists it, its ``message`` already scrubbed (not cut);
    ``run_id`` its ID once known (the list does not carry it). ``run_errors`` belong to the failed or partial
    run that started at ``run_errors_start`` (the latest such run whose errors were read, once per run).
    """

    kind: str
    id: str
    name: str
    type: str
    workspace_id: str = ""
    model_id: str = ""
    object_id: str = ""
    """The linked Anaplan import, export or process (the first one; empty for a flow or while unknown)."""
    object_ids: tuple[str, ...] = ()
    """Every Anaplan object it runs."""
    schedule: Schedule | None = None
    latest_run: Run | None = None
    latest_result: str = ""
    """The latest run's result: ``success``, ``partial``, ``failure``, ``cancelled``, ``running`` or
    ``unknown`` (classified before the message was scrubbed); empty when it never ran."""
    run_id: str = ""
    last_end_time: float | None = None
    """End of the latest finished run (the one before while a run goes on)."""
    last_success_time: float | None = None
    last_failure_time: float | None = None
    completions: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(CLOUDWORKS_RESULTS, 0))
    next_run_time: float | None = None
    last_scheduled_time: float | None = None
    steps: tuple[CloudWorksStep, ...] = ()
    run_errors: tuple[CloudWorksRunError, ...] = ()
    run_errors_start: float | None = None


@dataclass(frozen=True, slots=True)
class CloudWorksView:
    """What the exporter knows of CloudWorks. ``enabled`` False: nothing is exported but
    ``anaplan_cloudworks_forbidden`` after a 403 (``cloudworks.enabled: false``, or ``auto`` and never
    readable). ``up``: the last read of the lists succeeded. ``forbidden``:
    CloudWorks answers 403, with ``forbidden_message`` the one line the log showed."""

    enabled: bool = False
    up: bool = False
    forbidden: bool = False
    forbidden_message: str = ""
    required: bool = False
    """``cloudworks.enabled: true``: failing reads keep ``anaplan_up`` at 0."""
    last_read_time: float | None = None
    errors: Mapping[str, int] = field(default_factory=dict)
    """Failed reads of the CloudWorks API by reason (``ERROR_REASONS``)."""
    last_error: str = ""
    items: tuple[CloudWorksStatus, ...] = ()
    unmatched: tuple[str, ...] = ()
    """Configured integration or flow names and IDs that matched nothing CloudWorks lists."""
    hints: bool = False
    """A replica other than 0 reads the integration list only to poll its own objects when a linked run starts
    or ends (``enabled`` False: replica 0 shows CloudWorks)."""


# --------------------------------------------------------------------------- the state file

CONFIGURED_OFF, NO_HOME, DEFAULT_UNWRITABLE, IN_USE = (
    "configured_off",
    "no_home",
    "default_unwritable",
    "in_use",
)
MEMORY_ONLY_REASONS = (CONFIGURED_OFF, NO_HOME, DEFAULT_UNWRITABLE, IN_USE)
"""Why the state is kept in memory only (``anaplan_exporter_state_file_kept{reason}``): ``state.path: ""``;
no state path configured and neither XDG_STATE_HOME nor HOME set; the default file cannot be written; the
default file is locked by another exporter."""


@dataclass(frozen=True, slots=True)
class StateFileStatus:
    """Whether what the trackers know survives a restart: the file it is saved to, or why it is not saved.

    ``memory_only_reason`` is empty while a file is kept, else one of ``MEMORY_ONLY_REASONS``; ``path`` is the
    file kept, or the default file that could not be used (empty when there is none). ``detail`` says why in
    words (the lock holder's pid, the operating system's error)."""

    path: str = ""
    memory_only_reason: str = ""
    detail: str = ""
    last_save_time: float | None = None
    """When this process last wrote the file (None before its first save: a save happens once something
    changed)."""
    save_failures: int = 0
    """Saves that failed since the start (each is tried again ``state.save_interval`` later)."""
    last_error: str = ""
    """Why the latest save failed; empty once a save succeeded again."""

    @property
    def kept(self) -> bool:
        return not self.memory_only_reason


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
    cloudworks: CloudWorksView = CloudWorksView()
    """The watched CloudWorks integrations and flows."""
    state_file: StateFileStatus | None = None
    """Where the state is kept across restarts; None when the poller has no state store (tests)."""
