"""The state file: a round trip keeps what each tracker knows; a bad file never stops the exporter."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from anaplan_exporter.anaplan.models import ImportRowCounts, TaskResult
from anaplan_exporter.anaplan.timestamps import TimeCheck
from anaplan_exporter.polling.state import StateFileError, StateStore, decode, encode_object
from anaplan_exporter.polling.tracker import ObjectTracker
from anaplan_exporter.snapshot import StateFileStatus
from support.fake_anaplan import FakeAnaplan, finished, ref, running

OBJ = "118000000002"
T = 1_700_000_000.0
"""A plausible moment (2023): times before 2000 are dropped when a state file is read."""


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
        finished("A", T + 100.0, ok=False),
        finished("B", T + 200.0, ok=True, nested=nested, duration_seconds=2.0),
    )
    tracker = ObjectTracker(ref())
    tracker.poll(api, T + 300.0)
    api.add(OBJ, finished("C", T + 400.0, ok=False), running("D", T + 500.0))
    tracker.poll(api, T + 510.0)
    path = tmp_path / "state.json"
    store = StateStore.open(path)
    assert store.save([tracker])
    assert json.loads(path.read_text())["version"] == 1
    store.close()  # the exporter stops: its lock goes with it

    again = StateStore.open(path)
    restored = ObjectTracker(ref())
    assert again.restore(restored, T + 600.0)
    assert restored.saved_state() == tracker.saved_state()
    before, after = tracker.status(T + 600.0), restored.status(T + 600.0)
    assert after.task == before.task and after.steps == before.steps
    assert (after.last_success_time, after.last_failure_time) == (T + 200.0, T + 400.0)
    assert dict(after.completions) == {"success": 0, "failure": 1, "cancelled": 0}
    assert not again.restore(ObjectTracker(ref("118000000009")), T + 600.0)  # not in the file


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]  # no temp file
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
        (b"[" * 1000 + b"]" * 1000, "nested deeper than 64 levels"),
        (
            b'{"version": 1, "objects": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
            "nested deeper than 64",
        ),
        (b"\x00\xff garbage", "Expecting value"),
        (b'{"version": 2, "objects": {}}', "version 2, expected 1"),
        (b'["not", "an", "object"]', "not a JSON object"),
        (b'{"version": 1, "objects": {"a/b": {}}}', "is not workspace/model/type/object"),
        (
            b'{"version": 1, "objects": {"W/M/process/1": {"completions": {}, "counted": "x", "created": [], '
            b'"durations": []}}}',
            "counted: expected list",
        ),
        (  # only the current format: the rhythm's fields are not optional
            b'{"version": 1, "objects": {"W/M/process/1": {"completions": {}, "counted": [], "pending": [],'
            b' "history": []}}}',
            "'created' is missing",
        ),
        (b'{"version": 1, "objects": {}}', "'cloudworks' is missing"),  # no files of earlier releases
        (b'{"version": 1, "objects": {}, "cloudworks": {"x": {}}}', "is not integration/<id> or flow/<id>"),
        (
            b'{"version": 1, "objects": {}, "cloudworks": {"flow/f": {"watermark": 1.7e9, "completions": {},'
            b' "last_success": null, "last_failure": null, "run_errors": []}}}',
            "'errors_start' is missing",
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


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")  # endless: a read never ends


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_fifo, "it is a named pipe (FIFO), not a file"),
        (_device, "it is a character device, not a file"),
        (_socket, "it is a socket, not a file"),
    ],
)
def test_a_pipe_device_or_socket_at_the_path_is_a_start_up_error_never_read(
    tmp_path: Path, make: Callable[[Path], None], problem: str
) -> None:
    path = tmp_path / "state.json"
    make(path)
    mode = os.stat(path).st_mode
    message = _start_up_error(path)
    assert message == f"{path}: cannot read the state file: {problem}"
    assert os.stat(path).st_mode == mode  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_file_without_read_permission_is_a_start_up_error_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(b'{"version": 1, "objects": {}}')
    real_open = os.open

    def denied(file: object, flags: int, *args: int) -> int:  # as root, chmod 000 would not stop a read
        if str(file) == str(path) and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", denied)
    assert _start_up_error(path) == f"{path}: cannot read the state file: Permission denied"
    assert path.read_bytes() == b'{"version": 1, "objects": {}}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.lock"]


def test_a_named_pipe_at_the_temp_path_fails_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".state.json.tmp")
    message = _start_up_error(tmp_path / "state.json")
    assert message.startswith(f"{tmp_path / 'state.json'}: cannot write the state file: No such device")


def _start_up_error(path: Path) -> str:
    """The StateFileError of opening ``path``, failing (not hanging) if the open blocks."""
    outcome: list[BaseException | StateStore] = []

    def run() -> None:
        try:
            outcome.append(StateStore.open(path))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10.0)
    assert outcome, "opening the state file blocked"
    assert isinstance(outcome[0], StateFileError), outcome[0]
    assert "\n" not in str(outcome[0])
    return str(outcome[0])


def test_objects_no_longer_watched_are_kept_until_a_discovery_prunes_them(tmp_path: Path) -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", T + 100.0))
    api.add("112000000007", finished("I", T + 100.0))
    path = tmp_path / "state.json"
    first = StateStore.open(path)
    first.save([_tracker(api, now=T + 1_000.0), _tracker(api, "112000000007", now=T + 1_000.0)])
    first.close()

    second = StateStore.open(path)
    tracker = ObjectTracker(ref())
    second.restore(tracker, T + 2_000.0)
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
    api.add(OBJ, finished("A", T + 100.0))
    tracker = _tracker(api, now=T + 1_000.0)
    path = tmp_path / "state.json"
    store = StateStore.open(path)
    store.save([tracker])
    before = path.read_bytes()
    api.add(OBJ, finished("B", T + 200.0, ok=False))
    tracker.poll(api, T + 1_100.0)

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
    store.close()  # the crash ended the process
    with caplog.at_level(logging.INFO):
        restored = StateStore.open(path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert restored.restore(ObjectTracker(ref()), T + 1_200.0)


def test_demo_mode_keeps_its_state_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from anaplan_exporter.config.file import STATE_PATH_ENV
    from anaplan_exporter.demo import DemoSimulator, demo_config
    from anaplan_simulator.scenario import load_scenario

    monkeypatch.setenv(STATE_PATH_ENV, "/var/lib/anaplan-exporter/state.json")  # as in the image
    simulator = DemoSimulator("http://127.0.0.1:1", load_scenario(), threading.Thread(), object())
    assert demo_config(simulator).state.path is None


def test_impossible_saved_times_are_dropped_counted_and_never_written_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = FakeAnaplan()
    api.add(OBJ, finished("A", T + 100.0, ok=False), finished("B", T + 200.0, ok=True))
    tracker = _tracker(api, now=T + 300.0)
    entry = json.loads(encode_object(tracker.saved_state()))
    entry["last_success"] = 1e300
    entry["last_failure"] = float("nan")
    entry["newest"]["created"] = 253402300800.0  # the year 10000
    entry["with_result"]["result"]["start"] = -1.0
    entry["created"].append(10**400)  # beyond any float
    entry["durations"].append([253402300800, 5.0])
    entry["history"].append(["X", float("inf")])
    entry["pending"].append(["Y", T + 86_400.0 * 3])  # three days after the clock below
    path = tmp_path / "state.json"
    objects = {"/".join(ref().key): entry}
    path.write_text(json.dumps({"version": 1, "saved_at": T, "objects": objects, "cloudworks": {}}))

    store = StateStore(path, clock=lambda: T + 400.0)
    with caplog.at_level(logging.WARNING):
        store.load()
    assert store.ignored_times == 8
    assert "8 impossible times dropped" in caplog.text
    restored = ObjectTracker(ref())
    assert store.restore(restored, T + 400.0)  # the object keeps everything else
    status = restored.status(T + 400.0)
    assert status.last_success_time is None and status.last_failure_time is None
    assert status.task is not None and status.task.task_id == "B" and status.task.creation_time is None
    assert dict(status.completions) == {"success": 0, "failure": 0, "cancelled": 0}

    assert store.save([restored])
    text = path.read_text()
    for bad in ("1e+300", "253402300800", "NaN", "Infinity", "-1.0", str(T + 86_400.0 * 3)):
        assert bad not in text, bad
    assert decode(path.read_bytes(), TimeCheck(T + 400.0))  # and it reads back cleanly


def test_the_default_path_gets_its_folders_created_and_is_written_at_the_first_save(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".local" / "state" / "anaplan-exporter" / "state.json"
    store = StateStore.open(path, default=True)
    assert store.path == path
    assert path.parent.is_dir() and (path.parent.stat().st_mode & 0o777) == 0o700  # the user's alone
    assert not path.exists()
    api = FakeAnaplan()
    api.add(OBJ, finished("A", T + 100.0, ok=False))
    tracker = ObjectTracker(ref())
    tracker.poll(api, T + 200.0)
    assert store.save([tracker]) and path.exists()


@pytest.mark.parametrize("blocker", ["home", "folder"])
def test_an_unwritable_default_path_is_one_warning_and_the_state_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, blocker: str
) -> None:
    # A file where a folder should be stops even root (who may write anywhere).
    home = tmp_path / "home"
    path = home / ".local" / "state" / "anaplan-exporter" / "state.json"
    if blocker == "home":
        home.write_text("not a folder")
    else:
        path.parent.parent.mkdir(parents=True)
        path.parent.write_text("not a folder")
    with caplog.at_level(logging.INFO):
        store = StateStore.open(path, default=True)
    assert store.path is None and not store.save([])
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert "\n" not in line
    assert line.startswith(f"{path}: cannot write the state file: ")
    assert "Not a directory" in line or "File exists" in line  # the reason, as the system gives it
    assert "the state is kept in memory only" in line
    assert 'Set state.path (or ANAPLAN_EXPORTER_STATE_PATH) to a writable file, or state.path to ""' in line
    # The same path configured is refused, as before.
    with pytest.raises(StateFileError, match="cannot write the state file"):
        StateStore.open(path)


def test_without_a_home_folder_the_state_is_in_memory_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        store = StateStore.open(None, default=True)
    assert store.path is None
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("no state file: neither XDG_STATE_HOME nor HOME is set")
    caplog.clear()
    StateStore.open(None)  # state.path "": chosen, so nothing to say
    assert not caplog.records


def test_a_default_file_that_cannot_be_read_still_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "anaplan-exporter" / "state.json"
    path.parent.mkdir()
    os.mkfifo(path)
    with pytest.raises(StateFileError, match="named pipe"):
        StateStore.open(path, default=True)


def test_two_exporters_saving_to_one_file_is_one_error_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer that holds no lock (a release before the lock, another machine on a file system that cannot
    lock) saves over this exporter's counts, so a restart may lose a failure. Said once; saving goes on."""
    path = tmp_path / "state.json"
    api = FakeAnaplan()
    api.add(OBJ, finished("A", T + 100.0, ok=False))
    tracker = ObjectTracker(ref())
    tracker.poll(api, T + 200.0)
    mine, other = StateStore.open(path), StateStore(path)
    other.load()
    with caplog.at_level(logging.INFO):
        assert mine.save([tracker])
        api.add(OBJ, finished("B", T + 300.0, ok=True))
        tracker.poll(api, T + 400.0)
        assert mine.save([tracker])  # its own file: nothing to say
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert other.save([tracker])  # the file changed under it
        api.add(OBJ, finished("C", T + 500.0, ok=True))
        tracker.poll(api, T + 600.0)
        assert mine.save([tracker]) and other.save([tracker])  # each warned once, both still save
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 2  # once per store: "other" at its first save, "mine" at its third
    assert errors[0] == (
        f"state file {path} was written by another process since this exporter last read or wrote it: two "
        "exporters share it and overwrite each other's counts; give each its own state.path"
    )


