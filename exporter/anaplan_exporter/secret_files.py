"""The secret files of ``anaplan.auth``, watched for changes while a refused login holds logins back.

A change since the latest refusal is noticed by the files' size, modification time and inode (``os.stat``:
no reading), when a poll would otherwise fail for the backoff: fixing a password file is enough to log in
again at once, without a reload or an extra thread. The credentials are then read again from the
configuration file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .anaplan.auth import Credentials

Fingerprint = tuple[tuple[int, int, int] | None, ...]


def fingerprint(paths: Sequence[Path]) -> Fingerprint:
    """Size, modification time (ns) and inode of each file; None for one that cannot be looked at."""
    marks: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            status = os.stat(path)
        except (OSError, ValueError):
            marks.append(None)
        else:
            marks.append((status.st_size, status.st_mtime_ns, status.st_ino))
    return tuple(marks)


class SecretFiles:
    """A ``CredentialSource`` for the client: ``changed`` compares the files' fingerprint with the one taken
    at the latest refusal (or read); ``load`` reads the credentials again through ``read``."""

    def __init__(self, paths: Sequence[Path], read: Callable[[], Credentials]) -> None:
        self._paths = tuple(paths)
        self._read = read
        self._seen = fingerprint(self._paths)

    def __repr__(self) -> str:
        return f"SecretFiles({[str(path) for path in self._paths]!r})"

    def changed(self) -> bool:
        return fingerprint(self._paths) != self._seen

    def load(self) -> Credentials:
        """Read the credentials again; the fingerprint is taken first, so a write during the read is seen
        as a change next time. A failure leaves the files marked as seen: the next edit tries again."""
        self._seen = fingerprint(self._paths)
        return self._read()

    def mark(self) -> None:
        """Remember the files as they are now (at a refusal: only a change after it is worth a new try;
        the exporter's own save of a rotated refresh token before it is not)."""
        self._seen = fingerprint(self._paths)
