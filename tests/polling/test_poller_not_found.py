"""Every object accounted for: what Anaplan cannot confirm (an ID not in its model's list, a workspace or
model not listed, a model masked as NO ACCESS, process metadata answering 404) is down with its reason while
its task list lists nothing; an object that simply never ran stays up; discovery looks again, so fixing the
ID or granting the role clears it without a restart. Injected clock, in-memory Anaplan."""

from __future__ import annotations

from anaplan_exporter.anaplan.errors import AnaplanError, AnaplanNotFoundError, AnaplanServerError
from anaplan_exporter.anaplan.lookup import Absence
from anaplan_exporter.anaplan.models import ModelObject, ObjectType, ProcessMetadata
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, ObjectSelector, TargetConfig
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.snapshot import ObjectStatus
from support.fake_anaplan import MODEL, WS, FakeAnaplan, finished

POLLING = PollingConfig(
    idle_interval=60, active_interval=5, active_max_interval=60, discovery_interval=600, workers=2
)
NIGHTLY, SALES, WRONG = "118000000002", "112000000007", "118000000099"


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Tenant(FakeAnaplan):
    """A fake Anaplan whose models can be masked as NO ACCESS (404 on their object lists and metadata, an
    empty task list) or fail for a while (503), and whose process metadata can answer 404."""

    def __init__(self) -> None:
        super().__init__()
        self.objects = {
            ObjectType.PROCESS: [ModelObject(NIGHTLY, "Nightly load", ObjectType.PROCESS)],
            ObjectType.IMPORT: [ModelObject(SALES, "Sales", ObjectType.IMPORT)],
        }
        self.no_access = False
        self.listing_error: AnaplanError | None = None
        self.metadata_missing: set[str] = set()

    def list_objects(self, workspace_id: str, model_id: str, object_type: ObjectType) -> list[ModelObject]:
        if self.no_access:
            raise AnaplanNotFoundError(404, "Not Found", "list_objects")
        if self.listing_error is not None:
            raise self.listing_error
        return super().list_objects(workspace_id, model_id, object_type)

    def list_tasks(self, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        if self.no_access:
            return []  # Anaplan's mask: 200 and an empty list
        return super().list_tasks(*args, **kwargs)  # type: ignore[arg-type]

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata:
        if self.no_access or process_id in self.metadata_missing:
            raise AnaplanNotFoundError(404, "Not Found", "process_metadata")
        return super().process_metadata(workspace_id, model_id, process_id)


def ids(*refs: str) -> ObjectSelection:
    return ObjectSelection(all=False, items=tuple(ObjectSelector(r) for r in refs))


def target(workspace: str = WS, model: str = MODEL, **selections: ObjectSelection) -> TargetConfig:
    kinds = {ObjectType.PROCESS if k == "processes" else ObjectType.IMPORT: v for k, v in selections.items()}
    return TargetConfig(workspace=workspace, model=model, selections=kinds)


def by_id(poller: Poller) -> dict[str, ObjectStatus]:
    return {o.ref.object_id: o for o in poller.snapshot.objects}


def test_a_wrong_id_is_down_as_not_found_and_a_never_run_object_stays_up() -> None:
    api = Tenant()
    poller = Poller(api, [target(processes=ids(NIGHTLY, WRONG))], POLLING, clock=Clock())
    poller.tick()
    objects = by_id(poller)
    wrong, nightly = objects[WRONG], objects[NIGHTLY]
    assert wrong.absence is Absence.NOT_FOUND and not wrong.up
    assert wrong.errors == {} and wrong.last_error is None  # its polls did not fail: Anaplan said "nothing"
    assert nightly.task is None  # never ran: an empty task list too ...
    assert nightly.up and nightly.absence is None  # ... but listed, so confirmed and healthy


def test_fixing_the_id_by_a_reload_clears_it_at_once() -> None:
    api = Tenant()
    clock = Clock()
    poller = Poller(api, [target(processes=ids(WRONG))], POLLING, clock=clock)
    poller.tick()
    assert by_id(poller)[WRONG].absence is Absence.NOT_FOUND
    poller.reconfigure([target(processes=ids(NIGHTLY))])
    clock.now += 1
    assert poller.tick()
    (only,) = poller.snapshot.objects
    assert only.ref.object_id == NIGHTLY and only.up and only.absence is None


def test_an_object_created_later_under_the_configured_id_is_confirmed_by_the_next_discovery() -> None:
    api = Tenant()
    clock = Clock()
    poller = Poller(api, [target(processes=ids(WRONG))], POLLING, clock=clock)
    poller.tick()
    assert by_id(poller)[WRONG].absence is Absence.NOT_FOUND
    api.objects[ObjectType.PROCESS].append(ModelObject(WRONG, "Created later", ObjectType.PROCESS))
    clock.now += 5  # a discovery with errors is tried again after 5 s
    poller.tick()
    obj = by_id(poller)[WRONG]
    assert obj.up and obj.absence is None and obj.ref.object_name == "Created later"


def test_a_run_listed_confirms_an_id_the_listing_hides() -> None:
    api = Tenant()
    api.add(WRONG, finished("T1", 900.0))
    poller = Poller(api, [target(processes=ids(WRONG))], POLLING, clock=Clock())
    poller.tick()
    obj = by_id(poller)[WRONG]
    assert obj.up and obj.absence is None and obj.task is not None


def test_a_model_with_no_access_makes_its_ids_down_as_no_access_until_the_role_is_granted() -> None:
    api = Tenant()
    api.no_access = True
    api.add(NIGHTLY, finished("T1", 900.0))  # it runs; the mask hides it
    clock = Clock()
    poller = Poller(api, [target(processes=ids(NIGHTLY))], POLLING, clock=clock)
    poller.tick()
    obj = by_id(poller)[NIGHTLY]
    assert obj.absence is Absence.NO_ACCESS and not obj.up
    assert any("NO ACCESS" in error for error in poller.snapshot.discovery_errors)
    api.no_access = False  # the role is granted: the next discovery (5 s later) confirms it
    clock.now += 5
    poller.tick()
    obj = by_id(poller)[NIGHTLY]
    assert obj.up and obj.absence is None and obj.ref.object_name == "Nightly load"


def test_objects_found_by_star_become_no_access_when_the_role_is_removed_and_recover_when_granted() -> None:
    api = Tenant()
    api.add(SALES, finished("T1", 900.0))
    clock = Clock()
    poller = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock)
    assert poller.tick()
    assert by_id(poller)[SALES].up
    api.no_access = True
    clock.now += 600  # the next discovery, and the next idle poll (an empty list now)
    assert not poller.tick()  # a "*" cannot be resolved: what it covers now is unknown (anaplan_up 0)
    obj = by_id(poller)[SALES]
    assert obj.absence is Absence.NO_ACCESS and not obj.up
    assert obj.last_success_time == 900.0  # its last good values stay
    api.no_access = False
    clock.now += 5
    poller.tick()
    clock.now += 60
    poller.tick()
    obj = by_id(poller)[SALES]
    assert obj.up and obj.absence is None


