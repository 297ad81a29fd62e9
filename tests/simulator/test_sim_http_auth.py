"""Auth service and OAuth service of the real simulator process."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from support.simulator import SimulatorHandle, certificate_login, make_certificate, running_simulator

LIFETIME = 600


@pytest.fixture(scope="module")
def certs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, rsa.RSAPrivateKey, Path, rsa.RSAPrivateKey]:
    directory = tmp_path_factory.mktemp("certs")
    good, good_key = make_certificate(directory, "good")
    other, other_key = make_certificate(directory, "other")
    return good, good_key, other, other_key


@pytest.fixture(scope="module")
def sim(
    certs: tuple[Path, rsa.RSAPrivateKey, Path, rsa.RSAPrivateKey], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatorHandle]:
    scenario: dict[str, Any] = {
        "users": [{"username": "u@example.com", "password": "pw"}],
        "oauth_clients": [{"client_id": "cli", "refresh_token": "rt-initial"}],
        "certificate": str(certs[0]),
        "token_lifetime_seconds": LIFETIME,
        "workspaces": [{"id": "abc", "name": "W"}],
    }
    with running_simulator(scenario, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def login(sim: SimulatorHandle) -> str:
    response = requests.post(
        sim.url + "/token/authenticate", headers=basic("u@example.com", "pw"), timeout=10
    )
    assert response.status_code == 201
    token: str = response.json()["tokenInfo"]["tokenValue"]
    return token


def api_status(sim: SimulatorHandle, scheme: str, token: str) -> int:
    headers = {"Authorization": f"{scheme} {token}"}
    return requests.get(sim.api_url + "/workspaces", headers=headers, timeout=10).status_code


def test_basic_login_returns_anaplans_envelope(sim: SimulatorHandle) -> None:
    before = time.time()
    response = requests.post(
        sim.url + "/token/authenticate", headers=basic("u@example.com", "pw"), timeout=10
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["statusMessage"]) == ("SUCCESS", "Login successful")
    assert body["meta"]["validationUrl"] == sim.url + "/token/validate"
    info = body["tokenInfo"]
    assert set(info) == {"tokenId", "tokenValue", "expiresAt", "refreshTokenId"}
    assert before + LIFETIME - 5 <= info["expiresAt"] / 1000 <= time.time() + LIFETIME + 5
    assert api_status(sim, "AnaplanAuthToken", info["tokenValue"]) == 200
    assert api_status(sim, "Bearer", info["tokenValue"]) == 200


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        (basic("u@example.com", "wrong"), 401, "FAILURE_BAD_CREDENTIAL"),
        (basic("nobody@example.com", "pw"), 401, "FAILURE_BAD_CREDENTIAL"),
        ({"Authorization": "Basic ***not-base64***"}, 400, "FAILURE_BAD_HEADER"),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, 400, "FAILURE_BAD_HEADER"),
        ({}, 400, "FAILURE_BAD_HEADER"),
        ({"Authorization": "Bearer abc"}, 400, "FAILURE_BAD_HEADER"),
    ],
)
def test_bad_logins(sim: SimulatorHandle, headers: dict[str, str], status: int, kind: str) -> None:
    response = requests.post(sim.url + "/token/authenticate", headers=headers, timeout=10)
    assert response.status_code == status
    assert response.json()["status"] == kind and response.json()["statusMessage"]


def cert_login(sim: SimulatorHandle, headers: dict[str, str], body: dict[str, str]) -> requests.Response:
    return requests.post(sim.url + "/token/authenticate", headers=headers, json=body, timeout=10)


@pytest.mark.parametrize("v2", [True, False])
def test_certificate_login_verifies_the_signature(
    sim: SimulatorHandle, certs: tuple[Path, rsa.RSAPrivateKey, Path, rsa.RSAPrivateKey], v2: bool
) -> None:
    good, key, _, _ = certs
    response = cert_login(sim, *certificate_login(good, key, v2=v2))
    assert response.status_code == 201, response.text
    assert api_status(sim, "AnaplanAuthToken", response.json()["tokenInfo"]["tokenValue"]) == 200


def test_certificate_login_accepts_the_der_header_variant(
    sim: SimulatorHandle, certs: tuple[Path, rsa.RSAPrivateKey, Path, rsa.RSAPrivateKey]
) -> None:
    good, key, _, _ = certs
    headers, body = certificate_login(good, key)
    der_b64 = "".join(line for line in good.read_text().splitlines() if not line.startswith("-----"))
    headers["Authorization"] = f"CACertificate {der_b64}"
    assert cert_login(sim, headers, body).status_code == 201


def test_certificate_login_failures(
    sim: SimulatorHandle, certs: tuple[Path, rsa.RSAPrivateKey, Path, rsa.RSAPrivateKey]
) -> None:
    good, key, other, other_key = certs
    # Signed with another key than the certificate's.
    headers, body = certificate_login(good, other_key)
    assert cert_login(sim, headers, body).json()["status"] == "FAILURE_BAD_CREDENTIAL"
    # A certificate the tenant does not know, even if correctly signed.
    assert cert_login(sim, *certificate_login(other, other_key)).status_code == 401
    # A v2 timestamp ten minutes old.
    stale = cert_login(sim, *certificate_login(good, key, timestamp=time.time() - 600))
    assert stale.status_code == 401 and "5 minutes" in stale.json()["statusMessage"]
    # The signature does not cover a tampered nonce.
    headers, body = certificate_login(good, key)
    data = bytearray(base64.b64decode(body["encodedData"]))
    data[-1] ^= 0xFF
    body["encodedData"] = base64.b64encode(bytes(data)).decode()
    assert cert_login(sim, headers, body).status_code == 401
    # Too little signed data.
    headers, _ = certificate_login(good, key)
    short = base64.b64encode(b"x" * 20).decode()
    signature = base64.b64encode(key.sign(b"x" * 20, padding.PKCS1v15(), hashes.SHA512())).decode()
    assert cert_login(sim, headers, {"encodedData": short, "encodedSignedData": signature}).status_code == 401
    # Not a certificate at all.
    garbage = {"Authorization": "CACertificate " + base64.b64encode(b"hello").decode()}
    assert cert_login(sim, garbage, body).status_code == 400


def test_refresh_keeps_the_token_value_and_extends_expiry(sim: SimulatorHandle) -> None:
    first = requests.post(sim.url + "/token/authenticate", headers=basic("u@example.com", "pw"), timeout=10)
    info = first.json()["tokenInfo"]
    headers = {"Authorization": f"AnaplanAuthToken {info['tokenValue']}"}
    refreshed = requests.post(sim.url + "/token/refresh", headers=headers, timeout=10)
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["statusMessage"] == "Token refreshed"
    new = body["tokenInfo"]
    assert new["tokenValue"] == info["tokenValue"] and new["refreshTokenId"] == info["refreshTokenId"]
    assert new["expiresAt"] >= info["expiresAt"]
    validated = requests.get(sim.url + "/token/validate", headers=headers, timeout=10)
    assert validated.status_code == 200
    assert validated.json()["userInfo"]["userId"] == "u@example.com"


def test_logout_invalidates_the_token(sim: SimulatorHandle) -> None:
    token = login(sim)
    headers = {"Authorization": f"AnaplanAuthToken {token}"}
    assert requests.post(sim.url + "/token/logout", headers=headers, timeout=10).status_code == 204
    assert api_status(sim, "AnaplanAuthToken", token) == 401
    assert requests.get(sim.url + "/token/validate", headers=headers, timeout=10).status_code == 401
    assert requests.post(sim.url + "/token/refresh", headers=headers, timeout=10).status_code == 401


def test_bearer_is_refused_by_the_auth_service(sim: SimulatorHandle) -> None:
    token = login(sim)
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.post(sim.url + "/token/refresh", headers=bearer, timeout=10).status_code == 400
    assert requests.get(sim.url + "/token/validate", headers=bearer, timeout=10).status_code == 400
    assert requests.post(sim.url + "/token/logout", headers=bearer, timeout=10).status_code == 401
    assert api_status(sim, "AnaplanAuthToken", token) == 200  # the failed logout did nothing


def test_oauth_refresh_tokens_rotate_and_are_single_use(sim: SimulatorHandle) -> None:
    def exchange(refresh_token: str) -> requests.Response:
        body = {"grant_type": "refresh_token", "client_id": "cli", "refresh_token": refresh_token}
        return requests.post(sim.url + "/oauth/token", json=body, timeout=10)

    first = exchange("rt-initial")
    assert first.status_code == 200
    tokens = first.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == LIFETIME
    assert tokens["refresh_token"] != "rt-initial"
    assert api_status(sim, "Bearer", tokens["access_token"]) == 200
    assert api_status(sim, "AnaplanAuthToken", tokens["access_token"]) == 200
    reused = exchange("rt-initial")
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    second = exchange(tokens["refresh_token"])
    assert second.status_code == 200
    assert exchange(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    wrong_client = requests.post(
        sim.url + "/oauth/token",
        json={
            "grant_type": "refresh_token",
            "client_id": "x",
            "refresh_token": second.json()["refresh_token"],
        },
        timeout=10,
    )
    assert wrong_client.status_code == 400 and wrong_client.json()["error"] == "unauthorized_client"


def test_integration_api_needs_a_valid_token(sim: SimulatorHandle) -> None:
    assert requests.get(sim.api_url + "/workspaces", timeout=10).status_code == 401
    assert api_status(sim, "AnaplanAuthToken", "made-up") == 401
    token = login(sim)
    assert api_status(sim, "Basic", token) == 401
    sim.expire_tokens()
    assert api_status(sim, "AnaplanAuthToken", token) == 401
    stats = sim.stats()
    assert stats["auth_requests"] >= 10 and stats["requests"]["workspaces"]["401"] >= 4
