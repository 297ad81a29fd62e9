"""The poller with a state file: trackers restored when created, saved as they change and at stop, objects
no longer watched pruned only after a discovery that resolved everything."""

from __future__ import annotations

from pathlib import Path

from anaplan_exporter.anaplan.errors import AnaplanServerError
from anaplan_exporter.anaplan.models import ModelObject, ObjectType
from anaplan_exporter.config.targets import ObjectSelection
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.polling.state import StateStore, decode
from support.fake_anaplan import FakeAnaplan, finished, running

from .test_poller import POLLING, Clock, ids, target


def _api() -> FakeAnaplan:
    api = FakeAnaplan()
    api.objects = {
        ObjectType.IMPORT: [
            ModelObject("112000000007", "Sales", ObjectType.IMPORT),
            ModelObject("112000000008", "Orgs", ObjectType.IMPORT),
        ]
    }
    api.add("112000000007", finished("S1", 900.0), running("S2", 990.0))
    api.add("112000000008", finished("O1", 900.0))
    return api


def _stop(poller: Poller, store: StateStore) -> None:
    """As the exporter stops: the last save, then the file's lock let go (a restart takes it again)."""
    poller.stop()
    store.close()


def test_a_failure_while_the_exporter_was_down_is_counted_once_after_the_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    api, clock = _api(), Clock()
    store = StateStore.open(path)
    first = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=store)
    first.tick()
    clock.now += 60
    first.tick()  # the older runs are read from the second poll on
    _stop(first, store)
    assert {k[3] for k in decode(path.read_bytes())} == {"112000000007", "112000000008"}

    api.set("112000000007", finished("S2", 990.0, ok=False))  # while down
    clock.now += 600
    calls = len(api.status_calls)
    store = StateStore.open(path)
    second = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=store)
    second.tick()
    assert api.status_calls[calls:] == ["S2"]  # nothing else fetched: the rest is known
    sales = {o.ref.object_id: o for o in second.snapshot.objects}["112000000007"]
    assert dict(sales.completions) == {"success": 0, "failure": 1, "cancelled": 0}
    _stop(second, store)

    clock.now += 600
    third = Poller(
        api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=StateStore.open(path)
    )
    third.tick()  # a restart with no runs: no completions added, no status fetched
    assert api.status_calls[calls:] == ["S2"]
    sales = {o.ref.object_id: o for o in third.snapshot.objects}["112000000007"]
    assert dict(sales.completions) == {"success": 0, "failure": 1, "cancelled": 0}


def test_pruning_waits_for_a_discovery_that_resolved_every_target(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    api, clock = _api(), Clock()
    store = StateStore.open(path)
    first = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=store)
    first.tick()
    _stop(first, store)

    # Anaplan unreachable at the next start: only objects configured by ID are watched; the others stay saved.
    api.objects = {}
    failing = FakeAnaplan()
    failing.tasks = api.tasks

    def no_models(workspace_id: str) -> list:  # type: ignore[type-arg]
        raise AnaplanServerError(503, "Service Unavailable", "list_models")

    failing.list_models = no_models  # type: ignore[method-assign]
    cfg = target(imports=ObjectSelection(all=True, items=ids("112000000008").items))
    store = StateStore.open(path)
    second = Poller(failing, [cfg], POLLING, clock=clock, state=store)
    second.tick()
    _stop(second, store)
    assert {k[3] for k in decode(path.read_bytes())} == {"112000000007", "112000000008"}

    # A full discovery that no longer finds 112000000007: it leaves the file.
    api.objects = {ObjectType.IMPORT: [ModelObject("112000000008", "Orgs", ObjectType.IMPORT)]}
    third = Poller(
        api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=StateStore.open(path)
    )
    third.tick()
    third.stop()
    assert {k[3] for k in decode(path.read_bytes())} == {"112000000008"}


def test_the_snapshot_says_where_the_state_is_kept_and_when_it_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    api, clock = _api(), Clock()
    store = StateStore.open(path, save_interval=0.0)
    poller = Poller(api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=store)
    assert poller.snapshot.state_file == store.status  # from the start: a scrape before the first poll
    poller.tick()  # publishes, then starts the first save in the background
    store.wait(10)
    assert store.saves == 1
    clock.now += 1
    poller.tick()
    state_file = poller.snapshot.state_file
    assert state_file is not None and state_file.kept and state_file.path == str(path)
    assert state_file.last_save_time is not None and state_file.save_failures == 0
    _stop(poller, store)

    memory = Poller(api, [target()], POLLING, clock=clock, state=StateStore.open(None))
    memory.tick()
    assert memory.snapshot.state_file is not None
    assert memory.snapshot.state_file.memory_only_reason == "configured_off"
    memory.stop()
    assert Poller(api, [target()], POLLING, clock=clock).snapshot.state_file is None  # no store: not known
