"""The dashboard pictures' renderer (grafana/dashboard_html.py), drawn from recorded Prometheus answers.

`make pictures` runs the simulator's demo scenario, the exporter and a real Prometheus with the rules, draws
both dashboards from their own queries, takes the pictures with Chromium and records every answer Prometheus
gave in dashboard-answers.jsonl. Here the committed dashboards are drawn again from that recording, without
Prometheus or a browser: every panel must have one block with its title and a figure drawn from data, or say
"No data" where the series cannot exist yet in so short a run (listed below, and checked against the
recording). A query changed since the recording has no answer and fails here: run `make pictures` again.
"""

from __future__ import annotations

import html
import sys
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from monitoring.artifacts import DASHBOARDS, GRAFANA, load_dashboard

sys.path.insert(0, str(GRAFANA))
from dashboard_html import CAPTION, PanelData, Recording, Replay, draw_dashboard

ANSWERS = Path(__file__).with_name("dashboard-answers.jsonl")
# The dashboards `make pictures` draws from the demo stack: every one.
PICTURED = DASHBOARDS
# Panels that may be empty at the moment they are drawn (their tables are instant queries): nothing may be
# running between two runs, a failure dump is only the newest run's while no new run is going, and the
# exporter has no alert of its own to fire. The stat also titled "Running now" always has a value.
MAY_BE_EMPTY = {
    "anaplan-exporter": {"Firing Anaplan alerts"},
    "anaplan-tasks": {"Running now", "Failure dumps available", "Process steps with a failure dump"},
    "anaplan-cloudworks": set(),
}
# What makes a figure non-empty, per panel type: (tag, class) pairs, any of which must be present.
FIGURE_MARKS = {
    "timeseries": {("polyline", "line"), ("rect", "bar"), ("circle", "point")},
    "state-timeline": {("rect", "band")},
    "stat": {("span", "stat-value")},
    "bargauge": {("span", "bar")},
    "table": {("td", "")},
}


@dataclass
class Block:
    attrs: dict[str, str]
    title: str = ""
    marks: set[tuple[str, str]] = field(default_factory=set)
    tags: Counter[str] = field(default_factory=Counter)
    text: str = ""


