"""Masks credentials and tokens in text taken from responses and exceptions before it is logged or raised.

An error body may echo the request (its Authorization header, the OAuth form) and an exception may quote
what was sent; such text goes through :meth:`Redactor.scrub` (or :meth:`Redactor.excerpt`) first, before
any other change to it. Two nets:

- the exact secrets this client knows (the configured ones, and every token it has obtained, newest kept),
  whatever form an upstream echoes them in. Each secret becomes one pattern that matches it
  case-insensitively with every character (but ASCII letters and digits, which no encoder escapes) as is
  or URL-, HTML- (named or numeric), JSON- or Python-escaped, in any mixture, and any run of whitespace
  in it as any run of whitespace (or none) in the text, so collapsing or re-wrapping does not hide it;
  and patterns for its base64 (standard or URL-safe alphabet, padded or not, wrapped across lines) at
  each of the three byte alignments, so base64 of ``user:password`` or of anything else that contains
  the secret is caught too.
- generic patterns for anything that looks like a credential whatever its value (``Authorization: ...``,
  ``AnaplanAuthToken x``, ``Basic x``, ``Bearer x``, ``"tokenValue": "x"``, ``refresh_token=x``, the
  ``sig=x`` of an Azure SAS URL).

Patterns are compiled once per secret (when it is configured or a token is learned), not per call.
"""

from __future__ import annotations

import base64
import collections
import re
import threading

from .auth import (
    BasicCredentials,
    CertificateCredentials,
    Credentials,
    OAuthCredentials,
    StaticTokenCredentials,
)

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Secrets with fewer non-whitespace characters are not searched for as text: they would mask ordinary
words and numbers. Their base64 is, when it is this long (``user:password`` always is)."""
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
    # The signature of an Azure shared access signature (SAS) URL, as a CloudWorks run message may quote it.
    (re.compile(r"(?i)(\bsig(?:=|%3D))[^&\s\"'<>]+"), rf"\1{MASK}"),
)

_HTML_NAMES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos", "\xa0": "nbsp"}
_SHORT_ESCAPES = dict(zip("\"\\/'\b\f\n\r\t", "\"\\/'bfnrt", strict=True))
"""Characters JSON (and Python) may write as a backslash and one letter."""
_GAP_CHARS = " \t\n\r\f\v"
"""Whitespace an upstream may put in place of a secret's whitespace (besides what the secret holds)."""
_BASE64_GAP = r"\s*"
"""Between two base64 characters: a line break, spaces, or nothing (a wrapped or re-spaced encoding)."""
_BASE64_CHAR = {"+": r"(?:\+|-|%2[Bb])", "/": r"(?:/|_|%2[Ff]|\\/)"}


