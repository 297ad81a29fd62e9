"""The redactor against secrets of any shape echoed in any form: after scrubbing, no reading of the text
(unescaped each way, base64 decoded at every alignment, case and whitespace ignored) holds the secret."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.redact import MIN_SECRET_LENGTH, Redactor, credential_secrets
from support.leaks import leaked_forms

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_SPECIAL = " \t  &<>%+\"'\\/:;=#?@é中ßİΣς€😀"
secret_chars = st.characters(exclude_categories=["Cs"], exclude_characters="*") | st.sampled_from(_SPECIAL)
whitespace_runs = st.sampled_from([" ", "  ", "\t", " \t ", "\t\t", "   ", "\u00a0", "\n"])
words = st.text(secret_chars, min_size=1, max_size=8).filter(lambda word: not word.isspace())
secrets = st.one_of(
    st.text(secret_chars, min_size=MIN_SECRET_LENGTH, max_size=24),
    st.lists(st.tuples(words, whitespace_runs), min_size=1, max_size=4).map(
        lambda pairs: "".join(word + gap for word, gap in pairs).strip()
    ),
).filter(lambda secret: len("".join(secret.split())) >= MIN_SECRET_LENGTH)
users = st.sampled_from(["svc@example.com", "a@b.c", "ops.bot@anaplan.example", "jörg@exämple.de", "x"])
surroundings = st.one_of(
    st.text(max_size=30).filter(lambda text: "*" not in text),
    st.sampled_from(["HTTP 400: credentials ", "Authorization: Basic ", '{"password": "', " unknown", ""]),
)


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def _alnum(char: str) -> str:
    """An ASCII letter or digit as it is ('' for anything else): no encoder escapes those."""
    return char if char.isascii() and char.isalnum() else ""


TEXT_FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "swapcase": str.swapcase,
    "collapsed": lambda s: " ".join(s.split()),
    "no whitespace": lambda s: "".join(s.split()),
    "tabs for spaces": lambda s: re.sub(r"\s+", "\t", s),
    "url": lambda s: quote(s, safe=""),
    "url, path safe": quote,
    "url plus": quote_plus,
    "url, lower-case hex": lambda s: _lower_hex(quote(s, safe="")),
    "url of upper": lambda s: quote(s.upper(), safe=""),
    "html": html.escape,
    "html, quotes kept": lambda s: html.escape(s, quote=False),
    "html upper": lambda s: html.escape(s).upper(),
    "decimal entities": lambda s: "".join(_alnum(c) or f"&#{ord(c)};" for c in s),
    "hex entities": lambda s: "".join(_alnum(c) or f"&#x{ord(c):X};" for c in s),
    "json": lambda s: json.dumps(s)[1:-1],
    "json, unicode kept": lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    "python repr": lambda s: repr(s)[1:-1],
    "collapsed then html": lambda s: html.escape(" ".join(s.split())),
}


@st.composite
def base64_forms(draw: st.DrawFn, data: bytes) -> str:
    """``data`` in base64: either alphabet, padded or not, maybe wrapped at any width with \\n or \\r\\n."""
    encode = draw(st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))
    text = encode(data).decode("ascii")
    if draw(st.booleans()):
        text = text.rstrip("=")
    if draw(st.booleans()):
        width = draw(st.sampled_from([76, 64, 4]) | st.integers(1, 40))
        newline = draw(st.sampled_from(["\n", "\r\n", " ", "\n  "]))
        text = newline.join(text[i : i + width] for i in range(0, len(text), width))
    return text


@st.composite
def echoed(draw: st.DrawFn, secret: str, user: str) -> str:
    """``secret`` (or ``user:secret``) in one of the forms an upstream may echo it in."""
    kind = draw(st.sampled_from(["text", "base64 pair", "base64 alone"]))
    if kind == "text":
        name = draw(st.sampled_from(sorted(TEXT_FORMS)))
        note(f"form: {name}")
        return TEXT_FORMS[name](secret)
    data = f"{user}:{secret}" if kind == "base64 pair" else secret
    note(f"form: {kind}")
    return draw(base64_forms(data.encode("utf-8")))


def _assert_clean(secret: str, text: str) -> None:
    assert not leaked_forms(secret, text), (leaked_forms(secret, text), text)


def _surrounding(data: st.DataObject, secret: str) -> tuple[str, str]:
    """Arbitrary text before and after, which on its own does not read as the secret."""
    before, after = data.draw(surroundings), data.draw(surroundings)
    assume(not leaked_forms(secret, before) and not leaked_forms(secret, after))
    return before, after


@PROPERTY
@given(secret=secrets, user=users, data=st.data())
def test_a_password_echoed_in_any_form_is_masked(secret: str, user: str, data: st.DataObject) -> None:
    form = data.draw(echoed(secret, user))
    before, after = _surrounding(data, secret)
    redactor = Redactor(credential_secrets(BasicCredentials(user, secret)))
    scrubbed = redactor.scrub(before + form + after)
    _assert_clean(secret, scrubbed)
    _assert_clean(f"{user}:{secret}", scrubbed)


@PROPERTY
@given(token=secrets, other=secrets, data=st.data())
def test_a_token_learned_at_run_time_is_masked_in_any_form(
    token: str, other: str, data: st.DataObject
) -> None:
    assume("".join(token.split()).casefold() not in "".join(other.split()).casefold())
    form = data.draw(echoed(token, "unused"))
    before, after = _surrounding(data, token)
    redactor = Redactor([other])
    redactor.add_token(token)
    _assert_clean(token, redactor.scrub(before + form + after))


@PROPERTY
@given(
    secret=secrets,
    user=users,
    padding=st.text(" \t\n", max_size=6),
    limit=st.integers(10, 240),
    data=st.data(),
)
def test_an_excerpt_is_cut_after_scrubbing_and_holds_no_part_that_was_whole(
    secret: str, user: str, padding: str, limit: int, data: st.DataObject
) -> None:
    """Collapsing whitespace and cutting come after the scrub: neither can expose a form it would catch."""
    form = data.draw(echoed(secret, user))
    before = data.draw(st.text(" abc\t", max_size=250))
    assume(not leaked_forms(secret, before))
    redactor = Redactor(credential_secrets(BasicCredentials(user, secret)))
    excerpt = redactor.excerpt(before + padding + form + padding + " end", limit)
    assert len(excerpt) <= limit and "\n" not in excerpt and "\t" not in excerpt
    _assert_clean(secret, excerpt)
    _assert_clean(f"{user}:{secret}", excerpt)


@PROPERTY
@given(
    password=st.text(secret_chars, min_size=1, max_size=MIN_SECRET_LENGTH - 1),
    user=users,
    data=st.data(),
)
def test_the_base64_of_a_short_password_with_its_user_is_masked(
    password: str, user: str, data: st.DataObject
) -> None:
    """A password too short to search for as text is still found in ``user:password``, which is long."""
    pair = f"{user}:{password}"
    form = data.draw(base64_forms(pair.encode("utf-8")))
    redactor = Redactor(credential_secrets(BasicCredentials(user, password)))
    _assert_clean(pair, redactor.scrub(f"credentials {form} unknown"))


@PROPERTY
@given(secret=secrets, user=users, prose=st.sampled_from(["Basic authentication failed", "HTTP 404"]))
def test_text_without_the_secret_is_left_as_it_was(secret: str, user: str, prose: str) -> None:
    assume(not leaked_forms(secret, prose))
    assume(not leaked_forms(f"{user}:{secret}", prose))
    assert Redactor(credential_secrets(BasicCredentials(user, secret))).scrub(prose) == prose
