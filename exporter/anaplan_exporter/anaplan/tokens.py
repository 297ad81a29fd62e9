"""One cached token per credential: obtain, refresh before expiry, renew after a 401, log out.

Auth-service tokens (Basic, certificate) are extended with ``/token/refresh`` within ``refresh_margin`` of
``expiresAt`` and re-obtained with ``/token/authenticate`` when refreshing fails or the token has expired.
OAuth access tokens are renewed with the refresh-token grant. Static tokens are never renewed. A lock makes
sure only one thread renews at a time; the others wait and then use the fresh token.

Only a refusal (a 4xx from the auth or OAuth service) is reported to the observer as an auth failure: a
connection failure, timeout, 5xx or 429 while authenticating says nothing about the credentials.
Every token obtained is handed to the transport's redactor, so an echo of it is masked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .auth import (
    BasicCredentials,
    CertificateCredentials,
    CertificateSigner,
    Credentials,
    OAuthCredentials,
    RefreshTokenStore,
    StaticTokenCredentials,
    basic_authorization,
    token_authorization,
)
from .errors import AnaplanAuthError, AnaplanConfigurationError, AnaplanError, AnaplanStoppedError
from .models import iso_time
from .observer import ApiObserver
from .parsing import parse_oauth_token, parse_token_info
from .transport import Transport, decode_json

log = logging.getLogger(__name__)

# Anaplan tokens live 35 minutes; assumed when a response leaves out the expiry.
DEFAULT_LIFETIME = 35 * 60.0


class TokenManager:
    """Hands out a valid token for one credential, renewing it as needed (thread-safe)."""

    def __init__(
        self,
        credentials: Credentials,
        transport: Transport,
        *,
        auth_url: str,
        oauth_url: str,
        refresh_margin: float,
        observer: ApiObserver,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._auth_url = auth_url.rstrip("/")
        self._oauth_url = oauth_url.rstrip("/")
        self._margin = refresh_margin
        self._observer = observer
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at: float | None = None
        self._signer: CertificateSigner | None = None
        self._refresh_tokens: RefreshTokenStore | None = None
        if isinstance(credentials, CertificateCredentials):
            self._signer = CertificateSigner(credentials)
        elif isinstance(credentials, OAuthCredentials):
            self._refresh_tokens = RefreshTokenStore(credentials.refresh_token, credentials.token_file)
        elif isinstance(credentials, StaticTokenCredentials):
            if not credentials.token.strip():
                raise AnaplanConfigurationError("the static token is empty")
            self._token = credentials.token.strip()
        elif not isinstance(credentials, BasicCredentials):
            raise AnaplanConfigurationError(f"unknown credentials type {type(credentials).__name__}")

    def __repr__(self) -> str:
        return f"TokenManager(method={self.method!r}, expires_at={self._expires_at!r})"

    @property
    def method(self) -> str:
        return {
            BasicCredentials: "basic",
            CertificateCredentials: "certificate",
            OAuthCredentials: "oauth",
            StaticTokenCredentials: "static",
        }[type(self._credentials)]

    @property
    def expires_at(self) -> float | None:
        """Epoch seconds of the cached token's expiry; None before the first token and for static tokens."""
        return self._expires_at

    @property
    def renewable(self) -> bool:
        return not isinstance(self._credentials, StaticTokenCredentials)

    @property
    def from_auth_service(self) -> bool:
        return isinstance(self._credentials, BasicCredentials | CertificateCredentials)

    def token(self) -> str:
        """A token valid for at least ``refresh_margin`` where possible, obtaining or refreshing it first."""
        with self._lock:
            if self._token is None:
                self._obtain()
            elif self._expires_at is not None and self._clock() >= self._expires_at - self._margin:
                self._renew()
            assert self._token is not None
            return self._token

    def renew_after_unauthorized(self, rejected: str) -> str:
        """A fresh token after the API refused ``rejected``; the current one if another thread renewed it."""
        if not self.renewable:
            raise AnaplanAuthError(401, "the static token was refused and cannot be renewed", "authenticate")
        with self._lock:
            if self._token is not None and self._token != rejected:
                return self._token
            self._token = None
            self._expires_at = None
            self._obtain()
            assert self._token is not None
            return self._token

    def logout(self) -> None:
        """Invalidate an auth-service token (``/token/logout``); failures are only logged."""
        with self._lock:
            token, self._token, self._expires_at = self._token, None, None
        if token is None or not self.from_auth_service:
            return
        try:
            self._transport.send(
                "POST",
                f"{self._auth_url}/token/logout",
                endpoint="logout",
                headers={"Authorization": token_authorization(token)},
                auth_endpoint=True,
                max_retries=0,
                after_close=True,
            )
        except AnaplanStoppedError:
            log.debug("logout skipped: Anaplan asked to wait (Retry-After)")
        except AnaplanError as exc:
            log.debug("logout failed: %s", exc)

    # ----------------------------------------------------------------- internals (lock held)

    def _renew(self) -> None:
        if isinstance(self._credentials, OAuthCredentials):
            self._obtain()
            return
        assert self._token is not None and self._expires_at is not None
        if self._clock() < self._expires_at:
            try:
                self._refresh(self._token)
                return
            except AnaplanStoppedError:
                raise
            except AnaplanError as exc:
                if isinstance(exc, AnaplanAuthError):
                    self._observer.auth_failed()
                log.warning("token refresh failed (%s); authenticating again", exc)
        self._token = None
        self._expires_at = None
        self._obtain()

    def _obtain(self) -> None:
        try:
            if isinstance(self._credentials, OAuthCredentials):
                self._oauth_grant(self._credentials)
            else:
                self._authenticate()
        except AnaplanAuthError as exc:
            self._observer.auth_failed()
            log.error("Anaplan %s authentication refused: %s", self.method, exc)
            raise
        except AnaplanStoppedError:
            raise
        except AnaplanError as exc:
            log.error("Anaplan %s authentication failed (not a refusal): %s", self.method, exc)
            raise

    def _authenticate(self) -> None:
        headers: dict[str, str]
        body: dict[str, str] | None = None
        if isinstance(self._credentials, BasicCredentials):
            headers = {"Authorization": basic_authorization(self._credentials)}
        elif self._signer is not None:
            headers = {"Authorization": self._signer.authorization, "Content-Type": "application/json"}
            body = self._signer.payload(self._clock())
        else:  # only reachable for static tokens, which are never renewed
            raise AnaplanAuthError(401, "the static token cannot be renewed", "authenticate")
        response = self._transport.send(
            "POST",
            f"{self._auth_url}/token/authenticate",
            endpoint="authenticate",
            headers=headers,
            json_body=body,
            auth_endpoint=True,
        )
        self._store_auth_token(decode_json(response, "authenticate"), "authenticate")
        log.info(
            "authenticated with Anaplan (%s); token expires at %s",
            self.method,
            iso_time(self._expires_at or 0),
        )

    def _refresh(self, token: str) -> None:
        response = self._transport.send(
            "POST",
            f"{self._auth_url}/token/refresh",
            endpoint="refresh",
            headers={"Authorization": token_authorization(token)},
            auth_endpoint=True,
        )
        self._store_auth_token(decode_json(response, "refresh"), "refresh")
        log.debug("Anaplan token refreshed; expires at %s", iso_time(self._expires_at or 0))

    def _store_auth_token(self, body: object, endpoint: str) -> None:
        info = parse_token_info(body, endpoint)
        self._transport.redactor.add_token(info.token_value)
        self._token = info.token_value
        self._expires_at = (
            info.expires_at if info.expires_at is not None else self._clock() + DEFAULT_LIFETIME
        )

    def _oauth_grant(self, credentials: OAuthCredentials) -> None:
        assert self._refresh_tokens is not None
        body = {
            "grant_type": "refresh_token",
            "client_id": credentials.client_id,
            "refresh_token": self._refresh_tokens.current,
        }
        if credentials.client_secret:
            body["client_secret"] = credentials.client_secret
        response = self._transport.send(
            "POST",
            f"{self._oauth_url}/oauth/token",
            endpoint="oauth_token",
            headers={"Content-Type": "application/json"},
            json_body=body,
            auth_endpoint=True,
        )
        granted = parse_oauth_token(decode_json(response, "oauth_token"))
        self._transport.redactor.add_token(granted.access_token)
        self._transport.redactor.add_token(granted.refresh_token)
        if granted.refresh_token is not None:
            self._refresh_tokens.update(granted.refresh_token)
        lifetime = granted.expires_in if granted.expires_in is not None else DEFAULT_LIFETIME
        self._token = granted.access_token
        self._expires_at = self._clock() + lifetime
        log.info("obtained an Anaplan OAuth access token; expires at %s", iso_time(self._expires_at))
