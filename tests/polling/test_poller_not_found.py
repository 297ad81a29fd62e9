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
    assert not poller.tick()
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
    assert not poller.tick()
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
    poller.tick()
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
