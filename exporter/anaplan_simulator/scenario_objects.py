"""A model's objects: the declared processes, imports, exports and actions (their IDs, a process's steps, an
import's row counts, each one's schedule) and the look-alike ones ``generate`` adds, with free IDs handed
out after every ID the scenario declares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from anaplan_exporter.anaplan.models import ObjectType

from .scenario_schedule import RHYTHM_KEYS, SCHEDULE_KEYS, parse_outcomes, parse_schedule
from .scenario_types import Outcome, RowCounts, Schedule, SimObject, Step
from .validate import Node

KIND_KEYS = {
    "processes": ObjectType.PROCESS,
    "imports": ObjectType.IMPORT,
    "exports": ObjectType.EXPORT,
    "actions": ObjectType.ACTION,
}
_STEP_TYPES = {
    "IMPORT": "112",
    "EXPORT": "116",
    "DELETE_BY_SELECTION": "117",
    "ORDER_HIERARCHY": "117",
    "OPTIMIZER": "117",
}
_COMMON_KEYS = ("id", "name", "code", *SCHEDULE_KEYS, *RHYTHM_KEYS)


def parse_objects(node: Node) -> list[SimObject]:
    """The objects under a model's ``processes``, ``imports``, ``exports``, ``actions`` and ``generate``."""
    numbers = _IdAllocator()
    # IDs first, so that process steps can refer to the model's own imports/exports/actions by ID.
    declared = [(child, kind) for key, kind in KIND_KEYS.items() for child in node.children(key)]
    explicit = {id(child): _object_id(child, kind, numbers) for child, kind in declared if child.has("id")}
    pending = [(child, kind, explicit.get(id(child)) or numbers.next(kind)) for child, kind in declared]
    names = {obj_id: child.string("name") for child, _, obj_id in pending}
    objects = [_object(child, kind, obj_id, names) for child, kind, obj_id in pending]
    if node.has("generate"):
        objects.extend(_generate(node.child("generate"), numbers))
    return objects


