"""Hostile answers over real HTTP: dripping and endless bodies, huge ones, and error bodies that echo secrets.

A request has a total deadline and a size cap, both enforced while the body streams in; neither is retried.
No credential or token reaches an exception or a log record (the ``book`` fixture checks every record at
DEBUG after each test).
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from anaplan_exporter.anaplan.auth import BasicCredentials, OAuthCredentials, StaticTokenCredentials
from anaplan_exporter.anaplan.client import AnaplanClient, ClientSettings
from anaplan_exporter.anaplan.errors import (
    AnaplanAuthError,
    AnaplanError,
    AnaplanHTTPError,
    AnaplanServerError,
    AnaplanTimeoutError,
    AnaplanTooLargeError,
)
from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.polling.tracker import error_reason
from anaplan_simulator.faults import ECHO_FORMS
from support.net import free_port
from support.simulator import SimulatorHandle

from .harness import (
    MODEL,
    PASSWORD,
    USER,
    WORKSPACE,
    ClientFactory,
    Connect,
    RecordingObserver,
    SecretBook,
    StatsDelta,
    base_scenario,
    checked_simulator,
)

PROCESS = "118000000002"
CLIENT_ID = "hostile-oauth-client"
REFRESH_TOKEN = "refresh-Hostile-7c1d9e22"
CLIENT_SECRET = "clientsecret-9f3a7e41"
SCENARIO = base_scenario(
    oauth_clients=[{"client_id": CLIENT_ID, "refresh_token": REFRESH_TOKEN}],
    workspaces=[
        {
            "id": WORKSPACE,
            "name": "Hostile",
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
                            "history": 2,
                        }
                    ],
                }
            ],
        }
    ],
)
OFF: dict[str, Any] = {
    "latency": None,
    "error_rate_5xx": None,
    "rate_limit": None,
    "drop_connection_rate": None,
    "drip": None,
    "drip_headers": None,
    "endless": None,
    "huge": None,
    "echo_secrets": None,
    "echo_form": None,
    "scope": "integration",
    "path": None,
}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    with checked_simulator(SCENARIO, tmp_path_factory.mktemp("sim")) as handle:
        yield handle


@pytest.fixture(scope="module")
def token_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the OAuth clients of every test keep the rotated (single-use) refresh token."""
    return tmp_path_factory.mktemp("oauth") / "refresh-token"


@pytest.fixture(autouse=True)
def faults_off(sim: SimulatorHandle) -> Iterator[None]:
    sim.set_faults(**OFF)
    yield
    sim.set_faults(**OFF)


def list_tasks(client: AnaplanClient) -> object:
    return client.list_tasks(WORKSPACE, MODEL, ObjectType.PROCESS, PROCESS)


# --------------------------------------------------------------------------- deadline


