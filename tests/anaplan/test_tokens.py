"""Token lifecycle: refresh inside the margin, re-authentication, 401 replay, one refresh across threads."""

from __future__ import annotations

import json
import threading

import pytest
import responses

from anaplan_exporter.anaplan.errors import AnaplanAuthError, AnaplanResponseError

from .conftest import MakeClient
from .fakes import API, AUTH, T0, FakeClock, RecordingObserver, token_body

WORKSPACES = f"{API}/workspaces"
EMPTY: dict[str, list[object]] = {"workspaces": []}


def _urls(http: responses.RequestsMock) -> list[str]:
    return [str(c.request.url).split("?")[0].removeprefix(AUTH).removeprefix(API) for c in http.calls]


@pytest.fixture
def anaplan(http: responses.RequestsMock) -> responses.RequestsMock:
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body("tok-1", T0 + 2100))
    http.get(WORKSPACES, json=EMPTY)
    return http


def test_token_is_cached_until_the_refresh_margin(
    anaplan: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    client = make_client()
    client.list_workspaces()
    clock.advance(2100 - 300 - 1)  # 301 s left: still fine
    client.list_workspaces()
    assert _urls(anaplan) == ["/token/authenticate", "/workspaces", "/workspaces"]


def test_refresh_inside_the_margin_keeps_the_token_and_extends_expiry(
    anaplan: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    anaplan.post(f"{AUTH}/token/refresh", json=token_body("tok-1", T0 + 1800 + 2100, "Token refreshed"))
    client = make_client()
    client.list_workspaces()
    clock.advance(1800)  # exactly 300 s left
    client.list_workspaces()
    assert _urls(anaplan) == ["/token/authenticate", "/workspaces", "/token/refresh", "/workspaces"]
    refresh = anaplan.calls[2].request
    assert refresh.method == "POST"
    assert refresh.headers["Authorization"] == "AnaplanAuthToken tok-1"  # never Bearer on the auth service
    assert client.token_expires_at == pytest.approx(T0 + 3900)


def test_expired_token_is_not_refreshed_but_replaced(
    anaplan: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    client = make_client()
    client.list_workspaces()
    clock.advance(2100)
    anaplan.replace(
        responses.POST, f"{AUTH}/token/authenticate", status=201, json=token_body("tok-2", clock.now + 2100)
    )
    client.list_workspaces()
    assert _urls(anaplan) == ["/token/authenticate", "/workspaces", "/token/authenticate", "/workspaces"]
    assert anaplan.calls[3].request.headers["Authorization"] == "AnaplanAuthToken tok-2"


def test_failed_refresh_falls_back_to_authentication(
    anaplan: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    anaplan.post(
        f"{AUTH}/token/refresh", status=401, json={"status": "FAILURE", "statusMessage": "bad token"}
    )
    client = make_client()
    client.list_workspaces()
    clock.advance(1900)
    client.list_workspaces()
    assert _urls(anaplan) == [
        "/token/authenticate",
        "/workspaces",
        "/token/refresh",
        "/token/authenticate",
        "/workspaces",
    ]
    assert observer.auth_failures == 1


def test_missing_expiry_assumes_35_minutes(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.post(f"{AUTH}/token/authenticate", status=201, json={"tokenInfo": {"tokenValue": "tok-1"}})
    http.get(WORKSPACES, json=EMPTY)
    client = make_client()
    client.list_workspaces()
    assert client.token_expires_at == pytest.approx(clock.now + 2100)


def test_401_reauthenticates_once_and_replays(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    tokens = iter(["tok-1", "tok-2"])
    http.add_callback(
        responses.POST,
        f"{AUTH}/token/authenticate",
        callback=lambda _r: (201, {}, json.dumps(token_body(next(tokens), T0 + 2100))),
    )
    http.get(WORKSPACES, status=401, json={"status": {"code": 401, "message": "Unauthorized"}})
    http.get(WORKSPACES, json={"workspaces": [{"id": "w1", "name": "W"}]})
    client = make_client()
    assert [w.id for w in client.list_workspaces()] == ["w1"]
    assert _urls(http) == ["/token/authenticate", "/workspaces", "/token/authenticate", "/workspaces"]
    assert http.calls[1].request.headers["Authorization"] == "AnaplanAuthToken tok-1"
    assert http.calls[3].request.headers["Authorization"] == "AnaplanAuthToken tok-2"
    assert observer.retries == ["unauthorized"]
    assert ("list_workspaces", "401") in observer.requests


def test_second_401_raises(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    http.post(f"{AUTH}/token/authenticate", status=201, json=token_body("tok-1", T0 + 2100))
    http.get(WORKSPACES, status=401, body="")
    client = make_client()
    with pytest.raises(AnaplanAuthError) as caught:
        client.list_workspaces()
    assert caught.value.status == 401 and caught.value.endpoint == "list_workspaces"
    assert _urls(http) == ["/token/authenticate", "/workspaces", "/token/authenticate", "/workspaces"]
    assert observer.auth_failures == 1


def test_one_refresh_for_many_threads(
    anaplan: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    refreshes: list[int] = []
    gate = threading.Event()

    def refresh(_request: object) -> tuple[int, dict[str, str], str]:
        refreshes.append(1)
        gate.wait(10)  # hold the lock while the other threads pile up
        return 200, {}, json.dumps(token_body("tok-1", clock.now + 2100, "Token refreshed"))

    anaplan.add_callback(responses.POST, f"{AUTH}/token/refresh", callback=refresh)
    client = make_client()
    client.list_workspaces()
    clock.advance(1900)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            client.list_workspaces()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(refreshes) == 1
    assert _urls(anaplan).count("/token/authenticate") == 1
    assert _urls(anaplan).count("/workspaces") == 17


def test_concurrent_401s_reauthenticate_once(http: responses.RequestsMock, make_client: MakeClient) -> None:
    """Threads whose token was refused after another thread already renewed it reuse the new token."""
    issued: list[str] = []

    def authenticate(_request: object) -> tuple[int, dict[str, str], str]:
        issued.append(f"tok-{len(issued) + 1}")
        return 201, {}, json.dumps(token_body(issued[-1], T0 + 2100))

    def workspaces(request: object) -> tuple[int, dict[str, str], str]:
        header = request.headers["Authorization"]  # type: ignore[attr-defined]
        return (401, {}, "") if header == "AnaplanAuthToken tok-1" else (200, {}, json.dumps(EMPTY))

    http.add_callback(responses.POST, f"{AUTH}/token/authenticate", callback=authenticate)
    http.add_callback(responses.GET, WORKSPACES, callback=workspaces)
    client = make_client()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait(10)
        try:
            client.list_workspaces()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert issued == ["tok-1", "tok-2"]


def test_garbage_refresh_answer_falls_back_to_authentication(
    anaplan: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    anaplan.post(f"{AUTH}/token/refresh", json={"status": "SUCCESS"})  # 2xx without tokenInfo
    client = make_client()
    client.list_workspaces()
    clock.advance(1900)
    client.list_workspaces()
    assert _urls(anaplan)[2:] == ["/token/refresh", "/token/authenticate", "/workspaces"]
    assert observer.auth_failures == 0  # a garbled answer is not a refusal of the credentials


def test_failed_authentication_is_retried_on_the_next_call(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    http.post(f"{AUTH}/token/authenticate", body="<html>proxy</html>", status=200)
    http.get(WORKSPACES, json=EMPTY)
    client = make_client()
    with pytest.raises(AnaplanResponseError, match="authenticate: the body is not valid JSON"):
        client.list_workspaces()
    http.replace(
        responses.POST, f"{AUTH}/token/authenticate", status=201, json=token_body("tok-1", T0 + 2100)
    )
    assert client.list_workspaces() == []
    assert observer.auth_failures == 0  # a proxy's page is not a refusal of the credentials


def test_the_token_expiry_is_logged_as_an_iso_8601_time(
    anaplan: responses.RequestsMock, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    import time

    caplog.set_level("INFO", logger="anaplan_exporter")
    make_client().list_workspaces()
    expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 2100))
    (line,) = [r.getMessage() for r in caplog.records if "expires at" in r.getMessage()]
    assert line.endswith(f"token expires at {expected}"), line
