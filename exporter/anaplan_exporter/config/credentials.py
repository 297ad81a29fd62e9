"""The ``anaplan.auth`` key of the configuration: how the exporter signs in to Anaplan.

Four methods: ``basic`` (user name and password), ``certificate`` (a certificate and its RSA private
key, checked here to load and to match), ``oauth`` (a client ID and a refresh token, which a token store may
hold from a previous run) and ``token`` (a static token). Secret values may come from ``*_file`` keys and
are never repeated in a message; every fault raises a ConfigError naming the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..anaplan.auth import (
    BasicCredentials,
    CertificateCredentials,
    Credentials,
    OAuthCredentials,
    StaticTokenCredentials,
)
from .source import Section

_AUTH_KEYS: dict[str, tuple[str, ...]] = {
    "basic": ("username", "password", "password_file"),
    "certificate": (
        "certificate_file",
        "private_key_file",
        "private_key_password",
        "private_key_password_file",
        "payload_version",
    ),
    "oauth": (
        "client_id",
        "refresh_token",
        "refresh_token_file",
        "client_secret",
        "client_secret_file",
        "token_store",
    ),
    "token": ("token", "token_file"),
}


def parse_credentials(anaplan: Section) -> Credentials:
    """``anaplan.auth``: the keys of its ``method``, and no others."""
    if "auth" not in anaplan:
        raise anaplan.ctx.error(anaplan.at("auth"), "required key is missing")
    every_key = {"method", *(key for keys in _AUTH_KEYS.values() for key in keys)}
    auth = anaplan.section("auth", every_key)
    method = auth.string("method")
    if method is None:
        raise auth.ctx.error(auth.at("method"), f"required key is missing ({', '.join(_AUTH_KEYS)})")
    method = auth.choice("method", _AUTH_KEYS, "basic")
    for key in auth:
        if key != "method" and key not in _AUTH_KEYS[method]:
            raise auth.ctx.error(auth.at(key), f"not used by auth method {method!r}")
    if method == "basic":
        username = auth.required_string("username")
        password = auth.secret("password", required=True)
        assert password is not None
        return BasicCredentials(username, password)
    if method == "certificate":
        return _certificate_credentials(auth)
    if method == "oauth":
        return _oauth_credentials(auth)
    token = auth.secret("token", required=True)
    assert token is not None
    return StaticTokenCredentials(token)


def credential_files(anaplan: Section) -> tuple[Path, ...]:
    """The files ``anaplan.auth`` reads secrets from (after ``parse_credentials`` accepted it): a change to
    one of them lets the exporter log in again at once while a refusal holds logins back."""
    auth = anaplan.section("auth", {"method", *(key for keys in _AUTH_KEYS.values() for key in keys)})
    return tuple(
        path for key in _SECRET_FILE_KEYS if key in auth and (path := auth.file_path(key)) is not None
    )


_SECRET_FILE_KEYS = (
    "password_file",
    "certificate_file",
    "private_key_file",
    "private_key_password_file",
    "refresh_token_file",
    "client_secret_file",
    "token_store",
    "token_file",
)


def _certificate_credentials(auth: Section) -> CertificateCredentials:
    ctx = auth.ctx
    cert_name = auth.required_string("certificate_file")
    key_name = auth.required_string("private_key_file")
    cert_pem = ctx.read_file(auth.at("certificate_file"), cert_name)
    key_pem = ctx.read_file(auth.at("private_key_file"), key_name)
    password_text = auth.secret("private_key_password", required=False)
    password = password_text.encode("utf-8") if password_text is not None else None
    version = cast(Literal["v1", "v2"], auth.choice("payload_version", ("v1", "v2"), "v2"))
    try:
        certificate = x509.load_pem_x509_certificates(cert_pem)[0]
    except ValueError:
        raise ctx.error(auth.at("certificate_file"), f"{cert_name} is not a PEM certificate") from None
    key_at = auth.at("private_key_file")
    try:
        key = serialization.load_pem_private_key(key_pem, password)
    except TypeError:
        if password is None:
            raise ctx.error(key_at, "the key is encrypted: set private_key_password(_file)") from None
        raise ctx.error(key_at, "the key is not encrypted but private_key_password is set") from None
    except ValueError:
        raise ctx.error(
            key_at, f"cannot load {key_name} (not a PEM private key, or a wrong password)"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ctx.error(key_at, "Anaplan certificate authentication needs an RSA key")
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise ctx.error(key_at, f"the key does not match the certificate in {cert_name}")
    return CertificateCredentials(cert_pem, key_pem, password, version)


def _oauth_credentials(auth: Section) -> OAuthCredentials:
    client_id = auth.required_string("client_id")
    client_secret = auth.secret("client_secret", required=False)
    token_store = auth.file_path("token_store")
    if token_store is not None and not token_store.parent.is_dir():
        raise auth.ctx.error(auth.at("token_store"), f"folder {token_store.parent} does not exist")
    refresh_token = auth.secret("refresh_token", required=False) or _stored_refresh_token(token_store)
    if refresh_token is None:
        raise auth.ctx.error(
            auth.path,
            "refresh_token or refresh_token_file is required (unless token_store already holds one)",
        )
    return OAuthCredentials(client_id, refresh_token, token_file=token_store, client_secret=client_secret)


def _stored_refresh_token(token_store: Path | None) -> str | None:
    """The refresh token a previous run saved in ``token_store`` (it replaces the configured one anyway)."""
    if token_store is None:
        return None
    try:
        return token_store.read_text(encoding="utf-8").strip() or None
    except (OSError, ValueError):  # ValueError: not UTF-8, or a NUL character in the path
        return None
