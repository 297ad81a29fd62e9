"""Writes the Grafana dashboards in grafana/dashboards/ (Grafana 10 and 11, no Angular panels).

Run ``python grafana/build_dashboards.py`` after editing, ``--check`` to verify the JSON files are up to date.
Panels are declared in reading order and packed left to right into rows of 24 columns.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TASKS_UID = "anaplan-tasks"
EXPORTER_UID = "anaplan-exporter"

# Label matchers of the object variables, for per-object series.
OBJ = 'workspace_name=~"$workspace", model_name=~"$model", object_name=~"$object"'
# Label matcher of the exporter instance variable.
INST = 'instance=~"$instance"'
# The interval AnaplanTaskOverdue uses: configured expected_every, else the learned one.
EFFECTIVE = "anaplan:task_expected_interval_seconds:effective"
# Join keys of per-object series (task_info adds task_id, current_step and state to them).
KEYS = "job, instance, workspace_id, model_id, object_type, object_id"
OBJECT_LEGEND = "{{model_name}} / {{object_name}}"

Json = dict[str, Any]


def target(expr: str, legend: str = "", table: bool = False) -> Json:
    """A Prometheus query; tables run instant queries in table format."""
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not table,
        "instant": table,
        "format": "table" if table else "time_series",
    }


def thresholds(*steps: tuple[str, float | None]) -> Json:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for color, value in steps]}


def value_map(*entries: tuple[int, str, str]) -> list[Json]:
    """A value mapping: number -> (text, color)."""
    options = {
        str(value): {"text": text, "color": color, "index": i}
        for i, (value, text, color) in enumerate(entries)
    }
    return [{"type": "value", "options": options}]


OK_FAILING = value_map((1, "OK", "green"), (0, "Failing", "red"))
YES_NO = value_map((1, "yes", "red"), (0, "no", "green"))
TASK_STATUS = value_map(
    (1, "Not started", "blue"),
    (2, "Running", "yellow"),
    (3, "Succeeded", "green"),
    (4, "Failed", "red"),
    (5, "Cancelling", "orange"),
    (6, "Cancelled", "purple"),
    (7, "Unknown", "text"),
)


def override(name: str, properties: dict[str, Any], regex: bool = False) -> Json:
    return {
        "matcher": {"id": "byRegexp" if regex else "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


DASHED = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}, "custom.fillOpacity": 0}


def panel(
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    size: tuple[int, int],
    unit: str = "none",
    defaults: Json | None = None,
    overrides: list[Json] | None = None,
    options: Json | None = None,
    transformations: list[Json] | None = None,
) -> Json:
    """One panel; ``size`` is (width, height) in grid units, position comes from the layout."""
    for ref, query in zip("ABCDEFGH", targets, strict=False):
        query["refId"] = ref
    result: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"w": size[0], "h": size[1]},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, **(defaults or {})}, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        result["transformations"] = transformations
    return result


LEGEND = {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []}
REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    size: tuple[int, int] = (12, 8),
    unit: str = "none",
    bars: bool = False,
    overrides: list[Json] | None = None,
    max_: float | None = None,
) -> Json:
    custom = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if bars else "none", "group": "A"},
    }
    return panel(
        "timeseries",
        title,
        description,
        targets,
        size,
        unit,
        defaults={
            "custom": custom,
            "color": {"mode": "palette-classic"},
            "min": 0,
            **({} if max_ is None else {"max": max_}),
        },
        overrides=overrides,
        options={"legend": LEGEND, "tooltip": {"mode": "multi", "sort": "desc"}},
    )


def stat(
    title: str,
    description: str,
    expr: str,
    unit: str = "none",
    steps: Json | None = None,
    mappings: list[Json] | None = None,
    text_mode: str = "value",
    legend: str = "",
    width: int = 4,
) -> Json:
    return panel(
        "stat",
        title,
        description,
        [target(expr, legend)],
        (width, 4),
        unit,
        defaults={
            "color": {"mode": "thresholds"},
            "thresholds": steps or thresholds(("green", None)),
            "mappings": mappings or [],
            "decimals": 0,
        },
        options={
            "reduceOptions": REDUCE_LAST,
            "colorMode": "value",
            "graphMode": "none",
            "textMode": text_mode,
            "justifyMode": "auto",
            "orientation": "auto",
        },
    )


def state_timeline(title: str, description: str, expr: str, legend: str, mappings: list[Json]) -> Json:
    return panel(
        "state-timeline",
        title,
        description,
        [target(expr, legend)],
        (12, 8),
        defaults={
            "color": {"mode": "thresholds"},
            "thresholds": thresholds(("text", None)),
            "mappings": mappings,
            "custom": {"fillOpacity": 80, "lineWidth": 0},
        },
        options={
            "mergeValues": True,
            "showValue": "auto",
            "alignValue": "left",
            "rowHeight": 0.9,
            "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    )


def bargauge(
    title: str,
    description: str,
    targets: list[Json],
    size: tuple[int, int],
    unit: str,
    steps: Json,
    max_: float,
) -> Json:
    return panel(
        "bargauge",
        title,
        description,
        targets,
        size,
        unit,
        defaults={"color": {"mode": "thresholds"}, "thresholds": steps, "min": 0, "max": max_},
        options={
            "reduceOptions": REDUCE_LAST,
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
            "valueMode": "color",
            "namePlacement": "auto",
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
        },
    )


# Columns of per-object tables that only serve as join keys.
HIDDEN_COLUMNS = ["Time", "__name__", "job", "workspace_id", "model_id", "object_id"]


def table(
    title: str,
    description: str,
    exprs: list[str],
    size: tuple[int, int],
    rename: dict[str, str],
    hide: Iterable[str] = (),
    overrides: list[Json] | None = None,
) -> Json:
    """Instant queries merged into one row per series; ``rename`` also fixes the column order."""
    excluded = {name: True for name in [*HIDDEN_COLUMNS, *hide]}
    order = {name: i for i, name in enumerate(rename)}
    return panel(
        "table",
        title,
        description,
        [target(expr, table=True) for expr in exprs],
        size,
        defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
        overrides=overrides,
        options={
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": ""},
        },
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {"excludeByName": excluded, "indexByName": order, "renameByName": rename},
            },
        ],
    )


def layout(panels: list[Json]) -> list[Json]:
    """Give panels ids and pack them into rows of 24 columns, in order."""
    x = y = row_height = 0
    for number, item in enumerate(panels, start=1):
        width, height = item["gridPos"]["w"], item["gridPos"]["h"]
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        item["id"] = number
        item["gridPos"] = {"x": x, "y": y, "w": width, "h": height}
        x += width
        row_height = max(row_height, height)
    return panels


def query_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": query,
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "hide": 0,
    }


def variables(with_instance: bool) -> list[Json]:
    found: list[Json] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "regex": "",
            "current": {},
            "options": [],
            "refresh": 1,
            "hide": 0,
            "multi": False,
            "includeAll": False,
        }
    ]
    if with_instance:
        found.append(query_variable("instance", "Exporter", "label_values(anaplan_up, instance)"))
    found += [
        query_variable("workspace", "Workspace", "label_values(anaplan_task_state, workspace_name)"),
        query_variable(
            "model", "Model", 'label_values(anaplan_task_state{workspace_name=~"$workspace"}, model_name)'
        ),
        query_variable(
            "object",
            "Object",
            'label_values(anaplan_task_state{workspace_name=~"$workspace", model_name=~"$model"},'
            " object_name)",
        ),
    ]
    return found


def link(title: str, uid: str, tooltip: str) -> Json:
    return {
        "title": title,
        "type": "link",
        "url": f"/d/{uid}/{uid}",
        "icon": "dashboard",
        "tooltip": tooltip,
        "includeVars": True,
        "keepTime": True,
        "targetBlank": False,
        "asDropdown": False,
        "tags": [],
    }


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Json]
    links: list[Json]
    with_instance: bool = False
    tags: list[str] = field(default_factory=lambda: ["anaplan"])

    def to_json(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "id": None,
            "version": 1,
            "schemaVersion": 38,
            "editable": True,
            "graphTooltip": 1,
            "timezone": "browser",
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "annotations": {"list": []},
            "links": self.links,
            "templating": {"list": variables(self.with_instance)},
            "panels": layout(self.panels),
        }


def completions_stat(title: str, result: str, color: str) -> Json:
    return stat(
        title,
        f"Runs that ended in {result} within the time range (counted since the exporter started).",
        f'sum(increase(anaplan_task_completions_total{{{OBJ}, result="{result}"}}[$__range])) or vector(0)',
        steps=thresholds(("green", None), (color, 1)),
    )


def tasks_dashboard() -> Dashboard:
    # Multiplying by the info series (value 1) keeps active tasks only and adds their step and state.
    running = (
        f"* on ({KEYS}) group_left (task_id, current_step, state)"
        f' anaplan_task_info{{{OBJ}, state=~"NOT_STARTED|IN_PROGRESS|CANCELLING"}}'
    )
    panels = [
        stat(
            "Running now",
            "Objects whose newest task is queued, running or being cancelled.",
            f"count(anaplan:task_running{{{OBJ}}} == 1) or vector(0)",
            steps=thresholds(("blue", None)),
        ),
        completions_stat("Successes", "success", "green"),
        completions_stat("Failures", "failure", "red"),
        completions_stat("Cancellations", "cancelled", "orange"),
        stat(
            "Overdue",
            "Objects with no success within 1.5 times their expected interval, configured or learned from "
            "their runs (as AnaplanTaskOverdue, before its 5 minutes).",
            f"count(anaplan:task_seconds_since_last_success{{{OBJ}}}"
            f" >= 1.5 * {EFFECTIVE}{{{OBJ}}}) or vector(0)",
            steps=thresholds(("green", None), ("red", 1)),
        ),
        stat(
            "Failure dumps available",
            "Objects whose newest finished run left a failure dump to download.",
            f"count(anaplan_task_failure_dump_available{{{OBJ}}} == 1) or vector(0)",
            steps=thresholds(("green", None), ("orange", 1)),
        ),
        table(
            "Running now",
            "Active tasks with Anaplan's progress, current step and run time so far.",
            [
                f"anaplan_task_progress_ratio{{{OBJ}}} {running}",
                f"anaplan_task_duration_seconds{{{OBJ}}} {running}",
            ],
            (12, 8),
            rename={
                "workspace_name": "Workspace",
                "model_name": "Model",
                "object_type": "Type",
                "object_name": "Object",
                "state": "State",
                "current_step": "Current step",
                "Value #A": "Progress",
                "Value #B": "Running for",
                "task_id": "Task",
                "instance": "Exporter",
            },
            overrides=[
                override(
                    "Value #A",
                    {"unit": "percentunit", "min": 0, "max": 1, "custom.cellOptions": {"type": "gauge"}},
                ),
                override("Value #B", {"unit": "s"}),
            ],
        ),
        state_timeline(
            "Status of each object",
            "Newest task of each object over time: not started, running, succeeded, failed, cancelled.",
            f"anaplan:task_status{{{OBJ}}}",
            OBJECT_LEGEND,
            TASK_STATUS,
        ),
        table(
            "Newest run of every object",
            "The newest task of every watched object: state, outcome, dump, run time and start.",
            [
                f"anaplan_task_info{{{OBJ}}}",
                f"anaplan_task_success{{{OBJ}}}",
                f"anaplan_task_failure_dump_available{{{OBJ}}}",
                f"anaplan_task_duration_seconds{{{OBJ}}}",
                f"anaplan_task_created_timestamp_seconds{{{OBJ}}} * 1000",
                f"anaplan_task_last_success_timestamp_seconds{{{OBJ}}} * 1000",
            ],
            (24, 8),
            rename={
                "workspace_name": "Workspace",
                "model_name": "Model",
                "object_type": "Type",
                "object_name": "Object",
                "state": "State",
                "current_step": "Current step",
                "Value #B": "Succeeded",
                "Value #C": "Failure dump",
                "Value #D": "Run time",
                "Value #E": "Created",
                "Value #F": "Last success",
                "task_id": "Task",
                "instance": "Exporter",
            },
            hide=["Value #A"],
            overrides=[
                override("Value #B", {"mappings": value_map((1, "yes", "green"), (0, "no", "red"))}),
                override("Value #C", {"mappings": YES_NO}),
                override("Value #D", {"unit": "s"}),
                override("Value #E", {"unit": "dateTimeAsIso"}),
                override("Value #F", {"unit": "dateTimeAsIso"}),
            ],
        ),
        timeseries(
            "Completions",
            "Runs that ended per interval, by outcome and object (from anaplan_task_completions_total).",
            [
                target(
                    f"sum by (model_name, object_name, result) "
                    f"(increase(anaplan_task_completions_total{{{OBJ}}}[$__rate_interval]))",
                    "{{result}}: {{model_name}} / {{object_name}}",
                )
            ],
            bars=True,
            overrides=[
                override("/^success/", {"color": {"mode": "fixed", "fixedColor": "green"}}, regex=True),
                override("/^failure/", {"color": {"mode": "fixed", "fixedColor": "red"}}, regex=True),
                override("/^cancelled/", {"color": {"mode": "fixed", "fixedColor": "orange"}}, regex=True),
            ],
        ),
        bargauge(
            "Time since last success / expected interval",
            "100% means a full expected interval (configured, else learned) without success; "
            "AnaplanTaskOverdue fires from 150%.",
            [
                target(
                    f"anaplan:task_seconds_since_last_success{{{OBJ}}} / {EFFECTIVE}{{{OBJ}}}",
                    OBJECT_LEGEND,
                )
            ],
            (12, 8),
            "percentunit",
            thresholds(("green", None), ("yellow", 1), ("red", 1.5)),
            2,
        ),
        timeseries(
            "Time since last success",
            "Seconds since the newest successful run (since the exporter started when none is on record), "
            "with the overdue limit where an expected interval is configured or learned.",
            [
                target(f"anaplan:task_seconds_since_last_success{{{OBJ}}}", OBJECT_LEGEND),
                target(
                    f"1.5 * {EFFECTIVE}{{{OBJ}}}",
                    f"overdue after: {OBJECT_LEGEND}",
                ),
            ],
            unit="s",
            overrides=[override("/^overdue after/", DASHED, regex=True)],
        ),
        table(
            "Schedules",
            "When each object's next run is expected: its newest run's creation plus the interval in use, "
            "configured (expected_every) or learned from the creation times of its recent runs. Objects with "
            "neither have no regular rhythm and are never overdue. Overdue from: 1.5 intervals after the "
            "last success (AnaplanTaskOverdue fires 5 minutes later).",
            [
                f"{EFFECTIVE}{{{OBJ}}}",
                f"anaplan_task_expected_interval_seconds{{{OBJ}}} * 0 + 1 or {EFFECTIVE}{{{OBJ}}} * 0",
                f"anaplan_task_created_timestamp_seconds{{{OBJ}}} * 1000",
                f"(anaplan_task_created_timestamp_seconds{{{OBJ}}} + {EFFECTIVE}{{{OBJ}}}) * 1000",
                f"(time() - anaplan:task_seconds_since_last_success{{{OBJ}}}"
                f" + 1.5 * {EFFECTIVE}{{{OBJ}}}) * 1000",
            ],
            (24, 8),
            rename={
                "model_name": "Model",
                "object_type": "Type",
                "object_name": "Object",
                "Value #A": "Interval",
                "Value #B": "Interval from",
                "Value #C": "Newest run created",
                "Value #D": "Next run expected by",
                "Value #E": "Overdue from",
            },
            hide=["workspace_name", "instance"],
            overrides=[
                override("Value #A", {"unit": "s"}),
                override(
                    "Value #B",
                    {"mappings": value_map((1, "configured", "text"), (0, "learned", "blue"))},
                ),
                override("Value #C", {"unit": "dateTimeAsIso"}),
                override("Value #D", {"unit": "dateTimeAsIso"}),
                override("Value #E", {"unit": "dateTimeAsIso"}),
            ],
        ),
        timeseries(
            "Run duration against its usual",
            "Run time of the newest task (growing while it runs), its usual duration (90th percentile of its "
            "recent finished runs, once it has 5) and the limit above which a running task is slow (twice "
            "the usual, at least 5 minutes more; AnaplanTaskSlow fires after 1 minute above it).",
            [
                target(f"anaplan_task_duration_seconds{{{OBJ}}}", OBJECT_LEGEND),
                target(f"anaplan_task_usual_duration_seconds{{{OBJ}}}", f"usual: {OBJECT_LEGEND}"),
                target(f"anaplan:task_slow_after_seconds{{{OBJ}}}", f"slow after: {OBJECT_LEGEND}"),
            ],
            unit="s",
            overrides=[override("/^(usual|slow after):/", DASHED, regex=True)],
        ),
        timeseries(
            "Process step durations",
            "Duration of each step of the newest process run: which step got slower.",
            [target(f"anaplan_task_step_duration_seconds{{{OBJ}}}", "{{object_name}} / {{step_name}}")],
            unit="s",
        ),
        state_timeline(
            "Process step results",
            "Outcome of each step of the newest process run: which step failed.",
            f"anaplan_task_step_success{{{OBJ}}}",
            "{{object_name}} / {{step_name}}",
            value_map((1, "OK", "green"), (0, "Failed", "red")),
        ),
        table(
            "Failure dumps available",
            "Objects whose newest finished run has a failure dump; fetch it from Anaplan with the task ID.",
            [
                f"(anaplan_task_failure_dump_available{{{OBJ}}} == 1)"
                f" * on ({KEYS}) group_left (task_id) anaplan_task_info{{{OBJ}}}"
            ],
            (12, 8),
            rename={"model_name": "Model", "object_type": "Type", "object_name": "Object", "task_id": "Task"},
            hide=["Value", "workspace_name", "instance"],
        ),
        table(
            "Process steps with a failure dump",
            "Steps of the newest process runs that left a failure dump: Anaplan's dump endpoint takes the "
            "task ID and the step's object ID.",
            [
                f"(anaplan_task_step_failure_dump_available{{{OBJ}}} == 1)"
                f" * on ({KEYS}) group_left (task_id) anaplan_task_info{{{OBJ}}}"
            ],
            (12, 8),
            rename={
                "model_name": "Model",
                "object_name": "Process",
                "step_name": "Step",
                "step_id": "Step object ID",
                "task_id": "Task",
            },
            hide=["Value", "workspace_name", "instance", "object_type"],
        ),
        bargauge(
            "Import rows failed and ignored",
            "Row counts of the newest finished import runs that were not loaded cleanly.",
            [
                target(
                    f'anaplan_import_rows{{{OBJ}, outcome=~"failed|ignored|warnings"}}',
                    "{{object_name}}: {{outcome}}",
                )
            ],
            (24, 8),
            "none",
            thresholds(("green", None), ("orange", 1)),
            1000,
        ),
        table(
            "Firing task alerts",
            "Task alerts Prometheus is firing for the selected objects.",
            [f'ALERTS{{alertname=~"AnaplanTask.*", alertstate="firing", {OBJ}}}'],
            (24, 6),
            rename={
                "alertname": "Alert",
                "severity": "Severity",
                "model_name": "Model",
                "object_type": "Type",
                "object_name": "Object",
                "result": "Result",
            },
            hide=["Value", "alertstate", "workspace_name", "instance", "object_type"],
        ),
    ]
    return Dashboard(
        TASKS_UID,
        "Anaplan tasks",
        "Processes, imports, exports and actions watched by anaplan-exporter: runs, outcomes, durations.",
        panels,
        [link("Anaplan exporter", EXPORTER_UID, "Health of the exporter and of its Anaplan API calls")],
    )


def latency(quantile: str) -> Json:
    return target(
        f"histogram_quantile({quantile}, sum by (endpoint, le) "
        f"(rate(anaplan_api_request_duration_seconds_bucket{{{INST}}}[$__rate_interval])))",
        f"p{quantile[2:].ljust(2, '0')} {{{{endpoint}}}}",
    )


def exporter_dashboard() -> Dashboard:
    panels = [
        stat(
            "Last poll cycle",
            "Whether the exporter's last poll cycle fully succeeded (anaplan_up).",
            f"min(anaplan_up{{{INST}}})",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=OK_FAILING,
        ),
        stat(
            "Since last successful poll",
            "Time since the end of the last fully successful poll cycle.",
            f"max(time() - anaplan_last_poll_success_timestamp_seconds{{{INST}}})",
            unit="s",
            steps=thresholds(("green", None), ("orange", 300)),
        ),
        stat(
            "Token expires in",
            "Time left on the cached Anaplan token; the exporter refreshes it before it expires.",
            f"min(anaplan_auth_token_expiry_timestamp_seconds{{{INST}}} - time())",
            unit="s",
            steps=thresholds(("red", None), ("orange", 60), ("green", 300)),
        ),
        stat(
            "Auth failures",
            "Authentications and token refreshes refused by Anaplan's auth service within the time range "
            "(network errors are counted as poll errors, not here).",
            f"sum(increase(anaplan_auth_failures_total{{{INST}}}[$__range]))",
            steps=thresholds(("green", None), ("red", 1)),
            width=3,
        ),
        stat(
            "HTTP 429 answers",
            "Requests Anaplan refused with HTTP 429 (rate limited) within the time range.",
            f'sum(increase(anaplan_api_requests_total{{{INST}, code="429"}}[$__range])) or vector(0)',
            steps=thresholds(("green", None), ("orange", 1)),
            width=3,
        ),
        stat(
            "Config reload",
            "Outcome of the last configuration reload (SIGHUP); a refused reload leaves the previous "
            "configuration running and the log names the fault.",
            f"min(anaplan_exporter_config_last_reload_successful{{{INST}}})",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=value_map((1, "OK", "green"), (0, "Refused", "red")),
            width=3,
        ),
        stat(
            "Version",
            "Version of the running exporter.",
            f"anaplan_exporter_build_info{{{INST}}}",
            text_mode="name",
            legend="{{version}}",
            steps=thresholds(("text", None)),
            width=3,
        ),
        state_timeline(
            "Poll health per object",
            "Whether the last poll of each watched object succeeded (anaplan_target_up).",
            f"anaplan_target_up{{{INST}, {OBJ}}}",
            OBJECT_LEGEND,
            OK_FAILING,
        ),
        timeseries(
            "Poll errors by reason",
            "Failed polls of the selected objects per interval, by reason.",
            [
                target(
                    f"sum by (reason) "
                    f"(increase(anaplan_poll_errors_total{{{INST}, {OBJ}}}[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            bars=True,
        ),
        timeseries(
            "API requests by endpoint and code",
            "HTTP requests to Anaplan per second; code is the HTTP status or 'error' when no answer came.",
            [
                target(
                    f"sum by (endpoint, code) (rate(anaplan_api_requests_total{{{INST}}}[$__rate_interval]))",
                    "{{endpoint}} {{code}}",
                )
            ],
            unit="reqps",
        ),
        timeseries(
            "API latency",
            "Quantiles of the request duration to Anaplan, by endpoint.",
            [latency("0.5"), latency("0.95"), latency("0.99")],
            unit="s",
        ),
        timeseries(
            "Retries and 429s",
            "Retried requests by reason, and requests answered with HTTP 429, per second.",
            [
                target(
                    f"sum by (reason) (rate(anaplan_api_retries_total{{{INST}}}[$__rate_interval]))",
                    "retry: {{reason}}",
                ),
                target(
                    f"sum by (endpoint) "
                    f'(rate(anaplan_api_requests_total{{{INST}, code="429"}}[$__rate_interval]))',
                    "429: {{endpoint}}",
                ),
            ],
            unit="reqps",
        ),
        timeseries(
            "Poll duration",
            "Duration of the last poll cycle against the configured idle poll interval.",
            [
                target(f"anaplan_poll_duration_seconds{{{INST}}}", "poll: {{instance}}"),
                target(f"anaplan_poll_interval_seconds{{{INST}}}", "idle interval: {{instance}}"),
            ],
            unit="s",
            overrides=[override("/^idle interval/", DASHED, regex=True)],
        ),
        timeseries(
            "Oldest poll against the idle interval",
            "Time since the least recently polled object was last polled, against the idle poll interval "
            "and three times it, where AnaplanPollingBehind fires (after 15 minutes). Above the interval, "
            "the request budget cannot cover every object at the idle interval and the idle sweep stretches.",
            [
                target(f"anaplan_poll_oldest_age_seconds{{{INST}}}", "oldest poll: {{instance}}"),
                target(f"anaplan_poll_interval_seconds{{{INST}}}", "idle interval: {{instance}}"),
                target(f"3 * anaplan_poll_interval_seconds{{{INST}}}", "alert at 3x: {{instance}}"),
            ],
            unit="s",
            overrides=[override("/^(idle interval|alert at)/", DASHED, regex=True)],
        ),
        timeseries(
            "Request budget used",
            "Share of the configured request budget (anaplan.requests_per_second) used over the last "
            "minute. Near 100 % with the oldest poll well above the idle interval: raise the budget, "
            "lengthen the idle interval or watch fewer objects.",
            [target(f"anaplan_request_budget_used_ratio{{{INST}}}", "{{instance}}")],
            unit="percentunit",
            max_=1,
        ),
        timeseries(
            "Token expiry",
            "Time left on the cached Anaplan token; it should saw-tooth as the exporter refreshes it.",
            [target(f"anaplan_auth_token_expiry_timestamp_seconds{{{INST}}} - time()", "{{instance}}")],
            unit="s",
        ),
        timeseries(
            "Authentication",
            "Authentications refused by Anaplan, and calls to the auth endpoints by HTTP status (or "
            "'error' when no answer came), per interval.",
            [
                target(
                    f"sum by (instance) (increase(anaplan_auth_failures_total{{{INST}}}[$__rate_interval]))",
                    "failures: {{instance}}",
                ),
                target(
                    f"sum by (endpoint, code) (increase(anaplan_api_requests_total"
                    f'{{{INST}, endpoint=~"authenticate|refresh|oauth_token"}}[$__rate_interval]))',
                    "{{endpoint}} {{code}}",
                ),
            ],
            bars=True,
        ),
        table(
            "Firing Anaplan alerts",
            "Every Anaplan alert Prometheus is firing.",
            ['ALERTS{alertname=~"Anaplan.*", alertstate="firing"}'],
            (24, 6),
            rename={
                "alertname": "Alert",
                "severity": "Severity",
                "instance": "Exporter",
                "model_name": "Model",
                "object_type": "Type",
                "object_name": "Object",
            },
            hide=["Value", "alertstate", "workspace_name", "result"],
        ),
    ]
    return Dashboard(
        EXPORTER_UID,
        "Anaplan exporter",
        "Health of anaplan-exporter: polls, Anaplan API requests, latency, rate limiting and authentication.",
        panels,
        [link("Anaplan tasks", TASKS_UID, "Runs and outcomes of the watched Anaplan objects")],
        with_instance=True,
    )


def render() -> dict[Path, str]:
    """File path -> JSON text of every dashboard."""
    return {
        OUT / f"{board.uid}.json": json.dumps(board.to_json(), indent=2, ensure_ascii=False) + "\n"
        for board in (tasks_dashboard(), exporter_dashboard())
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="fail if a dashboard file differs from its source"
    )
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python grafana/build_dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
