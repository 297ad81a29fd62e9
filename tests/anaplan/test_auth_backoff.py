"""A refused login holds every login back: one shared retry, 60 s doubling to 1800 s, on an injected clock."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import responses

from anaplan_exporter.anaplan.auth import (
    BasicCredentials,
    CertificateCredentials,
    Credentials,
    OAuthCredentials,
    StaticTokenCredentials,
)
from anaplan_exporter.anaplan.auth_backoff import AuthBackoff, backoff_delay
from anaplan_exporter.anaplan.errors import AnaplanAuthBackoffError, AnaplanAuthError, AnaplanServerError
from anaplan_exporter.polling.tracker import error_reason

from .conftest import CertFiles, MakeClient
from .fakes import API, AUTH, OAUTH, T0, FakeClock, RecordingObserver, token_body

WORKSPACES = f"{API}/workspaces"
EMPTY: dict[str, list[object]] = {"workspaces": []}
AUTHENTICATE = f"{AUTH}/token/authenticate"
REFUSED = {"status": "FAILURE_BAD_CREDENTIAL", "statusMessage": "Login failed"}


def _logins(http: responses.RequestsMock) -> int:
    return sum(1 for call in http.calls if "/token/authenticate" in str(call.request.url))


def _api_calls(http: responses.RequestsMock) -> int:
    return sum(1 for call in http.calls if str(call.request.url).startswith(API))


def test_the_wait_doubles_from_one_minute_to_half_an_hour() -> None:
    assert [backoff_delay(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1800, 1800, 1800]
    clock = FakeClock()
    backoff = AuthBackoff(clock, random=lambda: 0.5)
    waits = []
    for _ in range(8):
        trial = backoff.admit()
        refusal = backoff.refused("authenticate: HTTP 401: Login failed", trial=trial)
        waits.append(refusal.next_attempt_at - clock.now)
        clock.now = refusal.next_attempt_at
    assert waits == [60, 120, 240, 480, 960, 1800, 1800, 1800]


@pytest.mark.parametrize(("jitter", "first", "longest"), [(0.0, 54, 1620), (1.0, 66, 1980), (0.25, 57, 1710)])
def test_each_wait_is_up_to_a_tenth_shorter_or_longer_at_random(
    jitter: float, first: float, longest: float
) -> None:
    """Replicas refused together (one password changed for all) spread their next attempts."""
    clock = FakeClock()
    backoff = AuthBackoff(clock, random=lambda: jitter)
    waits = []
    for _ in range(7):
        refusal = backoff.refused("authenticate: HTTP 401: Login failed", trial=backoff.admit())
        waits.append(refusal.next_attempt_at - clock.now)
        clock.now = refusal.next_attempt_at
    assert waits[0] == pytest.approx(first) and waits[-1] == pytest.approx(longest)
    assert waits[1] == pytest.approx(2 * first)


def test_a_client_draws_the_jitter_from_its_random_source(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.post(AUTHENTICATE, status=401, json=REFUSED)
    client = make_client(random=lambda: 1.0)
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    refusal = client.auth_refusal
    assert refusal is not None and refusal.next_attempt_at == pytest.approx(clock.now + 66)


def test_a_refused_password_is_tried_once_per_wait_whatever_the_number_of_calls(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    http.post(AUTHENTICATE, status=401, json=REFUSED)
    client = make_client()
    with pytest.raises(AnaplanAuthError, match="Login failed"):
        client.list_workspaces()
    assert _logins(http) == 1
    schedule: list[float] = []
    for wait in (60, 120, 240, 480, 960, 1800, 1800):
        for _ in range(20):  # polls of many objects meanwhile: no login at all
            with pytest.raises(AnaplanAuthBackoffError) as held:
                client.list_workspaces()
            clock.advance(wait / 20 - 0.001 if _ == 19 else wait / 20)
        assert _logins(http) == 1 + len(schedule)
        refusal = client.auth_refusal
        assert refusal is not None
        clock.now = refusal.next_attempt_at
        with pytest.raises(AnaplanAuthError) as refused:
            client.list_workspaces()
        assert not isinstance(refused.value, AnaplanAuthBackoffError)
        schedule.append(wait)
        assert _logins(http) == 1 + len(schedule)
    assert schedule == [60, 120, 240, 480, 960, 1800, 1800]
    assert observer.auth_failures == 8  # refused logins, not the polls that failed at once
    assert error_reason(held.value) == "auth"  # a poll held back counts as an auth failure of the object
    assert "next attempt at" in str(held.value) and "Login failed" in str(held.value)
    assert _api_calls(http) == 0


def test_no_login_while_held_back_from_many_threads_then_exactly_one(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def refuse(_request: object) -> tuple[int, dict[str, str], str]:
        entered.set()
        release.wait(10)  # the attempt is under way while every other thread calls
        return 401, {}, json.dumps(REFUSED)

    http.add_callback(responses.POST, AUTHENTICATE, callback=refuse)
    client = make_client()
    release.set()
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    release.clear()
    entered.clear()
    outcomes: list[str] = []
    lock = threading.Lock()

    def poll(times: int) -> None:
        for _ in range(times):
            try:
                client.list_workspaces()
            except AnaplanAuthBackoffError:
                outcome = "held"
            except AnaplanAuthError:
                outcome = "refused"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=poll, args=(25,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == ["held"] * 200 and _logins(http) == 1

    clock.advance(60)  # the attempt is due: one thread makes it, the others still fail at once
    trial = threading.Thread(target=poll, args=(1,))
    trial.start()
    assert entered.wait(10)
    threads = [threading.Thread(target=poll, args=(10,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    release.set()
    trial.join(30)
    assert _logins(http) == 2
    assert outcomes.count("refused") == 1 and outcomes.count("held") == 280


def test_a_success_ends_the_refusal_and_the_next_refusal_starts_at_one_minute(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.post(AUTHENTICATE, status=401, json=REFUSED)
    http.get(WORKSPACES, json=EMPTY)
    client = make_client()
    for _ in range(3):  # refused three times in a row: the next wait would be 4 minutes
        with pytest.raises(AnaplanAuthError):
            client.list_workspaces()
        refusal = client.auth_refusal
        assert refusal is not None
        clock.now = refusal.next_attempt_at
    http.replace(responses.POST, AUTHENTICATE, status=201, json=token_body("tok-1", clock.now + 2100))
    assert client.list_workspaces() == []
    assert client.auth_refusal is None
    clock.advance(2100)  # the token expired: a new login, refused again
    http.replace(responses.POST, AUTHENTICATE, status=401, json=REFUSED)
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    refusal = client.auth_refusal
    assert refusal is not None and refusal.refusals == 1
    assert refusal.next_attempt_at == clock.now + 60


def test_transient_failures_do_not_back_off(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    http.post(AUTHENTICATE, status=503, json={"status": "FAILURE", "statusMessage": "down"})
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(max_retries=0)
    for _ in range(3):  # each call tries again: a 5xx says nothing about the credentials
        with pytest.raises(AnaplanServerError):
            client.list_workspaces()
    assert _logins(http) == 3 and client.auth_refusal is None and observer.auth_failures == 0

    http.replace(responses.POST, AUTHENTICATE, status=401, json=REFUSED)
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    clock.advance(60)
    http.replace(responses.POST, AUTHENTICATE, status=503, json={"status": "FAILURE"})
    with pytest.raises(AnaplanServerError):  # the due attempt meets an outage: no verdict
        client.list_workspaces()
    refusal = client.auth_refusal
    assert refusal is not None and refusal.refusals == 1  # the wait did not grow
    http.replace(responses.POST, AUTHENTICATE, status=201, json=token_body("tok-1", clock.now + 2100))
    assert client.list_workspaces() == []  # the next call tries at once, as without a refusal
    assert _logins(http) == 6 and client.auth_refusal is None


def test_retry_now_and_new_credentials_log_in_at_once(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.post(AUTHENTICATE, status=401, json=REFUSED)
    client = make_client()
    assert not client.retry_auth_now()  # nothing held back
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    with pytest.raises(AnaplanAuthBackoffError):
        client.list_workspaces()
    assert client.retry_auth_now()  # a reload: the next call logs in at once
    with pytest.raises(AnaplanAuthError) as refused:
        client.list_workspaces()
    assert not isinstance(refused.value, AnaplanAuthBackoffError)
    assert _logins(http) == 2
    refusal = client.auth_refusal
    assert refusal is not None and refusal.refusals == 2

    http.replace(responses.POST, AUTHENTICATE, status=201, json=token_body("tok-1", clock.now + 2100))
    http.get(WORKSPACES, json=EMPTY)
    client.use_credentials(BasicCredentials("alice@example.com", "the-new-SECRET-pw"))
    assert client.list_workspaces() == []
    assert _logins(http) == 3 and client.auth_refusal is None
    assert "the-new-SECRET-pw" not in client.redactor.scrub("echo the-new-SECRET-pw")


class _Source:
    """A credential source whose files change when the test says so."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.edited = False
        self.loads = 0
        self.marks = 0

    def changed(self) -> bool:
        return self.edited

    def load(self) -> Credentials:
        self.loads += 1
        self.edited = False
        return self.credentials

    def mark(self) -> None:
        self.marks += 1
        self.edited = False