class _IdAllocator:
    """Hands out free 12-digit IDs per type prefix, after every ID already taken."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.highest: dict[str, int] = {}

    def claim(self, node: Node, obj_id: str) -> None:
        if obj_id in self.taken:
            node.fail(f"duplicate object id {obj_id!r}", "id")
        self.taken.add(obj_id)
        prefix, number = obj_id[:3], int(obj_id[3:])
        self.highest[prefix] = max(self.highest.get(prefix, 0), number)

    def next(self, kind: ObjectType) -> str:
        number = self.highest.get(kind.id_prefix, 0) + 1
        self.highest[kind.id_prefix] = number
        obj_id = f"{kind.id_prefix}{number:09d}"
        self.taken.add(obj_id)
        return obj_id


def _object_id(node: Node, kind: ObjectType, numbers: _IdAllocator) -> str:
    obj_id = node.string("id")
    if not re.fullmatch(rf"{kind.id_prefix}\d{{9}}", obj_id):
        node.fail(f"a {kind.value} id must be 12 digits starting with {kind.id_prefix}, got {obj_id!r}", "id")
    numbers.claim(node, obj_id)
    return obj_id


def _object(node: Node, kind: ObjectType, obj_id: str, names: Mapping[str, str]) -> SimObject:
    name, code = node.string("name"), node.string("code", "")
    if kind is ObjectType.PROCESS:
        node.only(*_COMMON_KEYS, "steps", "step_durations", "fail_step")
        steps = tuple(_step(child, names) for child in node.children("steps"))
        if not steps:
            node.fail("a process needs at least one step", "steps")
        schedule = parse_schedule(node, kind, steps)
        return SimObject(id=obj_id, name=name, type=kind, code=code, schedule=schedule, steps=steps)
    if kind is ObjectType.IMPORT:
        node.only(*_COMMON_KEYS, "rows", "failure_rows", "import_type", "data_source_id")
        rows = _rows(node.child("rows"), name) if node.has("rows") else RowCounts(name, 100, 100)
        failure_rows = _rows(node.child("failure_rows"), name) if node.has("failure_rows") else None
        return SimObject(
            id=obj_id,
            name=name,
            type=kind,
            code=code,
            schedule=parse_schedule(node, kind, ()),
            rows=rows,
            failure_rows=failure_rows or _default_failure_rows(rows),
            import_type=node.string("import_type", "HIERARCHY_DATA"),
            data_source_id=node.string("data_source_id", "113" + obj_id[3:]),
        )
    if kind is ObjectType.EXPORT:
        node.only(*_COMMON_KEYS, "export_type", "export_format")
        return SimObject(
            id=obj_id,
            name=name,
            type=kind,
            code=code,
            schedule=parse_schedule(node, kind, ()),
            export_type=node.string("export_type", "TABULAR_MULTI_COLUMN"),
            export_format=node.string("export_format", "text/csv"),
        )
    node.only(*_COMMON_KEYS, "action_type")
    return SimObject(
        id=obj_id,
        name=name,
        type=kind,
        code=code,
        schedule=parse_schedule(node, kind, ()),
        action_type=node.string("action_type", "DELETE_BY_SELECTION"),
    )


def _step(node: Node, names: Mapping[str, str]) -> Step:
    node.only("id", "name", "type")
    step_id = node.string("id")
    if not re.fullmatch(r"11[267]\d{9}", step_id):
        node.fail(f"must be a 12-digit import (112), export (116) or action (117) id, got {step_id!r}", "id")
    default_type = {"112": "IMPORT", "116": "EXPORT"}.get(step_id[:3], "DELETE_BY_SELECTION")
    step_type = node.choice("type", list(_STEP_TYPES), default_type)
    if _STEP_TYPES[step_type] != step_id[:3]:
        node.fail(
            f"a {step_type} step needs an id starting with {_STEP_TYPES[step_type]}, got {step_id!r}", "id"
        )
    name = node.string("name", names[step_id]) if step_id in names else node.string("name")
    return Step(object_id=step_id, name=name, action_type=step_type)


def _rows(node: Node, name: str) -> RowCounts:
    node.only("hierarchy", "total", "success", "failed", "ignored", "warnings")
    total = node.integer("total")
    failed, ignored, warnings = (
        node.integer("failed", 0),
        node.integer("ignored", 0),
        node.integer("warnings", 0),
    )
    success = node.integer("success", max(total - failed - ignored, 0))
    if success + failed + ignored > total:
        node.fail(
            f"success + failed + ignored ({success + failed + ignored}) exceeds total ({total})", "total"
        )
    return RowCounts(node.string("hierarchy", name.split(" ")[0]), total, success, failed, ignored, warnings)


def _default_failure_rows(rows: RowCounts) -> RowCounts:
    failed = max(rows.failed, 1, rows.total // 10)
    failed = min(failed, max(rows.total - rows.ignored, 0))
    return RowCounts(rows.hierarchy, rows.total, rows.total - failed - rows.ignored, failed, rows.ignored)


def _generate(node: Node, numbers: _IdAllocator) -> list[SimObject]:
    """Many look-alike objects for benchmarks, their start times spread evenly over ``every``."""
    node.only("processes", "imports", "exports", "actions", "steps", *SCHEDULE_KEYS[:-1], "fail_step")
    every = node.number("every", 600.0, positive=True)
    duration = node.number("duration", min(60.0, every / 2), positive=True)
    start_delay = node.number("start_delay", 0.0)
    if start_delay + duration > every:
        node.fail(
            f"start_delay + duration ({start_delay + duration:g}) must not exceed every ({every:g})", "every"
        )
    outcomes = parse_outcomes(node)
    history = node.integer("history", 0)
    n_steps = node.integer("steps", 3, minimum=1)
    fail_step = node.integer("fail_step", n_steps, minimum=1)
    if fail_step > n_steps:
        node.fail(f"must be a step number from 1 to {n_steps}, got {fail_step}", "fail_step")
    counts = {kind: node.integer(key, 0) for key, kind in KIND_KEYS.items()}
    total = sum(counts.values())
    base_offset = node.number("offset", 0.0)
    objects: list[SimObject] = []
    for kind, count in counts.items():
        for i in range(count):
            obj_id = numbers.next(kind)
            steps: tuple[Step, ...] = ()
            if kind is ObjectType.PROCESS:
                steps = tuple(
                    Step(numbers.next(ObjectType.IMPORT), f"Generated step {j + 1} of {obj_id}", "IMPORT")
                    for j in range(n_steps)
                )
            schedule = Schedule(
                every=every,
                duration=duration,
                offset=base_offset + (len(objects) * every / total) % every,
                start_delay=start_delay,
                outcomes=outcomes,
                history=history,
                step_durations=tuple(duration / n_steps for _ in steps),
                fail_step=fail_step - 1 if steps else -1,
            )
            rows = RowCounts(f"Generated {i + 1}", 100, 100) if kind is ObjectType.IMPORT else None
            objects.append(
                SimObject(
                    id=obj_id,
                    name=f"Generated {kind.value} {i + 1}",
                    type=kind,
                    schedule=schedule,
                    steps=steps,
                    rows=rows,
                    failure_rows=_default_failure_rows(rows) if rows else None,
                    data_source_id="113" + obj_id[3:],
                )
            )
    if Outcome.FAILURE_DUMP in outcomes and (counts[ObjectType.EXPORT] or counts[ObjectType.ACTION]):
        node.fail("failure_dump is only possible for imports and processes", "outcomes")
    return objects
