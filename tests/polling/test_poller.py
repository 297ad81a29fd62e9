"""Scheduling, discovery and publishing, with an injected clock and an in-memory Anaplan (no sleeps)."""

from __future__ import annotations

from anaplan_exporter.anaplan.errors import AnaplanPermissionError, AnaplanServerError
from anaplan_exporter.anaplan.models import ModelObject, ObjectType, ProcessStep, TaskResult
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, ObjectSelector, TargetConfig
from anaplan_exporter.polling.poller import Poller, active_interval, shard_of
from support.fake_anaplan import MODEL, WS, FakeAnaplan, finished, ref, running


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


POLLING = PollingConfig(
    idle_interval=60, active_interval=5, active_max_interval=60, discovery_interval=600, workers=2
)


def target(**selections: ObjectSelection) -> TargetConfig:
    kinds = {ObjectType(k[:-1] if k != "processes" else "process"): v for k, v in selections.items()}
    return TargetConfig(workspace="Finance", model=MODEL, selections=kinds, expected_every=3600.0)


def ids(*refs: str) -> ObjectSelection:
    return ObjectSelection(all=False, items=tuple(ObjectSelector(r) for r in refs))


def api_with_objects() -> FakeAnaplan:
    api = FakeAnaplan()
    api.objects = {
        ObjectType.PROCESS: [ModelObject("118000000002", "Nightly load", ObjectType.PROCESS)],
        ObjectType.IMPORT: [
            ModelObject("112000000007", "Sales", ObjectType.IMPORT, code="SALES"),
            ModelObject("112000000008", "Orgs", ObjectType.IMPORT),
        ],
        ObjectType.ACTION: [ModelObject("117000000019", "Delete old", ObjectType.ACTION)],
    }
    api.steps = {"118000000002": (ProcessStep("112000000007", "Sales"),)}
    return api


def test_first_tick_discovers_polls_everything_and_becomes_ready() -> None:
    api = api_with_objects()
    api.add("118000000002", finished("P1", 900.0, nested=(TaskResult(True, object_id="112000000007"),)))
    clock = Clock()
    poller = Poller(
        api, [target(processes=ids("Nightly load"), imports=ObjectSelection(all=True))], POLLING, clock=clock
    )
    assert not poller.snapshot.ready
    assert poller.tick()
    snap = poller.snapshot
    assert snap.ready and snap.up
    assert {(o.ref.object_type, o.ref.object_id, o.ref.object_name) for o in snap.objects} == {
        (ObjectType.PROCESS, "118000000002", "Nightly load"),
        (ObjectType.IMPORT, "112000000007", "Sales"),
        (ObjectType.IMPORT, "112000000008", "Orgs"),
    }
    process = next(o for o in snap.objects if o.ref.object_type is ObjectType.PROCESS)
    assert process.ref.workspace_id == WS and process.ref.workspace_name == "Finance"
    assert process.ref.expected_every == 3600.0
    assert [s.step_name for s in process.steps] == ["Sales"]
    assert snap.last_success_time == 1000.0
    assert snap.token_expires_at == api.token_expires_at


def test_idle_objects_wait_for_the_idle_interval_and_active_ones_get_5s_polls() -> None:
    api = api_with_objects()
    api.add("118000000002", running("P1", 990.0))
    api.add("117000000019", finished("D1", 900.0))
    clock = Clock()
    poller = Poller(
        api, [target(processes=ids("118000000002"), actions=ids("117000000019"))], POLLING, clock=clock
    )
    poller.tick()
    assert api.list_calls == 2
    clock.now += 4
    poller.tick()
    assert api.list_calls == 2  # 4 s later: nothing is due, not even the running task
    clock.now += 1
    poller.tick()
    assert api.list_calls == 3  # 5 s: only the active process
    assert poller.next_due() == clock.now + 5
    api.set("118000000002", finished("P1", 990.0))
    clock.now += 5
    poller.tick()
    assert api.list_calls == 4
    clock.now += 30
    poller.tick()
    assert api.list_calls == 4  # both idle now
    clock.now = 1054.0
    poller.tick()
    assert api.list_calls == 4
    clock.now = 1055.0
    poller.tick()
    # The process: on the idle grid of its run (created at 990, looked at 5 s after 990 + 60), not 60 s after
    # the check that saw the run end at 1010 (which would lock the idle poll into phase with the job).
    assert api.list_calls == 5
    clock.now = 1060.0
    poller.tick()
    assert api.list_calls == 6  # the action, idle since its poll at 1000: no global round
    assert poller.next_due() == 1115.0  # the process keeps its grid
    process = next(o for o in poller.snapshot.objects if o.ref.object_id == "118000000002")
    assert process.completions["success"] == 1


def test_active_interval_backs_off_for_long_runs() -> None:
    assert active_interval(POLLING, 10) == 5
    assert active_interval(POLLING, 300) == 30
    assert active_interval(POLLING, 7200) == 60


