"""The exporter's own status page: its facts come from the running exporter (version, last reload)."""

from __future__ import annotations

import time

import pytest

from anaplan_exporter import __version__, app
from anaplan_exporter.app import Exporter
from anaplan_exporter.config.file import Config, parse_config
from anaplan_exporter.serving.status_page.page import PageInfo
from anaplan_exporter.snapshot import Snapshot
from support.pagetext import PageText

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"


def config(**polling: object) -> Config:
    data = {
        "anaplan": {"auth": {"method": "basic", "username": "svc@example.com", "password": "${PW}"}},
        "targets": [{"workspace": WS, "model": MODEL, "processes": ["118000000002"]}],
        "polling": polling,
    }
    return parse_config(data, "/etc/anaplan-exporter/config.yml", {"PW": "secret-1"})


def test_status_page_shows_version_readiness_and_the_last_reload() -> None:
    exporter = Exporter(config())
    try:
        page = PageText(exporter.status_page(""))
        assert f"Version {__version__}" in page.text
        assert "waiting for the first full poll cycle" in page.text
        assert "Last config reload loaded" in page.text and "secret-1" not in page.text

        assert not exporter.reload(lambda: config(idle_interval="30s"))  # needs a restart: refused
        page = PageText(exporter.status_page("state=failed"))
        assert "Last config reload refused" in page.text
        assert "runbook: AnaplanExporterConfigReloadFailed" in page.text
        assert exporter.reloads.last_time >= exporter.reloads.last_success_time

        assert exporter.reload(config)
        assert "Last config reload loaded" in PageText(exporter.status_page("")).text
    finally:
        exporter.stop()


def test_the_page_counts_from_the_process_start_as_the_overdue_alert_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[PageInfo] = []

    def render(snapshot: Snapshot, info: PageInfo, query: str = "", on_error: object = None) -> str:
        seen.append(info)
        return ""

    monkeypatch.setattr(app, "render_status_page", render)
    exporter = Exporter(config())
    try:
        exporter.status_page("")
        started = exporter.own_registry.get_sample_value("process_start_time_seconds")
        assert started is not None and started <= time.time()
        assert [info.started for info in seen] == [started]
    finally:
        exporter.stop()
