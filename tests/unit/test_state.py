"""The state file: a round trip keeps what each tracker knows; a bad file never stops the exporter."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from anaplan_exporter.anaplan.models import ImportRowCounts, TaskResult
from anaplan_exporter.polling.state import StateFileError, StateStore, decode
from anaplan_exporter.polling.tracker import ObjectTracker

from .fakes import FakeAnaplan, finished, ref, running

OBJ = "118000000002"


def _tracker(api: FakeAnaplan, object_id: str = OBJ, now: float = 1_000.0) -> ObjectTracker:
    tracker = ObjectTracker(ref(object_id))
    assert tracker.poll(api, now)
    return tracker


def test_round_trip_restores_counts_outcomes_and_the_newest_task(tmp_path: Path) -> None:
    api = FakeAnaplan()
    nested = (
        TaskResult(True, object_id="112000000007", duration_seconds=1.5, row_counts=ImportRowCounts(3, 3)),
    )
    api.add(
        OBJ,
        finished("A", 100.0, ok=False),
        finished("B", 200.0, ok=True, nested=nested, duration_seconds=2.0),
    )
    tracker = ObjectTracker(ref())
    tracker.poll(api, 300.0)
    api.add(OBJ, finished("C", 400.0, ok=False), running("D", 500.0))
    tracker.poll(api, 510.0)
    path = tmp_path / "state.json"
    store = StateStore.open(path)
    assert store.save([tracker])
    assert json.loads(path.read_text())["version"] == 1

    again = StateStore.open(path)
    restored = ObjectTracker(ref())
    assert again.restore(restored, 600.0)
    assert restored.saved_state() == tracker.saved_state()
    before, after = tracker.status(600.0), restored.status(600.0)
    assert after.task == before.task and after.steps == before.steps
    assert (after.last_success_time, after.last_failure_time) == (200.0, 400.0)
    assert dict(after.completions) == {"success": 0, "failure": 1, "cancelled": 0}
    assert not again.restore(ObjectTracker(ref("118000000009")), 600.0)  # not in the file


def test_written_atomically_only_when_something_changed_and_not_more_often_than_the_interval(
    tmp_path: Path,
) -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = _tracker(api)
    path = tmp_path / "state.json"
    store = StateStore.open(path, save_interval=5.0)
    assert store.save_if_due([tracker], 1_000.0)
    store.wait()
    assert not store.save_if_due([tracker], 1_010.0)  # nothing changed
    api.add(OBJ, finished("B", 1_011.0, ok=False))
    tracker.poll(api, 1_012.0)
    assert not store.save_if_due([tracker], 1_013.0)  # changed, but within 5 s of the last attempt
    assert store.save_if_due([tracker], 1_016.0)
    store.wait()
    assert store.saves == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # no temp file left behind
    assert decode(path.read_bytes())[ref().key].completions == {"failure": 1}


class SlowDisk:
    """Writes of the state file block until ``free`` is set; ``writers`` names the threads that wrote."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import anaplan_exporter.polling.state as state_module

        self.free = threading.Event()
        self.writers: list[str] = []
        self._write = state_module._write_synced
        monkeypatch.setattr(state_module, "_write_synced", self._blocked_write)

    def _blocked_write(self, target: Path, data: bytes) -> None:
        self.writers.append(threading.current_thread().name)
        assert self.free.wait(10)
        self._write(target, data)


def test_a_due_save_is_written_in_the_background_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = _tracker(api)
    path = tmp_path / "state.json"
    store = StateStore.open(path, save_interval=5.0)
    disk = SlowDisk(monkeypatch)
    assert store.save_if_due([tracker], 1_000.0)  # returns while the disk is still busy
    assert store.writing and not path.exists()
    api.add(OBJ, finished("B", 1_001.0, ok=False))
    tracker.poll(api, 1_002.0)
    assert not store.save_if_due([tracker], 1_010.0)  # due and changed, but the first save is not written
    disk.free.set()
    store.wait(10)
    assert not store.writing and store.saves == 1
    assert disk.writers == ["state-writer"]
    assert store.save_if_due([tracker], 1_011.0)  # the next publish catches up
    store.wait(10)
    assert decode(path.read_bytes())[ref().key].completions == {"failure": 1}


def test_the_save_at_shutdown_waits_for_the_background_one_then_writes_the_last_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = _tracker(api)
    path = tmp_path / "state.json"
    store = StateStore.open(path)
    disk = SlowDisk(monkeypatch)
    assert store.save_if_due([tracker], 1_000.0)
    api.add(OBJ, finished("B", 1_001.0, ok=False))
    tracker.poll(api, 1_002.0)
    threading.Timer(0.2, disk.free.set).start()
    assert store.save([tracker])  # after the background save, and with the newest state
    assert store.saves == 2
    assert decode(path.read_bytes())[ref().key].completions == {"failure": 1}


