"""``make bench``: freshness at the default budget, poll cost with the rate limit lifted, authentication rate
and scrape cost, against the simulator as a real process.

Freshness (``freshness.py``) runs the exporter as a real process on its default request budget and times
how long runs take to show in ``/metrics``: what users feel.

Poll cost and the authentication rate are measured in-process: this script builds the exporter's own
``AnaplanClient`` and ``Poller`` and calls ``tick()`` itself, so a cycle is timed exactly (no scrape of a
duration gauge) and a fake clock can make every tick a full cycle. Requests are counted by the simulator
(its ``/__sim/stats`` before and after). The scrape cost is measured on the real exporter process over HTTP.
``internals.py`` times a state-file save in-process and the exporter process's garbage collections (through
a probe on its PYTHONPATH). ``tasklist.py`` counts the requests and bytes of one look at an object with a long
task history, newest first against every page.
No figure here is a test assertion: it prints PASS or MISS per target and exits 1 on any MISS.

``cloudworks_freshness.py`` times how long CloudWorks runs take to show in ``/metrics`` at the default budget.

Usage: python bench/bench.py [--freshness-sizes 50,300,1000] [--freshness-seconds 360]
                             [--cloudworks-sizes 50,1000] [--cloudworks-seconds 240]
                             [--cloudworks-after-ready]
                             [--sizes 100,1000,10000] [--scrape-objects 10000] [--scrapes 50]
                             [--auth-scale 120] [--auth-hours 2] [--gc-minutes 3]
                             [--task-list-runs 10000]
                             [--only freshness,cloudworks,poll,auth,scrape,state,gc,tasklist]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, disable_created_metrics, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.anaplan.client import AnaplanClient
from anaplan_exporter.config.file import Config
from anaplan_exporter.polling.poller import Poller
from cloudworks_freshness import cloudworks_freshness
from freshness import freshness
from harness import (
    REPO,
    Row,
    exporter_config,
    median,
    memory_kb,
    parse_exporter_config,
    percentile,
    running_exporter,
    running_simulator,
    scrape,
)
from internals import gc_pauses, state_save
from scenarios import all_of_model, idle_objects, idle_processes
from tasklist import task_list_cost

LATENCY = 0.05
"""Simulated latency of every Anaplan request (seconds)."""
CONCURRENCY = 16
WORKERS = 16
REQUESTS_PER_SECOND = 10000.0
TOKEN_LIFETIME = 2100.0  # Anaplan: 35 minutes
REFRESH_MARGIN = 300.0  # the client's default: refresh 5 minutes before expiry

DISCOVERY_KINDS = ("workspaces", "models", "objects", "object", "model")
TOKEN_REQUESTS = ("authenticate", "refresh", "oauth_token")
"""Requests that obtain or extend a token (a logout at shutdown is not one)."""


def machine() -> str:
    model = "unknown CPU"
    memory = "unknown RAM"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    return f"{os.cpu_count()} CPUs ({model}), {memory}, Python {platform.python_version()}, {sys.platform}"


def count(stats: dict[str, Any], kinds: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> int:
    """Requests in a ``/__sim/stats`` document, of the given kinds (all by default)."""
    requests: dict[str, dict[str, int]] = stats["requests"]
    return sum(
        sum(codes.values())
        for kind, codes in requests.items()
        if (kinds is None or kind in kinds) and kind not in exclude
    )


def delta(before: dict[str, Any], after: dict[str, Any], *kinds: str) -> int:
    return count(after, kinds or None) - count(before, kinds or None)


# ----------------------------------------------------------------------------------- poll cost


def idle_tenant_config(sim_url: str, idle_interval: float) -> Config:
    """The benchmark settings, watching every import, export and action of the ``idle_objects`` tenant."""
    return parse_exporter_config(
        exporter_config(
            sim_url,
            all_of_model("imports", "exports", "actions"),
            concurrency=CONCURRENCY,
            requests_per_second=REQUESTS_PER_SECOND,
            workers=WORKERS,
            idle_interval=idle_interval,
        )
    )


def poll_cost(objects: int, workdir: Path) -> list[Row]:
    """Discovery and a first cycle, the look-back cycle, then three steady full cycles, each timed around
    ``Poller.tick()``."""
    rows: list[Row] = []
    with running_simulator(idle_objects(objects, latency=LATENCY), workdir) as sim:
        config = idle_tenant_config(sim.url, idle_interval=60.0)
        client = AnaplanClient(config.client, config.credentials)
        skew = [0.0]  # the poller's clock jumps one idle interval before each tick: every tick is full
        poller = Poller(client, config.targets, config.polling, clock=lambda: time.time() + skew[0])
        try:
            before = sim.stats()
            started = time.perf_counter()
            poller.tick()
            first_seconds = time.perf_counter() - started
            after = sim.stats()
            discovery = delta(before, after, *DISCOVERY_KINDS)
            first = delta(before, after, "task_list", "task_status")
            ideal_first = discovery * LATENCY + first * LATENCY / CONCURRENCY
            rows.append(
                Row(
                    f"first cycle (discovery + baseline), {objects} objects",
                    f"{first_seconds:.2f} s, {discovery} discovery + {first} task requests",
                    f"ideal {ideal_first:.2f} s (discovery is sequential)",
                    None,
                )
            )
            skew[0] += config.polling.idle_interval
            before = sim.stats()
            started = time.perf_counter()
            poller.tick()
            second_seconds = time.perf_counter() - started
            after = sim.stats()
            rows.append(
                Row(
                    f"second cycle (look back for the last success and failure), {objects} objects",
                    f"{second_seconds:.2f} s, {delta(before, after, 'task_list')} task lists + "
                    f"{delta(before, after, 'task_status')} statuses of older runs",
                    "",
                    None,
                )
            )
            times: list[float] = []
            lists: list[int] = []
            statuses: list[int] = []
            others: list[int] = []
            for _ in range(3):
                skew[0] += config.polling.idle_interval
                before = sim.stats()
                started = time.perf_counter()
                poller.tick()
                times.append(time.perf_counter() - started)
                after = sim.stats()
                lists.append(delta(before, after, "task_list"))
                statuses.append(delta(before, after, "task_status"))
                others.append(delta(before, after) - lists[-1] - statuses[-1])
            snapshot = poller.snapshot
            healthy = snapshot.up and len(snapshot.objects) == objects
        finally:
            poller.stop()
            client.close()
    cycle = median(times)
    requests = lists[-1] + statuses[-1] + others[-1]
    ideal = requests * LATENCY / CONCURRENCY
    rows.append(
        Row(
            f"steady full cycle, {objects} objects",
            f"{cycle:.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}) = {cycle / ideal:.2f}x ideal",
            f"<= 1.2x ideal {ideal:.2f} s ({requests} req x {LATENCY * 1000:.0f} ms / {CONCURRENCY})",
            cycle <= 1.2 * ideal and healthy,
        )
    )
    steady_ok = all(n == objects for n in lists) and not any(statuses) and not any(others)
    rows.append(
        Row(
            f"requests per steady cycle, {objects} objects",
            f"{lists[-1]} task lists + {statuses[-1]} statuses + {others[-1]} other"
            + ("" if len(set(lists)) == 1 else f" (lists per cycle: {lists})"),
            f"= minimum {objects} (one list per object, no status)",
            steady_ok,
        )
    )
    return rows


# ----------------------------------------------------------------------------------- authentication


class AuthRecorder:
    """An ``ApiObserver`` that keeps the time of every request that obtains or extends a token."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    def request_done(self, endpoint: str, code: str, seconds: float) -> None:
        if endpoint in TOKEN_REQUESTS:
            self.events.append((time.time(), endpoint))

    def retried(self, reason: str) -> None:
        pass

    def auth_failed(self) -> None:
        pass

    def ignored_values(self, reason: str, count: int) -> None:
        pass


