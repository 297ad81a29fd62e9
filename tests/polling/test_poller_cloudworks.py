"""CloudWorks in the poller: selection, access (403 in auto and true), reloads, counting each run once (also
across a restart), schedules, the linked Anaplan object polled at once, flow steps and run errors; with
sharding, a replica other than 0 polls its own linked objects at once too, and exports nothing of CloudWorks.

An injected clock, an in-memory Anaplan and CloudWorks (``support.fake_cloudworks``); no sleeps, no HTTP.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from anaplan_exporter.anaplan.cloudworks_models import (
    Flow,
    Integration,
    IntegrationJob,
    IntegrationType,
    RunError,
)
from anaplan_exporter.anaplan.errors import AnaplanConnectionError
from anaplan_exporter.anaplan.models import ModelObject, ObjectType, ResultDetail
from anaplan_exporter.anaplan.redact import Redactor
from anaplan_exporter.config.cloudworks import CloudWorksConfig, CloudWorksMode, CloudWorksSelection
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, ObjectSelector, TargetConfig
from anaplan_exporter.polling.cloudworks import CloudWorksWatch, ListsResult
from anaplan_exporter.polling.poller import Poller, shard_of
from anaplan_exporter.polling.state import StateStore
from anaplan_exporter.serving.cloudworks_metrics import cloudworks_families
from anaplan_exporter.snapshot import CloudWorksStatus, ObjectRef, Snapshot
from support.fake_anaplan import MODEL, WS, FakeAnaplan, finished, running
from support.fake_cloudworks import FakeCloudWorks, daily, done, going, integration, step

T = 1_780_000_000.0  # 2026-05-28T20:26:40Z
PROCESS = "118000000002"
POLLING = PollingConfig(idle_interval=60, active_interval=5, discovery_interval=600, workers=2)
ALL = CloudWorksConfig()
SALES, ORGS = "a" * 32, "b" * 32
FLOW_ID = "f" * 32


class Clock:
    def __init__(self, now: float = T) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def anaplan() -> FakeAnaplan:
    api = FakeAnaplan()
    api.objects = {ObjectType.PROCESS: [ModelObject(PROCESS, "Nightly load", ObjectType.PROCESS)]}
    return api


def target() -> TargetConfig:
    selection = ObjectSelection(items=(ObjectSelector(PROCESS),))
    return TargetConfig(workspace="Finance", model=MODEL, selections={ObjectType.PROCESS: selection})


def cloudworks() -> FakeCloudWorks:
    cw = FakeCloudWorks()
    cw.add(integration(SALES, "Load sales", process_id=PROCESS, run=done(T - 3600, T - 3500)))
    cw.add(integration(ORGS, "Load orgs", run=done(T - 7200, T - 7100, ok=False)))
    return cw


def poller(
    cw: FakeCloudWorks,
    clock: Clock,
    config: CloudWorksConfig = ALL,
    api: FakeAnaplan | None = None,
    state: StateStore | None = None,
) -> Poller:
    return Poller(
        api or anaplan(),
        [target()],
        POLLING,
        clock=clock,
        cloudworks=cw,
        cloudworks_config=config,
        scrub=Redactor().scrub,
        state=state,
    )


def item(snap: Snapshot, item_id: str) -> CloudWorksStatus:
    return next(i for i in snap.cloudworks.items if i.id == item_id)


def names(snap: Snapshot) -> set[str]:
    return {i.name for i in snap.cloudworks.items}


# -- selection ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("integrations", "expected"),
    [
        (CloudWorksSelection(all=True), {"Load sales", "Load orgs"}),
        (CloudWorksSelection(items=("load SALES",)), {"Load sales"}),  # a name, whatever its case
        (CloudWorksSelection(items=(ORGS.upper(),)), {"Load orgs"}),  # an ID
        (CloudWorksSelection(targets=True), {"Load sales"}),  # in a model of targets:
        (CloudWorksSelection(), set()),
    ],
)
def test_integrations_are_chosen_by_name_id_star_or_the_target_models(
    integrations: CloudWorksSelection, expected: set[str]
) -> None:
    cw = cloudworks()
    cw.integrations[ORGS] = replace(cw.integrations[ORGS], model_id="F" * 32)  # a model not in targets:
    config = CloudWorksConfig(integrations=integrations, flows=CloudWorksSelection())
    p = poller(cw, Clock(), config)
    p.tick()
    assert names(p.snapshot) == expected
    assert p.snapshot.cloudworks.enabled == bool(expected)  # nothing selected: CloudWorks is not asked


def test_a_name_that_matches_nothing_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    config = CloudWorksConfig(integrations=CloudWorksSelection(items=("Load sales", "Nope")))
    p = poller(cloudworks(), Clock(), config)
    with caplog.at_level(logging.WARNING):
        p.tick()
    assert p.snapshot.cloudworks.unmatched == ("Nope",)
    assert "no integration or flow matches 'Nope'" in caplog.text


# -- access -------------------------------------------------------------------------------------------------


def test_a_403_in_auto_mode_is_one_line_a_metric_and_the_integration_api_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cw = cloudworks()
    cw.forbid()
    api = anaplan()
    api.add(PROCESS, finished("P1", T - 100))
    clock = Clock()
    p = poller(cw, clock, api=api)
    with caplog.at_level(logging.WARNING):
        assert p.tick()  # anaplan_up: the Integration API side is fine
        clock.now += 5.0
        p.tick()
    view = p.snapshot.cloudworks
    assert view.forbidden and not view.enabled and not view.up
    assert "carrying on with the Integration API alone" in view.forbidden_message
    assert caplog.text.count("CloudWorks answers 403") == 1
    assert [o.ref.object_id for o in p.snapshot.objects] == [PROCESS]
    assert cw.calls == {"integrations": 1}  # not asked again 5 s later, but after the discovery interval
    clock.now += 600.0
    cw.failing = None  # the role is granted
    p.tick()
    assert p.snapshot.cloudworks.enabled and not p.snapshot.cloudworks.forbidden
    assert names(p.snapshot) == {"Load sales", "Load orgs"}


def test_a_403_when_cloudworks_is_required_keeps_the_exporter_down(caplog: pytest.LogCaptureFixture) -> None:
    cw = cloudworks()
    cw.forbid()
    p = poller(cw, Clock(), CloudWorksConfig(mode=CloudWorksMode.ON))
    with caplog.at_level(logging.ERROR):
        assert not p.tick()
    view = p.snapshot.cloudworks
    assert view.enabled and view.forbidden and not view.up and view.required
    assert "cloudworks.enabled is true" in caplog.text
    assert view.errors == {"forbidden": 1}


def test_cloudworks_off_is_never_asked() -> None:
    cw = cloudworks()
    p = poller(cw, Clock(), CloudWorksConfig(mode=CloudWorksMode.OFF))
    assert p.tick()
    assert cw.calls == {} and not p.snapshot.cloudworks.enabled


def test_failed_reads_after_a_good_one_count_and_keep_the_last_good_values() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    assert p.tick()
    cw.failing = AnaplanConnectionError("connection refused", "cloudworks_integrations")
    clock.now += 5.0
    assert not p.tick()  # auto, readable once: failing reads count against anaplan_up
    view = p.snapshot.cloudworks
    assert view.enabled and not view.up and view.errors == {"connection": 1}
    assert names(p.snapshot) == {"Load sales", "Load orgs"}
    cw.forbid()  # the role withdrawn: reported, but the Integration API side is up
    clock.now += 5.0
    assert p.tick()
    assert p.snapshot.cloudworks.forbidden and p.snapshot.cloudworks.enabled


def test_a_reload_changes_the_selection_and_can_switch_cloudworks_off() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    p.reconfigure([target()], CloudWorksConfig(integrations=CloudWorksSelection(items=("Load orgs",))))
    p.tick()  # read again at once, not after the list interval
    assert names(p.snapshot) == {"Load orgs"}
    p.reconfigure([target()], CloudWorksConfig(mode=CloudWorksMode.OFF))
    calls = dict(cw.calls)
    clock.now += 60.0
    p.tick()
    assert not p.snapshot.cloudworks.enabled and cw.calls == calls


# -- runs ---------------------------------------------------------------------------------------------------


def test_the_first_look_counts_nothing_then_each_run_is_counted_once() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    sales = item(p.snapshot, SALES)
    assert dict(sales.completions) == {"success": 0, "partial": 0, "failure": 0, "cancelled": 0}
    assert sales.last_success_time == T - 3500  # history: remembered, not counted
    assert item(p.snapshot, ORGS).last_failure_time == T - 7100
    cw.run(SALES, going(T + 1))
    clock.now = T + 5
    p.tick()
    assert item(p.snapshot, SALES).latest_result == "running"
    cw.run(SALES, done(T + 1, T + 7, ok=False, execution_error_code=12))
    for _ in range(3):  # seen finished on three reads: counted once
        clock.now += 5
        p.tick()
    sales = item(p.snapshot, SALES)
    assert sales.completions["failure"] == 1 and sum(sales.completions.values()) == 1
    assert sales.last_failure_time == T + 7 and sales.last_end_time == T + 7
    assert sales.run_id == f"run-{SALES}-{T + 1:.0f}"


def test_runs_that_ended_unseen_are_counted_from_the_history() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    cw.run(SALES, going(T + 1))
    clock.now = T + 5
    p.tick()
    cw.run(SALES, done(T + 1, T + 30, ok=True))  # ended between two reads of the list ...
    cw.run(SALES, going(T + 40))  # ... and the next one began
    clock.now = T + 45
    p.tick()
    assert item(p.snapshot, SALES).completions["success"] == 1


def test_a_run_listed_as_running_counts_when_the_list_shows_how_it_ended() -> None:
    """The history read for a new run's ID may find it ended already: it is counted when the list says so,
    with the latest run's result, never while the exported latest run still shows it running (a failure
    would page without its message)."""
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    cw.run(SALES, going(T + 1))
    cw.run(SALES, done(T + 1, T + 3, ok=False), listed=False)  # ended before its history is read
    clock.now = T + 5
    p.tick()
    sales = item(p.snapshot, SALES)
    assert cw.calls["history"] >= 1 and sales.run_id == f"run-{SALES}-{T + 1:.0f}"
    assert sales.latest_result == "running" and sales.completions["failure"] == 0
    cw.run(SALES, done(T + 1, T + 3, ok=False))  # the list catches up
    clock.now = T + 10
    p.tick()
    sales = item(p.snapshot, SALES)
    assert sales.latest_result == "failure" and sales.completions["failure"] == 1
    assert sum(sales.completions.values()) == 1 and sales.last_failure_time == T + 3


def test_a_failed_run_has_its_errors_read_once_scrubbed_of_sas_signatures() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    assert (
        cw.calls["runerror"] == 1
    )  # Load orgs' latest run failed before the start: its errors are shown too
    run_id = f"run-{SALES}-{T + 1:.0f}"
    text = "Blob https://x.blob.core.windows.net/in/sales.csv?sv=2022&sig=SECRETSIG%2B%3D not found"
    cw.errors[run_id] = [
        RunError(action_id="112000000007", action_name="Sales", messages=(ResultDetail(message=text),))
    ]
    cw.run(SALES, done(T + 1, T + 4, ok=False))
    clock.now = T + 5
    p.tick()
    for _ in range(3):
        clock.now += 5
        p.tick()
    sales = item(p.snapshot, SALES)
    assert cw.calls["runerror"] == 2
    assert sales.run_errors_start == T + 1
    (error,) = sales.run_errors
    assert "SECRETSIG" not in error.message and "sig=***" in error.message
    assert error.action_name == "Sales"


def test_a_partial_success_has_its_errors_read_once_too_and_a_success_none() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    before = cw.calls["runerror"]
    run_id = f"run-{SALES}-{T + 1:.0f}"
    rows = "Sales: 8 (of 120) rows failed to load"
    cw.errors[run_id] = [RunError(action_id="112000000007", messages=(ResultDetail(message=rows),))]
    partial = replace(done(T + 1, T + 4, execution_error_code=38), message="100 rows loaded, 8 failed")
    cw.run(SALES, partial)
    for _ in range(4):
        clock.now += 5
        p.tick()
    sales = item(p.snapshot, SALES)
    assert sales.latest_result == "partial"
    assert cw.calls["runerror"] == before + 1
    assert sales.run_errors_start == T + 1 and [e.message for e in sales.run_errors] == [rows]
    cw.run(SALES, done(T + 30, T + 32))  # a success: no run-error read
    for _ in range(4):
        clock.now += 5
        p.tick()
    assert cw.calls["runerror"] == before + 1
    assert item(p.snapshot, SALES).latest_result == "success"


def test_each_run_is_counted_once_across_a_restart_with_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    cw = cloudworks()
    clock = Clock()
    store = StateStore(path, clock=clock)
    p = poller(cw, clock, state=store)
    p.tick()
    cw.run(SALES, done(T + 10, T + 20, ok=False))
    clock.now = T + 25
    p.tick()
    assert item(p.snapshot, SALES).completions["failure"] == 1
    p.stop()  # the last word at shutdown

    # While the exporter is down, two more runs end.
    cw.run(SALES, done(T + 100, T + 110, ok=True))
    cw.run(SALES, done(T + 200, T + 210, ok=False))
    clock.now = T + 300
    store = StateStore(path, clock=clock)
    store.load()
    p = poller(cw, clock, state=store)
    p.tick()
    sales = item(p.snapshot, SALES)
    assert dict(sales.completions) == {"success": 1, "partial": 0, "failure": 2, "cancelled": 0}
    assert sales.last_failure_time == T + 210 and sales.last_success_time == T + 110
    clock.now += 5
    p.tick()
    p.stop()

    # Once more, with nothing new: nothing is counted again.
    store = StateStore(path, clock=clock)
    store.load()
    p = poller(cw, clock, state=store)
    p.tick()
    assert sum(item(p.snapshot, SALES).completions.values()) == 3
    p.stop()


# -- schedules ---------------------------------------------------------------------------------------------


def test_the_next_and_the_last_scheduled_run_follow_the_schedule() -> None:
    cw = cloudworks()
    cw.integrations[SALES] = integration(SALES, "Load sales", process_id=PROCESS, schedule=daily("06:00"))
    cw.integrations[ORGS] = integration(ORGS, "Load orgs", schedule=daily("06:00", active=False))
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    sales = item(p.snapshot, SALES)
    # Started in January (GMT): 06:00 UTC all year, also in May.
    assert sales.next_run_time == datetime.datetime(2026, 5, 29, 6, tzinfo=datetime.timezone.utc).timestamp()
    assert (
        sales.last_scheduled_time
        == datetime.datetime(2026, 5, 28, 6, tzinfo=datetime.timezone.utc).timestamp()
    )
    orgs = item(p.snapshot, ORGS)
    assert orgs.next_run_time is None and orgs.last_scheduled_time is None  # inactive: none
    clock.now = sales.next_run_time + 1
    p.tick()
    assert item(p.snapshot, SALES).last_scheduled_time == sales.next_run_time


# -- fast detection -----------------------------------------------------------------------------------------


def test_the_lists_are_read_every_few_seconds_ahead_of_idle_objects() -> None:
    cw = cloudworks()
    clock = Clock()
    p = poller(cw, clock)
    p.tick()
    assert cw.calls["integrations"] == 1
    clock.now += 4.9
    p.tick()
    assert cw.calls["integrations"] == 1
    clock.now += 0.1
    p.tick()
    assert cw.calls["integrations"] == 2


def test_a_run_of_a_linked_integration_polls_the_watched_object_at_once() -> None:
    cw = cloudworks()
    api = anaplan()
    api.add(PROCESS, finished("P1", T - 3600))
    clock = Clock()
    p = poller(cw, clock, api=api)
    p.tick()
    listed = api.list_calls
    cw.run(SALES, going(T + 3))
    api.add(PROCESS, running("P2", T + 3))
    clock.now = T + 5  # the process itself is not due for another 55 s
    p.tick()
    assert api.list_calls == listed + 1
    process = p.snapshot.objects[0]
    assert process.task is not None and process.task.task_id == "P2"


class JobsLate(FakeCloudWorks):
    """The first read of an integration's jobs fails: they become known only after its run has started."""

    def integration(self, integration_id: str) -> Integration:
        if not self.calls.get("integration"):
            self._call("integration")
            raise AnaplanConnectionError("connection reset", "cloudworks_integration")
        return super().integration(integration_id)


