"""``make soak``: the exporter (real process) polls a faulty simulator (real process) for a long stretch.

Faults, switched on once the exporter has its start-up baseline: 20% 5xx, 429 bursts with Retry-After,
tokens dying early every few minutes, malformed bodies, dropped connections and slow responses. Checked:
the exporter never dies; every scrape (one per second) answers 200 within 1 s; polling never stalls; memory
stays flat after warm-up; Anaplan never sees more requests per second than configured; nothing but GETs
reach the integration API; and, compared in a quiet window at the end (every soak run is over by
``SOAK_BUSY`` seconds into each period, and faults are off for the last period), the completions counted
equal the simulator's ground truth exactly. Half-way through, the exporter is stopped while runs are
starting, kept down while they finish and started again with the same state file: those runs must be
counted once like the others (faults pause from the stop until the new process is ready, so that its start-up
discovery is not left to chance). Exits 1 on any failure.

Usage: python bench/soak.py [--duration 600]
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from harness import (
    completions,
    exporter_config,
    memory_kb,
    running_exporter,
    running_simulator,
    scrape,
)
from scenarios import (
    SOAK_FIRST_RUN,
    SOAK_PERIOD,
    all_of_model,
    soak_busy_until,
    soak_objects,
    soak_scenario,
)

REQUESTS_PER_SECOND = 10
"""The exporter's configured budget: the simulator's peak in any one-second window of arrivals must not
exceed it (the client's limiter leaves a margin for requests that arrive late, see ``anaplan/limiter.py``)."""
SCRAPE_DEADLINE = 1.0
MEMORY_GROWTH_LIMIT_MB = 20.0
STALL_LIMIT = 30.0
"""Longest time the exporter's own request counter may stand still while faults are on."""
CHECK_INTO_PERIOD = SOAK_PERIOD - 2.0
"""When, in the final period, counts are compared: late in the quiet window."""
DOWN_SECONDS = 6.0
"""How long the exporter stays stopped half-way: from as the runs start until most of them have finished."""

FAULTS: dict[str, Any] = {
    "error_rate_5xx": 0.2,
    "rate_limit": {"every": 25, "for": 2, "retry_after": 1},
    "malformed_json_rate": 0.03,
    "drop_connection_rate": 0.03,
    "latency": {"min": 0.01, "max": 1.5},
}
FAULTS_OFF: dict[str, Any] = {
    "error_rate_5xx": 0,
    "rate_limit": None,
    "malformed_json_rate": 0,
    "drop_connection_rate": 0,
    "latency": 0,
    "token_early_expiry": None,
}


@dataclass
class SoakReport:
    duration: float
    scrapes: int = 0
    slow_or_failed_scrapes: list[str] = field(default_factory=list)
    max_scrape_seconds: float = 0.0
    exporter_exit: int | None = None
    crashed: str = ""
    rss_mb: list[float] = field(default_factory=list)
    warmup_samples: int = 0
    longest_stall: float = 0.0
    max_requests_per_second: int = 0
    non_get_requests: int = 0
    requests: int = 0
    faulty_answers: int = 0
    auth_requests: int = 0
    expected: Counter[tuple[str, str]] = field(default_factory=Counter)
    counted: Counter[tuple[str, str]] = field(default_factory=Counter)
    timing_problem: str = ""
    restarts: int = 0
    finished_while_down: int = 0
    """Runs that ended while the exporter was stopped: the restart must count them once."""
    down_seconds: float = 0.0
    """From the restart's SIGTERM until the new process was ready: no scrapes are due in that time."""

    @property
    def memory_growth_mb(self) -> float:
        after = self.rss_mb[self.warmup_samples :] or self.rss_mb
        return max(after) - after[0] if after else math.inf

    def failures(self) -> list[str]:
        out = []
        if self.crashed:
            out.append(f"exporter died: {self.crashed}")
        if self.exporter_exit not in (0, None):
            out.append(f"exporter exited with {self.exporter_exit} on SIGTERM")
        if self.restarts != 1 or not self.finished_while_down:
            out.append(
                f"the restart did not happen as planned ({self.restarts} restarts, "
                f"{self.finished_while_down} runs finished while down)"
            )
        if self.slow_or_failed_scrapes:
            out.append(
                f"{len(self.slow_or_failed_scrapes)} scrapes failed or took over {SCRAPE_DEADLINE:g} s: "
                + "; ".join(self.slow_or_failed_scrapes[:5])
            )
        if self.scrapes < (self.duration - self.down_seconds) * 0.8:
            out.append(f"only {self.scrapes} scrapes in {self.duration - self.down_seconds:.0f} s up")
        if self.memory_growth_mb > MEMORY_GROWTH_LIMIT_MB:
            out.append(f"memory grew {self.memory_growth_mb:.1f} MB after warm-up")
        if self.longest_stall > STALL_LIMIT:
            out.append(f"polling stood still for {self.longest_stall:.0f} s")
        if self.max_requests_per_second > REQUESTS_PER_SECOND:
            out.append(f"Anaplan saw {self.max_requests_per_second} requests in one second")
        if self.non_get_requests:
            out.append(f"{self.non_get_requests} non-GET requests reached the integration API")
        if self.timing_problem:
            out.append(self.timing_problem)
        if not self.expected:
            out.append("no run finished during the soak")
        if self.counted != self.expected:
            diff = {
                k: (self.counted[k], self.expected[k]) for k in self.counted.keys() | self.expected.keys()
            }
            wrong = {k: v for k, v in diff.items() if v[0] != v[1]}
            out.append(f"completions differ from the ground truth (counted, expected): {wrong}")
        return out

    def summary(self) -> str:
        rss = self.rss_mb[self.warmup_samples :] or self.rss_mb
        lines = [
            f"duration {self.duration:g} s, {self.scrapes} scrapes, slowest {self.max_scrape_seconds:.3f} s,"
            f" {len(self.slow_or_failed_scrapes)} failed or over {SCRAPE_DEADLINE:g} s",
            f"memory (VmRSS after warm-up): first {rss[0]:.1f} MB, last {rss[-1]:.1f} MB,"
            f" max {max(rss):.1f} MB, growth {self.memory_growth_mb:.1f} MB"
            f" (limit {MEMORY_GROWTH_LIMIT_MB:g})"
            if rss
            else "memory: no sample",
            f"Anaplan requests: {self.requests} ({self.faulty_answers} answered with a fault), "
            f"{self.auth_requests} to the auth service, peak {self.max_requests_per_second}/s "
            f"(configured {REQUESTS_PER_SECOND}/s), "
            f"{self.non_get_requests} non-GET",
            f"longest stretch without a request: {self.longest_stall:.1f} s (limit {STALL_LIMIT:g})",
            f"restart: {self.restarts} ({self.down_seconds:.1f} s down), "
            f"{self.finished_while_down} runs finished while the exporter was down",
            f"completions: {sum(self.counted.values())} counted, "
            f"{sum(self.expected.values())} in the ground truth"
            f" ({', '.join(f'{r} {n}' for r, n in sorted(_by_result(self.expected).items()))})",
        ]
        return "\n".join(lines)


def _by_result(counts: Counter[tuple[str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (_, result), n in counts.items():
        out[result] += n
    return out


def _sample_total(text: str, family_name: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        if f.name == family_name
        for s in f.samples
        if s.name == family_name + "_total"
    )


def run_soak(duration: float, workdir: Path, log: Any = None) -> SoakReport:
    """Run the soak for ``duration`` seconds of faults and return what was measured."""

    def say(message: str) -> None:
        if log is not None:
            print(message, file=log, flush=True)

    report = SoakReport(duration=duration)
    objects = soak_objects()
    busy_until = soak_busy_until(objects)
    assert busy_until < CHECK_INTO_PERIOD - 5, "the scenario leaves no quiet window"
    with running_simulator(soak_scenario(), workdir) as sim:
        sim_epoch = time.time() - sim.stats()["uptime_seconds"]
        config = exporter_config(
            sim.url,
            all_of_model("processes", "imports", "exports", "actions"),
            concurrency=4,
            requests_per_second=REQUESTS_PER_SECOND,
            workers=8,
            idle_interval=5,
            retries={"max": 4, "backoff_initial": 0.5, "backoff_max": 5},
        )
        config["state"] = {"path": str(workdir / "state.json"), "save_interval": 2}
        with ExitStack() as stack:
            exporter = stack.enter_context(running_exporter(config, workdir, ready_timeout=30))
            ready_at = time.time()
            url = exporter.url + "/metrics"
            faults = {**FAULTS, "token_early_expiry": min(120.0, max(20.0, duration / 4))}
            sim.set_faults(**faults)
            say(f"faults on: {faults}")
            started = time.monotonic()
            faults_off_at = started + max(duration - (SOAK_PERIOD + 5), duration / 2)
            # The first run window from a period before half-way: at once in a soak of under two periods.
            restart_after = started + max(0.0, duration / 2 - SOAK_PERIOD)
            down: tuple[float, float] | None = None
            end = started + duration
            warmup_until = started + min(60.0, duration / 4)
            last_total, last_progress = -1.0, time.monotonic()
            faults_on = True
            next_scrape = time.monotonic()
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if faults_on and now >= faults_off_at:
                    sim.set_faults(**FAULTS_OFF)
                    faults_on = False
                    say("faults off for the last period")
                into = (time.time() - sim_epoch) % SOAK_PERIOD
                if down is None and now >= restart_after and SOAK_FIRST_RUN - 1.5 <= into <= SOAK_FIRST_RUN:
                    sim.set_faults(**FAULTS_OFF)
                    stopped_at = time.time()
                    exporter.process.send_signal(signal.SIGTERM)
                    first_exit = exporter.process.wait(15)
                    if first_exit != 0:
                        report.crashed = f"exit code {first_exit} on the restart's SIGTERM"
                        return report
                    time.sleep(DOWN_SECONDS)
                    exporter = stack.enter_context(running_exporter(config, workdir, ready_timeout=30))
                    down = (stopped_at, time.time())
                    report.down_seconds = down[1] - stopped_at
                    report.restarts += 1
                    if faults_on:
                        sim.set_faults(**faults)
                    say(f"restarted after {down[1] - stopped_at:.1f} s down")
                    url = exporter.url + "/metrics"
                    # A new process: memory is measured afresh from its own warm-up.
                    report.rss_mb.clear()
                    report.warmup_samples = 0
                    warmup_until = time.monotonic() + min(60.0, duration / 4)
                    next_scrape = time.monotonic()
                    continue
                result = scrape(url, timeout=5.0)
                report.scrapes += 1
                report.max_scrape_seconds = max(report.max_scrape_seconds, result.seconds)
                if result.status != 200 or result.seconds > SCRAPE_DEADLINE:
                    elapsed = now - started
                    problem = (
                        f"t={elapsed:.0f}s status {result.status} in {result.seconds:.2f}s {result.error}"
                    )
                    report.slow_or_failed_scrapes.append(problem.strip())
                if exporter.process.poll() is not None:
                    report.crashed = f"exit code {exporter.process.returncode}: {exporter.logs()[-1500:]}"
                    return report
                report.rss_mb.append(memory_kb(exporter.process.pid)["VmRSS"] / 1024)
                if now < warmup_until:
                    report.warmup_samples = len(report.rss_mb)
                if result.status == 200:
                    total = _sample_total(result.body.decode(), "anaplan_api_requests")
                    if total != last_total:
                        last_total, last_progress = total, time.monotonic()
                    report.longest_stall = max(report.longest_stall, time.monotonic() - last_progress)
                next_scrape += 1.0
                time.sleep(max(0.0, next_scrape - time.monotonic()))
            # Compare late in the quiet window of the current or the next period.
            into = (time.time() - sim_epoch) % SOAK_PERIOD
            wait = CHECK_INTO_PERIOD - into
            if wait < 0:
                wait += SOAK_PERIOD
            say(f"waiting {wait:.0f} s for the quiet window")
            time.sleep(wait)
            final = scrape(url, timeout=10.0)
            truth = sim.ground_truth()
            stats = sim.stats()
            if final.status != 200:
                report.slow_or_failed_scrapes.append(f"final scrape: status {final.status} {final.error}")
            report.counted = completions(final.body.decode())
        report.exporter_exit = exporter.process.returncode
    live = [t for t in truth if not t["history"] and t["outcome"] is not None]
    if down is not None:
        report.finished_while_down = sum(1 for t in live if down[0] < t["finish_time"] <= down[1])
    report.expected = Counter((t["object_id"], t["outcome"]) for t in live)
    if any(t["finish_time"] <= ready_at for t in live):
        report.timing_problem = "a run finished before the exporter was ready (its baseline would absorb it)"
    report.max_requests_per_second = stats["max_requests_per_second"]
    report.non_get_requests = stats["non_get_integration_requests"]
    report.requests = stats["total_requests"]
    report.auth_requests = stats["auth_requests"]
    report.faulty_answers = sum(
        n
        for codes in stats["requests"].values()
        for code, n in codes.items()
        if code in ("429", "500", "502", "503", "dropped")
    )
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of polling (default 600)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="anaplan-soak-") as tmp:
        report = run_soak(args.duration, Path(tmp), log=sys.stdout)
    print(report.summary())
    failures = report.failures()
    for failure in failures:
        print(f"FAIL: {failure}")
    print("soak FAILED" if failures else "soak PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
