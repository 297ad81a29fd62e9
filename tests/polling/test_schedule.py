"""The order in which work is taken: running tasks, new objects, idle objects oldest first, then the rest."""

from __future__ import annotations

from anaplan_exporter.polling.schedule import Schedule, Urgency


def drain(schedule: Schedule, now: float) -> list[object]:
    taken = []
    while (key := schedule.take(now)) is not None:
        taken.append(key)
    return taken


def test_classes_are_taken_in_order_and_idle_objects_oldest_first() -> None:
    schedule = Schedule(idle_interval=60)
    schedule.put("discovery", Urgency.LOW, 100)
    schedule.put("idle-young", Urgency.IDLE, 150)
    schedule.put("idle-old", Urgency.IDLE, 120)
    schedule.put("new", Urgency.NEW, 190)
    schedule.put("running", Urgency.ACTIVE, 195)
    schedule.put("running-later", Urgency.ACTIVE, 205)
    assert drain(schedule, 200) == ["running", "new", "idle-old", "idle-young", "discovery"]
    assert schedule.next_due() == 205
    assert drain(schedule, 204) == []
    assert drain(schedule, 205) == ["running-later"]
    assert len(schedule) == 0 and schedule.next_due() is None


def test_a_key_is_in_one_class_at_a_time_and_rescheduling_replaces_it() -> None:
    schedule = Schedule(idle_interval=60)
    schedule.put("a", Urgency.IDLE, 100)
    schedule.put("a", Urgency.ACTIVE, 300)  # its task started: the idle entry no longer counts
    assert schedule.urgency("a") is Urgency.ACTIVE
    assert drain(schedule, 200) == []
    assert drain(schedule, 300) == ["a"]
    assert "a" not in schedule  # taken: not handed out again until scheduled again
    schedule.put("b", Urgency.IDLE, 100)
    schedule.remove("b")
    assert drain(schedule, 1000) == []


def test_low_work_waits_for_due_idle_objects_but_never_starves() -> None:
    """Over budget, idle objects are always overdue; discovery still gets its turn, as if it were one."""
    schedule = Schedule(idle_interval=60)
    schedule.put("discovery", Urgency.LOW, 100)
    for i in range(5):
        schedule.put(f"idle-{i}", Urgency.IDLE, 150 + i * 10)  # last polled at 90, 100, ... 130
    assert schedule.take(200) == "idle-0"  # due at 150
    # discovery, due at 100, counts as an idle object due an idle interval later (160): before idle-1.
    assert schedule.take(200) == "discovery"
    assert drain(schedule, 200) == ["idle-1", "idle-2", "idle-3", "idle-4"]


def test_low_work_runs_at_once_when_nothing_else_is_due() -> None:
    schedule = Schedule(idle_interval=60)
    schedule.put("idle", Urgency.IDLE, 500)
    schedule.put("metadata", Urgency.LOW, 100)
    assert schedule.take(100) == "metadata"


def test_a_run_expected_by_its_rhythm_comes_after_new_objects_and_before_the_idle_sweep() -> None:
    schedule = Schedule(idle_interval=60)
    schedule.put("idle-overdue", Urgency.IDLE, 10)
    schedule.put("expected", Urgency.EXPECTED, 195)
    schedule.put("new", Urgency.NEW, 190)
    assert drain(schedule, 194) == ["new", "idle-overdue"]  # not yet expected
    schedule.put("idle-overdue", Urgency.IDLE, 10)
    assert drain(schedule, 200) == ["expected", "idle-overdue"]


def test_an_alarm_moves_an_idle_key_ahead_of_an_overdue_sweep_at_its_time() -> None:
    schedule = Schedule(idle_interval=60)
    for i in range(5):
        schedule.put(f"overdue-{i}", Urgency.IDLE, 100 + i)  # the sweep is behind
    schedule.put("rhythmic", Urgency.IDLE, 400)  # its idle turn would come last
    schedule.promote_at("rhythmic", 300)  # ... but its next run is expected at 300
    assert schedule.next_due() == 100
    assert schedule.take(250) == "overdue-0"  # before the alarm: the sweep goes on, oldest first
    assert schedule.take(300) == "rhythmic"  # at the alarm: ahead of the overdue sweep
    assert drain(schedule, 300) == ["overdue-1", "overdue-2", "overdue-3", "overdue-4"]


def test_an_alarm_never_demotes_and_is_dropped_with_its_key() -> None:
    schedule = Schedule(idle_interval=60)
    schedule.put("running", Urgency.ACTIVE, 500)
    schedule.promote_at("running", 300)  # its run started meanwhile: it stays active, due at 500
    assert schedule.next_due() == 300
    assert drain(schedule, 400) == []
    assert schedule.next_due() == 500
    assert drain(schedule, 500) == ["running"]
    schedule.put("gone", Urgency.IDLE, 900)
    schedule.promote_at("gone", 600)
    schedule.promote_at("gone", 600)  # the same alarm again: one alarm
    schedule.remove("gone")
    assert drain(schedule, 700) == []
    schedule.put("moved", Urgency.IDLE, 900)
    schedule.promote_at("moved", 600)
    schedule.promote_at("moved", 650)  # a new time replaces the old
    assert drain(schedule, 620) == []
    assert drain(schedule, 650) == ["moved"]
