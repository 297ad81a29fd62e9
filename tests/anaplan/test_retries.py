"""Retries and errors: 429 with Retry-After, 5xx backoff, connection failures, typed errors, bad JSON."""

from __future__ import annotations

import email.utils
import io

import pytest
import requests
import responses
import urllib3

from anaplan_exporter.anaplan.auth import StaticTokenCredentials
from anaplan_exporter.anaplan.errors import (
    AnaplanConnectionError,
    AnaplanHTTPError,
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanServerError,
)
from anaplan_exporter.anaplan.limiter import ARRIVAL_MARGIN
from anaplan_exporter.anaplan.transport import RetryPolicy, parse_retry_after

from .conftest import MakeClient
from .fakes import API, FakeClock, RecordingObserver

WORKSPACES = f"{API}/workspaces"
EMPTY: dict[str, list[object]] = {"workspaces": []}
STATIC = StaticTokenCredentials("static-tok")


def test_429_honours_retry_after_seconds(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    http.get(WORKSPACES, status=429, headers={"Retry-After": "7"})
    http.get(WORKSPACES, status=429, headers={"Retry-After": "0"})
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(STATIC, random=lambda: 0.5)
    assert client.list_workspaces() == []
    # Retry-After is a floor over the jittered backoff: max(7, 0.5*1) then max(0, 0.5*2).
    assert clock.sleeps == pytest.approx([7.0, 1.0])
    assert observer.retries == ["rate_limited", "rate_limited"]
    assert [code for _, code in observer.requests] == ["429", "429", "200"]


def test_429_honours_retry_after_http_date(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    clock.now = 1_700_000_000.0
    http.get(
        WORKSPACES, status=429, headers={"Retry-After": email.utils.formatdate(clock.now + 12, usegmt=True)}
    )
    http.get(WORKSPACES, json=EMPTY)
    make_client(STATIC, random=lambda: 0.0).list_workspaces()
    assert clock.sleeps == pytest.approx([12.0])


def test_retry_after_is_capped_by_backoff_max(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.get(WORKSPACES, status=429, headers={"Retry-After": "3600"})
    http.get(WORKSPACES, json=EMPTY)
    make_client(STATIC, backoff_max=30.0).list_workspaces()
    assert clock.sleeps == [30.0]


def test_429_after_every_retry_raises_rate_limit_error(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.get(WORKSPACES, status=429, json={"status": {"code": 429, "message": "Too Many Requests"}})
    client = make_client(STATIC, max_retries=3, random=lambda: 1.0)
    with pytest.raises(AnaplanRateLimitError, match="list_workspaces: HTTP 429: Too Many Requests") as caught:
        client.list_workspaces()
    assert caught.value.status == 429
    assert len(http.calls) == 4
    assert clock.sleeps == pytest.approx([1.0, 2.0, 4.0])


def test_5xx_exponential_backoff_with_full_jitter(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock, observer: RecordingObserver
) -> None:
    jitter = iter([0.25, 0.5, 0.75, 1.0])
    http.get(WORKSPACES, status=503)
    http.get(WORKSPACES, status=500)
    http.get(WORKSPACES, status=502)
    http.get(WORKSPACES, status=504)
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(STATIC, random=lambda: next(jitter), backoff_initial=2.0, backoff_max=10.0)
    client.list_workspaces()
    # ceilings 2, 4, 8, 16->10; each wait is jitter * ceiling
    assert clock.sleeps == pytest.approx([0.5, 2.0, 6.0, 10.0])
    assert observer.retries == ["server_error"] * 4


def test_5xx_after_every_retry_raises_server_error(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(WORKSPACES, status=500, body="<html>oops</html>")
    with pytest.raises(AnaplanServerError) as caught:
        make_client(STATIC, max_retries=1).list_workspaces()
    assert caught.value.status == 500 and caught.value.message == ""
    assert len(http.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [
        requests.ConnectionError("refused"),
        requests.exceptions.ConnectTimeout("t"),
        requests.exceptions.ReadTimeout("t"),
    ],
)
def test_connection_errors_are_retried_then_typed(
    http: responses.RequestsMock,
    make_client: MakeClient,
    observer: RecordingObserver,
    clock: FakeClock,
    failure: Exception,
) -> None:
    http.get(WORKSPACES, body=failure)
    client = make_client(STATIC, max_retries=2)
    with pytest.raises(AnaplanConnectionError) as caught:
        client.list_workspaces()
    assert caught.value.endpoint == "list_workspaces"
    assert caught.value.__cause__ is None and caught.value.__context__ is None  # no URL-bearing chain
    assert len(http.calls) == 3
    assert observer.retries == ["connection", "connection"]
    assert [code for _, code in observer.requests] == ["error"] * 3
    assert len(clock.sleeps) == 2


def test_connection_error_then_success(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(WORKSPACES, body=requests.ConnectionError("reset"))
    http.get(WORKSPACES, json={"workspaces": [{"id": "w"}]})
    assert [w.id for w in make_client(STATIC).list_workspaces()] == ["w"]


def test_tls_failures_are_not_retried(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(WORKSPACES, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(AnaplanConnectionError, match="TLS"):
        make_client(STATIC).list_workspaces()
    assert len(http.calls) == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (404, AnaplanNotFoundError),
        (403, AnaplanPermissionError),
        (400, AnaplanHTTPError),
        (409, AnaplanHTTPError),
    ],
)
def test_4xx_are_typed_and_not_retried(
    http: responses.RequestsMock, make_client: MakeClient, status: int, error_type: type[AnaplanHTTPError]
) -> None:
    http.get(
        WORKSPACES,
        status=status,
        json={"status": {"code": status, "message": "Not Found here"}, "path": "/2/0/x", "timestamp": "t"},
    )
    with pytest.raises(error_type) as caught:
        make_client(STATIC).list_workspaces()
    assert type(caught.value) is error_type
    assert caught.value.status == status and caught.value.message == "Not Found here"
    assert len(http.calls) == 1


def test_malformed_json_on_2xx_is_a_response_error(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(WORKSPACES, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(AnaplanResponseError, match="not valid JSON") as caught:
        make_client(STATIC).list_workspaces()
    assert caught.value.endpoint == "list_workspaces"
    assert len(http.calls) == 1


@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_json_on_2xx_is_a_response_error(
    http: responses.RequestsMock, make_client: MakeClient, depth: int
) -> None:
    # 200 levels parse (then walk) without the limit; 100,000 would end in a RecursionError.
    http.get(
        WORKSPACES, body='{"workspaces": ' + "[" * depth + "]" * depth + "}", content_type="application/json"
    )
    with pytest.raises(AnaplanResponseError) as caught:
        make_client(STATIC).list_workspaces()
    assert str(caught.value) == (
        "list_workspaces: the body is nested deeper than 64 levels "
        f"({2 * depth + 16} bytes, application/json)"
    )
    assert len(http.calls) == 1


def test_every_attempt_passes_through_the_limiter(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.get(WORKSPACES, status=503)
    http.get(WORKSPACES, json=EMPTY)
    client = make_client(STATIC, requests_per_second=0.5, random=lambda: 0.0)
    client.list_workspaces()
    # backoff 0 s, then the limiter makes the retry wait for its slot: 1/0.5 s plus the arrival margin
    assert clock.sleeps == pytest.approx([0.0, 2.0 * (1 + ARRIVAL_MARGIN)])


def test_timeouts_and_tls_settings_reach_requests(make_client: MakeClient) -> None:
    seen: dict[str, object] = {}

    class Session(requests.Session):
        def request(self, method: str, url: str, **kwargs: object) -> requests.Response:  # type: ignore[override]
            seen.update(kwargs, method=method)
            response = requests.Response()
            response.status_code = 200
            response.raw = urllib3.HTTPResponse(io.BytesIO(b'{"workspaces": []}'), preload_content=False)
            return response

    from anaplan_exporter.anaplan.client import AnaplanClient, ClientSettings

    client = AnaplanClient(
        ClientSettings(api_url=API, connect_timeout=3.0, read_timeout=9.0, verify_tls="/etc/ca.pem"),
        STATIC,
        session=Session(),
    )
    client.list_workspaces()
    assert seen["timeout"] == (3.0, 9.0)
    assert seen["stream"] is True  # the body is read in a stream, bounded by the deadline and the size cap
    assert seen["verify"] == "/etc/ca.pem"
    assert seen["method"] == "GET"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1_700_000_000.0) == expected


def test_retry_policy_delay_bounds() -> None:
    policy = RetryPolicy(max_retries=100, backoff_initial=1.0, backoff_max=60.0)
    assert policy.delay(0, 1.0, None) == 1.0
    assert policy.delay(1000, 1.0, None) == 60.0
    assert policy.delay(0, 0.0, 5.0) == 5.0
    assert policy.delay(3, 0.0, 500.0) == 60.0
