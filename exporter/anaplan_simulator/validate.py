"""Reading untrusted YAML/JSON mappings with one-line errors that name the key path at fault."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn


class ScenarioError(ValueError):
    """A scenario or fault setting is invalid; the message names the source, key path and value."""


_MISSING: Any = object()


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Node:
    """A mapping at a key path; typed getters raise ScenarioError naming ``source: path.key``."""

    def __init__(self, data: object, path: str, source: str) -> None:
        self.path = path
        self.source = source
        if not isinstance(data, Mapping):
            self.fail(f"must be a mapping, got {_show(data)}")
        self.data: Mapping[str, Any] = data

    def key_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, problem: str, key: str | int | None = None) -> NoReturn:
        where = self.path if key is None else self.key_path(key)
        raise ScenarioError(f"{self.source}: {where or '<top>'}: {problem}")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def only(self, *allowed: str) -> None:
        """Reject keys this mapping does not know, so typos do not pass silently."""
        for key in self.data:
            if key not in allowed:
                self.fail(f"unknown key (expected one of: {', '.join(allowed)})", str(key))

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        if not self.has(key):
            if default is _MISSING:
                self.fail("is required", key)
            return default
        return self.data[key]

    def child(self, key: str) -> Node:
        return Node(self.raw(key), self.key_path(key), self.source)

    def children(self, key: str) -> list[Node]:
        items = self.raw(key, [])
        if not isinstance(items, Sequence) or isinstance(items, str):
            self.fail(f"must be a list, got {_show(items)}", key)
        base = self.key_path(key)
        return [Node(item, f"{base}[{i}]", self.source) for i, item in enumerate(items)]

    def string(self, key: str, default: Any = _MISSING, secret: bool = False) -> str:
        if not self.has(key) and default is not _MISSING:
            return str(default)
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, str | int):
            shown = "a non-string value" if secret else _show(value)
            self.fail(f"must be a string, got {shown}", key)
        text = str(value)
        if not text.strip():
            self.fail("must not be empty", key)
        return text

    def number(
        self, key: str, default: Any = _MISSING, minimum: float = 0.0, positive: bool = False
    ) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.fail(f"must be a number, got {_show(value)}", key)
        if positive and value <= 0:
            self.fail(f"must be greater than 0, got {_show(value)}", key)
        if value < minimum:
            self.fail(f"must be at least {minimum:g}, got {_show(value)}", key)
        return float(value)

    def integer(self, key: str, default: Any = _MISSING, minimum: int = 0) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"must be an integer, got {_show(value)}", key)
        if value < minimum:
            self.fail(f"must be at least {minimum}, got {_show(value)}", key)
        return value

    def rate(self, key: str) -> float:
        value = self.number(key, 0.0)
        if value > 1:
            self.fail(f"must be a probability between 0 and 1, got {_show(self.raw(key))}", key)
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            self.fail(f"must be true or false, got {_show(value)}", key)
        return value

    def choice(self, key: str, choices: Sequence[str], default: Any = _MISSING) -> str:
        value = self.raw(key, default)
        if value not in choices:
            self.fail(f"must be one of {', '.join(choices)}, got {_show(value)}", key)
        return str(value)

    def list_of_str(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self.raw(key, default)
        if isinstance(value, str):
            return [value]
        if not isinstance(value, Sequence):
            self.fail(f"must be a list, got {_show(value)}", key)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"must be a string, got {_show(item)}", f"{key}[{i}]")
        return list(value)

    def list_of_numbers(self, key: str) -> list[float]:
        value = self.raw(key)
        if not isinstance(value, Sequence) or isinstance(value, str):
            self.fail(f"must be a list of numbers, got {_show(value)}", key)
        out: list[float] = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int | float) or item <= 0:
                self.fail(f"must be a number greater than 0, got {_show(item)}", f"{key}[{i}]")
            out.append(float(item))
        return out