def most_in_window(times: list[float], window: float) -> int:
    """The largest number of events inside any half-open window ``[t, t + window)`` starting at an event."""
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def auth_rate(scale: float, hours: float, workdir: Path) -> list[Row]:
    """Token lifetime, refresh margin, poll interval and run length all divided by ``scale``."""
    lifetime, margin, hour = TOKEN_LIFETIME / scale, REFRESH_MARGIN / scale, 3600.0 / scale
    scenario = idle_objects(100, latency=LATENCY, token_lifetime=lifetime)
    with running_simulator(scenario, workdir) as sim:
        config = idle_tenant_config(sim.url, idle_interval=60.0 / scale)
        recorder = AuthRecorder()
        settings = dataclasses.replace(config.client, refresh_margin=margin)
        client = AnaplanClient(settings, config.credentials, observer=recorder)
        poller = Poller(client, config.targets, config.polling)
        before = sim.stats()
        poller.start()
        time.sleep(hours * hour)
        poller.stop(timeout=10)
        after = sim.stats()
        client.close()
    times = [t for t, _ in recorder.events]
    start = times[0] if times else 0.0
    timeline = ", ".join(f"{kind} {(t - start) / hour * 60:.1f}" for t, kind in recorder.events)
    seen_by_simulator = delta(before, after, *TOKEN_REQUESTS)
    per_hour = most_in_window(times, hour)
    return [
        Row(
            f"auth requests per hour (time-scaled 1/{scale:g})",
            f"{per_hour} in the busiest hour; {len(times)} in {hours:g} h [{timeline} min]",
            f"<= 2 (simulator counted {seen_by_simulator})",
            per_hour <= 2 and seen_by_simulator == len(times) and len(times) > 0,
        )
    ]


