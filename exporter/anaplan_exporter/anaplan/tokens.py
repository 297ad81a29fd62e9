"""One cached token per credential: obtain, refresh before expiry, renew after a 401, log out.

Auth-service tokens (Basic, certificate) are extended with ``/token/refresh`` within ``refresh_margin`` of
``expiresAt`` and re-obtained with ``/token/authenticate`` when refreshing fails or the token has expired.
OAuth access tokens are renewed with the refresh-token grant. Static tokens are never renewed. A lock makes
sure only one thread renews at a time; the others wait and then use the fresh token.

Only a refusal (a 4xx from the auth or OAuth service) is reported to the observer as an auth failure: a
connection failure, timeout, 5xx or 429 while authenticating says nothing about the credentials. A refusal
also holds every further login back for a while (see ``auth_backoff``); so does a 401 to a static token.
Every token obtained is handed to the transport's redactor, so an echo of it is masked.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
from .auth_backoff import AuthBackoff
from .errors import (
    AnaplanAuthBackoffError,
    AnaplanAuthError,
    AnaplanConfigurationError,
    AnaplanError,
    AnaplanStoppedError,
)
from .models import iso_time
from .observer import ApiObserver
from .parsing import parse_oauth_token, parse_token_info
from .timestamps import BAD_TIMESTAMP, TimeCheck
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
        backoff: AuthBackoff | None = None,
    ) -> None:
        self._credentials = credentials
        self._transport = transport
        self._auth_url = auth_url.rstrip("/")
        self._oauth_url = oauth_url.rstrip("/")
        self._margin = refresh_margin
        self._observer = observer
        self._clock = clock
        self._backoff = backoff if backoff is not None else AuthBackoff(clock)
        """Shared by the client's token managers: a refusal holds back the logins of the next one too."""
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
        """A token valid for at least ``refresh_margin`` where possible, obtaining or refreshing it first.

        Raises AnaplanAuthBackoffError at once, without a request, while an earlier refusal holds logins back
        (a static token: at ``static_request``).
        """
        self._backoff.check()  # not waiting for the lock while another thread makes the one attempt
        with self._lock:
            if self._token is None:
                self._obtain()
            elif self._expires_at is not None and self._clock() >= self._expires_at - self._margin:
                self._renew()
            assert self._token is not None
            return self._token

    @contextmanager
    def static_request(self) -> Iterator[None]:
        """Around a request with a static token: a 401 is a refusal that holds further requests back."""
        if not isinstance(self._credentials, StaticTokenCredentials):
            yield
            return
        try:
            with self._backoff.attempt():
                yield
        except AnaplanAuthError as exc:
            if not isinstance(exc, AnaplanAuthBackoffError):
                self._refused(exc)
            raise

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
            with self._backoff.attempt():  # raises AnaplanAuthBackoffError while logins are held back
                if isinstance(self._credentials, OAuthCredentials):
                    self._oauth_grant(self._credentials)
                else:
                    self._authenticate()
        except AnaplanAuthBackoffError:
            raise
        except AnaplanAuthError as exc:
            self._refused(exc)
            raise
        except AnaplanStoppedError:
            raise
        except AnaplanError as exc:
            log.error("Anaplan %s authentication failed (not a refusal): %s", self.method, exc)
            raise

    def _refused(self, exc: AnaplanAuthError) -> None:
        self._observer.auth_failed()
        refusal = self._backoff.refusal
        retry = f"; next attempt at {iso_time(refusal.next_attempt_at)}" if refusal is not None else ""
        log.error("Anaplan %s authentication refused: %s%s", self.method, exc, retry)

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
        times = TimeCheck(self._clock())
        info = parse_token_info(body, endpoint, times)
        if times.refused:
            self._observer.ignored_values(BAD_TIMESTAMP, times.refused)
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
