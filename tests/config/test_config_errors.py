"""Every kind of mistake gives one line naming the file, the key path and the problem (never a secret)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from anaplan_exporter.config.file import apply_web_config_file, load_config
from anaplan_exporter.config.source import ConfigError

from .conftest import MINIMAL

Fail = Callable[[str | dict[str, object]], str]
BASE: dict[str, Any] = yaml.safe_load(MINIMAL)
HINT = "expected a duration (seconds, or a string like 90s, 15m, 1h30m, 1d)"


def _with(path: str, value: object) -> dict[str, Any]:
    """BASE with the value at a dotted path (``targets.0.processes``) set; ``...`` deletes it."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is ...:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


CASES: list[tuple[str, object, str]] = [
    ("anaplan.auth.pasword", "x", "anaplan.auth.pasword: unknown key; did you mean 'password'?"),
    ("target", [], "target: unknown key; did you mean 'targets'?"),
    (
        "zzz",
        1,
        "zzz: unknown key (known keys: anaplan, cloudworks, defaults, polling, sharding, state, targets, "
        "web)",
    ),
    (
        "targets.0.processes",
        ["118000000002", 12.5],
        "targets[0].processes[1]: expected an object ID, a name or a mapping, got 12.5",
    ),
    (
        "targets.0.processes",
        [True],
        "targets[0].processes[0]: expected an object ID, a name or a mapping, got true",
    ),
    (
        "targets.0.processes",
        [None],
        "targets[0].processes[0]: expected an object ID, a name or a mapping, got null",
    ),
    ("targets.0.processes", "all", "targets[0].processes: expected a list or \"*\", got 'all'"),
    ("targets.0.processes", {"id": "1"}, "targets[0].processes: expected a list, got a mapping"),
    (
        "targets.0.actions",
        ["118000000002"],
        "targets[0].actions[0]: 118000000002 is the ID of a process (prefix 118), not of an action",
    ),
    (
        "targets.0.imports",
        ["Load", "LOAD"],
        "targets[0].imports[1]: 'LOAD' is already listed at targets[0].imports[0]",
    ),
    (
        "targets.0.exports",
        [{"id": "116000000001", "name": "x"}],
        "targets[0].exports[0]: set exactly one of id or name",
    ),
    ("targets.0.exports", [{"expected_every": "1h"}], "targets[0].exports[0]: set exactly one of id or name"),
    (
        "targets.0.exports",
        [{"name": "x", "max_duraton": "1h"}],
        "targets[0].exports[0].max_duraton: unknown key; did you mean 'max_duration'?",
    ),
    (
        "targets.0.exports",
        [{"name": "x", "max_duration": "soon"}],
        f"targets[0].exports[0].max_duration: {HINT}, got 'soon'",
    ),
    (
        "targets.0.exports",
        [{"name": "x", "expected_every": 0}],
        "targets[0].exports[0].expected_every: must be greater than 0s, got 0",
    ),
    ("targets.0.model", ..., "targets[0].model: required key is missing"),
    ("targets.0.workspace", "  ", "targets[0].workspace: must not be empty"),
    ("targets.0.workspace", ["a"], "targets[0].workspace: expected a string, got a list"),
    ("targets", [], "targets: at least one target is required"),
    ("targets", {"workspace": "w"}, "targets: expected a list, got a mapping"),
    ("targets", ["w"], "targets[0]: expected a mapping, got 'w'"),
    (
        "targets.0",
        {"workspace": "w", "model": "m"},
        "targets[0]: selects no objects (set one of processes, imports, exports, actions)",
    ),
    (
        "targets",
        [{"workspace": "w", "model": "m", "imports": "*"}, {"workspace": "w", "model": "m", "exports": "*"}],
        "targets[1]: same workspace and model as targets[0]; merge them",
    ),
    ("polling.active_interval", 2, "polling.active_interval: must be at least 5s, got 2"),
    ("polling.active_interval", "4s", "polling.active_interval: must be at least 5s, got '4s'"),
    ("polling.idle_interval", 0, "polling.idle_interval: must be greater than 0s, got 0"),
    ("polling.idle_interval", -5, "polling.idle_interval: expected a non-negative finite duration, got -5"),
    (
        "polling.discovery_interval",
        "10x",
        f"polling.discovery_interval: {HINT}, got '10x'",
    ),
    ("polling.workers", "many", "polling.workers: expected an integer, got 'many'"),
    ("polling.workers", 0, "polling.workers: must be at least 1, got 0"),
    ("polling", [1], "polling: expected a mapping, got a list"),
    (
        "defaults.expected_every",
        "1y",
        f"defaults.expected_every: {HINT}, got '1y'",
    ),
    ("sharding", {"shard": 3, "total": 3}, "sharding.shard: must be less than sharding.total (3), got 3"),
    ("sharding", {"shard": -1}, "sharding.shard: must be at least 0, got -1"),
    ("sharding", {"total": 0}, "sharding.total: must be at least 1, got 0"),
    ("anaplan", ..., "anaplan: required key is missing"),
    ("anaplan.auth", ..., "anaplan.auth: required key is missing"),
    (
        "anaplan.auth.method",
        ...,
        "anaplan.auth.method: required key is missing (basic, certificate, oauth, token)",
    ),
    (
        "anaplan.auth.method",
        "ldap",
        "anaplan.auth.method: expected one of basic, certificate, oauth, token, got 'ldap'",
    ),
    ("anaplan.auth.token", "t", "anaplan.auth.token: not used by auth method 'basic'"),
    ("anaplan.auth.password_file", "/x", "anaplan.auth: set either password or password_file, not both"),
    ("anaplan.auth.password", ..., "anaplan.auth: password or password_file is required"),
    ("anaplan.auth.password", 1234.5, "anaplan.auth.password: expected a string, got a number"),
    ("anaplan.auth.username", ..., "anaplan.auth.username: required key is missing"),
    ("anaplan.api_url", "api.anaplan.com", "anaplan.api_url: expected an http(s) URL, got 'api.anaplan.com'"),
    ("anaplan.auth_url", "ftp://auth", "anaplan.auth_url: expected an http(s) URL, got 'ftp://auth'"),
    (
        "anaplan.cloudworks_url",
        "api.cloudworks.anaplan.com/2/0",
        "anaplan.cloudworks_url: expected an http(s) URL, got 'api.cloudworks.anaplan.com/2/0'",
    ),
    (
        "anaplan.retries",
        {"backoff_initial": 10, "backoff_max": 5},
        "anaplan.retries.backoff_max: must not be less than backoff_initial",
    ),
    ("anaplan.retries", {"max": -1}, "anaplan.retries.max: must be at least 0, got -1"),
    ("anaplan.retries", {"maximum": 1}, "anaplan.retries.maximum: unknown key; did you mean 'max'?"),
    (
        "anaplan.timeouts",
        {"read": True},
        f"anaplan.timeouts.read: {HINT}, got true",
    ),
    ("anaplan.timeouts", {"connect": 0}, "anaplan.timeouts.connect: must be greater than 0s, got 0"),
    (
        "anaplan.timeouts",
        {"read": "2m", "total": "90s"},
        "anaplan.timeouts.total: timeouts.total (90s) must not be less than timeouts.read (120s)",
    ),
    (
        "anaplan.timeouts",
        {"read": "3m"},
        "anaplan.timeouts.read: timeouts.total (120s) must not be less than timeouts.read (180s)",
    ),
    (
        "anaplan.max_response_size",
        "8 megs",
        "anaplan.max_response_size: expected a size in bytes such as 8MiB or 524288, got '8 megs'",
    ),
    ("anaplan.max_response_size", 1000, "anaplan.max_response_size: must be at least 64KiB, got 1000"),
    ("anaplan.max_concurrency", 0, "anaplan.max_concurrency: must be at least 1, got 0"),
    ("anaplan.requests_per_second", 0, "anaplan.requests_per_second: must be greater than 0, got 0"),
    ("anaplan.requests_per_second", "fast", "anaplan.requests_per_second: expected a number, got 'fast'"),
    (
        "anaplan.tls_verify",
        "/nonexistent/ca.pem",
        "anaplan.tls_verify: CA bundle /nonexistent/ca.pem does not exist",
    ),
    ("anaplan.tls_verify", 3, "anaplan.tls_verify: expected true, false or a file path, got 3"),
    ("web.listen_address", "10118", "web.listen_address: expected host:port or :port, got '10118'"),
    ("web.listen_address", "a\nb:1", "web.listen_address: invalid host in 'a\\nb:1'"),
    (
        "web.telemetry_path",
        "/-/ready",
        "web.telemetry_path: expected a path such as /metrics (not /, /runbook, /-/healthy or /-/ready), "
        "got '/-/ready'",
    ),
    (
        "web.telemetry_path",
        "/runbook",
        "web.telemetry_path: expected a path such as /metrics (not /, /runbook, /-/healthy or /-/ready), "
        "got '/runbook'",
    ),
    (
        "web.basic_auth_users",
        {"admin": "plain-text-password"},
        "web.basic_auth_users.admin: expected a bcrypt hash "
        "(e.g. from: htpasswd -nBC 10 \"\" | tr -d ':\\n')",
    ),
    (
        "web.basic_auth_users",
        ["admin"],
        "web.basic_auth_users: expected a mapping of user to bcrypt hash, got a list",
    ),
    (
        "web.tls_server_config",
        {"cert_file": "/dev/null"},
        "web.tls_server_config.key_file: required key is missing",
    ),
    (
        "web.tls_server_config",
        {"cert_file": "/nonexistent.crt", "key_file": "/dev/null"},
        "web.tls_server_config.cert_file: cannot read /nonexistent.crt: No such file or directory",
    ),
    (
        "web.tls_server_config",
        {"cert_file": "/dev/null", "key_file": "/dev/null", "client_auth_type": "RequireAnyClientCert"},
        "web.tls_server_config.client_auth_type: only RequireAndVerifyClientCert is supported "
        "(with client_ca_file), got 'RequireAnyClientCert'",
    ),
    (
        "web.tls_server_config",
        {"cert_file": "/dev/null", "key_file": "/dev/null", "client_auth_type": "RequireAndVerifyClientCert"},
        "web.tls_server_config.client_ca_file: required with client_auth_type RequireAndVerifyClientCert",
    ),
    (
        "web.tls_server_config",
        {"min_version": "TLS13"},
        "web.tls_server_config.min_version: unknown key "
        "(known keys: cert_file, client_auth_type, client_ca_file, key_file)",
    ),
]


