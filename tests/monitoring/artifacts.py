"""The monitoring files of the repository (rules, dashboards) and how the tests read them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "config" / "prometheus" / "anaplan-rules.yml"
PROMETHEUS_CONFIG = RULES.with_name("prometheus.yml")
ALERTMANAGER_CONFIG = REPO / "config" / "alertmanager" / "alertmanager.yml"
GRAFANA = REPO / "grafana"
DASHBOARDS = {path.stem: path for path in sorted((GRAFANA / "dashboards").glob("*.json"))}


def load_rules() -> list[dict[str, Any]]:
    """Every rule of the rules file, alerting and recording."""
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def recording_rules() -> frozenset[str]:
    return frozenset(rule["record"] for rule in load_rules() if "record" in rule)


def load_dashboard(uid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARDS[uid].read_text(encoding="utf-8"))
    return data


def dashboard_targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, query) for every query of every panel."""
    for panel in dashboard["panels"]:
        for query in panel["targets"]:
            yield panel, query
