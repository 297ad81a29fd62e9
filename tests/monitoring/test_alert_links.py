"""The alerts' runbook_url and dashboard_url: written for every alert by config/prometheus/generate_rules.py
from one runbook address and one Grafana address, and, by default, opening the runbook a running exporter
serves."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import generate_rules
from anaplan_exporter.serving.runbook import RUNBOOK_PATH
from generate_rules import (
    CLOUDWORKS_DASHBOARD,
    DEFAULT_GRAFANA_URL,
    DEFAULT_RUNBOOK_URL,
    EXPORTER_DASHBOARD,
    TASKS_DASHBOARD,
    RulesFileError,
    Site,
    with_links,
)
from monitoring.artifacts import DASHBOARDS, RULES, load_rules
from support.binaries import find_binary
from support.net import free_port, http_get, wait_http

SITE = Site(
    runbook_url="https://wiki.example.org/ops/anaplan-runbook", grafana_url="https://example.org/grafana/"
)

# An alert as a colleague adds it, without links, in a group of its own and in the tasks group.
NEW_ALERTS = """\
groups:
  - name: anaplan-tasks
    rules:
      - record: anaplan:task_running
        expr: vector(1)
      # A new alert, written without links.
      - alert: AnaplanTargetNotFound
        expr: anaplan_target_up == 0
        labels:
          severity: warning
        annotations:
          summary: A configured object is gone.
          description: >-
            {{ $labels.object_name }} is gone.

          # A comment after the annotations stays where it is.
  - name: anaplan-cloudworks
    rules:
      - alert: AnaplanCloudWorksRunFailed
        expr: vector(1)
        annotations:
          summary: A CloudWorks run failed.
          description: It failed.
  - name: anaplan-exporter
    rules:
      - alert: AnaplanExporterSlow
        expr: vector(1)
        annotations:
          summary: The exporter is slow.
          description: It is slow.
"""


def alerts_of(text: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(text)
    return {rule["alert"]: rule for group in data["groups"] for rule in group["rules"] if "alert" in rule}


def promtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(find_binary("promtool")), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the committed rules ------------------------------------------------------------------------------------


def test_the_committed_rules_are_what_the_generator_writes() -> None:
    text = RULES.read_text(encoding="utf-8")
    assert with_links(text) == text, "run python config/prometheus/generate_rules.py"
    assert generate_rules.main(["--check"]) == 0


def test_every_alert_links_to_its_runbook_section_and_an_existing_dashboard() -> None:
    for rule in load_rules():
        if "alert" not in rule:
            continue
        annotations = rule["annotations"]
        assert (
            annotations["runbook_url"] == f"http://{{{{ $labels.instance }}}}/runbook#{rule['alert'].lower()}"
        )
        dashboard = re.match(r"^http://localhost:3000/d/([\w-]+)/", annotations["dashboard_url"])
        assert dashboard and dashboard.group(1) in DASHBOARDS, annotations["dashboard_url"]


def test_the_default_runbook_is_the_page_the_exporter_serves() -> None:
    assert DEFAULT_RUNBOOK_URL.replace("%s", "") == f"http://{{{{ $labels.instance }}}}{RUNBOOK_PATH}#"
    assert DEFAULT_GRAFANA_URL == "http://localhost:3000", "where docker-compose.yml publishes Grafana"


@pytest.fixture(scope="module")
def demo_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The exporter in demo mode, a real process on a free loopback port: its address (host:port)."""
    port = free_port()
    log = tmp_path_factory.mktemp("links") / "exporter.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "anaplan_exporter", "--web.listen-address", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_http(f"http://127.0.0.1:{port}/-/healthy", timeout=30)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-2000:]}") from None
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_every_alerts_runbook_link_opens_its_section_on_a_running_exporter(demo_exporter: str) -> None:
    """The link as Prometheus fills it in for an alert of this exporter, fetched over HTTP."""
    pages: dict[str, str] = {}
    for rule in load_rules():
        if "alert" not in rule:
            continue
        url = rule["annotations"]["runbook_url"].replace("{{ $labels.instance }}", demo_exporter)
        assert "{{" not in url, url
        address, anchor = url.split("#")
        if address not in pages:
            status, pages[address] = http_get(address)
            assert status == 200, f"{address} answered {status}"
        page = pages[address]
        assert f'<h2 id="{anchor}">{rule["alert"]}</h2>' in page, f"{url}: no section with that anchor"
        section = page.split(f'id="{anchor}"', 1)[1].split("<h2 ", 1)[0]
        for part in ("What it means", "How to check", "How to fix"):
            assert part in section, f"{url}: the section lacks {part!r}"


# --- the generator ------------------------------------------------------------------------------------------