def test_a_changed_secret_file_is_read_again_and_tried_at_once(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.post(AUTHENTICATE, status=401, json=REFUSED)
    http.get(WORKSPACES, json=EMPTY)
    source = _Source(BasicCredentials("alice@example.com", "fixed-SECRET-pw"))
    client = make_client(credential_source=source)
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    assert source.marks == 1  # the files as they were at the refusal
    for _ in range(5):
        with pytest.raises(AnaplanAuthBackoffError):
            client.list_workspaces()
    assert source.loads == 0 and _logins(http) == 1

    source.edited = True
    http.replace(responses.POST, AUTHENTICATE, status=201, json=token_body("tok-1", clock.now + 2100))
    assert client.list_workspaces() == []  # long before the minute is up
    assert source.loads == 1 and _logins(http) == 2 and client.auth_refusal is None
    assert http.calls[-2].request.headers["Authorization"] != http.calls[0].request.headers["Authorization"]


def test_a_refused_certificate_backs_off_likewise(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, cert_files: CertFiles
) -> None:
    http.post(AUTHENTICATE, status=401, json={"status": "FAILURE", "statusMessage": "Certificate revoked"})
    client = make_client(
        CertificateCredentials(cert_files.certificate_pem, cert_files.private_key_pem, cert_files.password)
    )
    with pytest.raises(AnaplanAuthError, match="Certificate revoked"):
        client.list_workspaces()
    clock.advance(59)
    for _ in range(10):
        with pytest.raises(AnaplanAuthBackoffError, match="Certificate revoked"):
            client.list_workspaces()
    assert _logins(http) == 1
    clock.advance(1)
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    assert _logins(http) == 2


@pytest.mark.parametrize("status", [400, 401, 403])
def test_a_refused_oauth_refresh_token_backs_off_likewise(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, tmp_path: Path, status: int
) -> None:
    http.post(
        f"{OAUTH}/oauth/token",
        status=status,
        json={"error": "invalid_grant", "error_description": "Refresh token is expired"},
    )
    client = make_client(OAuthCredentials("client-1", "refresh-0", token_file=tmp_path / "store"))
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    for _ in range(10):
        with pytest.raises(AnaplanAuthBackoffError, match="Refresh token is expired"):
            client.list_workspaces()
    assert len(http.calls) == 1
    clock.advance(60)
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    assert len(http.calls) == 2


def test_a_refused_static_token_holds_back_the_integration_api_requests(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    http.get(WORKSPACES, status=401, json={"status": {"code": 401, "message": "Unauthorized"}})
    client = make_client(StaticTokenCredentials("static-tok"))
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    for _ in range(10):
        with pytest.raises(AnaplanAuthBackoffError):
            client.list_workspaces()
    assert _api_calls(http) == 1 and observer.auth_failures == 1
    clock.advance(60)
    http.replace(responses.GET, WORKSPACES, json=EMPTY)
    assert client.list_workspaces() == []
    assert _api_calls(http) == 2 and client.auth_refusal is None
    assert client.list_workspaces() == []  # no refusal: every request goes out
    assert _api_calls(http) == 3


def test_a_refused_static_token_is_tried_by_one_thread_when_due(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    entered = threading.Event()
    release = threading.Event()

    def refuse(_request: object) -> tuple[int, dict[str, str], str]:
        entered.set()
        release.wait(10)
        return 401, {}, ""

    http.add_callback(responses.GET, WORKSPACES, callback=refuse)
    client = make_client(StaticTokenCredentials("static-tok"))
    release.set()
    with pytest.raises(AnaplanAuthError):
        client.list_workspaces()
    release.clear()
    entered.clear()
    clock.advance(60)
    held: list[bool] = []

    def poll() -> None:
        try:
            client.list_workspaces()
        except AnaplanAuthBackoffError:
            held.append(True)
        except AnaplanAuthError:
            held.append(False)

    trial = threading.Thread(target=poll)
    trial.start()
    assert entered.wait(10)
    others = [threading.Thread(target=poll) for _ in range(8)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(30)
    release.set()
    trial.join(30)
    assert _api_calls(http) == 2
    assert sorted(held) == [False] + [True] * 8
    refusal = client.auth_refusal
    assert refusal is not None and refusal.refusals == 2 and refusal.next_attempt_at == T0 + 60 + 120
