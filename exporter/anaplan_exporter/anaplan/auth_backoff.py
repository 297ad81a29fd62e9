"""After a refused login, hold every login back and retry once, later and later (a shared backoff).

A refusal by the auth service (a 4xx answer to a login, or a 401 to a static token) says the credentials are
wrong, expired or locked; trying them again on every poll of every object would only lock the account, and
with it every other integration that uses it. So after a refusal no thread logs in until the next attempt is
due: 1 minute after the first refusal, doubling with each refusal in a row up to 30 minutes, each wait
10 % shorter or longer at random (replicas or exporters sharing the credentials, refused together, do not
try again together and add up to a lockout's count of failed logins at the same moments). Meanwhile
requests fail at once, without a request, with :class:`AnaplanAuthBackoffError`. When the attempt is due
exactly one caller makes it (the "trial"); the others keep failing at once until its outcome is known. A
success clears the refusal. A connection failure, timeout or 5xx says nothing about the credentials: the trial
ends without a verdict and the next caller tries again, as before any refusal. ``retry_now`` (a reload, a
changed secret file) makes the next attempt due at once.
"""

from __future__ import annotations

import random as _random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from .auth import Credentials
from .errors import AnaplanAuthBackoffError, AnaplanAuthError

BACKOFF_INITIAL = 60.0
"""Wait after the first refusal before the next login attempt (seconds)."""
BACKOFF_MAX = 1800.0
"""The longest wait between two login attempts while they are refused (seconds), before the jitter."""
BACKOFF_JITTER = 0.1
"""Each wait is this fraction shorter or longer at random."""


def backoff_delay(refusals: int, jitter: float = 0.5) -> float:
    """The wait after ``refusals`` refusals in a row: 60 s, 120 s, 240 s ... up to 1800 s at ``jitter`` 0.5;
    ``jitter`` (0 to 1) makes it up to BACKOFF_JITTER shorter (0) or longer (1)."""
    nominal = min(BACKOFF_MAX, BACKOFF_INITIAL * 2.0 ** min(max(refusals, 1) - 1, 30))
    return nominal * (1.0 + BACKOFF_JITTER * (2.0 * jitter - 1.0))


@dataclass(frozen=True)
class AuthRefusal:
    """The current refusal: shown on the status page and in ``/metrics``."""

    since: float
    """When the first refusal in a row came (epoch seconds)."""
    refusals: int
    """Refusals in a row."""
    next_attempt_at: float
    """When the next login attempt is due (epoch seconds); earlier after ``retry_now``."""
    message: str
    """The auth service's answer to the latest attempt (credentials masked)."""


class CredentialSource(Protocol):
    """Where the credentials can be read again when the secret files they came from change."""

    def changed(self) -> bool:
        """The secret files differ from when the credentials were last read (cheap: no reading)."""

    def load(self) -> Credentials:
        """The credentials read again now; raises on any problem (the message names no secret)."""

    def mark(self) -> None:
        """Remember the files as they are now: called at each refusal."""


class AuthBackoff:
    """The shared login gate of one client (thread-safe)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        on_refusal: Callable[[], None] | None = None,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self._clock = clock
        self._random = random
        self._on_refusal = on_refusal
        """Called after each refusal recorded (outside the lock)."""
        self._lock = threading.Lock()
        self._refusal: AuthRefusal | None = None
        self._trial = False
        """A caller is making the attempt that ends the current wait."""

    @property
    def refusal(self) -> AuthRefusal | None:
        """The refusal holding logins back, or None while logins are allowed."""
        return self._refusal

    def check(self) -> None:
        """Raise AnaplanAuthBackoffError at once while a refusal holds logins back or its retry is under
        way (before waiting for a lock the retry may hold)."""
        if self._refusal is None:
            return
        with self._lock:
            refusal = self._refusal
            if refusal is not None and (self._trial or self._clock() < refusal.next_attempt_at):
                raise AnaplanAuthBackoffError(refusal.message, refusal.next_attempt_at)

    def admit(self) -> bool:
        """Let a login (or a static token's request) go ahead, or raise AnaplanAuthBackoffError at once.

        Returns True when the caller makes the one attempt after a refusal: it must end with ``refused``,
        ``accepted`` or ``released``.
        """
        with self._lock:
            refusal = self._refusal
            if refusal is None:
                return False
            if self._trial or self._clock() < refusal.next_attempt_at:
                raise AnaplanAuthBackoffError(refusal.message, refusal.next_attempt_at)
            self._trial = True
            return True

    def refused(self, message: str, *, trial: bool) -> AuthRefusal:
        """A refusal: wait before the next attempt, doubling with each refusal in a row.

        A refusal that answers a request sent before the current refusal was known (``trial`` False while a
        refusal is recorded) is the same refusal again and does not lengthen the wait.
        """
        with self._lock:
            now = self._clock()
            current = self._refusal
            if current is not None and not trial:
                return current
            refusals = 1 if current is None else current.refusals + 1
            since = now if current is None else current.since
            due = now + backoff_delay(refusals, self._random())
            refusal = self._refusal = AuthRefusal(since, refusals, due, message)
            self._trial = False
        if self._on_refusal is not None:
            self._on_refusal()
        return refusal

    def accepted(self) -> None:
        """The credentials worked: logins are allowed again."""
        with self._lock:
            self._refusal = None
            self._trial = False

    def released(self, trial: bool) -> None:
        """The attempt ended without a verdict (connection failure, timeout, 5xx): the next caller tries."""
        if trial:
            with self._lock:
                self._trial = False

    def retry_now(self) -> bool:
        """Make the next attempt due at once (a reload, changed secrets); False when nothing was held back."""
        with self._lock:
            refusal = self._refusal
            if refusal is None:
                return False
            self._refusal = AuthRefusal(refusal.since, refusal.refusals, self._clock(), refusal.message)
            return True

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Around one login (or static token request): admitted first, its outcome recorded after."""
        trial = self.admit()
        try:
            yield
        except AnaplanAuthError as exc:
            self.refused(str(exc), trial=trial)
            raise
        except BaseException:
            self.released(trial)
            raise
        self.accepted()
