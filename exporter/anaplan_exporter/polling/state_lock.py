"""The state file's lock: one exporter per state file, held for the life of the process.

Two exporters saving to one file overwrite each other's counts (two configurations run by one user share the
default path). As Prometheus locks its TSDB folder, the exporter holds an exclusive ``flock`` on
``<state file>.lock`` beside the file from start to exit, and writes its process ID into it so that the
second one can say who holds it. The operating system drops the lock when the process ends however it ends
(kill -9 included), so a stale lock never needs clearing; the lock file itself stays (removing it would let
a third process lock a new file while the second still holds the old one).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class StateFileInUse(Exception):
    """Another process holds the lock of the state file; ``holder`` is its process ID when it wrote one."""

    def __init__(self, path: Path, holder: int | None) -> None:
        self.path = path
        self.holder = holder
        who = f"another process (pid {holder})" if holder is not None else "another process"
        super().__init__(f"{path}: the state file is in use by {who}, which holds {lock_path(path)}")


class LockUnsupported(Exception):
    """The file system cannot lock the lock file (some network file systems): its ``str`` says why."""


def lock_path(state_path: Path) -> Path:
    """The lock file of ``state_path``: beside it, named after it."""
    return state_path.with_name(f"{state_path.name}.lock")


class StateLock:
    """An exclusive lock on a state file, held until ``release`` or the end of the process."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        """The lock file."""
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_path: Path) -> StateLock:
        """Lock ``state_path`` without waiting: StateFileInUse when another process holds it, LockUnsupported
        when the file system cannot lock, OSError when the lock file cannot be opened."""
        path = lock_path(state_path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateFileInUse(state_path, holder) from None
        except OSError as exc:  # ENOLCK, EOPNOTSUPP ...
            os.close(fd)
            raise LockUnsupported(exc.strerror or str(exc)) from None
        try:  # who holds it, for the next one's message; the lock works without it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Unlock (closing the file unlocks it); the lock file stays."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    """The process ID the holder wrote, if it wrote one (it may be writing it right now)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def lock_holder(state_path: Path) -> StateFileInUse | None:
    """Who holds the lock of ``state_path``, as the error a start would meet; None when nobody does (or it
    cannot be told). Creates and writes nothing: without a lock file, no exporter holds it."""
    try:
        fd = os.open(lock_path(state_path), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return StateFileInUse(state_path, _read_pid(fd))
    except OSError:
        return None
    finally:
        os.close(fd)  # also releases the probe's lock
    return None