def test_an_alert_written_without_links_gets_both_from_its_name_and_group() -> None:
    text = with_links(NEW_ALERTS)
    alerts = alerts_of(text)
    found = alerts["AnaplanTargetNotFound"]["annotations"]
    assert found["runbook_url"] == "http://{{ $labels.instance }}/runbook#anaplantargetnotfound"
    assert found["dashboard_url"] == DEFAULT_GRAFANA_URL + TASKS_DASHBOARD, "per-object: the tasks dashboard"
    cloudworks = alerts["AnaplanCloudWorksRunFailed"]["annotations"]
    assert cloudworks["runbook_url"] == "http://{{ $labels.instance }}/runbook#anaplancloudworksrunfailed"
    assert cloudworks["dashboard_url"] == DEFAULT_GRAFANA_URL + CLOUDWORKS_DASHBOARD
    exporter = alerts["AnaplanExporterSlow"]["annotations"]
    assert exporter["dashboard_url"] == DEFAULT_GRAFANA_URL + EXPORTER_DASHBOARD, "any other group"
    assert (
        "          # A comment after the annotations stays where it is.\n  - name: anaplan-cloudworks" in text
    )
    added = [line for line in text.splitlines() if line not in NEW_ALERTS.splitlines()]
    assert len(added) == 6 and all(re.match(r"^ {10}(runbook|dashboard)_url: ", line) for line in added)
    assert with_links(text) == text, "a second run changes nothing"
    assert with_links(text, SITE) == with_links(NEW_ALERTS, SITE)


def test_a_site_changes_only_the_link_lines_and_the_rules_stay_valid(tmp_path: Path) -> None:
    committed = RULES.read_text(encoding="utf-8")
    text = with_links(committed, SITE)
    changed = [(a, b) for a, b in zip(committed.splitlines(), text.splitlines(), strict=True) if a != b]
    links = sum(1 for rule in load_rules() if "alert" in rule)
    assert links <= len(changed) <= 3 * links  # runbook_url of each alert, the dashboard anchors' URLs
    for before, after in changed:
        assert re.match(r"^\s*(runbook_url: |dashboard_url: |http)", before), before
        assert "https://example.org/grafana/d/" in after or "https://wiki.example.org/" in after, after
    for name, rule in alerts_of(text).items():
        assert (
            rule["annotations"]["runbook_url"]
            == f"https://wiki.example.org/ops/anaplan-runbook#{name.lower()}"
        )
        assert rule["annotations"]["dashboard_url"].startswith("https://example.org/grafana/d/anaplan-")
    assert with_links(text) == committed, "back to the defaults: the committed file"
    site_rules = tmp_path / "anaplan-rules.yml"
    site_rules.write_text(text)
    done = promtool_check(site_rules)
    assert done.returncode == 0, done.stdout + done.stderr


def test_runbook_url_pattern_places_the_anchor_where_percent_s_is() -> None:
    wiki = Site(runbook_url="https://wiki.example.org/display/OPS/Anaplan+%s")
    assert (
        wiki.runbook("AnaplanTaskFailed") == "https://wiki.example.org/display/OPS/Anaplan+anaplantaskfailed"
    )
    assert (
        SITE.runbook("AnaplanTaskFailed") == "https://wiki.example.org/ops/anaplan-runbook#anaplantaskfailed"
    )
    https = Site(runbook_url="https://{{ $labels.instance }}/runbook")
    assert https.runbook("AnaplanTaskStuck") == "https://{{ $labels.instance }}/runbook#anaplantaskstuck"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--grafana-url",
            "grafana.example.org",
            "--grafana-url 'grafana.example.org': expected Grafana's base",
        ),
        ("--grafana-url", "https://grafana.example.org/d/abc", "expected Grafana's base address"),
        ("--runbook-url", "wiki.example.org/runbook", "expected an http:// or https:// address"),
        ("--runbook-url", "https://wiki.example.org/runbook#top", "put %s where the alert's anchor goes"),
    ],
)
def test_a_bad_address_is_refused_in_one_line(
    option: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "rules.yml"
    assert generate_rules.main([option, value, "--output", str(output)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
    assert not output.exists()


def test_output_writes_the_sites_copy_and_check_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "rules.yml"
    site = ["--grafana-url", "https://grafana.example.org", "--runbook-url", "https://wiki.example.org/rb"]
    assert generate_rules.main([*site, "--output", str(output), "--check"]) == 1
    assert generate_rules.main([*site, "--output", str(output)]) == 0
    assert generate_rules.main([*site, "--output", str(output), "--check"]) == 0
    assert generate_rules.main(["--output", str(output), "--check"]) == 1, "the defaults differ"
    assert "is out of date" in capsys.readouterr().err
    annotations = alerts_of(output.read_text())["AnaplanTaskFailed"]["annotations"]
    assert annotations["runbook_url"] == "https://wiki.example.org/rb#anaplantaskfailed"
    assert annotations["dashboard_url"].startswith(
        "https://grafana.example.org/d/anaplan-tasks/anaplan-tasks?"
    )


def test_an_alert_without_annotations_is_refused() -> None:
    with pytest.raises(RulesFileError, match="alert Bare has no annotations"):
        with_links("groups:\n  - name: g\n    rules:\n      - alert: Bare\n        expr: vector(1)\n")
    with pytest.raises(RulesFileError, match="key 'groups'"):
        with_links("rules: []\n")
