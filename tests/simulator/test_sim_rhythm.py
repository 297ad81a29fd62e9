"""Schedule keys for rhythms: ``until`` (a schedule that stopped), ``days`` (weekdays only), ``jitter``
(manual-looking runs). History and live runs follow them, and so does the ground truth."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from anaplan_exporter.anaplan.models import ObjectType
from anaplan_exporter.calendar_rhythm import DAY_NAMES, WeeklySlots
from anaplan_exporter.polling.rhythm import learned_interval, learned_schedule
from anaplan_simulator.engine import Engine
from anaplan_simulator.scenario import DEFAULT_SCENARIO, SimModel, SimObject, load_scenario, parse_scenario
from anaplan_simulator.validate import ScenarioError

WS, MODEL = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
T0 = 1_800_000_000.0  # a Friday, 08:00 UTC
HOUR, DAY = 3600.0, 86400.0
RHYTHM = load_scenario(DEFAULT_SCENARIO.with_name("rhythm-scenario.yml"))


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def engine_for(**model: Any) -> tuple[Engine, FakeClock, SimModel]:
    clock = FakeClock()
    data = {"workspaces": [{"id": WS, "name": "W", "models": [{"id": MODEL, "name": "M", **model}]}]}
    eng = Engine(parse_scenario(data), clock)
    found = eng.model(MODEL, WS)
    assert found is not None
    return eng, clock, found[1]


def only(model: SimModel, kind: ObjectType) -> SimObject:
    (obj,) = model.of_type(kind)
    return obj


def export(**schedule: Any) -> dict[str, Any]:
    return {"exports": [{"id": "116000000002", "name": "E", "duration": 10, **schedule}]}


def created(eng: Engine, obj: SimObject, now: float) -> list[float]:
    return [r.created for r in eng.runs(WS, MODEL, obj, now)]


def test_every_nth_run_from_run_0_is_slow_steps_included() -> None:
    steps = [
        {"id": "112000000001", "name": "Load", "type": "IMPORT"},
        {"id": "117000000001", "name": "Clear", "type": "DELETE_BY_SELECTION"},
    ]
    model = {
        "processes": [
            {
                "id": "118000000002",
                "name": "P",
                "steps": steps,
                "step_durations": [2, 3],
                "every": 60,
                "history": 4,
                "slow_every": 3,
                "slow_factor": 4,
            }
        ]
    }
    eng, _, found = engine_for(**model)
    obj = only(found, ObjectType.PROCESS)
    runs = eng.runs(WS, MODEL, obj, T0 + 400)
    lengths = {r.index: r.ends - r.started for r in runs}
    assert lengths == {-4: 5, -3: 5, -2: 5, -1: 5, 0: 20, 1: 5, 2: 5, 3: 20, 4: 5, 5: 5, 6: 20}
    (slow,) = [t for t in eng.ground_truth(T0 + 400) if t["task_id"] == runs[4].task_id]
    assert [step["duration"] for step in slow["steps"]] == [8, 12]
    assert eng.view(runs[4], T0 + 10).progress == 0.5  # a slow run's progress follows its own length


def test_until_stops_live_runs() -> None:
    eng, _, model = engine_for(**export(every=60, history=3, until=150))
    obj = only(model, ObjectType.EXPORT)
    times = created(eng, obj, T0 + 1000)
    assert [t - T0 for t in times[3:]] == [0, 60, 120]
    assert [r.index for r in eng.finished_between(T0, T0 + 1000)] == [0, 1, 2]
    assert [t["creation_time"] for t in eng.ground_truth(T0 + 1000)] == times


def test_negative_until_leaves_only_the_history_before_it() -> None:
    eng, _, model = engine_for(**export(every=HOUR, history=30, until=-10 * HOUR))
    obj = only(model, ObjectType.EXPORT)
    times = created(eng, obj, T0 + 2 * DAY)
    assert len(times) == 20  # history slots 11 to 30 (the ten newest are within 10 hours), no live ones
    assert max(times) < T0 - 10 * HOUR
    assert eng.finished_between(T0, T0 + 2 * DAY) == []
    skipped = eng.task_id(WS, MODEL, obj.id, -1)
    assert eng.find_run(WS, MODEL, obj, skipped, T0 + 100) is None
    assert learned_interval(times) == HOUR  # the rhythm before the stop is still there to learn


def test_days_skip_weekends_in_history_and_live() -> None:
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    eng, _, model = engine_for(**export(every=DAY, history=28, days=weekdays, offset=DAY - 11))
    obj = only(model, ObjectType.EXPORT)
    times = created(eng, obj, T0 + 28 * DAY)
    assert all(time.gmtime(t).tm_wday < 5 for t in times)
    assert len(times) == 40  # 56 daily slots, 16 of them on Saturdays and Sundays
    gaps = {round(b - a) for a, b in itertools.pairwise(times)}
    assert gaps == {DAY, 3 * DAY}
    live = eng.finished_between(T0, T0 + 28 * DAY)
    assert len(live) == 20 and all(time.gmtime(r.created).tm_wday < 5 for r in live)
    assert learned_interval(times) == 3 * DAY


def test_jitter_is_fixed_by_the_seed_and_stays_within_the_slot() -> None:
    eng, _, model = engine_for(**export(every=HOUR, history=30, jitter=0.9))
    obj = only(model, ObjectType.EXPORT)
    times = created(eng, obj, T0 + 30 * HOUR)
    for run in eng.runs(WS, MODEL, obj, T0 + 30 * HOUR):
        slot = T0 + run.index * HOUR  # history on the live runs' grid too
        offset = run.created - slot
        assert (0 <= offset < 0.9 * HOUR) if run.index >= 0 else (-0.9 * HOUR < offset <= 0)
    assert times == sorted(times) and len(times) >= 59
    later = Engine(eng.scenario, FakeClock(T0 + 5000), start=T0 + 5000)
    assert [t + 5000 for t in times[:30]] == created(later, obj, T0 + 5000)  # same pattern, any start
    assert learned_interval(times[:30]) is None and learned_interval(times[30:]) is None


def test_a_jittered_run_is_listed_only_once_created() -> None:
    eng, _, model = engine_for(**export(every=HOUR, jitter=0.9))
    obj = only(model, ObjectType.EXPORT)
    run = eng.run(WS, MODEL, obj, 3)
    assert [r.index for r in eng.runs(WS, MODEL, obj, run.created - 0.001)] == [0, 1, 2]
    assert [r.index for r in eng.runs(WS, MODEL, obj, run.created)] == [0, 1, 2, 3]


def test_rhythm_scenario_learns_what_it_says() -> None:
    eng = Engine(RHYTHM, FakeClock(T0))
    ((_, model, _), *_) = RHYTHM.objects()
    expected = {
        "Hourly Refresh": HOUR,
        "Daily Load": DAY,
        "Weekday Close": 3 * DAY,
        "Twice Weekly": None,
        "Stopped Feed": HOUR,
        "Quick Stop": 20.0,
        "Manual Upload": None,
    }
    learned = {
        obj.name: learned_schedule(created(eng, obj, T0 + 120)[-30:])
        for obj in model.objects
        if obj.schedule is not None
    }
    assert {name: interval for name, (_, interval, _) in learned.items()} == expected
    patterns = {name: pattern for name, (_, _, pattern) in learned.items() if pattern is not None}
    assert list(patterns) == ["Twice Weekly"]
    slots = patterns["Twice Weekly"]
    assert isinstance(slots, WeeklySlots)
    assert [DAY_NAMES[int(slot // DAY)] for slot in slots.slots] == ["Mon", "Thu"]
    stopped = model.by_id["116000000021"]
    assert max(created(eng, stopped, T0 + DAY)) < T0 - 10 * HOUR
    quick = model.by_id["116000000022"]
    assert max(created(eng, quick, T0 + DAY)) == T0 + 56


BAD = [
    ({"until": "soon"}, "exports[0].until: must be a number, got 'soon'"),
    ({"days": ["mon", "funday"]}, "exports[0].days[1]: must be one of mon, tue, wed, thu, fri, sat, sun"),
    ({"days": []}, "exports[0].days: must list at least one day"),
    ({"jitter": 1}, "exports[0].jitter: must be at least 0 and below 1"),
    ({"jitter": -0.1}, "exports[0].jitter: must be at least 0, got -0.1"),
    ({"jitter": 0.9, "duration": 30}, "exports[0].jitter: start_delay + duration + jitter x every (84)"),
    ({"slow_every": 3, "slow_factor": 7}, "exports[0].every: start_delay + duration x slow_factor (70)"),
    ({"slow_factor": 2}, "exports[0].slow_factor: needs slow_every (which runs are slow)"),
    ({"slow_every": 2, "slow_factor": 0}, "exports[0].slow_factor: must be greater than 0"),
]


def bad(**fields: Any) -> dict[str, Any]:
    return {"workspaces": [{"id": WS, "name": "W", "models": [{"id": MODEL, "name": "M", **fields}]}]}


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_rhythm_keys_give_one_line_errors(change: dict[str, Any], message: str) -> None:
    data = bad(exports=[{"id": "116000000002", "name": "E", "every": 60, "duration": 10, **change}])
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, source="s.yml")
    assert str(caught.value).startswith("s.yml: workspaces[0].models[0].") and "\n" not in str(caught.value)
    assert message in str(caught.value)


def test_rhythm_keys_need_every() -> None:
    data = bad(exports=[{"id": "116000000002", "name": "E", "until": 5}])
    with pytest.raises(ScenarioError, match=r"exports\[0\]\.until: needs 'every'"):
        parse_scenario(data, source="s.yml")
