"""A Grafana dashboard drawn without Grafana, as one HTML page.

Its variables are filled (All, or the first value), every panel's queries run on Prometheus' HTTP API (range
queries for time series and state timelines, instant queries for stats, bar gauges and tables), and the
answers are laid out by the panels' ``gridPos`` on Grafana's 24-column grid: lines and bars as inline SVG,
stats as big numbers, tables as HTML tables. Only what the project's dashboards use is drawn; anything else
shows its panel title and a note. Standard library only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import math
import re
import string
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]

CAPTION = "Drawn from the dashboard's own queries on a real Prometheus, not by Grafana"

PAGE_WIDTH = 1400
PAD = 16
GAP = 8  # Grafana's margin between panels
ROW = 30  # Grafana's grid row height
TITLE_HEIGHT = 30
HEADER_HEIGHT = 96
INSTANT_PANELS = frozenset({"stat", "table", "bargauge", "gauge"})
TABLE_ROW = 26
LEGEND_LINE = 18

# Grafana's dark theme and its named colours.
NAMED_COLORS = {
    "green": "#73bf69",
    "red": "#f2495c",
    "orange": "#ff9830",
    "yellow": "#fade2a",
    "blue": "#5794f2",
    "purple": "#b877d9",
    "text": "#ccccdc",
    "transparent": "transparent",
    "dark-green": "#37872d",
    "dark-red": "#c4162a",
    "dark-orange": "#fa6400",
    "dark-yellow": "#e0b400",
    "dark-blue": "#1f60c4",
    "dark-purple": "#8f3bb8",
}
PALETTE = (
    "#7eb26d",
    "#eab839",
    "#6ed0e0",
    "#ef843c",
    "#e24d42",
    "#1f78c1",
    "#ba43a9",
    "#705da0",
    "#508642",
    "#cca300",
    "#447ebc",
    "#c15c17",
)
GRID_COLOR = "#2c3235"
AXIS_TEXT = "#8e8e8e"

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$", re.DOTALL)
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class PrometheusError(RuntimeError):
    """Prometheus refused a query or could not be reached."""


@dataclass(frozen=True)
class Prometheus:
    url: str

    def get(self, path: str, **params: str) -> Any:
        address = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(address, timeout=30) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise PrometheusError(f"{path} answered HTTP {exc.code}") from None
        except OSError as exc:
            raise PrometheusError(f"{self.url}: {exc}") from None
        if body.get("status") != "success":
            raise PrometheusError(str(body.get("error", body)))
        return body["data"]


def answer_key(path: str, params: Mapping[str, str]) -> str:
    """One Prometheus request, as the key of its answer in a recording."""
    return f"{path}?{urllib.parse.urlencode(sorted(params.items()))}"


@dataclass(frozen=True)
class Recorder(Prometheus):
    """A Prometheus whose answers are kept, so that a page can be drawn again from them (``Replay``)."""

    answers: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str, **params: str) -> Any:
        data = super().get(path, **params)
        self.answers[answer_key(path, params)] = data
        return data


@dataclass(frozen=True)
class Replay(Prometheus):
    """Recorded answers in place of a Prometheus; a request that was not recorded is an error."""

    answers: Mapping[str, Any]

    def get(self, path: str, **params: str) -> Any:
        key = answer_key(path, params)
        if key not in self.answers:
            raise PrometheusError(f"no recorded answer for {key}")
        return self.answers[key]


@dataclass(frozen=True)
class Timing:
    """The dashboard's time range and the step of its range queries, in seconds."""

    start: float
    end: float
    step: int
    scrape_interval: int

    @classmethod
    def last(cls, seconds: float, end: float, scrape_interval: int, points: int = 300) -> Timing:
        step = max(scrape_interval, math.ceil(seconds / points))
        return cls(end - seconds, end, step, scrape_interval)

    def variables(self) -> dict[str, str]:
        """Grafana's built-in interval variables (``$__rate_interval`` as Grafana computes it)."""
        rate = max(self.step + self.scrape_interval, 4 * self.scrape_interval)
        span = round(self.end - self.start)
        return {
            "__range": f"{span}s",
            "__range_s": str(span),
            "__range_ms": str(span * 1000),
            "__interval": f"{self.step}s",
            "__interval_ms": str(self.step * 1000),
            "__rate_interval": f"{rate}s",
        }


