"""Anaplan's auth service (``/token/*``) and OAuth service (``/oauth/token``), without HTTP plumbing.

Basic and certificate logins (RSA PKCS#1 v1.5 SHA-512 signatures really verified, v1 and v2 payloads),
refresh keeping the same token value, validate, logout, and single-use rotating OAuth refresh tokens.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .scenario import Scenario
from .validate import ScenarioError

V2_CLOCK_SKEW = 300.0  # seconds a v2 payload's timestamp may differ from now
MIN_ENCODED_DATA = 100  # bytes of random data Anaplan asks clients to sign


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None


@dataclass
class Token:
    value: str = field(repr=False)
    token_id: str
    refresh_token_id: str
    user: str
    renewed: float
    expires_at: float
    source: str  # "auth" or "oauth"
    revoked: bool = False


class TokenStore:
    """All tokens ever issued; a token is valid until expiresAt, logout, early expiry or expire-all."""

    def __init__(
        self, lifetime: float, clock: Callable[[], float], early_expiry: Callable[[], float | None]
    ) -> None:
        self._lifetime = lifetime
        self._clock = clock
        self._early_expiry = early_expiry
        self._tokens: dict[str, Token] = {}
        self._lock = threading.Lock()

    @property
    def lifetime(self) -> float:
        return self._lifetime

    def issue(self, user: str, source: str) -> Token:
        now = self._clock()
        token = Token(
            value=secrets.token_urlsafe(32),
            token_id=str(uuid.uuid4()),
            refresh_token_id=str(uuid.uuid4()),
            user=user,
            renewed=now,
            expires_at=now + self._lifetime,
            source=source,
        )
        with self._lock:
            self._tokens[token.value] = token
        return token

    def valid(self, value: str) -> Token | None:
        token = self._tokens.get(value)
        if token is None or token.revoked:
            return None
        now = self._clock()
        early = self._early_expiry()
        if now >= token.expires_at or (early is not None and now >= token.renewed + early):
            return None
        return token

    def refresh(self, value: str) -> Token | None:
        with self._lock:
            token = self.valid(value)
            if token is not None:
                token.renewed = self._clock()
                token.expires_at = token.renewed + self._lifetime
            return token

    def revoke(self, value: str) -> None:
        with self._lock:
            token = self._tokens.get(value)
            if token is not None:
                token.revoked = True

    def expire_all(self) -> int:
        with self._lock:
            live = [t for t in self._tokens.values() if not t.revoked]
            for token in live:
                token.revoked = True
            return len(live)


def _failure(status: int, kind: str, message: str) -> Reply:
    return Reply(status, {"status": kind, "statusMessage": message})


def _bad_header(message: str) -> Reply:
    return _failure(400, "FAILURE_BAD_HEADER", message)


def _bad_credential(message: str) -> Reply:
    return _failure(401, "FAILURE_BAD_CREDENTIAL", message)


def _oauth_error(code: str, description: str) -> Reply:
    return Reply(400, {"error": code, "error_description": description})


def _b64(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def split_authorization(header: str | None) -> tuple[str, str]:
    """``("AnaplanAuthToken", "abc")`` from ``"AnaplanAuthToken abc"``; empty strings when absent."""
    if not header:
        return "", ""
    scheme, _, value = header.strip().partition(" ")
    return scheme, value.strip()


class AuthService:
    def __init__(self, scenario: Scenario, tokens: TokenStore, clock: Callable[[], float]) -> None:
        self._users = dict(scenario.users)
        self._tokens = tokens
        self._clock = clock
        self._require_v2 = scenario.certificate.require_v2 if scenario.certificate else False
        self._certificate = _load_certificate(scenario.certificate.path) if scenario.certificate else None
        self._refresh_tokens: dict[str, str] = {
            token: client for client, token in scenario.oauth_clients.items()
        }
        self._clients = set(scenario.oauth_clients)
        self._lock = threading.Lock()
        self.validation_url = "/token/validate"

    # ---- auth service --------------------------------------------------------------------------------
    def authenticate(self, authorization: str | None, body: bytes) -> Reply:
        scheme, value = split_authorization(authorization)
        if scheme == "Basic":
            return self._basic(value)
        if scheme == "CACertificate":
            return self._certificate_login(value, body)
        return _bad_header("Authorization header must be 'Basic ...' or 'CACertificate ...'")

    def _basic(self, value: str) -> Reply:
        decoded = _b64(value)
        if decoded is None or b":" not in decoded:
            return _bad_header("Basic credentials are not base64 of user:password")
        user, _, password = decoded.decode("utf-8", "replace").partition(":")
        expected = self._users.get(user)
        if expected is None or not secrets.compare_digest(expected.encode(), password.encode()):
            return _bad_credential("Login failed: bad username or password")
        return self._token_reply(201, self._tokens.issue(user, "auth"), "Login successful")

    def _certificate_login(self, value: str, body: bytes) -> Reply:
        decoded = _b64(value)
        if decoded is None:
            return _bad_header("CACertificate value is not base64")
        try:
            if b"-----BEGIN" in decoded:
                presented = x509.load_pem_x509_certificate(decoded)
            else:
                presented = x509.load_der_x509_certificate(decoded)
        except ValueError:
            return _bad_header("CACertificate value is not a PEM or DER certificate")
        known = self._certificate
        if known is None or presented.fingerprint(hashes.SHA256()) != known.fingerprint(hashes.SHA256()):
            return _bad_credential("Login failed: certificate not recognised")
        try:
            payload = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _bad_credential("Login failed: body is not JSON")
        if not isinstance(payload, dict):
            return _bad_credential("Login failed: body is not a JSON object")
        data, signature = _b64(payload.get("encodedData")), _b64(payload.get("encodedSignedData"))
        if data is None or signature is None:
            return _bad_credential("Login failed: encodedData and encodedSignedData must be base64")
        if len(data) < MIN_ENCODED_DATA:
            return _bad_credential(f"Login failed: encodedData must hold at least {MIN_ENCODED_DATA} bytes")
        data_format = payload.get("encodedDataFormat", "v1")
        if data_format not in ("v1", "v2") or (self._require_v2 and data_format != "v2"):
            return _bad_credential(f"Login failed: unsupported encodedDataFormat {data_format!r}")
        public_key = known.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            return _bad_credential("Login failed: certificate key is not RSA")
        try:
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
        except InvalidSignature:
            return _bad_credential("Login failed: signature does not match encodedData")
        if data_format == "v2":
            stamp = int.from_bytes(data[:8], "big")
            if abs(self._clock() - stamp) > V2_CLOCK_SKEW:
                return _bad_credential("Login failed: v2 timestamp is more than 5 minutes from now")
        subject = presented.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        user = str(subject[0].value) if subject else "certificate"
        return self._token_reply(201, self._tokens.issue(user, "auth"), "Login successful")

    def _token_reply(self, status: int, token: Token, message: str) -> Reply:
        return Reply(
            status,
            {
                "meta": {"validationUrl": self.validation_url},
                "status": "SUCCESS",
                "statusMessage": message,
                "tokenInfo": {
                    "tokenId": token.token_id,
                    "tokenValue": token.value,
                    "expiresAt": round(token.expires_at * 1000),
                    "refreshTokenId": token.refresh_token_id,
                },
            },
        )

    def _auth_token(self, authorization: str | None, bearer_status: int) -> Token | Reply:
        scheme, value = split_authorization(authorization)
        if scheme == "Bearer":
            # Anaplan's auth service refuses the Bearer scheme: 400 on refresh/validate, 401 on logout.
            if bearer_status == 400:
                return _bad_header("Authorization header must use the AnaplanAuthToken scheme")
            return _bad_credential("Authorization header must use the AnaplanAuthToken scheme")
        if scheme != "AnaplanAuthToken" or not value:
            return _bad_header("Authorization header must be 'AnaplanAuthToken <token>'")
        token = self._tokens.valid(value)
        if token is None:
            return _bad_credential("Token is invalid or has expired")
        return token

    def refresh(self, authorization: str | None) -> Reply:
        token = self._auth_token(authorization, 400)
        if isinstance(token, Reply):
            return token
        refreshed = self._tokens.refresh(token.value)
        if refreshed is None:
            return _bad_credential("Token is invalid or has expired")
        return self._token_reply(200, refreshed, "Token refreshed")

    def validate(self, authorization: str | None) -> Reply:
        token = self._auth_token(authorization, 400)
        if isinstance(token, Reply):
            return token
        return Reply(
            200,
            {
                "meta": {"validationUrl": self.validation_url},
                "status": "SUCCESS",
                "statusMessage": "Token validated",
                "tokenInfo": {"expiresAt": round(token.expires_at * 1000), "tokenId": token.token_id},
                "userInfo": {
                    "userGuid": uuid.uuid5(uuid.NAMESPACE_OID, token.user).hex,
                    "userId": token.user,
                    "customerGuid": "8a80da9b6e1d9e5f016e2a0b7ecc0b5c",
                },
            },
        )

    def logout(self, authorization: str | None) -> Reply:
        token = self._auth_token(authorization, 401)
        if isinstance(token, Reply):
            return token
        self._tokens.revoke(token.value)
        return Reply(204)

    # ---- OAuth ---------------------------------------------------------------------------------------
    def oauth_token(self, body: bytes) -> Reply:
        try:
            payload = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return _oauth_error("invalid_request", "body must be JSON")
        if not isinstance(payload, dict):
            return _oauth_error("invalid_request", "body must be a JSON object")
        if payload.get("grant_type") != "refresh_token":
            return _oauth_error("unsupported_grant_type", "only grant_type refresh_token is simulated")
        client_id, refresh_token = payload.get("client_id"), payload.get("refresh_token")
        if not isinstance(client_id, str) or not isinstance(refresh_token, str):
            return _oauth_error("invalid_request", "client_id and refresh_token are required")
        if client_id not in self._clients:
            return _oauth_error("unauthorized_client", "unknown client_id")
        with self._lock:
            owner = self._refresh_tokens.pop(refresh_token, None)
            if owner != client_id:
                if owner is not None:  # someone else's token: put it back untouched
                    self._refresh_tokens[refresh_token] = owner
                return _oauth_error("invalid_grant", "refresh token is invalid, expired or already used")
            new_refresh = secrets.token_urlsafe(32)
            self._refresh_tokens[new_refresh] = client_id
        access = self._tokens.issue(client_id, "oauth")
        return Reply(
            200,
            {
                "access_token": access.value,
                "refresh_token": new_refresh,
                "expires_in": round(self._tokens.lifetime),
                "token_type": "Bearer",
                "scope": "openid email offline_access",
            },
        )

    # ---- integration API -----------------------------------------------------------------------------
    def integration_token(self, authorization: str | None) -> Token | None:
        """The token behind an ``AnaplanAuthToken`` or ``Bearer`` header, if still valid."""
        scheme, value = split_authorization(authorization)
        if scheme not in ("AnaplanAuthToken", "Bearer") or not value:
            return None
        return self._tokens.valid(value)


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{path}: certificate: not a readable PEM certificate ({exc})") from None
