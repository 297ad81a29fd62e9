"""Reading raw configuration values: YAML, ``${VAR}`` expansion, ``*_file`` secrets, typed getters.

Every getter knows the key path of the value it reads, so that a fault is reported as one line naming the file
and the key (``config.yml: anaplan.timeouts.read: expected a duration ...``). Values of secret keys are never
repeated in a message.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..anaplan.nesting import DepthLimitedLoader


class ConfigError(Exception):
    """A configuration fault; ``str(error)`` is one line naming the file, the key path and the problem."""

    def __init__(self, source: str, path: str, message: str) -> None:
        text = f"{source}: {path}: {message}" if path else f"{source}: {message}"
        super().__init__(" ".join(text.splitlines()))
        self.source = source
        self.path = path
        self.problem = message


# --- durations ---

_DURATION_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION_RE = re.compile(
    r"(?:(?P<w>\d+(?:\.\d+)?)w)?(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+(?:\.\d+)?)ms)?"
)
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_DURATION_HINT = "expected a duration (seconds, or a string like 90s, 15m, 1h30m, 1d)"


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string such as ``90s``, ``15m``, ``1h30m``, ``1d``, ``500ms``.

    Units, largest first: ``w d h m s ms``; a bare number (also as a string) is seconds. Negative values,
    NaN and infinity are refused. Raises ValueError with a message fit to follow a key path.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{_DURATION_HINT}, got {describe(value)}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
    else:
        text = value.strip()
        if _NUMBER_RE.fullmatch(text):
            seconds = float(text)
        else:
            match = _DURATION_RE.fullmatch(text)
            if not text or match is None:
                raise ValueError(f"{_DURATION_HINT}, got {describe(value)}")
            seconds = sum(
                float(amount) * _DURATION_UNITS[unit] for unit, amount in match.groupdict().items() if amount
            )
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"expected a non-negative finite duration, got {describe(value)}")
    return seconds


# --- YAML ---


class YamlInt(int):
    """An integer scalar that remembers how it was written (IDs such as ``0123`` must not become 83)."""

    text: str

    def __new__(cls, value: int, text: str) -> YamlInt:
        instance = super().__new__(cls, value)
        instance.text = text
        return instance


class _Loader(DepthLimitedLoader):
    """SafeLoader that refuses duplicate keys and deep nesting, and keeps the source text of integers."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """A scalar no Python value can hold (``!!int abc``, month 13, 5000 digits) is a YAML error at its
        line (the value itself is not repeated: it may be a secret)."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError):
            kind = str(node.tag).rsplit(":", 1)[-1]
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value as {kind}", node.start_mark
            ) from None


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[object, object]:
    loader.flatten_mapping(node)
    result: dict[object, object] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool | None):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain scalar", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> YamlInt:
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    return YamlInt(value, str(node.value))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(text: str, source: str) -> object:
    """Parse YAML text; syntax errors become a ConfigError naming the line and column."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except (RecursionError, MemoryError) as exc:  # not expected below the depth limit: still the file's fault
        raise ConfigError(source, "", f"cannot be parsed ({type(exc).__name__})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(source, where, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"YAML syntax error: {exc}") from None


def read_yaml_file(path: Path) -> object:
    """Read and parse a YAML file, reporting an unreadable or empty file as a ConfigError."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read the file: {_os_reason(exc)}") from None
    data = load_yaml(text, source)
    if data is None:
        raise ConfigError(source, "", "the file is empty")
    return data


# --- values ---


def describe(value: object) -> str:
    """A short, single-line rendering of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, YamlInt):
        return value.text if len(value.text) <= 80 else value.text[:77] + "..."
    if isinstance(value, int) and abs(value) >= 10**80:  # no 400-digit numbers in a one-line message
        return f"{'-' if value < 0 else ''}a number of more than 80 digits"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _kind(value: object) -> str:
    """A rendering that reveals nothing of the value: for secret keys."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return describe(value)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


_ENV_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Context:
    """What every reader needs: the file name for messages, its folder for relative paths, the environment."""

    source: str
    base_dir: Path
    environ: Mapping[str, str]

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.source, path, message)

    def expand(self, value: object, path: str) -> object:
        """Expand ``${VAR}`` and ``${VAR:-default}`` in a string (``$${`` is a literal ``${``)."""
        if not isinstance(value, str) or "$" not in value:
            return value

        def substitute(match: re.Match[str]) -> str:
            if match.group(0) == "$${":
                return "${"
            name, default = match.group(1), match.group(2)
            current = self.environ.get(name)
            if default is not None:
                return current if current else default
            if current is None:
                raise self.error(path, f"environment variable {name} is not set")
            return current

        expanded = _ENV_RE.sub(substitute, value)
        if "${" in _ENV_RE.sub("", value):
            raise self.error(path, "malformed ${...} reference (use ${NAME} or ${NAME:-default})")
        return expanded

    def resolve_path(self, value: str) -> Path:
        try:
            path = Path(value).expanduser()
        except RuntimeError:  # ~user of an unknown user: left as written, so reading it names it
            path = Path(value)
        return path if path.is_absolute() else self.base_dir / path

    def read_file(self, path: str, value: str) -> bytes:
        """Read a file named in the configuration; a failure names the key and the file, never its content."""
        file = self.resolve_path(value)
        try:
            return file.read_bytes()
        except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
            raise self.error(path, f"cannot read {file}: {_os_reason(exc)}") from None


