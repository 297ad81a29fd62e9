"""Each auth method on the wire: Basic, CA certificate (v1 and v2 payloads), OAuth with rotation, static."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import responses
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from anaplan_exporter.anaplan.auth import (
    BasicCredentials,
    CertificateCredentials,
    CertificateSigner,
    OAuthCredentials,
    StaticTokenCredentials,
)
from anaplan_exporter.anaplan.errors import AnaplanAuthError, AnaplanConfigurationError

from .conftest import CertFiles, MakeClient
from .fakes import API, AUTH, OAUTH, T0, FakeClock, RecordingObserver, token_body

WORKSPACES = f"{API}/workspaces"
EMPTY: dict[str, list[object]] = {"workspaces": []}


def _auth_header_of_api_calls(http: responses.RequestsMock) -> list[str]:
    return [c.request.headers["Authorization"] for c in http.calls if str(c.request.url).startswith(API)]


def test_basic_auth_header_201_and_token_use(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body("tok-basic", T0 + 2100))
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(BasicCredentials("alice@example.com", "pa:ss wörd"))
    assert client.list_workspaces() == []
    auth_request = http.calls[0].request
    expected = base64.b64encode("alice@example.com:pa:ss wörd".encode()).decode()
    assert auth_request.headers["Authorization"] == f"Basic {expected}"
    assert auth_request.method == "POST"
    assert _auth_header_of_api_calls(http) == ["AnaplanAuthToken tok-basic"]
    assert client.token_expires_at == pytest.approx(T0 + 2100)


def _verify_cert_request(request_headers: dict[str, str], body: bytes, cert_files: CertFiles) -> bytes:
    assert request_headers["Authorization"] == "CACertificate " + base64.b64encode(
        cert_files.certificate_pem
    ).decode("ascii")
    payload = json.loads(body)
    data = base64.b64decode(payload["encodedData"])
    signature = base64.b64decode(payload["encodedSignedData"])
    cert_files.public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
    with pytest.raises(InvalidSignature):
        cert_files.public_key.verify(
            signature, data[:-1] + bytes([data[-1] ^ 1]), padding.PKCS1v15(), hashes.SHA512()
        )
    return data


def test_certificate_auth_v2_payload(
    http: responses.RequestsMock, make_client: MakeClient, cert_files: CertFiles, clock: FakeClock
) -> None:
    clock.now = 1750736826.7
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body("tok-cert", clock.now + 2100))
    http.get(WORKSPACES, json=EMPTY)
    credentials = CertificateCredentials(
        cert_files.certificate_pem, cert_files.private_key_pem, cert_files.password
    )
    make_client(credentials).list_workspaces()
    request = http.calls[0].request
    assert request.body is not None
    payload = json.loads(request.body)
    assert payload["encodedDataFormat"] == "v2"
    data = _verify_cert_request(dict(request.headers), request.body, cert_files)  # type: ignore[arg-type]
    assert len(data) == 100
    assert data[:8] == bytes.fromhex("00000000685a1fba")  # big-endian epoch seconds, as in Anaplan's example
    assert int.from_bytes(data[:8], "big") == 1750736826
    assert _auth_header_of_api_calls(http) == ["AnaplanAuthToken tok-cert"]


def test_certificate_auth_v1_payload(
    http: responses.RequestsMock, make_client: MakeClient, cert_files: CertFiles
) -> None:
    http.post(f"{AUTH}/token/authenticate", status=200, json=token_body("tok-cert", T0 + 2100))
    http.get(WORKSPACES, json=EMPTY)
    credentials = CertificateCredentials(
        cert_files.certificate_pem, cert_files.private_key_pem, cert_files.password, payload_version="v1"
    )
    make_client(credentials).list_workspaces()
    request = http.calls[0].request
    assert "encodedDataFormat" not in json.loads(request.body)  # type: ignore[arg-type]
    data = _verify_cert_request(dict(request.headers), request.body, cert_files)  # type: ignore[arg-type]
    assert len(data) == 100


def test_certificate_payload_is_fresh_each_time(cert_files: CertFiles) -> None:
    signer = CertificateSigner(
        CertificateCredentials(cert_files.certificate_pem, cert_files.private_key_pem, cert_files.password)
    )
    first, second = signer.payload(T0), signer.payload(T0)
    assert first["encodedData"] != second["encodedData"]


def test_certificate_configuration_errors(cert_files: CertFiles) -> None:
    with pytest.raises(AnaplanConfigurationError, match="wrong or missing password") as wrong:
        CertificateSigner(
            CertificateCredentials(cert_files.certificate_pem, cert_files.private_key_pem, b"nope")
        )
    assert "nope" not in str(wrong.value)
    with pytest.raises(AnaplanConfigurationError, match="PEM certificate"):
        CertificateSigner(
            CertificateCredentials(b"not a cert", cert_files.private_key_pem, cert_files.password)
        )
    with pytest.raises(AnaplanConfigurationError, match="payload_version"):
        CertificateSigner(
            CertificateCredentials(
                cert_files.certificate_pem,
                cert_files.private_key_pem,
                cert_files.password,
                "v3",  # type: ignore[arg-type]
            )
        )


def _oauth_callback(issued: list[dict[str, str]], rotate: bool = True) -> object:
    def reply(request: object) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)  # type: ignore[attr-defined]
        issued.append(body)
        n = len(issued)
        answer = {
            "access_token": f"access-{n}",
            "expires_in": 2100,
            "token_type": "Bearer",
            "scope": "openid",
        }
        if rotate:
            answer["refresh_token"] = f"refresh-{n}"
        return 200, {}, json.dumps(answer)

    return reply


def test_oauth_rotation_is_persisted_and_reused_after_restart(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    issued: list[dict[str, str]] = []
    http.add_callback(responses.POST, f"{OAUTH}/oauth/token", callback=_oauth_callback(issued))  # type: ignore[arg-type]
    http.get(WORKSPACES, json=EMPTY)
    token_file = tmp_path / "oauth-refresh-token"
    credentials = OAuthCredentials("client-1", "refresh-0", token_file=token_file, client_secret="shh")

    client = make_client(credentials)
    client.list_workspaces()
    assert issued[0] == {
        "grant_type": "refresh_token",
        "client_id": "client-1",
        "refresh_token": "refresh-0",
        "client_secret": "shh",
    }
    assert token_file.read_text().strip() == "refresh-1"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["oauth-refresh-token"]  # no temp file left behind
    assert _auth_header_of_api_calls(http) == ["AnaplanAuthToken access-1"]
    assert client.token_expires_at == pytest.approx(clock.now + 2100)

    clock.advance(2100 - 299)  # inside the refresh margin: renewed with the newest refresh token
    client.list_workspaces()
    assert issued[1]["refresh_token"] == "refresh-1"
    assert token_file.read_text().strip() == "refresh-2"

    restarted = make_client(credentials)  # same configured (now stale) token, same file
    restarted.list_workspaces()
    assert issued[2]["refresh_token"] == "refresh-2"
    assert not any(str(c.request.url).startswith(AUTH) for c in http.calls)  # OAuth never uses /token/refresh


def test_oauth_without_rotation_keeps_the_refresh_token(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, tmp_path: Path
) -> None:
    issued: list[dict[str, str]] = []
    http.add_callback(
        responses.POST,
        f"{OAUTH}/oauth/token",
        callback=_oauth_callback(issued, rotate=False),  # type: ignore[arg-type]
    )
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(OAuthCredentials("client-1", "refresh-0", token_file=tmp_path / "t"))
    client.list_workspaces()
    clock.advance(2000)
    client.list_workspaces()
    assert [body["refresh_token"] for body in issued] == ["refresh-0", "refresh-0"]
    assert "client_secret" not in issued[0]
    assert not (tmp_path / "t").exists()


def test_oauth_refused_grant_is_an_auth_error(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    http.post(
        f"{OAUTH}/oauth/token",
        status=400,
        json={"error": "invalid_grant", "error_description": "Refresh token is expired"},
    )
    client = make_client(OAuthCredentials("client-1", "refresh-0"))
    with pytest.raises(AnaplanAuthError, match="Refresh token is expired") as caught:
        client.list_workspaces()
    assert caught.value.status == 400 and caught.value.endpoint == "oauth_token"
    assert observer.auth_failures == 1


def test_unreadable_token_file_is_a_configuration_error(make_client: MakeClient, tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(AnaplanConfigurationError, match="token_file"):
        make_client(OAuthCredentials("c", "r", token_file=tmp_path / "dir"))


def test_unwritable_token_file_keeps_working_in_memory(
    http: responses.RequestsMock, make_client: MakeClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    issued: list[dict[str, str]] = []
    http.add_callback(responses.POST, f"{OAUTH}/oauth/token", callback=_oauth_callback(issued))  # type: ignore[arg-type]
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(OAuthCredentials("c", "refresh-0", token_file=tmp_path / "missing-dir" / "token"))
    client.list_workspaces()
    assert "cannot save the rotated refresh token" in caplog.text
    assert "refresh-1" not in caplog.text


def test_static_token_is_used_as_is_and_401_is_final(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(StaticTokenCredentials("static-tok"))
    client.list_workspaces()
    assert _auth_header_of_api_calls(http) == ["AnaplanAuthToken static-tok"]
    assert client.token_expires_at is None
    http.replace(responses.GET, WORKSPACES, status=401, body="")
    with pytest.raises(AnaplanAuthError) as caught:
        client.list_workspaces()
    assert caught.value.status == 401
    assert len(http.calls) == 2  # no authentication attempt, no replay
    assert "unauthorized" not in observer.retries


def test_auth_service_refusal(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    http.post(
        f"{AUTH}/token/authenticate",
        status=401,
        json={"status": "FAILURE_BAD_CREDENTIAL", "statusMessage": "Login failed"},
    )
    client = make_client()
    with pytest.raises(AnaplanAuthError, match="authenticate: HTTP 401: Login failed"):
        client.list_workspaces()
    assert observer.auth_failures == 1
    assert len(http.calls) == 1  # a refused login is not retried


def test_close_logs_out_auth_service_tokens(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body("tok-basic", T0 + 2100))
    http.get(WORKSPACES, json=EMPTY)
    http.post(f"{AUTH}/token/logout", status=204)
    client = make_client()
    client.list_workspaces()
    client.close()
    logout = http.calls[-1].request
    assert logout.url == f"{AUTH}/token/logout"
    assert logout.headers["Authorization"] == "AnaplanAuthToken tok-basic"
    assert client.token_expires_at is None


def test_close_without_token_or_with_failing_logout_is_quiet(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    make_client().close()
    assert len(http.calls) == 0
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body("tok-basic", T0 + 2100))
    http.get(WORKSPACES, json=EMPTY)
    http.post(f"{AUTH}/token/logout", status=503)
    client = make_client()
    client.list_workspaces()
    client.close()  # does not raise, does not retry
    assert [c.request.url for c in http.calls].count(f"{AUTH}/token/logout") == 1
