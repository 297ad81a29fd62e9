"""CloudWorks freshness at the default request budget: how long after a CloudWorks run starts or ends it shows
in ``/metrics``, and how long the Anaplan task it created takes to show, with N Anaplan objects watched.

The simulator (a real process, ``LATENCY`` per request) serves N watched Anaplan objects in one model and
the CloudWorks integrations and flows of ``scenario``; the exporter runs as a real process on its defaults
(5 requests per second, ``idle_interval`` 60 s, ``cloudworks.list_interval`` 5 s, CloudWorks ``auto`` with
every integration and flow). ``/metrics`` is scraped every half second from the exporter's first read of the
CloudWorks lists on, for ``seconds``, and compared with the simulator's CloudWorks ground truth
(``/__sim/cloudworks-truth``):

- a run's **start** is visible once its integration's ``anaplan_cloudworks_last_run_start_timestamp_seconds``
  shows its start; it was **seen running** if a scrape showed that start with ``anaplan_cloudworks_running``
  1 (a run shorter than the list interval may show only finished);
- its **end** is visible once ``anaplan_cloudworks_last_run_end_timestamp_seconds`` shows its end;
- its **task** (a linked Anaplan import, export or process) is visible once ``anaplan_task_info`` names the
  task, timed from the run's start (the task is created then).

The exporter is not waited on to be ready: at 1,000 objects its first poll of every object takes about 7
minutes, so the window lies in that first sweep, when every request the budget allows is taken (as it is
at steady state, where the idle sweep stretches to about 220 s). The peak request rate is the simulator's
own count over the whole run, start-up included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Row, exporter_config, median, percentile, running_exporter, running_simulator, scrape
from scenarios import MODEL, QUIET_FOREVER, USERS, WORKSPACE

LATENCY = 0.1
DEFAULT_RATE = 5.0
"""The exporter's default ``anaplan.requests_per_second``."""
OTHER_MODEL = "CloudWorks Only Model"
"""A model no target watches: its integrations run objects the exporter does not poll."""

EVERY = 60.0
"""Lively integrations run every minute (compressed time, like every simulated schedule)."""
FIRST_RUN = 20.0
"""Seconds after the simulator starts before the first lively run: the exporter's first look comes first."""
LINKED = 12
"""Lively integrations over watched objects (imports, exports and processes, a third each)."""
UNLINKED = 4
"""Lively integrations over objects of ``OTHER_MODEL``."""
FLOW_STEPS = 3
FLOW_EVERY = 90.0
FLOW_STEP_SECONDS = 6.0


@dataclass(frozen=True)
class Shape:
    """How many integrations and flows a tenant with ``objects`` watched objects has."""

    objects: int
    integrations: int
    flows: int

    @property
    def idle_integrations(self) -> int:
        return self.integrations - LINKED - UNLINKED - FLOW_STEPS * self.flows