def test_a_run_polls_its_import_at_once_when_the_jobs_naming_it_arrive_after_the_start() -> None:
    load = "112000000009"
    cw = JobsLate()
    cw.add(integration(SALES, "Sales from S3", kind=IntegrationType.IMPORT, run=done(T - 3600, T - 3500)))
    cw.jobs[SALES] = (IntegrationJob("AmazonS3ToAnaplan", action_ids=(load,)),)
    api = FakeAnaplan()
    api.objects = {ObjectType.IMPORT: [ModelObject(load, "Sales.csv", ObjectType.IMPORT)]}
    api.add(load, finished("I1", T - 3600))
    imports = TargetConfig(
        workspace="Finance",
        model=MODEL,
        selections={ObjectType.IMPORT: ObjectSelection(items=(ObjectSelector(load),))},
    )
    clock = Clock()
    p = Poller(api, [imports], POLLING, clock=clock, cloudworks=cw, cloudworks_config=ALL)
    p.tick()
    assert cw.calls["integration"] == 1 and item(p.snapshot, SALES).object_ids == ()
    listed = api.list_calls
    cw.run(SALES, going(T + 3))
    api.add(load, running("I2", T + 3))
    clock.now = T + 5  # the import itself is not due for another 55 s, nor the failed read for 25 s
    p.tick()
    assert cw.calls["integration"] == 2 and item(p.snapshot, SALES).object_ids == (load,)
    assert api.list_calls == listed + 1
    task = p.snapshot.objects[0].task
    assert task is not None and task.task_id == "I2"