# ----------------------------------------------------------------------------------- scrape cost


def floor_registry(text: str) -> CollectorRegistry:
    """Plain Gauge and Counter objects holding exactly the series of ``text`` (names, labels, values)."""
    disable_created_metrics()  # type: ignore[no-untyped-call]  # the exporter's snapshot counters have no _created series either
    registry = CollectorRegistry()
    for family in text_string_to_metric_families(text):
        by_name: dict[str, list[Any]] = {}
        for sample in family.samples:
            by_name.setdefault(sample.name, []).append(sample)
        for name, samples in by_name.items():
            if name.endswith("_created"):
                continue  # the API counters' creation times: Counter objects reserve these names
            labelnames = sorted(samples[0].labels)
            metric: Gauge | Counter
            if family.type == "counter" and name == family.name + "_total":
                metric = Counter(family.name, family.documentation, labelnames, registry=registry)
                for sample in samples:
                    child = metric.labels(**sample.labels) if labelnames else metric
                    child.inc(sample.value)
            else:
                metric = Gauge(name, family.documentation, labelnames, registry=registry)
                for sample in samples:
                    (metric.labels(**sample.labels) if labelnames else metric).set(sample.value)
    return registry


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        out.append(time.perf_counter() - started)
    return out


def scrape_cost(objects: int, steps: int, scrapes: int, workdir: Path) -> list[Row]:
    with running_simulator(idle_processes(objects, steps, latency=LATENCY), workdir) as sim:
        config = exporter_config(
            sim.url,
            all_of_model("processes"),
            concurrency=CONCURRENCY,
            requests_per_second=REQUESTS_PER_SECOND,
            workers=WORKERS,
            idle_interval=60,
        )
        started = time.perf_counter()
        with running_exporter(config, workdir, ready_timeout=1800) as exporter:
            ready_after = time.perf_counter() - started
            start_requests = count(sim.stats())
            url = exporter.url + "/metrics"
            warm = scrape(url, timeout=120)
            seconds: list[float] = []
            failures = 0
            rss: list[int] = []
            body = warm.body
            for _ in range(scrapes):
                result = scrape(url, timeout=120)
                if result.status != 200:
                    failures += 1
                    continue
                seconds.append(result.seconds)
                body = result.body
                rss.append(memory_kb(exporter.process.pid)["VmRSS"])
            memory = memory_kb(exporter.process.pid)
    print(
        f"    scrapes: median {median(seconds):.3f} s, max {max(seconds):.3f} s;"
        f" VmRSS max {max(rss) / 1024:.0f} MB",
        flush=True,
    )
    text = body.decode("utf-8")
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    processes = len({object_id for object_id, _ in completions_or_ids(text)})
    registry = floor_registry(text)
    floor = median(timed(lambda: generate_latest(registry), 5))
    p50, p99 = median(seconds), percentile(seconds, 0.99)
    rss_mb, peak_mb = max(rss) / 1024, memory["VmHWM"] / 1024
    return [
        Row(
            f"exporter start to ready, {objects} processes",
            f"{ready_after:.1f} s for about {start_requests} requests (discovery, then the first poll of each"
            " object; step names follow at the lowest priority);"
            f" ideal {start_requests * LATENCY / CONCURRENCY:.1f} s",
            "",
            None,
        ),
        Row(
            f"/metrics latency, {objects} processes x {steps} steps",
            f"median {p50:.3f} s, p99 {p99:.3f} s over {len(seconds)} scrapes ({failures} failed);"
            f" {series} series, {len(body) / 1e6:.1f} MB, {processes} objects",
            f"<= 1.5x floor: generate_latest {floor:.3f} s (p99 = {p99 / floor:.2f}x)",
            failures == 0 and p99 <= 1.5 * floor and processes == objects,
        ),
        Row(
            f"exporter memory, {objects} processes",
            f"VmRSS max {rss_mb:.0f} MB during scrapes (peak VmHWM {peak_mb:.0f} MB)",
            "< 150 MB",
            rss_mb < 150,
        ),
    ]


def completions_or_ids(text: str) -> set[tuple[str, str]]:
    """Object IDs seen in ``anaplan_target_up`` (one series per watched object)."""
    out: set[tuple[str, str]] = set()
    for line in text.splitlines():
        if line.startswith("anaplan_target_up{"):
            object_id = line.split('object_id="', 1)[1].split('"', 1)[0]
            out.add((object_id, ""))
    return out


# ----------------------------------------------------------------------------------- main


def _verdict(row: Row) -> str:
    return "info" if row.ok is None else ("PASS" if row.ok else "MISS")


