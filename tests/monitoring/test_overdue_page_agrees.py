"""The status page's "overdue" is AnaplanTaskOverdue's: the objects of ``support.overdue_cases`` go through
the exporter's own exposition into promtool, which evaluates the alert's expression (without its ``for``)
with the recording rules it reads; the objects it returns are those ``outcomes.overdue`` calls overdue.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from anaplan_exporter.serving.exposition import render_snapshot
from anaplan_exporter.serving.status_page.outcomes import overdue
from anaplan_exporter.snapshot import Snapshot
from monitoring.artifacts import RULES, load_rules
from support.binaries import find_binary
from support.overdue_cases import CASES, NOW, STARTED

TARGET = {"job": "anaplan", "instance": "exporter:10118"}


def _selector(name: str, labels: dict[str, str]) -> str:
    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return name + "{" + ",".join(f"{key}={quoted(value)}" for key, value in labels.items()) + "}"


def _input_series() -> list[dict[str, str]]:
    """Every series the exporter writes for the cases, held from 0 to ``NOW``, scraped by job "anaplan"."""
    text = b"".join(render_snapshot(Snapshot(objects=tuple(case.obj for case in CASES)))).decode()
    minutes = int(NOW // 60)
    series = [
        {
            "series": _selector(sample.name, {**TARGET, **sample.labels}),
            "values": f"{sample.value:g}x{minutes}",
        }
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
    start = {"series": _selector("process_start_time_seconds", TARGET), "values": f"{STARTED:g}x{minutes}"}
    return [*series, start]


def test_the_page_calls_overdue_exactly_the_objects_the_alert_fires_for(tmp_path: Path) -> None:
    (rule,) = [rule for rule in load_rules() if rule.get("alert") == "AnaplanTaskOverdue"]
    page = sorted(case.obj.ref.object_id for case in CASES if overdue(case.obj, NOW, STARTED) is not None)
    expected = sorted(case.obj.ref.object_id for case in CASES if case.overdue)
    assert page == expected, [case.name for case in CASES if (case.obj.ref.object_id in page) != case.overdue]
    shutil.copy(RULES, tmp_path / RULES.name)
    test = {
        "rule_files": [RULES.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _input_series(),
                "promql_expr_test": [
                    {
                        "expr": f"count by (object_id) (\n{rule['expr']})",
                        "eval_time": f"{int(NOW // 60)}m",
                        "exp_samples": [{"labels": f'{{object_id="{id_}"}}', "value": 1} for id_ in page],
                    }
                ],
            }
        ],
    }
    (tmp_path / "overdue.test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    done = subprocess.run(
        [str(find_binary("promtool")), "test", "rules", "overdue.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