# -- flows --------------------------------------------------------------------------------------------------


def test_a_flow_shows_the_result_of_each_step_of_its_latest_run() -> None:
    cw = cloudworks()
    flow_run = done(T + 10, T + 60, ok=False)
    cw.flows[FLOW_ID] = Flow(
        id=FLOW_ID,
        name="Nightly flow",
        latest_run=going(T + 10),
        steps=(
            step(SALES, "Sales", done(T + 11, T + 30)),
            step(ORGS, "Orgs", going(T + 31)),
            step("c" * 32, "Report"),
        ),
    )
    clock = Clock(T + 35)
    p = poller(cw, clock)
    p.tick()
    flow = item(p.snapshot, FLOW_ID)
    assert flow.kind == "flow" and flow.type == "flow" and flow.latest_result == "running"
    assert [(s.position, s.name, s.result) for s in flow.steps] == [
        (1, "Sales", "success"),
        (2, "Orgs", "running"),
    ]
    cw.flows[FLOW_ID] = Flow(
        id=FLOW_ID,
        name="Nightly flow",
        latest_run=flow_run,
        steps=(
            step(SALES, "Sales", done(T + 11, T + 30)),
            step(ORGS, "Orgs", done(T + 31, T + 60, ok=False)),
            step("c" * 32, "Report", done(T - 86400, T - 86300)),  # yesterday's: not run this time
        ),
    )
    clock.now = T + 65
    p.tick()
    flow = item(p.snapshot, FLOW_ID)
    assert [(s.position, s.integration_id, s.result) for s in flow.steps] == [
        (1, SALES, "success"),
        (2, ORGS, "failure"),
        (3, "c" * 32, "skipped"),
    ]
    assert flow.completions["failure"] == 1  # seen running, then failed