def test_a_dripping_body_is_abandoned_at_the_deadline_and_not_retried(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(connect_timeout=1.0, read_timeout=1.0, total_timeout=1.5, max_retries=3)
    delta = StatsDelta(sim)
    # One byte every 0.2 s: each read gets data well within the read timeout, the body takes minutes.
    sim.set_faults(drip=0.2)
    started = time.monotonic()
    with book.raises(AnaplanTimeoutError) as info:
        list_tasks(client)
    elapsed = time.monotonic() - started
    assert error_reason(info.value) == "timeout"
    assert "within the 1.5s deadline" in str(info.value) and "bytes received" in str(info.value)
    assert str(info.value).startswith(f"list_tasks: {sim.api_url}/workspaces/{WORKSPACE}/models/")
    assert delta("task_list") == 1  # not retried
    assert observer.retries == []
    assert ("list_tasks", "error") in observer.requests
    assert elapsed < 10  # the whole body would take over a minute
    sim.set_faults(drip=None)
    assert len(list_tasks(client)) == 3  # type: ignore[arg-type]


def test_dripping_headers_are_abandoned_at_the_deadline_too(
    sim: SimulatorHandle, make_client: ClientFactory, observer: RecordingObserver, book: SecretBook
) -> None:
    # The client's own session (as in production): its sockets are known to the deadline watchdog.
    settings = ClientSettings(
        api_url=sim.api_url,
        auth_url=sim.url,
        oauth_url=sim.url,
        connect_timeout=1.0,
        read_timeout=1.0,
        total_timeout=1.5,
        backoff_initial=0.05,
        max_retries=3,
    )
    client = AnaplanClient(settings, BasicCredentials(USER, PASSWORD), observer=observer)
    try:
        client.list_workspaces()
        delta = StatsDelta(sim)
        sim.set_faults(drip_headers=0.2)  # a status line and headers of ~200 bytes: 40 s
        started = time.monotonic()
        with book.raises(AnaplanTimeoutError) as info:
            list_tasks(client)
        assert "within the 1.5s deadline" in str(info.value)
        assert time.monotonic() - started < 10
        assert delta("task_list") == 1  # not retried
        sim.set_faults(drip_headers=None)
        assert len(list_tasks(client)) == 3  # type: ignore[arg-type]
    finally:
        client.close()


def test_a_silent_server_is_a_retried_read_timeout(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(read_timeout=0.3, max_retries=1)
    delta = StatsDelta(sim)
    sim.set_faults(latency=1.0)
    with book.raises(AnaplanTimeoutError) as info:
        list_tasks(client)
    assert "(anaplan.timeouts.read)" in str(info.value)
    assert error_reason(info.value) == "timeout"
    assert [code for endpoint, code in observer.requests if endpoint == "list_tasks"] == ["error", "error"]
    assert observer.retries == ["connection"]
    # The simulator counts a request once it has answered (after its latency): wait for both, so that the
    # next test's counts start after them.
    deadline = time.monotonic() + 10
    while delta("task_list") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delta("task_list") == 2


# --------------------------------------------------------------------------- size


def _peak_allocated(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """Peak bytes allocated by Python while ``call`` runs, and what it raised."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    error: BaseException | None = None
    try:
        call()
    except AnaplanError as exc:
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


def test_an_endless_body_is_abandoned_at_the_size_cap_with_bounded_memory(
    sim: SimulatorHandle, connect: Connect, observer: RecordingObserver, book: SecretBook
) -> None:
    client = connect(max_response_size=MiB, max_retries=3)
    delta = StatsDelta(sim)
    sim.set_faults(endless=True)
    peak, error = _peak_allocated(lambda: list_tasks(client))
    assert isinstance(error, AnaplanTooLargeError)
    book.assert_clean(error)
    assert error_reason(error) == "too_large"
    assert "is larger than 1048576 bytes" in str(error) and "(anaplan.max_response_size)" in str(error)
    assert peak < 4 * MiB, f"{peak / MiB:.1f} MiB allocated while reading an endless body"
    assert delta("task_list") == 1  # not retried
    assert observer.retries == []
    sim.set_faults(endless=None)
    assert len(list_tasks(client)) == 3  # type: ignore[arg-type]


def test_a_declared_huge_body_is_refused_before_it_is_read(
    sim: SimulatorHandle, connect: Connect, book: SecretBook
) -> None:
    client = connect(max_response_size=MiB)
    sim.set_faults(huge=200 * MiB)
    peak, error = _peak_allocated(lambda: list_tasks(client))
    assert isinstance(error, AnaplanTooLargeError)
    book.assert_clean(error)
    assert peak < 2 * MiB
    sim.set_faults(huge=None)
    assert len(list_tasks(client)) == 3  # type: ignore[arg-type]


def test_a_large_body_within_the_cap_is_read_whole(sim: SimulatorHandle, connect: Connect) -> None:
    client = connect(max_response_size=8 * MiB)
    sim.set_faults(huge=5 * MiB)
    assert len(list_tasks(client)) == 3  # type: ignore[arg-type]


# --------------------------------------------------------------------------- secrets echoed back


def _echo_round(client: AnaplanClient, book: SecretBook) -> list[str]:
    texts = []
    calls: tuple[Callable[[], object], ...] = (client.list_workspaces, lambda: list_tasks(client))
    for call in calls:
        with book.raises(AnaplanError) as info:
            call()
        texts.append(str(info.value))
    return texts


@pytest.mark.parametrize("status", [400, 401, 500])
def test_error_bodies_that_echo_credentials_are_scrubbed(
    sim: SimulatorHandle,
    make_client: ClientFactory,
    book: SecretBook,
    caplog: pytest.LogCaptureFixture,
    token_store: Path,
    status: int,
) -> None:
    def clients() -> tuple[AnaplanClient, AnaplanClient]:
        return (
            make_client(sim, BasicCredentials(USER, PASSWORD), max_retries=1),
            make_client(
                sim,
                OAuthCredentials(
                    CLIENT_ID, REFRESH_TOKEN, token_file=token_store, client_secret=CLIENT_SECRET
                ),
                max_retries=1,
            ),
        )

    book.add(REFRESH_TOKEN, CLIENT_SECRET)
    basic, oauth = clients()
    basic.list_workspaces()  # signed in: the integration API echoes their tokens
    oauth.list_workspaces()
    sim.set_faults(echo_secrets=status)
    texts = _echo_round(basic, book) + _echo_round(oauth, book)
    sim.set_faults(echo_secrets=status, scope="all")
    basic, oauth = clients()  # not signed in: the auth and OAuth services echo the credentials
    texts += _echo_round(basic, book) + _echo_round(oauth, book)
    # The message was there (masked), not dropped: the operator still sees what Anaplan said.
    assert all("Rejected" in text and "***" in text for text in texts if "HTTP" in text), texts
    assert any("/token/authenticate" in text for text in texts)
    assert any("/oauth/token" in text for text in texts)
    records = "\n".join(record.getMessage() for record in caplog.records)
    assert not book.leaks(records)


HOSTILE_PASSWORD = 'Tr0ub4dor&3x Q<z>  \t"quoted" é+%'
HOSTILE_REFRESH = "refresh  Hostile\t<&>-5b1e"
HOSTILE_SECRET = "client secret&é-77f0"


@pytest.mark.parametrize("form", [form for form in ECHO_FORMS if form != "as_sent"])
def test_credentials_echoed_in_any_form_are_scrubbed(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook, form: str
) -> None:
    """An upstream that re-encodes what it echoes (base64 unpadded or wrapped, HTML, upper case, URL,
    JSON, whitespace collapsed): the book searches the texts and the log in every form."""
    book.add(HOSTILE_PASSWORD, f"{USER}:{HOSTILE_PASSWORD}", HOSTILE_REFRESH, HOSTILE_SECRET)
    signed_in = make_client(sim, BasicCredentials(USER, PASSWORD), max_retries=1)
    signed_in.list_workspaces()
    sim.set_faults(echo_secrets=400, echo_form=form)
    texts = _echo_round(signed_in, book)  # the integration API echoes the token
    sim.set_faults(echo_secrets=401, echo_form=form, scope="all")
    hostile = make_client(sim, BasicCredentials(USER, HOSTILE_PASSWORD), max_retries=1)
    oauth = make_client(sim, OAuthCredentials(CLIENT_ID, HOSTILE_REFRESH, client_secret=HOSTILE_SECRET))
    texts += _echo_round(hostile, book) + _echo_round(oauth, book)
    assert all("Rejected" in text and "***" in text for text in texts), texts
    assert not book.leaks("\n".join(texts))


def test_a_static_token_echoed_back_is_scrubbed(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook
) -> None:
    signed_in = make_client(sim, BasicCredentials(USER, PASSWORD))
    signed_in.list_workspaces()
    token = next(value for value in book.values if value.startswith("AnaplanAuthToken ")).partition(" ")[2]
    static = make_client(sim, StaticTokenCredentials(token))
    sim.set_faults(echo_secrets=403)
    with book.raises(AnaplanHTTPError) as info:
        static.list_workspaces()
    assert token not in str(info.value) and "Rejected" in str(info.value)


# --------------------------------------------------------------------------- honest error classes


def test_an_unreachable_auth_service_is_a_connection_error_not_an_auth_failure(
    make_client: ClientFactory, sim: SimulatorHandle, book: SecretBook
) -> None:
    observer = RecordingObserver()
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = make_client(
        sim, BasicCredentials(USER, PASSWORD), observer=observer, auth_url=url, max_retries=1
    )
    with book.raises(AnaplanError) as info:
        client.list_workspaces()
    assert str(info.value) == (
        f"authenticate: connection to {url}/token/authenticate failed: [Errno 111] Connection refused"
    )
    assert error_reason(info.value) == "connection"
    assert observer.auth_failures == 0
    assert observer.retries == ["connection"]


def test_an_unknown_host_names_the_resolver_error(make_client: ClientFactory, sim: SimulatorHandle) -> None:
    observer = RecordingObserver()
    client = make_client(
        sim,
        BasicCredentials(USER, PASSWORD),
        observer=observer,
        auth_url="http://anaplan-auth.invalid",
        max_retries=0,
    )
    with pytest.raises(AnaplanError) as info:
        client.list_workspaces()
    text = str(info.value)
    assert text.startswith(
        "authenticate: connection to http://anaplan-auth.invalid/token/authenticate failed: "
    )
    assert "[Errno -" in text  # the resolver's error, e.g. "[Errno -2] Name or service not known"
    assert error_reason(info.value) == "connection"
    assert observer.auth_failures == 0


def test_an_auth_service_in_trouble_is_not_an_auth_failure(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook
) -> None:
    observer = RecordingObserver()
    client = make_client(sim, BasicCredentials(USER, PASSWORD), observer=observer, max_retries=1)
    sim.set_faults(error_rate_5xx=1.0, scope="all")
    with book.raises(AnaplanServerError) as info:
        client.list_workspaces()
    assert error_reason(info.value) == "server_error"
    sim.set_faults(error_rate_5xx=None, latency=1.0)
    slow = make_client(
        sim, BasicCredentials(USER, PASSWORD), observer=observer, read_timeout=0.3, max_retries=0
    )
    with book.raises(AnaplanTimeoutError) as timeout:
        slow.list_workspaces()
    assert str(timeout.value).startswith(f"authenticate: no answer from {sim.url}/token/authenticate")
    assert observer.auth_failures == 0


def test_only_a_refusal_counts_as_an_auth_failure(
    sim: SimulatorHandle, make_client: ClientFactory, book: SecretBook
) -> None:
    observer = RecordingObserver()
    client = make_client(sim, BasicCredentials(USER, "wrong-Password-31"), observer=observer)
    book.add("wrong-Password-31")
    with book.raises(AnaplanAuthError) as info:
        client.list_workspaces()
    assert error_reason(info.value) == "auth"
    assert observer.auth_failures == 1
