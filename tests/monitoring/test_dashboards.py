"""The Grafana dashboards and their provisioning files, checked without a Grafana server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitoring.artifacts import DASHBOARDS, GRAFANA, load_dashboard, recording_rules
from monitoring.artifacts import dashboard_targets as targets
from monitoring.promql import allowed, metric_names, substitute
from support.binaries import find_binary

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
ALLOWED_PANELS = {"timeseries", "stat", "table", "state-timeline", "bargauge"}
# What Grafana would send for each variable when everything is selected.
ALL_VALUES = {
    "__rate_interval": "2m",
    "__interval": "30s",
    "__range": "6h",
    "workspace": ".*",
    "model": ".*",
    "object": ".*",
    "instance": ".*",
    "kind": ".*",
    "cloudworks": ".*",
}
# Dashboards of Anaplan objects (workspace, model and object variables); the CloudWorks one has its own.
OBJECT_DASHBOARDS = ("anaplan-tasks", "anaplan-exporter")
CLOUDWORKS = "anaplan-cloudworks"
COUNTER = re.compile(r"\b(\w+_(?:total|bucket))\b")


def all_exprs() -> list[str]:
    return [query["expr"] for uid in DASHBOARDS for _, query in targets(load_dashboard(uid))]


def test_the_dashboards_exist() -> None:
    assert set(DASHBOARDS) == {"anaplan-tasks", "anaplan-exporter", CLOUDWORKS}
    for uid in DASHBOARDS:
        dashboard = load_dashboard(uid)
        assert dashboard["uid"] == uid
        assert dashboard["title"] in {"Anaplan tasks", "Anaplan exporter", "Anaplan CloudWorks"}
        assert "__inputs" not in dashboard


def test_files_match_their_generator() -> None:
    done = subprocess.run(
        [sys.executable, str(GRAFANA / "build_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_panels_are_modern_and_complete(uid: str) -> None:
    dashboard = load_dashboard(uid)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard["panels"]:
        assert panel["type"] in ALLOWED_PANELS, f"{panel['title']}: {panel['type']}"
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert panel["fieldConfig"]["defaults"]["unit"], f"{panel['title']} has no unit"


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_grid_has_no_overlaps(uid: str) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in load_dashboard(uid)["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["y"] >= 0 and grid["h"] > 0, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[x, y]}"
                taken[x, y] = panel["title"]


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_datasource_variable_everywhere(uid: str) -> None:
    dashboard = load_dashboard(uid)
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "${DS_" not in DASHBOARDS[uid].read_text(encoding="utf-8")
    for panel, query in targets(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert query["datasource"] == DATASOURCE, panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


@pytest.mark.parametrize("uid", OBJECT_DASHBOARDS)
def test_object_variables_are_chained(uid: str) -> None:
    variables = {variable["name"]: variable for variable in load_dashboard(uid)["templating"]["list"]}
    expected = {
        "workspace": ("workspace_name", []),
        "model": ("model_name", ["$workspace"]),
        "object": ("object_name", ["$workspace", "$model"]),
    }
    for name, (label, parents) in expected.items():
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["multi"] and variable["includeAll"], name
        query = variable["query"]
        assert re.fullmatch(rf"label_values\(anaplan_task_state(\{{.*\}})?, {label}\)", query), query
        for parent in parents:
            assert parent in query, f"{name} is not filtered by {parent}"


def test_cloudworks_variables_are_chained() -> None:
    variables = {variable["name"]: variable for variable in load_dashboard(CLOUDWORKS)["templating"]["list"]}
    assert set(variables) == {"datasource", "kind", "cloudworks"}
    for name, label in (("kind", "kind"), ("cloudworks", "cloudworks_name")):
        variable = variables[name]
        assert variable["type"] == "query" and variable["multi"] and variable["includeAll"], name
        assert re.fullmatch(
            rf"label_values\(anaplan_cloudworks_info(\{{.*\}})?, {label}\)", variable["query"]
        )
    assert "$kind" in variables["cloudworks"]["query"]


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_per_object_panels_follow_the_variables(uid: str) -> None:
    for panel, query in targets(load_dashboard(uid)):
        expr = query["expr"]
        names = metric_names(expr)
        if any(name.startswith(("anaplan_cloudworks", "anaplan:cloudworks")) for name in names):
            if names & {"anaplan_cloudworks_up", "anaplan_cloudworks_forbidden"}:
                continue  # exporter-wide: no identity labels
            for variable in ("$kind", "$cloudworks"):
                assert variable in expr, f"{panel['title']}: {expr} ignores {variable}"
        elif any(name.startswith(("anaplan_task", "anaplan_import", "anaplan:")) for name in names):
            for variable in ("$workspace", "$model", "$object"):
                assert variable in expr, f"{panel['title']}: {expr} ignores {variable}"


def test_dashboards_link_to_each_other() -> None:
    for uid in DASHBOARDS:
        for other in set(DASHBOARDS) - {uid}:
            urls = [link["url"] for link in load_dashboard(uid)["links"]]
            assert any(url.startswith(f"/d/{other}") for url in urls), f"{uid} does not link to {other}"


def test_queries_use_only_known_metrics() -> None:
    recorded = recording_rules()
    for expr in all_exprs():
        unknown = {name for name in metric_names(expr) if not allowed(name, recorded)}
        assert not unknown, f"{expr} uses unknown metrics {unknown}"


def test_counters_are_wrapped_in_rate_or_increase() -> None:
    for expr in all_exprs():
        for match in COUNTER.finditer(expr):
            before = expr[: match.start()].rstrip()
            assert before.endswith(("rate(", "increase(")), f"{match.group(1)} is not rated in {expr}"


def test_every_query_parses(tmp_path: Path) -> None:
    """promtool parses each expression (variables filled in) as a recording rule."""
    exprs = all_exprs()
    records = [
        {"record": f"dashboard:expr_{number}", "expr": substitute(expr, ALL_VALUES)}
        for number, expr in enumerate(exprs)
    ]
    rules = {"groups": [{"name": "dashboards", "rules": records}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    done = subprocess.run(
        [str(find_binary("promtool")), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def test_provisioning_files() -> None:
    provisioning = GRAFANA / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "anaplan-prometheus.yml").read_text())
    assert datasources["apiVersion"] == 1
    assert [source["type"] for source in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((provisioning / "dashboards" / "anaplan.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")
