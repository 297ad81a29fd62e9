"""How the client reports what it does (calls, retries, refused logins, impossible values) without knowing of
Prometheus."""

from __future__ import annotations

from typing import Protocol


class ApiObserver(Protocol):
    """Receives one call per HTTP attempt and per retry; endpoint labels are a small fixed set, never IDs."""

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        """An attempt ended: ``code`` is the HTTP status ("200", "429" ...) or "error" without a response."""

    def retried(self, reason: str) -> None:
        """A request is retried: "rate_limited", "server_error", "connection" or "unauthorized"."""

    def auth_failed(self) -> None:
        """An authentication or token renewal attempt was refused or failed."""

    def ignored_values(self, reason: str, count: int) -> None:
        """``count`` values of an answer were impossible and treated as absent (reason "bad_timestamp")."""


class NullObserver:
    """The observer used when none is given."""

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        pass

    def retried(self, reason: str) -> None:
        pass

    def auth_failed(self) -> None:
        pass

    def ignored_values(self, reason: str, count: int) -> None:
        pass
