"""Every object accounted for, with real processes: the simulator, the exporter and Prometheus with the
shipped rules. A process ID the model does not list and an import in a model the user has NO ACCESS to are
each reported on their own series (``anaplan_target_not_found{reason}``, ``anaplan_target_up 0``), on the
status page, and by ``AnaplanTargetNotFound`` naming them, and by nothing else: ``anaplan_up`` stays 1 and
``AnaplanPollStale`` neither fires nor is pending (one wrong ID, one alert); ``--once`` exits 1 all the same.
A process that never ran stays up, says "NEVER RAN" and raises nothing. Granting the role (the simulator's
``/__sim/access``) and correcting the ID (a reload) clear them without a restart.

The rules are the shipped file with one change: the ``for: 5m`` of AnaplanTargetNotFound and AnaplanPollStale
shortened to 1 s, so that the test need not wait five minutes (promtool tests the shipped durations).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from monitoring.artifacts import PROMETHEUS_CONFIG, RULES
from monitoring.servers import Server, running_prometheus, wait_for
from support.exporter import ExporterHandle, exporter_command, running_exporter, simulator_config
from support.net import http_get
from support.pagetext import PageText
from support.simulator import running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
OPEN, CLOSED = "75A40874E6B64FA3AE0743278996850F", "11111111111111111111111111111111"
NIGHTLY, NEVER, WEEKLY = "118000000002", "118000000003", "118000000004"
WRONG = "118000000044"  # a typo of WEEKLY's ID
IMPORT = "112000000007"
_STEPS = [{"id": "112000000008", "name": "Load"}]
_HOURLY = {"every": 3600, "duration": 1, "history": 2}
SCENARIO: dict[str, Any] = {
    "users": [{"username": "demo@example.com", "password": "demo"}],
    "workspaces": [
        {
            "id": WS,
            "name": "Finance",
            "models": [
                {
                    "id": OPEN,
                    "name": "Planning",
                    "processes": [
                        {
                            "id": NIGHTLY,
                            "name": "Nightly",
                            "steps": _STEPS,
                            "every": 3600,
                            "duration": 1,
                            "history": 3,
                        },
                        {"id": NEVER, "name": "Never run", "steps": _STEPS},
                        {
                            "id": WEEKLY,
                            "name": "Weekly",
                            "steps": _STEPS,
                            "every": 3600,
                            "duration": 1,
                            "history": 2,
                        },
                    ],
                },
                {
                    "id": CLOSED,
                    "name": "Closed",
                    "no_access": True,
                    "imports": [{"id": IMPORT, "name": "Sales", **_HOURLY}],
                },
            ],
        }
    ],
}


def exporter_config(sim_url: str, process_ids: list[str]) -> dict[str, Any]:
    return simulator_config(
        sim_url,
        # AnaplanPollStale's threshold is three idle intervals: 6 s, well above a success's age at a scrape.
        polling={"idle_interval": 2, "active_interval": 5, "discovery_interval": 5},
        targets=[
            {"workspace": WS, "model": OPEN, "processes": process_ids},
            {"workspace": WS, "model": CLOSED, "imports": [IMPORT]},
        ],
    )


def prometheus_config(exporter: ExporterHandle, rules: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    del config["alerting"]  # the alerts are read from Prometheus itself
    (job,) = config["scrape_configs"]
    target = exporter.url.split("://")[1]
    job.update(scrape_interval="1s", scrape_timeout="1s", static_configs=[{"targets": [target]}])
    return config


QUICK = ("AnaplanTargetNotFound", "AnaplanPollStale")


def quick_rules(tmp_path: Path) -> Path:
    """The shipped rules, with the ``for`` of the ``QUICK`` alerts at 1 s."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    quick = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") in QUICK]
    assert len(quick) == len(QUICK)
    for rule in quick:
        assert rule["for"] == "5m"
        rule["for"] = "1s"
    path = tmp_path / "anaplan-rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    return path


def series(exporter: ExporterHandle) -> dict[tuple[str, str], dict[str, float]]:
    """(family, object_id) -> {reason or "": value} for anaplan_target_up and anaplan_target_not_found."""
    return series_in(exporter.metrics())


def series_in(exposition: str) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name in ("anaplan_target_up", "anaplan_target_not_found"):
            for sample in family.samples:
                key = (family.name, sample.labels["object_id"])
                out.setdefault(key, {})[sample.labels.get("reason", "")] = sample.value
    return out


def firing(prometheus: Server) -> dict[str, dict[str, Any]]:
    """The firing alerts by object ID (every alert that names an object)."""
    alerts = prometheus.get_json("/api/v1/alerts")["data"]["alerts"]
    return {
        a["labels"]["object_id"]: a for a in alerts if a["state"] == "firing" and "object_id" in a["labels"]
    }


def values(prometheus: Server, expr: str) -> list[float]:
    """The values of an instant query, one per series."""
    answer = prometheus.get_json("/api/v1/query", query=expr)["data"]["result"]
    return [float(item["value"][1]) for item in answer]


def rule_expression(alert: str) -> str:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    (expr,) = [r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == alert]
    return str(expr)


def status_rows(exporter: ExporterHandle) -> dict[str, list[str]]:
    _, body = http_get(exporter.url + "/")
    return {_object_id(row.cells[0]): row.cells for row in PageText(body).rows}


def _object_id(cell: str) -> str:
    return next(word for word in cell.split() if word.isdigit() and len(word) == 12)


