"""The state file: what each tracker knows, kept across restarts so that nothing is counted twice or lost.

A failure that happens while the exporter is down is counted once when it comes back (the trackers carry on
from their saved state instead of taking a new baseline), finished tasks already known are not fetched again,
and the last success and failure survive. The file is JSON with ``"version": 1``, written atomically (a temp
file in the same folder, fsync, rename, fsync of the folder) at most every ``save_interval`` and at shutdown,
and only when something changed. It also keeps each watched CloudWorks integration's and flow's counters,
last success and failure, the start of the newest run counted (so each run is counted once across restarts)
and the errors read for its latest failed run. A missing file starts fresh; an unreadable one (not this
format: another ``version``, a field missing) is moved aside with one log line and the exporter starts fresh
as well. One that cannot be read at all (no permission, or a folder, named pipe, device or socket at the
path) stops the start instead, left as it is: its counts may be good. Objects no longer watched leave the file
after a discovery that resolved every target (a failed one cannot tell a removed object from an unreachable
tenant); integrations and flows after a successful read of the CloudWorks lists.

One exporter per file: ``open`` locks it for the life of the process (``state_lock``). A second exporter on a
configured path stops with one line; on the default path (per user, not per configuration) it keeps its
state in memory after one warning. A save that still finds the file written by someone else since this store
last read or wrote it (a writer that took no lock: another machine on a shared folder, a file system without
locks) says so once. ``status`` (kept or why not, the last save, failed saves) feeds the snapshot.

Saves while running are written by a short-lived background thread: the scheduling thread only takes each
tracker's immutable saved state (a few milliseconds at 10,000 objects), so encoding and writing a file of
tens of megabytes never holds up polling. One save is written at a time; a save that falls due meanwhile
waits for the next publish. The save at shutdown waits for the one under way, then writes the last word.
"""

from __future__ import annotations

import json
import logging
import math
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..anaplan.models import ImportRowCounts, Task, TaskResult, TaskState
from ..anaplan.nesting import loads_json
from ..anaplan.timestamps import TimeCheck
from ..config.file import STATE_PATH_ENV
from ..snapshot import (
    CONFIGURED_OFF,
    DEFAULT_UNWRITABLE,
    IN_USE,
    NO_HOME,
    CloudWorksRunError,
    StateFileStatus,
)
from .cloudworks_item import CloudWorksItem, CloudWorksState
from .rhythm import Rhythm
from .state_lock import LockUnsupported, StateFileInUse, StateLock, lock_path
from .tracker import ObjectTracker, TrackerState

log = logging.getLogger(__name__)

VERSION = 1
Key = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class _Save:
    """Everything one save writes, taken on the scheduling thread (the trackers' states are immutable)."""

    current: dict[Key, tuple[int, TrackerState]]
    """Each saved tracker's revision and state."""
    unclaimed: dict[Key, TrackerState]
    """Objects read from the file that no tracker has claimed (yet)."""
    wanted: dict[Key, int | None]
    """What the file will hold: each object's revision (None: unclaimed)."""
    cloudworks: dict[str, CloudWorksState]
    """Every CloudWorks integration's and flow's state (``integration/<id>``, ``flow/<id>``)."""


class StateFileError(Exception):
    """The state file cannot be written or read: a one-line start-up error naming the path."""

    def __init__(self, path: Path, reason: str, action: str = "write") -> None:
        super().__init__(f"{path}: cannot {action} the state file: {reason}")


