"""Token life: refresh within the margin, re-authentication after expiry, 401s answered transparently."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials
from anaplan_exporter.anaplan.models import ObjectType
from support.simulator import SimulatorHandle

from .harness import (
    MODEL,
    PASSWORD,
    USER,
    WORKSPACE,
    ClientFactory,
    OffsetClock,
    RecordingObserver,
    StatsDelta,
    base_scenario,
    checked_simulator,
)

LIFETIME = 4.0
THREADS = 8
WORKSPACES = [
    {"id": WORKSPACE, "name": "W", "models": [{"id": MODEL, "name": "M", "generate": {"processes": 30}}]}
]


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    """Tokens live four seconds."""
    scenario = base_scenario(token_lifetime_seconds=LIFETIME, workspaces=WORKSPACES)
    with checked_simulator(scenario, tmp_path_factory.mktemp("short")) as handle:
        yield handle


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(base_scenario(workspaces=WORKSPACES), tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(autouse=True)
def no_faults(sim: SimulatorHandle) -> Iterator[None]:
    yield
    sim.set_faults(token_early_expiry=None)


def basic() -> BasicCredentials:
    return BasicCredentials(USER, PASSWORD)


def test_token_within_the_refresh_margin_is_extended_with_token_refresh(
    short_lived: SimulatorHandle, make_client: ClientFactory
) -> None:
    # A margin longer than the lifetime puts every call after the first inside the margin.
    client = make_client(short_lived, basic(), refresh_margin=LIFETIME + 1)
    delta = StatsDelta(short_lived)
    expiries: list[float] = []
    for _ in range(5):
        assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
        assert client.token_expires_at is not None
        expiries.append(client.token_expires_at)
    assert delta("authenticate", "201") == 1
    assert delta("refresh", "200") == 4
    assert delta("workspaces", "200") == 5
    assert delta("workspaces", "401") == 0  # the refreshed token kept working: same value, later expiry
    assert expiries == sorted(expiries)
    assert expiries[-1] != expiries[0]


def test_token_expired_on_the_clients_clock_is_obtained_again(
    short_lived: SimulatorHandle, make_client: ClientFactory
) -> None:
    clock = OffsetClock()
    client = make_client(short_lived, basic(), refresh_margin=1.0, clock=clock)
    delta = StatsDelta(short_lived)
    client.list_workspaces()
    client.list_workspaces()  # well before the margin: the cached token is reused
    clock.advance(LIFETIME + 5)  # past expiresAt: refreshing is pointless, authenticate again
    client.list_workspaces()
    assert delta("authenticate", "201") == 2
    assert delta("refresh") == 0
    assert delta("workspaces", "200") == 3


def test_failed_refresh_falls_back_to_authenticate(
    short_lived: SimulatorHandle, make_client: ClientFactory
) -> None:
    observer = RecordingObserver()
    client = make_client(short_lived, basic(), refresh_margin=LIFETIME + 1, observer=observer)
    delta = StatsDelta(short_lived)
    client.list_workspaces()
    short_lived.expire_tokens()
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert delta("refresh", "401") == 1
    assert delta("authenticate", "201") == 2
    assert delta("workspaces", "401") == 0
    assert observer.auth_failures == 1  # the refused refresh, not the successful login after it


def test_early_token_expiry_is_answered_by_authenticating_and_replaying(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    observer = RecordingObserver()
    client = make_client(sim, basic(), observer=observer)
    delta = StatsDelta(sim)
    client.list_workspaces()
    sim.set_faults(token_early_expiry=0.5)
    # The simulator is another process on the wall clock: the token has to really age past 0.5 s.
    time.sleep(0.6)
    assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
    assert delta("workspaces", "401") == 1
    assert delta("workspaces", "200") == 2
    assert delta("authenticate", "201") == 2
    assert observer.retries == ["unauthorized"]
    assert observer.auth_failures == 0


def test_tokens_expired_in_the_middle_of_a_paged_listing(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    pages_seen = []

    def expire_after_second_page(endpoint: str, code: str) -> None:
        if endpoint == "list_objects" and code == "200":
            pages_seen.append(code)
            if len(pages_seen) == 2:
                sim.expire_tokens()

    observer = RecordingObserver(on_request=expire_after_second_page)
    client = make_client(sim, basic(), observer=observer, page_size=7)
    delta = StatsDelta(sim)
    processes = client.list_objects(WORKSPACE, MODEL, ObjectType.PROCESS)
    assert len(processes) == 30
    assert len({p.id for p in processes}) == 30
    assert {p.name for p in processes} == {f"Generated process {i}" for i in range(1, 31)}
    assert delta("objects", "200") == 5  # ceil(30 / 7) pages, each fetched once
    assert delta("objects", "401") == 1  # the third page, replayed with the new token
    assert delta("authenticate", "201") == 2
    assert observer.retries == ["unauthorized"]


def test_threads_meeting_a_revoked_token_authenticate_once(
    sim: SimulatorHandle, make_client: ClientFactory
) -> None:
    client = make_client(sim, basic())
    client.list_workspaces()
    delta = StatsDelta(sim)
    barrier = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(3):
                assert [ws.id for ws in client.list_workspaces()] == [WORKSPACE]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    sim.expire_tokens()
    barrier.wait(timeout=10)  # every thread starts with the revoked token in the client's cache
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors[0]
    assert delta("authenticate", "201") == 1  # one thread renewed; the others took its new token
    assert delta("workspaces", "200") == 3 * THREADS
    assert 1 <= delta("workspaces", "401") <= THREADS
