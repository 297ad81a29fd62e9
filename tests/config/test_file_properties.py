"""Configuration documents of any shape: ``parse_config`` returns a Config or raises a one-line ConfigError
that starts with the file name (and never repeats a secret); nothing else escapes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anaplan_exporter.config.file import Config, load_config, parse_config
from anaplan_exporter.config.source import ConfigError

PASSWORD = "hunter2-Secret!"
ENVIRON = {"ANAPLAN_PASSWORD": PASSWORD, "EMPTY": "", "PORT": "10118", "SPACE": " "}
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MINIMAL: dict[str, Any] = {
    "anaplan": {
        "api_url": "https://api.anaplan.com/2/0",
        "auth": {"method": "basic", "username": "svc@example.com", "password": "${ANAPLAN_PASSWORD}"},
    },
    "targets": [
        {
            "workspace": "8a8b8c8d8e8f8g8i",
            "model": "75A40874E6B64FA3AE0743278996850F",
            "processes": ["118000000002"],
            "imports": "*",
        }
    ],
}

# The real key tree: a dict is a section, a tuple a list of such sections, None a leaf.
SELECTOR = {"id": None, "name": None, "expected_every": None, "max_duration": None}
TREE: dict[str, Any] = {
    "anaplan": {
        "api_url": None, "auth_url": None, "oauth_url": None, "max_concurrency": None,
        "requests_per_second": None, "tls_verify": None,
        "auth": dict.fromkeys(
            ["method", "username", "password", "password_file", "certificate_file", "private_key_file",
             "private_key_password", "private_key_password_file", "payload_version", "client_id",
             "refresh_token", "refresh_token_file", "client_secret", "client_secret_file", "token_store",
             "token", "token_file"]
        ),
        "timeouts": {"connect": None, "read": None},
        "retries": {"max": None, "backoff_initial": None, "backoff_max": None},
    },
    "targets": ({
        "workspace": None, "model": None, "expected_every": None, "max_duration": None,
        "processes": (SELECTOR,), "imports": (SELECTOR,), "exports": (SELECTOR,), "actions": (SELECTOR,),
    },),
    "polling": dict.fromkeys(
        ["idle_interval", "active_interval", "active_max_interval", "discovery_interval", "workers"]
    ),
    "defaults": {"expected_every": None, "max_duration": None},
    "sharding": {"shard": None, "total": None},
    "web": {
        "listen_address": None, "telemetry_path": None, "basic_auth_users": None,
        "tls_server_config": dict.fromkeys(["cert_file", "key_file", "client_ca_file", "client_auth_type"]),
    },
}  # fmt: skip

BAD_STRINGS = (
    "", " ", "*", "-1", "0", "1e400", "nan", "inf", "5x", "1h30", "-1s", "90s", "1.5m", "1d2h", "500ms",
    "${", "${UNSET}", "${EMPTY}", "${EMPTY:-7}", "${PORT}", "$${PORT}", "${1BAD}", "${A:-}", "${SPACE}",
    "true", "yes", "basic", "token", "oauth", "certificate", "v1", "v3",
    "http://[::1", "http://", "https://api.anaplan.com/2/0", "ftp://x", ":10118", "[::1]:0", "host:99999",
    "/metrics", "/-/ready", "metrics", "pw", "missing", "empty", "binary", "folder", "folder/x",
    "~nosuchuser-4d1e/pw", "~", "a\x00b", "/dev/null", "118000000002", "112000000007", "0123",
    "$2b$04$" + "a" * 53, "RequireAndVerifyClientCert", "a\nb", "\u2028", "x" * 200,
)  # fmt: skip

leaves: st.SearchStrategy[object] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=70000),
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**64, 118000000002]),
    st.floats(),
    st.sampled_from(BAD_STRINGS),
    st.text(max_size=10),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.text(max_size=5) | st.integers() | st.sampled_from(["id", "name", "x"]), children, max_size=3
        ),
    ),
    max_leaves=8,
)


def _document(tree: Any) -> st.SearchStrategy[object]:
    """Random nesting of the real keys (each maybe left out), now and then a wrong value or an unknown key."""
    if tree is None:
        return values
    if isinstance(tree, tuple):
        return st.lists(_document(tree[0]), max_size=2) | values
    section = st.fixed_dictionaries({}, optional={key: _document(sub) for key, sub in tree.items()})
    unknown = st.dictionaries(st.sampled_from(["zzz", "pasword", "target", "interval"]), values, max_size=1)
    return st.one_of(
        section,
        section,
        section,
        st.tuples(section, unknown).map(lambda pair: {**pair[0], **pair[1]}),
        values,
    )


def _paths(tree: Any, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = []
    if isinstance(tree, dict):
        for key, sub in tree.items():
            found.append((*prefix, key))
            found.extend(_paths(sub, (*prefix, key)))
    elif isinstance(tree, tuple):
        found.append((*prefix, 0))
        found.extend(_paths(tree[0], (*prefix, 0)))
    return found


PATHS = _paths(TREE)


def _edit(document: dict[str, Any], edits: list[tuple[tuple[object, ...], object]]) -> dict[str, Any]:
    """``document`` with each value set at its path (parents made as needed), so faults sit in a good file.
    An edit whose path runs into a value of another shape (set by an earlier edit) is left out."""
    data = copy.deepcopy(document)
    for path, value in edits:
        node: Any = data
        for index, part in enumerate(path):
            if isinstance(node, list) and isinstance(part, int):
                while len(node) <= part:
                    node.append({})
            elif not (isinstance(node, dict) and isinstance(part, str)):
                break
            if index == len(path) - 1:
                node[part] = value
            else:
                if isinstance(node, dict) and part not in node:
                    node[part] = [] if isinstance(path[index + 1], int) else {}
                node = node[part]
    return data


edited = st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3).map(
    lambda edits: _edit(MINIMAL, edits)
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files the generated documents may name: a secret, an empty one, binary bytes, a folder."""
    path = tmp_path_factory.mktemp("config")
    (path / "pw").write_text("file-Secret-42\n")
    (path / "empty").write_text("\n")
    (path / "binary").write_bytes(b"\xff\xfe\x00secret")
    (path / "folder").mkdir()
    return path


