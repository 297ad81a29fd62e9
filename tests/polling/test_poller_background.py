"""The poller's background thread: no object waits for another, outcomes are published at once, running
tasks are checked on time while the budget is spent on an overdue idle sweep, the first discovery comes
before the CloudWorks integrations' first reads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from anaplan_exporter.anaplan.cloudworks_models import Integration, IntegrationType
from anaplan_exporter.anaplan.limiter import Limiter
from anaplan_exporter.anaplan.models import ModelObject, ObjectType, Task, TaskSummary, Workspace
from anaplan_exporter.config.cloudworks import CloudWorksConfig
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, TargetConfig
from anaplan_exporter.polling.poller import Poller
from support.fake_anaplan import MODEL, WS, FakeAnaplan, finished, running
from support.fake_cloudworks import FakeCloudWorks, integration

FAST = PollingConfig(
    idle_interval=0.2, active_interval=0.2, active_max_interval=0.2, discovery_interval=600, workers=4
)


class ThreadSafeAnaplan(FakeAnaplan):
    """Counts task-list calls per object under a lock; ``gates`` hold an object's list call until set.
    Every call goes through ``budget`` (the real limiter), as the client's requests do."""

    def __init__(self, imports: int, budget: Limiter | None = None) -> None:
        super().__init__()
        self.budget = budget if budget is not None else Limiter(100, 1e6)
        self.objects = {
            ObjectType.IMPORT: [
                ModelObject(f"112{i:09d}", f"import {i}", ObjectType.IMPORT) for i in range(imports)
            ],
        }
        self.gates: dict[str, threading.Event] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

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
        with self._lock:
            self.calls[object_id] = self.calls.get(object_id, 0) + 1
            gate = self.gates.get(object_id)
        if gate is not None:
            gate.wait(30)
        with self.budget.slot(), self._lock:
            return super().list_tasks(workspace_id, model_id, object_type, object_id)

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        with self.budget.slot(), self._lock:
            return super().task_status(workspace_id, model_id, object_type, object_id, task_id)


def every_import() -> list[TargetConfig]:
    return [TargetConfig(WS, MODEL, {ObjectType.IMPORT: ObjectSelection(all=True)})]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_response_that_never_comes_holds_only_its_own_object() -> None:
    api = ThreadSafeAnaplan(imports=3)
    stuck, *others = [o.id for o in api.objects[ObjectType.IMPORT]]
    api.gates[stuck] = threading.Event()
    for object_id in others:
        api.add(object_id, finished(f"T{object_id}", 900.0))
    poller = Poller(api, every_import(), FAST)
    poller.start()
    try:
        # The others are polled again and again, and published, while the first one's answer hangs.
        assert wait_for(lambda: all(api.calls.get(o, 0) >= 5 for o in others))
        assert wait_for(lambda: {s.ref.object_id for s in poller.snapshot.objects} == set(others))
        assert api.calls[stuck] == 1
        assert not poller.snapshot.ready  # every object polled once: not yet
        api.gates[stuck].set()
        assert wait_for(lambda: poller.snapshot.ready and len(poller.snapshot.objects) == 3)
    finally:
        api.gates[stuck].set()
        poller.stop()


def test_a_run_ends_on_the_metrics_within_its_check_interval_while_the_idle_sweep_is_behind() -> None:
    """200 idle objects at 20 requests/s take 10 s to sweep; the running task is still checked every 0.2 s."""
    budget = Limiter(4, 20.0)
    api = ThreadSafeAnaplan(imports=200, budget=budget)
    watched = api.objects[ObjectType.IMPORT][17].id
    api.add(watched, running("RUN", time.time() - 1))
    polling = PollingConfig(
        idle_interval=0.5, active_interval=0.2, active_max_interval=0.2, discovery_interval=600, workers=4
    )
    poller = Poller(api, every_import(), polling, budget=budget)

    def status_of_watched() -> str | None:
        found = [s for s in poller.snapshot.objects if s.ref.object_id == watched]
        return found[0].task.state.value if found and found[0].task is not None else None

    poller.start()
    try:
        assert wait_for(lambda: status_of_watched() == "IN_PROGRESS", timeout=20)
        with api._lock:
            api.set(watched, finished("RUN", time.time() - 1, ok=False))
        ended = time.monotonic()
        assert wait_for(lambda: status_of_watched() == "COMPLETE", timeout=20)
        seen_after = time.monotonic() - ended
        snapshot = poller.snapshot
        polled = sum(api.calls.values())
    finally:
        poller.stop()
    # A round-based poller would show the end only after the whole 10-s sweep; generous bound: 5 s.
    assert seen_after < 5.0, f"the end took {seen_after:.1f}s to show"
    assert polled < 200 + 60, "the sweep may not be finished: the running task did not wait for it"
    assert snapshot.oldest_poll_age_seconds is not None and snapshot.oldest_poll_age_seconds > 0.5
    assert snapshot.budget_used_ratio is not None and snapshot.budget_used_ratio > 0


class Recorded(ThreadSafeAnaplan):
    """Notes discovery's first call and each task list in ``log``."""

    def __init__(self, log: list[str]) -> None:
        super().__init__(imports=5)
        self.log = log

    def list_workspaces(self) -> list[Workspace]:
        self.log.append("discovery")
        return super().list_workspaces()

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
        self.log.append("poll")
        return super().list_tasks(workspace_id, model_id, object_type, object_id)


class RecordedCloudWorks(FakeCloudWorks):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def integration(self, integration_id: str) -> Integration:
        self.log.append("jobs")
        return super().integration(integration_id)


def test_the_first_discovery_goes_before_the_cloudworks_integrations_first_reads() -> None:
    """At the start the lists name many integrations whose jobs (their Anaplan objects) are read once: the
    objects are discovered first, so that a run starting meanwhile finds its object watched and polls it."""
    log: list[str] = []
    cw = RecordedCloudWorks(log)
    for i in range(30):
        cw.add(integration(f"{i:032x}", f"Load {i}", kind=IntegrationType.IMPORT))
    polling = PollingConfig(idle_interval=60, active_interval=5, discovery_interval=600, workers=1)
    poller = Poller(
        Recorded(log), every_import(), polling, cloudworks=cw, cloudworks_config=CloudWorksConfig()
    )
    poller.start()
    try:
        assert wait_for(lambda: log.count("jobs") == 30 and log.count("poll") >= 5)
    finally:
        poller.stop()
    assert log.index("discovery") < log.index("jobs")
    assert log.index("jobs") < log.index("poll")  # the jobs before the objects' first polls
