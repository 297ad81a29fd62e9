"""Scenario loading and validation: one-line errors naming the file, key path and bad value."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from anaplan_exporter.anaplan.models import ObjectType
from anaplan_simulator.faults import parse_faults
from anaplan_simulator.scenario import Outcome, load_scenario, parse_scenario
from anaplan_simulator.validate import ScenarioError

MODEL = "75A40874E6B64FA3AE0743278996850F"


def base() -> dict[str, Any]:
    return {
        "users": [{"username": "u@example.com", "password": "s3cret-pw"}],
        "workspaces": [
            {
                "id": "8a8b8c8d8e8f8g8i",
                "name": "W",
                "models": [
                    {
                        "id": MODEL,
                        "name": "M",
                        "processes": [
                            {
                                "id": "118000000002",
                                "name": "P",
                                "steps": [{"id": "112000000007"}, {"id": "117000000015", "name": "Del"}],
                                "every": 60,
                                "duration": 10,
                            }
                        ],
                        "imports": [{"id": "112000000007", "name": "Imp", "every": 30, "duration": 5}],
                        "actions": [{"id": "117000000019", "name": "Act"}],
                    }
                ],
            }
        ],
    }


def model_of(data: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = data["workspaces"][0]["models"][0]
    return model


def test_default_scenario_is_a_lively_demo() -> None:
    scenario = load_scenario()
    ((ws, model, _), *_) = scenario.objects()
    assert (ws.id, model.id) == ("8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F")
    assert scenario.users == {"demo@example.com": "demo-password"}
    kinds = [obj.type for obj in model.objects]
    assert kinds.count(ObjectType.PROCESS) == 3 and kinds.count(ObjectType.IMPORT) == 2
    assert model.by_id["117000000019"].action_type == "DELETE_BY_SELECTION"
    assert all(obj.schedule and 20 <= obj.schedule.every <= 120 for obj in model.objects)
    assert any(obj.schedule and Outcome.FAILURE_DUMP in obj.schedule.outcomes for obj in model.objects)


def test_steps_take_names_and_types_from_the_models_objects() -> None:
    scenario = parse_scenario(base())
    process = scenario.workspaces[0].models[0].by_id["118000000002"]
    assert [(s.name, s.action_type) for s in process.steps] == [
        ("Imp", "IMPORT"),
        ("Del", "DELETE_BY_SELECTION"),
    ]
    assert process.schedule is not None and process.schedule.step_durations == (5.0, 5.0)
    assert process.schedule.fail_step == 1  # the last step fails by default


def test_ids_are_generated_when_omitted_without_clashing() -> None:
    data = base()
    model_of(data)["exports"] = [{"name": "E1"}, {"id": "116000000001", "name": "E2"}]
    del data["workspaces"][0]["id"]
    scenario = parse_scenario(data)
    ws = scenario.workspaces[0]
    assert len(ws.id) == 32 and ws.id == ws.id.lower()
    assert [e.id for e in ws.models[0].of_type(ObjectType.EXPORT)] == ["116000000002", "116000000001"]


def test_generate_creates_many_objects_after_the_declared_ones() -> None:
    data = base()
    model_of(data)["generate"] = {"processes": 1000, "steps": 5, "every": 600, "duration": 60}
    model = parse_scenario(data).workspaces[0].models[0]
    generated = [o for o in model.of_type(ObjectType.PROCESS) if o.id != "118000000002"]
    assert len(generated) == 1000 and generated[0].id == "118000000003"
    assert all(len(o.steps) == 5 for o in generated)
    offsets = sorted(o.schedule.offset for o in generated if o.schedule)
    assert offsets[0] == 0 and offsets[-1] < 600 and len(set(offsets)) == 1000


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()
M = "workspaces.0.models.0"
P = f"{M}.processes.0"

BAD = [
    (_set(f"{P}.every", -5), "workspaces[0].models[0].processes[0].every: must be greater than 0, got -5"),
    (_set(f"{P}.evry", 5), "workspaces[0].models[0].processes[0].evry: unknown key"),
    (
        _set(f"{M}.id", "75a40874"),
        "workspaces[0].models[0].id: must be 32 uppercase hex digits, got '75a40874'",
    ),
    (
        _set(f"{M}.imports.0.id", "118000000002"),
        "imports[0].id: a import id must be 12 digits starting with 112",
    ),
    (_set(f"{M}.actions.0.id", "117000000015"), None),  # step ids need not be objects of the model
    (_set(f"{M}.actions", [{"id": "117000000019", "name": "A"}] * 2), "actions[1].id: duplicate object id"),
    (
        _set(f"{P}.duration", 100),
        "processes[0].every: start_delay + duration (100) must not exceed every (60)",
    ),
    (_set(f"{P}.outcomes", ["success", "boom"]), "processes[0].outcomes[1]: must be one of success, failure"),
    (_set(f"{P}.step_durations", [1, 2, 3]), "processes[0].step_durations: must list 2 durations"),
    (_set(f"{P}.fail_step", 3), "processes[0].fail_step: must be a step number from 1 to 2, got 3"),
    (_set(f"{P}.fail_step", "Nope"), "processes[0].fail_step: must be a step number, id or name"),
    (
        _set(f"{P}.outcomes", ["failure_dump"]),
        "processes[0].fail_step: failure_dump needs fail_step to be an IMPORT",
    ),
    (_set(f"{M}.actions.0.every", 10), "actions[0].duration: is required"),
    (
        lambda d: model_of(d)["actions"][0].update(every=10, duration=1, outcomes=["failure_dump"]),
        "actions[0].outcomes: failure_dump is only possible for imports and processes, not a action",
    ),
    (_set(f"{M}.actions.0.history", 2), "actions[0].history: needs 'every'"),
    (_set(f"{P}.steps.0.id", "119000000001"), "processes[0].steps[0].id: must be a 12-digit import"),
    (_set(f"{P}.steps.1.type", "IMPORT"), "steps[1].id: a IMPORT step needs an id starting with 112"),
    (_set(f"{M}.imports.0.rows", {"total": 5, "success": 5, "failed": 1}), "imports[0].rows.total: success"),
    (_set("token_lifetime_seconds", "long"), "token_lifetime_seconds: must be a number, got 'long'"),
    (_set("certificate", "missing.pem"), "certificate: no such file"),
    (_set("faults", {"error_rate_5xx": 2}), "faults.error_rate_5xx: must be a probability between 0 and 1"),
    (_set("faults", {"rate_limit": {"every": 5, "for": 10}}), "faults.rate_limit.for: must not exceed every"),
    (_set("faults", {"latency": {"min": 2, "max": 1}}), "faults.latency.max: must not be below min"),
    (_set("workspaces", {"id": "x"}), "workspaces: must be a list"),
]


@pytest.mark.parametrize(("mutate", "message"), BAD)
def test_invalid_scenarios_give_one_line_errors(mutate: Any, message: str | None, tmp_path: Path) -> None:
    data = copy.deepcopy(base())
    mutate(data)
    if message is None:
        parse_scenario(data, base_dir=tmp_path, source="s.yml")
        return
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, base_dir=tmp_path, source="s.yml")
    text = str(caught.value)
    assert text.startswith("s.yml: ") and "\n" not in text
    assert message in text


def test_password_never_appears_in_errors_or_reprs() -> None:
    data = base()
    data["users"][0]["password"] = ["s3cret-pw"]
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)
    assert "s3cret-pw" not in str(caught.value)
    assert "users[0].password" in str(caught.value)
    assert "s3cret-pw" not in repr(parse_scenario(base()))


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("workspaces: [\n  - {id: 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yml: invalid YAML at line \d+"):
        load_scenario(broken)
    with pytest.raises(ScenarioError, match=r"nope\.yml: cannot read scenario"):
        load_scenario(tmp_path / "nope.yml")


def test_certificate_path_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "c.pem").write_text("x", encoding="utf-8")
    data = base()
    data["certificate"] = {"path": "certs/c.pem", "require_v2": True}
    scenario = tmp_path / "s.yml"
    scenario.write_text(yaml.safe_dump(data), encoding="utf-8")
    loaded = load_scenario(scenario)
    assert loaded.certificate is not None
    assert loaded.certificate.path == tmp_path / "certs" / "c.pem" and loaded.certificate.require_v2


def test_runtime_fault_changes_merge_and_null_turns_off() -> None:
    first = parse_faults({"latency": 0.5, "error_rate_5xx": 0.1}, "", "faults")
    assert (first.latency_min, first.latency_max) == (0.5, 0.5)
    second = parse_faults({"error_rate_5xx": None, "token_early_expiry": 3}, "", "faults", base=first)
    assert second.latency_min == 0.5 and second.error_rate_5xx == 0 and second.token_early_expiry == 3
