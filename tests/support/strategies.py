"""Hypothesis strategies shared by the property tests: JSON values shaped like Anaplan's, and worse."""

from __future__ import annotations

from hypothesis import strategies as st

# Keys of Anaplan's documents (tasks, results, listings, auth), so that generated objects reach deep code.
ANAPLAN_KEYS = (
    "task", "tasks", "taskId", "taskState", "creationTime", "progress", "currentStep", "result",
    "successful", "failureDumpAvailable", "objectId", "objectName", "nestedResults", "details", "values",
    "occurrences", "localMessageText", "type", "duration", "startTime", "cancelledBy", "meta", "paging",
    "offset", "currentPageSize", "totalSize", "status", "processMetadata", "actions", "actionType", "id",
    "name", "code", "active", "currentWorkspaceId", "activeState", "workspaces", "models", "imports",
    "exports", "processes", "tokenInfo", "tokenValue", "expiresAt", "access_token", "refresh_token",
    "expires_in", "totalRowCount", "successRowCount", "failedCount", "ignoredCount", "warningsRowCount",
)  # fmt: skip

# Strings Anaplan's loose documents (or a broken proxy) put where numbers, booleans and states belong.
TRICKY_STRINGS = (
    "", " ", "1112", "1677624625790", "-5", "0", "1.0", "1e308", "-1e308", "1e400", "nan", "NaN", "inf",
    "-Infinity", "1_000", "0x10", " 42 ", "true", "false", "TRUE", "COMPLETE", "complete", "IN_PROGRESS",
    "CANCELLED", "CANCELLING", "NOT_STARTED", "9" * 400, "١٢", "\x00", "\u2028", "null",
)  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, 1, -1, 2**53, 2**63, 2**64, 10**308, 10**309, -(10**309)]),
    st.floats(),  # includes nan, +-inf, subnormals, +-1.8e308
    st.sampled_from([1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0]),
    st.text(max_size=12),
    st.sampled_from(TRICKY_STRINGS),
)

json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
        st.dictionaries(st.sampled_from(ANAPLAN_KEYS), children, max_size=8),
    ),
    max_leaves=40,
)
"""Any value ``json.loads`` could give (plus ints too big for a float), biased towards Anaplan's keys."""


def _flat_values(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """``details[].values``: a flat [key, value, ...] list with row-count keys, or anything else."""
    count = st.integers(min_value=-(10**20), max_value=10**20).map(str) | st.sampled_from(TRICKY_STRINGS)
    pair = st.tuples(st.sampled_from(ANAPLAN_KEYS[-5:]) | st.text(max_size=4), count | scalars)
    flat = st.lists(pair, min_size=1, max_size=6).map(lambda pairs: [x for p in pairs for x in p])
    return flat | flat | children


def task_documents() -> st.SearchStrategy[object]:
    """Task-status documents near the real shape: the right keys, each holding a drawn value."""
    result = st.deferred(lambda: _result)
    detail = st.fixed_dictionaries(
        {"values": _flat_values(json_values)},
        optional={"type": scalars, "occurrences": scalars, "localMessageText": scalars},
    )
    _result = st.fixed_dictionaries(
        {"successful": st.booleans() | st.sampled_from(["true", "false", 1, 0])},
        optional={
            "failureDumpAvailable": st.booleans() | scalars,
            "objectId": st.text(max_size=12) | scalars,
            "duration": scalars,
            "startTime": scalars,
            "details": st.lists(detail, min_size=1, max_size=3)
            | st.lists(detail | json_values, max_size=3)
            | json_values,
            "nestedResults": st.lists(result | json_values, max_size=3) | json_values,
        },
    )
    task = st.fixed_dictionaries(
        {
            "taskId": st.text(max_size=12) | scalars,
            "taskState": st.sampled_from(TRICKY_STRINGS) | scalars,
        },
        optional={
            "creationTime": scalars,
            "progress": scalars,
            "currentStep": scalars,
            "cancelledBy": scalars,
            "result": _result | _result | json_values,
        },
    )
    return st.one_of(task, st.fixed_dictionaries({"task": task | json_values}), json_values)
