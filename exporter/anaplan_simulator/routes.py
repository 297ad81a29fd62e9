"""Which endpoint a request path names: its area (integration, auth or other) and the endpoint kind the
request statistics count it under, and the path pieces the Integration API answers are built from.
"""

from __future__ import annotations

from anaplan_exporter.anaplan.models import ObjectType

KINDS = {kind.collection: kind for kind in ObjectType}
_AUTH_KINDS = {
    "/token/authenticate": "authenticate",
    "/token/refresh": "refresh",
    "/token/validate": "validate",
    "/token/logout": "logout",
    "/oauth/token": "oauth_token",
}


def classify(path: str) -> tuple[str, str]:
    """(area, kind): area is integration, auth or other; kind names the endpoint for the stats."""
    if path.startswith("/2/0/") or path == "/2/0":
        return "integration", _integration_kind(segments(path)[2:])
    if path in _AUTH_KINDS:
        return "auth", _AUTH_KINDS[path]
    return "other", "unknown"


def segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def split_model_path(parts: list[str]) -> tuple[str | None, str, list[str]] | None:
    """(workspace id or None, model id, rest) for ``[workspaces/{w}/]models/{m}/...`` paths."""
    if len(parts) >= 4 and parts[0] == "workspaces" and parts[2] == "models":
        return parts[1], parts[3], parts[4:]
    if len(parts) >= 2 and parts[0] == "models":
        return None, parts[1], parts[2:]
    return None


def _integration_kind(parts: list[str]) -> str:
    if parts == ["workspaces"]:
        return "workspaces"
    if parts == ["models"] or (len(parts) == 3 and parts[0] == "workspaces" and parts[2] == "models"):
        return "models"
    split = split_model_path(parts)
    if split is None:
        return "not_found"
    rest = split[2]
    if not rest:
        return "model"
    if rest[0] not in KINDS:
        return "not_found"
    return {1: "objects", 2: "object", 3: "task_list", 4: "task_status"}.get(len(rest), "not_found")
