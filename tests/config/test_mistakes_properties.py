"""Configuration mistakes the message tests in tests/config do not cover: odd keys, odd YAML values, odd
paths, numbers beyond any float. Each gives one line naming the file and key, never the secret."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from anaplan_exporter.config.file import load_config, parse_config
from anaplan_exporter.config.source import ConfigError

from .test_file_properties import ENVIRON, MINIMAL, PASSWORD


def _fail(data: object, tmp_path: Path) -> str:
    source = str(tmp_path / "config.yml")
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source, ENVIRON)
    message = str(caught.value)
    assert message.startswith(f"{source}: ") and "\n" not in message and PASSWORD not in message
    return message.removeprefix(f"{source}: ")


def _with(path: str, value: object) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    node[last] = value
    return data


def _int_key() -> dict[object, object]:
    data: dict[object, object] = {key: value for key, value in MINIMAL.items()}
    data[1] = "x"
    return data


def _auth(**auth: object) -> dict[str, Any]:
    return _with("anaplan.auth", auth)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, "the configuration is empty"),
        (_int_key(), "(top level): keys must be strings, got 1"),
        (_with("anaplan.timeouts", {True: "1s"}), "anaplan.timeouts: keys must be strings, got true"),
        (
            _with("web.basic_auth_users", {"a:b": "$2b$04$" + "a" * 53}),
            "web.basic_auth_users.a:b: user names must be non-empty strings without ':'",
        ),
        (
            _with("anaplan.api_url", "http://[::1"),
            "anaplan.api_url: expected an http(s) URL, got 'http://[::1'",
        ),
        (
            _with("polling.idle_interval", 10**400),
            "polling.idle_interval: expected a non-negative finite duration, "
            "got a number of more than 80 digits",
        ),
        (
            _with("anaplan.requests_per_second", -(10**400)),
            "anaplan.requests_per_second: expected a number, got -a number of more than 80 digits",
        ),
        (_with("polling.workers", "9" * 100), f"polling.workers: expected an integer, got '{'9' * 77}...'"),
        (
            _with("sharding", {"total": -(10**100)}),
            "sharding.total: must be at least 1, got -a number of more than 80 digits",
        ),
        (
            _with("targets.0.processes", ["${UNSET}"]),
            "targets[0].processes[0]: environment variable UNSET is not set",
        ),
        (
            _with("web.basic_auth_users", {"admin": "${UNSET}"}),
            "web.basic_auth_users.admin: environment variable UNSET is not set",
        ),
    ],
    ids=lambda v: str(v)[:30],
)
def test_mistake(tmp_path: Path, data: object, expected: str) -> None:
    assert _fail(data, tmp_path) == expected


def test_a_secret_file_that_is_not_text(tmp_path: Path) -> None:
    (tmp_path / "binary").write_bytes(b"\xff\xfe-not-utf8-SECRET")
    message = _fail(_auth(method="basic", username="u", password_file="binary"), tmp_path)
    assert message == "anaplan.auth.password_file: binary is not UTF-8 text"


def test_a_home_folder_of_an_unknown_user_is_reported_as_unreadable(tmp_path: Path) -> None:
    name = "~no-such-user-4d1e/pw"
    message = _fail(_auth(method="token", token_file=name), tmp_path)
    assert message == f"anaplan.auth.token_file: cannot read {tmp_path / name}: No such file or directory"
    message = _fail(_with("anaplan.tls_verify", name), tmp_path)
    assert message == f"anaplan.tls_verify: CA bundle {tmp_path / name} does not exist"


def test_a_nul_character_in_a_file_name(tmp_path: Path) -> None:
    message = _fail(_auth(method="token", token_file="a\x00b"), tmp_path)
    assert message.startswith("anaplan.auth.token_file: cannot read ") and message.endswith(
        ": embedded null byte"
    )
    # A token store that cannot be read is no refresh token: the configured one is still required.
    message = _fail(_auth(method="oauth", client_id="c", token_store="a\x00b"), tmp_path)
    assert message.startswith("anaplan.auth: refresh_token or refresh_token_file is required")


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("    password: !!int hunter2-Secret!", "int"),
        ("    password: !!float hunter2-Secret!", "float"),
        ("    password: " + "9" * 5000, "int"),
        ("    password: !!timestamp 2001-13-45", "timestamp"),
    ],
    ids=["int", "float", "digits", "timestamp"],
)
def test_yaml_values_no_python_value_can_hold(tmp_path: Path, line: str, kind: str) -> None:
    path = tmp_path / "config.yml"
    path.write_text(
        "anaplan:\n  auth:\n    method: basic\n    username: u\n"
        f"{line}\ntargets:\n  - {{workspace: w, model: m, imports: '*'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENVIRON)
    value_column = line.index(": ") + 3
    assert str(caught.value) == (
        f"{path}: line 5, column {value_column}: YAML syntax error: cannot read this value as {kind}"
    )
    assert "hunter2" not in str(caught.value)
