"""An object's schedule keys (``every``, ``duration``, ``outcomes``, ``history``...), its rhythm keys
(``until``, ``days``, ``jitter``, ``slow_every``, ``slow_factor``) and a process's ``step_durations`` and
``fail_step``, read into a ``Schedule`` and checked against each other (a run must end before the next).
"""

from __future__ import annotations

import math
from typing import Any

from anaplan_exporter.anaplan.models import ObjectType

from .scenario_types import Outcome, Schedule, Step
from .validate import Node

SCHEDULE_KEYS = ("every", "offset", "duration", "start_delay", "outcomes", "history", "cancelling")
RHYTHM_KEYS = ("until", "days", "jitter", "slow_every", "slow_factor")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_outcomes(node: Node) -> tuple[Outcome, ...]:
    """The ``outcomes`` list (default: success), cycled run after run."""
    values = node.list_of_str("outcomes", ["success"])
    if not values:
        node.fail("must list at least one outcome", "outcomes")
    allowed = [o.value for o in Outcome]
    for i, value in enumerate(values):
        if value not in allowed:
            node.fail(f"must be one of {', '.join(allowed)}, got {value!r}", f"outcomes[{i}]")
    return tuple(Outcome(v) for v in values)


def parse_schedule(node: Node, kind: ObjectType, steps: tuple[Step, ...]) -> Schedule | None:
    """The object's schedule, or None without ``every`` (then it never runs and takes no other run key)."""
    if not node.has("every"):
        for key in ("history", "outcomes", "duration", "step_durations", *RHYTHM_KEYS):
            if node.has(key):
                node.fail("needs 'every' (no runs are scheduled without it)", key)
        return None
    every = node.number("every", positive=True)
    step_durations: tuple[float, ...] = ()
    if node.has("step_durations"):
        step_durations = tuple(node.list_of_numbers("step_durations"))
        if len(step_durations) != len(steps):
            node.fail(
                f"must list {len(steps)} durations (one per step), got {len(step_durations)}",
                "step_durations",
            )
    if node.has("duration"):
        duration = node.number("duration", positive=True)
        if step_durations and abs(sum(step_durations) - duration) > 1e-6:
            node.fail(
                f"must equal the sum of step_durations ({sum(step_durations):g}), got {duration:g}",
                "duration",
            )
    elif step_durations:
        duration = sum(step_durations)
    else:
        duration = node.number("duration", positive=True)
    if steps and not step_durations:
        step_durations = tuple(duration / len(steps) for _ in steps)
    outcomes = parse_outcomes(node)
    schedule = Schedule(
        every=every,
        duration=duration,
        offset=node.number("offset", 0.0),
        start_delay=node.number("start_delay", 0.0),
        outcomes=outcomes,
        history=node.integer("history", 0),
        cancelling=node.number("cancelling", 3.0),
        step_durations=step_durations,
        fail_step=_fail_step(node, steps) if steps else -1,
        until=node.number("until", minimum=-math.inf) if node.has("until") else None,
        days=_days(node) if node.has("days") else None,
        jitter=node.number("jitter", 0.0),
        slow_every=node.integer("slow_every", 0),
        slow_factor=node.number("slow_factor", 3.0 if node.has("slow_every") else 1.0, positive=True),
    )
    if schedule.length > every:
        what = "start_delay + duration" + (" x slow_factor" if schedule.slow_every else "")
        node.fail(f"{what} ({schedule.length:g}) must not exceed every ({every:g})", "every")
    if node.has("slow_factor") and not schedule.slow_every:
        node.fail("needs slow_every (which runs are slow)", "slow_factor")
    if schedule.jitter >= 1:
        node.fail(f"must be at least 0 and below 1 (a share of every), got {schedule.jitter:g}", "jitter")
    if schedule.length + schedule.jitter * every > every:
        node.fail(
            f"start_delay + duration + jitter x every ({schedule.length + schedule.jitter * every:g}) "
            f"must not exceed every ({every:g})",
            "jitter",
        )
    if Outcome.FAILURE_DUMP in outcomes:
        if kind in (ObjectType.EXPORT, ObjectType.ACTION):
            node.fail(
                f"failure_dump is only possible for imports and processes, not a {kind.value}", "outcomes"
            )
        if steps and steps[schedule.fail_step].action_type != "IMPORT":
            node.fail(
                "failure_dump needs fail_step to be an IMPORT step (only imports write dumps)", "fail_step"
            )
    return schedule


def _days(node: Node) -> frozenset[int]:
    values = node.list_of_str("days")
    if not values:
        node.fail("must list at least one day", "days")
    for i, value in enumerate(values):
        if value.lower() not in DAY_NAMES:
            node.fail(f"must be one of {', '.join(DAY_NAMES)}, got {value!r}", f"days[{i}]")
    return frozenset(DAY_NAMES.index(v.lower()) for v in values)


def _fail_step(node: Node, steps: tuple[Step, ...]) -> int:
    if not node.has("fail_step"):
        return len(steps) - 1
    value: Any = node.raw("fail_step")
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= len(steps):
            node.fail(f"must be a step number from 1 to {len(steps)}, got {value}", "fail_step")
        return value - 1
    text = node.string("fail_step")
    for i, step in enumerate(steps):
        if text in (step.object_id, step.name):
            return i
    node.fail(f"must be a step number, id or name of this process, got {text!r}", "fail_step")
