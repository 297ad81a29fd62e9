"""Freshness at the default request budget: how long after a run starts or ends does it show in /metrics.

The simulator (a real process, ``LATENCY`` per request) serves ``objects`` objects: ``RUNNING`` processes that
run 40 s every 120 s, the rest idle. The exporter runs as a real process on its defaults (5 requests per
second, ``idle_interval`` 60 s, checks of running tasks every 5 s). ``/metrics`` is scraped every half second;
a run's start is visible once ``anaplan_task_info`` names its task, its end once that series shows it
finished (timed only for runs seen running: a run that starts and ends between two idle polls of its object
shows start and end together). Both are compared with the simulator's ground truth. The floor is what the
budget allows: an idle object can be looked at every ``max(idle_interval, objects / sustained rate)``
seconds, so a start waits at most that (half on average); an end needs the next 5-s check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Row, exporter_config, median, percentile, running_exporter, running_simulator, scrape
from scenarios import MODEL, USERS, WORKSPACE, idle_mix

RUNNING = 6
EVERY, DURATION = 120.0, 40.0
LATENCY = 0.1
DEFAULT_RATE = 5.0
"""The exporter's default ``anaplan.requests_per_second``; the sustained rate is rate / 1.1."""
IDLE_INTERVAL = 60.0
TERMINAL = ("COMPLETE", "CANCELLED")


def scenario(objects: int, history: int = 10) -> dict[str, Any]:
    """``RUNNING`` lively processes, their start times spread over ``EVERY``, plus idle objects.

    ``history``: finished runs of each lively process before the start. With 5 or more the exporter learns
    their rhythm at once and looks for each run when it is due; with fewer only the idle sweep finds them."""
    processes = [
        {
            "name": f"Lively {i}",
            "steps": [{"id": f"1120000001{i:02d}", "name": f"Load {i}", "type": "IMPORT"}],
            "every": EVERY,
            "duration": DURATION,
            "offset": 15 + i * EVERY / RUNNING,
            "outcomes": ["success", "failure"],
            "history": history,
        }
        for i in range(RUNNING)
    ]
    generate = idle_mix(objects - RUNNING)
    return {
        "users": USERS,
        "workspaces": [
            {"name": WORKSPACE, "models": [{"name": MODEL, "processes": processes, "generate": generate}]}
        ],
        "faults": {"latency": LATENCY},
    }


def default_budget_config(sim_url: str) -> dict[str, Any]:
    """The exporter's own defaults for the budget and polling: only the connection is set."""
    config = exporter_config(
        sim_url,
        [{"workspace": WORKSPACE, "model": MODEL, **{k: "*" for k in ("processes", "imports", "exports")}}],
        concurrency=4,
        requests_per_second=DEFAULT_RATE,
        workers=8,
        idle_interval=IDLE_INTERVAL,
    )
    config["targets"][0]["actions"] = "*"
    for key in ("max_concurrency", "requests_per_second", "retries"):
        del config["anaplan"][key]
    del config["polling"]
    return config


@dataclass
class Seen:
    start: float | None = None
    end: float | None = None


def task_info(text: str, wanted: set[str]) -> dict[str, tuple[str, str]]:
    """object_id -> (task_id, state) from ``anaplan_task_info`` for the ``wanted`` objects."""
    out: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        if not line.startswith("anaplan_task_info{"):
            continue
        labels = dict(
            part.split("=", 1) for part in line[len("anaplan_task_info{") : line.rindex("}")].split('",')
        )
        object_id = labels.get("object_id", "").strip('"')
        if object_id in wanted:
            out[object_id] = (labels["task_id"].strip('"'), labels["state"].strip('"'))
    return out


def total_requests(stats: dict[str, Any]) -> int:
    requests: dict[str, dict[str, int]] = stats["requests"]
    return sum(sum(codes.values()) for codes in requests.values())