@dataclass(frozen=True)
class Recording:
    """The answers a drawing got from Prometheus and the time range it asked about: enough to draw it again.

    Stored as JSON lines: the time range and note first, then one request and its answer per line.
    """

    timing: Timing
    note: str
    answers: Mapping[str, Any]

    def save(self, path: Path) -> None:
        head = {"timing": dataclasses.asdict(self.timing), "note": self.note}
        lines = [head] + [{"request": key, "answer": self.answers[key]} for key in sorted(self.answers)]
        path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines), "utf-8")

    @classmethod
    def load(cls, path: Path) -> Recording:
        head, *rest = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
        answers = {line["request"]: line["answer"] for line in rest}
        return cls(Timing(**head["timing"]), str(head["note"]), answers)


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    points: list[tuple[float, float]]
    ref: str


@dataclass
class PanelData:
    panel: Json
    series: list[Series] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.errors:
            return "error"
        return "data" if self.series else "no-data"


# --- variables and queries -------------------------------------------------------------------------------


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace ``$name`` and ``${name}``; an unknown variable is left as written (Prometheus will say so)."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), expr)


def regex_escape(value: str) -> str:
    """A value as Grafana's Prometheus datasource writes it into a ``=~"..."`` matcher."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)


def label_values(prometheus: Prometheus, query: str, timing: Timing) -> list[str]:
    """Grafana's ``label_values([selector, ]label)``, answered by Prometheus' label values API."""
    match = _LABEL_VALUES.match(query)
    if not match:
        raise PrometheusError(f"unsupported variable query {query!r}")
    selector, label = match.groups()
    params = {"start": str(timing.start), "end": str(timing.end)}
    if selector:
        params["match[]"] = selector
    found: list[str] = prometheus.get(f"/api/v1/label/{label}/values", **params)
    return sorted(found)


def fill_variables(
    prometheus: Prometheus, dashboard: Json, timing: Timing
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(values to substitute, (label, shown text) per visible variable), in order, as Grafana fills them.

    A variable whose current value is All gets its ``allValue``; any other gets its first value.
    """
    values = timing.variables()
    shown: list[tuple[str, str]] = []
    for variable in dashboard.get("templating", {}).get("list", []):
        name, kind = variable["name"], variable.get("type")
        label = variable.get("label") or name
        if kind == "datasource":
            values[name] = "prometheus"
            shown.append((label, "Prometheus"))
            continue
        if kind == "query":
            query = variable.get("query", "")
            query = query.get("query", "") if isinstance(query, dict) else query
            options = label_values(prometheus, substitute(query, values), timing)
        else:
            options = [str(option.get("value", "")) for option in variable.get("options", [])]
        current = variable.get("current", {}).get("value")
        if variable.get("includeAll") and current in ("$__all", ["$__all"]):
            values[name] = variable.get("allValue") or "|".join(regex_escape(o) for o in options) or ".*"
            text = "All"
        elif options:
            values[name] = regex_escape(options[0]) if kind == "query" else options[0]
            text = options[0]
        else:
            values[name] = ""
            text = "None"
        shown.append((label, text))
    return values, shown


def display_name(labels: Mapping[str, str], legend: str, expr: str) -> str:
    """The series name Grafana shows: the legend format filled in, or the metric and its labels."""
    if legend and legend != "__auto":
        return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), legend)
    rest = {key: value for key, value in labels.items() if key != "__name__"}
    metric = labels.get("__name__", "")
    if not rest:
        return metric or expr
    inner = ", ".join(f'{key}="{value}"' for key, value in sorted(rest.items()))
    return f"{metric}{{{inner}}}"


def run_panel(prometheus: Prometheus, panel: Json, values: Mapping[str, str], timing: Timing) -> PanelData:
    """Every query of the panel, run the way its panel type asks for."""
    data = PanelData(panel)
    instant_panel = panel.get("type") in INSTANT_PANELS
    for target in panel.get("targets", []):
        if target.get("hide") or not target.get("expr"):
            continue
        expr = substitute(target["expr"], values)
        ref = str(target.get("refId", "A"))
        data.queries.append(expr)
        instant = instant_panel or (target.get("instant") and not target.get("range"))
        try:
            if instant:
                answer = prometheus.get("/api/v1/query", query=expr, time=str(timing.end))
            else:
                answer = prometheus.get(
                    "/api/v1/query_range",
                    query=expr,
                    start=str(timing.start),
                    end=str(timing.end),
                    step=str(timing.step),
                )
        except PrometheusError as exc:
            data.errors.append(f"{ref}: {exc}")
            continue
        for item in _results(answer):
            labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
            raw = item["values"] if "values" in item else [item["value"]]
            points = [(float(t), float(v)) for t, v in raw]
            points = [(t, v) for t, v in points if not math.isnan(v)]
            if points:
                name = display_name(labels, str(target.get("legendFormat", "")), expr)
                data.series.append(Series(name, labels, points, ref))
    return data


