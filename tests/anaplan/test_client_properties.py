"""The client over real ``requests`` (mocked with ``responses``): any body, status or header gives a typed
result or an AnaplanError, never a raw requests, json or decoding exception."""

from __future__ import annotations

import json
import math

import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from responses.registries import OrderedRegistry

from anaplan_exporter.anaplan.auth import StaticTokenCredentials
from anaplan_exporter.anaplan.client import AnaplanClient, ClientSettings
from anaplan_exporter.anaplan.errors import AnaplanError, AnaplanHTTPError
from anaplan_exporter.anaplan.models import ObjectType, Task, TaskSummary
from anaplan_exporter.anaplan.transport import parse_retry_after
from support.strategies import json_values, task_documents

API = "https://api.test/2/0"
W, M, P = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F", "118000000002"
TASKS = f"{API}/workspaces/{W}/models/{M}/processes/{P}/tasks"
TOKEN = "static-token-SECRET"
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Clock:
    """Epoch seconds that move only when the client sleeps (retries, rate limit)."""

    def __init__(self) -> None:
        self.now = 1_677_628_800.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0 and math.isfinite(seconds)
        self.now += seconds


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


bodies = st.one_of(
    st.binary(max_size=64),
    json_values.map(_json_bytes),
    task_documents().map(_json_bytes),
    st.sampled_from(
        [
            b"",
            b"null",
            b"[",
            b'{"task":',
            b"\xff\xfe\x00",
            b"NaN",
            b"1e999",
            b"[" * 5000 + b"]" * 5000,
            b"9" * 5000,
            '{"taskId": "\u00e9"}'.encode("latin-1"),
            b'{"tasks": [{"taskId": "\xed\xa0\x80"}]}',
        ]
    ),
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "text/plain; charset=latin-1", ""]
)
statuses = st.one_of(st.sampled_from([200, 200, 200, 201, 204]), st.integers(min_value=200, max_value=599))
headers = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.sampled_from(["0", "1", "-1", "nan", "inf", "1e999", "soon", ""])
        | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
        "Content-Encoding": st.sampled_from(["gzip", "deflate", "br", "identity"]),
    },
)
responses_ = st.lists(st.tuples(statuses, bodies, content_types, headers), min_size=1, max_size=3)


def _client(clock: Clock, retries: int) -> AnaplanClient:
    settings = ClientSettings(
        api_url=API, requests_per_second=1000.0, max_retries=retries, backoff_initial=0.5, backoff_max=2.0
    )
    return AnaplanClient(
        settings, StaticTokenCredentials(TOKEN), clock=clock, sleep=clock.sleep, random=lambda: 0.5
    )


def _call(answers: list[tuple[int, bytes, str, dict[str, str]]], retries: int, url: str, call: str) -> object:
    """Serve ``answers`` in order (then refuse to connect); the call's result, or its AnaplanError."""
    clock = Clock()
    client = _client(clock, retries)
    with responses.RequestsMock(registry=OrderedRegistry, assert_all_requests_are_fired=False) as http:
        for status, body, content_type, extra in answers:
            http.add(responses.GET, url, body=body, status=status, content_type=content_type, headers=extra)
        try:
            if call == "list_tasks":
                return client.list_tasks(W, M, ObjectType.PROCESS, P)
            return client.task_status(W, M, ObjectType.PROCESS, P, "2846F8E2FD624F7FA91EC6E2F6E318C0")
        except AnaplanError as exc:
            message = str(exc)
            assert TOKEN not in message and "\n" not in message
            if isinstance(exc, AnaplanHTTPError):
                assert not 200 <= exc.status < 300
            return exc
        finally:
            assert all(call.request.method == "GET" for call in http.calls), "the client only reads"
            client.close()


@PROPERTY
@given(responses_, st.integers(min_value=0, max_value=2))
def test_list_tasks_gives_summaries_or_anaplan_errors(
    answers: list[tuple[int, bytes, str, dict[str, str]]], retries: int
) -> None:
    result = _call(answers, retries, TASKS, "list_tasks")
    event(type(result).__name__)
    if not isinstance(result, AnaplanError):
        assert isinstance(result, list) and all(isinstance(s, TaskSummary) for s in result)


@PROPERTY
@given(responses_, st.integers(min_value=0, max_value=2))
def test_task_status_gives_a_task_or_anaplan_errors(
    answers: list[tuple[int, bytes, str, dict[str, str]]], retries: int
) -> None:
    result = _call(answers, retries, f"{TASKS}/2846F8E2FD624F7FA91EC6E2F6E318C0", "task_status")
    event(type(result).__name__)
    assert isinstance(result, Task | AnaplanError)


@settings(max_examples=300, deadline=None)
@given(
    st.none() | st.text(max_size=40) | st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT", "Mon, 99 Foo 99999"])
)
def test_retry_after_is_a_finite_non_negative_wait_or_none(value: str | None) -> None:
    wait = parse_retry_after(value, 1_677_628_800.0)
    assert wait is None or (math.isfinite(wait) and wait >= 0)
