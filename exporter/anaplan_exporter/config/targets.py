"""The ``targets:`` section of the configuration: which models to watch and which of their objects.

A target names a workspace and a model and selects, per kind of object, all of them (``"*"``) and/or listed
ones by ID or name, each optionally with its own ``expected_every`` and ``max_duration``; a target's policy
is merged with the ``defaults:`` section here. Duplicates and IDs of the wrong kind are rejected with a
ConfigError naming the key path.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass

from ..anaplan.models import ObjectType
from .source import Context, Section, YamlInt, describe


@dataclass(frozen=True)
class DurationPolicy:
    """How often an object is expected to run and how long a run may take (seconds; None: not checked)."""

    expected_every: float | None = None
    max_duration: float | None = None


@dataclass(frozen=True)
class ObjectSelector:
    """One configured object: its ID or name (resolved ID first, then name) and its own policy, if any."""

    ref: str
    expected_every: float | None = None
    max_duration: float | None = None


@dataclass(frozen=True)
class ObjectSelection:
    """The objects of one kind to watch: ``all`` of them (``"*"``) and/or the listed ones."""

    all: bool = False
    items: tuple[ObjectSelector, ...] = ()


@dataclass(frozen=True)
class TargetConfig:
    """A model to watch; ``expected_every`` and ``max_duration`` are already merged with the defaults."""

    workspace: str
    model: str
    selections: Mapping[ObjectType, ObjectSelection]
    expected_every: float | None = None
    max_duration: float | None = None

    def policy(self, selector: ObjectSelector | None = None) -> DurationPolicy:
        """The policy of an object: its own values where set, else the target's."""
        if selector is None:
            return DurationPolicy(self.expected_every, self.max_duration)
        return DurationPolicy(
            selector.expected_every if selector.expected_every is not None else self.expected_every,
            selector.max_duration if selector.max_duration is not None else self.max_duration,
        )


_KINDS = {kind.collection: kind for kind in ObjectType}
_TARGET_KEYS = ("workspace", "model", *_KINDS, "expected_every", "max_duration")
_OBJECT_ID = re.compile(r"\d{12}")


def parse_policy(section: Section, inherited: DurationPolicy) -> DurationPolicy:
    """``expected_every`` and ``max_duration`` of ``section``; where not set, those of ``inherited``."""
    return DurationPolicy(
        section.duration("expected_every", inherited.expected_every),
        section.duration("max_duration", inherited.max_duration),
    )


def parse_targets(top: Section, defaults: DurationPolicy) -> tuple[TargetConfig, ...]:
    """``targets``: one or more models, each selecting objects and merging its policy with ``defaults``."""
    entries = top.items("targets")
    if not entries:
        raise top.ctx.error("targets", "at least one target is required")
    targets: list[TargetConfig] = []
    seen: dict[tuple[str, str], str] = {}
    for path, data in entries:
        section = Section(top.ctx, data, path, _TARGET_KEYS)
        workspace = section.required_string("workspace")
        model = section.required_string("model")
        if (workspace, model) in seen:
            raise top.ctx.error(path, f"same workspace and model as {seen[workspace, model]}; merge them")
        seen[workspace, model] = path
        policy = parse_policy(section, defaults)
        selections = types.MappingProxyType({kind: _selection(section, kind) for kind in ObjectType})
        if not any(selection.all or selection.items for selection in selections.values()):
            raise top.ctx.error(path, f"selects no objects (set one of {', '.join(_KINDS)})")
        targets.append(TargetConfig(workspace, model, selections, policy.expected_every, policy.max_duration))
    return tuple(targets)


def _selection(target: Section, kind: ObjectType) -> ObjectSelection:
    key = kind.collection
    raw = target.raw(key)
    if raw == "*":
        return ObjectSelection(all=True)
    if isinstance(raw, str):
        raise target.ctx.error(target.at(key), f'expected a list or "*", got {describe(raw)}')
    select_all = False
    items: list[ObjectSelector] = []
    seen: dict[str, str] = {}
    for path, entry in target.items(key):
        entry = target.ctx.expand(entry, path)
        if entry == "*":
            select_all = True
            continue
        selector = _selector(target.ctx, path, entry, kind)
        folded = selector.ref.casefold()
        if folded in seen:
            raise target.ctx.error(path, f"{selector.ref!r} is already listed at {seen[folded]}")
        seen[folded] = path
        items.append(selector)
    return ObjectSelection(all=select_all, items=tuple(items))


def _selector(ctx: Context, path: str, entry: object, kind: ObjectType) -> ObjectSelector:
    if isinstance(entry, Mapping):
        section = Section(ctx, entry, path, ("id", "name", "expected_every", "max_duration"))
        if ("id" in section) == ("name" in section):
            raise ctx.error(path, "set exactly one of id or name")
        ref_key = "id" if "id" in section else "name"
        ref = section.required_string(ref_key)
        policy = parse_policy(section, DurationPolicy())
        selector = ObjectSelector(ref.strip(), policy.expected_every, policy.max_duration)
    elif isinstance(entry, YamlInt):
        selector = ObjectSelector(entry.text)
    elif isinstance(entry, int) and not isinstance(entry, bool):
        selector = ObjectSelector(str(entry))
    elif isinstance(entry, str) and entry.strip():
        selector = ObjectSelector(entry.strip())
    else:
        raise ctx.error(path, f"expected an object ID, a name or a mapping, got {describe(entry)}")
    if _OBJECT_ID.fullmatch(selector.ref):
        actual = ObjectType.from_id(selector.ref)
        if actual is not None and actual is not kind:
            raise ctx.error(
                path,
                f"{selector.ref} is the ID of {_a(actual.value)} (prefix {actual.id_prefix}), "
                f"not of {_a(kind.value)}",
            )
    return selector


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