def _results(answer: Json) -> list[Json]:
    if answer.get("resultType") in ("scalar", "string"):
        return [{"metric": {}, "value": answer["result"]}]
    result: list[Json] = answer.get("result", [])
    return result


# --- values and colours ----------------------------------------------------------------------------------


def color(name: str | None) -> str:
    if not name:
        return NAMED_COLORS["text"]
    return NAMED_COLORS.get(name, name)


def _trim(number: float, decimals: int | None) -> str:
    if decimals is None:
        size = abs(number)
        decimals = 0 if size >= 100 or number == int(number) else 1 if size >= 10 else 2
    text = f"{number:.{decimals}f}"
    if "." in text and decimals and decimals > 0:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_DURATIONS = ((31536000, "year"), (604800, "week"), (86400, "day"), (3600, "hour"), (60, "min"), (1, "s"))


def format_value(value: float, unit: str | None, decimals: int | None = None) -> str:
    """A value with the panel's unit, for the units the dashboards use (others keep their raw number)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    unit = unit or "none"
    if unit == "s":
        size = abs(value)
        if 0 < size < 1:
            return f"{_trim(value * 1000, decimals)} ms"
        for seconds, name in _DURATIONS:
            if size >= seconds:
                return f"{_trim(value / seconds, decimals)} {name}"
        return f"{_trim(value, decimals)} s"
    if unit == "percentunit":
        return f"{_trim(value * 100, decimals)}%"
    if unit == "percent":
        return f"{_trim(value, decimals)}%"
    if unit == "reqps":
        return f"{_trim(value, decimals)} req/s"
    if unit == "dateTimeAsIso":
        moment = dt.datetime.fromtimestamp(value / 1000, dt.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if unit == "short":
        for factor, suffix in ((1e9, " Bil"), (1e6, " Mil"), (1e3, " K")):
            if abs(value) >= factor:
                return f"{_trim(value / factor, decimals)}{suffix}"
        return _trim(value, decimals)
    if unit == "none":
        return _trim(value, decimals)
    return f"{_trim(value, decimals)} {unit}"


@dataclass(frozen=True)
class FieldConfig:
    unit: str | None
    decimals: int | None
    mappings: list[Json]
    thresholds: list[Json]
    min: float | None
    max: float | None
    custom: Json

    @classmethod
    def of(cls, config: Json) -> FieldConfig:
        steps = config.get("thresholds", {}).get("steps", [])
        return cls(
            unit=config.get("unit"),
            decimals=config.get("decimals"),
            mappings=list(config.get("mappings", [])),
            thresholds=sorted(steps, key=lambda s: -math.inf if s.get("value") is None else s["value"]),
            min=config.get("min"),
            max=config.get("max"),
            custom=dict(config.get("custom", {})),
        )

    def with_properties(self, properties: Sequence[Json]) -> FieldConfig:
        """This configuration with an override's properties applied (the ones drawn here)."""
        changes: Json = {}
        custom = dict(self.custom)
        for item in properties:
            key, value = item.get("id", ""), item.get("value")
            if key.startswith("custom."):
                custom[key.removeprefix("custom.")] = value
            elif key in ("unit", "decimals", "mappings", "min", "max"):
                changes[key] = value
            elif key == "color" and isinstance(value, dict) and value.get("fixedColor"):
                custom["fixedColor"] = value["fixedColor"]
        fields = {
            "unit": self.unit,
            "decimals": self.decimals,
            "mappings": self.mappings,
            "thresholds": self.thresholds,
            "min": self.min,
            "max": self.max,
            **changes,
            "custom": custom,
        }
        return FieldConfig(**fields)

    def mapped(self, value: float) -> tuple[str, str | None] | None:
        """(text, colour) of a value mapping that matches ``value``, if any."""
        for mapping in self.mappings:
            if mapping.get("type") != "value":
                continue
            for key, result in mapping.get("options", {}).items():
                try:
                    matches = float(key) == value
                except ValueError:
                    matches = False
                if matches:
                    return str(result.get("text", key)), result.get("color")
        return None

    def threshold_color(self, value: float) -> str:
        chosen: str | None = None
        for step in self.thresholds:
            if step.get("value") is None or value >= step["value"]:
                chosen = step.get("color")
        return color(chosen)

    def text_and_color(self, value: float) -> tuple[str, str]:
        mapped = self.mapped(value)
        if mapped is not None:
            text, mapped_color = mapped
            return text, color(mapped_color) if mapped_color else self.threshold_color(value)
        return format_value(value, self.unit, self.decimals), self.threshold_color(value)


