"""What the poller needs from its collaborators, as protocols: everything it reads from Anaplan (the
``AnaplanClient`` provides it) and the shared request budget it paces its starts by (the ``Limiter``)."""

from __future__ import annotations

from typing import Protocol

from .discovery import CatalogReader
from .tracker import TaskReader


class AnaplanReader(CatalogReader, TaskReader, Protocol):
    """Everything the poller reads from Anaplan."""

    @property
    def token_expires_at(self) -> float | None: ...


class RequestBudget(Protocol):
    """The shared request budget, as the scheduler sees it (``anaplan.limiter.Limiter`` provides it)."""

    @property
    def interval(self) -> float: ...

    def free_in(self) -> float: ...

    def used_ratio(self) -> float: ...
