"""The dashboard pictures: grafana/render_pictures.py run against a real Prometheus with a little data.

The simulator (a process failing with a dump every 10 s, 429 bursts), the exporter and Prometheus with the
rules run until AnaplanTaskFailed fires; then the script draws both dashboards as HTML (no screenshot). Every
panel must have one block with its title and a figure drawn from data, or say "No data" where the series
cannot exist yet in so short a run (listed below, and checked against Prometheus).
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.artifacts import DASHBOARDS, GRAFANA, load_dashboard
from monitoring.servers import Server, running_exporter, running_prometheus, wait_for
from monitoring.test_e2e_prometheus import SCENARIO, exporter_config, host_port
from monitoring.test_e2e_prometheus import prometheus_config as e2e_prometheus_config
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

SCRIPT = GRAFANA / "render_pictures.py"
HTML_ONLY = ("--scrape-interval", "1", "--html-only", "--out")
CAPTION = "Drawn from the dashboard's own queries on a real Prometheus, not by Grafana"
# Panels that may be empty at the moment they are drawn (their tables are instant queries): nothing may be
# running between two runs, the failing process's dump is only the newest run's while no new run is going,
# and the exporter has no alert of its own to fire. The stat also titled "Running now" always has a value.
MAY_BE_EMPTY = {
    "anaplan-exporter": {"Firing Anaplan alerts"},
    "anaplan-tasks": {"Running now", "Failure dumps available", "Process steps with a failure dump"},
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


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Prometheus (1 s scrapes) with the rules, after AnaplanTaskFailed fired on the simulator's failures."""
    tmp_path = tmp_path_factory.mktemp("dashboard-pictures")
    script = Path(sys.executable).with_name("anaplan-exporter")
    with running_simulator(SCENARIO, tmp_path) as simulator:
        config_path = tmp_path / "exporter.yml"
        config_path.write_text(yaml.safe_dump(exporter_config(simulator.url)), encoding="utf-8")
        with running_exporter(script, config_path, tmp_path) as exporter:
            config = e2e_prometheus_config(host_port(exporter.url), "127.0.0.1:9")
            config.pop("alerting")
            with running_prometheus(config, tmp_path) as server:
                wait_for(
                    lambda: server.get_json(
                        "/api/v1/query", query='ALERTS{alertname="AnaplanTaskFailed", alertstate="firing"}'
                    )["data"]["result"],
                    50,
                    "AnaplanTaskFailed to fire",
                )
                yield server


@pytest.fixture(scope="module")
def drawn(prometheus: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pictures")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--prometheus", prometheus.url, "--minutes", "2", *HTML_ONLY, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return out


def no_data_is_true(prometheus: Server, summary: dict[str, Any], kind: str, queries: list[str]) -> None:
    """Prometheus has nothing for the queries where the script looked: at the end, or over the range."""
    for query in queries:
        if kind in ("stat", "table", "bargauge"):
            answer = prometheus.get_json("/api/v1/query", query=query, time=str(summary["end"]))
        else:
            times = {key: str(summary[key]) for key in ("start", "end", "step")}
            answer = prometheus.get_json("/api/v1/query_range", query=query, **times)
        assert not answer["data"]["result"], f"Prometheus has data for {query}"


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_every_panel_is_drawn(prometheus: Server, drawn: Path, uid: str) -> None:
    page = (drawn / f"{uid}.html").read_text(encoding="utf-8")
    summary: dict[str, Any] = json.loads((drawn / f"{uid}.json").read_text(encoding="utf-8"))
    parser = Blocks()
    parser.feed(page)
    dashboard = load_dashboard(uid)
    assert CAPTION in html.unescape(page)
    assert f"<h1>{dashboard['title']}</h1>" in page

    expected = [(str(p["id"]), p["title"], p["type"]) for p in dashboard["panels"] if p["type"] != "row"]
    found = [(b.attrs["data-panel-id"], b.title, b.attrs["data-panel-type"]) for b in parser.blocks]
    assert found == expected, "one block per panel, in the dashboard's order, with its title"

    queries = {str(item["id"]): item["queries"] for item in summary["panels"]}
    empty = []
    for block in parser.blocks:
        panel_id, title, kind = block.attrs["data-panel-id"], block.title, block.attrs["data-panel-type"]
        state = block.attrs["data-state"]
        assert state in ("data", "no-data"), f"{title}: {block.text}"
        if state == "no-data":
            assert "No data" in block.text, title
            empty.append(title)
            no_data_is_true(prometheus, summary, kind, queries[panel_id])
            continue
        marks = FIGURE_MARKS.get(kind, set())
        assert block.marks & marks, f"{title} ({kind}) has data but no figure: {sorted(block.marks)}"
        if kind == "stat":
            assert block.text.strip() != title, f"{title}: no value shown"
    assert set(empty) <= MAY_BE_EMPTY[uid], f"panels without data: {sorted(set(empty) - MAY_BE_EMPTY[uid])}"
    if uid == "anaplan-tasks":
        # The table's six queries are merged into one row per object (a process, an import, an export).
        (newest,) = [block for block in parser.blocks if block.title == "Newest run of every object"]
        assert newest.tags["tr"] == 1 + 3, newest.text


def test_pictures_are_committed() -> None:
    """The README shows one picture per dashboard; each is there and small enough for a repository."""
    for uid in DASHBOARDS:
        picture = GRAFANA.parent / "docs" / "dashboards" / f"{uid}.png"
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
        assert picture.stat().st_size < 400_000, picture
        assert f"docs/dashboards/{uid}.png" in (GRAFANA.parent / "README.md").read_text(encoding="utf-8")