class StateStore:
    """Restores trackers from the file read at start and saves them back; ``path=None`` keeps nothing."""

    def __init__(
        self, path: Path | None, save_interval: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.save_interval = save_interval
        self._clock = clock
        self._loaded: dict[Key, TrackerState] = {}
        """Saved objects not (yet) claimed by a tracker: written back until a discovery prunes them."""
        self._cloudworks_loaded: dict[str, CloudWorksState] = {}
        """Saved integrations and flows not (yet) claimed: written back until a read of the lists prunes
        them."""
        self._cloudworks_written: dict[str, CloudWorksState] = {}
        self._written: dict[Key, int | None] = {}
        """What the file holds: each object's tracker revision when written (None: unclaimed)."""
        self._fragments: dict[Key, tuple[int, str]] = {}
        self._last_attempt = -math.inf
        self._failing = False
        self._lock = threading.Lock()
        """Held while a file is written: by the background writer, or by the save at shutdown."""
        self._writer: threading.Thread | None = None
        self.ignored_times = 0
        """Impossible times the file held when it was read, dropped (``anaplan_ignored_values_total``)."""
        self._rewrite = False
        """The file still holds times dropped when it was read: the next save writes it even if unchanged."""
        self.saves = 0
        """Files written so far (tests and the benchmark read it)."""
        self._seen: _Stamp = _UNKNOWN
        """The file as this store last read or wrote it; different at a save: another process writes it."""
        self._shared = False
        self._file_lock: StateLock | None = None
        """This process's lock on the file (``open`` takes it; held until ``close`` or the process ends)."""
        self._status = (
            StateFileStatus(str(path))
            if path is not None
            else StateFileStatus(memory_only_reason=CONFIGURED_OFF)
        )

    @classmethod
    def open(cls, path: Path | None, save_interval: float = 5.0, *, default: bool = False) -> StateStore:
        """Lock ``path`` and check that it can be written (raising StateFileError), then read what it holds.

        The lock (``state_lock``) is held until ``close`` or the end of the process: a second exporter given
        the same path stops with one line naming it and the first one's pid.

        ``default``: ``path`` is the conventional default, not configured. Its folders are created, and when
        they or the file cannot be written, or another exporter holds it, the state is kept in memory after
        one warning naming the path and the reason: a default the user never chose should not stop the
        exporter, which works without it. A default file that exists but cannot be read still stops the
        start (it may hold good counts)."""
        if path is None:
            if default:
                log.warning(
                    "no state file: neither XDG_STATE_HOME nor HOME is set, so the state is kept in memory "
                    "only%s",
                    _MEMORY_ONLY,
                )
                return cls._memory_only(save_interval, NO_HOME, None, "neither XDG_STATE_HOME nor HOME set")
            return cls._memory_only(save_interval, CONFIGURED_OFF, None, 'state.path is ""')
        store = cls(path, save_interval)
        _check_not_special(path)  # a named pipe, device or socket is never opened, default or not
        try:
            if default:
                create_folder(path)
            store._take_lock(default)  # before the temp file: the holder may be writing its own right now
            store.check_writable()
        except StateFileInUse as exc:  # only for the default: a configured path raised StateFileError
            log.warning(
                "state file %s is in use by %s: this exporter keeps its state in memory only%s; to keep it, "
                "give each exporter a file of its own with state.path (or %s)",
                path,
                _holder(exc.holder),
                _AT_RISK,
                STATE_PATH_ENV,
            )
            return cls._memory_only(save_interval, IN_USE, path, f"in use by {_holder(exc.holder)}")
        except StateFileError as exc:
            store.close()
            if not default:
                raise
            log.warning("%s; the state is kept in memory only%s", exc, _MEMORY_ONLY)
            return cls._memory_only(
                save_interval, DEFAULT_UNWRITABLE, path, str(exc).removeprefix(f"{path}: ")
            )
        try:
            store.load()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _memory_only(cls, save_interval: float, reason: str, path: Path | None, detail: str) -> StateStore:
        store = cls(None, save_interval)
        store._status = StateFileStatus("" if path is None else str(path), reason, detail)
        return store

    @property
    def status(self) -> StateFileStatus:
        """Whether the state is kept in a file, and how its saves go (read by the poller for the snapshot)."""
        return self._status

    def close(self) -> None:
        """Release the file's lock (after the last save): another exporter may take the file from now on."""
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None

    # -- start-up -------------------------------------------------------------------------------------

    def _take_lock(self, default: bool) -> None:
        """Lock the file for this process: StateFileInUse (default path) or StateFileError (configured) when
        another process holds it. A file system that cannot lock (some network ones) is one warning: the
        exporter works on without the lock, as it did before there was one."""
        assert self.path is not None
        try:
            self._file_lock = StateLock.acquire(self.path)
        except StateFileInUse as exc:
            if default:
                raise
            raise StateFileError(
                self.path,
                f"it is in use by {_holder(exc.holder)}, which holds {lock_path(self.path)}; give each "
                "exporter its own state.path",
                "use",
            ) from None
        except LockUnsupported as exc:
            log.warning(
                "state file %s: cannot lock %s (%s): two exporters given this file would overwrite each "
                "other's counts unnoticed until a save",
                self.path,
                lock_path(self.path),
                exc,
            )
        except OSError as exc:
            raise StateFileError(self.path, f"{exc.strerror or exc} (in {self.path.parent})") from None

    @property
    def _temp(self) -> Path:
        assert self.path is not None
        return self.path.with_name(f".{self.path.name}.tmp")

    def check_writable(self) -> None:
        """Create (and remove) the temp file the saves use: a bad path fails now, not at the first save."""
        assert self.path is not None
        if self.path.is_dir():
            raise StateFileError(self.path, "it is a folder")
        try:
            _write_synced(self._temp, b"{}")
            self._temp.unlink()
        except OSError as exc:
            raise StateFileError(self.path, f"{exc.strerror or exc} (in {self.path.parent})") from None

    def load(self) -> None:
        """Read the file; unusable content is one log line, the file moved aside and a fresh start.

        A file that cannot be read at all raises StateFileError and is left untouched.
        """
        assert self.path is not None
        self._read()
        self._seen = _stamp(self.path)

    def _read(self) -> None:
        assert self.path is not None
        try:
            data = _read_file(self.path)
        except FileNotFoundError:
            log.info("state file %s does not exist yet: starting fresh", self.path)
            return
        except _NotAFile as exc:
            raise StateFileError(self.path, str(exc), "read") from None
        except OSError as exc:  # no permission, an I/O error: the file itself may be good, so it stays
            raise StateFileError(self.path, str(exc.strerror or exc), "read") from None
        times = TimeCheck(self._clock())
        try:
            self._loaded, self._cloudworks_loaded = decode_file(data, times)
        except (ValueError, TypeError, KeyError) as exc:
            self._set_aside(str(exc))
            return
        self.ignored_times = times.refused
        self._rewrite = times.refused > 0
        if times.refused:
            log.warning(
                "state file %s: %d impossible times dropped (before 2000, over a day ahead, or not finite)",
                self.path,
                times.refused,
            )
        self._written = dict.fromkeys(self._loaded)
        self._cloudworks_written = dict(self._cloudworks_loaded)
        log.info(
            "state file %s: %d objects and %d CloudWorks integrations and flows restored",
            self.path,
            len(self._loaded),
            len(self._cloudworks_loaded),
        )

    def _set_aside(self, problem: str) -> None:
        assert self.path is not None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
            kept = f"moved to {aside}"
        except OSError as exc:
            kept = f"could not be moved aside ({exc.strerror or exc})"
        log.error("state file %s is unusable (%s): %s; starting fresh", self.path, _one_line(problem), kept)

    # -- while running --------------------------------------------------------------------------------

    def restore(self, tracker: ObjectTracker, now: float) -> bool:
        """Give a new tracker its saved state, if the file had one for its object."""
        saved = self._loaded.pop(tracker.ref.key, None)
        if saved is None:
            return False
        tracker.restore(saved, now)
        self._written[tracker.ref.key] = tracker.revision
        return True

    def restore_cloudworks(self, item: CloudWorksItem) -> bool:
        """Give a new CloudWorks integration or flow its saved state, if the file had one."""
        saved = self._cloudworks_loaded.pop(f"{item.kind}/{item.id}", None)
        if saved is None:
            return False
        item.restore(saved)
        return True

    def prune_cloudworks(self, watched: Iterable[str]) -> None:
        """Forget saved integrations and flows no longer watched (after a successful read of the lists)."""
        keep = set(watched)
        for key in [k for k in self._cloudworks_loaded if k not in keep]:
            del self._cloudworks_loaded[key]

    def prune(self, watched: Iterable[Key]) -> None:
        """Forget saved objects that are no longer watched (call after a discovery that fully succeeded)."""
        keep = set(watched)
        for key in [k for k in self._loaded if k not in keep]:
            del self._loaded[key]

    def save_if_due(
        self,
        trackers: Iterable[ObjectTracker],
        now: float,
        cloudworks: Mapping[str, CloudWorksState] | None = None,
    ) -> bool:
        """Start writing the file in the background when ``save_interval`` has passed since the last attempt,
        something changed and no earlier save is still being written; True if a save was started."""
        if self.path is None or now - self._last_attempt < self.save_interval or self.writing:
            return False
        self._last_attempt = now
        save = self._take(trackers, cloudworks or {})
        if save is None:
            return False
        self._writer = threading.Thread(
            target=self._write, args=(self.path, save), name="state-writer", daemon=True
        )
        self._writer.start()
        return True

    @property
    def writing(self) -> bool:
        """True while a background save is being written."""
        return self._writer is not None and self._writer.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Until the background save under way (if any) is written."""
        if self._writer is not None:
            self._writer.join(timeout)

    def save(
        self, trackers: Iterable[ObjectTracker], cloudworks: Mapping[str, CloudWorksState] | None = None
    ) -> bool:
        """Write the file now (after the background save under way) if anything changed since the last
        write; False if nothing was written."""
        if self.path is None:
            return False
        self.wait()
        save = self._take(trackers, cloudworks or {})
        return save is not None and self._write(self.path, save)

    def _take(
        self, trackers: Iterable[ObjectTracker], cloudworks: Mapping[str, CloudWorksState]
    ) -> _Save | None:
        """What a save would write, or None when the file already holds it."""
        current: dict[Key, tuple[int, TrackerState]] = {}
        for tracker in trackers:
            revision = tracker.revision  # first: the state read next is at least this new
            state = tracker.saved_state()
            if state.baseline:
                current[tracker.ref.key] = (revision, state)
        unclaimed = {k: s for k, s in self._loaded.items() if k not in current}
        wanted: dict[Key, int | None] = {key: revision for key, (revision, _) in current.items()}
        wanted.update(dict.fromkeys(unclaimed))
        integrations = {**self._cloudworks_loaded, **cloudworks}
        if wanted == self._written and integrations == self._cloudworks_written and not self._rewrite:
            return None
        return _Save(current, unclaimed, wanted, integrations)

    def _write(self, path: Path, save: _Save) -> bool:
        with self._lock:
            parts = [
                f"{json.dumps('/'.join(key))}:{self._fragment(key, revision, state)}"
                for key, (revision, state) in save.current.items()
            ]
            parts.extend(f"{json.dumps('/'.join(k))}:{encode_object(s)}" for k, s in save.unclaimed.items())
            cloudworks = ",".join(
                f"{json.dumps(key)}:{encode_cloudworks(state)}" for key, state in save.cloudworks.items()
            )
            saved_at = self._clock()
            text = (
                f'{{"version":{VERSION},"saved_at":{saved_at!r},"objects":{{{",".join(parts)}}},'
                f'"cloudworks":{{{cloudworks}}}}}\n'
            )
            self._check_not_shared(path)
            try:
                _write_synced(self._temp, text.encode())
                os.replace(self._temp, path)
                _sync_folder(path.parent)
                self._seen = _stamp(path)
            except OSError as exc:
                if not self._failing:
                    log.error("state file %s not saved: %s (trying again)", path, exc.strerror or exc)
                self._failing = True
                failed = self._status
                self._status = replace(
                    failed, save_failures=failed.save_failures + 1, last_error=str(exc.strerror or exc)
                )
                return False
            if self._failing:
                log.info("state file %s saved again", path)
            self._failing = False
            self._status = replace(self._status, last_save_time=saved_at, last_error="")
            self._rewrite = False
            self._written = save.wanted
            self._cloudworks_written = save.cloudworks
            self._fragments = {k: v for k, v in self._fragments.items() if k in save.current}
            self.saves += 1
            return True

    def _check_not_shared(self, path: Path) -> None:
        """One error line when the file changed since this store last read or wrote it: two exporters (two
        configurations run by one user, or two replicas given one path) save over each other's counts."""
        if self._shared or self._seen is _UNKNOWN:
            return
        found = _stamp(path)
        if isinstance(found, tuple) and found != self._seen:  # a file removed meanwhile: someone's cleanup
            self._shared = True
            log.error(
                "state file %s was written by another process since this exporter last read or wrote it: two "
                "exporters share it and overwrite each other's counts; give each its own state.path",
                path,
            )

    def _fragment(self, key: Key, revision: int, state: TrackerState) -> str:
        """The tracker's JSON, re-encoded only after it changed (most objects are idle most of the time)."""
        cached = self._fragments.get(key)
        if cached is not None and cached[0] == revision:
            return cached[1]
        fragment = encode_object(state)
        self._fragments[key] = (revision, fragment)
        return fragment


_AT_RISK = ": a run that fails while the exporter restarts may not page"
_MEMORY_ONLY = (
    f"{_AT_RISK}. Set state.path (or {STATE_PATH_ENV}) to a writable file, or state.path to "
    '"" to keep the state in memory without this warning'
)


def _holder(pid: int | None) -> str:
    return "another exporter" if pid is None else f"another exporter (pid {pid})"


def _check_not_special(path: Path) -> None:
    """StateFileError for a named pipe, device or socket at ``path`` (a folder is left to the write check):
    checked before the lock, so that nothing is created beside what someone left there."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing, or not readable: the checks after the lock say which
    if not stat.S_ISDIR(mode):
        try:
            _check_regular(mode)
        except _NotAFile as exc:
            raise StateFileError(path, str(exc), "read") from None


def create_folder(path: Path) -> None:
    """Create the folders of the state file at ``path`` (the last one private to the user), if missing."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateFileError(
            path, f"{exc.strerror or exc} (creating {exc.filename or path.parent})"
        ) from None


