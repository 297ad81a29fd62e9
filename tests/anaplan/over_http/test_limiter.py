"""One client shared by many threads stays within its request rate and concurrency, as the server sees it;
a Retry-After holds every thread, and stopping abandons what waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.errors import AnaplanStoppedError
from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.app import Exporter
from anaplan_exporter.config.file import parse_config
from anaplan_exporter.polling.tracker import error_reason
from support.simulator import SimulatorHandle

from .harness import (
    MODEL,
    PASSWORD,
    USER,
    WORKSPACE,
    ClientFactory,
    base_scenario,
    checked_simulator,
    count,
)

PROCESS = "118000000002"
RATE = 5
CONCURRENCY = 2
THREADS = 8
SCENARIO = base_scenario(
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "Busy",
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
                            "history": 3,
                        }
                    ],
                }
            ],
        }
    ]
)


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    """A fresh simulator: its peak rate and concurrency statistics count from its start."""
    with checked_simulator(SCENARIO, tmp_path) as handle:
        yield handle


def hammer(client: AnaplanClient, seconds: float) -> tuple[int, float]:
    """list_tasks from THREADS threads for ``seconds``: (calls completed, seconds until all threads ended)."""
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    done: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        calls = 0
        try:
            while time.monotonic() < deadline:
                assert len(client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS)) == 4
                calls += 1
        except BaseException as exc:
            with lock:
                errors.append(exc)
        with lock:
            done.append(calls)

    threads = [threading.Thread(target=work, name=f"hammer-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    assert not errors, errors[0]
    assert len(done) == THREADS
    return sum(done), time.monotonic() - started


def test_shared_limiter_caps_rate_and_concurrency(sim: SimulatorHandle, make_client: ClientFactory) -> None:
    client = make_client(
        sim,
        BasicCredentials(USER, PASSWORD),
        requests_per_second=float(RATE),
        max_concurrency=CONCURRENCY,
    )
    # Fast answers: the rate budget is what holds eight threads back.
    calls, elapsed = hammer(client, 3.0)
    stats = sim.stats()
    assert stats["max_requests_per_second"] <= RATE + 1  # +1: the server's window is not aligned to ours
    assert stats["total_requests"] <= RATE * elapsed + 2
    assert calls >= RATE * 2  # it really was busy for the whole time
    assert stats["max_concurrent_requests"] <= CONCURRENCY

    # Slow answers: 5 starts a second lasting 0.5 s each would overlap three deep; the cap holds them at 2.
    sim.set_faults(latency=0.5)
    hammer(client, 1.0)
    stats = sim.stats()
    assert stats["max_concurrent_requests"] == CONCURRENCY
    assert stats["max_requests_per_second"] <= RATE + 1


def test_retry_after_pauses_every_thread_and_stop_abandons_them(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    client = make_client(
        sim, BasicCredentials(USER, PASSWORD), backoff_max=60.0, max_retries=4, requests_per_second=50.0
    )
    client.list_workspaces()  # signed in: from now on only integration requests
    sim.set_faults(rate_limit={"every": 600, "for": 1, "retry_after": 30})
    outcomes: list[BaseException | None] = []
    lock = threading.Lock()

    def work() -> None:
        outcome: BaseException | None = None
        try:
            client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS)
        except BaseException as exc:
            outcome = exc
        with lock:
            outcomes.append(outcome)

    first = threading.Thread(target=work, name="told-to-wait")
    first.start()
    deadline = time.monotonic() + 10
    while count(sim.stats(), "task_list", "429") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert count(sim.stats(), "task_list", "429") == 1
    # Threads that were not told to wait must wait too: Retry-After is for the tenant.
    others = [threading.Thread(target=work, name=f"waiting-{i}") for i in range(THREADS)]
    for thread in others:
        thread.start()
    time.sleep(1.5)  # well past the 429 burst: a request sent now would get 200
    before_stop = sim.stats()["total_requests"]
    assert count(sim.stats(), "task_list") == 1

    client.stop()
    for thread in [first, *others]:
        thread.join(timeout=5)
        assert not thread.is_alive(), f"{thread.name} still waits after stop"
    time.sleep(0.3)
    assert sim.stats()["total_requests"] == before_stop  # nothing was sent after stop
    assert len(outcomes) == THREADS + 1
    assert all(isinstance(outcome, AnaplanStoppedError) for outcome in outcomes), outcomes
    assert {error_reason(outcome) for outcome in outcomes if outcome is not None} == {"stopped"}


def test_exporter_stop_abandons_requests_waiting_out_a_retry_after(sim: SimulatorHandle) -> None:
    config = parse_config(
        {
            "anaplan": {
                "api_url": sim.api_url,
                "auth_url": sim.url,
                "auth": {"method": "basic", "username": USER, "password": "${PASSWORD}"},
                "requests_per_second": 50,
                "retries": {"backoff_max": "60s"},
            },
            "targets": [{"workspace": WORKSPACE, "model": MODEL, "processes": [PROCESS]}],
        },
        "config.yml",
        {"PASSWORD": PASSWORD},
    )
    exporter = Exporter(config)
    client = exporter.client
    client.list_workspaces()
    sim.set_faults(rate_limit={"every": 600, "for": 1, "retry_after": 30})
    outcomes: list[BaseException | None] = []

    def work() -> None:
        try:
            client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS)
            outcomes.append(None)
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=work, name=f"poll-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while count(sim.stats(), "task_list", "429") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.2)  # past the burst: whatever is sent now would be answered
    before_stop = sim.stats()["total_requests"]

    exporter.stop()  # logs out too, but not while Anaplan asks to wait
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()
    time.sleep(0.3)
    assert sim.stats()["total_requests"] == before_stop
    assert len(outcomes) == 4 and all(isinstance(outcome, AnaplanStoppedError) for outcome in outcomes)
