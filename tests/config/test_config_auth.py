"""The four auth methods: what each reads, and the mistakes each reports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from anaplan_exporter.anaplan.auth import CertificateCredentials, OAuthCredentials, StaticTokenCredentials
from anaplan_exporter.config.file import Config
from support.certs import Issued, issue

Load = Callable[[str | dict[str, object]], Config]
Fail = Callable[[str | dict[str, object]], str]


@pytest.fixture(scope="module")
def anaplan_cert() -> Issued:
    return issue("svc-monitor@example.com")


def _auth(minimal: dict[str, Any], **auth: object) -> dict[str, Any]:
    minimal["anaplan"]["auth"] = auth
    return minimal


def test_certificate(load: Load, minimal: dict[str, Any], tmp_path: Path, anaplan_cert: Issued) -> None:
    cert, key = anaplan_cert.write(tmp_path, "anaplan", password=b"key pass")
    (tmp_path / "key-password").write_text("key pass\n")
    config = load(
        _auth(
            minimal,
            method="certificate",
            certificate_file=str(cert),
            private_key_file="anaplan.key",
            private_key_password_file="key-password",
            payload_version="v1",
        )
    )
    assert config.credentials == CertificateCredentials(
        cert.read_bytes(), key.read_bytes(), b"key pass", payload_version="v1"
    )
    assert "PRIVATE KEY" not in repr(config)


def test_certificate_defaults_to_v2_payload(
    load: Load, minimal: dict[str, Any], tmp_path: Path, anaplan_cert: Issued
) -> None:
    anaplan_cert.write(tmp_path, "anaplan")
    config = load(
        _auth(minimal, method="certificate", certificate_file="anaplan.crt", private_key_file="anaplan.key")
    )
    assert isinstance(config.credentials, CertificateCredentials)
    assert config.credentials.payload_version == "v2"
    assert config.credentials.private_key_password is None


def test_certificate_mistakes(
    fail: Fail, minimal: dict[str, Any], tmp_path: Path, anaplan_cert: Issued
) -> None:
    anaplan_cert.write(tmp_path, "anaplan")
    anaplan_cert.write(tmp_path, "encrypted", password=b"right")
    issue("someone else").write(tmp_path, "other")
    ec_key = tmp_path / "ec.key"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "not-pem.crt").write_text("hello")
    base = {"method": "certificate", "certificate_file": "anaplan.crt", "private_key_file": "anaplan.key"}

    def check(expected: str, **changes: object) -> None:
        assert fail(_auth(minimal, **{**base, **changes})) == expected

    check(
        "anaplan.auth.private_key_file: the key is encrypted: set private_key_password(_file)",
        private_key_file="encrypted.key",
    )
    check(
        "anaplan.auth.private_key_file: cannot load encrypted.key "
        "(not a PEM private key, or a wrong password)",
        private_key_file="encrypted.key",
        private_key_password="wrong",
    )
    check(
        "anaplan.auth.private_key_file: the key is not encrypted but private_key_password is set",
        private_key_password="wrong",
    )
    check(
        "anaplan.auth.private_key_file: the key does not match the certificate in anaplan.crt",
        private_key_file="other.key",
    )
    check(
        "anaplan.auth.private_key_file: Anaplan certificate authentication needs an RSA key",
        private_key_file="ec.key",
    )
    check(
        "anaplan.auth.certificate_file: not-pem.crt is not a PEM certificate", certificate_file="not-pem.crt"
    )
    check(
        f"anaplan.auth.certificate_file: cannot read {tmp_path / 'gone.crt'}: No such file or directory",
        certificate_file="gone.crt",
    )
    check("anaplan.auth.payload_version: expected one of v1, v2, got 'v3'", payload_version="v3")
    check("anaplan.auth.password: not used by auth method 'certificate'", password="x")
    assert fail(_auth(minimal, method="certificate", private_key_file="anaplan.key")) == (
        "anaplan.auth.certificate_file: required key is missing"
    )


def test_oauth(load: Load, minimal: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "refresh").write_text("refresh-token-1\n")
    (tmp_path / "client-secret").write_text("client-secret\n")
    (tmp_path / "state").mkdir()
    config = load(
        _auth(
            minimal,
            method="oauth",
            client_id="client-1",
            refresh_token_file="refresh",
            client_secret_file="client-secret",
            token_store="state/refresh-token",
        )
    )
    assert config.credentials == OAuthCredentials(
        "client-1",
        "refresh-token-1",
        token_file=tmp_path / "state" / "refresh-token",
        client_secret="client-secret",
    )
    assert "refresh-token-1" not in repr(config)


def test_oauth_token_store_replaces_a_missing_refresh_token(
    load: Load, minimal: dict[str, Any], tmp_path: Path
) -> None:
    (tmp_path / "store").write_text("rotated-2\n")
    config = load(_auth(minimal, method="oauth", client_id="c", token_store="store"))
    assert config.credentials == OAuthCredentials("c", "rotated-2", token_file=tmp_path / "store")


def test_oauth_mistakes(fail: Fail, minimal: dict[str, Any], tmp_path: Path) -> None:
    assert fail(_auth(minimal, method="oauth", client_id="c")) == (
        "anaplan.auth: refresh_token or refresh_token_file is required (unless token_store already holds one)"
    )
    assert (
        fail(_auth(minimal, method="oauth", refresh_token="r"))
        == "anaplan.auth.client_id: required key is missing"
    )
    assert fail(
        _auth(minimal, method="oauth", client_id="c", refresh_token="r", token_store="missing/store")
    ) == (f"anaplan.auth.token_store: folder {tmp_path / 'missing'} does not exist")
    assert fail(
        _auth(
            minimal,
            method="oauth",
            client_id="c",
            refresh_token="r",
            client_secret="s",
            client_secret_file="f",
        )
    ) == ("anaplan.auth: set either client_secret or client_secret_file, not both")


def test_token(load: Load, fail: Fail, minimal: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\n")
    assert load(_auth(minimal, method="token", token_file="token")).credentials == StaticTokenCredentials(
        "abc"
    )
    assert load(
        _auth(minimal, method="token", token="${ANAPLAN_PASSWORD}")
    ).credentials == StaticTokenCredentials("hunter2-Secret!")
    assert fail(_auth(minimal, method="token")) == "anaplan.auth: token or token_file is required"