# -- the lock and the health the metrics show ------------------------------------------------------------


def test_a_configured_path_another_exporter_holds_is_a_one_line_start_up_error(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = StateStore.open(path)
    with pytest.raises(StateFileError) as caught:
        StateStore.open(path)
    assert str(caught.value) == (
        f"{path}: cannot use the state file: it is in use by another exporter (pid {os.getpid()}), which "
        f"holds {path}.lock; give each exporter its own state.path"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json.lock"]  # no temp file touched
    first.close()
    StateStore.open(path).close()  # free once the first one stopped


def test_a_default_path_another_exporter_holds_is_one_warning_and_the_state_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "anaplan-exporter" / "state.json"
    first = StateStore.open(path, default=True)
    api = FakeAnaplan()
    api.add(OBJ, finished("A", T + 100.0, ok=False))
    tracker = ObjectTracker(ref())
    tracker.poll(api, T + 200.0)
    assert first.save([tracker])
    before = path.read_bytes()
    with caplog.at_level(logging.INFO):
        second = StateStore.open(path, default=True)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"state file {path} is in use by another exporter (pid {os.getpid()}): this exporter keeps its state "
        "in memory only: a run that fails while the exporter restarts may not page; to keep it, give each "
        "exporter a file of its own with state.path (or ANAPLAN_EXPORTER_STATE_PATH)"
    )
    assert second.path is None and not second.save([tracker])
    assert not second.restore(ObjectTracker(ref()), T + 300.0)  # the first one's counts are not taken
    assert second.status == StateFileStatus(
        str(path), "in_use", f"in use by another exporter (pid {os.getpid()})"
    )
    assert not second.status.kept
    assert path.read_bytes() == before
    assert first.status.kept and first.status.path == str(path)
    first.close()


def test_the_status_says_why_the_state_is_in_memory_only(tmp_path: Path) -> None:
    assert StateStore.open(None).status == StateFileStatus("", "configured_off", 'state.path is ""')
    assert StateStore.open(None, default=True).status == StateFileStatus(
        "", "no_home", "neither XDG_STATE_HOME nor HOME set"
    )
    home = tmp_path / "home"
    home.write_text("not a folder")
    path = home / ".local" / "state" / "anaplan-exporter" / "state.json"
    status = StateStore.open(path, default=True).status
    assert (status.path, status.memory_only_reason) == (str(path), "default_unwritable")
    assert status.detail.startswith("cannot write the state file: ") and "\n" not in status.detail


def test_saves_show_when_they_last_succeeded_and_how_many_failed(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    clock = [T]
    store = StateStore(folder / "state.json", clock=lambda: clock[0])
    assert store.status == StateFileStatus(str(folder / "state.json"))  # kept, not saved yet
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    tracker = _tracker(api)
    assert store.save([tracker])
    assert store.status.last_save_time == T and store.status.save_failures == 0
    folder.rename(tmp_path / "gone")
    api.add(OBJ, finished("B", 1_001.0, ok=False))
    tracker.poll(api, 1_002.0)
    clock[0] = T + 10
    assert not store.save([tracker])
    assert not store.save([tracker])
    failing = store.status
    assert (failing.last_save_time, failing.save_failures) == (T, 2)
    assert failing.last_error == "No such file or directory"
    (tmp_path / "gone").rename(folder)
    clock[0] = T + 20
    assert store.save([tracker])
    assert store.status == StateFileStatus(str(folder / "state.json"), last_save_time=T + 20, save_failures=2)


def test_a_file_system_that_cannot_lock_is_one_warning_and_the_file_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    path = tmp_path / "state.json"
    with caplog.at_level(logging.INFO):
        store = StateStore.open(path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"state file {path}: cannot lock {path}.lock (No locks available): two exporters given this file "
        "would overwrite each other's counts unnoticed until a save"
    ]
    assert store.status.kept and store.path == path
    api = FakeAnaplan()
    api.add(OBJ, finished("A", 100.0))
    assert store.save([_tracker(api)])
