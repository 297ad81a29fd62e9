"""Finds a secret in a text whatever form it was written in: as is, in any case, with its whitespace
collapsed or dropped, URL-, HTML- or JSON-escaped, or in base64 (either alphabet, any padding, wrapped,
at any alignment). Independent of the exporter's redactor, so the two check each other."""

from __future__ import annotations

import base64
import binascii
import html
import re
from urllib.parse import unquote, unquote_plus

_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\([\"\\/bfnrt])")
_JSON_SHORT = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{2,}")


def _json_unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        return _JSON_SHORT.get(match.group(2), match.group(2))

    joined = _JSON_ESCAPE.sub(one, text)
    return joined.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # pairs \ud83d\ude00


def _normal(text: str) -> str:
    """Case-folded, every whitespace removed: what is left when case and spacing do not count."""
    return "".join(text.casefold().split())


def _readings(text: str) -> list[str]:
    """``text`` and what it says once unescaped each way an upstream might have escaped it."""
    return [
        text,
        html.unescape(text),
        unquote(text),
        unquote_plus(text),
        _json_unescape(text),
        html.unescape(unquote(text)),
    ]


def base64_decodings(text: str) -> list[bytes]:
    """Every run of base64 characters in ``text`` (line breaks and spaces removed, so a wrapped one is
    joined), decoded from each of the four character offsets, in both alphabets, padding ignored."""
    decoded: list[bytes] = []
    joined = "".join(text.split())
    for run in _BASE64_RUN.findall(joined.replace("\\n", "").replace("\\r", "")):
        standard = run.replace("-", "+").replace("_", "/")
        for start in range(4):
            part = standard[start:]
            part = part[: len(part) - len(part) % 4] if len(part) % 4 == 1 else part
            try:
                decoded.append(base64.b64decode(part + "=" * (-len(part) % 4)))
            except (binascii.Error, ValueError):
                continue
    return decoded


def leaked_forms(secret: str, text: str) -> list[str]:
    """How ``secret`` can be read in ``text`` (empty: it cannot)."""
    return Readings(text).forms_of(secret)


class Readings:
    """Every reading of one text, worked out once, to search for many secrets."""

    def __init__(self, text: str) -> None:
        self._normal = [_normal(reading) for reading in _readings(text)]
        self._decoded = base64_decodings(text)
        self._decoded_normal = [_normal(blob.decode("utf-8", "ignore")) for blob in self._decoded]

    def forms_of(self, secret: str) -> list[str]:
        """How ``secret`` can be read in the text (empty: it cannot)."""
        wanted = _normal(secret)
        if not wanted:
            return []
        found = [f"text reading {number}" for number, text in enumerate(self._normal) if wanted in text]
        raw = secret.encode("utf-8", "surrogatepass")
        if any(raw in blob for blob in self._decoded) or any(wanted in text for text in self._decoded_normal):
            found.append("base64")
        return found