class _NotAFile(OSError):
    """Something other than a regular file at the path; its ``str`` says what."""


_KINDS = (
    (stat.S_ISDIR, "it is a folder"),
    (stat.S_ISFIFO, "it is a named pipe (FIFO), not a file"),
    (stat.S_ISCHR, "it is a character device, not a file"),
    (stat.S_ISBLK, "it is a block device, not a file"),
    (stat.S_ISSOCK, "it is a socket, not a file"),
)


def _check_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise _NotAFile(next((what for test, what in _KINDS if test(mode)), "it is not a regular file"))


def _read_file(path: Path) -> bytes:
    """The content of a regular file. A named pipe or device is refused before it is opened, and opened
    non-blocking in case one takes its place meanwhile: a read from either could wait forever."""
    _check_regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as file:
        _check_regular(os.fstat(file.fileno()).st_mode)
        return file.read()


class _Unknown:
    """The state file's identity is not known (not read yet, or stat failed): nothing to compare."""


_UNKNOWN = _Unknown()
_Stamp = tuple[int, int] | None | _Unknown
"""A file's inode and modification time; None: there is no file."""


def _stamp(path: Path) -> _Stamp:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError:
        return _UNKNOWN
    return found.st_ino, found.st_mtime_ns


def _write_synced(path: Path, data: bytes) -> None:
    # Non-blocking: opening a named pipe someone left at the temp path fails at once instead of waiting.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NONBLOCK", 0), 0o666)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a folder: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


