"""The ``cloudworks:`` section: defaults, the selections, and one-line errors naming the key."""

from __future__ import annotations

import pytest

from anaplan_exporter.config.cloudworks import CloudWorksMode, CloudWorksSelection
from anaplan_exporter.config.file import Config, parse_config
from anaplan_exporter.config.source import ConfigError

BASE = {
    "anaplan": {"auth": {"method": "basic", "username": "u@example.com", "password": "pw"}},
    "targets": [{"workspace": "W", "model": "M", "processes": "*"}],
}


def load(cloudworks: object) -> Config:
    return parse_config({**BASE, "cloudworks": cloudworks}, "config.yml", {"SALES": "Load sales"})


def test_absent_it_is_auto_for_every_integration_and_flow_every_5_s() -> None:
    config = parse_config(BASE, "config.yml", {})
    assert config.cloudworks.mode is CloudWorksMode.AUTO and config.cloudworks.enabled
    assert config.cloudworks.integrations == CloudWorksSelection(all=True)
    assert config.cloudworks.flows == CloudWorksSelection(all=True)
    assert config.cloudworks.list_interval == 5.0


@pytest.mark.parametrize(
    ("value", "mode"), [(True, "true"), (False, "false"), ("auto", "auto"), ("TRUE", "true")]
)
def test_enabled(value: object, mode: str) -> None:
    assert load({"enabled": value}).cloudworks.mode is CloudWorksMode(mode)


def test_selections_by_id_name_star_and_targets() -> None:
    config = load(
        {
            "integrations": ["${SALES}", "4C3F0000000000000000000000000000", "targets"],
            "flows": "targets",
            "list_interval": "10s",
        }
    ).cloudworks
    assert config.integrations == CloudWorksSelection(
        targets=True, items=("Load sales", "4C3F0000000000000000000000000000")
    )
    assert config.flows == CloudWorksSelection(targets=True)
    assert config.list_interval == 10.0
    assert not load({"integrations": [], "flows": []}).cloudworks.enabled  # nothing selected: never asked


@pytest.mark.parametrize(
    ("cloudworks", "message"),
    [
        ({"enabled": "maybe"}, "config.yml: cloudworks.enabled: expected auto, true or false, got 'maybe'"),
        (
            {"integration": "*"},
            "config.yml: cloudworks.integration: unknown key; did you mean 'integrations'?",
        ),
        (
            {"integrations": "Load sales"},
            'config.yml: cloudworks.integrations: expected a list, "*" or targets',
        ),
        (
            {"flows": ["a", 3.5]},
            'config.yml: cloudworks.flows[1]: expected an ID, a name, "*" or targets, got 3.5',
        ),
        (
            {"flows": ["Nightly", "NIGHTLY"]},
            "config.yml: cloudworks.flows[1]: 'NIGHTLY' is already listed at",
        ),
        ({"list_interval": "0.5s"}, "config.yml: cloudworks.list_interval: must be at least 1s, got '0.5s'"),
        ("yes", "config.yml: cloudworks: expected a mapping, got 'yes'"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(cloudworks: object, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(cloudworks)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
