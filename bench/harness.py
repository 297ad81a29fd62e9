"""Shared plumbing for the benchmarks and the soak: real processes, scrapes, memory, exposition parsing.

The simulator is started with the test helper ``support.simulator.running_simulator``; the exporter with
``support.exporter.running_exporter`` (with a readiness timeout that suits 10,000 objects).
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from anaplan_exporter.config.file import Config, parse_config  # noqa: E402
from support.exporter import ExporterHandle, running_exporter  # noqa: E402
from support.simulator import SimulatorHandle, running_simulator  # noqa: E402

__all__ = [
    "REPO",
    "ExporterHandle",
    "Row",
    "Scrape",
    "SimulatorHandle",
    "completions",
    "exporter_config",
    "memory_kb",
    "parse_exporter_config",
    "percentile",
    "running_exporter",
    "running_simulator",
    "scrape",
]

PASSWORD_ENV = {"SIM_PASSWORD": "demo"}


def exporter_config(
    sim_url: str,
    targets: list[dict[str, Any]],
    *,
    concurrency: int,
    requests_per_second: float,
    workers: int,
    idle_interval: float = 60.0,
    retries: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An exporter configuration (as YAML data) that watches the simulator at ``sim_url``."""
    return {
        "anaplan": {
            "api_url": f"{sim_url}/2/0",
            "auth_url": sim_url,
            "oauth_url": sim_url,
            "auth": {"method": "basic", "username": "demo@example.com", "password": "${SIM_PASSWORD}"},
            "retries": dict(retries or {"max": 4, "backoff_initial": 0.2, "backoff_max": 5}),
            "max_concurrency": concurrency,
            "requests_per_second": requests_per_second,
        },
        "polling": {
            "idle_interval": idle_interval,
            "active_interval": 5,
            "discovery_interval": 86400,
            "workers": workers,
        },
        "targets": targets,
        "cloudworks": {"enabled": False},
        # A fresh start every time (the figures are of one), and nothing left in the home folder.
        "state": {"path": ""},
    }


def parse_exporter_config(data: dict[str, Any]) -> Config:
    return parse_config(data, "<bench>", PASSWORD_ENV)


@dataclass(frozen=True)
class Row:
    """One line of a benchmark's report."""

    figure: str
    measured: str
    target: str
    ok: bool | None  # None: informational


@dataclass(frozen=True)
class Scrape:
    status: int
    seconds: float
    body: bytes
    error: str = ""


def scrape(url: str, timeout: float) -> Scrape:
    """GET ``url`` and read the whole body; errors become a status of 0 with the reason."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            return Scrape(response.status, time.perf_counter() - started, body)
    except Exception as exc:  # any failure is a failed scrape, reported by the caller
        return Scrape(0, time.perf_counter() - started, b"", f"{type(exc).__name__}: {exc}")


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB, from /proc/PID/status."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.99 gives p99): an observed value, never interpolated."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def completions(text: str) -> Counter[tuple[str, str]]:
    """``anaplan_task_completions_total`` by (object_id, result), zeros left out."""
    counts: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(text):
        if family.name != "anaplan_task_completions":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.value:
                counts[(sample.labels["object_id"], sample.labels["result"])] += int(sample.value)
    return counts