def _escapes(char: str) -> list[str]:
    """``char`` as URL, HTML, JSON and Python escapes (regex source), matched case-insensitively."""
    code = ord(char)
    utf8 = char.encode("utf-8", "surrogatepass")
    forms = [
        "".join(f"%{byte:02x}" for byte in utf8),
        f"&#0*{code};",
        f"&#x0*{code:x};",
    ]
    if char in _HTML_NAMES:
        forms.append(f"&{_HTML_NAMES[char]};")
    if char in _SHORT_ESCAPES:
        forms.append(re.escape("\\" + _SHORT_ESCAPES[char]))
    if code <= 0xFF:
        forms.append(rf"\\x{code:02x}")
    if code <= 0xFFFF:
        forms.append(rf"\\u{code:04x}")
    else:
        high, low = divmod(code - 0x10000, 0x400)
        forms.append(rf"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
        forms.append(rf"\\U{code:08x}")
    return forms


def _written(char: str) -> str:
    """One character as it is or in any escape (regex source)."""
    # No encoder escapes an ASCII letter or digit (and tokens are mostly those: this keeps them small).
    if char.isascii() and char.isalnum():
        return re.escape(char)
    return "(?:" + "|".join([re.escape(char), *_escapes(char)]) + ")"


def _char_pattern(char: str) -> str:
    """One character of a secret in any case and any escape."""
    # A case may be several characters ("ᾀ" upper-cased is "ἈΙ"), each escaped on its own; an upper-cased
    # "é" is escaped as "%C3%89", not "%C3%A9".
    cases = dict.fromkeys((char, char.lower(), char.upper(), char.casefold()))
    forms = ["".join(_written(one) for one in case) for case in cases]
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def _gap_pattern(run: str) -> str:
    """A run of whitespace in a secret: any run of whitespace (or escaped whitespace) in the text, or none."""
    forms = [r"\s", r"\+"]
    for char in dict.fromkeys(_GAP_CHARS + run):
        forms += _escapes(char)
    return "(?:" + "|".join(forms) + ")*"


def _text_pattern(secret: str) -> str | None:
    """The secret as text in any case, escape and whitespace; None when too short to search for."""
    parts = re.findall(r"\s+|\S", secret.strip())
    if sum(not part.isspace() for part in parts) < MIN_SECRET_LENGTH:
        return None
    return "".join(_gap_pattern(part) if part.isspace() else _char_pattern(part) for part in parts)


def _base64_source(chars: str) -> str:
    """Base64 characters that may be wrapped (whitespace between any two) and in either alphabet."""
    return _BASE64_GAP.join(_BASE64_CHAR.get(char, re.escape(char)) for char in chars)


def _base64_patterns(data: bytes) -> list[str]:
    """Base64 of ``data`` alone (padded or not), and the characters that only ``data`` decides at each of
    the three byte offsets it may start at inside longer base64 (such as that of ``user:password``)."""
    patterns: list[str] = []
    whole = base64.b64encode(data).decode("ascii").rstrip("=")
    if len(whole) >= MIN_SECRET_LENGTH:
        patterns.append(_base64_source(whole) + rf"(?:{_BASE64_GAP}(?:=|%3[Dd])){{0,2}}")
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first = -(-offset * 8 // 6)  # the first character with no bit of the prefix
        end = (offset + len(data)) * 8 // 6  # past the last character with no bit of the padding
        core = encoded[first:end]
        if len(core) >= MIN_SECRET_LENGTH and core != whole:
            patterns.append(_base64_source(core))
    return patterns


def secret_patterns(secret: str) -> tuple[re.Pattern[str], ...]:
    """The compiled patterns that find ``secret`` in a text, longest form first."""
    sources: list[tuple[str, int]] = []
    text = _text_pattern(secret)
    if text is not None:
        sources.append((text, re.IGNORECASE))
    variants = dict.fromkeys((secret, secret.strip()))
    for variant in variants:
        if variant:
            sources += [(source, 0) for source in _base64_patterns(variant.encode("utf-8", "surrogatepass"))]
    return tuple(re.compile(source, flags) for source, flags in dict.fromkeys(sources))


def credential_secrets(credentials: Credentials) -> list[str]:
    """The secret values of a credential; for a password also ``user:password``, what Basic sends."""
    if isinstance(credentials, BasicCredentials):
        return [f"{credentials.username}:{credentials.password}", credentials.password]
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
        self._fixed: dict[str, tuple[re.Pattern[str], ...]] = {}
        for secret in sorted(secrets, key=len, reverse=True):
            if secret and secret not in self._fixed:
                self._fixed[secret] = secret_patterns(secret)
        self._tokens: collections.OrderedDict[str, tuple[re.Pattern[str], ...]] = collections.OrderedDict()
        self._patterns: tuple[re.Pattern[str], ...] = ()
        self._rebuild()

    def __repr__(self) -> str:
        return f"Redactor({len(self._patterns)} secret patterns)"

    def add_secrets(self, secrets: list[str]) -> None:
        """Mask ``secrets`` too, for good (the credentials of a reload)."""
        with self._lock:
            for secret in secrets:
                if secret and secret not in self._fixed:
                    self._fixed[secret] = secret_patterns(secret)
            self._rebuild()

    def add_token(self, token: str | None) -> None:
        """Remember a token obtained at run time; the oldest beyond KEEP_TOKENS is dropped."""
        if not token:
            return
        with self._lock:
            if token in self._tokens:
                return
            self._tokens[token] = secret_patterns(token)
            while len(self._tokens) > KEEP_TOKENS:
                self._tokens.popitem(last=False)
            self._rebuild()

    def _rebuild(self) -> None:
        known = {**self._fixed, **self._tokens}
        # Longest secret first, so a secret containing another is masked whole.
        ordered = sorted(known.items(), key=lambda item: len(item[0]), reverse=True)
        self._patterns = tuple(pattern for _, patterns in ordered for pattern in patterns)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret and every credential-shaped value replaced by ``***``."""
        for pattern in self._patterns:
            text = pattern.sub(MASK, text)
        for generic, replacement in _PATTERNS:
            text = generic.sub(replacement, text)
        return text

    def excerpt(self, text: str, limit: int) -> str:
        """A one-line excerpt of at most ``limit`` characters: scrubbed whole first, so that neither the
        whitespace collapsing nor the cut can leave part of a secret that the scrub would have found."""
        return " ".join(self.scrub(text).split())[:limit]
