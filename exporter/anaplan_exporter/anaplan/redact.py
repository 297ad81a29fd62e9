"""Masks credentials and tokens in text taken from responses and exceptions before it is logged or raised.

An error body may echo the request (its Authorization header, the OAuth form) and an exception may quote
what was sent; such text goes through :meth:`Redactor.scrub` first. Two nets: the exact secrets this client
knows (the configured ones, and every token it has obtained, newest kept), in the forms they travel in (as
is, base64 ``user:password``, URL- and JSON-escaped), and generic patterns for anything that looks like a
credential whatever its value (``Authorization: ...``, ``AnaplanAuthToken x``, ``Basic x``, ``Bearer x``,
``"tokenValue": "x"``, ``refresh_token=x``).
"""

from __future__ import annotations

import base64
import collections
import json
import re
import threading
from urllib.parse import quote, quote_plus

from .auth import (
    BasicCredentials,
    CertificateCredentials,
    Credentials,
    OAuthCredentials,
    StaticTokenCredentials,
)

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter values are not searched for: they would mask ordinary words and numbers."""
KEEP_TOKENS = 32
"""How many obtained tokens are remembered (a token lives 35 minutes, so this is well past any echo)."""

_VALUE = r"[A-Za-z0-9._~+/=-]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # An echoed header line or field: everything after the name up to the end of the value.
    (re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}\]]+"), rf"\1{MASK}"),
    # A credential after its scheme; the lookahead keeps prose such as "Basic authentication" intact.
    (
        re.compile(
            rf"\b(AnaplanAuthToken|Basic|Bearer|CACertificate)(\s+)(?={_VALUE}*[0-9+/=]){_VALUE}{{6,}}"
        ),
        rf"\1\2{MASK}",
    ),
    (re.compile(r"(?i)\b(AnaplanAuthToken|Bearer)(\s+)\S+"), rf"\1\2{MASK}"),
    # JSON members and form fields that carry secrets.
    (
        re.compile(
            r"(?i)([\"']?\b(?:password|passwd|tokenValue|refreshTokenId|access_token|refresh_token|id_token"
            r"|client_secret|private_key(?:_password)?)[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,;}\]]+"
        ),
        rf"\1{MASK}",
    ),
)


def _forms(secret: str) -> set[str]:
    """The ways ``secret`` can appear in a body or message."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def credential_secrets(credentials: Credentials) -> list[str]:
    """The secret values of a credential, including the header value they are sent as."""
    if isinstance(credentials, BasicCredentials):
        pair = f"{credentials.username}:{credentials.password}".encode()
        return [credentials.password, base64.b64encode(pair).decode("ascii")]
    if isinstance(credentials, OAuthCredentials):
        return [
            credentials.refresh_token,
            *([credentials.client_secret] if credentials.client_secret else []),
        ]
    if isinstance(credentials, StaticTokenCredentials):
        return [credentials.token, credentials.token.strip()]
    if isinstance(credentials, CertificateCredentials) and credentials.private_key_password:
        return [credentials.private_key_password.decode("utf-8", "replace")]
    return []


class Redactor:
    """Knows this client's secrets and masks them, and anything shaped like a credential, in text.

    Thread-safe: tokens are added by whichever thread obtains them.
    """

    def __init__(self, secrets: list[str] | tuple[str, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._fixed: set[str] = set()
        self._tokens: collections.deque[str] = collections.deque(maxlen=KEEP_TOKENS)
        self._sorted: tuple[str, ...] = ()
        for secret in secrets:
            self._fixed |= _forms(secret)
        self._rebuild()

    def __repr__(self) -> str:
        return f"Redactor({len(self._sorted)} secret forms)"

    def add_secrets(self, secrets: list[str]) -> None:
        """Mask ``secrets`` too, for good (the credentials of a reload)."""
        with self._lock:
            for secret in secrets:
                self._fixed |= _forms(secret)
            self._rebuild()

    def add_token(self, token: str | None) -> None:
        """Remember a token obtained at run time; the oldest beyond KEEP_TOKENS is dropped."""
        if not token:
            return
        with self._lock:
            if token in self._tokens:
                return
            self._tokens.append(token)
            self._rebuild()

    def _rebuild(self) -> None:
        forms = set(self._fixed)
        for token in self._tokens:
            forms |= _forms(token)
        # Longest first, so a secret containing another is masked whole.
        self._sorted = tuple(sorted(forms, key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with every known secret and every credential-shaped value replaced by ``***``."""
        for secret in self._sorted:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text