def test_one_failing_object_does_not_block_others_and_drops_anaplan_up() -> None:
    api = api_with_objects()
    api.add("118000000002", finished("P1", 900.0))
    api.add("117000000019", finished("D1", 900.0))
    api.failing["117000000019"] = AnaplanPermissionError(403, "Forbidden", "list_tasks")
    clock = Clock()
    poller = Poller(
        api, [target(processes=ids("118000000002"), actions=ids("117000000019"))], POLLING, clock=clock
    )
    assert not poller.tick()
    snap = poller.snapshot
    assert not snap.up and snap.ready and snap.last_success_time is None
    by_id = {o.ref.object_id: o for o in snap.objects}
    assert by_id["118000000002"].up and by_id["118000000002"].task is not None
    assert not by_id["117000000019"].up
    assert by_id["117000000019"].errors == {"forbidden": 1}


def test_discovery_failure_keeps_previous_objects_and_names() -> None:
    api = api_with_objects()
    clock = Clock()
    poller = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock)
    poller.tick()
    assert len(poller.snapshot.objects) == 2

    def broken(ws: str, model: str, kind: ObjectType) -> list[ModelObject]:
        raise AnaplanServerError(503, "Service Unavailable", "list_objects")

    api.list_objects = broken  # type: ignore[method-assign,assignment]
    clock.now += 600
    assert not poller.tick()
    assert {o.ref.object_name for o in poller.snapshot.objects} == {"Sales", "Orgs"}


def test_objects_configured_by_id_are_watched_even_when_discovery_fails_at_start() -> None:
    api = api_with_objects()

    def broken() -> list[object]:
        raise AnaplanServerError(500, "Internal Server Error", "list_workspaces")

    api.list_workspaces = broken  # type: ignore[assignment,method-assign]
    api.add("118000000002", finished("P1", 900.0))
    cfg = TargetConfig(WS, MODEL, {ObjectType.PROCESS: ids("118000000002")})
    poller = Poller(api, [cfg], POLLING, clock=Clock())
    assert not poller.tick()  # discovery failed, so anaplan_up is 0 ...
    (only,) = poller.snapshot.objects
    assert only.up and only.ref.object_name == "118000000002"  # ... but the object is still polled


def test_object_no_longer_found_disappears_and_new_one_is_polled_next_round() -> None:
    api = api_with_objects()
    clock = Clock()
    poller = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock)
    poller.tick()
    api.objects[ObjectType.IMPORT] = [ModelObject("112000000009", "New import", ObjectType.IMPORT)]
    clock.now += 600
    poller.tick()
    (only,) = poller.snapshot.objects
    assert only.ref.object_id == "112000000009" and only.up


def test_shards_partition_the_objects() -> None:
    api = api_with_objects()
    selection = {"imports": ObjectSelection(all=True), "processes": ObjectSelection(all=True)}
    seen: list[str] = []
    for shard in range(3):
        poller = Poller(api, [target(**selection)], POLLING, shard=shard, shard_total=3, clock=Clock())
        poller.tick()
        seen.extend(o.ref.object_id for o in poller.snapshot.objects)
        assert all(shard_of(o.ref, 3) == shard for o in poller.snapshot.objects)
    assert sorted(seen) == ["112000000007", "112000000008", "118000000002"]


def test_shard_is_stable_and_depends_only_on_ids() -> None:
    a = ref("118000000002", object_name="one name")
    b = ref("118000000002", object_name="renamed", expected_every=5.0)
    assert shard_of(a, 7) == shard_of(b, 7)
    assert [shard_of(ref(f"1120000000{i:02d}", ObjectType.IMPORT), 4) for i in range(20)] == [
        shard_of(ref(f"1120000000{i:02d}", ObjectType.IMPORT), 4) for i in range(20)
    ]


def test_running_task_is_not_polled_faster_than_5s_even_with_a_short_idle_interval() -> None:
    api = api_with_objects()
    api.add("118000000002", running("P1", 995.0))
    clock = Clock()
    fast = PollingConfig(idle_interval=1, active_interval=5, active_max_interval=60, discovery_interval=600)
    poller = Poller(api, [target(processes=ids("118000000002"))], fast, clock=clock)
    for _ in range(10):
        poller.tick()
        clock.now += 1
    assert api.status_calls == ["P1", "P1"]  # at 1000 and 1005, not every second


def test_configured_id_missing_from_the_model_is_watched_down_as_not_found_on_its_own_series() -> None:
    api = api_with_objects()
    poller = Poller(api, [target(actions=ids("117999999999"))], POLLING, clock=Clock())
    poller.tick()  # Anaplan lists no tasks for unknown IDs: only discovery can tell
    (only,) = poller.snapshot.objects
    assert only.ref.object_id == "117999999999" and not only.up
    assert only.absence is not None and only.absence.value == "not_found"
    assert poller.snapshot.up  # it says so itself: anaplan_up leaves it to its series (test_poller_not_found)
