"""Pure functions from decoded Anaplan JSON to typed values.

Anaplan's documents are loose: numbers arrive as strings (``"duration": "1112"``), booleans may be
``"true"``, list keys vanish when empty, and doc examples disagree on envelopes. Every function here accepts
any decoded JSON value and either returns a typed value or raises :class:`AnaplanResponseError`; nothing
else escapes (no KeyError, TypeError, ValueError ...). Unknown fields are ignored everywhere.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .errors import AnaplanResponseError
from .models import (
    ImportRowCounts,
    Model,
    ModelObject,
    ObjectType,
    ProcessMetadata,
    ProcessStep,
    ResultDetail,
    Task,
    TaskResult,
    TaskState,
    TaskSummary,
    Workspace,
)
from .timestamps import TimeCheck

T = TypeVar("T")

# Deeper nesting than this is not a process result but garbage (or an attack on the recursion limit).
_MAX_NESTING = 16

# A row count outside 0..2**53 is garbage: no float sample holds it exactly, and sums of huge ones overflow.
_MAX_ROW_COUNT = 2**53

_ROW_COUNT_KEYS = {
    "totalRowCount": "total",
    "successRowCount": "success",
    "failedCount": "failed",
    "ignoredCount": "ignored",
    "warningsRowCount": "warnings",
}


@dataclass(frozen=True)
class Paging:
    """``meta.paging`` of a list response; any field Anaplan left out is None."""

    offset: int | None = None
    current_page_size: int | None = None
    total_size: int | None = None


@dataclass(frozen=True, repr=False)
class TokenInfo:
    """An auth-service token: the value and its expiry (epoch seconds, None when not sent)."""

    token_value: str
    expires_at: float | None = None

    def __repr__(self) -> str:
        return f"TokenInfo(token_value='***', expires_at={self.expires_at!r})"


@dataclass(frozen=True, repr=False)
class OAuthToken:
    """An OAuth token response; ``expires_in`` in seconds, None when not sent."""

    access_token: str
    refresh_token: str | None = None
    expires_in: float | None = None

    def __repr__(self) -> str:
        return f"OAuthToken(access_token='***', refresh_token='***', expires_in={self.expires_in!r})"


# --------------------------------------------------------------------------- scalar coercion


def _number(value: object) -> float | None:
    """A finite float from a JSON number or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            result = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except (ValueError, OverflowError):
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def _integer(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _millis_to_seconds(value: object) -> float | None:
    number = _number(value)
    return number / 1000.0 if number is not None else None


def _epoch_millis(value: object, times: TimeCheck) -> float | None:
    """An epoch-milliseconds time as seconds; a value that is present but no plausible time is counted."""
    if value is None:
        return None
    seconds = _millis_to_seconds(value)
    if seconds is None:
        times.refuse()
        return None
    return times(seconds)


def _checker(times: TimeCheck | None) -> TimeCheck:
    """The caller's check, or one against the wall clock for callers without a clock of their own."""
    return times if times is not None else TimeCheck(time.time())


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        return None
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    return None


def _text(value: object) -> str:
    """A string field; IDs sent as JSON numbers become their digits, anything else is ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return str(value)


def _scalar_text(value: object) -> str | None:
    """Like _text but tells a missing/structured value (None) from an empty string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _text(value)
    return None


# --------------------------------------------------------------------------- structure helpers


def _mapping(value: object, endpoint: str, what: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise AnaplanResponseError(f"expected a JSON object for {what}, got {_kind(value)}", endpoint)
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _list_payload(body: object, key: str, endpoint: str) -> list[object]:
    """The list under ``key``: also a bare JSON list, a single object under ``key``, or [] when absent."""
    if isinstance(body, list):
        return body
    envelope = _mapping(body, endpoint, "the response")
    value = envelope.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value]
    raise AnaplanResponseError(f"'{key}' is {_kind(value)}, expected a list", endpoint)


def _items(
    body: object, key: str, endpoint: str, build: Callable[[Mapping[str, object]], T | None]
) -> list[T]:
    result: list[T] = []
    for entry in _list_payload(body, key, endpoint):
        if isinstance(entry, dict):
            item = build(entry)
            if item is not None:
                result.append(item)
    return result


# --------------------------------------------------------------------------- paging and listings


def parse_paging(body: object) -> Paging | None:
    """``meta.paging`` of a list response, or None when the response has none (a single page)."""
    if not isinstance(body, dict):
        return None
    meta = body.get("meta")
    if not isinstance(meta, dict):
        return None
    paging = meta.get("paging")
    if not isinstance(paging, dict):
        return None
    return Paging(
        offset=_integer(paging.get("offset")),
        current_page_size=_integer(paging.get("currentPageSize")),
        total_size=_integer(paging.get("totalSize")),
    )


def _workspace(entry: Mapping[str, object]) -> Workspace | None:
    workspace_id = _text(entry.get("id"))
    if not workspace_id:
        return None
    active = _boolean(entry.get("active"))
    return Workspace(
        id=workspace_id, name=_text(entry.get("name")), active=True if active is None else active
    )


def parse_workspaces(body: object) -> list[Workspace]:
    """``GET /workspaces``: entries without an ID are skipped."""
    return _items(body, "workspaces", "list_workspaces", _workspace)


def _model(entry: Mapping[str, object]) -> Model | None:
    model_id = _text(entry.get("id"))
    if not model_id:
        return None
    return Model(
        id=model_id,
        name=_text(entry.get("name")),
        workspace_id=_text(entry.get("currentWorkspaceId")),
        active_state=_text(entry.get("activeState")),
    )


def parse_models(body: object) -> list[Model]:
    """``GET /workspaces/{w}/models`` (or ``/models``): entries without an ID are skipped."""
    return _items(body, "models", "list_models", _model)


def parse_objects(body: object, object_type: ObjectType) -> list[ModelObject]:
    """``GET .../{imports|exports|actions|processes}``: entries without an ID are skipped."""

    def build(entry: Mapping[str, object]) -> ModelObject | None:
        object_id = _text(entry.get("id"))
        if not object_id:
            return None
        return ModelObject(
            id=object_id, name=_text(entry.get("name")), type=object_type, code=_text(entry.get("code"))
        )

    if not isinstance(object_type, ObjectType):
        raise AnaplanResponseError(f"unknown object type {object_type!r}", "list_objects")
    return _items(body, object_type.collection, "list_objects", build)


def parse_process_metadata(body: object) -> ProcessMetadata:
    """``GET .../processes/{p}``: the envelope's ``processMetadata``, or a bare metadata object."""
    envelope = _mapping(body, "process_metadata", "the response")
    inner = envelope.get("processMetadata", envelope)
    metadata = _mapping(inner, "process_metadata", "'processMetadata'")

    def build(entry: Mapping[str, object]) -> ProcessStep | None:
        object_id = _text(entry.get("id"))
        if not object_id:
            return None
        return ProcessStep(
            object_id=object_id, name=_text(entry.get("name")), action_type=_text(entry.get("actionType"))
        )

    steps = _items(metadata, "actions", "process_metadata", build)
    return ProcessMetadata(name=_text(metadata.get("name")), steps=tuple(steps))


# --------------------------------------------------------------------------- tasks


def _task_summary(entry: Mapping[str, object], times: TimeCheck) -> TaskSummary | None:
    task_id = _text(entry.get("taskId"))
    if not task_id:
        return None
    return TaskSummary(
        task_id=task_id,
        state=TaskState.parse(entry.get("taskState")),
        creation_time=_epoch_millis(entry.get("creationTime"), times),
    )


def parse_task_list(body: object, times: TimeCheck | None = None) -> tuple[list[TaskSummary], Paging | None]:
    """``GET .../tasks``: ``tasks``, else a single ``task`` object, else empty; plus the page info.

    A ``creationTime`` outside the plausible range (``timestamps``) is absent, counted in ``times``.
    """
    check = _checker(times)
    key = "tasks"
    if isinstance(body, dict) and body.get("tasks") is None and body.get("task") is not None:
        key = "task"
    tasks = _items(body, key, "list_tasks", lambda entry: _task_summary(entry, check))
    return tasks, parse_paging(body)


def _detail_values(raw: object) -> dict[str, str]:
    """Anaplan's flat ``[key, value, key, value ...]`` list (or, tolerated, an object) as a dict."""
    pairs: list[tuple[object, object]]
    if isinstance(raw, list):
        pairs = list(zip(raw[::2], raw[1::2], strict=False))
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        return {}
    values: dict[str, str] = {}
    for raw_key, raw_value in pairs:
        key, value = _scalar_text(raw_key), _scalar_text(raw_value)
        if key is not None and value is not None:
            values[key] = value
    return values


def _detail(entry: Mapping[str, object]) -> ResultDetail:
    occurrences = _integer(entry.get("occurrences"))
    return ResultDetail(
        type=_text(entry.get("type")),
        message=_text(entry.get("localMessageText")),
        occurrences=occurrences if occurrences is not None else 0,
        values=_detail_values(entry.get("values")),
    )


def _row_counts(details: tuple[ResultDetail, ...]) -> ImportRowCounts | None:
    totals = dict.fromkeys(_ROW_COUNT_KEYS.values(), 0)
    seen = False
    for detail in details:
        for key, field_name in _ROW_COUNT_KEYS.items():
            count = _integer(detail.values.get(key))
            if count is not None and 0 <= count <= _MAX_ROW_COUNT:
                totals[field_name] += count
                seen = True
    return ImportRowCounts(**totals) if seen else None


def _task_result(raw: object, times: TimeCheck, depth: int = 0) -> TaskResult | None:
    """A ``result`` object; None when it is not an object or lacks a readable ``successful``."""
    if not isinstance(raw, dict) or depth > _MAX_NESTING:
        return None
    successful = _boolean(raw.get("successful"))
    if successful is None:
        return None
    raw_details = raw.get("details")
    details = tuple(
        _detail(entry)
        for entry in (raw_details if isinstance(raw_details, list) else [])
        if isinstance(entry, dict)
    )
    nested: list[TaskResult] = []
    raw_nested = raw.get("nestedResults")
    if isinstance(raw_nested, list):
        for entry in raw_nested:
            result = _task_result(entry, times, depth + 1)
            if result is not None:
                nested.append(result)
    dump = _boolean(raw.get("failureDumpAvailable"))
    return TaskResult(
        successful=successful,
        failure_dump_available=bool(dump),
        object_id=_text(raw.get("objectId")),
        object_name=_text(raw.get("objectName")),
        duration_seconds=_millis_to_seconds(raw.get("duration")),
        start_time=_epoch_millis(raw.get("startTime"), times),
        details=details,
        nested=tuple(nested),
        row_counts=_row_counts(details),
    )


def parse_task_status(body: object, times: TimeCheck | None = None) -> Task:
    """``GET .../tasks/{taskId}``: the envelope's ``task``, or a bare task document.

    A ``result`` without a readable ``successful`` is treated as absent rather than as a failure, and
    nested results without one are dropped: a run is never reported failed on a guess. A ``creationTime``
    or ``startTime`` outside the plausible range (``timestamps``) is absent, counted in ``times``.
    """
    check = _checker(times)
    envelope = _mapping(body, "task_status", "the response")
    inner = envelope.get("task", envelope)
    task = _mapping(inner, "task_status", "'task'")
    raw_state = task.get("taskState")
    task_id = _text(task.get("taskId"))
    if not task_id and raw_state is None:
        raise AnaplanResponseError(
            "no task in the response (neither 'taskId' nor 'taskState')", "task_status"
        )
    return Task(
        task_id=task_id,
        state=TaskState.parse(raw_state),
        raw_state=raw_state if isinstance(raw_state, str) else "",
        progress=_number(task.get("progress")),
        current_step=_text(task.get("currentStep")),
        creation_time=_epoch_millis(task.get("creationTime"), check),
        result=_task_result(task.get("result"), check),
        cancelled_by=_text(task.get("cancelledBy")),
    )


# --------------------------------------------------------------------------- authentication


def parse_token_info(
    body: object, endpoint: str = "authenticate", times: TimeCheck | None = None
) -> TokenInfo:
    """An auth-service response (authenticate or refresh): ``tokenInfo.tokenValue`` and ``expiresAt`` (ms).

    An impossible ``expiresAt`` is absent (the default lifetime applies), counted in ``times``.
    """
    envelope = _mapping(body, endpoint, "the response")
    info = _mapping(envelope.get("tokenInfo"), endpoint, "'tokenInfo'")
    token = info.get("tokenValue")
    if not isinstance(token, str) or not token.strip():
        raise AnaplanResponseError("'tokenInfo.tokenValue' is missing or empty", endpoint)
    expires_at = _epoch_millis(info.get("expiresAt"), _checker(times))
    return TokenInfo(token_value=token.strip(), expires_at=expires_at)


def parse_oauth_token(body: object) -> OAuthToken:
    """An OAuth ``/oauth/token`` response: ``access_token``, optional ``refresh_token`` and ``expires_in``."""
    envelope = _mapping(body, "oauth_token", "the response")
    access = envelope.get("access_token")
    if not isinstance(access, str) or not access.strip():
        raise AnaplanResponseError("'access_token' is missing or empty", "oauth_token")
    refresh = envelope.get("refresh_token")
    return OAuthToken(
        access_token=access.strip(),
        refresh_token=refresh.strip() if isinstance(refresh, str) and refresh.strip() else None,
        expires_in=_number(envelope.get("expires_in")),
    )