def test_a_workspace_or_model_not_listed_makes_the_ids_configured_there_not_found() -> None:
    api = Tenant()
    poller = Poller(
        api,
        [
            target(workspace="No such workspace", processes=ids(NIGHTLY)),
            target(model="No such model", imports=ids(SALES)),
        ],
        POLLING,
        clock=Clock(),
    )
    poller.tick()
    objects = by_id(poller)
    assert {k: (o.absence, o.up) for k, o in objects.items()} == {
        NIGHTLY: (Absence.NOT_FOUND, False),
        SALES: (Absence.NOT_FOUND, False),
    }
    assert objects[SALES].ref.workspace_id == WS  # the workspace was found: named by its ID and name
    assert objects[SALES].ref.workspace_name == "Finance"


def test_a_listing_that_fails_for_another_reason_says_nothing_of_the_objects() -> None:
    api = Tenant()
    api.listing_error = AnaplanServerError(503, "Service Unavailable", "list_objects")
    poller = Poller(api, [target(processes=ids(WRONG))], POLLING, clock=Clock())
    assert not poller.tick()
    obj = by_id(poller)[WRONG]
    assert obj.absence is None and obj.up  # unknown, not "not found": its polls succeed


def test_process_metadata_answering_404_makes_the_process_not_found_until_it_reads() -> None:
    api = Tenant()
    api.metadata_missing.add(NIGHTLY)
    clock = Clock()
    poller = Poller(api, [target(processes=ids(NIGHTLY))], POLLING, clock=clock)
    poller.tick()
    obj = by_id(poller)[NIGHTLY]
    assert obj.absence is Absence.NOT_FOUND and not obj.up
    api.metadata_missing.clear()
    clock.now += 5  # the metadata read is tried again after 5 s
    poller.tick()
    obj = by_id(poller)[NIGHTLY]
    assert obj.absence is None and obj.up


