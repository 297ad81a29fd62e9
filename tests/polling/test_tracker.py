"""The per-object state machine: newest task, fetch rules, completions counted exactly once."""

from __future__ import annotations

from anaplan_exporter.anaplan.errors import AnaplanNotFoundError, AnaplanResponseError
from anaplan_exporter.anaplan.models import ImportRowCounts, ObjectType, Task, TaskResult, TaskState
from anaplan_exporter.polling.tracker import ObjectTracker
from support.fake_anaplan import FakeAnaplan, finished, ref, running


def test_history_at_start_is_not_counted_but_sets_last_timestamps() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0, ok=True), finished("B", 200.0, ok=False))
    tracker = ObjectTracker(ref())
    assert tracker.poll(api, now=300.0)
    assert tracker.status(300.0).last_success_time is None  # the first poll reads the newest run only
    assert tracker.poll(api, now=360.0)
    status = tracker.status(360.0)
    assert dict(status.completions) == {"success": 0, "failure": 0, "cancelled": 0}
    assert status.last_failure_time == 200.0
    assert status.last_success_time == 100.0
    assert status.task is not None and status.task.task_id == "B"
    assert status.up


def test_newest_is_chosen_by_creation_time_not_list_order() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("NEW", 500.0), finished("OLD", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=600.0)
    assert tracker.status(600.0).task is not None
    assert tracker.status(600.0).task.task_id == "NEW"  # type: ignore[union-attr]


def test_finished_task_is_never_fetched_again() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=200.0)
    tracker.poll(api, now=260.0)
    tracker.poll(api, now=320.0)
    assert api.status_calls == ["A"]
    assert api.list_calls == 3


def test_running_task_is_fetched_until_it_finishes_and_counted_once() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=150.0)
    api.add("118000000002", running("B", 200.0, progress=0.25))
    tracker.poll(api, now=210.0)
    status = tracker.status(210.0)
    assert tracker.active
    assert status.task is not None and status.task.state is TaskState.IN_PROGRESS
    assert status.duration_seconds == 10.0
    api.set("118000000002", finished("B", 200.0, ok=False, failure_dump_available=True))
    tracker.poll(api, now=240.0)
    tracker.poll(api, now=300.0)
    status = tracker.status(300.0)
    assert dict(status.completions) == {"success": 0, "failure": 1, "cancelled": 0}
    assert status.last_failure_time == 200.0
    assert status.duration_seconds == 40.0  # measured: seen running, then seen finished at 240
    assert not tracker.active
    assert api.status_calls == ["A", "B", "B"]


def test_several_runs_finishing_between_two_polls_are_each_counted() -> None:
    api = FakeAnaplan()
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=10.0)  # nothing ran yet: an empty list is a baseline too
    api.add(
        "118000000002",
        finished("A", 100.0, ok=True),
        finished("B", 200.0, ok=False),
        Task("C", TaskState.CANCELLED, creation_time=250.0),
        finished("D", 300.0, ok=True),
    )
    tracker.poll(api, now=400.0)
    status = tracker.status(400.0)
    assert dict(status.completions) == {"success": 2, "failure": 1, "cancelled": 1}
    assert status.last_success_time == 300.0
    assert status.last_failure_time == 200.0
    tracker.poll(api, now=460.0)
    assert dict(tracker.status(460.0).completions) == {"success": 2, "failure": 1, "cancelled": 1}


def test_task_running_at_start_is_counted_when_it_finishes() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0), running("B", 200.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=210.0)
    api.set("118000000002", finished("B", 200.0, ok=True))
    tracker.poll(api, now=220.0)
    assert tracker.status(220.0).completions["success"] == 1


def test_failure_keeps_last_good_state_and_counts_error() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=150.0)
    api.failing["118000000002"] = AnaplanNotFoundError(404, "Not Found", "list_tasks")
    assert not tracker.poll(api, now=200.0)
    api.failing["118000000002"] = AnaplanResponseError("not JSON", "list_tasks")
    assert not tracker.poll(api, now=250.0)
    status = tracker.status(250.0)
    assert not status.up
    assert status.task is not None and status.task.task_id == "A"
    assert dict(status.errors) == {"not_found": 1, "bad_response": 1}
    del api.failing["118000000002"]
    assert tracker.poll(api, now=300.0)
    assert tracker.status(300.0).up


