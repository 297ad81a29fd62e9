"""Configuration reload on SIGHUP: the watched targets and the credentials change in place, everything else
needs a restart.

A reload is all or nothing. A file that fails validation, or that changes a setting the running client,
poller or web server was built with, leaves the running configuration untouched; the outcome is exported
the way Prometheus exports its own (``..._config_last_reload_successful``), so an alert can catch a bad edit.
"""

from __future__ import annotations

import dataclasses
import time

from prometheus_client import CollectorRegistry, Gauge

from .anaplan.auth import Credentials, OAuthCredentials
from .config.file import Config

_RESTART_ONLY = (
    ("client", "anaplan"),
    ("polling", "polling"),
    ("web", "web"),
    ("shard", "sharding"),
    ("shard_total", "sharding"),
    ("replica_requests_per_second", "sharding"),
    ("state", "state"),
)
"""Config fields a reload may not change, and the configuration section each comes from."""


def restart_needed(running: Config, fresh: Config) -> list[str]:
    """The sections whose changes in ``fresh`` only a restart can apply (empty: the reload can go ahead)."""
    sections: list[str] = []
    for field, section in _RESTART_ONLY:
        old, new = getattr(running, field), getattr(fresh, field)
        if old != new and section not in sections:
            sections.append(section)
    return sections


def credentials_changed(running: Config, fresh: Config) -> bool:
    """``fresh`` signs in differently (a reload then hands the client the new credentials)."""
    return _comparable(running.credentials) != _comparable(fresh.credentials)


def _comparable(credentials: Credentials) -> Credentials:
    """OAuth credentials with a token store: the refresh token read from the store rotates by design."""
    if isinstance(credentials, OAuthCredentials) and credentials.token_file is not None:
        return dataclasses.replace(credentials, refresh_token="")
    return credentials


class ReloadStats:
    """The outcome of the last reload (the configuration loaded at start counts as a successful one)."""

    def __init__(self, registry: CollectorRegistry, now: float | None = None) -> None:
        self.successful = Gauge(
            "anaplan_exporter_config_last_reload_successful",
            "1 if the last configuration reload (SIGHUP) succeeded, 0 if it was refused.",
            registry=registry,
        )
        self.success_time = Gauge(
            "anaplan_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully (at start or on SIGHUP).",
            registry=registry,
        )
        self.last_time: float = 0.0
        """When the configuration was last loaded or a reload was last refused."""
        self.last_successful = True
        self.last_success_time: float = 0.0
        self.succeeded(time.time() if now is None else now)

    def succeeded(self, now: float) -> None:
        self.successful.set(1)
        self.success_time.set(now)
        self.last_time = self.last_success_time = now
        self.last_successful = True

    def failed(self, now: float | None = None) -> None:
        self.successful.set(0)
        self.last_time = time.time() if now is None else now
        self.last_successful = False