def test_metadata_answering_404_says_nothing_while_discovery_cannot_list_the_model() -> None:
    # A wrong api_url or a broken gateway answers 404 to everything: that is no proof that a process is gone.
    api = Tenant()
    api.metadata_missing.add(NIGHTLY)

    def unlisted() -> list[object]:
        raise AnaplanNotFoundError(404, "Not Found", "list_workspaces")

    api.list_workspaces = unlisted  # type: ignore[assignment,method-assign]
    poller = Poller(api, [target(processes=ids(NIGHTLY))], POLLING, clock=Clock())
    assert not poller.tick()
    obj = by_id(poller)[NIGHTLY]
    assert obj.absence is None and obj.up


# -- anaplan_up leaves what Anaplan does not confirm to the object's own series ------------------------------
# One wrong ID gives one alert that names it (AnaplanTargetNotFound), not also AnaplanPollStale: neither the
# object nor the discovery error naming it makes anaplan_up 0 or holds back the last success time. What has
# no series of its own (a name, a "*", a failed listing, a failed poll) still does.


def test_a_wrong_id_leaves_anaplan_up_1_and_the_success_time_current_and_its_error_listed() -> None:
    api = Tenant()
    clock = Clock()
    poller = Poller(api, [target(processes=ids(NIGHTLY, WRONG))], POLLING, clock=clock)
    assert poller.tick()
    assert not by_id(poller)[WRONG].up  # its own series: anaplan_target_up 0, anaplan_target_not_found 1
    assert poller.snapshot.up and poller.snapshot.last_success_time == 1_000.0
    error = f"targets[0]: process '{WRONG}' not found in model 'Planning'"
    assert poller.snapshot.discovery_errors == (error,)  # the status page and the log still say it
    clock.now += 60  # discovery again (it had errors) and the next idle polls
    assert poller.tick()
    assert poller.snapshot.last_success_time == 1_060.0
    assert poller.snapshot.discovery_errors == (error,) and by_id(poller)[WRONG].absence is Absence.NOT_FOUND


def test_a_model_with_no_access_leaves_anaplan_up_1_for_the_ids_watched_there() -> None:
    api = Tenant()
    api.no_access = True  # its object lists and process metadata answer 404, its task lists are empty
    poller = Poller(api, [target(processes=ids(NIGHTLY), imports=ids(SALES))], POLLING, clock=Clock())
    assert poller.tick()
    assert {o.absence for o in poller.snapshot.objects} == {Absence.NO_ACCESS}
    assert len(poller.snapshot.discovery_errors) == 3  # two listings, one metadata read: all still listed
    assert poller.snapshot.up and poller.snapshot.last_success_time == 1_000.0


