"""Fixtures for configuration tests: the minimal documented file, and loaders that write a file first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from anaplan_exporter.config.file import Config, load_config
from anaplan_exporter.config.source import ConfigError

MINIMAL = """\
anaplan:
  api_url: https://api.anaplan.com/2/0
  auth_url: https://auth.anaplan.com
  auth:
    method: basic            # basic | certificate | oauth | token
    username: svc-monitor@example.com
    password: ${ANAPLAN_PASSWORD}    # or password_file: /run/secrets/anaplan-password
targets:
  - workspace: 8a8b8c8d8e8f8g8i
    model: 75A40874E6B64FA3AE0743278996850F
    processes: ["118000000002"]
    actions: ["117000000019"]
    imports: "*"
    exports: []
"""

PASSWORD = "hunter2-Secret!"


@pytest.fixture
def env() -> dict[str, str]:
    return {"ANAPLAN_PASSWORD": PASSWORD}


@pytest.fixture
def minimal() -> dict[str, object]:
    """The minimal file as data, to be changed by a test before it is written."""
    data = yaml.safe_load(MINIMAL)
    assert isinstance(data, dict)
    return data


def _write(folder: Path, content: str | dict[str, object]) -> Path:
    path = folder / "config.yml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content), encoding="utf-8")
    return path


@pytest.fixture
def load(tmp_path: Path, env: dict[str, str]) -> Callable[[str | dict[str, object]], Config]:
    """Write YAML text (or data) to ``config.yml`` in a temporary folder and load it."""
    return lambda content: load_config(_write(tmp_path, content), env)


@pytest.fixture
def fail(tmp_path: Path, env: dict[str, str]) -> Callable[[str | dict[str, object]], str]:
    """Like ``load`` but expects a ConfigError; returns its message without the leading file name."""

    def _fail(content: str | dict[str, object]) -> str:
        path = _write(tmp_path, content)
        with pytest.raises(ConfigError) as caught:
            load_config(path, env)
        message = str(caught.value)
        assert "\n" not in message and "\r" not in message
        assert PASSWORD not in message
        assert message.startswith(f"{path}: ")
        return message.removeprefix(f"{path}: ")

    return _fail
