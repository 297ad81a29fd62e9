"""Basic auth under floods: outcome caches, the per-address failure budget, bounded bcrypt checks, and the
warn line counting what was refused. Clocks are injected; bcrypt is counted (or held) where it matters."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterator

import bcrypt
import pytest
from prometheus_client import CollectorRegistry

from anaplan_exporter.serving.web_auth import (
    BasicAuth,
    FailureBudget,
    RecentSet,
    Verdict,
    authorization_header,
)
from anaplan_exporter.serving.web_refusals import Refusals


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD = _basic("prometheus", "scrape-me")


@pytest.fixture(scope="module")
def users() -> dict[str, str]:
    return {"prometheus": bcrypt.hashpw(b"scrape-me", bcrypt.gensalt(rounds=4)).decode()}


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    calls: list[bytes] = []
    real_checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    yield calls


# --- RecentSet ---


def test_recent_set_forgets_the_least_recently_seen_key() -> None:
    keys = RecentSet(3)
    for key in (b"a", b"b", b"c"):
        keys.add(key)
    assert b"a" in keys  # seen again: now the most recent
    keys.add(b"d")
    assert b"b" not in keys
    assert all(key in keys for key in (b"a", b"c", b"d"))
    for index in range(1000):
        keys.add(str(index).encode())
    assert len(keys) == 3


# --- FailureBudget ---


def test_budget_blocks_after_limit_failures_and_refills_evenly() -> None:
    clock = Clock()
    budget = FailureBudget(limit=3, window=30.0, clock=clock)
    for _ in range(2):
        budget.failed("10.0.0.1")
    assert not budget.blocked("10.0.0.1")
    budget.failed("10.0.0.1")
    assert budget.blocked("10.0.0.1")
    assert budget.retry_after("10.0.0.1") == pytest.approx(10.0)
    assert not budget.blocked("10.0.0.2")  # per address
    clock.now += 9.9
    assert budget.blocked("10.0.0.1")
    clock.now += 0.1  # window / limit: one more try
    assert not budget.blocked("10.0.0.1") and budget.retry_after("10.0.0.1") == 0
    budget.failed("10.0.0.1")
    assert budget.blocked("10.0.0.1")
    clock.now += 30.0
    for _ in range(2):
        budget.failed("10.0.0.1")
    assert not budget.blocked("10.0.0.1")  # the full budget is back after a quiet window


def test_budget_level_is_capped_so_a_long_flood_does_not_block_for_ever() -> None:
    clock = Clock()
    budget = FailureBudget(limit=2, window=10.0, clock=clock)
    for _ in range(10_000):
        budget.failed("10.0.0.1")
    assert budget.retry_after("10.0.0.1") == pytest.approx(5.0)


def test_budget_tracks_a_bounded_number_of_addresses() -> None:
    clock = Clock()
    budget = FailureBudget(limit=1, window=60.0, max_clients=100, clock=clock)
    for index in range(10_000):
        budget.failed(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
    assert len(budget) == 100
    assert budget.blocked("10.0.39.15")  # the most recent stay
    assert not budget.blocked("10.0.0.0")  # the oldest are forgotten


# --- BasicAuth ---


def test_each_outcome_costs_one_bcrypt_check(users: dict[str, str], bcrypt_calls: list[bytes]) -> None:
    auth = BasicAuth(users)
    assert [auth.check(GOOD, "10.0.0.1") for _ in range(3)] == [Verdict.ALLOWED] * 3
    assert len(bcrypt_calls) == 1
    wrong = _basic("prometheus", "nope")
    assert [auth.check(wrong, "10.0.0.2") for _ in range(3)] == [Verdict.DENIED] * 3
    assert len(bcrypt_calls) == 2
    nobody = _basic("nobody", "scrape-me")  # an unknown user costs a (decoy) check too, then is remembered
    assert [auth.check(nobody, "10.0.0.3") for _ in range(2)] == [Verdict.DENIED] * 2
    assert len(bcrypt_calls) == 3
    assert auth.known_good(GOOD) and not auth.known_good(wrong) and not auth.known_good(None)
    assert "scrape-me" not in repr(auth)


def test_missing_or_malformed_credentials_are_denied_without_a_check(
    users: dict[str, str], bcrypt_calls: list[bytes]
) -> None:
    auth = BasicAuth(users, budget=FailureBudget(limit=1, clock=Clock()))
    for header in (None, "", "Bearer x", "Basic not-base64!!", "Basic " + base64.b64encode(b"x").decode()):
        assert auth.check(header, "10.0.0.1") is Verdict.DENIED
    assert bcrypt_calls == []
    assert auth.check(GOOD, "10.0.0.1") is Verdict.ALLOWED  # a browser's first request is not a failure


def test_a_guessing_address_is_limited_without_bcrypt_and_known_good_credentials_still_pass(
    users: dict[str, str], bcrypt_calls: list[bytes]
) -> None:
    clock = Clock()
    refusals = Refusals(clock=clock)
    auth = BasicAuth(users, budget=FailureBudget(limit=3, window=30.0, clock=clock), refusals=refusals)
    assert auth.check(GOOD, "10.0.0.1") is Verdict.ALLOWED
    verdicts = [auth.check(_basic("prometheus", f"guess-{index}"), "10.0.0.1") for index in range(100)]
    assert verdicts == [Verdict.DENIED] * 3 + [Verdict.LIMITED] * 97
    assert len(bcrypt_calls) == 4
    assert auth.retry_after("10.0.0.1") == 10
    assert auth.check(GOOD, "10.0.0.1") is Verdict.ALLOWED  # verified before: no limit, no bcrypt
    # The right password, never verified yet, from the guessing address: limited too (it cannot be told
    # apart without bcrypt); from another address it is checked.
    other = BasicAuth(users, budget=FailureBudget(limit=1, clock=clock))
    assert other.check(_basic("prometheus", "nope"), "10.0.0.1") is Verdict.DENIED
    assert other.check(GOOD, "10.0.0.1") is Verdict.LIMITED
    assert other.check(GOOD, "10.0.0.9") is Verdict.ALLOWED
    clock.now += 10.0
    assert auth.check(_basic("prometheus", "later"), "10.0.0.1") is Verdict.DENIED  # one more try
    assert len(bcrypt_calls) == 7


def test_bcrypt_checks_run_a_few_at_a_time(users: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    entered, release = threading.Event(), threading.Event()
    real_checkpw = bcrypt.checkpw

    def held(password: bytes, hashed: bytes) -> bool:
        entered.set()
        release.wait(10)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", held)
    refusals = Refusals()
    auth = BasicAuth(users, refusals=refusals, max_checks=1, check_wait=0.01)
    first: list[Verdict] = []
    holder = threading.Thread(target=lambda: first.append(auth.check(GOOD, "10.0.0.1")))
    holder.start()
    try:
        assert entered.wait(10)
        assert auth.check(_basic("prometheus", "other"), "10.0.0.2") is Verdict.BUSY
    finally:
        release.set()
        holder.join(10)
    assert first == [Verdict.ALLOWED]
    assert auth.check(_basic("prometheus", "other"), "10.0.0.2") is Verdict.DENIED


def test_a_flood_of_distinct_passwords_from_many_addresses_keeps_bounded_memory(
    users: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []

    def refuse(password: bytes, hashed: bytes) -> bool:
        calls.append(password)
        return False

    monkeypatch.setattr(bcrypt, "checkpw", refuse)
    budget = FailureBudget(limit=1_000, clock=Clock())
    auth = BasicAuth(users, budget=budget)
    for index in range(20_000):
        address = f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"
        assert auth.check(_basic("prometheus", f"guess-{index}"), address) is Verdict.DENIED
    assert len(budget) == 4096 and len(calls) == 20_000
    assert auth.check(_basic("prometheus", "guess-19999"), "10.9.0.1") is Verdict.DENIED
    assert len(calls) == 20_000  # the latest refusals are remembered...
    assert auth.check(_basic("prometheus", "guess-0"), "10.9.0.1") is Verdict.DENIED
    assert len(calls) == 20_001  # ...the oldest forgotten: the cache is bounded


# --- the request header, as the acceptor sees it ---


def test_authorization_header_from_raw_request_bytes() -> None:
    head = (
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nauthorization:  Basic abc \r\nAuthorization: Basic def\r\n\r\n"
    )
    assert authorization_header(head) == "Basic abc"
    assert authorization_header(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nAuthorization: Basic abc\r\n") is None
    assert authorization_header(b"GET / HTTP/1.1\nX-Authorization: no\n\n") is None
    assert authorization_header(b"") is None


# --- Refusals ---


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.name == "anaplan_exporter.serving.web_refusals"]
    caplog.clear()
    return lines


def test_refusals_are_logged_at_warn_once_a_minute_with_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    clock = Clock()
    registry = CollectorRegistry()
    refusals = Refusals(registry, clock=clock)
    refusals.report()
    assert _lines(caplog) == []  # nothing refused, nothing said
    for _ in range(3):
        refusals.count("bad_credentials")
    refusals.count("busy")
    clock.now += 4.9
    refusals.report()
    assert _lines(caplog) == []  # gathering counts for a few seconds first
    refusals.count("rate_limited")
    clock.now += 0.1
    refusals.report()
    assert _lines(caplog) == [
        "web: refused 3 requests with wrong basic-auth credentials (401), 1 from addresses with too many of "
        "those recently (429), 1 for lack of a free handler or password check (503), in the last 5 s"
    ]
    for _ in range(7):
        refusals.count("rate_limited")
    clock.now += 59.0
    refusals.report()
    assert _lines(caplog) == []  # once a minute at most
    clock.now += 1.0
    refusals.report()
    (line,) = _lines(caplog)
    assert "refused 0 requests with wrong basic-auth credentials (401), 7 from addresses" in line
    clock.now += 3600.0
    refusals.report()
    assert _lines(caplog) == []  # quiet again
    values = {
        sample.labels["reason"]: sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "anaplan_exporter_web_requests_refused_total"
    }
    assert values == {"bad_credentials": 3.0, "rate_limited": 8.0, "busy": 1.0}


def test_refusal_lines_are_at_warn_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    refusals = Refusals(clock=clock)
    refusals.count("busy")
    clock.now += 5.0
    refusals.report()
    assert [r.levelno for r in caplog.records if r.name == "anaplan_exporter.serving.web_refusals"] == [
        logging.WARNING
    ]
    with pytest.raises(ValueError):
        refusals.count("other")
