"""Shared pytest configuration. Area-specific fixtures live in each area's own conftest.py.

The suite runs on several xdist workers (``--dist loadgroup``, see pyproject.toml). Each test module is one
group, run by one worker, so that its module-scoped servers start once; the modules in ``SPREAD`` start
their own processes in every test and spread over the workers instead. Modules in ``LONGEST_FIRST``
(measured with ``--durations``) are handed out first, so that their waits overlap the rest of the suite
rather than trail behind it: add a module there when it takes more than about ten seconds. The modules in
``QUIET_LAST`` are handed out last, when the other workers are finishing, because they measure timing that a
busy machine disturbs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

TESTS = Path(__file__).parent

# Under CI the property tests draw the same examples at every run (seeded from each test), so that a main that
# passed passes again; elsewhere they draw new ones each time, which is how they find new failures.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# Let tests import the shared helpers as ``support.*`` without packaging the tests folder.
sys.path.insert(0, str(TESTS))

from support.binaries import PACKAGES, BinaryUnavailable, locate_binary  # noqa: E402

LONGEST_FIRST = (
    "monitoring/test_cloudworks_e2e.py",
    "monitoring/test_e2e_prometheus.py",
    "monitoring/test_restart_e2e.py",
    "e2e/test_default_state_e2e.py",
    "e2e/test_exporter_e2e.py",
    "e2e/test_state_e2e.py",
    "e2e/test_slow_run_e2e.py",
    "e2e/test_hostile_e2e.py",
    "e2e/test_auth_backoff_e2e.py",
    "monitoring/test_rules.py",
    "e2e/test_auth_flood_e2e.py",
    "e2e/test_timestamps_e2e.py",
    "e2e/test_nesting_e2e.py",
    "e2e/test_state_path_e2e.py",
    "e2e/test_rhythm_e2e.py",
    "e2e/test_cloudworks_shards_e2e.py",
    "e2e/test_not_found_e2e.py",
    "e2e/test_status_page_e2e.py",
    "e2e/test_status_page_cloudworks_e2e.py",
    "e2e/test_cli_e2e.py",
    "anaplan/over_http/test_limiter.py",
)
"""Test modules by duration, longest first."""

QUIET_LAST = ("soak/test_soak.py",)
"""The soak checks that Anaplan never sees more than 10 requests in any second at a limit of 10, which holds
for requests that reach the simulator up to 100 ms late (see anaplan/limiter.py); on a saturated CPU they can
arrive later."""

SPREAD = frozenset({"e2e/test_hostile_e2e.py", "e2e/test_exporter_e2e.py", "e2e/test_state_e2e.py"})
"""Modules whose tests are long and independent: each test may run on any worker."""


def _module(item: pytest.Item) -> str:
    return item.path.relative_to(TESTS).as_posix()


def _group(module: str) -> str:
    """The xdist group of a module's tests: its path without ``.py`` (xdist appends it to test IDs)."""
    return module.removesuffix(".py")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = _module(item)
        if module not in SPREAD and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(_group(module)))
    rank = {module: index for index, module in enumerate(LONGEST_FIRST)}
    rank.update({module: len(rank) + 1 + index for index, module in enumerate(QUIET_LAST)})
    items.sort(key=lambda item: rank.get(_module(item), len(LONGEST_FIRST)))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI, fetch the Prometheus tools once before the workers start (before xdist's own hook).

    On a fresh machine the download can outlast a test's timeout; under CI the tools are required anyway.
    Elsewhere the first test that needs one fetches it. A failure here is left to the tests to report.
    """
    if os.environ.get("CI") and not hasattr(session.config, "workerinput"):
        for name in PACKAGES:
            with contextlib.suppress(BinaryUnavailable):
                locate_binary(name)


def _own_state_home(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Without ``state:`` an exporter keeps its state under $XDG_STATE_HOME: point it at ``folder``, so that
    no test writes to the real home, and no exporter restores what an earlier one (watching a simulator with
    the same IDs) saved."""
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    monkeypatch.delenv("ANAPLAN_EXPORTER_STATE_PATH", raising=False)


@pytest.fixture(scope="module", autouse=True)
def _module_state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For exporters a module-scoped fixture starts (autouse fixtures come first within their scope)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _own_state_home(monkeypatch, tmp_path_factory.mktemp("state-home"))
        yield


@pytest.fixture(autouse=True)
def _test_state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """For exporters a test starts."""
    _own_state_home(monkeypatch, tmp_path_factory.mktemp("state-home"))