def test_the_lists_take_at_most_a_quarter_of_the_request_budget() -> None:
    watch = CloudWorksWatch(ALL, str, page_size=25)
    assert watch.interval(None) == 5.0
    assert watch.interval(0.22) == 5.0  # 5 requests per second: two requests every 5 s is 8 % of it
    assert watch.interval(1.1) == pytest.approx(8.8)  # 1 per second: two requests every 8.8 s
    cw = cloudworks()
    for n in range(60):  # three pages of integrations
        cw.add(integration(f"{n:032x}", f"Integration {n}"))
    watch.lists_done(ListsResult(cw.list_integrations(), []), T, (), lambda item: None)
    assert watch.interval(1.1) == pytest.approx(4 * 1.1 / 0.25)  # 3 pages and the flows: every 17.6 s


# -- sharding: replicas other than 0 read the integration list for hints only --------------------------------


def owned_by(shard: int, object_type: ObjectType, prefix: str) -> str:
    """An object ID (``prefix`` and a number) that ``shard`` of 2 owns."""
    for n in range(1, 100):
        object_id = f"{prefix}{n:07d}"
        ref = ObjectRef(WS, "Finance", MODEL, "Planning", object_type, object_id, object_id)
        if shard_of(ref, 2) == shard:
            return object_id
    raise AssertionError("no such ID")