def field_for(panel: Json, name: str) -> FieldConfig:
    """The panel's field defaults with the overrides matching the field or series ``name``."""
    config = panel.get("fieldConfig", {})
    result = FieldConfig.of(config.get("defaults", {}))
    for override in config.get("overrides", []):
        matcher = override.get("matcher", {})
        option = str(matcher.get("options", ""))
        if matcher.get("id") == "byName":
            matches = option == name
        elif matcher.get("id") == "byRegexp":
            pattern = (
                option[1:-1]
                if len(option) > 1 and option.startswith("/") and option.endswith("/")
                else option
            )
            matches = re.search(pattern, name) is not None
        else:
            matches = False
        if matches:
            result = result.with_properties(override.get("properties", []))
    return result


# --- drawing ---------------------------------------------------------------------------------------------


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _text_width(text: str, size: float = 12) -> float:
    return len(text) * size * 0.58


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


_TIME_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _clock(moment: float, seconds: bool) -> str:
    value = dt.datetime.fromtimestamp(moment, dt.timezone.utc)
    return value.strftime("%H:%M:%S" if seconds else "%H:%M")


def _time_axis(timing: Timing, left: float, width: float, top: float, height: float) -> list[str]:
    span = timing.end - timing.start
    step = next((s for s in _TIME_STEPS if span / s <= width / 80), _TIME_STEPS[-1])
    parts = []
    tick = math.ceil(timing.start / step) * step
    while tick <= timing.end:
        x = left + (tick - timing.start) / span * width
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + height}" stroke="{GRID_COLOR}"/>'
        )
        label = _clock(tick, step < 60)
        parts.append(
            f'<text x="{x:.1f}" y="{top + height + 14}" fill="{AXIS_TEXT}" font-size="11" '
            f'text-anchor="middle">{label}</text>'
        )
        tick += step
    return parts


def _legend(items: Sequence[tuple[str, str, bool]], lines: int) -> str:
    entries = []
    for name, swatch, dashed in items:
        style = f"border-top:2px {'dashed' if dashed else 'solid'} {swatch}"
        entries.append(f'<span class="legend-item"><i style="{style}"></i>{_e(name)}</span>')
    return f'<div class="legend" style="max-height:{lines * LEGEND_LINE}px">{"".join(entries)}</div>'


def _legend_lines(names: Sequence[str], width: float) -> int:
    lines, used = 1, 0.0
    for name in names:
        item = _text_width(name) + 34
        if used and used + item > width:
            lines += 1
            used = 0.0
        used += item
    return lines


