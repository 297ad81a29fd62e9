"""Split watched objects across replicas by a stable hash, so each replica polls only its share."""

from __future__ import annotations

import hashlib

from ..snapshot import ObjectRef


def shard_of(ref: ObjectRef, total: int) -> int:
    """The shard (0..total-1) that owns ``ref``; depends only on the object's IDs, never on config order."""
    if total <= 1:
        return 0
    key = "/".join(ref.key).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % total


def parse_shard(value: str) -> tuple[int, int]:
    """Parse ``I/N`` (0-based index I of N shards); raise ValueError with a readable message."""
    index_text, sep, total_text = value.partition("/")
    try:
        if not sep:
            raise ValueError
        index, total = int(index_text), int(total_text)
    except ValueError:
        raise ValueError(f"--shard {value!r}: expected I/N, e.g. 0/3") from None
    if total < 1 or not 0 <= index < total:
        raise ValueError(f"--shard {value!r}: index must be between 0 and N-1, and N at least 1")
    return index, total