MINE = owned_by(1, ObjectType.PROCESS, "11800")
"""A process replica 1 of 2 owns."""
THEIRS = owned_by(0, ObjectType.PROCESS, "11800")
IMPORT_MINE = owned_by(1, ObjectType.IMPORT, "11200")


def replica(
    cw: FakeCloudWorks,
    clock: Clock,
    api: FakeAnaplan,
    config: CloudWorksConfig = ALL,
    shard: int = 1,
    state: StateStore | None = None,
) -> Poller:
    every = TargetConfig(
        workspace="Finance",
        model=MODEL,
        selections={
            ObjectType.PROCESS: ObjectSelection(all=True),
            ObjectType.IMPORT: ObjectSelection(all=True),
        },
    )
    return Poller(
        api,
        [every],
        POLLING,
        shard=shard,
        shard_total=2,
        clock=clock,
        cloudworks=cw,
        cloudworks_config=config,
        scrub=Redactor().scrub,
        state=state,
    )


def sharded() -> tuple[FakeAnaplan, FakeCloudWorks]:
    """Two processes (one per replica) and an import replica 1 owns, each run by an integration; one
    integration in a model no replica watches."""
    api = FakeAnaplan()
    api.objects = {
        ObjectType.PROCESS: [
            ModelObject(MINE, "Mine", ObjectType.PROCESS),
            ModelObject(THEIRS, "Theirs", ObjectType.PROCESS),
        ],
        ObjectType.IMPORT: [ModelObject(IMPORT_MINE, "Sales.csv", ObjectType.IMPORT)],
    }
    for object_id in (MINE, THEIRS, IMPORT_MINE):
        api.add(object_id, finished(f"{object_id}-1", T - 3600))
    cw = FakeCloudWorks()
    cw.add(integration(SALES, "Mine", process_id=MINE, run=done(T - 3600, T - 3500)))
    cw.add(integration(ORGS, "Theirs", process_id=THEIRS, run=done(T - 3600, T - 3500)))
    cw.add(integration("c" * 32, "Sales.csv", kind=IntegrationType.IMPORT, run=done(T - 3600, T - 3500)))
    cw.jobs["c" * 32] = (IntegrationJob("AmazonS3ToAnaplan", action_ids=(IMPORT_MINE,)),)
    elsewhere = integration("d" * 32, "Elsewhere", kind=IntegrationType.IMPORT, run=done(T - 60, T - 50))
    cw.add(replace(elsewhere, model_id="E" * 32))
    cw.flows[FLOW_ID] = Flow(id=FLOW_ID, name="Nightly flow", latest_run=done(T - 600, T - 500))
    return api, cw


