"""``--ground-truth FILE``: append one JSON line per task that reaches a terminal state while running, and
one per CloudWorks run and flow run that ends (those lines carry ``"record": "cloudworks_run"`` or
``"cloudworks_flow_run"``; task lines have no ``record``)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .cloudworks_runs import CloudWorksRuns
from .engine import Engine, truth


class GroundTruthLog:
    """A background thread that checks every ``interval`` seconds which runs finished since last time."""

    def __init__(
        self, engine: Engine, path: Path, interval: float = 0.5, cloudworks: CloudWorksRuns | None = None
    ) -> None:
        self._engine = engine
        self._cloudworks = cloudworks
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._last = engine.epoch
        self._thread = threading.Thread(target=self._loop, name="ground-truth-log", daemon=True)

    def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.touch()
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what finished up to now."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        now = self._engine.now()
        if now <= self._last:
            return
        runs = self._engine.finished_between(self._last, now)
        integration_runs = self._cloudworks.finished_between(self._last, now) if self._cloudworks else []
        flow_runs = self._cloudworks.flows_finished_between(self._last, now) if self._cloudworks else []
        self._last = now
        if not runs and not integration_runs and not flow_runs:
            return
        lines = [json.dumps(truth(self._engine.view(run, run.ends)), sort_keys=True) + "\n" for run in runs]
        if self._cloudworks is not None:
            lines += [
                json.dumps(self._cloudworks.truth(run), sort_keys=True) + "\n" for run in integration_runs
            ]
            lines += [
                json.dumps(self._cloudworks.flow_truth(run), sort_keys=True) + "\n" for run in flow_runs
            ]
        with self._path.open("a", encoding="utf-8") as out:
            out.writelines(lines)
