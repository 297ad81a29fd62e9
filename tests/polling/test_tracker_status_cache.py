"""Publishing a snapshot reuses an idle object's status until the object is polled again or renamed."""

from __future__ import annotations

from anaplan_exporter.polling.tracker import ObjectTracker
from support.fake_anaplan import FakeAnaplan, finished, ref, running


def test_idle_status_is_reused_until_the_next_poll() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=200.0)
    first = tracker.status(200.0)
    assert tracker.status(900.0) is first
    api.add("118000000002", finished("B", 300.0, ok=False))
    tracker.poll(api, now=400.0)
    second = tracker.status(400.0)
    assert second is not first
    assert second.task is not None and second.task.task_id == "B"
    assert second.completions["failure"] == 1


def test_rename_and_new_step_names_give_a_new_status() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=200.0)
    first = tracker.status(200.0)
    renamed = tracker.status(200.0, ref(object_name="Renamed"))
    assert renamed is not first and renamed.ref.object_name == "Renamed"
    tracker.step_names = {"112000000007": "Load"}
    assert tracker.status(200.0) is not renamed


def test_running_task_status_is_rebuilt_as_time_passes() -> None:
    api = FakeAnaplan()
    api.add("118000000002", running("R", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=110.0)
    assert tracker.status(110.0).duration_seconds == 10.0
    assert tracker.status(130.0).duration_seconds == 30.0
