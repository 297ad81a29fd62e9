"""The exporter's configuration: a YAML file turned into validated, immutable values.

``load_config`` reads the file; ``parse_config`` validates already-parsed data; ``apply_web_config_file``
adds an exporter-toolkit web config file. Every fault raises a ConfigError whose message is one line naming
the file and the key path, and secret values are never repeated in a message. This module holds the
top-level values and the small ``polling:``, ``sharding:`` and ``state:`` sections; the larger sections are
read by ``anaplan`` and ``credentials`` (``anaplan:``), ``targets`` (``targets:``), ``cloudworks``
(``cloudworks:``) and ``web`` (``web:``),
the raw values by ``source``. The reference is ``docs/configuration.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..anaplan.auth import Credentials
from ..anaplan.client import ClientSettings
from .anaplan import ANAPLAN_KEYS, parse_client_settings
from .cloudworks import CLOUDWORKS_KEYS, CloudWorksConfig, parse_cloudworks
from .credentials import credential_files, parse_credentials
from .source import ConfigError, Context, Section, read_yaml_file
from .targets import DurationPolicy, TargetConfig, parse_policy, parse_targets
from .web import WEB_KEYS, WebConfig, parse_basic_auth_users, parse_tls_server_config, parse_web

MIN_ACTIVE_INTERVAL = 5.0
"""Anaplan: check an ongoing task's status no more than once every 5 seconds."""


@dataclass(frozen=True)
class PollingConfig:
    idle_interval: float = 60.0
    active_interval: float = 5.0
    active_max_interval: float = 60.0
    discovery_interval: float = 600.0
    workers: int = 8
    metadata_refresh_interval: float = 86400.0
    """How often a process's step names are read again (besides when a run names an unknown step)."""


@dataclass(frozen=True)
class StateConfig:
    """Where the trackers' state is kept across restarts (None: in memory only)."""

    path: Path | None = None
    save_interval: float = 5.0
    default: bool = False
    """No ``state.path`` nor $ANAPLAN_EXPORTER_STATE_PATH: ``path`` is the conventional default (None when
    there is no home folder to put it in). Its folders are created, and when it cannot be written the
    exporter keeps the state in memory with a warning instead of refusing to start (as for a configured
    path)."""


@dataclass(frozen=True)
class Config:
    client: ClientSettings
    credentials: Credentials
    targets: tuple[TargetConfig, ...]
    polling: PollingConfig = field(default_factory=PollingConfig)
    web: WebConfig = field(default_factory=WebConfig)
    shard: int = 0
    shard_total: int = 1
    replica_requests_per_second: float | None = None
    """An explicit request budget for this replica; None: ``client.requests_per_second / shard_total``."""
    state: StateConfig = field(default_factory=StateConfig)
    cloudworks: CloudWorksConfig = field(default_factory=CloudWorksConfig)
    source: str = ""
    """The file the configuration came from."""
    credential_files: tuple[Path, ...] = ()
    """The files the credentials were read from (``*_file`` keys and ``token_store`` of ``anaplan.auth``)."""

    @property
    def replica_client(self) -> ClientSettings:
        """The client settings of this replica: the deployment's request budget is shared by its shards."""
        rate = self.replica_requests_per_second
        if rate is None:
            rate = self.client.requests_per_second / self.shard_total
        return replace(self.client, requests_per_second=rate)


# --- entry points ---


def load_config(path: Path, environ: Mapping[str, str] = os.environ) -> Config:
    """Read, expand and validate a configuration file."""
    return parse_config(read_yaml_file(path), str(path), environ)


def parse_config(data: object, source: str, environ: Mapping[str, str]) -> Config:
    """Validate parsed YAML; relative file paths are taken relative to the folder of ``source``."""
    ctx = Context(source, Path(source).parent, environ)
    if data is None:
        raise ctx.error("", "the configuration is empty")
    top = Section(
        ctx,
        data,
        "",
        ("anaplan", "targets", "polling", "defaults", "web", "sharding", "state", "cloudworks"),
    )
    if "anaplan" not in top:
        raise ctx.error("anaplan", "required key is missing")
    anaplan = top.section("anaplan", ANAPLAN_KEYS)
    defaults = parse_policy(top.section("defaults", ("expected_every", "max_duration")), DurationPolicy())
    sharding = top.section("sharding", ("shard", "total", "replica_requests_per_second"))
    shard, shard_total = _sharding(sharding)
    state = _state(top.section("state", ("path", "save_interval")), environ, shard, shard_total)
    return Config(
        client=parse_client_settings(anaplan),
        credentials=parse_credentials(anaplan),
        targets=parse_targets(top, defaults),
        polling=_polling(top.section("polling", _POLLING_KEYS)),
        web=parse_web(top.section("web", WEB_KEYS)),
        shard=shard,
        shard_total=shard_total,
        replica_requests_per_second=sharding.number("replica_requests_per_second", None),
        state=state,
        cloudworks=parse_cloudworks(top.section("cloudworks", CLOUDWORKS_KEYS)),
        source=source,
        credential_files=credential_files(anaplan),
    )


