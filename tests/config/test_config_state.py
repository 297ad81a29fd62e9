"""The ``state:`` section: where the trackers' state is kept across restarts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from anaplan_exporter.config.file import STATE_PATH_ENV, Config, StateConfig, load_config

from .conftest import MINIMAL, PASSWORD


def test_without_a_state_section_the_state_is_kept_in_memory(load: Callable[[str], Config]) -> None:
    assert load(MINIMAL).state == StateConfig(path=None, save_interval=5.0)


def test_path_is_relative_to_the_config_folder_and_save_interval_a_duration(
    load: Callable[[dict[str, object]], Config], minimal: dict[str, object], tmp_path: Path
) -> None:
    minimal["state"] = {"path": "data/state.json", "save_interval": "30s"}
    assert load(minimal).state == StateConfig(tmp_path / "data" / "state.json", 30.0)


def test_the_environment_gives_the_default_path_and_an_empty_path_turns_it_off(
    tmp_path: Path, minimal: dict[str, object]
) -> None:
    file = tmp_path / "config.yml"
    env = {"ANAPLAN_PASSWORD": PASSWORD, STATE_PATH_ENV: "/var/lib/anaplan-exporter/state.json"}
    file.write_text(yaml.safe_dump(minimal))
    assert load_config(file, env).state.path == Path("/var/lib/anaplan-exporter/state.json")
    minimal["state"] = {"path": ""}
    file.write_text(yaml.safe_dump(minimal))
    assert load_config(file, env).state.path is None
    minimal["state"] = {"path": "/elsewhere/state.json"}
    file.write_text(yaml.safe_dump(minimal))
    assert load_config(file, env).state.path == Path("/elsewhere/state.json")


def test_bad_state_values_are_one_line_errors(
    fail: Callable[[dict[str, object]], str], minimal: dict[str, object]
) -> None:
    minimal["state"] = {"save_interval": "soon"}
    assert fail(minimal).startswith("state.save_interval: expected a duration")
    minimal["state"] = {"save_interval": 0}
    assert fail(minimal) == "state.save_interval: must be greater than 0s, got 0"
    minimal["state"] = {"paht": "x"}
    assert fail(minimal) == "state.paht: unknown key; did you mean 'path'?"
    minimal["state"] = {"path": ["a"]}
    assert fail(minimal).startswith("state.path: expected a string")
