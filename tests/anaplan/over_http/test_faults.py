"""The simulator's faults switched on at runtime: the client retries what is transient, types the rest."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from anaplan_exporter.anaplan.errors import (
    AnaplanConnectionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanServerError,
    AnaplanTimeoutError,
)
from anaplan_exporter.anaplan.models import ObjectType
from support.simulator import SimulatorHandle

from .harness import (
    MODEL,
    WORKSPACE,
    Connect,
    RecordingObserver,
    SecretBook,
    StatsDelta,
    base_scenario,
    checked_simulator,
)

PROCESS = "118000000002"
SCENARIO = base_scenario(
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "Faults",
            "models": [
                {
                    "id": MODEL,
                    "name": "M",
                    "processes": [
                        {
                            "id": PROCESS,
                            "name": "P",
                            "steps": [{"id": "112000000001", "name": "Load"}],
                            "every": 600,
                            "duration": 2,
                            "history": 1,
                        }
                    ],
                }
            ],
        }
    ]
)
OFF: dict[str, Any] = {
    "latency": None,
    "error_rate_5xx": None,
    "rate_limit": None,
    "max_requests_per_second": None,
    "malformed_json_rate": None,
    "token_early_expiry": None,
    "drop_connection_rate": None,
    "scope": "integration",
}
SERVER_ERRORS = ("500", "502", "503")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(autouse=True)
def faults_off(sim: SimulatorHandle) -> Iterator[None]:
    sim.set_faults(**OFF)
    yield
    sim.set_faults(**OFF)


@pytest.mark.parametrize(
    "rate_limit",
    [
        {"retry_after": 1},
        # An HTTP date has whole seconds: 2 s ahead is at least 1 s ahead, which the 1 s cap then trims.
        {"retry_after": 2, "retry_after_format": "http-date"},
    ],
    ids=["seconds", "http-date"],
)
def test_rate_limit_burst_is_waited_out_as_retry_after_says(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, rate_limit: dict[str, Any]
) -> None:
    client = connect()
    delta = StatsDelta(sim)
    sim.set_faults(rate_limit={"every": 600, "for": 0.8, **rate_limit})
    started = time.monotonic()
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert time.monotonic() - started >= 0.9
    # Backoff alone (0.05 s doubling) would have retried inside the 0.8 s burst and met more 429s.
    assert delta("workspaces", "429") == 1
    assert delta("workspaces", "200") == 1
    assert observer.retries == ["rate_limited"]


def test_rate_limit_outlasting_the_retries_is_a_rate_limit_error(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(max_retries=1)
    delta = StatsDelta(sim)
    sim.set_faults(rate_limit={"every": 600, "for": 60})
    started = time.monotonic()
    with book.raises(AnaplanRateLimitError) as info:
        client.list_workspaces()
    assert isinstance(info.value, AnaplanRateLimitError) and info.value.status == 429
    assert time.monotonic() - started < 5  # Retry-After (about 60 s) is capped by backoff_max
    assert delta("workspaces", "429") == 2
    assert observer.retries == ["rate_limited"]


def test_server_errors_are_retried(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver
) -> None:
    client = connect(max_retries=12)
    delta = StatsDelta(sim)
    sim.set_faults(error_rate_5xx=0.4)
    for _ in range(30):
        assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    failures = sum(delta("workspaces", code) for code in SERVER_ERRORS)
    assert failures >= 3
    assert delta("workspaces", "200") == 30
    assert observer.retry_counts() == {"server_error": failures}


def test_server_errors_outlasting_the_retries(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(max_retries=2)
    delta = StatsDelta(sim)
    sim.set_faults(error_rate_5xx=1.0)
    with book.raises(AnaplanServerError) as info:
        client.task_status(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS, "0123456789ABCDEF")
    assert isinstance(info.value, AnaplanServerError) and info.value.status >= 500
    assert sum(delta("task_status", code) for code in SERVER_ERRORS) == 3
    assert observer.retries == ["server_error", "server_error"]


def test_malformed_json_is_a_response_error_never_a_decode_error(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect()
    task_id = next(t["task_id"] for t in sim.ground_truth() if t["object_id"] == PROCESS)
    delta = StatsDelta(sim)
    sim.set_faults(malformed_json_rate=1.0)
    calls = [
        ("list_workspaces", client.list_workspaces),
        ("list_objects", lambda: client.list_objects(WORKSPACE, MODEL, ObjectType.PROCESS)),
        ("process_metadata", lambda: client.process_metadata(WORKSPACE, MODEL, PROCESS)),
        ("list_tasks", lambda: client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS)),
        ("task_status", lambda: client.task_status(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS, task_id)),
    ]
    for endpoint, call in calls:
        with book.raises(AnaplanResponseError) as info:
            call()
        error = info.value
        assert not isinstance(error, json.JSONDecodeError | ValueError)
        assert error.__cause__ is None and error.__suppress_context__
        assert str(error).startswith(f"{endpoint}: the body is not valid JSON")
    assert observer.retries == []  # a garbled 200 is not retried
    for kind in ("workspaces", "objects", "object", "task_list", "task_status"):
        assert delta(kind) == 1
    sim.set_faults(malformed_json_rate=None)
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]


def test_dropped_connections_are_retried(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver
) -> None:
    client = connect(max_retries=12)
    delta = StatsDelta(sim)
    sim.set_faults(drop_connection_rate=0.3)
    for _ in range(30):
        assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    dropped = delta("workspaces", "dropped")
    assert dropped >= 2
    assert delta("workspaces", "200") == 30
    assert observer.retry_counts() == {"connection": dropped}


def test_connections_dropped_every_time_are_a_connection_error(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(max_retries=2)
    delta = StatsDelta(sim)
    sim.set_faults(drop_connection_rate=1.0)
    with book.raises(AnaplanConnectionError) as info:
        client.list_workspaces()
    assert "connection" in str(info.value)
    assert delta("workspaces", "dropped") == 3
    assert observer.retries == ["connection", "connection"]
    assert ("list_workspaces", "error") in observer.requests


def test_latency_beyond_the_read_timeout_is_a_timeout_error(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(read_timeout=0.25, max_retries=1)
    sim.set_faults(latency=0.1)
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]  # slow but within the timeout
    sim.set_faults(latency=1.0)
    started = time.monotonic()
    with book.raises(AnaplanTimeoutError) as info:
        client.list_workspaces()
    assert isinstance(info.value, AnaplanConnectionError)  # callers that catch connection errors still do
    assert str(info.value) == (
        f"list_workspaces: no answer from {sim.api_url}/workspaces within 0.25s (anaplan.timeouts.read)"
    )
    assert time.monotonic() - started < 0.9  # two attempts of 0.25 s plus one short backoff
    assert observer.retries == ["connection"]
