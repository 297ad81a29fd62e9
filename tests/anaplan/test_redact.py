"""The redactor: known secrets in every form they travel in, and credential-shaped values of any value."""

from __future__ import annotations

import base64
import html
import json
import logging
from urllib.parse import quote

import pytest
import responses

from anaplan_exporter.anaplan.auth import (
    BasicCredentials,
    CertificateCredentials,
    OAuthCredentials,
    StaticTokenCredentials,
)
from anaplan_exporter.anaplan.errors import AnaplanAuthError
from anaplan_exporter.anaplan.redact import KEEP_TOKENS, MIN_SECRET_LENGTH, Redactor, credential_secrets
from support.leaks import leaked_forms

from .conftest import MakeClient
from .fakes import AUTH

PASSWORD = 'pw "Zq81"/&+SECRET'
BASIC = BasicCredentials("alice@example.com", PASSWORD)
BASE64 = base64.b64encode(f"alice@example.com:{PASSWORD}".encode()).decode()


@pytest.mark.parametrize(
    "form",
    [PASSWORD, BASE64, quote(PASSWORD, safe=""), json.dumps(PASSWORD)[1:-1]],
    ids=["plain", "base64", "url", "json"],
)
def test_configured_secrets_are_masked_in_every_form(form: str) -> None:
    redactor = Redactor(credential_secrets(BASIC))
    scrubbed = redactor.scrub(f"login failed for {form} (code 42)")
    assert form not in scrubbed
    assert scrubbed.startswith("login failed for ") and scrubbed.endswith(" (code 42)")


def test_credential_secrets_of_each_method() -> None:
    oauth = OAuthCredentials("client", "refresh-Aa1", client_secret="secret-Cc3")
    assert credential_secrets(oauth) == ["refresh-Aa1", "secret-Cc3"]
    assert "static-Pp3" in credential_secrets(StaticTokenCredentials(" static-Pp3 "))
    cert = CertificateCredentials(b"pem", b"key", b"key-pass")
    assert credential_secrets(cert) == ["key-pass"]


def test_tokens_are_learned_and_the_oldest_forgotten() -> None:
    redactor = Redactor()
    tokens = [f"token-{i:04d}-value" for i in range(KEEP_TOKENS + 1)]
    for token in tokens:
        redactor.add_token(token)
    assert redactor.scrub(f"x {tokens[-1]} y") == "x *** y"
    assert tokens[0] in redactor.scrub(f"x {tokens[0]} y")  # bounded memory: the oldest is gone


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Basic YWxpY2U6cHc=\r\nHost: x", "Host: x"),
        ('{"headers": {"Authorization": "AnaplanAuthToken abc.def"}}', '"headers"'),
        ("rejected AnaplanAuthToken Zk9-xyz", "rejected AnaplanAuthToken ***"),
        ("rejected Bearer eyJhbGciOi.eyJzdWIi.sig", "rejected Bearer ***"),
        ("got Basic dXNlcjpwYXNzd29yZA== from you", "got Basic *** from you"),
        (
            '{"tokenValue": "tv-1", "refreshTokenId": "rt-2"}',
            '{"tokenValue": "***", "refreshTokenId": "***"}',
        ),
        ("grant_type=refresh_token&refresh_token=rt-9&client_secret=cs-1", "grant_type=refresh_token&"),
        ('{"password": "hunter2", "user": "bob"}', '"user": "bob"'),
    ],
)
def test_credential_shaped_values_are_masked_whatever_they_are(text: str, kept: str) -> None:
    scrubbed = Redactor().scrub(text)
    assert kept in scrubbed
    for secret in (
        "YWxpY2U6cHc",
        "abc.def",
        "Zk9-xyz",
        "eyJhbGciOi",
        "dXNlcjpw",
        "tv-1",
        "rt-",
        "cs-1",
        "hunter2",
    ):
        assert secret not in scrubbed


@pytest.mark.parametrize(
    "prose",
    [
        "Anaplan basic authentication failed",
        "Basic authentication is not enabled for this user",
        "token refresh failed; authenticating again",
        "list_tasks: HTTP 404: Not Found",
    ],
)
def test_ordinary_messages_are_left_alone(prose: str) -> None:
    assert Redactor(credential_secrets(BASIC)).scrub(prose) == prose


USER = "svc@example.com"
HOSTILE = "Tr0ub4dor&3xQ<z>"
SPACED = "tab\there  two spaces"


def _pair(password: str) -> str:
    return base64.b64encode(f"{USER}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("password", "text"),
    [
        (HOSTILE, f"HTTP 400: [v4] credentials {_pair(HOSTILE).rstrip('=')} unknown"),
        (HOSTILE, "credentials\n" + "\r\n".join(_pair(HOSTILE)[i : i + 16] for i in range(0, 40, 16))),
        (HOSTILE, f"password {html.escape(HOSTILE)} refused"),
        (HOSTILE, f"PASSWORD {HOSTILE.upper()} REFUSED"),
        (HOSTILE, f"password {quote(HOSTILE).lower()} refused"),
        (SPACED, f"password {' '.join(SPACED.split())} refused"),
        (SPACED, f"password {SPACED} refused"),
        (SPACED, f"password {''.join(SPACED.split())} refused"),
        ("pw", f"credentials {_pair('pw').rstrip('=')} unknown"),
        # "ᾀ" upper-cased is two characters, "ἈΙ": each URL-escaped on its own.
        ("000ᾀ", f"password {quote('000ᾀ'.upper(), safe='')} refused"),
    ],
    ids=[
        "unpadded",
        "wrapped",
        "html",
        "upper",
        "url-lower-hex",
        "collapsed",
        "tab",
        "no-space",
        "short",
        "url-of-multi-char-upper",
    ],
)
def test_a_password_in_the_forms_that_got_past_exact_matching_is_masked(password: str, text: str) -> None:
    scrubbed = Redactor(credential_secrets(BasicCredentials(USER, password))).scrub(text)
    assert "***" in scrubbed
    assert not leaked_forms(f"{USER}:{password}", scrubbed), scrubbed
    if len(password) >= MIN_SECRET_LENGTH:
        assert not leaked_forms(password, scrubbed), scrubbed


def test_an_error_body_is_scrubbed_before_its_whitespace_is_collapsed_and_it_is_cut(
    http: responses.RequestsMock, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    echo = f"Rejected:\n\t{SPACED}\n{_pair(SPACED)[:30]}\n{_pair(SPACED)[30:]}"
    http.post(f"{AUTH}/token/authenticate", status=401, json={"statusMessage": echo + " x" * 300})
    client = make_client(BasicCredentials(USER, SPACED), max_retries=0)
    with pytest.raises(AnaplanAuthError) as info:
        client.list_workspaces()
    message = info.value.message
    assert message.startswith("Rejected: *** ***") and len(message) <= 200 and "\n" not in message
    for text in (str(info.value), caplog.text):
        assert not leaked_forms(SPACED, text) and not leaked_forms(f"{USER}:{SPACED}", text)
