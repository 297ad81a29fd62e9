"""Parsing with bounded nesting: JSON and YAML documents deeper than ``MAX_DEPTH`` are refused up front.

Python's parsers and everything that walks their result recurse once (or more) per level, so a few hundred
bytes of ``[[[[...]]]]`` would otherwise end in a ``RecursionError`` far from the input that caused it. The
depth is checked before (JSON) or while (YAML) parsing, so no deep recursion happens at all, and every way a
single document can fail to parse is a ``ValueError`` with a one-line reason.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import yaml

MAX_DEPTH = 64
"""Deepest nesting accepted: far beyond any configuration, state file or Anaplan answer (about 10 levels)."""


class NestingError(ValueError):
    """A document nested deeper than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested deeper than {limit} levels")


_NOT_BRACKET = re.compile(r'[^"\[\]{}]+|"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""Everything but the brackets: runs of other characters, and whole strings (brackets in them included)."""
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count).

    Meant as a cheap check before parsing: for text that is not valid JSON the figure is a guess, which
    the parser then refuses anyway.
    """
    if text.count("[") + text.count("{") == 0:
        return 0
    brackets = _NOT_BRACKET.sub("", text).replace('"', "")  # an unterminated string's quote is left
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads_json(data: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` refusing documents nested deeper than ``max_depth`` before parsing them.

    Raises ValueError (``json.JSONDecodeError``, ``UnicodeDecodeError`` or :class:`NestingError`) for any
    document that cannot be read, never ``RecursionError`` or ``MemoryError``.
    """
    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass") if isinstance(data, bytes) else data
        if json_depth(text) > max_depth:
            raise NestingError(max_depth)
        return json.loads(text)
    except (RecursionError, MemoryError) as exc:  # not expected below the limit: still one input's fault
        raise ValueError(f"cannot be parsed ({type(exc).__name__})") from None


class DepthLimitedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses collections nested deeper than ``max_depth``, aliases included.

    The composer is the only recursive part of the parsing (and the constructor follows the composed tree),
    so the depth is counted there, with each anchored collection's height remembered so that an alias
    cannot build depth without nesting in the text. An alias inside its own anchor (a value containing
    itself) is refused as well: nothing could walk it.
    """

    max_depth = MAX_DEPTH

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        self._depth = 0
        self._heights: dict[int, int] = {}
        """Height of each composed collection node, by id (the nodes live as long as the document)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            target = self.anchors.get(event.anchor)
            if target is not None and not isinstance(target, yaml.ScalarNode):
                height = self._heights.get(id(target))
                if height is None:
                    raise yaml.composer.ComposerError(
                        None, None, f"alias *{event.anchor} inside its own anchor", event.start_mark
                    )
                if self._depth + height > self.max_depth:
                    raise yaml.composer.ComposerError(
                        None, None, str(NestingError(self.max_depth)), event.start_mark
                    )
            return super().compose_node(parent, index)
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        start = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > self.max_depth:
            raise yaml.composer.ComposerError(None, None, str(NestingError(self.max_depth)), start)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            self._heights[id(node)] = 1 + max((self._height(child) for child in node.value), default=0)
        elif isinstance(node, yaml.MappingNode):
            self._heights[id(node)] = 1 + max(
                (max(self._height(key), self._height(value)) for key, value in node.value), default=0
            )
        return node

    def _height(self, node: yaml.Node) -> int:
        return self._heights.get(id(node), 0)
