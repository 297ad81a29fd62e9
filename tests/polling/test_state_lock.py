"""The state file's lock: one holder at a time, its pid written for the next one, gone with its process."""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from anaplan_exporter.polling.state_lock import (
    LockUnsupported,
    StateFileInUse,
    StateLock,
    lock_holder,
    lock_path,
)


def test_one_holder_at_a_time_and_the_next_one_is_told_its_pid(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = StateLock.acquire(state)
    assert first.path == lock_path(state) == tmp_path / "state.json.lock"
    assert first.path.read_text() == f"{os.getpid()}\n"
    with pytest.raises(StateFileInUse) as caught:
        StateLock.acquire(state)  # flock is per open file: the same process is refused too
    assert caught.value.holder == os.getpid() and caught.value.path == state
    assert str(caught.value) == (
        f"{state}: the state file is in use by another process (pid {os.getpid()}), which holds {first.path}"
    )
    first.release()
    assert not first.held and first.path.exists()  # the file stays: only the lock counts
    second = StateLock.acquire(state)
    assert second.held
    second.release()
    second.release()  # twice is harmless


def test_a_holder_that_wrote_no_pid_is_another_process(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    fd = os.open(lock_path(state), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(StateFileInUse) as caught:
            StateLock.acquire(state)
        assert caught.value.holder is None
        assert "in use by another process, which holds" in str(caught.value)
    finally:
        os.close(fd)


_HOLD = """
import sys
from pathlib import Path
from anaplan_exporter.polling.state_lock import StateLock
lock = StateLock.acquire(Path(sys.argv[1]))
print("held", flush=True)
sys.stdin.read()
"""


def test_the_lock_of_a_killed_process_is_free_at_once(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(state)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(StateFileInUse) as caught:
            StateLock.acquire(state)
        assert caught.value.holder == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    lock = StateLock.acquire(state)  # no stale lock to clear
    assert lock.path.read_text() == f"{os.getpid()}\n"
    lock.release()


def test_a_file_system_that_cannot_lock_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.raises(LockUnsupported, match=os.strerror(errno.ENOLCK)):
        StateLock.acquire(tmp_path / "state.json")


def test_a_lock_file_that_cannot_be_created_is_the_system_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        StateLock.acquire(tmp_path / "missing" / "state.json")


def test_asking_who_holds_the_lock_creates_and_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert lock_holder(state) is None and not lock_path(state).exists()
    lock = StateLock.acquire(state)
    held = lock_holder(state)
    assert held is not None and held.holder == os.getpid()
    lock.release()
    assert lock_holder(state) is None
    assert lock_path(state).read_text() == f"{os.getpid()}\n"
    again = StateLock.acquire(state)  # the probe left no lock behind
    assert again.held
    again.release()
