"""The tracker under a scripted Anaplan whose polls fail at random: it never raises, keeps its last good
state through failures, never lowers a counter, counts each failed poll once and each finished run once."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.errors import AnaplanError
from anaplan_exporter.anaplan.models import ObjectType, TaskState
from anaplan_exporter.polling.state import decode_object, encode_object
from anaplan_exporter.polling.tracker import ObjectTracker, error_reason
from anaplan_exporter.snapshot import COMPLETION_RESULTS, ObjectRef, ObjectStatus
from support.scripted_anaplan import ERRORS, POLL_EVERY, T0, Run, ScriptedAnaplan, run_lists

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REF = ObjectRef("W", "Finance", "M", "Planning", ObjectType.PROCESS, "118000000002", "Nightly load")

faults = st.none() | st.sampled_from(range(len(ERRORS)))
plans = st.lists(st.one_of(st.none(), st.none(), faults), min_size=1, max_size=14)


def _now(step: int) -> float:
    return T0 + step * POLL_EVERY + 30.0


def _check_monotonic(before: ObjectStatus, after: ObjectStatus) -> None:
    for result in COMPLETION_RESULTS:
        assert after.completions[result] >= before.completions[result]
    for reason, count in before.errors.items():
        assert after.errors.get(reason, 0) >= count
    pairs = [
        (before.last_success_time, after.last_success_time),
        (before.last_failure_time, after.last_failure_time),
    ]
    for old, new in pairs:
        assert old is None or (new is not None and new >= old)


def _expected_completions(
    runs: list[Run], api_steps: list[int], good: list[bool], retention: int
) -> Counter[str]:
    """The model: runs seen finished at a good poll after the first good one (the baseline), once each."""
    api = ScriptedAnaplan(runs, retention=retention)
    good_steps = [step for step, ok in zip(api_steps, good, strict=True) if ok]
    if not good_steps:
        return Counter()
    api.step = good_steps[0]
    history = {r.task_id for r in api.visible() if r.state(api.step).terminal}
    counted: dict[str, str] = {}
    for step in good_steps[1:]:
        api.step = step
        for run in api.visible():
            if run.task_id not in history and run.state(step).terminal:
                counted.setdefault(run.task_id, run.outcome)
    return Counter(counted.values())


@PROPERTY
@given(run_lists(), plans, st.sampled_from([1, 2, 3, 5, 1000]))
def test_failed_list_polls_keep_the_last_good_state_and_completions_match_the_model(
    runs: list[Run], plan: list[int | None], retention: int
) -> None:
    api = ScriptedAnaplan(runs, retention=retention)
    tracker = ObjectTracker(REF)
    previous = tracker.status(_now(0))
    errors: Counter[str] = Counter()
    good: list[bool] = []
    for step, fault in enumerate(plan):
        api.step = step
        api.list_fault = None if fault is None else ERRORS[fault][0]
        ok = tracker.poll(api, _now(step))
        good.append(ok)
        status = tracker.status(_now(step))
        assert ok is (fault is None) and status.up is ok
        if fault is not None:
            errors[ERRORS[fault][1]] += 1
            assert error_reason(ERRORS[fault][0]) == ERRORS[fault][1]
            assert status.task == previous.task, "a failed poll keeps the newest task"
            assert status.completions == previous.completions
            assert status.steps == previous.steps and status.row_counts == previous.row_counts
            assert (status.last_success_time, status.last_failure_time) == (
                previous.last_success_time,
                previous.last_failure_time,
            )
        else:
            visible = api.visible()
            if visible:
                newest = max(visible, key=lambda r: r.created)
                assert status.task is not None and status.task.task_id == newest.task_id
                assert status.task.state is newest.state(step)
            else:
                assert status.task == previous.task
        assert dict(status.errors) == dict(errors), "one error per failed poll, under its reason"
        _check_monotonic(previous, status)
        previous = status
    expected = _expected_completions(runs, list(range(len(plan))), good, retention)
    assert dict(previous.completions) == {r: expected[r] for r in COMPLETION_RESULTS}


@PROPERTY
@given(run_lists(), st.lists(st.tuples(faults, faults), min_size=1, max_size=14))
def test_failures_in_status_fetches_never_lose_or_double_count_a_run(
    runs: list[Run], plan: list[tuple[int | None, int | None]]
) -> None:
    """A poll may fail half-way (the list read, a status fetch refused): counts stay true all the same."""
    api = ScriptedAnaplan(runs)
    tracker = ObjectTracker(REF)
    previous = tracker.status(_now(0))
    failed = 0
    injected: set[str] = set()
    for step, (list_fault, status_fault) in enumerate(plan):
        api.step = step
        api.list_fault = None if list_fault is None else ERRORS[list_fault][0]
        api.status_fault = None if status_fault is None else ERRORS[status_fault][0]
        ok = tracker.poll(api, _now(step))
        status = tracker.status(_now(step))
        failed += not ok
        injected.update(ERRORS[f][1] for f in (list_fault, status_fault) if f is not None)
        assert ok or list_fault is not None or status_fault is not None
        assert sum(status.errors.values()) == failed, "one error per failed poll"
        assert set(status.errors) <= injected, "failures are counted under the injected error's reason"
        _check_monotonic(previous, status)
        previous = status
    # Every run at most once, and only with its own outcome.
    finished = Counter(r.outcome for r in runs if r.state(len(plan) - 1) is not TaskState.IN_PROGRESS)
    for result in COMPLETION_RESULTS:
        assert previous.completions[result] <= finished[result]
    # Once polls succeed again every run that finished since the baseline is counted.
    api.list_fault = api.status_fault = None
    end = max([r.end for r in runs if r.end < 1000] + [len(plan)])
    for step in (end + 1, end + 2):
        api.step = step
        assert tracker.poll(api, _now(step))
    settled = tracker.status(_now(end + 2))
    for result in COMPLETION_RESULTS:
        assert (
            previous.completions[result]
            <= settled.completions[result]
            <= Counter(r.outcome for r in runs if r.end <= end + 2)[result]
        )


@PROPERTY
@given(
    run_lists(max_runs=6),
    st.lists(st.none() | st.integers(min_value=1, max_value=3), min_size=2, max_size=12),
)
def test_a_briefly_truncated_list_does_not_bring_old_runs_back_as_new_completions(
    runs: list[Run], truncations: list[int | None]
) -> None:
    """If a list once shows only the newest runs, the older ones it left out are still the same runs."""
    truncations[0] = None  # what the first good poll does not see cannot be told from a new run
    api = ScriptedAnaplan(runs)
    tracker = ObjectTracker(REF)
    good: list[bool] = []
    for step, truncate in enumerate(truncations):
        api.step, api.truncate = step, truncate
        good.append(tracker.poll(api, _now(step)))
    expected = _expected_completions(runs, list(range(len(truncations))), good, 1000)
    completions = tracker.status(_now(len(truncations))).completions
    for result in COMPLETION_RESULTS:
        assert completions[result] <= expected[result], (result, dict(completions), dict(expected))


def test_a_finished_run_is_fetched_once_even_across_failures() -> None:
    runs = [Run("A", 0, 2, "failure", T0), Run("B", 3, 4, "success", T0 + 200)]
    api = ScriptedAnaplan(runs)
    tracker = ObjectTracker(REF)
    failing: AnaplanError = ERRORS[1][0]
    for step in range(8):
        api.step = step
        api.list_fault = failing if step in (2, 5) else None
        tracker.poll(api, _now(step))
    # A: running at steps 0 and 1, then once finished (step 3, after the failed step 2), never again.
    # B: running at step 3, once finished at step 4; steps 5 (failed), 6 and 7 fetch nothing.
    assert api.fetched == ["A", "A", "B", "A", "B"]
    assert dict(tracker.status(_now(8)).completions) == {"success": 1, "failure": 1, "cancelled": 0}


@PROPERTY
@given(
    run_lists(),
    st.lists(st.sampled_from(["poll", "poll", "fault", "down", "restart"]), min_size=1, max_size=16),
    st.sampled_from([2, 3, 1000]),
)
def test_restarts_from_the_saved_state_neither_lose_nor_repeat_a_completion(
    runs: list[Run], plan: list[str], retention: int
) -> None:
    """Stopping between any two polls and carrying on from the state file (through its JSON) counts exactly
    what one tracker running all along would: every run seen finished after the first good poll, once."""
    api = ScriptedAnaplan(runs, retention=retention)
    tracker = ObjectTracker(REF)
    good: list[bool] = []
    polled: list[int] = []
    for step, action in enumerate(plan):
        api.step = step
        if action == "down":  # the exporter is not running: nothing is polled
            continue
        if action == "restart":
            saved = tracker.saved_state()
            assert saved.baseline == any(good)
            tracker = ObjectTracker(REF)
            if saved.baseline:
                tracker.restore(decode_object(json.loads(encode_object(saved))), _now(step))
        api.list_fault = ERRORS[1][0] if action == "fault" else None
        good.append(tracker.poll(api, _now(step)))
        polled.append(step)
    expected = _expected_completions(runs, polled, good, retention)
    assert dict(tracker.status(_now(len(plan))).completions) == {r: expected[r] for r in COMPLETION_RESULTS}
