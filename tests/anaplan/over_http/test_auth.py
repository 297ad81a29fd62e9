"""Every auth method of the real client against the simulator's auth and OAuth services."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from anaplan_exporter.anaplan.auth import (
    BasicCredentials,
    CertificateCredentials,
    OAuthCredentials,
    StaticTokenCredentials,
)
from anaplan_exporter.anaplan.errors import AnaplanAuthError
from support.simulator import SimulatorHandle, make_certificate

from .harness import (
    PASSWORD,
    USER,
    WORKSPACE,
    ClientFactory,
    OffsetClock,
    RecordingObserver,
    SecretBook,
    StatsDelta,
    base_scenario,
    checked_simulator,
)

CLIENT_ID = "integration-client"
FIRST_REFRESH_TOKEN = "rt-initial-3b7d9a0c55e1"
KEY_PASSWORD = b"key-pass-9d1e77b0"


class Keys:
    """The certificate PEM the scenario trusts and its encrypted private key, as the client gets them."""

    def __init__(self, directory: Path) -> None:
        cert_path, key = make_certificate(directory, "exporter")
        self.cert_path = cert_path
        self.certificate_pem = cert_path.read_bytes()
        self.private_key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD),
        )
        self.plain_key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def credentials(self, version: str) -> CertificateCredentials:
        assert version in ("v1", "v2")
        return CertificateCredentials(
            self.certificate_pem,
            self.private_key_pem,
            private_key_password=KEY_PASSWORD,
            payload_version="v2" if version == "v2" else "v1",
        )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[SimulatorHandle]:
    scenario = base_scenario(
        certificate=str(keys.cert_path),
        oauth_clients=[{"client_id": CLIENT_ID, "refresh_token": FIRST_REFRESH_TOKEN}],
        workspaces=[{"id": WORKSPACE, "name": "Auth Workspace"}],
    )
    with checked_simulator(scenario, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(autouse=True)
def known_secrets(book: SecretBook, keys: Keys) -> None:
    book.add(FIRST_REFRESH_TOKEN, KEY_PASSWORD, keys.private_key_pem, keys.plain_key_pem)
    # A single line of key material is enough to count as a leak.
    book.add(*(line for line in keys.plain_key_pem.splitlines()[1:-1] if len(line) == 64))


def test_basic_auth_obtains_one_token_and_reuses_it(sim: SimulatorHandle, make_client: ClientFactory) -> None:
    delta = StatsDelta(sim)
    client = make_client(sim, BasicCredentials(USER, PASSWORD))
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert delta("authenticate", "201") == 1
    assert delta("workspaces", "200") == 2
    expires_at = client.token_expires_at
    assert expires_at is not None
    assert expires_at == pytest.approx(time.time() + 2100, abs=30)  # Anaplan's 35 minutes, from expiresAt


def test_wrong_password_is_an_auth_error_counted_by_the_observer(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook
) -> None:
    wrong = "pw-Wrong-0c8e13f2aa"
    book.add(wrong)
    observer = RecordingObserver()
    delta = StatsDelta(sim)
    client = make_client(sim, BasicCredentials(USER, wrong), observer=observer)
    with book.raises(AnaplanAuthError) as info:
        client.list_workspaces()
    assert isinstance(info.value, AnaplanAuthError)
    assert info.value.status == 401
    assert observer.auth_failures == 1
    assert observer.retries == []  # a refused login is not retried
    assert delta("authenticate", "401") == 1
    assert delta("workspaces") == 0


@pytest.mark.parametrize("version", ["v2", "v1"])
def test_certificate_auth(sim: SimulatorHandle, make_client: ClientFactory, keys: Keys, version: str) -> None:
    delta = StatsDelta(sim)
    client = make_client(sim, keys.credentials(version))
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert delta("authenticate", "201") == 1


def test_certificate_v2_payload_carries_the_clients_timestamp(
    sim: SimulatorHandle, make_client: ClientFactory, keys: Keys, book: SecretBook
) -> None:
    """The simulator checks a v2 timestamp (not a v1 nonce): an hour of clock skew fails v2 only."""
    skewed = OffsetClock(-3600.0)
    observer = RecordingObserver()
    v2 = make_client(sim, keys.credentials("v2"), clock=skewed, observer=observer)
    with book.raises(AnaplanAuthError) as info:
        v2.list_workspaces()
    assert "timestamp" in str(info.value)
    assert observer.auth_failures == 1
    v1 = make_client(sim, keys.credentials("v1"), clock=skewed)
    assert [ws.id for ws in v1.list_workspaces()] == [WORKSPACE]


def test_oauth_rotation_is_persisted_and_survives_a_restart(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook, tmp_path: Path
) -> None:
    token_file = tmp_path / "refresh-token"
    delta = StatsDelta(sim)
    first = make_client(sim, OAuthCredentials(CLIENT_ID, FIRST_REFRESH_TOKEN, token_file=token_file))
    assert [ws.id for ws in first.list_workspaces()] == [WORKSPACE]
    rotated = token_file.read_text(encoding="utf-8").strip()
    assert rotated and rotated != FIRST_REFRESH_TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    first.close()

    # A restart: the configured refresh token is stale, the token file holds the rotated one.
    second = make_client(sim, OAuthCredentials(CLIENT_ID, FIRST_REFRESH_TOKEN, token_file=token_file))
    assert [ws.id for ws in second.list_workspaces()] == [WORKSPACE]
    rotated_again = token_file.read_text(encoding="utf-8").strip()
    assert rotated_again not in (rotated, FIRST_REFRESH_TOKEN)

    # Access tokens revoked mid-use: the next grant renews it transparently and rotates once more.
    sim.expire_tokens()
    assert [ws.id for ws in second.list_workspaces()] == [WORKSPACE]
    assert token_file.read_text(encoding="utf-8").strip() not in (rotated_again, rotated)
    assert delta("oauth_token", "200") == 3
    assert delta("workspaces", "401") == 1

    # Each consumed refresh token is single-use: presenting it again is refused.
    for used in (FIRST_REFRESH_TOKEN, rotated):
        observer = RecordingObserver()
        stale = make_client(sim, OAuthCredentials(CLIENT_ID, used), observer=observer)
        with book.raises(AnaplanAuthError) as info:
            stale.list_workspaces()
        assert "already used" in str(info.value)
        assert observer.auth_failures == 1
    assert delta("oauth_token", "400") == 2


def test_static_token_is_used_as_is_and_never_renewed(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook
) -> None:
    basic = requests.post(sim.url + "/token/authenticate", auth=(USER, PASSWORD), timeout=10)
    assert basic.status_code == 201
    token = basic.json()["tokenInfo"]["tokenValue"]
    book.add(token)
    delta = StatsDelta(sim)
    observer = RecordingObserver()
    client = make_client(sim, StaticTokenCredentials(token), observer=observer)
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert client.token_expires_at is None
    sim.expire_tokens()
    with book.raises(AnaplanAuthError) as info:
        client.list_workspaces()
    assert isinstance(info.value, AnaplanAuthError)
    assert info.value.status == 401
    assert delta("authenticate") == 0 and delta("refresh") == 0
    assert observer.retries == []


def test_the_book_holds_the_live_token_that_crossed_the_wire(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook
) -> None:
    """The log and exception checks are only as good as the book: it must know the real token."""
    client = make_client(sim, BasicCredentials(USER, PASSWORD))
    client.list_workspaces()
    live = [
        value
        for value in book.values
        if " " not in value
        and requests.get(
            sim.url + "/token/validate", headers={"Authorization": f"AnaplanAuthToken {value}"}, timeout=10
        ).status_code
        == 200
    ]
    assert len(live) == 1
    assert book.leaks(f"... {live[0]} ...")
