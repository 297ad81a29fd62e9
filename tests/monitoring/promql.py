"""What the monitoring tests know about PromQL: the exporter's metric contract, names used by an expression,
and Grafana variable substitution."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# The names the exporter exposes (histograms expand to their three series).
CONTRACT_METRICS = frozenset(
    {
        "anaplan_task_state",
        "anaplan_task_progress_ratio",
        "anaplan_task_success",
        "anaplan_task_failure_dump_available",
        "anaplan_task_created_timestamp_seconds",
        "anaplan_task_duration_seconds",
        "anaplan_task_info",
        "anaplan_task_last_success_timestamp_seconds",
        "anaplan_task_last_failure_timestamp_seconds",
        "anaplan_task_completions_total",
        "anaplan_task_step_duration_seconds",
        "anaplan_task_step_success",
        "anaplan_task_step_start_timestamp_seconds",
        "anaplan_task_step_failure_dump_available",
        "anaplan_import_rows",
        "anaplan_task_expected_interval_seconds",
        "anaplan_task_max_duration_seconds",
        "anaplan_task_learned_interval_seconds",
        "anaplan_task_success_due_timestamp_seconds",
        "anaplan_task_usual_duration_seconds",
        "anaplan_target_up",
        "anaplan_target_not_found",
        "anaplan_poll_errors_total",
        "anaplan_up",
        "anaplan_last_poll_success_timestamp_seconds",
        "anaplan_poll_duration_seconds",
        "anaplan_poll_interval_seconds",
        "anaplan_poll_oldest_age_seconds",
        "anaplan_request_budget_used_ratio",
        "anaplan_api_requests_total",
        "anaplan_exporter_config_last_reload_successful",
        "anaplan_exporter_config_last_reload_success_timestamp_seconds",
        "anaplan_exporter_state_file_kept",
        "anaplan_exporter_state_file_last_save_timestamp_seconds",
        "anaplan_exporter_state_file_save_failures_total",
        *(f"anaplan_api_request_duration_seconds_{part}" for part in ("bucket", "sum", "count")),
        "anaplan_api_retries_total",
        "anaplan_auth_failures_total",
        "anaplan_auth_refused",
        "anaplan_auth_next_attempt_timestamp_seconds",
        "anaplan_auth_token_expiry_timestamp_seconds",
        "anaplan_exporter_build_info",
        "python_info",
        "anaplan_cloudworks_info",
        "anaplan_cloudworks_running",
        "anaplan_cloudworks_last_run_start_timestamp_seconds",
        "anaplan_cloudworks_last_run_end_timestamp_seconds",
        "anaplan_cloudworks_last_run_info",
        "anaplan_cloudworks_last_run_error_code",
        "anaplan_cloudworks_last_success_timestamp_seconds",
        "anaplan_cloudworks_last_failure_timestamp_seconds",
        "anaplan_cloudworks_completions_total",
        "anaplan_cloudworks_next_run_timestamp_seconds",
        "anaplan_cloudworks_last_scheduled_run_timestamp_seconds",
        "anaplan_cloudworks_flow_step_result",
        "anaplan_cloudworks_up",
        "anaplan_cloudworks_forbidden",
        "anaplan_cloudworks_poll_errors_total",
    }
)
# Series Prometheus itself makes, plus the client library's standard process metrics.
BUILTIN_METRICS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
BUILTIN_PREFIXES = ("process_",)

_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def allowed(name: str, recorded: Iterable[str]) -> bool:
    return (
        name in CONTRACT_METRICS
        or name in BUILTIN_METRICS
        or name.startswith(BUILTIN_PREFIXES)
        or name in set(recorded)
    )


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (identifiers that are not functions, keywords or labels)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana ``$name`` / ``${name}`` variables; unknown ones raise KeyError."""
    return _VARIABLE.sub(lambda m: values[m.group(1) or m.group(2)], expr)


def grafana_escape(value: str) -> str:
    """A variable value as Grafana's Prometheus datasource writes it into a ``=~"..."`` matcher."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)
