"""The client's HTTP session: proxies from the environment, read once per origin; ~/.netrc never used."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses

from anaplan_exporter.anaplan.client import _session

URL = "https://api.anaplan.com/2/0/workspaces"


def test_environment_proxies_are_honoured_and_read_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    session = _session(16)
    first = session.merge_environment_settings(URL, {}, None, True, None)
    assert first["proxies"].get("https") == "http://proxy.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")
    again = session.merge_environment_settings(URL + "/x", {}, None, True, None)
    assert again == first  # cached for the origin
    bypassed = session.merge_environment_settings("https://internal.example/2/0", {}, None, True, None)
    assert "https" not in bypassed["proxies"]


@responses.activate
def test_netrc_credentials_never_replace_the_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine api.anaplan.com login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    responses.get(URL, json={})
    _session(4).get(URL, headers={"Authorization": "AnaplanAuthToken abc"})
    assert responses.calls[0].request.headers["Authorization"] == "AnaplanAuthToken abc"


def test_pool_keeps_a_connection_per_concurrent_request() -> None:
    adapter = _session(32).get_adapter(URL)
    assert adapter._pool_maxsize == 32  # type: ignore[attr-defined]
