"""Finding configured names among Anaplan's listings, and which answers mean NO ACCESS (shared by discovery
and the tenant check)."""

from __future__ import annotations

from anaplan_exporter.anaplan.errors import (
    AnaplanConnectionError,
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanServerError,
)
from anaplan_exporter.anaplan.lookup import ABSENCES, is_object_id, masks_no_access, matches
from anaplan_exporter.anaplan.models import Model, ModelObject, ObjectType, Workspace


def test_an_id_wins_over_a_name_then_case_then_code_then_names() -> None:
    a = ModelObject("118000000001", "118000000002", ObjectType.PROCESS)  # named like another's ID
    b = ModelObject("118000000002", "Nightly", ObjectType.PROCESS, code="NIGHT")
    c = ModelObject("118000000003", "nightly", ObjectType.PROCESS)
    items = [a, b, c]
    assert matches(items, "118000000002") == [b]
    assert matches(items, "NIGHT") == [b]
    assert matches(items, "NIGHTLY") == [b, c]
    assert matches(items, "missing") == []
    models = [Model("ABC", "Plan"), Model("DEF", "plan")]
    assert matches(models, "abc") == [models[0]]
    assert matches([Workspace("w1", "W"), Workspace("w2", "w")], "W") == [
        Workspace("w1", "W"),
        Workspace("w2", "w"),
    ]


def test_object_ids_are_twelve_digits() -> None:
    assert is_object_id("118000000002")
    assert not is_object_id("11800000000")
    assert not is_object_id("Nightly load")
    assert not is_object_id("1180000000021")


def test_404_and_403_on_a_listed_model_mean_no_access_and_nothing_else_does() -> None:
    assert masks_no_access(AnaplanNotFoundError(404, "Not Found", "list_objects"))
    assert masks_no_access(AnaplanPermissionError(403, "Forbidden", "list_objects"))
    assert not masks_no_access(AnaplanServerError(500, "Internal Server Error", "list_objects"))
    assert not masks_no_access(AnaplanConnectionError("connection refused", "list_objects"))


def test_the_reasons_are_a_small_fixed_set() -> None:
    assert ABSENCES == ("not_found", "no_access")
