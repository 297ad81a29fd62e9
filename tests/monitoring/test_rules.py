"""The alert and recording rules, their promtool unit tests, the runbook they link to, and the example
Prometheus configuration that loads them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from anaplan_exporter.serving.runbook import github_anchor
from generate_rules import Site
from monitoring.artifacts import PROMETHEUS_CONFIG, REPO, RULES, load_rules, recording_rules
from monitoring.promql import allowed, metric_names
from support.binaries import find_binary

# anaplan-rules.test.yml; anaplan-rules-schedules.test.yml for cases spanning days (evaluated every 5 min).
RULE_TESTS = sorted(RULES.parent.glob("anaplan-rules*.test.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"
DASHBOARD_URL = re.compile(r"^http://localhost:3000/d/(anaplan-tasks|anaplan-exporter|anaplan-cloudworks)/")
REQUIRED_ALERTS = {
    "AnaplanTaskFailed",
    "AnaplanTaskStuck",
    "AnaplanTaskSlow",
    "AnaplanTaskOverdue",
    "AnaplanTaskCancelled",
    "AnaplanExporterDown",
    "AnaplanTargetDown",
    "AnaplanAuthFailing",
    "AnaplanRateLimited",
    "AnaplanPollStale",
    "AnaplanUnreachable",
    "AnaplanPollingBehind",
    "AnaplanCloudWorksRunFailed",
    "AnaplanCloudWorksRunPartial",
    "AnaplanCloudWorksFlowFailed",
    "AnaplanCloudWorksOverdue",
    "AnaplanCloudWorksForbidden",
}


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_binary("promtool")), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "alert" in rule]


def test_promtool_accepts_the_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass() -> None:
    assert len(RULE_TESTS) == 2, RULE_TESTS
    done = promtool("test", "rules", *(path.name for path in RULE_TESTS), cwd=RULES.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_TESTS), done.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    cases = [
        case for path in RULE_TESTS for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    ]
    checks = [check for case in cases for check in case.get("alert_rule_test", [])]
    fired = {check["alertname"] for check in checks if check.get("exp_alerts")}
    silent = {check["alertname"] for check in checks if not check.get("exp_alerts")}
    names = {rule["alert"] for rule in alerts()}
    assert names - fired == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested staying silent"


def test_required_alerts_exist() -> None:
    assert {rule["alert"] for rule in alerts()} >= REQUIRED_ALERTS


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: str(rule["alert"]))
def test_alert_labels_and_annotations(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    annotations = rule["annotations"]
    assert set(annotations) >= {"summary", "description", "runbook_url", "dashboard_url"}
    assert "{{" not in annotations["summary"] and annotations["summary"].endswith(".")
    assert "{{" in annotations["description"], "description should be templated"
    assert annotations["runbook_url"] == Site().runbook(rule["alert"])
    assert DASHBOARD_URL.match(annotations["dashboard_url"]), annotations["dashboard_url"]


def test_runbook_has_a_section_per_alert() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    anchors = {github_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("## ")}
    for rule in alerts():
        anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert anchor in anchors, f"docs/runbook.md has no heading for #{anchor}"
        section = text.split(f"## {rule['alert']}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("What it means", "How to check", "How to fix"):
            assert part in section, f"runbook section {rule['alert']} lacks {part!r}"


def test_the_failure_alert_counts_completions() -> None:
    """A failure replaced by a success before the next scrape is only visible in the counter."""
    (rule,) = [rule for rule in alerts() if rule["alert"] == "AnaplanTaskFailed"]
    assert re.search(r'increase\(anaplan_task_completions_total\{result="failure"\}\[\w+\]\)', rule["expr"])
    assert "for" not in rule, "a failure should page at the next evaluation"


def test_rules_use_only_known_metrics() -> None:
    recorded = recording_rules()
    assert all(name.startswith("anaplan:") for name in recorded)
    for rule in load_rules():
        unknown = {name for name in metric_names(rule["expr"]) if not allowed(name, recorded)}
        assert not unknown, f"{rule.get('alert') or rule.get('record')} uses unknown metrics {unknown}"


def test_example_prometheus_config_is_valid() -> None:
    done = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout


def test_example_prometheus_config_wiring() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert (PROMETHEUS_CONFIG.parent / config["rule_files"][0]).resolve() == RULES
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "anaplan", "AnaplanExporterDown selects job=anaplan"
    assert job["static_configs"][0]["targets"] == ["localhost:10118"]
    (manager,) = config["alerting"]["alertmanagers"]
    assert manager["static_configs"][0]["targets"] == ["localhost:9093"]


def test_alerts_read_recorded_series_of_the_same_evaluation() -> None:
    """Groups run independently; an alert reading another group's recording rule would lag by an interval."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    for group in groups:
        earlier: set[str] = set()
        for rule in group["rules"]:
            if "record" in rule:
                earlier.add(rule["record"])
                continue
            used = {name for name in metric_names(rule["expr"]) if name.startswith("anaplan:")}
            assert used <= earlier, f"{rule['alert']} reads {used - earlier} from outside its group"
