"""Finding a configured workspace, model or object among what Anaplan lists, and telling apart what Anaplan
cannot confirm: shared by discovery (``polling/discovery.py``) and the tenant check (``tenant_check.py``).

Anaplan hides more than it refuses. A model the user has NO ACCESS to is listed, but its model-scoped reads
answer 404 (not 403), and the task list of such a model's objects, like that of an ID that does not exist,
answers 200 with an empty list. So an empty task list proves nothing: only the listings can say that an
object is not there (``Absence.NOT_FOUND``) or that its model is masked (``Absence.NO_ACCESS``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from typing import TypeGuard, TypeVar

from .errors import AnaplanError, AnaplanHTTPError, AnaplanNotFoundError, AnaplanPermissionError
from .models import Model, ModelObject, Workspace


class Absence(str, enum.Enum):
    """Why Anaplan cannot confirm a configured object (a bounded label value)."""

    NOT_FOUND = "not_found"
    """Absent from its model's object list (a wrong ID, or deleted), its process metadata answers 404, or
    its workspace or model is not among those the user sees."""
    NO_ACCESS = "no_access"
    """Its model is listed, but reading the model answers 404 or 403: Anaplan's mask for NO ACCESS."""


ABSENCES = tuple(absence.value for absence in Absence)

_OBJECT_ID = re.compile(r"^\d{12}$")


def is_object_id(ref: str) -> bool:
    """A model object's ID (12 digits): an object configured so is watched even when no listing shows it."""
    return bool(_OBJECT_ID.match(ref))


def masks_no_access(exc: AnaplanError) -> TypeGuard[AnaplanHTTPError]:
    """True when ``exc``, raised by a model-scoped read of a model the user's model list shows, is Anaplan's
    answer to a user with NO ACCESS to that model (404, or 403), not a passing failure."""
    return isinstance(exc, (AnaplanNotFoundError, AnaplanPermissionError))


_Named = TypeVar("_Named", Workspace, Model, ModelObject)


def matches(items: Iterable[_Named], wanted: str) -> list[_Named]:
    """Every item matching ``wanted`` by the first rule that matches any: ID exactly, ID ignoring case, code
    (objects), name ignoring case. Discovery watches the first of several."""
    items = list(items)
    folded = wanted.casefold()
    rules: tuple[Callable[[_Named], bool], ...] = (
        lambda item: item.id == wanted,
        lambda item: item.id.casefold() == folded,
        lambda item: isinstance(item, ModelObject) and bool(item.code) and item.code.casefold() == folded,
        lambda item: item.name.casefold() == folded,
    )
    for rule in rules:
        found = [item for item in items if rule(item)]
        if found:
            return found
    return []
