"""No password, token, private key or refresh token in logs, exception messages or reprs."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
import requests
import responses

from anaplan_exporter.anaplan.auth import (
    BasicCredentials,
    CertificateCredentials,
    CertificateSigner,
    OAuthCredentials,
    RefreshTokenStore,
    StaticTokenCredentials,
)
from anaplan_exporter.anaplan.errors import AnaplanError
from anaplan_exporter.anaplan.models import ObjectType

from .conftest import CertFiles, MakeClient
from .fakes import API, AUTH, OAUTH, T0, FakeClock, RecordingObserver, token_body

PASSWORD = "pw-Zq81-SECRET"
AUTH_TOKEN = "authtok-Kx5-SECRET"
AUTH_TOKEN_2 = "authtok-Lm9-SECRET"
STATIC_TOKEN = "static-Pp3-SECRET"
ACCESS = "access-Ww2-SECRET"
REFRESH_OLD = "refresh-Aa1-SECRET"
REFRESH_NEW = "refresh-Bb2-SECRET"
CLIENT_SECRET = "clientsecret-Cc3-SECRET"

BOUNDED_ENDPOINTS = {
    "authenticate",
    "refresh",
    "oauth_token",
    "logout",
    "list_workspaces",
    "list_models",
    "list_objects",
    "process_metadata",
    "list_tasks",
    "task_status",
}


def _secrets(cert_files: CertFiles) -> list[str]:
    key_lines = [line for line in cert_files.private_key_pem.decode().splitlines() if "-----" not in line]
    return [
        PASSWORD,
        base64.b64encode(f"alice:{PASSWORD}".encode()).decode(),
        AUTH_TOKEN,
        AUTH_TOKEN_2,
        STATIC_TOKEN,
        ACCESS,
        REFRESH_OLD,
        REFRESH_NEW,
        CLIENT_SECRET,
        cert_files.password.decode(),
        *key_lines[:3],
    ]


def _exercise(client_call: object, texts: list[str]) -> None:
    try:
        client_call()  # type: ignore[operator]
    except AnaplanError as exc:
        texts += [str(exc), repr(exc), repr(exc.args)]


def test_no_secret_in_logs_errors_or_reprs(
    http: responses.RequestsMock,
    make_client: MakeClient,
    cert_files: CertFiles,
    clock: FakeClock,
    observer: RecordingObserver,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    url = f"{API}/workspaces"

    # Basic: authenticate, 401 and replay, refresh failing with the token echoed back, 5xx, bad JSON, logout.
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body(AUTH_TOKEN, T0 + 2100))
    http.get(url, status=401, json={"status": {"code": 401, "message": "Unauthorized"}})
    http.get(url, json={"workspaces": []})
    basic = BasicCredentials("alice", PASSWORD)
    client = make_client(basic, max_retries=1)
    _exercise(client.list_workspaces, texts)
    clock.advance(1900)
    http.post(
        f"{AUTH}/token/refresh", status=400, json={"status": "FAILURE_BAD_HEADER", "statusMessage": "bad"}
    )
    http.replace(
        responses.POST, f"{AUTH}/token/authenticate", status=201, json=token_body(AUTH_TOKEN_2, T0 + 9000)
    )
    http.get(f"{API}/workspaces/w/models", status=503)
    _exercise(lambda: client.list_models("w"), texts)
    http.get(f"{API}/workspaces/w/models/m/imports", body="not json")
    _exercise(lambda: client.list_objects("w", "m", ObjectType.IMPORT), texts)
    http.get(f"{API}/workspaces/w/models/m/exports", body=requests.ConnectionError(f"boom {AUTH_TOKEN_2}"))
    _exercise(lambda: client.list_objects("w", "m", ObjectType.EXPORT), texts)
    http.post(f"{AUTH}/token/logout", status=500)
    client.close()
    texts += [repr(client), repr(basic)]

    # A refused login.
    http.replace(
        responses.POST, f"{AUTH}/token/authenticate", status=401, json={"statusMessage": "Login failed"}
    )
    _exercise(make_client(basic).list_workspaces, texts)

    # Certificate.
    credentials = CertificateCredentials(
        cert_files.certificate_pem, cert_files.private_key_pem, cert_files.password
    )
    _exercise(make_client(credentials).list_workspaces, texts)
    texts += [repr(credentials), repr(CertificateSigner(credentials))]

    # OAuth with rotation, and a refused grant.
    http.post(
        f"{OAUTH}/oauth/token",
        body=json.dumps({"access_token": ACCESS, "refresh_token": REFRESH_NEW, "expires_in": 2100}),
    )
    oauth = OAuthCredentials("client", REFRESH_OLD, token_file=tmp_path / "rt", client_secret=CLIENT_SECRET)
    oauth_client = make_client(oauth)
    _exercise(oauth_client.list_workspaces, texts)
    http.replace(responses.POST, f"{OAUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    _exercise(make_client(OAuthCredentials("client", REFRESH_OLD)).list_workspaces, texts)
    texts += [repr(oauth), repr(oauth_client), repr(RefreshTokenStore(REFRESH_OLD, None))]

    # Static token refused.
    http.replace(responses.GET, url, status=401, body="")
    static = StaticTokenCredentials(STATIC_TOKEN)
    _exercise(make_client(static).list_workspaces, texts)
    texts.append(repr(static))

    assert len(texts) > 15
    everything = "\n".join([caplog.text, *texts, *(r.getMessage() for r in caplog.records)])
    for secret in _secrets(cert_files):
        assert secret not in everything, f"a secret leaked: {secret[:6]}..."
    assert {endpoint for endpoint, _ in observer.requests} <= BOUNDED_ENDPOINTS
    assert caplog.records, "the scenario should have logged something"