def _check(data: object, source: str) -> Config | None:
    try:
        config = parse_config(data, source, ENVIRON)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"{source}: "), message
        assert len(message.splitlines()) == 1 and "\n" not in message, message
        assert PASSWORD not in message and "file-Secret-42" not in message, message
        return None
    assert isinstance(config, Config) and config.targets
    assert PASSWORD not in repr(config)
    return config


@PROPERTY
@given(edited)
def test_one_to_three_mistakes_in_a_good_file(folder: Path, data: dict[str, Any]) -> None:
    _check(data, str(folder / "config.yml"))


@PROPERTY
@given(_document(TREE))
def test_random_documents_of_the_real_keys(folder: Path, data: object) -> None:
    _check(data, str(folder / "config.yml"))


def test_the_minimal_document_is_valid(folder: Path) -> None:
    assert _check(MINIMAL, str(folder / "config.yml")) is not None


@PROPERTY
@given(edited)
def test_a_document_survives_the_yaml_round_trip_the_same_way(folder: Path, data: dict[str, Any]) -> None:
    """What load_config reads from a file must meet the same checks as the data itself."""
    path = folder / "config.yml"
    try:
        text = yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path, ENVIRON)
    except ConfigError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)


# One good ``anaplan.auth`` per method, so that each method's own keys are reached.
AUTH_BASES = (
    {"method": "basic", "username": "u", "password_file": "pw"},
    {"method": "token", "token_file": "pw"},
    {"method": "oauth", "client_id": "c", "refresh_token_file": "pw", "token_store": "folder/store"},
    {"method": "certificate", "certificate_file": "pw", "private_key_file": "pw"},
)


def test_every_tricky_value_at_every_key(folder: Path) -> None:
    """Exhaustive over the real key paths (auth keys under each method): each tricky value alone in an
    otherwise good file."""
    source = str(folder / "config.yml")
    tricky: list[object] = [
        *BAD_STRINGS,
        None,
        True,
        0,
        -1,
        1.5,
        float("nan"),
        10**400,
        [],
        {},
        ["x"],
        {"x": 1},
    ]
    escaped = []
    for path in PATHS:
        bases = [MINIMAL]
        if path[:2] == ("anaplan", "auth") and len(path) > 2:
            bases += [_edit(MINIMAL, [(("anaplan", "auth"), auth)]) for auth in AUTH_BASES]
        for base in bases:
            for value in tricky:
                try:
                    _check(_edit(base, [(path, value)]), source)
                except Exception as exc:  # collect them all for one readable failure
                    escaped.append(f"{'.'.join(map(str, path))} = {value!r}: {type(exc).__name__}: {exc}")
    assert not escaped, "\n".join(escaped[:40])
