"""The values a scenario file describes: users and OAuth clients, workspaces, models, their objects and each
object's run schedule, all immutable. ``scenario`` builds them from YAML; the engine and payloads read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from anaplan_exporter.anaplan.models import ObjectType

from .faults import FaultSettings

DEFAULT_TOKEN_LIFETIME = 2100.0  # 35 minutes, as Anaplan


class Outcome(str, enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    FAILURE_DUMP = "failure_dump"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Schedule:
    """Run k is created at ``offset + k * every`` after the simulator starts (k < 0: history)."""

    every: float
    duration: float
    offset: float = 0.0
    start_delay: float = 0.0
    outcomes: tuple[Outcome, ...] = (Outcome.SUCCESS,)
    history: int = 0
    cancelling: float = 3.0
    step_durations: tuple[float, ...] = ()  # processes: one per step, summing to ``duration``
    fail_step: int = -1  # processes: 0-based index of the step that fails on failure outcomes
    until: float | None = None  # no run is created from ``start + until`` on
    days: frozenset[int] | None = None  # UTC weekdays (0 = Monday) runs are created on; None: every day
    jitter: float = 0.0  # runs are created up to ``jitter * every`` off their slot
    slow_every: int = 0  # every Nth live run (k >= 0, k % N == 0) takes ``slow_factor`` times ``duration``
    slow_factor: float = 1.0

    def run_duration(self, k: int) -> float:
        """How long run ``k`` takes once started."""
        slow = self.slow_every > 0 and k >= 0 and k % self.slow_every == 0  # history keeps the usual
        return self.duration * self.slow_factor if slow else self.duration

    @property
    def filtered(self) -> bool:
        """Some slots have no run (``until``, ``days``)."""
        return self.until is not None or self.days is not None

    @property
    def length(self) -> float:
        """The longest a run can take from creation to its terminal state."""
        return self.start_delay + self.duration * (self.slow_factor if self.slow_every else 1.0)


@dataclass(frozen=True)
class Step:
    object_id: str
    name: str
    action_type: str


@dataclass(frozen=True)
class RowCounts:
    hierarchy: str
    total: int
    success: int
    failed: int = 0
    ignored: int = 0
    warnings: int = 0


@dataclass(frozen=True)
class SimObject:
    id: str
    name: str
    type: ObjectType
    code: str = ""
    schedule: Schedule | None = None
    steps: tuple[Step, ...] = ()
    rows: RowCounts | None = None
    failure_rows: RowCounts | None = None
    import_type: str = "HIERARCHY_DATA"
    data_source_id: str = ""
    export_type: str = "TABULAR_MULTI_COLUMN"
    export_format: str = "text/csv"
    action_type: str = "DELETE_BY_SELECTION"


@dataclass(frozen=True)
class SimModel:
    id: str
    name: str
    objects: tuple[SimObject, ...] = ()
    by_id: Mapping[str, SimObject] = field(default_factory=dict, repr=False, compare=False)

    def of_type(self, kind: ObjectType) -> list[SimObject]:
        return [obj for obj in self.objects if obj.type is kind]


@dataclass(frozen=True)
class SimWorkspace:
    id: str
    name: str
    models: tuple[SimModel, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class CertificateSpec:
    path: Path
    require_v2: bool = False


@dataclass(frozen=True)
class Scenario:
    users: Mapping[str, str] = field(repr=False)  # username -> password
    oauth_clients: Mapping[str, str] = field(repr=False)  # client_id -> initial refresh token
    workspaces: tuple[SimWorkspace, ...] = ()
    certificate: CertificateSpec | None = None
    token_lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int = 0
    source: str = "<scenario>"

    def objects(self) -> list[tuple[SimWorkspace, SimModel, SimObject]]:
        return [(ws, m, obj) for ws in self.workspaces for m in ws.models for obj in m.objects]
