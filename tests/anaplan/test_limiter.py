"""The shared limiter: requests-per-second on a fake clock, and the concurrency cap across threads."""

from __future__ import annotations

import random
import threading
import time
from contextlib import ExitStack

import pytest

from anaplan_exporter.anaplan.limiter import ARRIVAL_MARGIN, Limiter, LimiterClosed

from .fakes import FakeClock


def test_rate_spaces_starts_evenly() -> None:
    clock = FakeClock(100.0)
    limiter = Limiter(4, 5.0, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        with limiter.slot():
            pass
    # The first start is free, then one every 0.2 s.
    assert clock.sleeps == pytest.approx([0.2, 0.2, 0.2])
    assert clock.now == pytest.approx(100.6)


def test_idle_time_is_not_banked_beyond_the_burst() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(4, 2.0, burst=3, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    clock.advance(60)
    for _ in range(5):
        with limiter.slot():
            pass
    # Three back to back (the burst), then one every 0.5 s.
    assert clock.sleeps == pytest.approx([0.5, 0.5])


def test_reservations_from_many_threads_never_exceed_the_rate() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(50, 10.0, arrival_margin=0.0, clock=clock, sleep=lambda _s: None)
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


@pytest.mark.parametrize("rate", [1.0, 3.0, 10.0, 50.0])
def test_no_second_sees_more_than_the_rate_even_when_requests_arrive_late(rate: float) -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(1, rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(int(rate) * 4):
        with limiter.slot():
            starts.append(clock.now)
    rng = random.Random(7)
    for _ in range(50):
        # Each request reaches Anaplan up to the margin late; count them as the simulator does, in every
        # one-second window (t - 1, t] that ends on an arrival.
        arrivals = sorted(start + rng.uniform(0, ARRIVAL_MARGIN * 0.999) for start in starts)
        peak = max(sum(1 for a in arrivals if t - 1.0 < a <= t) for t in arrivals)
        assert peak <= rate


def test_without_the_margin_a_late_request_puts_one_more_in_a_second() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(1, 10.0, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(11):
        with limiter.slot():
            starts.append(clock.now)
    arrivals = [starts[0] + 0.01, *starts[1:]]  # the first one 10 ms late
    assert sum(1 for a in arrivals if arrivals[-1] - 1.0 < a <= arrivals[-1]) == 11


def test_clock_stepping_back_does_not_cause_a_long_sleep() -> None:
    clock = FakeClock(1000.0)
    limiter = Limiter(2, 1.0, clock=clock, sleep=clock.sleep)
    with limiter.slot():
        pass
    clock.now = 0.0  # wall clock set back by a quarter of an hour
    with limiter.slot():
        pass
    assert max(clock.sleeps) <= 2 * (1.0 + ARRIVAL_MARGIN)  # at most one interval per concurrency slot


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


def test_a_pause_holds_the_next_start_of_every_caller() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(4, 10.0, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    with limiter.slot():
        pass
    limiter.pause(30.0)
    limiter.pause(5.0)  # a shorter pause does not cut a longer one short
    starts = []
    for _ in range(3):
        with limiter.slot():
            starts.append(clock.now)
    assert starts == pytest.approx([30.0, 30.1, 30.2])  # then the usual spacing again
    assert limiter.paused_for() == 0


def test_a_pause_that_begins_while_a_caller_sleeps_holds_it_too() -> None:
    clock = FakeClock(0.0)
    limiter: Limiter

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now < 1.0:
            limiter.pause(20.0)  # another thread got a 429 with Retry-After: 20 meanwhile

    limiter = Limiter(4, 10.0, arrival_margin=0.0, clock=clock, sleep=sleep)
    with limiter.slot():
        pass
    with limiter.slot():  # booked for 0.1, woken into a pause
        started = clock.now
    assert started >= 20.1


def test_a_pause_survives_no_clock_step_beyond_its_length() -> None:
    clock = FakeClock(1000.0)
    limiter = Limiter(1, 10.0, clock=clock, sleep=clock.sleep)
    limiter.pause(10.0)
    clock.now = 0.0  # wall clock set back
    assert limiter.paused_for() == pytest.approx(10.0)


def test_close_wakes_every_waiting_caller_and_refuses_new_ones() -> None:
    limiter = Limiter(2, 1000.0)  # real waits, ended by close()
    limiter.pause(60.0)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wait_for_a_slot() -> None:
        try:
            with limiter.slot():
                pass
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=wait_for_a_slot) for _ in range(5)]  # 2 in the pause, 3 for a slot
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # let them reach their waits (closing earlier would refuse them just the same)
    limiter.close()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert len(errors) == 5 and all(isinstance(error, LimiterClosed) for error in errors)
    assert limiter.in_flight == 0
    with pytest.raises(LimiterClosed), limiter.slot():
        pass


def test_after_close_lets_one_last_request_through_unless_paused() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(1, 1.0, clock=clock, sleep=clock.sleep)
    limiter.close()
    with limiter.slot(after_close=True):
        assert limiter.in_flight == 1
    assert clock.sleeps == []  # its slot was free
    limiter.pause(30.0)
    with pytest.raises(LimiterClosed), limiter.slot(after_close=True):
        pass
    assert clock.sleeps == []  # refused at once during a pause


def test_the_last_request_at_shutdown_keeps_to_the_rate() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(4, 5.0, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(3):  # three requests just started, back to back at 5/s: the next slot is 0.6 s away
        assert limiter.reserve() >= 0
    limiter.close()
    with limiter.slot(after_close=True):  # the logout waits for its slot rather than making a 4th in 0.6 s
        pass
    assert clock.sleeps == pytest.approx([0.6])


def test_the_last_request_at_shutdown_is_given_up_rather_than_wait_long() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(50, 1.0, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):  # the next slot is 5 s away
        limiter.reserve()
    limiter.close()
    with pytest.raises(LimiterClosed), limiter.slot(after_close=True):
        pass
    assert clock.sleeps == []


def test_starts_after_a_pause_keep_their_spacing() -> None:
    clock = FakeClock(0.0)
    limiter = Limiter(4, 10.0, arrival_margin=0.0, clock=clock, sleep=clock.sleep)
    limiter.reserve()
    limiter.pause(1.0)  # Retry-After: 1, longer than the 4 x 0.1 s a booking may run ahead of the clock
    # Four callers book at once, as the poll pool's threads do: one start every 0.1 s from the pause's end,
    # not four at the same instant.
    waits = [limiter.reserve() for _ in range(4)]
    assert waits == pytest.approx([1.0, 1.1, 1.2, 1.3])