def with_shard(config: Config, shard: int, total: int) -> Config:
    """``config`` as shard ``shard`` of ``total`` (``--shard``); a default state file gets its name."""
    state = config.state
    if state.default and state.path is not None:
        state = replace(state, path=state.path.with_name(default_state_name(shard, total)))
    return replace(config, shard=shard, shard_total=total, state=state)


def apply_web_config_file(config: Config, path: Path, environ: Mapping[str, str] = os.environ) -> Config:
    """Take TLS and basic auth from an exporter-toolkit web config file (``--web.config.file``).

    The file has ``tls_server_config`` and ``basic_auth_users`` at its top level. They must then not also
    be set under ``web:`` in the main file, so that there is one place to look.
    """
    web = config.web
    if web.tls_cert_file or web.basic_auth_users:
        raise ConfigError(
            str(path),
            "",
            f"TLS or basic auth is also set under 'web:' in {config.source}; keep it in one place",
        )
    data = read_yaml_file(path)
    ctx = Context(str(path), path.parent, environ)
    top = Section(ctx, data, "", ("tls_server_config", "basic_auth_users"))
    cert, key, client_ca = parse_tls_server_config(top)
    return replace(
        config,
        web=replace(
            web,
            tls_cert_file=cert,
            tls_key_file=key,
            tls_client_ca_file=client_ca,
            basic_auth_users=parse_basic_auth_users(top),
        ),
    )


# --- polling, sharding ---

_POLLING_KEYS = (
    "idle_interval",
    "active_interval",
    "active_max_interval",
    "discovery_interval",
    "metadata_refresh_interval",
    "workers",
)


def _polling(section: Section) -> PollingConfig:
    defaults = PollingConfig()
    active = section.duration(
        "active_interval", defaults.active_interval, minimum=MIN_ACTIVE_INTERVAL, strict=False
    )
    assert active is not None
    active_max = section.duration("active_max_interval", max(defaults.active_max_interval, active))
    assert active_max is not None
    if active_max < active:
        raise section.ctx.error(section.at("active_max_interval"), "must not be less than active_interval")
    idle = section.duration("idle_interval", defaults.idle_interval)
    discovery = section.duration("discovery_interval", defaults.discovery_interval)
    assert idle is not None and discovery is not None
    metadata = section.duration("metadata_refresh_interval", defaults.metadata_refresh_interval)
    assert idle is not None and discovery is not None and metadata is not None
    workers = section.integer("workers", defaults.workers, minimum=1)
    return PollingConfig(idle, active, active_max, discovery, workers, metadata)


def _sharding(section: Section) -> tuple[int, int]:
    total = section.integer("total", 1, minimum=1)
    shard = section.integer("shard", 0, minimum=0)
    if shard >= total:
        raise section.ctx.error(
            section.at("shard"), f"must be less than sharding.total ({total}), got {shard}"
        )
    return shard, total


# --- state ---

STATE_PATH_ENV = "ANAPLAN_EXPORTER_STATE_PATH"
"""The state file when ``state.path`` is not set (the container image sets it)."""

STATE_FOLDER = "anaplan-exporter"
"""The default state file's folder under $XDG_STATE_HOME (else ~/.local/state)."""


def _state(section: Section, environ: Mapping[str, str], shard: int, total: int) -> StateConfig:
    """``state.path``: a file; "" keeps the state in memory; unset: $ANAPLAN_EXPORTER_STATE_PATH if set, else
    the conventional default (``default_state_path``)."""
    raw = section.raw("path")
    interval = section.duration("save_interval", StateConfig.save_interval)
    assert interval is not None
    if isinstance(raw, str) and not raw.strip():
        return StateConfig(None, interval)
    if raw is not None:
        return StateConfig(section.file_path("path"), interval)
    value = environ.get(STATE_PATH_ENV, "").strip()
    if value:
        return StateConfig(Path(value), interval)
    return StateConfig(default_state_path(environ, shard, total), interval, default=True)


def default_state_path(environ: Mapping[str, str], shard: int = 0, total: int = 1) -> Path | None:
    """``$XDG_STATE_HOME/anaplan-exporter/state.json``, else ``$HOME/.local/state/anaplan-exporter/...``
    (the XDG Base Directory convention; a relative value is ignored, as the convention says); None when
    neither is set. Each shard of a sharded set-up gets its own file (``state-shard-<I>.json``): replicas
    run by one user on one machine must not share a file."""
    xdg = environ.get("XDG_STATE_HOME", "").strip()
    home = environ.get("HOME", "").strip()
    if xdg and Path(xdg).is_absolute():
        base = Path(xdg)
    elif home and Path(home).is_absolute():
        base = Path(home) / ".local" / "state"
    else:
        return None
    return base / STATE_FOLDER / default_state_name(shard, total)


def default_state_name(shard: int, total: int) -> str:
    """The default state file's name: ``state.json``, or ``state-shard-<I>.json`` for shard I of several."""
    return "state.json" if total == 1 else f"state-shard-{shard}.json"
