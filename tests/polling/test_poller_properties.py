"""The tracker and the poller against an Anaplan that answers garbage: parsed documents of any shape and
every typed error, interleaved with good answers. Nothing escapes, no poll is lost or counted twice, and
whatever state results still renders as metrics."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from anaplan_exporter.anaplan.errors import AnaplanError, AnaplanNotFoundError
from anaplan_exporter.anaplan.models import (
    Model,
    ModelObject,
    ObjectType,
    ProcessMetadata,
    ProcessStep,
    Task,
    TaskSummary,
    Workspace,
)
from anaplan_exporter.anaplan.parsing import parse_task_list, parse_task_status
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, ObjectSelector, TargetConfig
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.polling.tracker import ObjectTracker
from anaplan_exporter.serving.metrics import build_families
from anaplan_exporter.snapshot import COMPLETION_RESULTS, ObjectStatus, Snapshot
from support.scripted_anaplan import ERRORS, POLL_EVERY, T0, Run, ScriptedAnaplan, run_lists
from support.strategies import json_values, task_documents

from .test_tracker_properties import REF

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
IDS = ("118000000002", "112000000007")

errors = st.sampled_from([error for error, _ in ERRORS])
# Every typed error but the plain HTTP 400: an "other" poll error can then only be an unforeseen exception.
expected_errors = st.sampled_from([error for error, reason in ERRORS if reason != "other"])
# Good-looking task lists and documents, so that garbage meets a tracker with state worth keeping.
good_lists = st.lists(
    st.fixed_dictionaries(
        {
            "taskId": st.sampled_from(["A", "B", "C", "D"]),
            "taskState": st.sampled_from(["COMPLETE", "IN_PROGRESS", "CANCELLED", "NOT_STARTED", "??"]),
            "creationTime": st.integers(min_value=0, max_value=10**13) | json_values,
        }
    ),
    max_size=4,
).map(lambda tasks: {"tasks": tasks})
list_answers = st.one_of(expected_errors, good_lists, good_lists, json_values)
status_answers = st.one_of(expected_errors, task_documents(), task_documents(), json_values)


class Garbage:
    """Each call answers the next drawn value: an error raised, or a body run through the real parser."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data
        self.raised: list[tuple[str, AnaplanError]] = []
        """Every error raised so far, with the call that raised it."""
        self.listed: set[str] = set()
        """The task IDs of the newest task list answered."""

    def _answer(
        self, call: str, strategy: st.SearchStrategy[object], parse: Callable[[object], object]
    ) -> object:
        answer = self._data.draw(strategy)
        if isinstance(answer, AnaplanError):
            self.raised.append((call, answer))
            raise answer
        try:
            return parse(answer)
        except AnaplanError as exc:
            self.raised.append((call, exc))
            raise

    def list_tasks(
        self,
        workspace_id: str,
        model_id: str,
        object_type: ObjectType,
        object_id: str,
        *,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[TaskSummary]:
        summaries = self._answer("list_tasks", list_answers, lambda body: parse_task_list(body)[0])
        assert isinstance(summaries, list)
        self.listed = {s.task_id for s in summaries}
        return summaries

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        task = self._answer("task_status", status_answers, parse_task_status)
        assert isinstance(task, Task)
        return task


class _Families(Collector):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> list[Metric]:
        return build_families(self._snapshot, "test")


def _render(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(snapshot))
    return generate_latest(registry)


def _check_growth(before: ObjectStatus, after: ObjectStatus) -> None:
    for result in COMPLETION_RESULTS:
        assert after.completions[result] >= before.completions[result]
    for reason, count in before.errors.items():
        assert after.errors.get(reason, 0) >= count


@PROPERTY
@given(st.data(), st.integers(min_value=1, max_value=12))
def test_garbage_never_escapes_a_poll_and_every_failed_poll_is_one_error(
    data: st.DataObject, polls: int
) -> None:
    api = Garbage(data)
    tracker = ObjectTracker(REF, {"112000000007": "Load sales"})
    previous = tracker.status(T0)
    for step in range(polls):
        now = T0 + step * POLL_EVERY
        raised_before, api.listed = len(api.raised), set()
        ok = tracker.poll(api, now)
        status = tracker.status(now)
        raised = api.raised[raised_before:]
        if ok:  # only a 404 for an older run (gone from Anaplan's history meanwhile) is not a failure
            assert all(c == "task_status" and isinstance(e, AnaplanNotFoundError) for c, e in raised), raised
        else:
            assert raised, "a poll fails only when a call failed"
        assert "other" not in status.errors, "an unexpected exception inside the poll"
        assert sum(status.errors.values()) == sum(previous.errors.values()) + (not ok)
        if not ok:
            assert status.task == previous.task, "a failed poll keeps the last good task"
        # A poll counts each listed run at most once; runs counted before a call failed stay counted (and
        # are never counted again), so a failed poll may count some of its list, never more.
        counted = sum(status.completions.values()) - sum(previous.completions.values())
        assert counted <= len(api.listed)
        _check_growth(previous, status)
        assert b"anaplan_target_up" in _render(Snapshot(objects=(status,), ready=True, up=ok))
        previous = status


class ScriptedCatalog(ScriptedAnaplan):
    """A model with one process and one import, each with its own scripted runs; catalog calls may fail."""

    def __init__(self, runs: dict[str, list[Run]]) -> None:
        super().__init__([])
        self.by_object = {object_id: ScriptedAnaplan(r) for object_id, r in runs.items()}
        self.catalog_fault: AnaplanError | None = None
        self.object_faults: dict[str, AnaplanError] = {}
        self.token_expires_at: float | None = None

    def at(self, step: int) -> None:
        for api in self.by_object.values():
            api.step = step

    def _catalog(self) -> None:
        if self.catalog_fault is not None:
            raise self.catalog_fault

    def list_workspaces(self) -> list[Workspace]:
        self._catalog()
        return [Workspace(WS, "Finance")]

    def list_models(self, workspace_id: str) -> list[Model]:
        self._catalog()
        return [Model(MODEL, "Planning", WS)]

    def list_objects(self, workspace_id: str, model_id: str, object_type: ObjectType) -> list[ModelObject]:
        self._catalog()
        return [ModelObject(i, f"name {i}", object_type) for i in IDS if ObjectType.from_id(i) is object_type]

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata:
        self._catalog()
        return ProcessMetadata("Nightly", (ProcessStep("112000000007", "Load sales"),))

    def list_tasks(
        self,
        workspace_id: str,
        model_id: str,
        object_type: ObjectType,
        object_id: str,
        *,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[TaskSummary]:
        if object_id in self.object_faults:
            raise self.object_faults[object_id]
        return self.by_object[object_id].list_tasks(workspace_id, model_id, object_type, object_id)

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        return self.by_object[object_id].task_status(workspace_id, model_id, object_type, object_id, task_id)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@PROPERTY
@given(
    run_lists(),
    run_lists(),
    st.lists(
        st.tuples(st.none() | errors, st.dictionaries(st.sampled_from(IDS), errors, max_size=2)),
        min_size=1,
        max_size=10,
    ),
)
def test_poller_rounds_survive_failures_and_counters_only_grow(
    process_runs: list[Run],
    import_runs: list[Run],
    rounds: list[tuple[AnaplanError | None, dict[str, AnaplanError]]],
) -> None:
    api = ScriptedCatalog(dict(zip(IDS, (process_runs, import_runs), strict=True)))
    selections = {
        ObjectType.PROCESS: ObjectSelection(items=(ObjectSelector(IDS[0]),)),
        ObjectType.IMPORT: ObjectSelection(all=True),
    }
    polling = PollingConfig(
        idle_interval=60, active_interval=5, active_max_interval=60, discovery_interval=60
    )
    clock = Clock()
    poller = Poller(api, [TargetConfig(WS, MODEL, selections)], polling, clock=clock)
    try:
        previous: dict[tuple[str, str, str, str], ObjectStatus] = {}
        for step, (catalog_fault, object_faults) in enumerate(rounds):
            clock.now = T0 + step * POLL_EVERY
            api.at(step)
            api.catalog_fault, api.object_faults = catalog_fault, object_faults
            up = poller.tick()
            snapshot = poller.snapshot
            assert snapshot.ready and up is snapshot.up
            assert up is (catalog_fault is None and not object_faults)
            by_key = {o.ref.key: o for o in snapshot.objects}
            # Configured by ID, the process is watched even when discovery has never worked.
            assert (WS, MODEL, "process", IDS[0]) in by_key
            for key, status in by_key.items():
                failed = key[3] in object_faults
                assert status.up is not failed
                if key in previous:
                    _check_growth(previous[key], status)
                    gained = sum(status.errors.values()) - sum(previous[key].errors.values())
                    assert gained == failed, "each failed poll of an object is one error of that object"
            previous.update(by_key)
            _render(snapshot)
    finally:
        poller.stop()
