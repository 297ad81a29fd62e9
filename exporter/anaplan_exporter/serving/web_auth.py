"""Basic auth that a flood of wrong passwords cannot turn into a flood of bcrypt checks.

bcrypt is slow on purpose (about 0.1 s a check at cost 10), so every check is made at most once: a bounded
cache remembers the outcome, keyed by an HMAC of user and password under a per-process random key (the
cache never holds a password, and its keys are useless outside this process). A password already verified
is let in, and one already refused is refused again, at the cost of a hash. What is left, credentials never
seen before, is limited twice: a client address that has presented wrong credentials too often recently is
answered 429 without a check, and at most a few checks run at once, so they cannot take every handler.
"""

from __future__ import annotations

import base64
import binascii
import collections
import enum
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Mapping

import bcrypt

from .web_refusals import Refusals

Clock = Callable[[], float]

_VERIFIED_LIMIT = 256
_REFUSED_LIMIT = 4096
_CLIENT_LIMIT = 4096


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    """401: no credentials, or wrong ones."""
    LIMITED = "limited"
    """429: this client presented wrong credentials too often recently, and these are not known good."""
    BUSY = "busy"
    """503: every bcrypt slot stayed busy while the request waited."""


class RecentSet:
    """A thread-safe set of at most ``limit`` keys; adding to a full set forgets the least recently seen."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("RecentSet needs room for at least one key")
        self._limit = limit
        self._keys: collections.OrderedDict[bytes, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            if not isinstance(key, bytes) or key not in self._keys:
                return False
            self._keys.move_to_end(key)
            return True

    def add(self, key: bytes) -> None:
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._limit:
                self._keys.popitem(last=False)


class FailureBudget:
    """Per client address: ``limit`` wrong credentials, refilled evenly over ``window`` seconds.

    Each failure fills a client's level by one and the level drains at ``limit / window`` per second; a
    client is blocked while its level is at ``limit``, so a guesser gets ``limit`` checks at once and then one
    every ``window / limit`` seconds. At most ``max_clients`` addresses are tracked, the least recently
    failed forgotten first, so a flood from many addresses costs bounded memory.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        *,
        max_clients: int = _CLIENT_LIMIT,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError("FailureBudget needs a positive limit, window and max_clients")
        self._limit = float(limit)
        self._drain = limit / window
        self._max_clients = max_clients
        self._clock = clock
        self._levels: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._levels)

    def _level(self, client: str, now: float) -> float:
        level, since = self._levels.get(client, (0.0, now))
        return max(0.0, level - (now - since) * self._drain)

    def blocked(self, client: str) -> bool:
        with self._lock:
            return self._level(client, self._clock()) > self._limit - 1.0

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may present new credentials again (0 when it may now)."""
        with self._lock:
            excess = self._level(client, self._clock()) - (self._limit - 1.0)
        return max(0.0, excess / self._drain)

    def failed(self, client: str) -> None:
        with self._lock:
            now = self._clock()
            level = min(self._limit, self._level(client, now) + 1.0)
            self._levels[client] = (level, now)
            self._levels.move_to_end(client)
            while len(self._levels) > self._max_clients:
                self._levels.popitem(last=False)


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes, remembering every outcome (see the module).

    Unknown users are checked against a decoy hash, so timing does not tell which user names exist.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        budget: FailureBudget | None = None,
        refusals: Refusals | None = None,
        max_checks: int = 2,
        check_wait: float = 1.0,
    ) -> None:
        if not users:
            raise ValueError("BasicAuth needs at least one user")
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._decoy = next(iter(self._users.values()))
        self._key = os.urandom(32)
        self._verified = RecentSet(_VERIFIED_LIMIT)
        self._refused = RecentSet(_REFUSED_LIMIT)
        self._budget = budget if budget is not None else FailureBudget()
        self._refusals = refusals if refusals is not None else Refusals()
        self._checks = threading.BoundedSemaphore(max_checks)
        self._check_wait = check_wait

    def __repr__(self) -> str:
        return f"BasicAuth(users={sorted(self._users)!r})"

    def known_good(self, header: str | None) -> bool:
        """True when ``header`` carries credentials already verified: a hash, never a bcrypt check."""
        credentials = decode_basic(header)
        return credentials is not None and self._fingerprint(*credentials) in self._verified

    def retry_after(self, client: str) -> int:
        """Whole seconds for a ``Retry-After`` header after a LIMITED verdict."""
        return max(1, int(self._budget.retry_after(client) + 0.999))

    def check(self, header: str | None, client: str = "") -> Verdict:
        """The verdict for a request from address ``client`` carrying ``header``."""
        credentials = decode_basic(header)
        if credentials is None:
            return Verdict.DENIED  # no credentials: the usual first request of a browser, not counted
        user, password = credentials
        fingerprint = self._fingerprint(user, password)
        if fingerprint in self._verified:
            return Verdict.ALLOWED
        if self._budget.blocked(client):
            self._refusals.count("rate_limited")
            return Verdict.LIMITED
        if fingerprint in self._refused:
            return self._failed(client)
        if not self._checks.acquire(timeout=self._check_wait):
            self._refusals.count("busy")
            return Verdict.BUSY
        try:
            ok = self._bcrypt(user, password)
        finally:
            self._checks.release()
        if not ok:
            self._refused.add(fingerprint)
            return self._failed(client)
        self._verified.add(fingerprint)
        return Verdict.ALLOWED

    def _failed(self, client: str) -> Verdict:
        self._budget.failed(client)
        self._refusals.count("bad_credentials")
        return Verdict.DENIED

    def _fingerprint(self, user: bytes, password: bytes) -> bytes:
        return hmac.new(self._key, user + b"\0" + password, hashlib.sha256).digest()

    def _bcrypt(self, user: bytes, password: bytes) -> bool:
        hashed = self._users.get(user.decode("utf-8", "replace"))
        try:
            matches = bcrypt.checkpw(password, hashed if hashed is not None else self._decoy)
            return matches and hashed is not None
        except ValueError:  # malformed hash, or a password longer than bcrypt's 72 bytes
            return False


def decode_basic(header: str | None) -> tuple[bytes, bytes] | None:
    """``"Basic dXNlcjpwYXNz"`` -> ``(b"user", b"pass")``; None for anything else."""
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


def authorization_header(request_head: bytes) -> str | None:
    """The ``Authorization`` value from the raw bytes of a request's header (its first occurrence)."""
    for line in request_head.split(b"\n")[1:]:
        line = line.rstrip(b"\r")
        if not line:
            return None
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"authorization":
            return value.strip().decode("latin-1")
    return None