# -- encoding -------------------------------------------------------------------------------------------


def encode_object(state: TrackerState) -> str:
    return json.dumps(
        {
            "counted": list(state.counted),
            "pending": [[task_id, created] for task_id, created in state.pending.items()],
            "history": [[task_id, created] for task_id, created in state.history],
            "newest": _encode_task(state.newest),
            "with_result": _encode_task(state.with_result),
            "last_success": state.last_success,
            "last_failure": state.last_failure,
            "completions": dict(state.completions),
            "floor": state.floor,
            "created": [round(t) for t in state.rhythm.created],
            "durations": [
                [round(created), seconds]
                for created, seconds in zip(state.rhythm.finished, state.rhythm.durations, strict=True)
            ],
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def _encode_task(task: Task | None) -> dict[str, Any] | None:
    if task is None:
        return None
    return {
        "id": task.task_id,
        "state": task.state.value,
        "raw_state": task.raw_state,
        "progress": task.progress,
        "current_step": task.current_step,
        "created": task.creation_time,
        "cancelled_by": task.cancelled_by,
        "result": None if task.result is None else _encode_result(task.result),
    }


def _encode_result(result: TaskResult) -> dict[str, Any]:
    """The result without its details (messages): what the metrics show, not what a person reads."""
    return {
        "successful": result.successful,
        "failure_dump": result.failure_dump_available,
        "object_id": result.object_id,
        "object_name": result.object_name,
        "duration": result.duration_seconds,
        "start": result.start_time,
        "rows": None if result.row_counts is None else result.row_counts.as_dict(),
        "nested": [_encode_result(n) for n in result.nested],
    }


def decode(data: bytes, times: TimeCheck | None = None) -> dict[Key, TrackerState]:
    """The objects of a state file (see :func:`decode_file`)."""
    return decode_file(data, times)[0]


def decode_file(
    data: bytes, times: TimeCheck | None = None
) -> tuple[dict[Key, TrackerState], dict[str, CloudWorksState]]:
    """The objects and the CloudWorks integrations and flows of a state file; ValueError (or TypeError,
    KeyError) for anything unexpected.

    A time outside the plausible range (``anaplan.timestamps``; against the wall clock unless ``times`` says
    otherwise) is dropped and counted in ``times``: the object keeps everything else.
    """
    check = times if times is not None else TimeCheck(time.time())
    doc = loads_json(data)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if doc.get("version") != VERSION:
        raise ValueError(f"version {doc.get('version')!r}, expected {VERSION}")
    objects = _get(doc, "objects", dict)
    out: dict[Key, TrackerState] = {}
    for name, entry in objects.items():
        parts = tuple(name.split("/"))
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"object key {name!r} is not workspace/model/type/object")
        out[parts] = decode_object(_check(entry, dict, name), check)
    cloudworks: dict[str, CloudWorksState] = {}
    for name, entry in _get(doc, "cloudworks", dict).items():
        kind, _, item_id = name.partition("/")
        if kind not in ("integration", "flow") or not item_id:
            raise ValueError(f"CloudWorks key {name!r} is not integration/<id> or flow/<id>")
        cloudworks[name] = decode_cloudworks(_check(entry, dict, name), check)
    return out, cloudworks


def encode_cloudworks(state: CloudWorksState) -> str:
    return json.dumps(
        {
            "watermark": state.watermark,
            "completions": dict(state.completions),
            "last_success": state.last_success,
            "last_failure": state.last_failure,
            "errors_start": state.errors_start,
            "run_errors": [[e.task_id, e.action_id, e.action_name, e.message] for e in state.run_errors],
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def decode_cloudworks(entry: Mapping[str, Any], times: TimeCheck) -> CloudWorksState:
    completions = _get(entry, "completions", dict)
    errors = []
    for item in _get(entry, "run_errors", list):
        fields = _check(item, list, "run_errors")
        if len(fields) != 4:
            raise ValueError("run_errors: expected [task ID, action ID, action name, message]")
        errors.append(CloudWorksRunError(*(_check(f, str, "run_errors") for f in fields)))
    return CloudWorksState(
        watermark=_when(_present(entry, "watermark"), "watermark", times),
        completions={_check(k, str, "completions"): _count(v) for k, v in completions.items()},
        last_success=_when(_present(entry, "last_success"), "last_success", times),
        last_failure=_when(_present(entry, "last_failure"), "last_failure", times),
        errors_start=_when(_present(entry, "errors_start"), "errors_start", times),
        run_errors=tuple(errors),
    )


def decode_object(entry: Mapping[str, Any], times: TimeCheck | None = None) -> TrackerState:
    check = times if times is not None else TimeCheck(time.time())
    completions = _get(entry, "completions", dict)
    created = (_when(t, "created", check, True) for t in _get(entry, "created", list))
    durations = (_time_pair(item, check) for item in _get(entry, "durations", list))
    return TrackerState(
        baseline=True,
        counted=tuple(_check(t, str, "counted") for t in _get(entry, "counted", list)),
        pending=dict(_id_and_time(item, "pending", check) for item in _get(entry, "pending", list)),
        history=tuple(_id_and_time(item, "history", check) for item in _get(entry, "history", list)),
        newest=_decode_task(entry.get("newest"), check),
        with_result=_decode_task(entry.get("with_result"), check),
        last_success=_when(entry.get("last_success"), "last_success", check),
        last_failure=_when(entry.get("last_failure"), "last_failure", check),
        completions={_check(k, str, "completions"): _count(v) for k, v in completions.items()},
        floor=_when(_present(entry, "floor"), "floor", check),
        rhythm=Rhythm.of(
            (round(t) for t in created if t is not None),
            (pair for pair in durations if pair is not None),
        ),
    )


def _decode_task(raw: object, times: TimeCheck) -> Task | None:
    if raw is None:
        return None
    task = _check(raw, dict, "task")
    result = task.get("result")
    return Task(
        task_id=_get(task, "id", str),
        state=TaskState(_get(task, "state", str)),
        raw_state=_get(task, "raw_state", str),
        progress=_number(task.get("progress"), "progress"),
        current_step=_get(task, "current_step", str),
        creation_time=_when(task.get("created"), "created", times),
        cancelled_by=_get(task, "cancelled_by", str),
        result=None if result is None else _decode_result(_check(result, dict, "result"), times),
    )


def _decode_result(raw: Mapping[str, Any], times: TimeCheck) -> TaskResult:
    rows = raw.get("rows")
    return TaskResult(
        successful=_get(raw, "successful", bool),
        failure_dump_available=_get(raw, "failure_dump", bool),
        object_id=_get(raw, "object_id", str),
        object_name=_get(raw, "object_name", str),
        duration_seconds=_number(raw.get("duration"), "duration"),
        start_time=_when(raw.get("start"), "start", times),
        row_counts=None
        if rows is None
        else ImportRowCounts(**{k: _count(v) for k, v in _check(rows, dict, "rows").items()}),
        nested=tuple(_decode_result(_check(n, dict, "nested"), times) for n in _get(raw, "nested", list)),
    )


def _present(mapping: Mapping[str, Any], key: str) -> Any:
    """The value of ``key``, which may be null but must be there."""
    if key not in mapping:
        raise ValueError(f"{key!r} is missing")
    return mapping[key]


def _get(mapping: Mapping[str, Any], key: str, kind: type[Any]) -> Any:
    if key not in mapping:
        raise ValueError(f"{key!r} is missing")
    return _check(mapping[key], kind, key)


def _check(value: object, kind: type[Any], what: str) -> Any:
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{what}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _number(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        raise ValueError(f"{what}: expected a number, got an integer of {len(str(value))} digits") from None
    if not math.isfinite(number):
        raise ValueError(f"{what}: expected a number, got {value!r}")
    return number


def _when(value: object, what: str, times: TimeCheck, required: bool = False) -> float | None:
    """A saved time: None when absent (an error if ``required``), dropped (counted in ``times``) when it is
    no plausible time."""
    if value is None:
        if required:
            raise ValueError(f"{what}: expected a number, got null")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: expected a time, got {value!r}")
    try:
        return times(float(value))
    except OverflowError:  # an integer beyond any float
        times.refuse()
        return None


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _time(value: object, what: str) -> float:
    number = _number(value, what)
    if number is None:
        raise ValueError(f"{what}: expected a number, got null")
    return number


def _time_pair(item: object, times: TimeCheck) -> tuple[float, float] | None:
    """A ``[creation time, seconds]`` pair; None (dropped, counted) when the creation time is impossible."""
    pair = _check(item, list, "durations")
    if len(pair) != 2:
        raise ValueError("durations: expected [creation time, seconds]")
    created = _when(pair[0], "durations", times, True)
    seconds = _time(pair[1], "durations")
    return None if created is None else (round(created), seconds)


def _id_and_time(item: object, what: str, times: TimeCheck) -> tuple[str, float | None]:
    pair = _check(item, list, what)
    if len(pair) != 2:
        raise ValueError(f"{what}: expected [task ID, creation time]")
    return _check(pair[0], str, what), _when(pair[1], what, times)