@pytest.mark.parametrize(("path", "value", "expected"), CASES, ids=lambda v: str(v)[:40])
def test_mistake(fail: Fail, path: str, value: object, expected: str) -> None:
    assert fail(_with(path, value)) == expected


def test_active_max_interval_below_active_interval(fail: Fail) -> None:
    data = _with("polling", {"active_interval": "30s", "active_max_interval": "10s"})
    assert fail(data) == "polling.active_max_interval: must not be less than active_interval"


def test_missing_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(MINIMAL)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert (
        str(caught.value)
        == f"{path}: anaplan.auth.password: environment variable ANAPLAN_PASSWORD is not set"
    )
    assert (caught.value.path, caught.value.source) == ("anaplan.auth.password", str(path))


def test_malformed_reference(fail: Fail) -> None:
    assert fail(_with("web.listen_address", "${PORT")) == (
        "web.listen_address: malformed ${...} reference (use ${NAME} or ${NAME:-default})"
    )


def test_unreadable_secret_file(fail: Fail, tmp_path: Path) -> None:
    data = _with("anaplan.auth.password", ...)
    data["anaplan"]["auth"]["password_file"] = "missing-password"
    assert fail(data) == (
        f"anaplan.auth.password_file: cannot read {tmp_path / 'missing-password'}: No such file or directory"
    )
    (tmp_path / "empty").write_text("\n")
    data["anaplan"]["auth"]["password_file"] = "empty"
    assert fail(data) == "anaplan.auth.password_file: empty is empty"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "anaplan: [\n",
            "line 2, column 1: YAML syntax error: expected the node content, but found '<stream end>'",
        ),
        (
            "anaplan:\n  api_url: a\n  api_url: b\n",
            "line 3, column 3: YAML syntax error: duplicate key 'api_url'",
        ),
        (
            "a: b\n\tc: d\n",
            "line 2, column 1: YAML syntax error: found character '\\t' that cannot start any token",
        ),
        (
            "targets: " + "[" * 250 + "]" * 250 + "\n",
            "line 1, column 73: YAML syntax error: nested deeper than 64 levels",
        ),
        (
            "targets:\n" + "".join(f"{' ' * level}-\n" for level in range(1000)),
            "line 65, column 64: YAML syntax error: nested deeper than 64 levels",
        ),
        (
            "a: &a [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1 if i > 1 else ''}]\n" for i in range(1, 100)),
            "line 64, column 12: YAML syntax error: nested deeper than 64 levels",
        ),
        ("targets: &t [*t]\n", "line 1, column 14: YAML syntax error: alias *t inside its own anchor"),
        ("- 1\n- 2\n", "(top level): expected a mapping, got a list"),
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
    ],
)
def test_yaml_problems(fail: Fail, text: str, expected: str) -> None:
    assert fail(text) == expected


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match=r"nope\.yml: cannot read the file: No such file or directory$"):
        load_config(path, {})