def test_a_workspace_or_model_not_listed_leaves_anaplan_up_1_when_every_object_there_is_an_id() -> None:
    targets = [
        target(workspace="No such workspace", processes=ids(NIGHTLY)),
        target(model="Gone", imports=ids(SALES)),
    ]
    poller = Poller(Tenant(), targets, POLLING, clock=Clock())
    assert poller.tick()
    assert len(poller.snapshot.discovery_errors) == 2


def test_a_metadata_404_of_a_process_discovery_lists_leaves_anaplan_up_1() -> None:
    api = Tenant()
    api.metadata_missing.add(NIGHTLY)
    poller = Poller(api, [target(processes=ids(NIGHTLY))], POLLING, clock=Clock())
    assert poller.tick()
    assert by_id(poller)[NIGHTLY].absence is Absence.NOT_FOUND
    (error,) = poller.snapshot.discovery_errors
    assert error.startswith(f"process {NIGHTLY} metadata:")


def test_a_name_not_found_still_makes_anaplan_up_0_it_has_no_series_of_its_own() -> None:
    named = ObjectSelection(items=(ObjectSelector(NIGHTLY), ObjectSelector("No such process")))
    poller = Poller(Tenant(), [target(processes=named)], POLLING, clock=Clock())
    assert not poller.tick()
    assert list(by_id(poller)) == [NIGHTLY]  # the name is watched nowhere
    assert poller.snapshot.last_success_time is None


def test_a_name_in_a_model_with_no_access_still_makes_anaplan_up_0() -> None:
    api = Tenant()
    api.no_access = True
    named = ObjectSelection(items=(ObjectSelector(NIGHTLY), ObjectSelector("Nightly load")))
    poller = Poller(api, [target(processes=named)], POLLING, clock=Clock())
    assert not poller.tick()
    assert by_id(poller)[NIGHTLY].absence is Absence.NO_ACCESS


def test_a_star_in_a_model_not_listed_or_with_no_access_still_makes_anaplan_up_0() -> None:
    star = ObjectSelection(all=True, items=(ObjectSelector(SALES),))
    gone = Poller(Tenant(), [target(model="Gone", imports=star)], POLLING, clock=Clock())
    assert not gone.tick()
    assert by_id(gone)[SALES].absence is Absence.NOT_FOUND  # the ID has its series; the "*" has none
    api = Tenant()
    api.no_access = True
    masked = Poller(api, [target(imports=star)], POLLING, clock=Clock())
    assert not masked.tick()
    assert by_id(masked)[SALES].absence is Absence.NO_ACCESS


def test_an_unconfirmed_object_whose_poll_fails_still_makes_anaplan_up_0() -> None:
    api = Tenant()
    api.failing[WRONG] = AnaplanServerError(503, "Service Unavailable", "list_tasks")
    clock = Clock()
    poller = Poller(api, [target(processes=ids(NIGHTLY, WRONG))], POLLING, clock=clock)
    assert not poller.tick()
    wrong = by_id(poller)[WRONG]
    assert wrong.absence is Absence.NOT_FOUND and wrong.last_error is not None
    api.failing.clear()
    clock.now += 60  # its next poll succeeds: only its absence is left, on its own series
    assert poller.tick()
    assert by_id(poller)[WRONG].absence is Absence.NOT_FOUND


def test_a_wrong_id_another_replica_watches_leaves_this_one_up_too() -> None:
    # Every replica discovers every target and sees the error; only the owner of the ID reports it.
    owners = []
    for shard in (0, 1):
        poller = Poller(
            Tenant(),
            [target(processes=ids(NIGHTLY, WRONG))],
            POLLING,
            shard=shard,
            shard_total=2,
            clock=Clock(),
        )
        assert poller.tick(), f"shard {shard}"
        assert len(poller.snapshot.discovery_errors) == 1
        owners += [o.ref.object_id for o in poller.snapshot.objects if o.absence is not None]
    assert owners == [WRONG]
