"""Every response parser, fed any JSON value: a typed value with sane fields, or AnaplanResponseError."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anaplan_exporter.anaplan.errors import AnaplanResponseError
from anaplan_exporter.anaplan.models import (
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
from anaplan_exporter.anaplan.parsing import (
    OAuthToken,
    Paging,
    TokenInfo,
    parse_models,
    parse_oauth_token,
    parse_objects,
    parse_paging,
    parse_process_metadata,
    parse_task_list,
    parse_task_status,
    parse_token_info,
    parse_workspaces,
)
from support.strategies import json_values, task_documents

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Row counts become float samples: they must fit one exactly enough to be meaningful.
MAX_EXACT = 2**53


def _finite_or_none(value: float | None) -> bool:
    return value is None or (type(value) is float and math.isfinite(value))


def _check_result(result: TaskResult, depth: int = 0) -> None:
    assert depth <= 64, "nesting must be bounded"
    assert type(result.successful) is bool
    assert type(result.failure_dump_available) is bool
    assert isinstance(result.object_id, str) and isinstance(result.object_name, str)
    assert _finite_or_none(result.duration_seconds)
    assert _finite_or_none(result.start_time)
    for detail in result.details:
        assert isinstance(detail, ResultDetail)
        assert isinstance(detail.type, str) and isinstance(detail.message, str)
        assert type(detail.occurrences) is int
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in detail.values.items())
    if result.row_counts is not None:
        assert isinstance(result.row_counts, ImportRowCounts)
        for count in result.row_counts.as_dict().values():
            assert type(count) is int and count >= 0
            assert math.isfinite(float(count))  # what the metrics do with it
    for nested in result.nested:
        assert isinstance(nested, TaskResult)
        _check_result(nested, depth + 1)


def _check_task(task: Task) -> None:
    assert isinstance(task, Task)
    assert isinstance(task.state, TaskState)
    assert isinstance(task.task_id, str) and isinstance(task.raw_state, str)
    assert isinstance(task.current_step, str) and isinstance(task.cancelled_by, str)
    assert task.task_id or task.raw_state or task.state is TaskState.UNKNOWN
    assert _finite_or_none(task.progress)
    assert _finite_or_none(task.creation_time)
    if task.result is not None:
        _check_result(task.result)


def _check_paging(paging: Paging | None) -> None:
    if paging is not None:
        for value in (paging.offset, paging.current_page_size, paging.total_size):
            assert value is None or type(value) is int


def _outcome(parse: Callable[[object], object], body: object) -> object:
    """Parse; an AnaplanResponseError is a fine outcome (it is returned), anything else escapes."""
    before = json.dumps(body, sort_keys=True, default=repr)
    try:
        value: object = parse(body)
    except AnaplanResponseError as exc:
        assert str(exc) and "\n" not in str(exc)
        value = exc
    assert json.dumps(body, sort_keys=True, default=repr) == before, "a parser must not change its input"
    return value


@PROPERTY
@given(st.one_of(json_values, task_documents()))
def test_task_status(body: object) -> None:
    task = _outcome(parse_task_status, body)
    if not isinstance(task, AnaplanResponseError):
        assert isinstance(task, Task)
        _check_task(task)


@PROPERTY
@given(
    st.one_of(
        json_values,
        st.lists(task_documents() | json_values, max_size=4),
        st.fixed_dictionaries(
            {"tasks": st.lists(task_documents() | json_values, max_size=4) | json_values},
            optional={"meta": json_values, "task": json_values},
        ),
    )
)
def test_task_list(body: object) -> None:
    parsed = _outcome(parse_task_list, body)
    if isinstance(parsed, AnaplanResponseError):
        return
    assert isinstance(parsed, tuple)
    summaries, paging = parsed
    for summary in summaries:
        assert isinstance(summary, TaskSummary)
        assert isinstance(summary.task_id, str) and summary.task_id
        assert isinstance(summary.state, TaskState)
        assert _finite_or_none(summary.creation_time)
    _check_paging(paging)


@PROPERTY
@given(json_values, st.sampled_from(ObjectType))
def test_objects(body: object, object_type: ObjectType) -> None:
    objects = _outcome(lambda b: parse_objects(b, object_type), body)
    if isinstance(objects, list):
        for item in objects:
            assert isinstance(item, ModelObject) and item.type is object_type
            assert isinstance(item.id, str) and item.id
            assert isinstance(item.name, str) and isinstance(item.code, str)


@PROPERTY
@given(json_values)
def test_workspaces_and_models(body: object) -> None:
    workspaces = _outcome(parse_workspaces, body)
    if isinstance(workspaces, list):
        for workspace in workspaces:
            assert isinstance(workspace, Workspace) and workspace.id
            assert type(workspace.active) is bool and isinstance(workspace.name, str)
    models = _outcome(parse_models, body)
    if isinstance(models, list):
        for model in models:
            assert isinstance(model, Model) and model.id
            assert isinstance(model.workspace_id, str) and isinstance(model.active_state, str)


@PROPERTY
@given(json_values)
def test_process_metadata(body: object) -> None:
    metadata = _outcome(parse_process_metadata, body)
    if not isinstance(metadata, AnaplanResponseError):
        assert isinstance(metadata, ProcessMetadata) and isinstance(metadata.name, str)
        for step in metadata.steps:
            assert isinstance(step, ProcessStep) and step.object_id and isinstance(step.action_type, str)


@PROPERTY
@given(json_values)
def test_paging(body: object) -> None:
    paging = _outcome(parse_paging, body)
    assert not isinstance(paging, AnaplanResponseError), "parse_paging answers None for any odd shape"
    assert paging is None or isinstance(paging, Paging)
    _check_paging(paging)


@PROPERTY
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"tokenInfo": json_values}),
        st.fixed_dictionaries(
            {"tokenInfo": st.fixed_dictionaries({"tokenValue": json_values, "expiresAt": json_values})}
        ),
    )
)
def test_token_info(body: object) -> None:
    info = _outcome(parse_token_info, body)
    if not isinstance(info, AnaplanResponseError):
        assert isinstance(info, TokenInfo)
        assert info.token_value and info.token_value == info.token_value.strip()
        assert _finite_or_none(info.expires_at)
        assert info.token_value not in repr(info) or info.token_value in "TokenInfo(token_value='***'"


@PROPERTY
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"access_token": json_values}, optional={"refresh_token": json_values, "expires_in": json_values}
        ),
    )
)
def test_oauth_token(body: object) -> None:
    token = _outcome(parse_oauth_token, body)
    if not isinstance(token, AnaplanResponseError):
        assert isinstance(token, OAuthToken)
        assert token.access_token and token.access_token == token.access_token.strip()
        assert token.refresh_token is None or token.refresh_token.strip()
        assert _finite_or_none(token.expires_in)


def test_row_counts_never_overflow_a_float_nor_go_negative() -> None:
    """Summed huge counts once became an int no float can hold, and the scrape failed on it."""
    values = ["totalRowCount", "1e308", "failedCount", "-5", "ignoredCount", "2.5", "successRowCount", "nan"]
    body = {
        "taskId": "T",
        "taskState": "COMPLETE",
        "result": {"successful": True, "details": [{"values": values}, {"values": values}]},
    }
    task = parse_task_status(body)
    assert task.result is not None and task.result.row_counts is not None
    counts = task.result.row_counts.as_dict()
    assert all(type(v) is int and 0 <= v <= 2 * MAX_EXACT for v in counts.values()), counts
    assert counts["failed"] == 0 and counts["ignored"] == 4


def test_deeply_nested_results_do_not_exhaust_the_stack() -> None:
    innermost: dict[str, object] = {"successful": True, "objectId": "117000000001"}
    for _ in range(20_000):
        innermost = {"successful": True, "nestedResults": [innermost]}
    task = parse_task_status({"taskId": "T", "taskState": "COMPLETE", "result": innermost})
    assert task.result is not None
    depth, node = 0, task.result
    while node.nested:
        depth, node = depth + 1, node.nested[0]
    assert 0 < depth <= 64


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**400, "1e400", "nan"])
def test_non_finite_numbers_are_absent_not_errors(value: object) -> None:
    task = parse_task_status(
        {"taskId": "T", "taskState": "IN_PROGRESS", "progress": value, "creationTime": value}
    )
    assert task.progress is None and task.creation_time is None
