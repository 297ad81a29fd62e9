"""Loading valid configuration files: the minimal one, defaults, overrides, IDs, environment expansion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import ClientSettings
from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.config.file import Config, PollingConfig, load_config, parse_config
from anaplan_exporter.config.targets import DurationPolicy, ObjectSelection, ObjectSelector
from anaplan_exporter.config.web import WebConfig

from .conftest import MINIMAL, PASSWORD

Load = Callable[[str | dict[str, object]], Config]
Fail = Callable[[str | dict[str, object]], str]


def test_minimal_file_loads_as_documented(load: Load) -> None:
    config = load(MINIMAL)
    assert config.credentials == BasicCredentials("svc-monitor@example.com", PASSWORD)
    assert config.client == ClientSettings(
        api_url="https://api.anaplan.com/2/0", auth_url="https://auth.anaplan.com"
    )
    (target,) = config.targets
    assert (target.workspace, target.model) == ("8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F")
    assert dict(target.selections) == {
        ObjectType.PROCESS: ObjectSelection(all=False, items=(ObjectSelector("118000000002"),)),
        ObjectType.ACTION: ObjectSelection(all=False, items=(ObjectSelector("117000000019"),)),
        ObjectType.IMPORT: ObjectSelection(all=True, items=()),
        ObjectType.EXPORT: ObjectSelection(all=False, items=()),
    }
    assert (target.expected_every, target.max_duration) == (None, None)
    assert config.polling == PollingConfig(60, 5, 60, 600, 8)
    assert config.web == WebConfig(":10118", "/metrics")
    assert (config.shard, config.shard_total) == (0, 1)
    assert config.source.endswith("config.yml")


def test_secrets_stay_out_of_reprs(load: Load) -> None:
    assert PASSWORD not in repr(load(MINIMAL))


def test_missing_kinds_are_empty_selections(load: Load, minimal: dict[str, object]) -> None:
    minimal["targets"] = [{"workspace": "W", "model": "M", "exports": ["Revenue export"]}]
    (target,) = load(minimal).targets
    assert set(target.selections) == set(ObjectType)
    assert target.selections[ObjectType.PROCESS] == ObjectSelection()
    assert target.selections[ObjectType.EXPORT].items == (ObjectSelector("Revenue export"),)


def test_unquoted_ids_keep_their_text(load: Load) -> None:
    text = MINIMAL.replace('processes: ["118000000002"]', "processes: [118000000002]").replace(
        "workspace: 8a8b8c8d8e8f8g8i", "workspace: 0123"
    )
    (target,) = load(text).targets
    assert target.workspace == "0123"  # YAML 1.1 reads 0123 as octal 83; the text is what was meant
    assert target.selections[ObjectType.PROCESS].items == (ObjectSelector("118000000002"),)


def test_star_inside_a_list_adds_every_object(load: Load, minimal: dict[str, object]) -> None:
    minimal["targets"] = [
        {"workspace": "W", "model": "M", "imports": ["*", {"name": "Big load", "max_duration": "2h"}]}
    ]
    (target,) = load(minimal).targets
    assert target.selections[ObjectType.IMPORT] == ObjectSelection(
        all=True, items=(ObjectSelector("Big load", max_duration=7200),)
    )


def test_policy_overrides_merge(load: Load, minimal: dict[str, object]) -> None:
    minimal["defaults"] = {"expected_every": "1d", "max_duration": "30m"}
    minimal["targets"] = [
        {
            "workspace": "W",
            "model": "M",
            "max_duration": "1h",
            "processes": [
                {"id": "118000000002", "expected_every": "1h"},
                {"name": "Nightly load", "max_duration": "1h30m", "expected_every": 3600},
                "Plain",
            ],
        },
        {"workspace": "W", "model": "M2", "actions": "*"},
    ]
    first, second = load(minimal).targets
    assert (first.expected_every, first.max_duration) == (86400, 3600)
    assert (second.expected_every, second.max_duration) == (86400, 1800)
    by_id, by_name, plain = first.selections[ObjectType.PROCESS].items
    assert by_id == ObjectSelector("118000000002", expected_every=3600)
    assert by_name == ObjectSelector("Nightly load", expected_every=3600, max_duration=5400)
    assert first.policy(by_id) == DurationPolicy(3600, 3600)
    assert first.policy(by_name) == DurationPolicy(3600, 5400)
    assert first.policy(plain) == DurationPolicy(86400, 3600)
    assert second.policy() == DurationPolicy(86400, 1800)


def test_everything_else_is_read(load: Load, minimal: dict[str, object], tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("bundle")
    anaplan = minimal["anaplan"]
    assert isinstance(anaplan, dict)
    anaplan.update(
        {
            "api_url": "https://eu3.api.anaplan.com/2/0/",
            "auth_url": "https://eu3.auth.anaplan.com",
            "oauth_url": "https://eu3.app.anaplan.com",
            "cloudworks_url": "https://api.anaplan.com/cloudworks/2/0/",
            "timeouts": {"connect": "5s", "read": "2m", "total": "5m"},
            "retries": {"max": 0, "backoff_initial": 0, "backoff_max": "30s"},
            "max_concurrency": 2,
            "requests_per_second": 0.5,
            "tls_verify": "ca.pem",
            "max_response_size": "2MiB",
        }
    )
    minimal["polling"] = {
        "idle_interval": "2m",
        "active_interval": "10s",
        "active_max_interval": "5m",
        "discovery_interval": "1h",
        "metadata_refresh_interval": "12h",
        "workers": 3,
    }
    minimal["sharding"] = {"shard": 2, "total": 3}
    config = load(minimal)
    assert config.client == ClientSettings(
        api_url="https://eu3.api.anaplan.com/2/0",
        auth_url="https://eu3.auth.anaplan.com",
        oauth_url="https://eu3.app.anaplan.com",
        cloudworks_url="https://api.anaplan.com/cloudworks/2/0",
        connect_timeout=5,
        read_timeout=120,
        total_timeout=300,
        max_response_size=2 * 1024 * 1024,
        max_retries=0,
        backoff_initial=0,
        backoff_max=30,
        max_concurrency=2,
        requests_per_second=0.5,
        verify_tls=str(tmp_path / "ca.pem"),
    )
    assert config.polling == PollingConfig(120, 10, 300, 3600, 3, 43200)
    assert (config.shard, config.shard_total) == (2, 3)
    assert config.replica_client.requests_per_second == 0.5 / 3  # the shards share the deployment's budget
    minimal["sharding"] = {"shard": 2, "total": 3, "replica_requests_per_second": 0.25}
    assert load(minimal).replica_client.requests_per_second == 0.25  # unless a replica's figure is set


@pytest.mark.parametrize(
    ("value", "expected"),
    [(524288, 524288), ("524288", 524288), ("512KiB", 524288), ("8MiB", 8 * 2**20), ("1.5MB", 1_500_000)],
)
def test_max_response_size_units(
    load: Load, minimal: dict[str, object], value: object, expected: int
) -> None:
    anaplan = minimal["anaplan"]
    assert isinstance(anaplan, dict)
    anaplan["max_response_size"] = value
    assert load(minimal).client.max_response_size == expected


def test_client_bounds_default(load: Load, minimal: dict[str, object]) -> None:
    client = load(minimal).client
    assert (client.total_timeout, client.max_response_size) == (120.0, 8 * 2**20)


@pytest.mark.parametrize(
    ("value", "expected"), [(False, False), ("false", False), (True, True), ("TRUE", True)]
)
def test_tls_verify_booleans(load: Load, minimal: dict[str, object], value: object, expected: bool) -> None:
    anaplan = minimal["anaplan"]
    assert isinstance(anaplan, dict)
    anaplan["tls_verify"] = value
    assert load(minimal).client.verify_tls is expected


def test_active_max_interval_follows_a_larger_active_interval(load: Load, minimal: dict[str, object]) -> None:
    minimal["polling"] = {"active_interval": "2m"}
    assert load(minimal).polling.active_max_interval == 120


def test_environment_expansion(tmp_path: Path, minimal: dict[str, object]) -> None:
    minimal["polling"] = {"workers": "${WORKERS:-3}", "idle_interval": "${IDLE:-90s}"}
    minimal["web"] = {"listen_address": "${LISTEN:-:9999}", "telemetry_path": "/m$${x}"}
    minimal["targets"] = [{"workspace": "${WS}", "model": "${MODEL:-fallback}", "imports": ["${IMPORT}"]}]
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(minimal))
    environ = {"ANAPLAN_PASSWORD": "p", "WS": "Finance", "MODEL": "", "IDLE": "2m", "IMPORT": "Load ${raw}"}
    config = load_config(path, environ)
    assert config.polling.workers == 3
    assert config.polling.idle_interval == 120
    assert config.web.listen_address == ":9999"
    assert config.web.telemetry_path == "/m${x}"
    (target,) = config.targets
    assert (target.workspace, target.model) == ("Finance", "fallback")  # set but empty takes the default
    assert target.selections[ObjectType.IMPORT].items == (ObjectSelector("Load ${raw}"),)  # no re-expansion


def test_password_file_relative_to_the_config_folder(load: Load, tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "password").write_text("  pass word  \n")
    config = load(MINIMAL.replace("password: ${ANAPLAN_PASSWORD}", "password_file: secrets/password"))
    assert config.credentials == BasicCredentials("svc-monitor@example.com", "  pass word  ")


def test_parse_config_takes_data(minimal: dict[str, object]) -> None:
    config = parse_config(minimal, "inline.yml", {"ANAPLAN_PASSWORD": "x"})
    assert config.source == "inline.yml"
    assert len(config.targets) == 1


def test_example_file_in_the_repository_loads() -> None:
    example = Path(__file__).parents[2] / "config" / "anaplan-exporter.yml"
    config = load_config(example, {"ANAPLAN_PASSWORD": "secret"})
    (target,) = config.targets
    assert (target.expected_every, target.max_duration) == (86400, 3600)
    assert target.selections[ObjectType.PROCESS].items[1] == ObjectSelector("Nightly load", 86400, 10800)
    assert config.client == ClientSettings()
    assert config.polling == PollingConfig()
    assert config.web == WebConfig()
