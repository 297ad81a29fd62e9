"""Fixtures for the Anaplan client tests: mocked HTTP, a fake clock, clients and a throwaway certificate."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from anaplan_exporter.anaplan.auth import BasicCredentials, Credentials
from anaplan_exporter.anaplan.client import AnaplanClient, ClientSettings

from .fakes import API, AUTH, OAUTH, FakeClock, RecordingObserver


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def observer() -> RecordingObserver:
    return RecordingObserver()


@pytest.fixture
def settings() -> ClientSettings:
    return ClientSettings(
        api_url=API, auth_url=AUTH, oauth_url=OAUTH, requests_per_second=1000.0, max_concurrency=8
    )


MakeClient = Callable[..., AnaplanClient]


@pytest.fixture
def make_client(settings: ClientSettings, clock: FakeClock, observer: RecordingObserver) -> MakeClient:
    """Build a client on the fake clock; jitter is fixed at 0.5 unless ``random`` is given."""

    def build(credentials: Credentials | None = None, **overrides: object) -> AnaplanClient:
        kwargs: dict[str, object] = {"observer": observer, "clock": clock, "sleep": clock.sleep}
        kwargs["random"] = overrides.pop("random", lambda: 0.5)
        if "credential_source" in overrides:
            kwargs["credential_source"] = overrides.pop("credential_source")
        client_settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
        return AnaplanClient(
            client_settings,
            credentials or BasicCredentials("alice@example.com", "pw-basic-SECRET"),
            **kwargs,  # type: ignore[arg-type]
        )

    return build


@dataclass(frozen=True)
class CertFiles:
    certificate_pem: bytes
    private_key_pem: bytes
    password: bytes
    public_key: rsa.RSAPublicKey


@pytest.fixture(scope="session")
def cert_files() -> CertFiles:
    """An RSA key (encrypted PEM) and a self-signed certificate for it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exporter.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    password = b"key-pass-SECRET"
    return CertFiles(
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM),
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        ),
        password=password,
        public_key=key.public_key(),
    )
