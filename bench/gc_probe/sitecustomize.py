"""Loaded by Python at start-up when this folder is on PYTHONPATH (the gc benchmark sets it for the exporter
process only): times every garbage collection and writes ``[[generation, unix time, seconds], ...]`` to the
file named by ``GC_PROBE_LOG`` every 2 s. Not part of the exporter."""

from __future__ import annotations

import gc
import json
import os
import threading
import time
from typing import Any

_PATH = os.environ.get("GC_PROBE_LOG")
_pauses: list[tuple[int, float, float]] = []
_started = [0.0]


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _pauses.append((info["generation"], time.time(), time.perf_counter() - _started[0]))


def _write_every_2_s(path: str) -> None:
    while True:
        time.sleep(2)
        with open(path + ".tmp", "w") as file:
            json.dump(list(_pauses), file)
        os.replace(path + ".tmp", path)


if _PATH:
    gc.callbacks.append(_timed)
    threading.Thread(target=_write_every_2_s, args=(_PATH,), name="gc-probe", daemon=True).start()