def shape(objects: int) -> Shape:
    """About one integration per ten objects, at least 25 (the lively ones and a few idle); one flow per
    few hundred objects, at least one."""
    integrations = max(25, min(objects // 10, 500))
    flows = max(1, min(objects // 300, 10))
    return Shape(objects, integrations, flows)


def _hhmm(i: int) -> str:
    return f"{(i * 7) % 24:02d}:{(i * 13) % 60:02d}"


def scenario(objects: int) -> dict[str, Any]:
    """N watched objects; ``LINKED`` lively integrations over some of them and ``UNLINKED`` over an unwatched
    model (each run every ``EVERY`` s, a quarter failing on their connector before any task); flows of
    ``FLOW_STEPS`` integrations every ``FLOW_EVERY`` s; idle integrations (a daily schedule, two runs of
    history, nothing during the benchmark) over further watched objects; the rest idle objects."""
    s = shape(objects)
    if s.idle_integrations < 0 or objects < LINKED + FLOW_STEPS * s.flows + s.idle_integrations:
        raise ValueError(f"{objects} objects are too few for the CloudWorks benchmark")
    imports: list[dict[str, Any]] = []
    exports: list[dict[str, Any]] = []
    processes: list[dict[str, Any]] = []
    integrations: list[dict[str, Any]] = []

    def lively(i: int, kind: str, object_id: str) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": object_id,
            "name": f"Lively {kind} {i}",
            "every": EVERY,
            "duration": 8 + (i * 5) % 25,
            "offset": FIRST_RUN + i * EVERY / (LINKED + UNLINKED),
            "outcomes": ["success", "failure", "success"],
            "history": 2,
        }
        if kind == "process":
            obj["steps"] = [{"id": f"11200000{5000 + i:04d}", "name": f"Load {i}", "type": "IMPORT"}]
        return obj

    kinds = ("import", "export", "process")
    prefixes = {"import": "112", "export": "116", "process": "118"}
    groups = {"import": imports, "export": exports, "process": processes}
    unlinked_model: dict[str, list[dict[str, Any]]] = {"imports": [], "exports": []}
    for i in range(LINKED + UNLINKED):
        kind = kinds[i % 3] if i < LINKED else ("import", "export")[i % 2]
        object_id = f"{prefixes[kind]}0000010{i:02d}"
        obj = lively(i, kind, object_id)
        integration: dict[str, Any] = {
            "name": f"Lively {i}" if i < LINKED else f"Unlinked {i}",
            "object": object_id,
            "connector": ("amazon_s3", "azure_blob", "google_bigquery")[i % 3],
            "schedule": {"type": "hourly", "fromTime": "00:00", "toTime": "23:00", "repeatEvery": 1},
        }
        if i % 4 == 3:
            integration["connector_failures"] = ["none", "file_missing", "none", "expired_credentials"]
        if i < LINKED:
            groups[kind].append(obj)
        else:
            unlinked_model[kind + "s"].append(obj)
        integrations.append(integration)
    flows = []
    for f in range(s.flows):
        steps = []
        for j in range(FLOW_STEPS):
            object_id = f"1120000020{f * FLOW_STEPS + j:02d}"
            imports.append(
                {
                    "id": object_id,
                    "name": f"Flow {f} step {j}",
                    "every": 2 * QUIET_FOREVER,  # its own slots never come: it runs in its flow only
                    "offset": QUIET_FOREVER,
                    "duration": FLOW_STEP_SECONDS,
                    "history": 1,
                }
            )
            name = f"Flow {f} step {j}"
            integrations.append(
                {
                    "name": name,
                    "object": object_id,
                    "schedule": {"type": "daily", "time": "03:00", "status": "Inactive"},
                }
            )
            step: dict[str, Any] = {"integration": name, "on_failure": "stop"}
            if j == 1:
                step["outcomes"] = ["success", "failure"]  # every other run stops after its second step
            steps.append(step)
        flows.append(
            {
                "name": f"Flow {f}",
                "every": FLOW_EVERY,
                "offset": FIRST_RUN + 10 + f * FLOW_EVERY / s.flows,
                "schedule": {"type": "daily", "time": "04:00"},
                "steps": steps,
            }
        )
    for i in range(s.idle_integrations):
        object_id = f"1160000030{i:02d}" if i < 100 else f"116000003{i:03d}"
        exports.append(
            {
                "id": object_id,
                "name": f"Nightly export {i}",
                "every": 2 * QUIET_FOREVER,
                "offset": QUIET_FOREVER,
                "duration": 30,
                "history": 2,
            }
        )
        integrations.append(
            {
                "name": f"Nightly {i}",
                "object": object_id,
                "connector": ("amazon_s3", "azure_blob", "google_bigquery")[i % 3],
                "schedule": {"type": "daily", "time": _hhmm(i), "timezone": "Europe/London"},
            }
        )
    declared = len(imports) + len(exports) + len(processes)
    rest = objects - declared
    generate = {
        "imports": rest - 2 * (rest // 3),
        "exports": rest // 3,
        "processes": rest // 3,
        "steps": 1,
        "every": 2 * QUIET_FOREVER,
        "offset": QUIET_FOREVER,
        "duration": 60,
        "history": 2,
        "outcomes": ["success", "failure"],
    }
    model: dict[str, Any] = {"name": MODEL, "imports": imports, "exports": exports, "processes": processes}
    if rest:
        model["generate"] = generate
    return {
        "users": USERS,
        "workspaces": [
            {
                "name": WORKSPACE,
                "models": [model, {"name": OTHER_MODEL, **unlinked_model}],
            }
        ],
        "cloudworks": {"integrations": integrations, "flows": flows},
        "faults": {"latency": LATENCY},
    }


def default_budget_config(sim_url: str) -> dict[str, Any]:
    """The exporter's own defaults for the budget, polling and CloudWorks: only the connection is set."""
    config = exporter_config(
        sim_url,
        [{"workspace": WORKSPACE, "model": MODEL, **{k: "*" for k in ("processes", "imports", "exports")}}],
        concurrency=4,
        requests_per_second=DEFAULT_RATE,
        workers=8,
    )
    config["anaplan"]["cloudworks_url"] = f"{sim_url}/cloudworks/2/0"
    for key in ("max_concurrency", "requests_per_second", "retries"):
        del config["anaplan"][key]
    del config["polling"]
    del config["cloudworks"]
    return config


# ----------------------------------------------------------------------------------- reading /metrics


@dataclass
class Integration:
    """What one scrape shows of an integration."""

    start: float | None = None
    end: float | None = None
    running: bool = False


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for part in text.split('",'):
        if "=" in part:
            key, value = part.split("=", 1)
            labels[key.strip()] = value.strip().strip('"')
    return labels


CW_FAMILIES = {
    "anaplan_cloudworks_running": "running",
    "anaplan_cloudworks_last_run_start_timestamp_seconds": "start",
    "anaplan_cloudworks_last_run_end_timestamp_seconds": "end",
}


def read_metrics(text: str) -> tuple[dict[str, Integration], set[str], bool]:
    """Integrations by ID, the task IDs ``anaplan_task_info`` names, and whether CloudWorks was read."""
    integrations: dict[str, Integration] = {}
    tasks: set[str] = set()
    up = False
    for line in text.splitlines():
        if line.startswith("anaplan_task_info{"):
            labels = parse_labels(line[len("anaplan_task_info{") : line.rindex("}")])
            tasks.add(labels.get("task_id", ""))
            continue
        if line.startswith("anaplan_cloudworks_up ") and line.split()[1] == "1.0":
            up = True
        name, brace, rest = line.partition("{")
        attribute = CW_FAMILIES.get(name)
        if attribute is None or not brace:
            continue
        label_text, _, value = rest.rpartition("} ")
        labels = parse_labels(label_text)
        if labels.get("kind") != "integration":
            continue
        item = integrations.setdefault(labels["cloudworks_id"], Integration())
        number = float(value.split()[0])
        if attribute == "running":
            item.running = number == 1.0
        else:
            setattr(item, attribute, number)
    return integrations, tasks, up


def _ms(seconds: float) -> int:
    """A time in whole milliseconds (as CloudWorks gives it): exposition and truth match on it."""
    return round(seconds * 1000)


def _stats(delays: list[float]) -> str:
    if not delays:
        return "none seen"
    return f"median {median(delays):.1f} s, p90 {percentile(delays, 0.9):.1f} s, max {max(delays):.1f} s"


def cloudworks_freshness(objects: int, seconds: float, workdir: Path, after_ready: bool = False) -> list[Row]:
    """``after_ready``: open the window once the exporter has polled every object (steady state), not at
    its first read of CloudWorks (start-up)."""
    s = shape(objects)
    with running_simulator(scenario(objects), workdir) as sim:
        started = time.monotonic()
        with running_exporter(
            default_budget_config(sim.url),
            workdir,
            ready_timeout=3600 if after_ready else 60,
            ready_path="/-/ready" if after_ready else "/-/healthy",
        ) as exporter:
            # Open the window at the first scrape that shows CloudWorks read: runs going on then are history.
            window_start: float | None = None
            while window_start is None:
                result = scrape(exporter.url + "/metrics", timeout=30)
                if result.status == 200 and read_metrics(result.body.decode())[2]:
                    window_start = time.time()
                elif time.monotonic() - started > 120:
                    raise AssertionError("the exporter never read CloudWorks")
                else:
                    time.sleep(0.5)
            first_read_after = time.monotonic() - started
            ready_after: float | None = first_read_after if after_ready else None
            # What each scrape shows first, matched with the ground truth at the end: an integration's
            # (ID, start in ms) and (ID, end in ms), and task IDs, each with the time first shown.
            first_start: dict[tuple[str, int], float] = {}
            first_running: dict[tuple[str, int], float] = {}
            first_end: dict[tuple[str, int], float] = {}
            first_task: dict[str, float] = {}
            scrapes = 0
            while time.time() < window_start + seconds:
                result = scrape(exporter.url + "/metrics", timeout=30)
                at = time.time()
                scrapes += 1
                if result.status != 200:
                    continue
                integrations, tasks, _ = read_metrics(result.body.decode())
                for integration_id, shown in integrations.items():
                    if shown.start is not None:
                        key = (integration_id, _ms(shown.start))
                        first_start.setdefault(key, at)
                        if shown.running:
                            first_running.setdefault(key, at)
                    if shown.end is not None:
                        first_end.setdefault((integration_id, _ms(shown.end)), at)
                for task_id in tasks:
                    first_task.setdefault(task_id, at)
                if ready_after is None and scrapes % 10 == 0 and _ready(exporter.url):
                    ready_after = time.monotonic() - started
                time.sleep(max(0.0, 0.5 - (time.time() - at)))
            window_end = time.time()
            stats = sim.stats()
            truth = [t for t in sim.cloudworks_truth() if t.get("record") == "cloudworks_run"]
    linked_objects = LINKED + FLOW_STEPS * s.flows
    starts, ends, tasks_after, never_running, missed_start, missed_end, missed_task = [], [], [], 0, 0, 0, 0
    counted = 0
    slow: list[str] = []  # linked tasks shown more than 10 s after their run started
    for t in truth:
        if not window_start < t["start_time"] <= window_end - 25:
            continue  # history at the exporter's first look, or too close to the end to be judged
        counted += 1
        key = (t["integration_id"], _ms(t["start_time"]))
        if key not in first_start:
            missed_start += 1
        else:
            starts.append(first_start[key] - t["start_time"])
        if key not in first_running:
            never_running += 1
        finish = t["finish_time"]
        if finish is not None and finish <= window_end - 25 and not t["running"]:
            shown_end = first_end.get((t["integration_id"], _ms(finish)))
            if shown_end is None:
                missed_end += 1
            else:
                ends.append(shown_end - finish)
        if t["task_id"] and _watched(t):
            if t["task_id"] not in first_task:
                missed_task += 1
            else:
                tasks_after.append(first_task[t["task_id"]] - t["start_time"])
                if tasks_after[-1] > 10:
                    slow.append(f"{t['integration_name']} ({t['trigger_source']}) {tasks_after[-1]:.1f} s")
    elapsed = window_end - window_start
    by_kind: dict[str, dict[str, int]] = stats["requests"]
    cloudworks_requests = sum(
        sum(codes.values()) for kind, codes in by_kind.items() if kind.startswith("cloudworks")
    )
    total = sum(sum(codes.values()) for codes in by_kind.values())
    uptime = float(stats["uptime_seconds"])
    peak = int(stats["max_requests_per_second"])
    within = len(starts) > 0 and median(starts) <= 10 and max(starts) <= 20 and not missed_start
    ends_ok = len(ends) > 0 and median(ends) <= 10 and max(ends) <= 20 and not missed_end
    label = f"CloudWorks, {objects} objects ({s.integrations} integrations, {s.flows} flows" + (
        ", after ready)" if after_ready else ")"
    )
    ready = f"ready after {ready_after:.0f} s" if ready_after is not None else "not ready within the window"
    return [
        Row(
            f"{label}, run start visible after",
            f"{_stats(starts)} ({len(starts)} runs; {missed_start} never shown; {never_running} never seen"
            " running)",
            "median <= 10 s, max <= 20 s, none missed",
            within,
        ),
        Row(
            f"{label}, run end visible after",
            f"{_stats(ends)} ({len(ends)} runs; {missed_end} never shown)",
            "median <= 10 s, max <= 20 s, none missed",
            ends_ok,
        ),
        Row(
            f"{label}, linked Anaplan task visible after the run's start",
            f"{_stats(tasks_after)} ({len(tasks_after)} tasks of {linked_objects} linked objects;"
            f" {missed_task} never shown{'; over 10 s: ' + ', '.join(slow) if slow else ''})",
            "informational (target ~ seconds)",
            None,
        ),
        Row(
            f"{label}, requests",
            f"{total / uptime:.2f}/s over {uptime:.0f} s ({cloudworks_requests} CloudWorks, {total} in all);"
            f" most in one second: {peak}; CloudWorks first read {first_read_after:.0f} s after start,"
            f" {ready}; window {elapsed:.0f} s, {scrapes} scrapes, {counted} runs judged",
            f"<= {DEFAULT_RATE:g} in any second",
            peak <= DEFAULT_RATE,
        ),
    ]


def _watched(truth: dict[str, Any]) -> bool:
    """Whether the run's Anaplan object is one the exporter watches (not in ``OTHER_MODEL``)."""
    return not str(truth["integration_name"]).startswith("Unlinked")


def _ready(url: str) -> bool:
    return scrape(url + "/-/ready", timeout=5).status == 200
