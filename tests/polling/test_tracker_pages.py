"""Task lists read newest first, a page at a time, only as far back as a poll needs: one page per look in
steady state, every run that finished since the last look counted once however many pages that takes, and
no old run counted again when a whole list comes later (a server that ignores ``sort``) or after a restart."""

from __future__ import annotations

import json

import pytest

from anaplan_exporter.polling.completion_ledger import FORGET_COUNTED_AFTER
from anaplan_exporter.polling.state import decode_object, encode_object
from anaplan_exporter.polling.tracker import TASK_PAGE, ObjectTracker
from support.fake_anaplan import FakeAnaplan, finished, ref, running

OBJ = "118000000002"
T0 = 1_700_000_000.0
"""A plausible time: the state file drops impossible ones (before 2000) when it is read."""


def _history(api: FakeAnaplan, runs: int) -> None:
    """``runs`` finished runs a minute apart, successes and failures in turn (the look back ends fast)."""
    api.add(OBJ, *(finished(f"R{i:05d}", T0 + 60.0 * i, ok=i % 2 == 0) for i in range(runs)))


def _add_new(api: FakeAnaplan, count: int, after: float, prefix: str = "N") -> None:
    api.add(OBJ, *(finished(f"{prefix}{i:03d}", after + 10.0 * (i + 1), ok=i % 3 != 0) for i in range(count)))


def _pages(tracker: ObjectTracker, api: FakeAnaplan, now: float) -> int:
    """One successful poll; returns how many task-list pages it read."""
    before = api.pages_read
    assert tracker.poll(api, now)
    return api.pages_read - before


def _total(tracker: ObjectTracker, now: float) -> int:
    return sum(tracker.status(now).completions.values())


def test_a_look_at_an_object_with_ten_thousand_runs_reads_one_page() -> None:
    api = FakeAnaplan(paged=True)
    _history(api, 10_000)
    tracker = ObjectTracker(ref())
    now = T0 + 10_000 * 60.0
    assert TASK_PAGE == 50
    assert [_pages(tracker, api, now + 60.0 * n) for n in range(5)] == [1, 1, 1, 1, 1]
    _add_new(api, 1, now)
    assert _pages(tracker, api, now + 600.0) == 1
    assert _total(tracker, now + 600.0) == 1


def test_more_runs_finished_since_the_last_look_than_fit_on_a_page_are_each_counted_once() -> None:
    api = FakeAnaplan(paged=True)
    _history(api, 100)
    tracker = ObjectTracker(ref())
    now = T0 + 100 * 60.0
    assert _pages(tracker, api, now) == 1
    _add_new(api, 130, now)  # 130 new runs: two pages and a half, back to the newest run of the last look
    assert _pages(tracker, api, now + 3_600.0) == 3
    pages = [_pages(tracker, api, now + 3_600.0 + 60.0 * n) for n in range(1, 10)]
    assert pages == [1] * 9  # the backlog is fetched by ID: the list itself is one page again
    status = tracker.status(now + 7_200.0)
    assert dict(status.completions) == {"success": 86, "failure": 44, "cancelled": 0}
    assert sorted(api.status_calls).count("N000") == 1  # each new run's status read once
    api.paged = False  # the server starts ignoring sort: whole lists from now on
    assert _pages(tracker, api, now + 7_260.0) == 1
    assert tracker.status(now + 7_260.0).completions == status.completions


def test_a_whole_list_after_pages_of_the_newest_counts_no_old_run_again() -> None:
    """The tracker forgets counted runs that left its lists a day ago; below its floor they stay settled."""
    api = FakeAnaplan(paged=True)
    _history(api, 10_000)
    tracker = ObjectTracker(ref())
    now = T0 + 10_000 * 60.0
    _pages(tracker, api, now)
    _add_new(api, 60, now)
    assert _pages(tracker, api, now + 900.0) == 2
    for n in range(1, 6):
        tracker.poll(api, now + 900.0 + 60.0 * n)
    assert _total(tracker, now) == 60
    later = now + FORGET_COUNTED_AFTER + 3_600.0
    tracker.poll(api, later)
    assert len(tracker.saved_state().counted) <= TASK_PAGE  # the others were forgotten
    api.paged = False
    assert _pages(tracker, api, later + 60.0) == 3  # every page of 5,000, the old way
    assert _total(tracker, later + 60.0) == 60
    _add_new(api, 1, later, prefix="M")
    tracker.poll(api, later + 120.0)
    assert _total(tracker, later + 120.0) == 61


def test_a_restart_from_the_state_file_counts_what_finished_meanwhile_once() -> None:
    api = FakeAnaplan(paged=True)
    _history(api, 10_000)
    tracker = ObjectTracker(ref())
    now = T0 + 10_000 * 60.0
    for n in range(3):
        tracker.poll(api, now + 60.0 * n)
    saved = decode_object(json.loads(encode_object(tracker.saved_state())))
    assert saved.floor == T0 + 60.0 * 9_950  # the oldest run of the newest page: below it all is settled
    _add_new(api, 70, now + 600.0)
    restarted = ObjectTracker(ref())
    restarted.restore(saved, now + 3_600.0)
    assert _pages(restarted, api, now + 3_600.0) == 3  # back to the floor, once
    for n in range(1, 6):
        assert _pages(restarted, api, now + 3_600.0 + 60.0 * n) == 1
    assert _total(restarted, now + 4_000.0) == 70
    api.paged = False
    restarted.poll(api, now + 4_100.0)
    assert _total(restarted, now + 4_100.0) == 70


def test_a_state_file_without_a_floor_is_not_the_current_format() -> None:
    api = FakeAnaplan(paged=True)
    _history(api, 100)
    tracker = ObjectTracker(ref())
    tracker.poll(api, T0 + 100 * 60.0)
    entry = json.loads(encode_object(tracker.saved_state()))
    del entry["floor"]
    with pytest.raises(ValueError, match="'floor' is missing"):
        decode_object(entry)


def test_an_unfinished_run_is_read_back_to_until_it_finishes_behind_a_page_of_newer_runs() -> None:
    api = FakeAnaplan(paged=True)
    _history(api, 100)
    now = T0 + 100 * 60.0
    api.add(OBJ, running("U", now))
    tracker = ObjectTracker(ref())
    _pages(tracker, api, now + 10.0)
    _add_new(api, 60, now + 10.0)  # queued behind U and finished, while U still runs
    assert _pages(tracker, api, now + 1_000.0) == 2  # back to U
    api.set(OBJ, finished("U", now, ok=False))
    assert _pages(tracker, api, now + 1_060.0) == 2  # U finished: listed, counted
    for n in range(2, 6):
        tracker.poll(api, now + 1_000.0 + 60.0 * n)
    assert _pages(tracker, api, now + 1_600.0) == 1  # nothing unfinished: one page again
    assert _total(tracker, now + 1_600.0) == 61
    assert tracker.status(now + 1_600.0).completions["failure"] == 1 + 20