def test_secrets_never_appear_in_messages(fail: Fail, tmp_path: Path) -> None:
    secret = "Tr0ub4dor&3-very-secret"
    (tmp_path / "token").write_text(secret)
    cases = [
        _with("anaplan.auth", {"method": "token", "token": [secret]}),
        _with("anaplan.auth", {"method": "token", "token": secret, "token_file": "token"}),
        _with("anaplan.auth", {"method": "basic", "username": "u", "password": secret, "token": secret}),
        _with("web.basic_auth_users", {"admin": secret}),
        _with("anaplan.auth", {"method": "oauth", "client_id": "c", "refresh_token": {"v": secret}}),
    ]
    for data in cases:
        assert secret not in fail(data)


def test_web_config_file(tmp_path: Path, minimal: dict[str, object], env: dict[str, str]) -> None:
    hashed = "$2b$04$" + "a" * 53
    (tmp_path / "server.crt").write_text("cert")
    (tmp_path / "server.key").write_text("key")
    web_file = tmp_path / "web.yml"
    web_file.write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    main = tmp_path / "config.yml"
    main.write_text(yaml.safe_dump(minimal))
    config = apply_web_config_file(load_config(main, env), web_file, env)
    assert config.web.tls_cert_file == str(tmp_path / "server.crt")
    assert config.web.tls_key_file == str(tmp_path / "server.key")
    assert dict(config.web.basic_auth_users) == {"prometheus": hashed}
    assert config.web.listen_address == ":10118"

    with pytest.raises(ConfigError, match=r"TLS or basic auth is also set under 'web:'"):
        apply_web_config_file(config, web_file, env)

    web_file.write_text("http_server_config:\n  http2: false\n")
    with pytest.raises(ConfigError) as caught:
        apply_web_config_file(load_config(main, env), web_file, env)
    assert str(caught.value) == (
        f"{web_file}: http_server_config: unknown key; did you mean 'tls_server_config'?"
    )
