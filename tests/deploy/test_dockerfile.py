"""The container image, checked without a Docker daemon: hadolint, stages, build context, commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

from anaplan_exporter.cli import build_parser
from anaplan_exporter.config.web import DEFAULT_PORT
from anaplan_exporter.serving.web import HEALTHY_PATH
from support.net import free_port, wait_http

from .files import (
    DOCKERFILE,
    DOCKERIGNORE,
    IMAGE_CONFIG_PATH,
    REPO,
    Stage,
    build_context,
    dockerfile_stages,
    dockerignore_patterns,
    is_ignored,
    venv_tool,
)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))[1]


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_hadolint_passes() -> None:
    done = subprocess.run(
        [str(venv_tool("hadolint")), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, f"hadolint found problems:\n{done.stdout}{done.stderr}"


def test_multi_stage_build_on_python_slim(stages: list[Stage], runtime: Stage) -> None:
    assert len(stages) >= 2
    builder = stages[0]
    assert builder.name == "builder"
    assert builder.base == "python:3.11-slim"
    assert runtime.base == "python:3.11-slim"
    # The runtime stage takes the built virtualenv and installs nothing itself.
    copies = [c.value for c in runtime.all("COPY")]
    assert any(c.startswith("--from=builder ") for c in copies), copies
    assert not any("pip install" in r.value for r in runtime.all("RUN"))
    assert any("pip install" in r.value for r in builder.all("RUN"))


def test_runs_as_a_numeric_unprivileged_user(runtime: Stage) -> None:
    user = runtime.last("USER").value
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0, f"USER {user!r} must be a numeric, non-root uid"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    created = " ".join(r.value for r in runtime.all("RUN"))
    assert f"--uid {uid}" in created, "the USER's uid should exist in the image (useradd --uid)"


def test_exposes_the_exporter_port(runtime: Stage) -> None:
    assert runtime.last("EXPOSE").value.split() == [str(DEFAULT_PORT)]


def test_entrypoint_is_the_console_script(runtime: Stage) -> None:
    assert runtime.last("ENTRYPOINT").exec_form() == ["anaplan-exporter"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["anaplan-exporter"] == "anaplan_exporter.cli:main"


def test_default_command_reads_the_documented_config(runtime: Stage) -> None:
    command = runtime.last("CMD").exec_form()
    assert command is not None, "CMD must be in exec form"
    args = build_parser().parse_args(command)
    assert args.config == Path(IMAGE_CONFIG_PATH)


def test_documented_demo_invocation_parses_as_demo_mode() -> None:
    args = build_parser().parse_args(["--web.listen-address", f":{DEFAULT_PORT}"])
    assert args.config is None  # no --config: demo mode
    assert args.listen_address == f":{DEFAULT_PORT}"


def _healthcheck_code(runtime: Stage) -> str:
    command = runtime.last("HEALTHCHECK").exec_form()
    assert command is not None and command[:2] == ["python", "-c"], command
    return command[2]


def test_healthcheck_default_url_is_the_health_endpoint(runtime: Stage) -> None:
    urls = re.findall(r"https?://[^'\"]+", _healthcheck_code(runtime))
    assert urls == [f"http://127.0.0.1:{DEFAULT_PORT}{HEALTHY_PATH}"]


@pytest.fixture(scope="module")
def demo_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The exporter in demo mode, as the image runs it without a config, on a free loopback port."""
    port = free_port()
    log = tmp_path_factory.mktemp("demo") / "exporter.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "anaplan_exporter", "--web.listen-address", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(url + HEALTHY_PATH, timeout=30)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-2000:]}") from None
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _run_healthcheck(code: str, url: str) -> int:
    env = {**os.environ, "HEALTHCHECK_URL": url}
    return subprocess.run([sys.executable, "-c", code], env=env, timeout=30, check=False).returncode


def test_healthcheck_passes_on_a_running_exporter(runtime: Stage, demo_exporter: str) -> None:
    assert _run_healthcheck(_healthcheck_code(runtime), demo_exporter + HEALTHY_PATH) == 0


def test_healthcheck_fails_when_nothing_answers(runtime: Stage) -> None:
    url = f"http://127.0.0.1:{free_port()}{HEALTHY_PATH}"
    assert _run_healthcheck(_healthcheck_code(runtime), url) != 0


def test_healthcheck_fails_on_an_error_status(runtime: Stage, demo_exporter: str) -> None:
    assert _run_healthcheck(_healthcheck_code(runtime), demo_exporter + "/no-such-path") != 0


def test_build_context_holds_the_package_and_nothing_else() -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8"))
    context = set(build_context(REPO, patterns))
    packages = (REPO / "exporter" / "anaplan_exporter", REPO / "exporter" / "anaplan_simulator")
    # What the package build reads; the package's serving/runbook.md is a link to docs/runbook.md.
    top_level = ("pyproject.toml", "README.md", "LICENSE", "docs/runbook.md")
    needed = set(top_level) | {
        p.relative_to(REPO).as_posix()
        for package in packages
        for p in package.rglob("*")
        if p.is_file() and p.suffix in (".py", ".yml", ".typed", ".md")
    }
    assert needed <= context, f"missing from the build context: {sorted(needed - context)[:10]}"
    assert "exporter/anaplan_simulator/default-scenario.yml" in context  # demo mode needs it
    unwanted = [p for p in context if not (p.startswith("exporter/") or p in top_level)]
    assert not unwanted, f"sent to the build needlessly: {sorted(unwanted)[:10]}"
    for path in (".git/HEAD", ".venv/bin/python", "tests/conftest.py", "exporter/x/__pycache__/a.pyc"):
        assert is_ignored(path, patterns), path


def test_copied_sources_exist_and_are_in_the_context(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns(DOCKERIGNORE.read_text(encoding="utf-8"))
    for stage in stages:
        for copy in stage.all("COPY"):
            words = [w for w in copy.value.split() if not w.startswith("--")]
            if copy.value.startswith("--from="):
                continue
            for source in words[:-1]:
                assert (REPO / source).exists(), f"Dockerfile line {copy.line}: {source} does not exist"
                assert not is_ignored(source.rstrip("/"), patterns), f"{source} is excluded by .dockerignore"