_MISSING = object()


def key_path(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


class Section:
    """A mapping of the configuration at a key path, with unknown keys refused (and a suggestion given)."""

    def __init__(self, ctx: Context, data: object, path: str, allowed: Collection[str]) -> None:
        self.ctx = ctx
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ctx.error(path or "(top level)", f"expected a mapping, got {describe(data)}")
        self._data: dict[str, object] = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise ctx.error(path or "(top level)", f"keys must be strings, got {describe(key)}")
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
                hint = (
                    f"; did you mean {close[0]!r}?"
                    if close
                    else f" (known keys: {', '.join(sorted(allowed))})"
                )
                raise ctx.error(key_path(path, key), f"unknown key{hint}")
            self._data[key] = value

    def at(self, key: str) -> str:
        return key_path(self.path, key)

    def __contains__(self, key: str) -> bool:
        return self._data.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def raw(self, key: str) -> object:
        """The value with ``${VAR}`` expanded (strings only), or None when absent."""
        return self.ctx.expand(self._data.get(key), self.at(key))

    def section(self, key: str, allowed: Collection[str]) -> Section:
        return Section(self.ctx, self._data.get(key), self.at(key), allowed)

    def string(self, key: str, default: str | None = None, *, secret: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, YamlInt):
            value = value.text
        if not isinstance(value, str):
            shown = _kind(value) if secret else describe(value)
            raise self.ctx.error(self.at(key), f"expected a string, got {shown}")
        if not value.strip():
            raise self.ctx.error(self.at(key), "must not be empty")
        return value

    def required_string(self, key: str, *, secret: bool = False) -> str:
        value = self.string(key, secret=secret)
        if value is None:
            raise self.ctx.error(self.at(key), "required key is missing")
        return value

    def choice(self, key: str, choices: Collection[str], default: str) -> str:
        value = self.string(key, default)
        assert value is not None
        if value not in choices:
            raise self.ctx.error(
                self.at(key), f"expected one of {', '.join(sorted(choices))}, got {describe(value)}"
            )
        return value

    def integer(self, key: str, default: int, *, minimum: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"-?\d{1,80}", value.strip()):
            number = int(value.strip())
        if number is None:
            raise self.ctx.error(self.at(key), f"expected an integer, got {describe(value)}")
        if number < minimum:
            shown = describe(value) if isinstance(value, int) else number
            raise self.ctx.error(self.at(key), f"must be at least {minimum}, got {shown}")
        return number

    def number(self, key: str, default: float | None, *, positive: bool = True) -> float | None:
        value = self.raw(key)
        if value is None:
            return default
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value) if isinstance(value, float) or abs(value) < 2**1023 else math.inf
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or math.isnan(number) or math.isinf(number):
            raise self.ctx.error(self.at(key), f"expected a number, got {describe(value)}")
        if positive and number <= 0:
            raise self.ctx.error(self.at(key), f"must be greater than 0, got {describe(value)}")
        return number

    def duration(
        self, key: str, default: float | None, *, minimum: float = 0.0, strict: bool = True
    ) -> float | None:
        """A duration in seconds; ``strict`` refuses values not above ``minimum`` (else below it)."""
        value = self.raw(key)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.ctx.error(self.at(key), str(exc)) from None
        if strict and seconds <= minimum:
            raise self.ctx.error(self.at(key), f"must be greater than {minimum:g}s, got {describe(value)}")
        if not strict and seconds < minimum:
            raise self.ctx.error(self.at(key), f"must be at least {minimum:g}s, got {describe(value)}")
        return seconds

    def boolean_or_string(self, key: str, default: bool | str) -> bool | str:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, str) and value.strip():
            return value
        raise self.ctx.error(self.at(key), f"expected true, false or a file path, got {describe(value)}")

    def file_path(self, key: str) -> Path | None:
        value = self.string(key)
        return None if value is None else self.ctx.resolve_path(value)

    def readable_file(self, key: str, *, required: bool = False) -> Path | None:
        """A path that must name a readable file now (read once to check it)."""
        value = self.string(key)
        if value is None:
            if required:
                raise self.ctx.error(self.at(key), "required key is missing")
            return None
        self.ctx.read_file(self.at(key), value)
        return self.ctx.resolve_path(value)

    def secret(self, key: str, *, required: bool) -> str | None:
        """A secret given inline (``key``) or in a file (``key_file``, trailing newline stripped)."""
        file_key = f"{key}_file"
        if key in self and file_key in self:
            raise self.ctx.error(self.path, f"set either {key} or {file_key}, not both")
        if file_key in self:
            name = self.string(file_key)
            assert name is not None
            data = self.ctx.read_file(self.at(file_key), name)
            try:
                text = data.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise self.ctx.error(self.at(file_key), f"{name} is not UTF-8 text") from None
            if not text.strip():
                raise self.ctx.error(self.at(file_key), f"{name} is empty")
            return text
        value = self.string(key, secret=True)
        if value is None and required:
            raise self.ctx.error(self.path, f"{key} or {file_key} is required")
        return value

    def items(self, key: str) -> list[tuple[str, object]]:
        """The entries of a list value, each with its key path; an absent key is an empty list."""
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.ctx.error(self.at(key), f"expected a list, got {describe(value)}")
        return [(f"{self.at(key)}[{index}]", item) for index, item in enumerate(value)]