class Blocks(HTMLParser):
    """The ``<section class="panel">`` blocks of a page: title, tags (with class) and text inside each."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[Block] = []
        self.depth = 0  # open tags inside the current block
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "section" and values.get("class") == "panel":
            self.blocks.append(Block(values))
            self.depth = 1
            return
        if not self.depth:
            return
        self.depth += 1  # self-closed SVG tags come with their end tag (handle_startendtag)
        self.in_title = tag == "h2"
        self.blocks[-1].tags[tag] += 1
        for name in values.get("class", "").split() or [""]:
            self.blocks[-1].marks.add((tag, name))

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
        if tag == "h2":
            self.in_title = False

    def handle_data(self, data: str) -> None:
        if self.depth:
            if self.in_title:
                self.blocks[-1].title += data
            self.blocks[-1].text += data


# uid -> (HTML page, what each panel got, the page's panel blocks) of each committed dashboard
Pages = dict[str, tuple[str, list[PanelData], list[Block]]]


@pytest.fixture(scope="module")
def recording() -> Recording:
    return Recording.load(ANSWERS)


@pytest.fixture(scope="module")
def drawn(recording: Recording) -> Pages:
    """Each committed dashboard drawn from the recording."""
    result: Pages = {}
    for uid in PICTURED:
        page, panels = draw_dashboard(Replay("", recording.answers), load_dashboard(uid), recording.timing)
        parser = Blocks()
        parser.feed(page.html)
        result[uid] = (page.html, panels, parser.blocks)
    return result


def recorded_results(recording: Recording, query: str) -> list[Any]:
    """The results of every recorded request that ran ``query``."""
    found = []
    for request, answer in recording.answers.items():
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(request).query)
        if params.get("query") == [query]:
            found += answer["result"]
    return found


@pytest.mark.parametrize("uid", PICTURED)
def test_every_panel_is_drawn(recording: Recording, drawn: Pages, uid: str) -> None:
    page, panels, blocks = drawn[uid]
    dashboard = load_dashboard(uid)
    assert CAPTION in html.unescape(page)
    assert f"<h1>{dashboard['title']}</h1>" in page

    expected = [(str(p["id"]), p["title"], p["type"]) for p in dashboard["panels"] if p["type"] != "row"]
    found = [(b.attrs["data-panel-id"], b.title, b.attrs["data-panel-type"]) for b in blocks]
    assert found == expected, "one block per panel, in the dashboard's order, with its title"

    empty = []
    for block, data in zip(blocks, panels, strict=True):
        title, kind, state = block.title, block.attrs["data-panel-type"], block.attrs["data-state"]
        assert state in ("data", "no-data"), f"{title}: {block.text} (run `make pictures` to record again)"
        if state == "no-data":
            assert "No data" in block.text, title
            empty.append(title)
            for query in data.queries:
                assert not recorded_results(recording, query), f"{title}: the recording has data for {query}"
            continue
        marks = FIGURE_MARKS[kind]
        assert block.marks & marks, f"{title} ({kind}) has data but no figure: {sorted(block.marks)}"
        if kind == "stat":
            assert block.text.strip() != title, f"{title}: no value shown"
    assert set(empty) <= MAY_BE_EMPTY[uid], f"panels without data: {sorted(set(empty) - MAY_BE_EMPTY[uid])}"


def test_lines_and_legends_follow_the_series(drawn: Pages) -> None:
    """A line per series of a line chart and a legend entry per series of every time series panel."""
    for uid in PICTURED:
        _, panels, blocks = drawn[uid]
        for block, data in zip(blocks, panels, strict=True):
            if block.attrs["data-panel-type"] != "timeseries" or not data.series:
                continue
            legend = [name for name in (series.name for series in data.series) if name in block.text]
            assert len(legend) == len(data.series), f"{block.title}: legend lacks some series"
            if data.panel["fieldConfig"]["defaults"]["custom"]["drawStyle"] == "line":
                segments = block.tags["polyline"] + block.tags["circle"]
                assert segments >= len(data.series), f"{block.title}: {segments} lines for {len(data.series)}"


def test_values_go_through_mappings_and_names(recording: Recording, drawn: Pages) -> None:
    """Stats show mapped texts and series names where the dashboard asks; tables merge their queries."""
    _, _, blocks = drawn["anaplan-exporter"]
    shown = {block.title: block.text.removeprefix(block.title) for block in blocks}
    assert shown["Last poll cycle"] in ("OK", "Failing")
    assert shown["Config reload"] in ("OK", "Refused")
    (build,) = recorded_results(recording, 'anaplan_exporter_build_info{instance=~".*"}')
    assert shown["Version"] == build["metric"]["version"]
    assert shown["Token expires in"].endswith(("min", "s")), shown["Token expires in"]

    # The table's six queries are merged into one row per watched object.
    _, panels, blocks = drawn["anaplan-tasks"]
    (newest,) = [block for block in blocks if block.title == "Newest run of every object"]
    (data,) = [data for data in panels if data.panel["title"] == "Newest run of every object"]
    objects = {tuple(sorted(s.labels.items())) for s in data.series if s.ref == "A"}
    assert len(objects) > 1
    assert newest.tags["tr"] == 1 + len(objects), newest.text


def test_pictures_are_committed() -> None:
    """The README shows one picture per dashboard; each is there and small enough for a repository."""
    for uid in PICTURED:
        picture = GRAFANA.parent / "docs" / "dashboards" / f"{uid}.png"
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
        assert picture.stat().st_size < 400_000, picture
        assert f"docs/dashboards/{uid}.png" in (GRAFANA.parent / "README.md").read_text(encoding="utf-8")