def test_replica_1_polls_its_own_object_at_once_when_a_linked_run_starts() -> None:
    api, cw = sharded()
    clock = Clock()
    p = replica(cw, clock, api)
    p.tick()
    assert {o.ref.object_id for o in p.snapshot.objects} == {MINE, IMPORT_MINE}
    listed = api.list_calls
    cw.run(SALES, going(T + 3))
    api.add(MINE, running("P2", T + 3))
    clock.now = T + 5  # the process itself is not due for another 55 s
    p.tick()
    assert api.list_calls == listed + 1
    mine = next(o for o in p.snapshot.objects if o.ref.object_id == MINE)
    assert mine.task is not None and mine.task.task_id == "P2" and mine.task.state.value != "COMPLETE"


def test_replica_1_reads_the_integration_list_alone_and_exports_no_cloudworks_series() -> None:
    api, cw = sharded()
    clock = Clock()
    p = replica(cw, clock, api)
    p.tick()
    cw.run(SALES, going(T + 3))
    cw.run(SALES, done(T + 3, T + 4, ok=False))
    clock.now = T + 5
    p.tick()
    # The list, and the Anaplan objects of the three integrations in its model, once: no flows, no run
    # history, no run errors, nothing of the integration in another model.
    assert cw.calls == {"integrations": 2, "integration": 3}
    view = p.snapshot.cloudworks
    assert not view.enabled and not view.items and view.hints and not view.forbidden
    assert list(cloudworks_families(view)) == []
    assert p.snapshot.up
    clock.now = T + 5 + POLLING.metadata_refresh_interval
    p.tick()
    assert cw.calls["integration"] == 6  # their jobs are read again only every metadata_refresh_interval


