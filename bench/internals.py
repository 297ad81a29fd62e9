"""Costs inside the exporter that no request count shows: what a state-file save costs the scheduling
thread, and how long Python's garbage collections stop every thread at 10,000 objects."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

from anaplan_exporter.polling.state import StateStore
from anaplan_exporter.polling.tracker import ObjectTracker
from harness import REPO, Row, exporter_config, median, running_exporter, running_simulator, scrape
from scenarios import all_of_model, idle_processes
from support.fake_anaplan import FakeAnaplan, finished, ref

PROBE = REPO / "bench" / "gc_probe"


def state_save(objects: int, tasks: int, workdir: Path) -> list[Row]:
    """Trackers with ``tasks`` finished runs each, saved three times: all new, none changed, one changed."""
    api = FakeAnaplan()
    trackers = []
    for i in range(objects):
        object_id = f"118{i:09d}"
        api.add(object_id, *(finished(f"T{i}-{k}", 1_000.0 + k * 3600, ok=k % 7 != 0) for k in range(tasks)))
        tracker = ObjectTracker(ref(object_id))
        tracker.poll(api, 200_000.0)
        trackers.append(tracker)
    gc.collect()
    gc.freeze()  # the set-up's own garbage must not land inside a timing
    path = workdir / "state.json"
    store = StateStore.open(path, save_interval=0)
    rows = []
    for case in ("every object encoded", "nothing changed", "one object changed"):
        if case == "one object changed":
            api.add(trackers[0].ref.object_id, finished("new", 300_000.0))
            trackers[0].poll(api, 300_001.0)
        started = time.perf_counter()
        store.save_if_due(trackers, time.time())
        caller = time.perf_counter() - started
        store.wait()
        written = time.perf_counter() - started
        size = path.stat().st_size / 1e6
        rows.append(
            Row(
                f"State save, {objects:,} objects x {tasks} tasks ({size:.0f} MB), {case}",
                f"scheduling thread {caller * 1000:.0f} ms; written after {written * 1000:.0f} ms",
                "informational",
                None,
            )
        )
    gc.unfreeze()
    return rows


def gc_pauses(objects: int, steps: int, minutes: float, latency: float, workdir: Path) -> list[Row]:
    """The exporter (real process, rate limit lifted) at ``objects`` processes, scraped every 15 s."""
    log = workdir / "gc.json"
    with running_simulator(idle_processes(objects, steps, latency=latency), workdir) as sim:
        config = exporter_config(
            sim.url, all_of_model("processes"), concurrency=16, requests_per_second=10_000.0, workers=16
        )
        env = {"GC_PROBE_LOG": str(log), "PYTHONPATH": str(PROBE)}
        with running_exporter(config, workdir, env=env, ready_timeout=1800) as exporter:
            ready = time.time()
            end = ready + minutes * 60
            while time.time() < end:
                scrape(exporter.url + "/metrics", timeout=120)
                time.sleep(15)
            time.sleep(3)  # the probe's last write
    pauses = json.loads(log.read_text())
    rows = []
    for phase, steady in (("start-up", False), (f"{minutes:g} min steady", True)):
        mine = [(generation, seconds) for generation, at, seconds in pauses if (at >= ready) is steady]
        full = [seconds for generation, seconds in mine if generation == 2]
        young = [seconds for generation, seconds in mine if generation < 2]
        rows.append(
            Row(
                f"Garbage collections, {objects:,} processes, {phase}",
                f"{len(full)} full, median {median(full) * 1000 if full else 0:.0f} ms, max"
                f" {max(full, default=0) * 1000:.0f} ms; {len(young)} young, {sum(young):.2f} s in all",
                "informational",
                None,
            )
        )
    return rows
