"""What one tracker keeps across restarts: an immutable value that the tracker publishes after each poll and
takes back from the state file at start-up (``polling/state.py`` writes and reads it), so that nothing
finished while the exporter was down is lost or counted twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..anaplan.models import Task
from .rhythm import EMPTY as NO_RHYTHM
from .rhythm import Rhythm


@dataclass(frozen=True)
class TrackerState:
    """What a tracker keeps across restarts (``polling/state.py`` writes it to the state file)."""

    baseline: bool = False
    """The tracker has listed the object's tasks once: without that, nothing else here means anything."""
    counted: tuple[str, ...] = ()
    """Finished tasks already counted (or history): never counted again."""
    pending: Mapping[str, float | None] = field(default_factory=dict)
    """Finished tasks not counted yet, waiting for their status fetch (task ID -> creation time)."""
    history: tuple[tuple[str, float | None], ...] = ()
    """Older runs still to look at for the last success and failure, newest first."""
    newest: Task | None = None
    with_result: Task | None = None
    last_success: float | None = None
    last_failure: float | None = None
    completions: Mapping[str, int] = field(default_factory=dict)
    floor: float | None = None
    """Runs created before this are settled: a finished one listed again is not new (see the ledger)."""
    rhythm: Rhythm = NO_RHYTHM
    """Creation times and durations of the newest runs (creation times in whole seconds: plenty for a
    rhythm, and a third of the cost to write)."""
