"""Locating the Prometheus tools the monitoring tests run (promtool, prometheus, amtool, alertmanager).

A binary on PATH wins. Otherwise the Debian package that ships it is fetched with ``apt-get download`` and
unpacked with ``dpkg-deb -x`` into ``<repo>/.cache/debian/<package>/`` (gitignored; no root needed). An
exclusive file lock serialises parallel test processes and each package lands by an atomic rename, so a
reader never sees a half-unpacked tree. Without the binary the test is skipped, or fails when ``CI`` is set.

Debian's Alertmanager reads its default notification templates from a fixed absolute path; for a cached
binary they are copied there (as the package would install them) when running as root.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "debian"

# Debian bookworm: prometheus 2.42 (prometheus, promtool), prometheus-alertmanager 0.25 (+ amtool).
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


# Files a cached binary reads from a fixed absolute path: binary -> folder (relative to /) of the package.
FIXED_DATA = {"prometheus-alertmanager": "usr/share/prometheus/alertmanager"}


class BinaryUnavailable(RuntimeError):
    """The binary is neither on PATH nor obtainable from the Debian archive."""


def find_binary(name: str) -> Path:
    """Path of ``name``; ``pytest.skip`` (or ``pytest.fail`` under CI) when it cannot be had."""
    try:
        return locate_binary(name)
    except BinaryUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required under CI: {exc}", pytrace=False)
        pytest.skip(f"{name} not available: {exc}")


def locate_binary(name: str) -> Path:
    """PATH first, then the package cache (filled on demand); raises BinaryUnavailable."""
    if name not in PACKAGES:
        raise BinaryUnavailable(f"unknown binary {name!r}; known: {', '.join(sorted(PACKAGES))}")
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    package = PACKAGES[name]
    cached = CACHE / package / "usr" / "bin" / name
    if not cached.exists():
        _fill_cache(package)
    if not cached.exists():
        raise BinaryUnavailable(f"package {package} unpacked but has no usr/bin/{name}")
    if name in FIXED_DATA:
        _install_fixed_data(CACHE / package, FIXED_DATA[name])
    return cached


def _install_fixed_data(root: Path, folder: str) -> None:
    source, target = root / folder, Path("/") / folder
    missing = [path for path in sorted(source.glob("*.tmpl")) if not (target / path.name).exists()]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BinaryUnavailable(
            f"{target} lacks {missing[0].name}; install the Debian package or run as root"
        )
    target.mkdir(parents=True, exist_ok=True)
    for path in missing:
        temporary = target / f".{path.name}.{os.getpid()}"
        shutil.copyfile(path, temporary)
        os.replace(temporary, target / path.name)


def _fill_cache(package: str) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        target = CACHE / package
        if target.exists():  # another process finished while we waited for the lock
            return
        with tempfile.TemporaryDirectory(dir=CACHE, prefix=f".{package}-") as scratch:
            deb = _download(package, Path(scratch))
            unpacked = Path(scratch) / "root"
            _run(["dpkg-deb", "-x", str(deb), str(unpacked)], cwd=Path(scratch))
            os.rename(unpacked, target)


def _download(package: str, folder: Path) -> Path:
    try:
        _run(["apt-get", "download", package], cwd=folder)
    except BinaryUnavailable:
        # A fresh container often has empty package lists; refresh them once when allowed to.
        if os.geteuid() != 0:
            raise
        _run(["apt-get", "update"], cwd=folder)
        _run(["apt-get", "download", package], cwd=folder)
    debs = sorted(folder.glob(f"{package}_*.deb"))
    if not debs:
        raise BinaryUnavailable(f"apt-get download {package} produced no .deb in {folder}")
    return debs[-1]


def _run(command: list[str], cwd: Path) -> None:
    if shutil.which(command[0]) is None:
        raise BinaryUnavailable(f"{command[0]} is not installed")
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BinaryUnavailable(f"{' '.join(command)} timed out") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BinaryUnavailable(f"{' '.join(command)} failed (rc {done.returncode}): {last}")
