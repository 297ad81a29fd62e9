"""Fakes shared by the client tests: a clock whose sleep advances it, and a recording observer."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"

API = "https://api.test/2/0"
AUTH = "https://auth.test"
OAUTH = "https://oauth.test"
# 2023-03-01T00:00:00Z; tokens in the tests expire 35 minutes later.
T0 = 1_677_628_800.0


def load(name: str) -> object:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


class FakeClock:
    """Epoch seconds that move only when told to, or when something sleeps."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@dataclass
class RecordingObserver:
    requests: list[tuple[str, str]] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    auth_failures: int = 0
    ignored: list[tuple[str, int]] = field(default_factory=list)

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        assert seconds >= 0
        self.requests.append((endpoint, code))

    def retried(self, reason: str) -> None:
        self.retries.append(reason)

    def auth_failed(self) -> None:
        self.auth_failures += 1

    def ignored_values(self, reason: str, count: int) -> None:
        self.ignored.append((reason, count))


def token_body(token: str, expires_at: float, message: str = "Login successful") -> dict[str, object]:
    """An auth-service response as Anaplan sends it (expiresAt in epoch milliseconds)."""
    return {
        "meta": {"validationUrl": f"{AUTH}/token/validate"},
        "status": "SUCCESS",
        "statusMessage": message,
        "tokenInfo": {
            "tokenId": "ce81e2ed-eec4-11e9-9750-6925ec1fee7f",
            "tokenValue": token,
            "expiresAt": int(expires_at * 1000),
            "refreshTokenId": "ce81e2ee-eec4-11e9-9750-adef4e60446f",
        },
    }
