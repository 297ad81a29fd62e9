"""The shared limiter: requests-per-second on a fake clock, and the concurrency cap across threads."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest

from anaplan_exporter.anaplan.limiter import Limiter

from .fakes import FakeClock


def test_rate_spaces_starts_evenly() -> None:
    clock = FakeClock(100.0)
    limiter = Limiter(4, 5.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        with limiter.slot():
            pass
    # The first start is free, then one every 0.2 s.
    assert clock.sleeps == pytest.approx([0.2, 0.2, 0.2])
    assert clock.now == pytest.approx(100.6)


def test_idle_time_is_not_banked_beyond_the_burst() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(4, 2.0, burst=3, clock=clock, sleep=clock.sleep)
    clock.advance(60)
    for _ in range(5):
        with limiter.slot():
            pass
    # Three back to back (the burst), then one every 0.5 s.
    assert clock.sleeps == pytest.approx([0.5, 0.5])


def test_reservations_from_many_threads_never_exceed_the_rate() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(50, 10.0, clock=clock, sleep=lambda _s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        wait = limiter.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    # Each of the 20 reservations got its own 0.1 s slot: 0.0, 0.1, ... 1.9 (capped look-ahead aside).
    assert sorted(waits) == pytest.approx([i * 0.1 for i in range(20)])


def test_clock_stepping_back_does_not_cause_a_long_sleep() -> None:
    clock = FakeClock(1000.0)
    limiter = Limiter(2, 1.0, clock=clock, sleep=clock.sleep)
    with limiter.slot():
        pass
    clock.now = 0.0  # wall clock set back by a quarter of an hour
    with limiter.slot():
        pass
    assert max(clock.sleeps) <= 2.0


def test_concurrency_cap_blocks_until_a_slot_frees() -> None:
    limiter = Limiter(2, 1000.0, sleep=lambda _s: None)
    entered = threading.Event()

    def third() -> None:
        with limiter.slot():
            entered.set()

    with ExitStack() as stack:
        stack.enter_context(limiter.slot())
        held = stack.enter_context(ExitStack())
        held.enter_context(limiter.slot())
        assert limiter.in_flight == 2
        thread = threading.Thread(target=third)
        thread.start()
        assert not entered.wait(0.2)  # blocked while both slots are held
        held.close()  # release one slot
        assert entered.wait(10)
        thread.join(timeout=10)
    assert limiter.in_flight == 0


def test_slot_is_released_when_the_request_raises() -> None:
    limiter = Limiter(1, 1000.0, sleep=lambda _s: None)
    with pytest.raises(RuntimeError), limiter.slot():
        raise RuntimeError("boom")
    with limiter.slot():  # would block forever if the slot leaked
        assert limiter.in_flight == 1


@pytest.mark.parametrize(("concurrency", "rate", "burst"), [(0, 1.0, 1.0), (1, 0.0, 1.0), (1, 1.0, 0.5)])
def test_bad_settings_are_rejected(concurrency: int, rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        Limiter(concurrency, rate, burst=burst)
