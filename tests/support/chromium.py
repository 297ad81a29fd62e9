"""Headless Chromium for the tests that look at a page the way a person does (rendered DOM, screenshot).

A ``chromium`` on PATH wins. Otherwise Debian's ``chromium`` package is installed with apt-get when running as
root (unlike Prometheus, unpacking the .deb is not enough: the browser needs a few dozen shared libraries
from other packages). An exclusive file lock serialises parallel test processes. Without the browser the test
is skipped, or fails when ``CI`` is set, as for the Prometheus tools in ``binaries.py``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from .binaries import CACHE, BinaryUnavailable

NAMES = ("chromium", "chromium-browser")
PACKAGE = "chromium"
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 90
FLAGS = (
    "--headless",
    "--no-sandbox",  # the tests run as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> Path:
    """Path of Chromium; ``pytest.skip`` (or ``pytest.fail`` under CI) when it cannot be had."""
    try:
        return locate_chromium()
    except BinaryUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"chromium is required under CI: {exc}", pytrace=False)
        pytest.skip(f"chromium not available: {exc}")


def locate_chromium() -> Path:
    """PATH first, then ``apt-get install chromium`` (root only); raises BinaryUnavailable."""
    found = _on_path()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise BinaryUnavailable("not on PATH; install Debian's chromium package (apt-get install chromium)")
    if shutil.which("apt-get") is None:
        raise BinaryUnavailable("not on PATH and apt-get is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _on_path()  # another process may have installed it while we waited
        if found is None:
            _install()
            found = _on_path()
    if found is None:
        raise BinaryUnavailable(f"apt-get installed {PACKAGE} but none of {', '.join(NAMES)} is on PATH")
    return found


def _on_path() -> Path | None:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return Path(path)
    return None


def _install() -> None:
    install = [
        "apt-get",
        "-o",
        "DPkg::Lock::Timeout=300",
        "install",
        "-y",
        "--no-install-recommends",
        PACKAGE,
    ]
    try:
        _apt(install)
    except BinaryUnavailable:
        # A fresh container often has empty package lists; refresh them once and try again.
        _apt(["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"])
        _apt(install)


def _apt(command: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False, env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise BinaryUnavailable(f"{' '.join(command)} timed out") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BinaryUnavailable(f"{' '.join(command)} failed (rc {done.returncode}): {last}")


def _run(chromium: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [str(chromium), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(f"chromium failed (rc {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done


def dump_dom(chromium: Path, url: str) -> str:
    """The DOM of ``url`` after the page has loaded, serialised as HTML (``--dump-dom``)."""
    return _run(chromium, "--dump-dom", url).stdout


def screenshot(chromium: Path, url: str, path: Path, width: int = 1400, height: int = 1000) -> Path:
    """A PNG of ``url`` at ``width`` x ``height`` written to ``path``."""
    _run(chromium, f"--screenshot={path}", f"--window-size={width},{height}", url)
    if not path.exists() or path.stat().st_size == 0:
        raise AssertionError(f"chromium wrote no screenshot to {path}")
    return path
