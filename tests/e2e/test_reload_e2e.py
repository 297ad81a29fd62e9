"""SIGHUP reloads the configuration of the running exporter (real process, simulator as a real process)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from support.exporter import ExporterHandle, running_exporter, simulator_config
from support.simulator import DEFAULT_PASSWORD, running_simulator

pytestmark = pytest.mark.e2e

WS = "8a8b8c8d8e8f8g8i"
MODEL = "75A40874E6B64FA3AE0743278996850F"
RELOAD_OK = "anaplan_exporter_config_last_reload_successful"


def watched(text: str) -> set[str]:
    return {
        sample.labels["object_id"]
        for family in text_string_to_metric_families(text)
        if family.name == "anaplan_target_up"
        for sample in family.samples
    }


def value(text: str, name: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


def hangup_and_wait(exporter: ExporterHandle, done: Callable[[str], bool], timeout: float = 20.0) -> str:
    exporter.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = exporter.metrics()
        if done(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"not reached after SIGHUP\n{exporter.logs()[-3000:]}")


def test_sighup_reloads_targets_and_refuses_bad_or_restart_only_changes(tmp_path: Path) -> None:
    with running_simulator(None, tmp_path) as sim:
        config: dict[str, Any] = simulator_config(sim.url)
        config["targets"] = [{"workspace": WS, "model": MODEL, "processes": ["118000000002"]}]
        path = tmp_path / "exporter.yml"
        path.write_text(yaml.safe_dump(config))
        with running_exporter(path, tmp_path, env={"SIM_PASSWORD": DEFAULT_PASSWORD}) as exporter:
            first = exporter.metrics()
            assert watched(first) == {"118000000002"}
            assert value(first, RELOAD_OK) == 1

            # A new target: watched at once, without a restart.
            config["targets"][0]["imports"] = ["112000000007"]
            path.write_text(yaml.safe_dump(config))
            text = hangup_and_wait(exporter, lambda t: "112000000007" in watched(t))
            assert watched(text) == {"118000000002", "112000000007"}
            assert value(text, RELOAD_OK) == 1

            # A mistake: refused with the path of the fault in the log, the running targets kept.
            broken = {**config, "targets": [{**config["targets"][0], "imprts": ["112000000009"]}]}
            path.write_text(yaml.safe_dump(broken))
            text = hangup_and_wait(exporter, lambda t: value(t, RELOAD_OK) == 0)
            assert watched(text) == {"118000000002", "112000000007"}
            assert "targets[0].imprts" in exporter.logs()

            # Fixed, but with a setting only a restart can apply: refused, and it says which.
            path.write_text(yaml.safe_dump({**config, "polling": {**config["polling"], "idle_interval": 7}}))
            exporter.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while "reload refused" not in exporter.logs() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert "polling changed, which needs a restart" in exporter.logs()
            assert value(exporter.metrics(), RELOAD_OK) == 0

            # A good file again.
            path.write_text(yaml.safe_dump(config))
            hangup_and_wait(exporter, lambda t: value(t, RELOAD_OK) == 1)
            assert exporter.process.poll() is None
            assert "Traceback" not in exporter.logs()
