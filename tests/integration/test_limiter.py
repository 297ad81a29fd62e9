"""One client shared by many threads stays within its request rate and concurrency, as the server sees it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.anaplan.models import ObjectType
from support.simulator import SimulatorHandle

from .harness import MODEL, PASSWORD, USER, WORKSPACE, ClientFactory, base_scenario, checked_simulator

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
