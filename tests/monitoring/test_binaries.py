"""Where the Prometheus tools come from, and what happens when they cannot be had."""

from __future__ import annotations

import subprocess

import pytest

from support import binaries


def test_unknown_binaries_are_refused() -> None:
    with pytest.raises(binaries.BinaryUnavailable, match="unknown binary 'grafana'"):
        binaries.locate_binary("grafana")


@pytest.mark.parametrize("name", sorted(binaries.PACKAGES))
def test_each_binary_is_found_and_runs(name: str) -> None:
    path = binaries.find_binary(name)
    done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "version" in (done.stdout + done.stderr).lower()


def _unavailable(name: str) -> None:
    raise binaries.BinaryUnavailable("no network")


def test_missing_binary_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(binaries, "locate_binary", _unavailable)
    with pytest.raises(pytest.skip.Exception, match="promtool not available: no network"):
        binaries.find_binary("promtool")


def test_missing_binary_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr(binaries, "locate_binary", _unavailable)
    with pytest.raises(pytest.fail.Exception, match="promtool is required under CI: no network"):
        binaries.find_binary("promtool")
