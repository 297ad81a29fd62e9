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


def test_a_failure_while_the_exporter_was_down_is_counted_once_after_the_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    api, clock = _api(), Clock()
    first = Poller(
        api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=StateStore.open(path)
    )
    first.tick()
    clock.now += 60
    first.tick()  # the older runs are read from the second poll on
    first.stop()
    assert {k[3] for k in decode(path.read_bytes())} == {"112000000007", "112000000008"}

    api.set("112000000007", finished("S2", 990.0, ok=False))  # while down
    clock.now += 600
    calls = len(api.status_calls)
    second = Poller(
        api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=StateStore.open(path)
    )
    second.tick()
    assert api.status_calls[calls:] == ["S2"]  # nothing else fetched: the rest is known
    sales = {o.ref.object_id: o for o in second.snapshot.objects}["112000000007"]
    assert dict(sales.completions) == {"success": 0, "failure": 1, "cancelled": 0}
    second.stop()

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
    first = Poller(
        api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=StateStore.open(path)
    )
    first.tick()
    first.stop()

    # Anaplan unreachable at the next start: only objects configured by ID are watched; the others stay saved.
    api.objects = {}
    failing = FakeAnaplan()
    failing.tasks = api.tasks

    def no_models(workspace_id: str) -> list:  # type: ignore[type-arg]
        raise AnaplanServerError(503, "Service Unavailable", "list_models")

    failing.list_models = no_models  # type: ignore[method-assign]
    cfg = target(imports=ObjectSelection(all=True, items=ids("112000000008").items))
    second = Poller(failing, [cfg], POLLING, clock=clock, state=StateStore.open(path))
    second.tick()
    second.stop()
    assert {k[3] for k in decode(path.read_bytes())} == {"112000000007", "112000000008"}

    # A full discovery that no longer finds 112000000007: it leaves the file.
    api.objects = {ObjectType.IMPORT: [ModelObject("112000000008", "Orgs", ObjectType.IMPORT)]}
    third = Poller(
        api, [target(imports=ObjectSelection(all=True))], POLLING, clock=clock, state=StateStore.open(path)
    )
    third.tick()
    third.stop()
    assert {k[3] for k in decode(path.read_bytes())} == {"112000000008"}