@pytest.mark.timeout(150)
def test_a_wrong_id_and_a_no_access_model_are_reported_alerted_and_cleared_without_a_restart(
    tmp_path: Path,
) -> None:
    rules = quick_rules(tmp_path)
    with running_simulator(SCENARIO, tmp_path) as sim:
        config = exporter_config(sim.url, [NIGHTLY, NEVER, WRONG])
        config_path = tmp_path / "exporter.yml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        with (
            running_exporter(config_path, tmp_path) as exporter,
            running_prometheus(prometheus_config(exporter, rules), tmp_path) as prometheus,
        ):
            # The series: not found and no access on their own, the never-run process and the other up.
            found = series(exporter)
            assert found[("anaplan_target_not_found", WRONG)] == {"not_found": 1.0}
            assert found[("anaplan_target_not_found", IMPORT)] == {"no_access": 1.0}
            assert found[("anaplan_target_up", WRONG)] == {"": 0.0}
            assert found[("anaplan_target_up", IMPORT)] == {"": 0.0}
            for ok in (NIGHTLY, NEVER):
                assert found[("anaplan_target_up", ok)] == {"": 1.0}
                assert ("anaplan_target_not_found", ok) not in found

            # The status page: among the problems, and what the never-run process is.
            rows = status_rows(exporter)
            assert rows[WRONG][1] == "NOT FOUND" and "runbook: AnaplanTargetNotFound" in rows[WRONG][5]
            assert rows[IMPORT][1] == "NO ACCESS" and "Give the exporter's user a role" in rows[IMPORT][5]
            assert rows[NEVER][1] == "NEVER RAN" and rows[NEVER][5].startswith("UP")
            _, body = http_get(exporter.url + "/")
            assert "Poll cycle up 2 objects not confirmed by Anaplan" in PageText(body).text

            # --once is a check: it fails on them, anaplan_up 1 or not (run while the alerts come).
            once = subprocess.Popen(
                [*exporter_command(), "--config", str(config_path), "--once"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "SIM_PASSWORD": "demo"},
            )

            # The alert, one per object, naming it and why.
            try:
                alerts = wait_for(
                    lambda: (lambda f: f if {WRONG, IMPORT} <= f.keys() else None)(firing(prometheus)),
                    40,
                    "AnaplanTargetNotFound for the wrong ID and the NO ACCESS import",
                )
            except AssertionError:
                raise AssertionError(prometheus.logs()[-3000:]) from None
            assert set(alerts) == {WRONG, IMPORT}, "the never-run process (or another) raised an alert"
            wrong, masked = alerts[WRONG], alerts[IMPORT]
            assert wrong["labels"]["alertname"] == masked["labels"]["alertname"] == "AnaplanTargetNotFound"
            assert wrong["labels"]["reason"] == "not_found" and masked["labels"]["reason"] == "no_access"
            assert (
                f'The process "{WRONG}" ({WRONG}) of model "Planning"' in wrong["annotations"]["description"]
            )
            assert "is not found" in wrong["annotations"]["description"]
            assert (
                f'The import "{IMPORT}" ({IMPORT}) of model "Closed"' in masked["annotations"]["description"]
            )
            assert "NO ACCESS" in masked["annotations"]["description"]

            # And nothing exporter-wide: once AnaplanPollStale's window (three 2 s intervals, ``for`` 1 s) has
            # passed since the start, anaplan_up has been 1 at every scrape and the rule never even pending.
            wait_for(
                lambda: values(prometheus, "time() - process_start_time_seconds > 9"),
                20,
                "AnaplanPollStale's window to pass",
            )
            assert values(prometheus, "anaplan_up") == [1.0]
            assert values(prometheus, "min_over_time(anaplan_up[1h])") == [1.0]
            assert values(prometheus, "time() - anaplan_last_poll_success_timestamp_seconds < 6") != []
            assert values(prometheus, rule_expression("AnaplanPollStale")) == []
            assert values(prometheus, 'count_over_time(ALERTS{alertname="AnaplanPollStale"}[1h])') == []

            out, err = once.communicate(timeout=30)
            assert once.returncode == 1, err[-3000:]
            assert "anaplan_up 1.0" in out
            printed = series_in(out)
            assert printed[("anaplan_target_not_found", WRONG)] == {"not_found": 1.0}
            assert printed[("anaplan_target_not_found", IMPORT)] == {"no_access": 1.0}
            assert "--once: Anaplan does not confirm 2 object(s)" in err and WRONG in err and IMPORT in err

            # The role is granted: the import is confirmed (its runs list), its alert ends; no restart.
            sim.set_access(CLOSED, False)
            wait_for(
                lambda: (
                    series(exporter).get(("anaplan_target_up", IMPORT)) == {"": 1.0}
                    and ("anaplan_target_not_found", IMPORT) not in series(exporter)
                ),
                20,
                "the NO ACCESS import confirmed after the role was granted",
            )
            wait_for(lambda: IMPORT not in firing(prometheus), 20, "its alert to end")

            # The ID is corrected and the configuration reloaded: the wrong ID is gone, the right one is up.
            config_path.write_text(
                yaml.safe_dump(exporter_config(sim.url, [NIGHTLY, NEVER, WEEKLY])), encoding="utf-8"
            )
            exporter.process.send_signal(signal.SIGHUP)
            wait_for(
                lambda: (
                    ("anaplan_target_up", WRONG) not in series(exporter)
                    and series(exporter).get(("anaplan_target_up", WEEKLY)) == {"": 1.0}
                ),
                20,
                "the corrected ID watched instead of the wrong one",
            )
            found = series(exporter)
            assert not [key for key in found if key[0] == "anaplan_target_not_found"]
            wait_for(lambda: not firing(prometheus), 20, "every alert to end")
            assert exporter.process.poll() is None  # the same process throughout
