"""Sharding across replicas: an exact partition, stable across runs and releases, blind to names and order."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import pytest

from anaplan_exporter.anaplan.models import (
    Model,
    ModelObject,
    ObjectType,
    ProcessMetadata,
    Task,
    TaskSummary,
    Workspace,
)
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, TargetConfig
from anaplan_exporter.polling.poller import Poller, shard_of
from anaplan_exporter.snapshot import ObjectRef

PREFIX = {
    ObjectType.IMPORT: "112",
    ObjectType.EXPORT: "116",
    ObjectType.ACTION: "117",
    ObjectType.PROCESS: "118",
}
SHARD_COUNTS = range(1, 8)

# Shard of each object for 1..7 shards, as released: a change here moves objects between running replicas
# (and so resets their counters), so it must be deliberate.
WS_A, MODEL_A = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
WS_B, MODEL_B = "0f0e0d0c0b0a09080706050403020100", "0123456789ABCDEF0123456789ABCDEF"
EXPECTED = [
    ((WS_A, MODEL_A, "PROCESS", "118000000002"), [0, 0, 0, 2, 3, 0, 6]),
    ((WS_A, MODEL_A, "IMPORT", "112000000007"), [0, 1, 2, 3, 1, 5, 5]),
    ((WS_A, MODEL_A, "EXPORT", "116000000001"), [0, 0, 0, 2, 4, 0, 2]),
    ((WS_A, MODEL_A, "ACTION", "117000000019"), [0, 0, 0, 2, 2, 0, 5]),
    ((WS_B, MODEL_B, "PROCESS", "118000000002"), [0, 0, 2, 0, 2, 2, 4]),
    ((WS_B, MODEL_B, "IMPORT", "112000000100"), [0, 0, 1, 0, 0, 4, 2]),
]


def make_ref(workspace: str, model: str, kind: ObjectType, object_id: str, name: str = "") -> ObjectRef:
    return ObjectRef(workspace, f"ws {name}", model, f"model {name}", kind, object_id, f"object {name}")


def generated_refs(count: int, seed: int = 20261123) -> list[ObjectRef]:
    """``count`` distinct objects with Anaplan-shaped IDs spread over a few workspaces and models."""
    rng = random.Random(seed)
    workspaces = [f"{rng.getrandbits(128):032x}" for _ in range(3)]
    models = [(rng.choice(workspaces), f"{rng.getrandbits(128):032X}") for _ in range(12)]
    refs: dict[tuple[str, str, str, str], ObjectRef] = {}
    while len(refs) < count:
        workspace, model = rng.choice(models)
        kind = rng.choice(list(ObjectType))
        ref = make_ref(workspace, model, kind, f"{PREFIX[kind]}{rng.randrange(10**9):09d}", str(len(refs)))
        refs[ref.key] = ref
    return list(refs.values())


REFS = generated_refs(3000)


@pytest.mark.parametrize("total", SHARD_COUNTS)
def test_every_object_is_in_exactly_one_shard(total: int) -> None:
    owners: Counter[int] = Counter()
    for ref in REFS:
        owning = [index for index in range(total) if shard_of(ref, total) == index]
        assert len(owning) == 1, f"{ref.key} belongs to shards {owning} of {total}"
        owners[owning[0]] += 1
    assert sum(owners.values()) == len(REFS)
    # Shards share the load: every shard holds its fair share within 20 %.
    fair = len(REFS) / total
    assert set(owners) == set(range(total))
    assert all(0.8 * fair <= n <= 1.2 * fair for n in owners.values()), dict(owners)


def test_shard_indexes_match_the_released_ones() -> None:
    for (workspace, model, kind, object_id), expected in EXPECTED:
        ref = make_ref(workspace, model, ObjectType[kind], object_id)
        assert [shard_of(ref, total) for total in SHARD_COUNTS] == expected, ref.key


def test_shard_indexes_are_the_same_in_another_process() -> None:
    """Not tied to one interpreter's hash seed: another process with another seed agrees."""
    sample = REFS[:200]
    code = (
        "import json, sys\n"
        "from anaplan_exporter.anaplan.models import ObjectType\n"
        "from anaplan_exporter.polling.poller import shard_of\n"
        "from anaplan_exporter.snapshot import ObjectRef\n"
        "out = []\n"
        "for w, m, k, o in json.load(sys.stdin):\n"
        "    ref = ObjectRef(w, '', m, '', ObjectType(k), o, '')\n"
        "    out.append([shard_of(ref, n) for n in range(1, 8)])\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([ref.key for ref in sample]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert json.loads(done.stdout) == [[shard_of(ref, n) for n in SHARD_COUNTS] for ref in sample]


def test_names_and_policies_do_not_move_an_object() -> None:
    for ref in REFS[:500]:
        renamed = replace(
            ref,
            workspace_name="Renamed",
            model_name="Other name",
            object_name="A new name",
            expected_every=60.0,
            max_duration=7200.0,
        )
        assert [shard_of(renamed, n) for n in SHARD_COUNTS] == [shard_of(ref, n) for n in SHARD_COUNTS]


# --- through the poller: what each replica actually watches -------------------------------------------------


@dataclass
class Catalog:
    """A read-only Anaplan with several workspaces and models and no task history."""

    refs: Sequence[ObjectRef]
    token_expires_at: float | None = None

    def list_workspaces(self) -> list[Workspace]:
        return [Workspace(w, w) for w in dict.fromkeys(r.workspace_id for r in self.refs)]

    def list_models(self, workspace_id: str) -> list[Model]:
        models = dict.fromkeys(r.model_id for r in self.refs if r.workspace_id == workspace_id)
        return [Model(m, m, workspace_id) for m in models]

    def list_objects(self, workspace_id: str, model_id: str, object_type: ObjectType) -> list[ModelObject]:
        return [
            ModelObject(r.object_id, r.object_name, r.object_type)
            for r in self.refs
            if (r.workspace_id, r.model_id, r.object_type) == (workspace_id, model_id, object_type)
        ]

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata:
        return ProcessMetadata(name=process_id)

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
        return []

    def task_status(
        self, workspace_id: str, model_id: str, object_type: ObjectType, object_id: str, task_id: str
    ) -> Task:
        raise AssertionError("no task exists")


def targets_of(refs: Sequence[ObjectRef]) -> list[TargetConfig]:
    """One target per model, watching every object of every kind."""
    models = dict.fromkeys((r.workspace_id, r.model_id) for r in refs)
    everything = {kind: ObjectSelection(all=True) for kind in ObjectType}
    return [TargetConfig(workspace=w, model=m, selections=everything) for w, m in models]


def watched(
    catalog: Catalog, targets: Sequence[TargetConfig], shard: int, total: int
) -> set[tuple[str, ...]]:
    poller = Poller(
        catalog, targets, PollingConfig(workers=2), shard=shard, shard_total=total, clock=lambda: 1e9
    )
    try:
        poller.tick()
        return {status.ref.key for status in poller.snapshot.objects}
    finally:
        poller.stop()


@pytest.fixture(scope="module")
def catalog_refs() -> list[ObjectRef]:
    return REFS[:300]


def shards_of(
    catalog: Catalog, targets: Sequence[TargetConfig], total: int
) -> Iterator[set[tuple[str, ...]]]:
    for shard in range(total):
        yield watched(catalog, targets, shard, total)


@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_replicas_watch_a_partition_of_the_configured_objects(
    catalog_refs: list[ObjectRef], total: int
) -> None:
    catalog = Catalog(catalog_refs)
    shards = list(shards_of(catalog, targets_of(catalog_refs), total))
    everything = {r.key for r in catalog_refs}
    assert set().union(*shards) == everything
    assert sum(len(s) for s in shards) == len(everything), "an object is watched by two replicas"


def test_assignment_ignores_config_order_listing_order_and_names(catalog_refs: list[ObjectRef]) -> None:
    total = 3
    baseline = list(shards_of(Catalog(catalog_refs), targets_of(catalog_refs), total))
    shuffled = list(catalog_refs)
    random.Random(7).shuffle(shuffled)
    renamed = [replace(r, object_name=f"renamed {i}") for i, r in enumerate(shuffled)]
    reversed_targets = list(reversed(targets_of(catalog_refs)))
    assert list(shards_of(Catalog(renamed), reversed_targets, total)) == baseline
