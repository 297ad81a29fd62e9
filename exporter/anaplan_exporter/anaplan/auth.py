"""Credentials and what each auth method sends; no HTTP here (see tokens.py).

Reprs of everything in this module mask secrets: passwords, private keys, tokens and refresh tokens.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import load_pem_x509_certificates

from .errors import AnaplanConfigurationError

log = logging.getLogger(__name__)

_MASK = "'***'"
_NONCE_BYTES = 100
_V2_TIMESTAMP_BYTES = 8


@dataclass(frozen=True, repr=False)
class BasicCredentials:
    """Anaplan user name and password (``Authorization: Basic``); the user must be an SSO exception user."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicCredentials(username={self.username!r}, password={_MASK})"


@dataclass(frozen=True, repr=False)
class CertificateCredentials:
    """A CA certificate (the whole PEM file) and its RSA private key, for ``CACertificate`` auth."""

    certificate_pem: bytes
    private_key_pem: bytes
    private_key_password: bytes | None = None
    payload_version: Literal["v1", "v2"] = "v2"

    def __repr__(self) -> str:
        return (
            f"CertificateCredentials(certificate_pem=<{len(self.certificate_pem)} bytes>, "
            f"private_key_pem={_MASK}, private_key_password={_MASK}, "
            f"payload_version={self.payload_version!r})"
        )


@dataclass(frozen=True, repr=False)
class OAuthCredentials:
    """An OAuth client and refresh token; rotated refresh tokens are persisted to ``token_file``."""

    client_id: str
    refresh_token: str
    token_file: Path | None = None
    client_secret: str | None = None

    def __repr__(self) -> str:
        return (
            f"OAuthCredentials(client_id={self.client_id!r}, refresh_token={_MASK}, "
            f"token_file={self.token_file!r}, client_secret={_MASK if self.client_secret else None})"
        )


@dataclass(frozen=True, repr=False)
class StaticTokenCredentials:
    """A ready-made token, used as is and never renewed."""

    token: str

    def __repr__(self) -> str:
        return f"StaticTokenCredentials(token={_MASK})"


Credentials = BasicCredentials | CertificateCredentials | OAuthCredentials | StaticTokenCredentials


def basic_authorization(credentials: BasicCredentials) -> str:
    """The ``Authorization`` header value for Basic auth."""
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def token_authorization(token: str) -> str:
    """The ``Authorization`` header value for the integration API and the auth service's token calls."""
    return f"AnaplanAuthToken {token}"


class CertificateSigner:
    """Builds ``CACertificate`` authentication requests: header plus a freshly signed nonce each time."""

    def __init__(
        self, credentials: CertificateCredentials, *, urandom: Callable[[int], bytes] = os.urandom
    ) -> None:
        if credentials.payload_version not in ("v1", "v2"):
            raise AnaplanConfigurationError(
                f"certificate payload_version must be 'v1' or 'v2', got {credentials.payload_version!r}"
            )
        try:
            load_pem_x509_certificates(credentials.certificate_pem)
        except ValueError:
            raise AnaplanConfigurationError("the certificate is not a readable PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(
                credentials.private_key_pem, password=credentials.private_key_password
            )
        except (ValueError, TypeError):
            # cryptography's message may say why (wrong password, bad format); it never quotes the key.
            raise AnaplanConfigurationError(
                "the certificate's private key could not be loaded (bad PEM, or wrong or missing password)"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise AnaplanConfigurationError("the certificate's private key must be an RSA key")
        self._key = key
        self._header = "CACertificate " + base64.b64encode(credentials.certificate_pem).decode("ascii")
        self._version = credentials.payload_version
        self._urandom = urandom

    def __repr__(self) -> str:
        return f"CertificateSigner(payload_version={self._version!r})"

    @property
    def authorization(self) -> str:
        """``CACertificate <base64 of the whole PEM file>``."""
        return self._header

    def payload(self, now: float) -> dict[str, str]:
        """The JSON body: random nonce (v2: 8-byte big-endian epoch seconds first), RSA-SHA512 signed."""
        if self._version == "v2":
            stamp = int(now).to_bytes(_V2_TIMESTAMP_BYTES, "big", signed=False)
            data = stamp + self._urandom(_NONCE_BYTES - _V2_TIMESTAMP_BYTES)
        else:
            data = self._urandom(_NONCE_BYTES)
        signature = self._key.sign(data, padding.PKCS1v15(), hashes.SHA512())
        body = {
            "encodedData": base64.b64encode(data).decode("ascii"),
            "encodedSignedData": base64.b64encode(signature).decode("ascii"),
        }
        if self._version == "v2":
            body["encodedDataFormat"] = "v2"
        return body


class RefreshTokenStore:
    """Keeps the newest OAuth refresh token, in ``path`` (mode 0600, replaced atomically) when given."""

    def __init__(self, initial: str, path: Path | None) -> None:
        self._path = path
        self._current = self._read(path) or initial

    def __repr__(self) -> str:
        return f"RefreshTokenStore(path={self._path!r})"

    @property
    def current(self) -> str:
        return self._current

    @staticmethod
    def _read(path: Path | None) -> str | None:
        if path is None or not path.exists():
            return None
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AnaplanConfigurationError(
                f"OAuth token_file {path}: cannot read it ({type(exc).__name__})"
            ) from None
        return text or None

    def update(self, token: str) -> None:
        """Remember ``token``; persist it so a restart does not lose a rotated (single-use) token."""
        if token == self._current:
            return
        self._current = token
        if self._path is None:
            return
        try:
            _write_private(self._path, token + "\n")
        except OSError as exc:
            log.error(
                "OAuth token_file %s: cannot save the rotated refresh token (%s); "
                "it is kept in memory only and a restart will need a new one",
                self._path,
                exc.strerror or type(exc).__name__,
            )


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only."""
    directory = path.parent
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
