"""A refused login in the running exporter: shown in /metrics and on the status page, and tried again at once
after a reload or when a secret file changes (the Anaplan services are mocked with ``responses``)."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from anaplan_exporter.anaplan.errors import AnaplanAuthBackoffError, AnaplanAuthError
from anaplan_exporter.app import Exporter
from anaplan_exporter.config.file import Config, load_config
from anaplan_exporter.secret_files import SecretFiles
from support.pagetext import PageText

AUTH = "https://auth.test"
API = "https://api.test/2/0"
USER = "svc@example.com"
WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"


def write_config(folder: Path, password: str) -> Path:
    (folder / "password").write_text(password + "\n", encoding="utf-8")
    path = folder / "config.yml"
    path.write_text(
        f"""
anaplan:
  api_url: {API}
  auth_url: {AUTH}
  auth: {{method: basic, username: {USER}, password_file: password}}
cloudworks: {{enabled: false}}
targets:
  - {{workspace: {WS}, model: {MODEL}, processes: ["118000000002"]}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def anaplan() -> Iterator[responses.RequestsMock]:
    """The auth service accepts only the password ``right-pw``; the API lists no workspaces."""

    def authenticate(request: object) -> tuple[int, dict[str, str], str]:
        header = request.headers["Authorization"]  # type: ignore[attr-defined]
        if header != "Basic " + base64.b64encode(f"{USER}:right-pw".encode()).decode():
            return 401, {}, json.dumps({"status": "FAILURE_BAD_CREDENTIAL", "statusMessage": "Login failed"})
        body = {"status": "SUCCESS", "tokenInfo": {"tokenValue": "tok-1", "expiresAt": 4_102_444_800_000}}
        return 201, {}, json.dumps(body)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, f"{AUTH}/token/authenticate", callback=authenticate)
        mock.get(f"{API}/workspaces", json={"workspaces": []})
        yield mock


def logins(mock: responses.RequestsMock) -> int:
    return sum(1 for call in mock.calls if str(call.request.url).endswith("/token/authenticate"))


def refuse(exporter: Exporter) -> None:
    with pytest.raises(AnaplanAuthError):
        exporter.client.list_workspaces()
    for _ in range(5):
        with pytest.raises(AnaplanAuthBackoffError):
            exporter.client.list_workspaces()


def test_config_lists_the_secret_files_it_reads(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "pw"))
    assert config.credential_files == (tmp_path / "password",)


def test_secret_files_notice_a_change_after_the_mark(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("one", encoding="utf-8")
    config = load_config(write_config(tmp_path, "pw"))
    files = SecretFiles([secret, tmp_path / "missing"], lambda: config.credentials)
    assert not files.changed()
    secret.write_text("two!", encoding="utf-8")
    assert files.changed()
    files.mark()
    assert not files.changed()
    os.utime(secret, ns=(0, 0))  # same size, another modification time
    assert files.changed()
    assert files.load() == config.credentials and not files.changed()
    (tmp_path / "missing").write_text("now here", encoding="utf-8")
    assert files.changed()


def test_refused_state_in_metrics_and_on_the_status_page(
    anaplan: responses.RequestsMock, tmp_path: Path
) -> None:
    exporter = Exporter(load_config(write_config(tmp_path, "wrong-pw")))
    try:
        registry = exporter.own_registry
        assert registry.get_sample_value("anaplan_auth_refused") == 0
        assert registry.get_sample_value("anaplan_auth_next_attempt_timestamp_seconds") is None
        refuse(exporter)
        assert logins(anaplan) == 1
        assert registry.get_sample_value("anaplan_auth_refused") == 1
        next_attempt = registry.get_sample_value("anaplan_auth_next_attempt_timestamp_seconds")
        refusal = exporter.client.auth_refusal
        assert refusal is not None and next_attempt == refusal.next_attempt_at
        page = PageText(exporter.status_page("")).text
        shown = r"authentication refused, next attempt at \d\d:\d\d:\d\d UTC \(in (5\d s|1 min)\)"  # 54-66 s
        assert re.search(shown, page)
        assert "Login failed" in page and "wrong-pw" not in page
    finally:
        exporter.stop()


def test_a_fixed_password_file_is_used_at_once_without_a_reload(
    anaplan: responses.RequestsMock, tmp_path: Path
) -> None:
    exporter = Exporter(load_config(write_config(tmp_path, "wrong-pw")))
    try:
        refuse(exporter)
        (tmp_path / "password").write_text("right-pw\n", encoding="utf-8")
        assert exporter.client.list_workspaces() == []  # long before the minute is up
        assert logins(anaplan) == 2
        assert exporter.own_registry.get_sample_value("anaplan_auth_refused") == 0
    finally:
        exporter.stop()


def test_a_reload_applies_new_credentials_and_tries_again_at_once(
    anaplan: responses.RequestsMock, tmp_path: Path
) -> None:
    path = write_config(tmp_path, "wrong-pw")
    exporter = Exporter(load_config(path))
    try:
        refuse(exporter)
        assert exporter.reload(lambda: load_config(path))  # unchanged: one new attempt at once
        with pytest.raises(AnaplanAuthError) as refused:
            exporter.client.list_workspaces()
        assert not isinstance(refused.value, AnaplanAuthBackoffError)
        assert logins(anaplan) == 2
        with pytest.raises(AnaplanAuthBackoffError):
            exporter.client.list_workspaces()

        # A rotated password no longer needs a restart; the config is read again as on SIGHUP.
        fixed = _with_password(path, "right-pw")
        assert exporter.reload(lambda: fixed)
        assert exporter.own_registry.get_sample_value("anaplan_exporter_config_last_reload_successful") == 1
        assert exporter.client.list_workspaces() == []
        assert logins(anaplan) == 3 and exporter.client.auth_refusal is None
    finally:
        exporter.stop()


def _with_password(path: Path, password: str) -> Config:
    (path.parent / "password").write_text(password + "\n", encoding="utf-8")
    return load_config(path)
