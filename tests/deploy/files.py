"""The deployment files of the repository and small readers for them (Dockerfile, .dockerignore, YAML)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_DIR = REPO / "deploy" / "compose"
KUBERNETES = REPO / "deploy" / "kubernetes"
RULES = REPO / "config" / "prometheus" / "anaplan-rules.yml"
ALERTMANAGER_CONFIG = REPO / "config" / "alertmanager" / "alertmanager.yml"
OPERATIONS_DOC = REPO / "docs" / "operations.md"
# The config path the image's default command reads, as documented.
IMAGE_CONFIG_PATH = "/etc/anaplan-exporter/anaplan-exporter.yml"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_all_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def venv_tool(name: str) -> Path:
    """A console script installed next to the running interpreter (the test extras' binaries)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(
            f"{name} not found next to {sys.executable}; run: pip install -e '.[test]'", pytrace=False
        )
    return path


def system_tool(name: str) -> Path:
    """A tool from PATH; skipped when missing, but required under CI."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is required under CI but is not on PATH", pytrace=False)
        pytest.skip(f"{name} is not on PATH")
    return Path(found)


# --- Dockerfile ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD, ENTRYPOINT ...), None for the shell form."""
        text = self.value
        if self.keyword == "HEALTHCHECK":
            text = text.split(" CMD ", 1)[1] if " CMD " in f" {text}" else ""
        text = text.strip()
        if not text.startswith("["):
            return None
        parsed = json.loads(text)
        assert isinstance(parsed, list) and all(isinstance(item, str) for item in parsed), self
        return parsed


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"stage {self.name or self.base} has no {keyword}"
        return found[-1]


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, value = " ".join(part for part in pending if part).partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip(), start))
        pending = []
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def dockerfile_stages(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the build stages, with ``${ARG}`` in FROM resolved."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    base, name = "", None
    for instruction in dockerfile_instructions(text):
        if instruction.keyword == "FROM":
            if current is not None:
                stages.append(Stage(base, name, tuple(current)))
            words = instruction.value.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            current = []
        elif current is None:
            assert instruction.keyword == "ARG", f"line {instruction.line}: only ARG may precede FROM"
            key, _, default = instruction.value.partition("=")
            args[key] = default
        else:
            current.append(instruction)
    assert current is not None, "Dockerfile has no FROM"
    stages.append(Stage(base, name, tuple(current)))
    return args, stages


# --- .dockerignore ------------------------------------------------------------------------------------------


def dockerignore_patterns(text: str) -> list[tuple[bool, str]]:
    """(negated, pattern) pairs in file order."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        patterns.append((negated, pattern))
    return patterns


def _matches(pattern: str, path: str) -> bool:
    """Docker's matching: a pattern matches a path or any of its parent folders; ``**`` spans folders."""
    regex = "^" + re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]") + "(/.*)?$"
    return re.match(regex, path) is not None


def is_ignored(path: str, patterns: list[tuple[bool, str]]) -> bool:
    """Whether ``path`` (relative, '/'-separated) is left out of the build context; the last match wins."""
    ignored = False
    for negated, pattern in patterns:
        if _matches(pattern, path):
            ignored = not negated
    return ignored


def build_context(root: Path, patterns: list[tuple[bool, str]]) -> Iterator[str]:
    """Relative paths of the files ``docker build root`` would send."""
    for folder, dirs, files in os.walk(root):
        relative_folder = Path(folder).relative_to(root)
        dirs[:] = [d for d in dirs if d not in (".git", ".venv")]  # never wanted, and large to walk
        for name in files:
            relative = (relative_folder / name).as_posix()
            if not is_ignored(relative, patterns):
                yield relative
