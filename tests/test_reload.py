"""Configuration reload: targets and credentials change in place, trackers kept; other changes are refused."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from anaplan_exporter import __version__
from anaplan_exporter.anaplan.errors import AnaplanAuthError
from anaplan_exporter.app import Exporter
from anaplan_exporter.config.file import Config, parse_config
from anaplan_exporter.config.source import ConfigError
from anaplan_exporter.polling.poller import Poller
from anaplan_exporter.reload import credentials_changed, restart_needed
from polling.test_poller import POLLING, Clock, api_with_objects, ids, target
from support.fake_anaplan import MODEL, WS, finished

ENV = {"ANAPLAN_PASSWORD": "secret-1"}


def _anaplan() -> dict[str, Any]:
    return {"auth": {"method": "basic", "username": "svc@example.com", "password": "${ANAPLAN_PASSWORD}"}}


def config(environ: dict[str, str] | None = None, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "anaplan": _anaplan(),
        "targets": [{"workspace": WS, "model": MODEL, "processes": ["118000000002"]}],
        **sections,
    }
    return parse_config(data, "/etc/anaplan-exporter/config.yml", environ or ENV)


def test_target_and_defaults_changes_can_be_reloaded() -> None:
    running = config()
    assert restart_needed(running, config()) == []
    more = config(targets=[{"workspace": WS, "model": MODEL, "processes": "*", "imports": "*"}])
    assert restart_needed(running, more) == []
    assert restart_needed(running, config(defaults={"expected_every": "1h"})) == []
    assert restart_needed(running, config(cloudworks={"enabled": False, "flows": ["Nightly"]})) == []


def test_changes_the_running_client_poller_or_server_depend_on_need_a_restart() -> None:
    running = config()
    faster = config(polling={"idle_interval": "30s"})
    assert restart_needed(running, faster) == ["polling"]
    other_host = config(
        anaplan={**_anaplan(), "api_url": "https://api.eu1.anaplan.com/2/0"}, web={"listen_address": ":10200"}
    )
    assert restart_needed(running, other_host) == ["anaplan", "web"]
    rotated = config({"ANAPLAN_PASSWORD": "secret-2"})
    assert restart_needed(running, rotated) == []  # new credentials are handed to the running client
    assert credentials_changed(running, rotated) and not credentials_changed(running, config())
    assert restart_needed(running, config(sharding={"shard": 1, "total": 2})) == ["sharding"]


def test_poller_reconfigure_keeps_trackers_of_objects_still_watched_and_drops_the_rest() -> None:
    api = api_with_objects()
    api.add("118000000002", finished("P1", 900.0))
    clock = Clock()
    poller = Poller(
        api, [target(processes=ids("118000000002"), imports=ids("112000000007"))], POLLING, clock=clock
    )
    poller.tick()
    api.add("118000000002", finished("P2", 1010.0, ok=False))
    clock.now += 60
    poller.tick()
    before = {o.ref.object_id: o for o in poller.snapshot.objects}
    assert before["118000000002"].completions["failure"] == 1

    poller.reconfigure([target(processes=ids("118000000002"), actions=ids("117000000019"))])
    clock.now += 1  # long before the next discovery or full cycle: the reload alone makes this round run
    poller.tick()
    after = {o.ref.object_id: o for o in poller.snapshot.objects}
    assert set(after) == {"118000000002", "117000000019"}
    assert after["118000000002"].completions["failure"] == 1  # the counter carried on
    assert after["118000000002"].last_failure_time == 1010.0
    assert after["117000000019"].up


def test_exporter_reload_applies_good_files_and_refuses_bad_ones_keeping_the_old() -> None:
    exporter = Exporter(config())
    gauge = "anaplan_exporter_config_last_reload_successful"
    try:
        assert exporter.own_registry.get_sample_value(gauge) == 1

        with pytest.raises(ConfigError):
            config(targets=[{"workspace": WS, "model": MODEL, "procesess": ["118000000002"]}])
        assert not exporter.reload(
            lambda: config(targets=[{"workspace": WS, "model": MODEL, "procesess": ["118000000002"]}])
        )
        assert exporter.own_registry.get_sample_value(gauge) == 0
        assert not exporter.reload(lambda: config(polling={"idle_interval": "30s"}))

        def bad_override() -> Config:
            raise ValueError("--shard: expected I/N")

        assert not exporter.reload(bad_override)
        assert exporter.config.polling == config().polling

        wider = config(targets=[{"workspace": WS, "model": MODEL, "processes": "*"}])
        assert exporter.reload(lambda: wider)
        assert exporter.own_registry.get_sample_value(gauge) == 1
        assert exporter.config.targets == wider.targets
    finally:
        exporter.stop()


def test_each_shard_gets_its_share_of_the_deployments_request_budget() -> None:
    anaplan = {**_anaplan(), "requests_per_second": 6}
    for sharding, rate in (({"total": 1}, 6.0), ({"shard": 1, "total": 3}, 2.0)):
        exporter = Exporter(config(anaplan=anaplan, sharding=sharding))
        try:
            assert exporter.client.budget.interval == pytest.approx(1.1 / rate)  # starts 1.1/rate apart
        finally:
            exporter.stop()
    explicit = config(anaplan=anaplan, sharding={"total": 3, "replica_requests_per_second": 4})
    exporter = Exporter(explicit)
    try:
        assert exporter.client.budget.interval == pytest.approx(1.1 / 4)
    finally:
        exporter.stop()


def test_the_exporter_names_itself_and_its_version_to_anaplan() -> None:
    exporter = Exporter(config())
    try:
        with responses.RequestsMock() as http:
            http.post("https://auth.anaplan.com/token/authenticate", status=401, json={"status": "FAILURE"})
            with pytest.raises(AnaplanAuthError):
                exporter.client.list_workspaces()
            assert http.calls[0].request.headers["User-Agent"] == f"anaplan-exporter/{__version__}"
    finally:
        exporter.stop()