def print_table(rows: list[Row]) -> None:
    if not rows:
        return
    widths = [max(len(r.figure) for r in rows), max(len(r.measured) for r in rows)]
    for row in rows:
        print(f"{_verdict(row):4}  {row.figure:<{widths[0]}}  {row.measured:<{widths[1]}}  {row.target}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="watched objects for the poll cost")
    parser.add_argument("--scrape-objects", type=int, default=10_000, help="processes for the scrape cost")
    parser.add_argument("--steps", type=int, default=5, help="steps per process for the scrape cost")
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--auth-scale", type=float, default=120.0, help="time compression of the auth run")
    parser.add_argument("--auth-hours", type=float, default=2.0, help="length of the auth run (scaled hours)")
    parser.add_argument(
        "--freshness-sizes", default="50,300,1000", help="watched objects for the freshness runs"
    )
    parser.add_argument(
        "--freshness-seconds", type=float, default=360.0, help="length of each freshness run after ready"
    )
    parser.add_argument(
        "--freshness-history",
        type=int,
        default=10,
        help="finished runs of each lively process before the start (below 5: no rhythm to learn)",
    )
    parser.add_argument(
        "--cloudworks-sizes", default="50,1000", help="watched Anaplan objects for the CloudWorks runs"
    )
    parser.add_argument(
        "--cloudworks-seconds", type=float, default=240.0, help="length of each CloudWorks run's window"
    )
    parser.add_argument(
        "--cloudworks-after-ready",
        action="store_true",
        help="open the CloudWorks window once every object was polled (at 1,000 objects about 8 minutes)",
    )
    parser.add_argument("--gc-minutes", type=float, default=3.0, help="steady minutes of the gc measurement")
    parser.add_argument(
        "--task-list-runs", type=int, default=10_000, help="listed runs of the object for the task-list cost"
    )
    parser.add_argument(
        "--only",
        default="freshness,cloudworks,poll,auth,scrape,state,gc,tasklist",
        help="comma-separated parts to run",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = set(args.only.split(","))
    print(f"machine: {machine()}")
    print(
        f"settings: simulator latency {LATENCY * 1000:.0f} ms per request; exporter max_concurrency "
        f"{CONCURRENCY}, requests_per_second {REQUESTS_PER_SECOND:g}, workers {WORKERS}; repo {REPO}"
    )
    rows: list[Row] = []

    def report(new: list[Row]) -> None:
        for row in new:
            print(f"    {_verdict(row)}  {row.figure}: {row.measured}  [{row.target}]", flush=True)
        rows.extend(new)

    with tempfile.TemporaryDirectory(prefix="anaplan-bench-") as tmp:
        workdir = Path(tmp)
        if "freshness" in parts:
            for size in (int(s) for s in args.freshness_sizes.split(",") if s):
                print(
                    f"... freshness at the default budget, {size} objects, {args.freshness_seconds:g} s",
                    flush=True,
                )
                report(freshness(size, args.freshness_seconds, workdir, args.freshness_history))
        if "cloudworks" in parts:
            for size in (int(s) for s in args.cloudworks_sizes.split(",") if s):
                print(
                    f"... CloudWorks freshness at the default budget, {size} objects,"
                    f" {args.cloudworks_seconds:g} s",
                    flush=True,
                )
                report(
                    cloudworks_freshness(size, args.cloudworks_seconds, workdir, args.cloudworks_after_ready)
                )
        if "poll" in parts:
            for size in (int(s) for s in args.sizes.split(",") if s):
                print(f"... poll cost, {size} objects", flush=True)
                report(poll_cost(size, workdir))
        if "auth" in parts:
            scale = args.auth_scale
            print(
                f"... auth rate, time-scaled 1/{scale:g}: token lifetime {TOKEN_LIFETIME / scale:g} s, "
                f"refresh margin {REFRESH_MARGIN / scale:g} s, poll every {60 / scale:g} s, "
                f"{args.auth_hours:g} h = {args.auth_hours * 3600 / scale:g} s",
                flush=True,
            )
            report(auth_rate(scale, args.auth_hours, workdir))
        if "scrape" in parts:
            print(f"... scrape cost, {args.scrape_objects} processes x {args.steps} steps", flush=True)
            report(scrape_cost(args.scrape_objects, args.steps, args.scrapes, workdir))
        if "state" in parts:
            print("... state file save, 10,000 objects x 48 tasks", flush=True)
            report(state_save(10_000, 48, workdir))
        if "gc" in parts:
            print(f"... garbage collections, {args.scrape_objects} processes", flush=True)
            report(gc_pauses(args.scrape_objects, args.steps, args.gc_minutes, LATENCY, workdir))
        if "tasklist" in parts:
            print(
                f"... task-list cost per look, an object with {args.task_list_runs:,} listed runs", flush=True
            )
            report(task_list_cost(args.task_list_runs, workdir))
    print()
    print_table(rows)
    missed = [r for r in rows if r.ok is False]
    print(f"\n{len(missed)} target(s) missed" if missed else "\nall targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