def draw_timeseries(data: PanelData, timing: Timing, width: float, height: float) -> str:
    panel = data.panel
    defaults = field_for(panel, "")
    configs = [field_for(panel, series.name) for series in data.series]
    names = [series.name for series in data.series]
    legend_lines = min(_legend_lines(names, width), 3, max(1, int(height * 0.35 // LEGEND_LINE)))
    chart_height = height - legend_lines * LEGEND_LINE - 4
    bars = defaults.custom.get("drawStyle") == "bars"
    stacked = defaults.custom.get("stacking", {}).get("mode", "none") != "none"

    # Values on the step grid, stacked when asked.
    grid = [
        timing.start + i * timing.step for i in range(int((timing.end - timing.start) // timing.step) + 1)
    ]
    per_series: list[dict[int, float]] = []
    for series in data.series:
        slots: dict[int, float] = {}
        for t, v in series.points:
            slots[round((t - timing.start) / timing.step)] = v
        per_series.append(slots)
    bases: list[dict[int, float]] = []
    running: dict[int, float] = {}
    for slots in per_series:
        bases.append(dict(running) if stacked else {})
        if stacked:
            for slot, value in slots.items():
                running[slot] = running.get(slot, 0.0) + value
    tops = [
        {s: v + base.get(s, 0.0) for s, v in slots.items()}
        for slots, base in zip(per_series, bases, strict=True)
    ]

    values = [v for top in tops for v in top.values()] + [b for base in bases for b in base.values()]
    low = defaults.min if defaults.min is not None else min([0.0, *values])
    high = defaults.max if defaults.max is not None else max([low + 1e-9, *values])
    if high - low < 1e-6:
        high = low + 1
    count = max(2, int(chart_height // 40))
    step = _nice_step(high - low, count)
    if defaults.unit == "s" and high - low > 60:  # whole minutes, hours... rather than 1.67 min
        step = next((s for s in _TIME_STEPS if (high - low) / s <= count), _TIME_STEPS[-1])
    if defaults.max is None:
        high = math.ceil(high / step) * step
    labels = []
    tick = math.ceil(low / step) * step
    while tick <= high + step * 1e-6:
        labels.append((tick, format_value(tick, defaults.unit, None)))
        tick += step
    left = max(_text_width(text, 11) for _, text in labels) + 10
    plot_w, plot_h, top = width - left - 8, chart_height - 24, 6

    def y_of(value: float) -> float:
        return top + plot_h - (value - low) / (high - low) * plot_h

    def x_of(moment: float) -> float:
        return left + (moment - timing.start) / (timing.end - timing.start) * plot_w

    parts = [f'<svg class="chart" width="{width:.0f}" height="{chart_height:.0f}">']
    for value, text in labels:
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" stroke="{GRID_COLOR}"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" fill="{AXIS_TEXT}" font-size="11" text-anchor="end">'
            f"{_e(text)}</text>"
        )
    parts += _time_axis(timing, left, plot_w, top, plot_h)
    legend_items = []
    bar_width = max(1.0, plot_w / len(grid) * 0.8)
    for index, (series, config, top_values, base) in enumerate(
        zip(data.series, configs, tops, bases, strict=True)
    ):
        stroke = (
            color(config.custom.get("fixedColor"))
            if config.custom.get("fixedColor")
            else PALETTE[index % len(PALETTE)]
        )
        dashed = config.custom.get("lineStyle", {}).get("fill") == "dash"
        legend_items.append((series.name, stroke, dashed))
        opacity = float(config.custom.get("fillOpacity", 0) or 0) / 100
        if bars:
            for slot, value in sorted(top_values.items()):
                if value == base.get(slot, 0.0) and value != 0:
                    continue  # a zero on top of a stack; zeros at the bottom show as a thin line
                x = x_of(timing.start + slot * timing.step) - bar_width / 2
                y0, y1 = y_of(base.get(slot, 0.0)), y_of(value)
                parts.append(
                    f'<rect class="bar" x="{x:.1f}" y="{min(y0, y1):.1f}" width="{bar_width:.1f}" '
                    f'height="{max(abs(y0 - y1), 0.5):.1f}" fill="{stroke}" '
                    f'fill-opacity="{max(opacity, 0.3):.2f}" '
                    f'stroke="{stroke}" stroke-width="0.5"/>'
                )
            continue
        dash = ' stroke-dasharray="6 6"' if dashed else ""
        for segment in _segments(sorted(top_values.items())):
            points = [(x_of(timing.start + s * timing.step), y_of(v)) for s, v in segment]
            if len(points) == 1:
                x, y = points[0]
                parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{stroke}"/>')
                continue
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            if opacity > 0:
                floor = y_of(max(low, 0.0)) if low <= 0 <= high else top + plot_h
                area = f"{points[0][0]:.1f},{floor:.1f} {coords} {points[-1][0]:.1f},{floor:.1f}"
                parts.append(f'<polygon points="{area}" fill="{stroke}" fill-opacity="{opacity:.2f}"/>')
            parts.append(
                f'<polyline class="line" points="{coords}" fill="none" stroke="{stroke}" '
                f'stroke-width="1.5"{dash}/>'
            )
    parts.append("</svg>")
    return "".join(parts) + _legend(legend_items, legend_lines)


def _segments(slots: Sequence[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive steps: a missing step breaks the line, as Grafana does with spanNulls off."""
    segments: list[list[tuple[int, float]]] = []
    for slot, value in slots:
        if segments and slot - segments[-1][-1][0] <= 1:
            segments[-1].append((slot, value))
        else:
            segments.append([(slot, value)])
    return segments


def draw_state_timeline(data: PanelData, timing: Timing, width: float, height: float) -> str:
    rows = sorted(data.series, key=lambda s: s.name)
    label_w = min(width * 0.4, max(_text_width(s.name) for s in rows) + 12)
    plot_w = width - label_w - 8
    plot_h = height - 22
    row_h = plot_h / len(rows)
    span = timing.end - timing.start
    parts = [f'<svg class="chart" width="{width:.0f}" height="{height:.0f}">']
    parts += _time_axis(timing, label_w, plot_w, 0, plot_h)
    for index, series in enumerate(rows):
        config = field_for(data.panel, series.name)
        y = index * row_h + row_h * 0.05
        h = row_h * 0.9
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + h / 2 + 4:.1f}" fill="#ccccdc" font-size="12" '
            f'text-anchor="end">{_e(_clip(series.name, label_w - 12))}</text>'
        )
        for start, end, value in _bands(series.points, timing.step):
            x0 = label_w + max(start - timing.start, 0) / span * plot_w
            x1 = label_w + min(end - timing.start, span) / span * plot_w
            text, fill = config.text_and_color(value)
            parts.append(
                f'<rect class="band" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 1):.1f}" height="{h:.1f}" '
                f'fill="{fill}" fill-opacity="0.8"/>'
            )
            if x1 - x0 > _text_width(text) + 8 and h >= 14:
                parts.append(
                    f'<text x="{x0 + 4:.1f}" y="{y + h / 2 + 4:.1f}" fill="#111217" font-size="12">'
                    f"{_e(text)}</text>"
                )
    parts.append("</svg>")
    return "".join(parts)


def _bands(points: Sequence[tuple[float, float]], step: int) -> list[tuple[float, float, float]]:
    """(start, end, value) of each run of one value; a gap of more than two steps ends a run."""
    bands: list[tuple[float, float, float]] = []
    for moment, value in points:
        if bands and bands[-1][2] == value and moment - bands[-1][1] <= 2 * step:
            bands[-1] = (bands[-1][0], moment + step, value)
        else:
            if bands and moment - bands[-1][1] <= 2 * step:
                bands[-1] = (bands[-1][0], moment, bands[-1][2])
            bands.append((moment, moment + step, value))
    return bands


def _clip(text: str, width: float, size: float = 12) -> str:
    room = int(width / (size * 0.58))
    return text if len(text) <= room else text[: max(room - 1, 1)] + "…"


def _last(series: Series) -> float:
    return series.points[-1][1]


def draw_stat(data: PanelData, width: float, height: float) -> str:
    show_name = data.panel.get("options", {}).get("textMode") == "name"
    cells = []
    count = len(data.series)
    cell_w = width / count
    for series in data.series:
        config = field_for(data.panel, series.name)
        text, fill = config.text_and_color(_last(series))
        if show_name:
            text = series.name
        size = max(12.0, min(height * 0.6, cell_w / max(len(text), 1) / 0.62, 64))
        cells.append(
            f'<div class="stat"><span class="stat-value" style="color:{fill};font-size:{size:.0f}px">'
            f"{_e(text)}</span></div>"
        )
    return f'<div class="stats">{"".join(cells)}</div>'


def draw_bargauge(data: PanelData, width: float, height: float) -> str:
    defaults = field_for(data.panel, "")
    rows = sorted(data.series, key=lambda s: s.name)
    values = [_last(series) for series in rows]
    low = defaults.min if defaults.min is not None else min(0.0, *values)
    high = defaults.max if defaults.max is not None else max(low + 1, *values)
    visible = max(1, int(height // 30))
    shown = rows[:visible]
    row_h = min(height / len(shown), 44)
    parts = []
    for series in shown:
        config = field_for(data.panel, series.name)
        value = _last(series)
        text, fill = config.text_and_color(value)
        ratio = min(max((value - low) / (high - low), 0.0), 1.0) if high > low else 0.0
        parts.append(
            f'<div class="gauge-row" style="height:{row_h:.0f}px">'
            f'<span class="gauge-name">{_e(series.name)}</span>'
            f'<span class="gauge-track"><span class="bar" style="width:{ratio * 100:.1f}%;'
            f'background:linear-gradient(90deg, {fill}33, {fill})"></span></span>'
            f'<span class="gauge-value" style="color:{fill}">{_e(text)}</span></div>'
        )
    if len(rows) > visible:
        parts.append(f'<div class="more">+{len(rows) - visible} more</div>')
    return "".join(parts)


def table_rows(data: PanelData) -> tuple[list[str], list[dict[str, float | str]]]:
    """(field names, rows): a frame per query's series, joined as Grafana's "merge" transformation does."""
    refs = [str(t.get("refId", "A")) for t in data.panel.get("targets", []) if not t.get("hide")]
    value_name = {ref: ("Value" if len(refs) == 1 else f"Value #{ref}") for ref in refs}
    rows: list[dict[str, float | str]] = []
    names: list[str] = ["Time"]
    for series in data.series:
        row: dict[str, float | str] = {"Time": series.points[-1][0] * 1000, **series.labels}
        column = value_name.get(series.ref, f"Value #{series.ref}")
        row[column] = _last(series)
        for name in row:
            if name not in names:
                names.append(name)
        for existing in rows:
            shared = [k for k in series.labels if k in existing and k != "__name__"]
            if column not in existing and all(existing[k] == series.labels[k] for k in shared) and shared:
                existing.update((k, v) for k, v in row.items() if k not in existing or k == column)
                break
        else:
            rows.append(row)
    return names, rows


def draw_table(data: PanelData, width: float, height: float) -> str:
    names, rows = table_rows(data)
    organize: Json = next(
        (t.get("options", {}) for t in data.panel.get("transformations", []) if t.get("id") == "organize"), {}
    )
    excluded = {name for name, hidden in organize.get("excludeByName", {}).items() if hidden}
    order = organize.get("indexByName", {})
    rename = organize.get("renameByName", {})
    columns = [name for name in names if name not in excluded]
    columns.sort(key=lambda name: (order.get(name, len(order)), names.index(name)))
    configs = {name: field_for(data.panel, name) for name in columns}

    def sort_key(row: Mapping[str, float | str]) -> tuple[str, ...]:
        return tuple(str(row.get(name, "")) for name in columns)

    rows.sort(key=sort_key)
    fit = max(1, int((height - TABLE_ROW) // TABLE_ROW))
    shown = rows if len(rows) <= fit else rows[: fit - 1]
    head = "".join(f"<th>{_e(rename.get(name) or name)}</th>" for name in columns)
    body = []
    for row in shown:
        cells = []
        for name in columns:
            value = row.get(name, "")
            if isinstance(value, float):
                config = configs[name]
                text, fill = config.text_and_color(value)
                if config.custom.get("cellOptions", {}).get("type") == "gauge":
                    low, high = config.min or 0.0, config.max if config.max is not None else 1.0
                    ratio = min(max((value - low) / (high - low), 0.0), 1.0) if high > low else 0.0
                    cells.append(
                        f'<td><span class="cell-gauge"><span style="width:{ratio * 100:.0f}%;'
                        f'background:{fill}"></span></span>{_e(text)}</td>'
                    )
                elif config.mapped(value) is not None:
                    cells.append(f'<td style="color:{fill}">{_e(text)}</td>')
                else:
                    cells.append(f"<td>{_e(text)}</td>")
            else:
                cells.append(f"<td>{_e(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if len(shown) < len(rows):
        body.append(
            f'<tr class="more"><td colspan="{len(columns)}">+{len(rows) - len(shown)} more rows</td></tr>'
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def draw_panel(data: PanelData, timing: Timing, width: float, height: float) -> str:
    """The body of one panel: its figure, "No data", or the query errors."""
    if data.errors:
        items = "".join(f"<li>{_e(error)}</li>" for error in data.errors)
        return f'<ul class="error">{items}</ul>'
    if not data.series:
        return '<div class="no-data">No data</div>'
    kind = data.panel.get("type")
    if kind == "timeseries":
        return draw_timeseries(data, timing, width, height)
    if kind == "state-timeline":
        return draw_state_timeline(data, timing, width, height)
    if kind == "stat":
        return draw_stat(data, width, height)
    if kind == "bargauge":
        return draw_bargauge(data, width, height)
    if kind == "table":
        return draw_table(data, width, height)
    return f'<div class="no-data">{_e(kind)} panels are not drawn here</div>'


STYLE = string.Template("""
* { box-sizing: border-box; }
body { margin: 0; background: #111217; color: #ccccdc;
  font: 13px Inter, "Helvetica Neue", Arial, sans-serif; }
header { height: ${header}px; padding: 12px ${pad}px 0; }
h1 { margin: 0 0 6px; font-size: 20px; font-weight: 500; color: #fff; }
.bar-line { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.var { background: #181b1f; border: 1px solid #2c3235; border-radius: 2px; padding: 3px 8px; }
.var b { color: #6e9fff; font-weight: 500; margin-right: 6px; }
.caption { margin-left: auto; background: #3d71d9; color: #fff; padding: 4px 10px; border-radius: 2px;
  font-weight: 600; }
.grid { position: relative; margin: 0 ${pad}px; }
.panel { position: absolute; background: #181b1f; border: 1px solid #2c3235; border-radius: 2px;
  overflow: hidden; }
.panel h2 { margin: 0; height: ${title}px; line-height: ${title}px; padding: 0 8px; font-size: 14px;
  font-weight: 500; color: #ccccdc; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.body { padding: 0 8px 8px; overflow: hidden; }
.stats { display: flex; height: 100%; }
.stat { flex: 1; display: flex; align-items: center; justify-content: center; overflow: hidden; }
.stat-value { font-weight: 500; white-space: nowrap; }
.no-data { display: flex; height: 100%; align-items: center; justify-content: center; color: #8e8e8e;
  font-size: 15px; }
.error { color: #f2495c; margin: 0; padding-left: 18px; }
.legend { display: flex; flex-wrap: wrap; gap: 0 14px; overflow: hidden; font-size: 12px;
  line-height: ${legend}px; }
.legend-item { white-space: nowrap; }
.legend-item i { display: inline-block; width: 14px; vertical-align: middle; margin-right: 5px; }
table { width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 12px; }
th { text-align: left; color: #6e9fff; font-weight: 500; border-bottom: 1px solid #2c3235; }
th, td { height: ${row}px; padding: 0 8px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
td { border-bottom: 1px solid #202226; }
tr.more td { color: #8e8e8e; }
.cell-gauge { display: inline-block; width: 60px; height: 8px; background: #2c3235; margin-right: 6px; }
.cell-gauge span { display: block; height: 100%; }
.gauge-row { display: flex; align-items: center; gap: 8px; }
.gauge-name { width: 34%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.gauge-track { flex: 1; height: 60%; background: #22252b; }
.gauge-track .bar { display: block; height: 100%; }
.gauge-value { width: 70px; text-align: right; font-weight: 500; }
.more { color: #8e8e8e; }
footer { padding: 10px ${pad}px; color: #8e8e8e; font-size: 12px; }
""").substitute(header=HEADER_HEIGHT, pad=PAD, title=TITLE_HEIGHT, legend=LEGEND_LINE, row=TABLE_ROW)


@dataclass(frozen=True)
class Page:
    html: str
    width: int
    height: int


def render_page(
    dashboard: Json,
    panels: Sequence[PanelData],
    variables: Sequence[tuple[str, str]],
    timing: Timing,
    note: str = "",
) -> Page:
    """The dashboard as a standalone HTML page of ``PAGE_WIDTH`` pixels, and its full height."""
    inner = PAGE_WIDTH - 2 * PAD
    column = (inner - 23 * GAP) / 24
    blocks = []
    bottom = 0
    for data in panels:
        grid = data.panel.get("gridPos", {})
        x, y, w, h = (int(grid.get(k, d)) for k, d in (("x", 0), ("y", 0), ("w", 12), ("h", 8)))
        left, top = x * (column + GAP), y * (ROW + GAP)
        width, height = w * column + (w - 1) * GAP, h * ROW + (h - 1) * GAP
        bottom = max(bottom, int(top + height))
        body_w, body_h = width - 18, height - TITLE_HEIGHT - 10
        title = str(data.panel.get("title", ""))
        blocks.append(
            f'<section class="panel" data-panel-id="{_e(data.panel.get("id", ""))}" '
            f'data-panel-type="{_e(data.panel.get("type", ""))}" data-state="{data.state}" '
            f'style="left:{left:.1f}px;top:{top:.1f}px;width:{width:.1f}px;height:{height:.1f}px">'
            f'<h2>{_e(title)}</h2><div class="body" style="height:{height - TITLE_HEIGHT - 2:.0f}px">'
            f"{draw_panel(data, timing, body_w, body_h)}</div></section>"
        )
    moment = dt.datetime.fromtimestamp(timing.end, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    minutes = round((timing.end - timing.start) / 60)
    chips = "".join(f'<span class="var"><b>{_e(label)}</b>{_e(text)}</span>' for label, text in variables)
    chips += f'<span class="var"><b>Time</b>last {minutes} min to {moment}</span>'
    footer = f"{_e(CAPTION)}. {_e(note)}" if note else f"{_e(CAPTION)}."
    height = HEADER_HEIGHT + bottom + 44
    document = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_e(dashboard.get("title", ""))}'
        f"</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{_e(dashboard.get("title", ""))}</h1><div class="bar-line">{chips}'
        f'<span class="caption">{_e(CAPTION)}</span></div></header>'
        f'<div class="grid" style="height:{bottom}px">{"".join(blocks)}</div>'
        f"<footer>{footer}</footer></body></html>\n"
    )
    return Page(document, PAGE_WIDTH, height)


def draw_dashboard(
    prometheus: Prometheus, dashboard: Json, timing: Timing, note: str = ""
) -> tuple[Page, list[PanelData]]:
    """Fill the variables, run every panel's queries and lay the page out."""
    values, shown = fill_variables(prometheus, dashboard, timing)
    panels = [
        run_panel(prometheus, panel, values, timing)
        for panel in dashboard.get("panels", [])
        if panel.get("type") != "row"
    ]
    return render_page(dashboard, panels, shown, timing, note), panels
