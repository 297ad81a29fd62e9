"""Discovery's process-metadata lookups: concurrent, limited to this replica's shard, failures named."""

from __future__ import annotations

import threading

from anaplan_exporter.anaplan.errors import AnaplanPermissionError
from anaplan_exporter.anaplan.models import ModelObject, ObjectType, ProcessMetadata, ProcessStep
from anaplan_exporter.config.file import PollingConfig
from anaplan_exporter.config.targets import ObjectSelection, TargetConfig
from anaplan_exporter.polling.discovery import Discoverer
from anaplan_exporter.polling.poller import Poller, shard_of
from support.fake_anaplan import MODEL, WS, FakeAnaplan, ref


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


PROCESSES = [f"1180000000{i:02d}" for i in range(12)]


class MetadataRecorder(FakeAnaplan):
    """Records which processes' metadata was read and how many reads overlapped at most."""

    def __init__(self, barrier_parties: int = 0) -> None:
        super().__init__()
        self.objects = {ObjectType.PROCESS: [ModelObject(p, f"P{p}", ObjectType.PROCESS) for p in PROCESSES]}
        self.steps = {p: (ProcessStep("112000000001", f"step of {p}"),) for p in PROCESSES}
        self.looked_up: list[str] = []
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(barrier_parties) if barrier_parties else None

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata:
        with self._lock:
            self.looked_up.append(process_id)
        if self._barrier is not None:
            # Returns only when `parties` lookups are in flight at once: a serial discovery would time out.
            self._barrier.wait(timeout=5)
        if process_id == PROCESSES[3]:
            raise AnaplanPermissionError(403, "Forbidden", "process_metadata")
        return super().process_metadata(workspace_id, model_id, process_id)


def every_process() -> list[TargetConfig]:
    return [
        TargetConfig(workspace=WS, model=MODEL, selections={ObjectType.PROCESS: ObjectSelection(all=True)})
    ]


def test_discovery_reads_no_metadata_and_step_names_are_read_one_process_at_a_time() -> None:
    api = MetadataRecorder()
    discoverer = Discoverer(api)
    result = discoverer.discover(every_process())
    assert result.ok and len(result.objects) == len(PROCESSES)
    assert api.looked_up == []  # metadata is the poller's low-priority work, not discovery's
    first = next(w.ref for w in result.objects if w.ref.object_id == PROCESSES[0])
    assert discoverer.step_names(first) == {"112000000001": f"step of {PROCESSES[0]}"}


def test_a_failed_metadata_read_is_named_in_the_discovery_errors_and_retried() -> None:
    api = MetadataRecorder()
    clock = Clock()
    poller = Poller(api, every_process(), PollingConfig(workers=4), clock=clock)
    try:
        assert not poller.tick()
        (error,) = poller.snapshot.discovery_errors
        assert error.startswith(f"process {PROCESSES[3]} metadata: ") and "403" in error
        assert sorted(api.looked_up) == PROCESSES
        clock.now += 4
        poller.tick()
        assert len(api.looked_up) == len(PROCESSES)  # not before the 5 s backoff
        clock.now += 1
        poller.tick()
        assert api.looked_up[len(PROCESSES) :] == [PROCESSES[3]]
    finally:
        poller.stop()


def test_poller_looks_up_metadata_concurrently_and_only_for_its_shard() -> None:
    mine = [p for p in PROCESSES if shard_of(ref(p), 2) == 0]
    assert len(mine) >= 2
    api = MetadataRecorder(barrier_parties=len(mine))
    polling = PollingConfig(workers=len(PROCESSES))
    poller = Poller(api, every_process(), polling, shard=0, shard_total=2)
    try:
        poller.tick()
    finally:
        poller.stop()
    assert sorted(api.looked_up) == sorted(mine)
    assert {o.ref.object_id for o in poller.snapshot.objects} == set(mine)
