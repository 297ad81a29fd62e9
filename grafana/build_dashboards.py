"""Writes the Grafana dashboards in grafana/dashboards/ with Grafana's own typed builders.

The builders are ``grafana-foundation-sdk``, in the build for Grafana 11.6 (pinned in pyproject.toml), so the
JSON has the panel and query shapes of that Grafana. Run ``python grafana/build_dashboards.py`` after
editing, ``--check`` to verify the JSON files are up to date. Panels are declared in reading order and
packed left to right into rows of 24 columns.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    StackingConfig,
    TableFooterOptions,
    VizLegendOptions,
    VizTooltipOptions,
)
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DashboardFieldConfigSourceOverrides,
    DashboardLink,
    DatasourceVariable,
    FieldColor,
    QueryVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BarGaugeNamePlacement,
    BarGaugeSizing,
    BarGaugeValueMode,
    BigValueColorMode,
    BigValueGraphMode,
    BigValueJustifyMode,
    BigValueTextMode,
    FieldTextAlignment,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    StackingMode,
    TableAutoCellOptions,
    TableCellHeight,
    TimelineValueAlignment,
    TooltipDisplayMode,
    VisibilityMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    DataTransformerConfig,
    DynamicConfigValue,
    FieldColorModeId,
    GridPos,
    MatcherConfig,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
    VariableHide,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat, QueryEditorMode

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
TASKS_UID = "anaplan-tasks"
EXPORTER_UID = "anaplan-exporter"
CLOUDWORKS_UID = "anaplan-cloudworks"

# Label matchers of the object variables, for per-object series.
OBJ = 'workspace_name=~"$workspace", model_name=~"$model", object_name=~"$object"'
# Label matcher of the exporter instance variable.
INST = 'instance=~"$instance"'
# The interval AnaplanTaskOverdue uses: configured expected_every, else the learned one.
EFFECTIVE = "anaplan:task_expected_interval_seconds:effective"
# Join keys of per-object series (task_info adds task_id, current_step and state to them).
KEYS = "job, instance, workspace_id, model_id, object_type, object_id"
OBJECT_LEGEND = "{{model_name}} / {{object_name}}"
# Label matchers of the CloudWorks variables, for per-integration and per-flow series.
CW = 'kind=~"$kind", cloudworks_name=~"$cloudworks"'
CW_LEGEND = "{{kind}}: {{cloudworks_name}}"

Override: TypeAlias = DashboardFieldConfigSourceOverrides
Panel: TypeAlias = stat.Panel | timeseries.Panel | table.Panel | statetimeline.Panel | bargauge.Panel
# Any one panel builder: what every panel type shares is set once, in ``panel``.
P = TypeVar("P", stat.Panel, timeseries.Panel, table.Panel, statetimeline.Panel, bargauge.Panel)


def target(expr: str, legend: str = "", table: bool = False) -> prometheus.Dataquery:
    """A Prometheus query in code mode; tables run instant queries in table format."""
    query = (
        prometheus.Dataquery()
        .datasource(DATASOURCE)
        .editor_mode(QueryEditorMode.CODE)
        .expr(expr)
        .legend_format(legend or "__auto")
    )
    if table:
        return query.instant().format(PromQueryFormat.TABLE)
    return query.range().format(PromQueryFormat.TIME_SERIES)


def thresholds(*steps: tuple[str, float | None]) -> ThresholdsConfig:
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for color, value in steps])
    )


def value_map(*entries: tuple[int, str, str]) -> list[ValueMapping]:
    """A value mapping: number -> (text, color)."""
    options = {
        str(value): ValueMappingResult(text=text, color=color, index=i)
        for i, (value, text, color) in enumerate(entries)
    }
    return [ValueMap(options=options)]


def text_map(*entries: tuple[str, str, str]) -> list[ValueMapping]:
    """A value mapping for text cells: text -> (shown text, color)."""
    options = {
        value: ValueMappingResult(text=text, color=color, index=i)
        for i, (value, text, color) in enumerate(entries)
    }
    return [ValueMap(options=options)]


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


def override(name: str, properties: dict[str, Any], regex: bool = False) -> Override:
    return (
        DashboardFieldConfigSourceOverrides()
        .matcher(MatcherConfig(id_val="byRegexp" if regex else "byName", options=name))
        .properties([DynamicConfigValue(id_val=key, value=value) for key, value in properties.items()])
    )


DASHED = {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}, "custom.fillOpacity": 0}


def panel(
    builder: P,
    title: str,
    description: str,
    targets: list[prometheus.Dataquery],
    size: tuple[int, int],
    unit: str = "none",
    overrides: list[Override] | None = None,
) -> P:
    """What every panel has; ``size`` is (width, height) in grid units, position comes from the layout."""
    for ref, query in zip("ABCDEFGH", targets, strict=False):
        query.ref_id(ref)
    return (
        builder.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .grid_pos(GridPos(w=size[0], h=size[1]))
        .targets(list(targets))
        .unit(unit)
        .overrides(list(overrides or []))
    )


def legend_options(show: bool = True) -> VizLegendOptions:
    return (
        VizLegendOptions()
        .show_legend(show)
        .display_mode(LegendDisplayMode.LIST)
        .placement(LegendPlacement.BOTTOM)
    )


def last_value() -> ReduceDataOptions:
    return ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False)


def timeseries_panel(
    title: str,
    description: str,
    targets: list[prometheus.Dataquery],
    size: tuple[int, int] = (12, 8),
    unit: str = "none",
    bars: bool = False,
    overrides: list[Override] | None = None,
    max_: float | None = None,
) -> timeseries.Panel:
    built = (
        panel(timeseries.Panel(), title, description, targets, size, unit, overrides)
        .draw_style(GraphDrawStyle.BARS if bars else GraphDrawStyle.LINE)
        .line_width(1)
        .fill_opacity(60 if bars else 10)
        .show_points(VisibilityMode.NEVER)
        .span_nulls(False)
        .stacking(StackingConfig().mode(StackingMode.NORMAL if bars else StackingMode.NONE).group("A"))
        .color_scheme(FieldColor().mode(FieldColorModeId.PALETTE_CLASSIC))
        .min(0)
        .legend(legend_options())
        .tooltip(VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
    )
    return built if max_ is None else built.max(max_)


def stat_panel(
    title: str,
    description: str,
    expr: str,
    unit: str = "none",
    steps: ThresholdsConfig | None = None,
    mappings: list[ValueMapping] | None = None,
    text_mode: BigValueTextMode = BigValueTextMode.VALUE,
    legend: str = "",
    width: int = 4,
) -> stat.Panel:
    return (
        panel(stat.Panel(), title, description, [target(expr, legend)], (width, 4), unit)
        .color_scheme(FieldColor().mode(FieldColorModeId.THRESHOLDS))
        .thresholds(steps or thresholds(("green", None)))
        .mappings(mappings or [])
        .decimals(0)
        .reduce_options(last_value())
        .color_mode(BigValueColorMode.VALUE)
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(text_mode)
        .justify_mode(BigValueJustifyMode.AUTO)
        .orientation(VizOrientation.AUTO)
    )


def state_timeline(
    title: str, description: str, expr: str, legend_format: str, mappings: list[ValueMapping]
) -> statetimeline.Panel:
    return (
        panel(statetimeline.Panel(), title, description, [target(expr, legend_format)], (12, 8))
        .color_scheme(FieldColor().mode(FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds(("text", None)))
        .mappings(mappings)
        .fill_opacity(80)
        .line_width(0)
        .merge_values(True)
        .show_value(VisibilityMode.AUTO)
        .align_value(TimelineValueAlignment.LEFT)
        .row_height(0.9)
        .legend(legend_options(show=False))
        .tooltip(VizTooltipOptions().mode(TooltipDisplayMode.SINGLE).sort(SortOrder.NONE))
    )


def bargauge_panel(
    title: str,
    description: str,
    targets: list[prometheus.Dataquery],
    size: tuple[int, int],
    unit: str,
    steps: ThresholdsConfig,
    max_: float,
) -> bargauge.Panel:
    return (
        panel(bargauge.Panel(), title, description, targets, size, unit)
        .color_scheme(FieldColor().mode(FieldColorModeId.THRESHOLDS))
        .thresholds(steps)
        .min(0)
        .max(max_)
        .reduce_options(last_value())
        .orientation(VizOrientation.HORIZONTAL)
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .value_mode(BarGaugeValueMode.COLOR)
        .name_placement(BarGaugeNamePlacement.AUTO)
        .sizing(BarGaugeSizing.AUTO)
        .min_viz_width(8)
        .min_viz_height(16)
    )


# Columns of per-object tables that only serve as join keys.
HIDDEN_COLUMNS = ["Time", "__name__", "job", "workspace_id", "model_id", "object_id"]


def table_panel(
    title: str,
    description: str,
    exprs: list[str],
    size: tuple[int, int],
    rename: dict[str, str],
    hide: Iterable[str] = (),
    overrides: list[Override] | None = None,
) -> table.Panel:
    """Instant queries merged into one row per series; ``rename`` also fixes the column order."""
    excluded = {name: True for name in [*HIDDEN_COLUMNS, *hide]}
    order = {name: i for i, name in enumerate(rename)}
    organize = {"excludeByName": excluded, "indexByName": order, "renameByName": rename}
    return (
        panel(
            table.Panel(), title, description, [target(e, table=True) for e in exprs], size, "none", overrides
        )
        .align(FieldTextAlignment.AUTO)
        .cell_options(TableAutoCellOptions())
        .show_header(True)
        .cell_height(TableCellHeight.SM)
        .footer(TableFooterOptions().show(False).reducer(["sum"]))
        .transformations(
            [
                DataTransformerConfig(id_val="merge", options={}),
                DataTransformerConfig(id_val="organize", options=organize),
            ]
        )
    )


def query_variable(name: str, label: str, query: str) -> QueryVariable:
    return (
        QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .regex("")
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text=["All"], value=["$__all"]))
        .options([])
        .hide(VariableHide.DONT_HIDE)
    )


def datasource_variable() -> DatasourceVariable:
    return (
        DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .regex("")
        .multi(False)
        .include_all(False)
        .hide(VariableHide.DONT_HIDE)
    )


def variables(with_instance: bool) -> list[DatasourceVariable | QueryVariable]:
    found: list[DatasourceVariable | QueryVariable] = [datasource_variable()]
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


def link(title: str, uid: str, tooltip: str) -> DashboardLink:
    return (
        DashboardLink(title)
        .type(DashboardLinkType.LINK)
        .url(f"/d/{uid}/{uid}")
        .icon("dashboard")
        .tooltip(tooltip)
        .include_vars(True)
        .keep_time(True)
        .target_blank(False)
        .as_dropdown(False)
        .tags([])
    )


def board(
    uid: str,
    title: str,
    description: str,
    panels: list[Panel],
    links: list[DashboardLink],
    with_instance: bool = False,
    chosen_by: list[DatasourceVariable | QueryVariable] | None = None,
) -> Dashboard:
    """A dashboard of ``panels``, numbered and packed into rows of 24 columns in order."""
    built = (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["anaplan"])
        .version(1)
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("1m")
        .fiscal_year_start_month(0)
        .live_now(False)
        .week_start("")
        # An empty list, not an empty object: Grafana adds its built-in annotation to the list.
        .annotations([])
        .links(list(links))
        .variables(list(chosen_by or variables(with_instance)))
    )
    x = y = row_height = 0
    for number, item in enumerate(panels, start=1):
        size = item.build().grid_pos
        assert size is not None, "every panel gets its size from panel()"
        if x + size.w > 24:
            x, y, row_height = 0, y + row_height, 0
        built.with_panel(item.id(number).grid_pos(GridPos(x=x, y=y, w=size.w, h=size.h)))
        x += size.w
        row_height = max(row_height, size.h)
    return built


def completions_stat(title: str, result: str, color: str) -> stat.Panel:
    return stat_panel(
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
    panels: list[Panel] = [
        stat_panel(
            "Running now",
            "Objects whose newest task is queued, running or being cancelled.",
            f"count(anaplan:task_running{{{OBJ}}} == 1) or vector(0)",
            steps=thresholds(("blue", None)),
        ),
        completions_stat("Successes", "success", "green"),
        completions_stat("Failures", "failure", "red"),
        completions_stat("Cancellations", "cancelled", "orange"),
        stat_panel(
            "Overdue",
            "Objects with no success within 1.5 times their expected interval, configured or learned from "
            "their runs (as AnaplanTaskOverdue, before its 5 minutes).",
            f"count(anaplan:task_seconds_since_last_success{{{OBJ}}}"
            f" >= 1.5 * {EFFECTIVE}{{{OBJ}}}) or vector(0)",
            steps=thresholds(("green", None), ("red", 1)),
        ),
        stat_panel(
            "Failure dumps available",
            "Objects whose newest finished run left a failure dump to download.",
            f"count(anaplan_task_failure_dump_available{{{OBJ}}} == 1) or vector(0)",
            steps=thresholds(("green", None), ("orange", 1)),
        ),
        table_panel(
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
        table_panel(
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
        timeseries_panel(
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
        bargauge_panel(
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
        timeseries_panel(
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
        table_panel(
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
        timeseries_panel(
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
        timeseries_panel(
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
        table_panel(
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
        table_panel(
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
        bargauge_panel(
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
        table_panel(
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
    return board(
        TASKS_UID,
        "Anaplan tasks",
        "Processes, imports, exports and actions watched by anaplan-exporter: runs, outcomes, durations.",
        panels,
        [
            link("Anaplan exporter", EXPORTER_UID, "Health of the exporter and of its Anaplan API calls"),
            link(
                "Anaplan CloudWorks", CLOUDWORKS_UID, "CloudWorks integrations and flows: schedules and runs"
            ),
        ],
    )


def latency(quantile: str) -> prometheus.Dataquery:
    return target(
        f"histogram_quantile({quantile}, sum by (endpoint, le) "
        f"(rate(anaplan_api_request_duration_seconds_bucket{{{INST}}}[$__rate_interval])))",
        f"p{quantile[2:].ljust(2, '0')} {{{{endpoint}}}}",
    )


def exporter_dashboard() -> Dashboard:
    panels: list[Panel] = [
        stat_panel(
            "Last poll cycle",
            "Whether the exporter's last poll cycle fully succeeded (anaplan_up); an object Anaplan does not "
            "confirm (anaplan_target_not_found) does not make it fail.",
            f"min(anaplan_up{{{INST}}})",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=OK_FAILING,
            width=3,
        ),
        stat_panel(
            "Since last successful poll",
            "Time since the end of the last fully successful poll cycle.",
            f"max(time() - anaplan_last_poll_success_timestamp_seconds{{{INST}}})",
            unit="s",
            steps=thresholds(("green", None), ("orange", 300)),
            width=3,
        ),
        stat_panel(
            "Token expires in",
            "Time left on the cached Anaplan token; the exporter refreshes it before it expires.",
            f"min(anaplan_auth_token_expiry_timestamp_seconds{{{INST}}} - time())",
            unit="s",
            steps=thresholds(("red", None), ("orange", 60), ("green", 300)),
            width=3,
        ),
        stat_panel(
            "State file",
            "Whether the exporter keeps its state (counts, runs seen) in a file, so that a failure during a "
            "restart pages once (anaplan_exporter_state_file_kept; its reason label says why not: "
            "configured_off, in_use, default_unwritable, no_home). Failing saves fire "
            "AnaplanExporterStateNotSaved.",
            f"min(anaplan_exporter_state_file_kept{{{INST}}})",
            steps=thresholds(("orange", None), ("green", 1)),
            mappings=value_map((1, "Kept", "green"), (0, "Memory only", "orange")),
            width=3,
        ),
        stat_panel(
            "Auth failures",
            "Authentications and token refreshes refused by Anaplan's auth service within the time range "
            "(network errors are counted as poll errors, not here).",
            f"sum(increase(anaplan_auth_failures_total{{{INST}}}[$__range]))",
            steps=thresholds(("green", None), ("red", 1)),
            width=3,
        ),
        stat_panel(
            "HTTP 429 answers",
            "Requests Anaplan refused with HTTP 429 (rate limited) within the time range.",
            f'sum(increase(anaplan_api_requests_total{{{INST}, code="429"}}[$__range])) or vector(0)',
            steps=thresholds(("green", None), ("orange", 1)),
            width=3,
        ),
        stat_panel(
            "Config reload",
            "Outcome of the last configuration reload (SIGHUP); a refused reload leaves the previous "
            "configuration running and the log names the fault.",
            f"min(anaplan_exporter_config_last_reload_successful{{{INST}}})",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=value_map((1, "OK", "green"), (0, "Refused", "red")),
            width=3,
        ),
        stat_panel(
            "Version",
            "Version of the running exporter.",
            f"anaplan_exporter_build_info{{{INST}}}",
            text_mode=BigValueTextMode.NAME,
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
        timeseries_panel(
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
        timeseries_panel(
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
        timeseries_panel(
            "API latency",
            "Quantiles of the request duration to Anaplan, by endpoint.",
            [latency("0.5"), latency("0.95"), latency("0.99")],
            unit="s",
        ),
        timeseries_panel(
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
        timeseries_panel(
            "Poll duration",
            "Duration of the last poll cycle against the configured idle poll interval.",
            [
                target(f"anaplan_poll_duration_seconds{{{INST}}}", "poll: {{instance}}"),
                target(f"anaplan_poll_interval_seconds{{{INST}}}", "idle interval: {{instance}}"),
            ],
            unit="s",
            overrides=[override("/^idle interval/", DASHED, regex=True)],
        ),
        timeseries_panel(
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
        timeseries_panel(
            "Request budget used",
            "Share of the configured request budget (anaplan.requests_per_second) used over the last "
            "minute. Near 100 % with the oldest poll well above the idle interval: raise the budget, "
            "lengthen the idle interval or watch fewer objects.",
            [target(f"anaplan_request_budget_used_ratio{{{INST}}}", "{{instance}}")],
            unit="percentunit",
            max_=1,
        ),
        timeseries_panel(
            "Token expiry",
            "Time left on the cached Anaplan token; it should saw-tooth as the exporter refreshes it.",
            [target(f"anaplan_auth_token_expiry_timestamp_seconds{{{INST}}} - time()", "{{instance}}")],
            unit="s",
        ),
        timeseries_panel(
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
        table_panel(
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
    return board(
        EXPORTER_UID,
        "Anaplan exporter",
        "Health of anaplan-exporter: polls, Anaplan API requests, latency, rate limiting and authentication.",
        panels,
        [
            link("Anaplan tasks", TASKS_UID, "Runs and outcomes of the watched Anaplan objects"),
            link(
                "Anaplan CloudWorks", CLOUDWORKS_UID, "CloudWorks integrations and flows: schedules and runs"
            ),
        ],
        with_instance=True,
    )


RUN_RESULT = value_map(
    (1, "Running", "yellow"),
    (2, "Succeeded", "green"),
    (3, "Partial", "orange"),
    (4, "Failed", "red"),
    (5, "Cancelled", "purple"),
)
RESULT_TEXT = text_map(
    ("running", "running", "yellow"),
    ("success", "success", "green"),
    ("partial", "partial", "orange"),
    ("failure", "failure", "red"),
    ("cancelled", "cancelled", "purple"),
    ("skipped", "skipped", "text"),
)


def cloudworks_variables() -> list[DatasourceVariable | QueryVariable]:
    return [
        datasource_variable(),
        query_variable("kind", "Kind", "label_values(anaplan_cloudworks_info, kind)"),
        query_variable(
            "cloudworks",
            "Integration or flow",
            'label_values(anaplan_cloudworks_info{kind=~"$kind"}, cloudworks_name)',
        ),
    ]


def cloudworks_completions_stat(title: str, result: str, color: str) -> stat.Panel:
    return stat_panel(
        title,
        f"CloudWorks runs that ended in {result} within the time range (counted since the exporter started, "
        "or across restarts with a state file).",
        f'sum(increase(anaplan_cloudworks_completions_total{{{CW}, result="{result}"}}[$__range]))'
        " or vector(0)",
        steps=thresholds(("green", None), (color, 1)),
    )


def cloudworks_dashboard() -> Dashboard:
    panels: list[Panel] = [
        stat_panel(
            "Running now",
            "Integrations and flows whose latest run has not ended.",
            f"count(anaplan_cloudworks_running{{{CW}}} == 1) or vector(0)",
            steps=thresholds(("blue", None)),
        ),
        cloudworks_completions_stat("Succeeded", "success", "green"),
        cloudworks_completions_stat("Partly succeeded", "partial", "orange"),
        cloudworks_completions_stat("Failed", "failure", "red"),
        stat_panel(
            "Missed slots",
            "Scheduled integrations and flows that started no run for a slot of their schedule (after the "
            "15-minute trigger window and an hour for daylight saving; slots in the Saturday maintenance "
            "window do not count). AnaplanCloudWorksOverdue fires 5 minutes later.",
            f"count(anaplan:cloudworks_missed_slot_timestamp_seconds{{{CW}}}) or vector(0)",
            steps=thresholds(("green", None), ("red", 1)),
        ),
        stat_panel(
            "CloudWorks lists",
            "Whether the exporter's last read of the CloudWorks integration and flow lists succeeded "
            "(anaplan_cloudworks_up): Forbidden while CloudWorks answers 403 (the user lacks the integration "
            "role), Off when CloudWorks is not watched.",
            "(max(anaplan_cloudworks_forbidden) == 1) * 0 - 2 or min(anaplan_cloudworks_up) or vector(-1)",
            steps=thresholds(("red", None), ("green", 1)),
            mappings=value_map(
                (1, "OK", "green"), (0, "Failing", "red"), (-1, "Off", "text"), (-2, "Forbidden", "red")
            ),
        ),
        table_panel(
            "Schedules",
            "Each integration and flow with its schedule (type, time zone, active), the slot it last had "
            "(as CloudWorks fires it: at one UTC offset all year), its next run and when its latest run "
            "started. A latest run older than the last slot, past the trigger window, is a missed slot.",
            [
                f"anaplan_cloudworks_info{{{CW}}}",
                f"anaplan_cloudworks_last_scheduled_run_timestamp_seconds{{{CW}}} * 1000",
                f"anaplan_cloudworks_next_run_timestamp_seconds{{{CW}}} * 1000",
                f"anaplan_cloudworks_last_run_start_timestamp_seconds{{{CW}}} * 1000",
            ],
            (24, 8),
            rename={
                "kind": "Kind",
                "cloudworks_name": "Name",
                "type": "Type",
                "schedule_type": "Schedule",
                "time_zone": "Time zone",
                "schedule_active": "Active",
                "Value #B": "Last slot",
                "Value #C": "Next run",
                "Value #D": "Latest run started",
                "cloudworks_id": "ID",
                "instance": "Exporter",
            },
            hide=["Value #A"],
            overrides=[
                override("Value #B", {"unit": "dateTimeAsIso"}),
                override("Value #C", {"unit": "dateTimeAsIso"}),
                override("Value #D", {"unit": "dateTimeAsIso"}),
            ],
        ),
        table_panel(
            "Latest run of each integration and flow",
            "The latest run: result, what triggered it, CloudWorks' error code and message (secrets and SAS "
            "signatures scrubbed), start and end, and the end of the newest run that succeeded.",
            [
                f"anaplan_cloudworks_last_run_info{{{CW}}}",
                f"anaplan_cloudworks_last_run_start_timestamp_seconds{{{CW}}} * 1000",
                f"anaplan_cloudworks_last_run_end_timestamp_seconds{{{CW}}} * 1000",
                f"anaplan_cloudworks_last_success_timestamp_seconds{{{CW}}} * 1000",
            ],
            (24, 8),
            rename={
                "kind": "Kind",
                "cloudworks_name": "Name",
                "result": "Result",
                "trigger_source": "Trigger",
                "error_code": "Error code",
                "message": "Message",
                "Value #B": "Started",
                "Value #C": "Ended",
                "Value #D": "Last success",
                "run_id": "Run",
                "instance": "Exporter",
            },
            hide=["Value #A", "cloudworks_id"],
            overrides=[
                override("result", {"mappings": RESULT_TEXT, "custom.cellOptions": {"type": "color-text"}}),
                override("Value #B", {"unit": "dateTimeAsIso"}),
                override("Value #C", {"unit": "dateTimeAsIso"}),
                override("Value #D", {"unit": "dateTimeAsIso"}),
            ],
        ),
        state_timeline(
            "Run results over time",
            "The latest run of each integration and flow over time: running, succeeded, partly succeeded, "
            "failed, cancelled.",
            f"anaplan:cloudworks_last_run_result{{{CW}}}",
            CW_LEGEND,
            RUN_RESULT,
        ),
        timeseries_panel(
            "Completions",
            "CloudWorks runs that ended per interval, by result, integration and flow.",
            [
                target(
                    f"sum by (kind, cloudworks_name, result) "
                    f"(increase(anaplan_cloudworks_completions_total{{{CW}}}[$__rate_interval]))",
                    "{{result}}: {{kind}}: {{cloudworks_name}}",
                )
            ],
            bars=True,
            overrides=[
                override("/^success/", {"color": {"mode": "fixed", "fixedColor": "green"}}, regex=True),
                override("/^partial/", {"color": {"mode": "fixed", "fixedColor": "orange"}}, regex=True),
                override("/^failure/", {"color": {"mode": "fixed", "fixedColor": "red"}}, regex=True),
                override("/^cancelled/", {"color": {"mode": "fixed", "fixedColor": "purple"}}, regex=True),
            ],
        ),
        table_panel(
            "Flow steps of the latest run",
            "Each step of each flow's latest run: its position, integration and result (skipped: the step "
            "did not run, e.g. after a failed step).",
            [f"anaplan_cloudworks_flow_step_result{{{CW}}}"],
            (12, 8),
            rename={
                "cloudworks_name": "Flow",
                "step": "Step",
                "step_name": "Step name",
                "result": "Result",
                "step_integration_id": "Integration ID",
            },
            hide=["Value", "kind", "cloudworks_id", "instance"],
            overrides=[
                override("result", {"mappings": RESULT_TEXT, "custom.cellOptions": {"type": "color-text"}}),
            ],
        ),
        table_panel(
            "Firing CloudWorks alerts",
            "CloudWorks alerts Prometheus is firing for the selected integrations and flows.",
            [f'ALERTS{{alertname=~"AnaplanCloudWorks.*", alertstate="firing", {CW}}}'],
            (12, 8),
            rename={
                "alertname": "Alert",
                "severity": "Severity",
                "kind": "Kind",
                "cloudworks_name": "Name",
                "step_name": "Failed step",
            },
            hide=[
                "Value",
                "alertstate",
                "instance",
                "cloudworks_id",
                "integration_id",
                "result",
                "step",
                "type",
            ],
        ),
    ]
    return board(
        CLOUDWORKS_UID,
        "Anaplan CloudWorks",
        "CloudWorks integrations and flows watched by anaplan-exporter: schedules, next runs, latest results "
        "and messages, flow steps.",
        panels,
        [
            link("Anaplan tasks", TASKS_UID, "Runs and outcomes of the watched Anaplan objects"),
            link("Anaplan exporter", EXPORTER_UID, "Health of the exporter and of its Anaplan API calls"),
        ],
        chosen_by=cloudworks_variables(),
    )


def render() -> dict[Path, str]:
    """File path -> JSON text of every dashboard."""
    return {
        OUT / f"{uid}.json": json.dumps(built.build(), cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"
        for uid, built in (
            (TASKS_UID, tasks_dashboard()),
            (EXPORTER_UID, exporter_dashboard()),
            (CLOUDWORKS_UID, cloudworks_dashboard()),
        )
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