def test_replica_1_polls_an_import_linked_through_the_jobs_of_its_integration() -> None:
    api, cw = sharded()
    clock = Clock()
    p = replica(cw, clock, api)
    p.tick()
    cw.run("c" * 32, going(T + 3))
    api.add(IMPORT_MINE, running("I2", T + 3))
    clock.now = T + 5
    p.tick()
    task = next(o for o in p.snapshot.objects if o.ref.object_id == IMPORT_MINE).task
    assert task is not None and task.task_id == "I2"


def test_replica_1_leaves_the_objects_of_replica_0_alone() -> None:
    api, cw = sharded()
    clock = Clock()
    p = replica(cw, clock, api)
    p.tick()
    listed = api.list_calls
    cw.run(ORGS, going(T + 3))
    api.add(THEIRS, running("P3", T + 3))
    clock.now = T + 5
    p.tick()
    assert api.list_calls == listed  # replica 0 polls THEIRS


def test_replica_0_still_watches_cloudworks_in_full_and_polls_its_own_object() -> None:
    api, cw = sharded()
    clock = Clock()
    p = replica(cw, clock, api, shard=0)
    p.tick()
    assert {o.ref.object_id for o in p.snapshot.objects} == {THEIRS}
    cw.run(ORGS, going(T + 3))
    api.add(THEIRS, running("P3", T + 3))
    clock.now = T + 5
    p.tick()
    task = p.snapshot.objects[0].task
    assert task is not None and task.task_id == "P3"
    view = p.snapshot.cloudworks
    assert (
        view.enabled
        and not view.hints
        and names(p.snapshot)
        == {
            "Mine",
            "Theirs",
            "Sales.csv",
            "Elsewhere",
            "Nightly flow",
        }
    )
    assert "flows" in cw.calls and "history" in cw.calls


@pytest.mark.parametrize("mode", [CloudWorksMode.AUTO, CloudWorksMode.ON])
def test_a_403_on_replica_1_quietly_stops_its_hints(
    mode: CloudWorksMode, caplog: pytest.LogCaptureFixture
) -> None:
    api, cw = sharded()
    cw.forbid()
    clock = Clock()
    p = replica(cw, clock, api, CloudWorksConfig(mode=mode))
    with caplog.at_level(logging.INFO):
        assert p.tick()  # replica 0 reports the 403 (and keeps anaplan_up at 0 when required); not this one
        clock.now += 5.0
        p.tick()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert caplog.text.count("CloudWorks answers 403 on this replica") == 1
    view = p.snapshot.cloudworks
    assert not view.forbidden and not view.enabled and not view.hints
    assert list(cloudworks_families(view)) == []
    assert cw.calls == {"integrations": 1}  # tried again only after the discovery interval
    cw.failing = None
    clock.now += POLLING.discovery_interval
    p.tick()
    assert cw.calls["integrations"] == 2 and p.snapshot.cloudworks.hints


def test_cloudworks_off_or_no_integration_selected_is_never_asked_on_replica_1() -> None:
    for config in (
        CloudWorksConfig(mode=CloudWorksMode.OFF),
        CloudWorksConfig(integrations=CloudWorksSelection()),  # flows alone: replica 0's business
    ):
        api, cw = sharded()
        p = replica(cw, Clock(), api, config)
        assert p.tick()
        assert cw.calls == {} and not p.snapshot.cloudworks.hints


def test_replica_1_keeps_no_cloudworks_state(tmp_path: Path) -> None:
    api, cw = sharded()
    clock = Clock()
    store = StateStore(tmp_path / "state.json", clock=clock)
    p = replica(cw, clock, api, state=store)
    p.tick()
    p.stop()
    saved = (tmp_path / "state.json").read_text()
    assert MINE in saved and SALES not in saved  # its objects are kept, no integration
