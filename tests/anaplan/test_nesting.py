"""Bounded nesting: deep JSON and YAML are refused with a one-line ValueError, never a RecursionError."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

from anaplan_exporter.anaplan.nesting import (
    MAX_DEPTH,
    DepthLimitedLoader,
    NestingError,
    json_depth,
    loads_json,
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("", 0),
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}], "c": {}}', 4),
        ('{"a": "[[[[{{{{", "b": ["]]]]"]}', 2),  # brackets inside strings do not count
        ('["quote \\" [[[", ["back\\\\"], "{"]', 2),  # nor do escaped quotes end a string
    ],
)
def test_json_depth_counts_arrays_and_objects_outside_strings(text: str, depth: int) -> None:
    assert json_depth(text) == depth
    if text:
        json.loads(text)  # each case is valid JSON


def test_json_within_the_limit_loads_as_json_loads_does() -> None:
    text = _nested(MAX_DEPTH)
    assert loads_json(text) == json.loads(text)
    assert loads_json(text.encode("utf-16")) == json.loads(text)  # bytes in any encoding json accepts
    assert loads_json(b'{"a": [1, "x"]}') == {"a": [1, "x"]}


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 100_000])
def test_deeper_json_is_refused_before_parsing(depth: int) -> None:
    with pytest.raises(NestingError, match=f"nested deeper than {MAX_DEPTH} levels"):
        loads_json(_nested(depth).encode())
    with pytest.raises(NestingError):
        loads_json('{"a": ' * depth + "1" + "}" * depth)


def test_a_parser_recursion_error_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(text: str) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(json, "loads", exhausted)
    with pytest.raises(ValueError, match=r"cannot be parsed \(RecursionError\)"):
        loads_json(b"[1]")


def _load(text: str) -> object:
    return yaml.load(text, Loader=DepthLimitedLoader)  # a SafeLoader


def test_yaml_within_the_limit_loads_as_safe_load_does() -> None:
    text = "a: &x [1, {b: [2]}]\nc: *x\nd: &s 3\ne: *s\nf: {<<: {k: 1}}\ng: " + _nested(MAX_DEPTH - 1)
    assert _load(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("targets: " + _nested(250), "line 1, column 73"),  # flow style: the 64th bracket, in a mapping
        ("".join(f"{'  ' * level}-\n" for level in range(100)), "line 65, column 129"),  # block style
    ],
)
def test_deeper_yaml_is_refused_where_the_limit_is_crossed(text: str, where: str) -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        _load(text)
    message = " ".join(str(caught.value).split())
    assert f"nested deeper than {MAX_DEPTH} levels" in message
    assert where in message


def test_aliases_cannot_build_depth_without_nesting_in_the_text() -> None:
    lines = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 100)]
    assert _load("\n".join(lines[: MAX_DEPTH - 1])) is not None  # a62 and the mapping: 64 deep
    with pytest.raises(yaml.YAMLError, match=f"nested deeper than {MAX_DEPTH} levels"):
        _load("\n".join(lines))


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(yaml.YAMLError, match=r"alias \*x inside its own anchor"):
        _load("a: &x [1, *x]")


def test_no_deep_recursion_happens_at_all() -> None:
    # With 300 frames to spare, an unbounded parse of these would raise RecursionError.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(_stack_depth() + 300)
    try:
        with pytest.raises(NestingError):
            loads_json(_nested(5_000))
        with pytest.raises(yaml.YAMLError, match="nested deeper"):
            _load("a: " + _nested(5_000))
        with pytest.raises(yaml.YAMLError, match="nested deeper"):
            _load("".join(f"{' ' * level}-\n" for level in range(5_000)))
    finally:
        sys.setrecursionlimit(limit)


def _stack_depth() -> int:
    depth, frame = 0, sys._getframe()
    while frame.f_back is not None:
        depth, frame = depth + 1, frame.f_back
    return depth