def test_a_tracker_that_never_listed_its_tasks_is_not_saved(tmp_path: Path) -> None:
    api = FakeAnaplan()
    api.failing[OBJ] = ConnectionError("down")  # type: ignore[assignment]
    tracker = ObjectTracker(ref())
    tracker.poll(api, 1.0)
    store = StateStore.open(tmp_path / "state.json")
    assert not store.save([tracker])
    assert not (tmp_path / "state.json").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"version": 1, "objects": {"W/M/process/1180', "Unterminated string"),
        (b"", "Expecting value"),
        (b"\x00\xff garbage", "Expecting value"),
        (b'{"version": 2, "objects": {}}', "version 2, expected 1"),
        (b'["not", "an", "object"]', "not a JSON object"),
        (b'{"version": 1, "objects": {"a/b": {}}}', "is not workspace/model/type/object"),
        (
            b'{"version": 1, "objects": {"W/M/process/1": {"completions": {}, "counted": "x"}}}',
            "counted: expected list",
        ),
        (  # only the current format: the rhythm's fields are not optional
            b'{"version": 1, "objects": {"W/M/process/1": {"completions": {}, "counted": [], "pending": [],'
            b' "history": []}}}',
            "'created' is missing",
        ),
    ],
)
def test_a_bad_file_is_one_log_line_moved_aside_and_a_fresh_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, problem: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with caplog.at_level(logging.INFO, logger="anaplan_exporter.polling.state"):
        store = StateStore.open(path)
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, caplog.text
    message = errors[0].getMessage()
    assert "\n" not in message and problem in message and "starting fresh" in message
    assert not path.exists()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("state.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == content and str(aside[0]) in message
    assert not store.restore(ObjectTracker(ref()), 1.0)
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    assert store.save([_tracker(api)])  # and the next save writes a good file in its place
    assert list(decode(path.read_bytes())) == [ref().key]


def test_a_missing_file_starts_fresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        store = StateStore.open(tmp_path / "state.json")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not store.restore(ObjectTracker(ref()), 1.0)


def test_an_unwritable_path_is_a_one_line_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(StateFileError) as caught:
        StateStore.open(tmp_path / "missing-folder" / "state.json")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'missing-folder' / 'state.json'}: cannot write the state file:")
    assert "No such file or directory" in message
    with pytest.raises(StateFileError, match="it is a folder"):
        StateStore.open(tmp_path)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(StateFileError, match="Permission denied"):
            StateStore.open(locked / "state.json")


def test_objects_no_longer_watched_are_kept_until_a_discovery_prunes_them(tmp_path: Path) -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    api.add("112000000007", finished("I", 100.0))
    path = tmp_path / "state.json"
    first = StateStore.open(path)
    first.save([_tracker(api), _tracker(api, "112000000007")])

    second = StateStore.open(path)
    tracker = ObjectTracker(ref())
    second.restore(tracker, 2_000.0)
    assert not second.save([tracker])  # the file holds exactly this already
    assert set(decode(path.read_bytes())) == {ref().key, ref("112000000007").key}
    second.prune([ref().key])
    assert second.save([tracker])
    assert set(decode(path.read_bytes())) == {ref().key}


def test_a_failed_save_is_logged_once_and_retried(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    store = StateStore.open(folder / "state.json")
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = _tracker(api)
    folder.rename(tmp_path / "gone")
    with caplog.at_level(logging.INFO, logger="anaplan_exporter.polling.state"):
        assert not store.save([tracker])
        assert not store.save([tracker])
        (tmp_path / "gone").rename(folder)
        assert store.save([tracker])
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "not saved" in m]) == 1
    assert any("saved again" in m for m in messages)


def test_in_memory_store_keeps_nothing(tmp_path: Path) -> None:
    store = StateStore.open(None)
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    assert not store.save([_tracker(api)])
    assert not store.save_if_due([_tracker(api)], 1.0)
    assert list(tmp_path.iterdir()) == []


class Crash(BaseException):
    """The process dying at this instant (nothing after it runs)."""


@pytest.mark.parametrize("where", ["writing the temp file", "before the rename"])
def test_a_crash_while_saving_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    import anaplan_exporter.polling.state as state_module

    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = _tracker(api)
    path = tmp_path / "state.json"
    store = StateStore.open(path)
    store.save([tracker])
    before = path.read_bytes()
    api.add(OBJ, finished("B", 200.0, ok=False))
    tracker.poll(api, 1_100.0)

    if where == "writing the temp file":

        def half_written(target: Path, data: bytes) -> None:
            target.write_bytes(data[: len(data) // 2])
            raise Crash

        monkeypatch.setattr(state_module, "_write_synced", half_written)
    else:

        def no_rename(src: object, dst: object) -> None:
            raise Crash

        monkeypatch.setattr("anaplan_exporter.polling.state.os.replace", no_rename)
    with pytest.raises(Crash):
        store.save([tracker])
    monkeypatch.undo()
    assert path.read_bytes() == before
    with caplog.at_level(logging.INFO):
        restored = StateStore.open(path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert restored.restore(ObjectTracker(ref()), 1_200.0)


def test_demo_mode_keeps_its_state_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from anaplan_exporter.config.file import STATE_PATH_ENV
    from anaplan_exporter.demo import DemoSimulator, demo_config
    from anaplan_simulator.scenario import load_scenario

    monkeypatch.setenv(STATE_PATH_ENV, "/var/lib/anaplan-exporter/state.json")  # as in the image
    simulator = DemoSimulator("http://127.0.0.1:1", load_scenario(), threading.Thread(), object())
    assert demo_config(simulator).state.path is None