def _stats(delays: list[float]) -> str:
    if not delays:
        return "none seen"
    return f"median {median(delays):.1f} s, p90 {percentile(delays, 0.9):.1f} s, max {max(delays):.1f} s"


def freshness(objects: int, seconds: float, workdir: Path, history: int = 10) -> list[Row]:
    sustained = DEFAULT_RATE / 1.1
    sweep = max(IDLE_INTERVAL, objects / sustained)
    with running_simulator(scenario(objects, history), workdir) as sim:
        lively = {t["object_id"] for t in sim.ground_truth() if t["object_type"] == "process"}
        started = time.monotonic()
        with running_exporter(default_budget_config(sim.url), workdir, ready_timeout=3600) as exporter:
            ready_after = time.monotonic() - started
            before = sim.stats()
            window_start = time.time()
            seen: dict[str, Seen] = {}
            scrapes = 0
            while time.time() < window_start + seconds:
                result = scrape(exporter.url + "/metrics", timeout=30)
                at = time.time()
                scrapes += 1
                for task_id, state in task_info(result.body.decode(), lively).values():
                    record = seen.setdefault(task_id, Seen())
                    record.start = record.start if record.start is not None else at
                    if state in TERMINAL and record.end is None:
                        record.end = at
                time.sleep(max(0.0, 0.5 - (time.time() - at)))
            window_end = time.time()
            after = sim.stats()
            truth = [t for t in sim.ground_truth() if t["object_id"] in lively and not t["history"]]
    starts, ends, missed_starts, missed_ends, first_seen_finished, superseded = [], [], 0, 0, 0, 0
    next_run = {
        t["task_id"]: min(
            (
                u["creation_time"]
                for u in truth
                if u["object_id"] == t["object_id"] and u["creation_time"] > t["creation_time"]
            ),
            default=None,
        )
        for t in truth
    }
    for task in truth:
        record = seen.get(task["task_id"], Seen())
        # Only runs the window could see: created after it opened, with a full sweep left to find them.
        if window_start <= task["creation_time"] <= window_end - sweep - 10:
            following = next_run[task["task_id"]]
            if record.start is not None:
                starts.append(record.start - task["creation_time"])
            elif following is not None and following < task["creation_time"] + sweep:
                superseded += 1  # the next run was already the newest when the sweep came round
            else:
                missed_starts += 1
        finish = task["finish_time"]
        if finish is None or not window_start + 10 <= finish <= window_end - 20 or record.start is None:
            continue
        if record.start >= finish:
            first_seen_finished += 1  # its end shows with its start, at the object's next idle poll
        elif record.end is None:
            missed_ends += 1
        else:
            ends.append(record.end - finish)
    elapsed = window_end - window_start
    rate = (total_requests(after) - total_requests(before)) / elapsed
    return [
        Row(
            f"freshness, {objects} objects, history {history}, run start visible after",
            f"{_stats(starts)} ({len(starts)} runs, {missed_starts} not seen; {superseded} superseded by the"
            " next run before the sweep came round)",
            f"floor: sweep {sweep:.0f} s, so {sweep / 2:.0f} s on average, {sweep:.0f} s at most",
            None,
        ),
        Row(
            f"freshness, {objects} objects, history {history}, end of a run seen running visible after",
            f"{_stats(ends)} ({len(ends)} runs, {missed_ends} not seen; {first_seen_finished} more runs"
            " were first seen finished)",
            "floor: the next check of a running task, <= 5 s",
            None,
        ),
        Row(
            f"freshness, {objects} objects, history {history}, requests",
            f"{rate:.2f}/s over {elapsed:.0f} s (budget {DEFAULT_RATE:g}/s, sustained {sustained:.2f}/s);"
            f" most in one second: {after['max_requests_per_second']}; ready after {ready_after:.0f} s;"
            f" {scrapes} scrapes",
            f"<= {DEFAULT_RATE:g} in any second",
            after["max_requests_per_second"] <= DEFAULT_RATE,
        ),
    ]