def test_unexpected_exception_is_contained() -> None:
    class Broken(FakeAnaplan):
        def list_tasks(self, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
            raise ZeroDivisionError("bug")

    tracker = ObjectTracker(ref())
    assert not tracker.poll(Broken(), now=1.0)
    assert tracker.status(1.0).errors == {"other": 1}


def test_failed_status_fetch_of_a_new_completion_is_retried_not_lost() -> None:
    api = FakeAnaplan()
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=1.0)
    api.add("118000000002", finished("A", 100.0, ok=False), finished("B", 200.0))

    original = api.task_status
    calls = {"n": 0}

    def flaky(ws: str, model: str, kind: ObjectType, object_id: str, task_id: str) -> Task:
        calls["n"] += 1
        if task_id == "A" and calls["n"] <= 2:
            raise AnaplanResponseError("malformed", "task_status")
        return original(ws, model, kind, object_id, task_id)

    api.task_status = flaky  # type: ignore[method-assign,assignment]
    assert not tracker.poll(api, now=300.0)
    assert tracker.status(300.0).completions["failure"] == 0
    assert tracker.poll(api, now=360.0)
    assert dict(tracker.status(360.0).completions) == {"success": 1, "failure": 1, "cancelled": 0}


def test_process_steps_are_named_from_metadata_and_kept_while_next_run_is_in_progress() -> None:
    api = FakeAnaplan()
    nested = (
        TaskResult(
            successful=True, object_id="112000000007", duration_seconds=1.112, start_time=1677624625.79
        ),
        TaskResult(
            successful=False, object_id="116000000001", duration_seconds=0.5, failure_dump_available=True
        ),
        TaskResult(successful=True, object_id="112000000007", duration_seconds=2.0),
    )
    api.add("118000000002", finished("A", 100.0, ok=False, nested=nested, duration_seconds=3.612))
    tracker = ObjectTracker(ref(), step_names={"112000000007": "Load sales"})
    tracker.poll(api, now=200.0)
    api.add("118000000002", running("B", 300.0))
    tracker.poll(api, now=305.0)
    status = tracker.status(305.0)
    assert [(s.step_id, s.step_name, s.successful, s.failure_dump_available) for s in status.steps] == [
        ("112000000007", "Load sales", True, False),
        ("116000000001", "116000000001", False, True),
        ("112000000007", "Load sales #2", True, False),
    ]
    assert status.steps[0].duration_seconds == 1.112
    assert status.task is not None and status.task.task_id == "B"
    assert status.duration_seconds == 5.0


def test_import_row_counts_come_from_the_newest_result() -> None:
    api = FakeAnaplan()
    counts = ImportRowCounts(total=95, success=90, ignored=5)
    api.add("112000000009", finished("A", 100.0, row_counts=counts))
    tracker = ObjectTracker(ref("112000000009", ObjectType.IMPORT))
    tracker.poll(api, now=200.0)
    assert tracker.status(200.0).row_counts == counts


def test_duration_of_a_task_finished_before_first_seen_is_unknown_unless_anaplan_gives_it() -> None:
    api = FakeAnaplan()
    api.add("112000000009", finished("A", 100.0))
    tracker = ObjectTracker(ref("112000000009", ObjectType.IMPORT))
    tracker.poll(api, now=5000.0)
    assert tracker.status(5000.0).duration_seconds is None


def test_unknown_state_keeps_being_polled() -> None:
    api = FakeAnaplan()
    api.add("118000000002", Task("A", TaskState.UNKNOWN, raw_state="PAUSED", creation_time=100.0))
    tracker = ObjectTracker(ref())
    tracker.poll(api, now=110.0)
    tracker.poll(api, now=120.0)
    assert api.status_calls == ["A", "A"]
    assert tracker.active


def test_last_poll_time_and_last_error_are_kept_for_the_status_page() -> None:
    api = FakeAnaplan()
    api.add("118000000002", finished("A", 100.0))
    tracker = ObjectTracker(ref())
    assert tracker.status(50.0).last_poll_time is None
    tracker.poll(api, now=200.0)
    assert tracker.status(200.0).last_poll_time == 200.0
    assert tracker.status(200.0).last_error is None
    api.failing["118000000002"] = AnaplanNotFoundError(404, "Object not found", "list_tasks")
    tracker.poll(api, now=260.0)
    error = tracker.status(260.0).last_error
    assert error is not None and (error.reason, error.time) == ("not_found", 260.0)
    assert "Object not found" in error.message
    del api.failing["118000000002"]
    tracker.poll(api, now=320.0)
    status = tracker.status(320.0)
    assert status.up and status.last_poll_time == 320.0
    assert status.last_error is not None and status.last_error.time == 260.0  # kept after recovery
