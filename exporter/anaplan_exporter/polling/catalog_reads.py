"""What the poller remembers of its catalog reads, discovery and each process's step names: their latest
results and errors, and how long to wait before a failed one is tried again (``RETRY_INITIAL``, doubling up
to the discovery interval). Changed only on the poller's scheduling thread."""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import replace

from ..anaplan.lookup import Absence
from ..snapshot import Key
from .discovery import DiscoveryResult, WatchedObject

RETRY_INITIAL = 5.0
"""First wait before a failed discovery or metadata read is tried again; doubles up to its interval."""


def retry_delay(failures: int, ceiling: float) -> float:
    """Backoff after ``failures`` consecutive failures: 5 s, 10 s, 20 s ... up to ``ceiling``."""
    return min(ceiling, RETRY_INITIAL * 2.0 ** min(failures - 1, 30))


class DiscoveryRecord:
    """The latest discovery: the objects each target resolved to, its errors, and failures in a row."""

    def __init__(self) -> None:
        self.discovered = False
        """A discovery has finished, well or not."""
        self.ok = False
        self.errors: tuple[str, ...] = ()
        """Every error of the latest discovery (the status page and the log show them all)."""
        self.failing: tuple[str, ...] = ()
        """Its errors that no watched object reports on its own series (``DiscoveryResult.failing``)."""
        self.by_target: dict[int, list[WatchedObject]] = {}
        """The objects found for each target, by its index in the configured targets."""
        self._failures = 0

    def forget_targets(self) -> None:
        """After a reload: the indexes refer to the old list; a failing target falls back to its IDs."""
        self.by_target = {}

    def record(self, result: DiscoveryResult, target_count: int, interval: float) -> float:
        """Take in a discovery of ``target_count`` targets; return when to discover again (in seconds)."""
        found: dict[int, list[WatchedObject]] = {}
        for watched in result.objects:
            found.setdefault(watched.target_index, []).append(watched)
        for index in range(target_count):
            if index in result.failed_targets:
                # Keep what an earlier discovery found; else watch the objects configured by ID.
                kept = self.by_target.get(index) or result.fallbacks.get(index, [])
                absence = result.absent_targets.get(index)
                if absence is not None:  # Anaplan says the workspace or model is gone or masked
                    kept = [replace(watched, absence=absence) for watched in kept]
                found[index] = kept
        self.by_target = found
        self.discovered = True
        self.ok = result.ok
        self.errors = tuple(result.errors)
        self.failing = tuple(result.failing)
        if result.ok:
            self._failures = 0
            return interval
        self._failures += 1
        return retry_delay(self._failures, interval)

    def objects(self) -> Iterator[WatchedObject]:
        """Every object found, target by target."""
        for group in self.by_target.values():
            yield from group


class StepNameRecord:
    """Each process's step names with when they were read, and the error of a read that failed (and
    whether Anaplan answered it with 404: the process is not found)."""

    def __init__(self) -> None:
        self._names: dict[Key, tuple[dict[str, str], float]] = {}
        self._errors: dict[Key, str] = {}
        self._failures: dict[Key, int] = {}
        self._not_found: set[Key] = set()

    @property
    def errors(self) -> tuple[str, ...]:
        """The errors of the reads whose latest attempt failed."""
        return tuple(self._errors.values())

    def known(self, key: Key) -> bool:
        return key in self._names

    def names(self, key: Key) -> dict[str, str]:
        """The process's step names by step ID (empty until read)."""
        return self._names.get(key, ({}, 0.0))[0]

    def read_at(self, key: Key) -> float:
        """When the process's step names were last read (minus infinity: never)."""
        return self._names.get(key, ({}, float("-inf")))[1]

    def failing(self, resolved: Container[Key]) -> tuple[str, ...]:
        """The errors of the reads whose latest attempt failed, but for a 404 to a process of a ``resolved``
        target (its model's listings answered): that process is not found and says so on its own series
        (the poller's ``_unconfirmed``)."""
        return tuple(
            error for key, error in self._errors.items() if key not in self._not_found or key not in resolved
        )

    def absence(self, key: Key) -> Absence | None:
        """``NOT_FOUND`` while the latest read of the process's metadata answered 404."""
        return Absence.NOT_FOUND if key in self._not_found else None

    def read(self, key: Key, names: dict[str, str], now: float) -> None:
        self._names[key] = (names, now)
        self._errors.pop(key, None)
        self._failures.pop(key, None)
        self._not_found.discard(key)

    def failed(self, key: Key, message: str, interval: float, not_found: bool = False) -> float:
        """Note a failed read (``not_found``: Anaplan answered 404); return when to try again (in seconds)."""
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        self._errors[key] = message
        if not_found:
            self._not_found.add(key)  # a passing failure after it says nothing new: it stays
        return retry_delay(failures, interval)

    def forget(self, key: Key) -> None:
        self._names.pop(key, None)
        self._errors.pop(key, None)
        self._failures.pop(key, None)
        self._not_found.discard(key)
