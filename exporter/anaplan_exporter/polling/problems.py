"""Failed polls in the log: one line per distinct problem, then a count, not one line per object per poll.

When the whole tenant is unreachable every object fails the same way on every poll; a thousand identical
lines a minute hide the one that matters. A problem is its reason and its message with the object-specific
parts (URL paths, object and task IDs) masked. Its first occurrence is logged at once, naming the object;
repeats within ``window`` seconds are counted and summed up in one line when the window ends.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from ..snapshot import ObjectRef

log = logging.getLogger("anaplan_exporter.polling")

WINDOW = 60.0

_URL_PATH = re.compile(r"(https?://[^/\s]+)/[^\s:]*")
_IDS = re.compile(r"\b(?:\d{12}|[0-9A-Fa-f]{32})\b")


def problem_of(reason: str, message: str) -> tuple[str, str]:
    """The identity of a problem: the reason and the message without what differs between objects."""
    return reason, _IDS.sub("…", _URL_PATH.sub(r"\1/…", message))


@dataclass
class _Repeats:
    since: float
    polls: int = 0
    objects: set[tuple[str, str, str, str]] = field(default_factory=set)


class ProblemLog:
    """Not thread-safe: the poller's scheduling thread reports and flushes."""

    def __init__(self, window: float = WINDOW) -> None:
        self._window = window
        self._repeats: dict[tuple[str, str], _Repeats] = {}

    def failed(self, ref: ObjectRef, reason: str, message: str, now: float) -> None:
        problem = problem_of(reason, message)
        repeats = self._repeats.get(problem)
        if repeats is None:
            self._repeats[problem] = _Repeats(since=now)
            log.warning(
                "poll failed: %s %s (%s) in model %s: reason=%s error=%s",
                ref.object_type.value,
                ref.object_id,
                ref.object_name,
                ref.model_name,
                reason,
                message,
            )
            return
        repeats.polls += 1
        repeats.objects.add(ref.key)

    def flush(self, now: float) -> None:
        """Sum up the problems whose window has ended; a problem that recurs later is logged afresh."""
        for problem, repeats in list(self._repeats.items()):
            if now - repeats.since < self._window:
                continue
            del self._repeats[problem]
            if repeats.polls:
                reason, message = problem
                log.warning(
                    "poll failed %d more times for %d objects in the last %.0fs: reason=%s error=%s",
                    repeats.polls,
                    len(repeats.objects),
                    now - repeats.since,
                    reason,
                    message,
                )
