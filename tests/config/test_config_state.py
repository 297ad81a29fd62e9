"""The ``state:`` section: where the trackers' state is kept across restarts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from anaplan_exporter.app import Exporter
from anaplan_exporter.config.file import STATE_PATH_ENV, Config, StateConfig, load_config, with_shard
from anaplan_exporter.polling.state import StateFileError

from .conftest import PASSWORD


def test_without_a_state_section_the_state_file_is_under_xdg_state_home(
    tmp_path: Path, minimal: dict[str, object]
) -> None:
    env = {"ANAPLAN_PASSWORD": PASSWORD, "XDG_STATE_HOME": "/srv/state", "HOME": "/home/monitor"}
    assert _load(tmp_path, minimal, env).state == StateConfig(
        Path("/srv/state/anaplan-exporter/state.json"), 5.0, default=True
    )


def test_without_xdg_state_home_the_state_file_is_under_the_home_folder(
    tmp_path: Path, minimal: dict[str, object]
) -> None:
    home = {"ANAPLAN_PASSWORD": PASSWORD, "HOME": "/home/monitor"}
    expected = StateConfig(Path("/home/monitor/.local/state/anaplan-exporter/state.json"), 5.0, default=True)
    assert _load(tmp_path, minimal, home).state == expected
    # The XDG convention: an empty or relative XDG_STATE_HOME is ignored.
    assert _load(tmp_path, minimal, {**home, "XDG_STATE_HOME": ""}).state == expected
    assert _load(tmp_path, minimal, {**home, "XDG_STATE_HOME": "state"}).state == expected


def test_without_a_home_folder_there_is_no_default_state_file(
    tmp_path: Path, minimal: dict[str, object]
) -> None:
    state = _load(tmp_path, minimal, {"ANAPLAN_PASSWORD": PASSWORD, "HOME": "relative"}).state
    assert state == StateConfig(None, 5.0, default=True)


def test_each_shard_gets_its_own_default_state_file(tmp_path: Path, minimal: dict[str, object]) -> None:
    env = {"ANAPLAN_PASSWORD": PASSWORD, "XDG_STATE_HOME": "/srv/state"}
    minimal["sharding"] = {"shard": 1, "total": 3}
    sharded = _load(tmp_path, minimal, env)
    assert sharded.state.path == Path("/srv/state/anaplan-exporter/state-shard-1.json")
    # --shard on the command line names the file too, in either direction.
    assert with_shard(sharded, 2, 3).state.path == Path("/srv/state/anaplan-exporter/state-shard-2.json")
    assert with_shard(sharded, 0, 1).state.path == Path("/srv/state/anaplan-exporter/state.json")
    assert with_shard(sharded, 2, 3).state.default
    # A path the user chose is theirs: --shard leaves it alone.
    minimal["state"] = {"path": "/var/lib/x/state.json"}
    chosen = _load(tmp_path, minimal, env)
    assert with_shard(chosen, 2, 3).state == StateConfig(Path("/var/lib/x/state.json"), 5.0)
    assert (with_shard(chosen, 2, 3).shard, with_shard(chosen, 2, 3).shard_total) == (2, 3)


def _load(folder: Path, data: dict[str, object], env: dict[str, str]) -> Config:
    file = folder / "config.yml"
    file.write_text(yaml.safe_dump(data))
    return load_config(file, env)


def test_path_is_relative_to_the_config_folder_and_save_interval_a_duration(
    load: Callable[[dict[str, object]], Config], minimal: dict[str, object], tmp_path: Path
) -> None:
    minimal["state"] = {"path": "data/state.json", "save_interval": "30s"}
    assert load(minimal).state == StateConfig(tmp_path / "data" / "state.json", 30.0)


def test_the_environment_gives_the_path_and_an_empty_path_keeps_the_state_in_memory(
    tmp_path: Path, minimal: dict[str, object]
) -> None:
    env = {
        "ANAPLAN_PASSWORD": PASSWORD,
        STATE_PATH_ENV: "/var/lib/anaplan-exporter/state.json",
        "XDG_STATE_HOME": "/srv/state",
        "HOME": "/home/monitor",
    }
    # As in the image: the variable is a chosen path (not a default): exactly it, whatever the shard.
    minimal["sharding"] = {"shard": 1, "total": 2}
    assert _load(tmp_path, minimal, env).state == StateConfig(Path("/var/lib/anaplan-exporter/state.json"))
    # The opt-out: "" (or blanks), whatever the environment says.
    for empty in ("", "  "):
        minimal["state"] = {"path": empty}
        assert _load(tmp_path, minimal, env).state == StateConfig(None, 5.0, default=False)
    minimal["state"] = {"path": "/elsewhere/state.json"}
    assert _load(tmp_path, minimal, env).state == StateConfig(Path("/elsewhere/state.json"))


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


def test_the_exporter_creates_the_default_state_folder_or_goes_on_in_memory_when_it_cannot(
    tmp_path: Path, minimal: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    exporter = Exporter(_load(tmp_path, minimal, {"ANAPLAN_PASSWORD": PASSWORD, "HOME": str(home)}))
    exporter.stop()
    assert exporter.state.path == home / ".local" / "state" / "anaplan-exporter" / "state.json"
    assert exporter.state.path.parent.is_dir()

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the state folder would go")
    with caplog.at_level(logging.WARNING):
        exporter = Exporter(
            _load(tmp_path, minimal, {"ANAPLAN_PASSWORD": PASSWORD, "XDG_STATE_HOME": str(blocked)})
        )
    exporter.stop()
    assert exporter.state.path is None
    (line,) = [r.getMessage() for r in caplog.records if "state" in r.getMessage()]
    assert line.startswith(f"{blocked / 'anaplan-exporter' / 'state.json'}: cannot write the state file: ")
    assert "kept in memory only" in line

    minimal["state"] = {"path": str(blocked / "state.json")}  # chosen: refused at start, as before
    with pytest.raises(StateFileError, match="cannot write the state file"):
        Exporter(_load(tmp_path, minimal, {"ANAPLAN_PASSWORD": PASSWORD}))
