"""Turn configured targets (IDs or names, or "*") into the concrete objects to watch, with readable names.

Runs at start-up, on the discovery interval and after a reload (sooner, with backoff, after a failure). A
target that cannot be resolved keeps its previous resolution; an explicitly configured ID that cannot be
looked up is still watched under its ID, so its failures show up as ``anaplan_target_up 0`` instead of the
object silently disappearing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ..anaplan.errors import AnaplanError
from ..anaplan.models import Model, ModelObject, ObjectType, ProcessMetadata, Workspace
from ..config.targets import TargetConfig
from ..snapshot import ObjectRef

log = logging.getLogger(__name__)

_OBJECT_ID = re.compile(r"^\d{12}$")


class CatalogReader(Protocol):
    """The client calls discovery needs (``AnaplanClient`` provides them)."""

    def list_workspaces(self) -> list[Workspace]: ...

    def list_models(self, workspace_id: str) -> list[Model]: ...

    def list_objects(
        self, workspace_id: str, model_id: str, object_type: ObjectType
    ) -> list[ModelObject]: ...

    def process_metadata(self, workspace_id: str, model_id: str, process_id: str) -> ProcessMetadata: ...


@dataclass(frozen=True)
class WatchedObject:
    ref: ObjectRef
    target_index: int = 0


@dataclass
class DiscoveryResult:
    objects: list[WatchedObject]
    errors: list[str]
    failed_targets: set[int]
    """Indexes of targets whose resolution failed (their previous objects should be kept)."""
    fallbacks: dict[int, list[WatchedObject]] = field(default_factory=dict)
    """For failed targets: the objects configured by ID, to watch under their IDs,
    unless an earlier discovery knows better."""

    @property
    def ok(self) -> bool:
        return not self.errors


_Named = TypeVar("_Named", Workspace, Model, ModelObject)


def _match(items: Iterable[_Named], wanted: str) -> _Named | None:
    """Match by ID (exact, then case-insensitive), then code, then name (case-insensitive)."""
    items = list(items)
    for item in items:
        if item.id == wanted:
            return item
    folded = wanted.casefold()
    for item in items:
        if item.id.casefold() == folded:
            return item
    for item in items:
        if isinstance(item, ModelObject) and item.code and item.code.casefold() == folded:
            return item
    matches = [item for item in items if item.name.casefold() == folded]
    if len(matches) > 1:
        log.warning(
            "name %r matches %d objects; watching the first (%s)", wanted, len(matches), matches[0].id
        )
    return matches[0] if matches else None


class Discoverer:
    """Resolves targets with one pass of list calls (workspaces once, models once per workspace).

    Process metadata (one request per process, for step names) is not part of a discovery: the poller reads
    it with :meth:`step_names` as low-priority work of its own, once per process and then rarely.
    """

    def __init__(self, client: CatalogReader) -> None:
        self._client = client

    def discover(self, targets: Iterable[TargetConfig]) -> DiscoveryResult:
        result = DiscoveryResult(objects=[], errors=[], failed_targets=set())
        workspaces: list[Workspace] | None = None
        models_by_workspace: dict[str, list[Model]] = {}
        for index, target in enumerate(targets):
            try:
                if workspaces is None:
                    workspaces = self._client.list_workspaces()
                workspace = _match(workspaces, target.workspace)
                if workspace is None:
                    raise LookupError(f"workspace {target.workspace!r} not found")
                if workspace.id not in models_by_workspace:
                    models_by_workspace[workspace.id] = self._client.list_models(workspace.id)
                model = _match(models_by_workspace[workspace.id], target.model)
                if model is None:
                    raise LookupError(f"model {target.model!r} not found in workspace {workspace.name!r}")
                errors = self._resolve_objects(index, target, workspace, model, result.objects)
            except (AnaplanError, LookupError) as exc:
                result.errors.append(f"targets[{index}]: {exc}")
                result.failed_targets.add(index)
                result.fallbacks[index] = _by_id_only(index, target)
                continue
            if errors:
                result.errors.extend(f"targets[{index}]: {e}" for e in errors)
        for message in result.errors:
            log.warning("discovery: %s", message)
        return result

    def _resolve_objects(
        self, index: int, target: TargetConfig, workspace: Workspace, model: Model, out: list[WatchedObject]
    ) -> list[str]:
        errors: list[str] = []
        for kind in ObjectType:
            selection = target.selections.get(kind)
            if selection is None or (not selection.all and not selection.items):
                continue
            try:
                available = self._client.list_objects(workspace.id, model.id, kind)
            except AnaplanError as exc:
                if selection.all:
                    raise
                errors.append(f"cannot list {kind.collection}: {exc}")
                available = []
            chosen: list[tuple[ModelObject, float | None, float | None]] = []
            if selection.all:
                chosen.extend((obj, target.expected_every, target.max_duration) for obj in available)
            for selector in selection.items:
                found = _match(available, selector.ref)
                if found is None:
                    errors.append(f"{kind.value} {selector.ref!r} not found in model {model.name!r}")
                    if not _OBJECT_ID.match(selector.ref):
                        continue
                    # Still watched under its ID: the listing may hide it, and its polls will tell.
                    found = ModelObject(id=selector.ref, name=selector.ref, type=kind)
                chosen = [c for c in chosen if c[0].id != found.id]
                policy = target.policy(selector)
                chosen.append((found, policy.expected_every, policy.max_duration))
            for obj, expected_every, max_duration in chosen:
                ref = ObjectRef(
                    workspace_id=workspace.id,
                    workspace_name=workspace.name or workspace.id,
                    model_id=model.id,
                    model_name=model.name or model.id,
                    object_type=kind,
                    object_id=obj.id,
                    object_name=obj.name or obj.id,
                    expected_every=expected_every,
                    max_duration=max_duration,
                )
                out.append(WatchedObject(ref, index))
        return errors

    def step_names(self, ref: ObjectRef) -> dict[str, str]:
        """A process's step names by step object ID (raises AnaplanError)."""
        metadata = self._client.process_metadata(ref.workspace_id, ref.model_id, ref.object_id)
        return {step.object_id: step.name or step.object_id for step in metadata.steps}


def _by_id_only(index: int, target: TargetConfig) -> list[WatchedObject]:
    """Objects configured by ID, named by their IDs: watchable without any list call."""
    watched = []
    for kind, selection in target.selections.items():
        for selector in selection.items:
            if _OBJECT_ID.match(selector.ref):
                policy = target.policy(selector)
                ref = ObjectRef(
                    workspace_id=target.workspace,
                    workspace_name=target.workspace,
                    model_id=target.model,
                    model_name=target.model,
                    object_type=kind,
                    object_id=selector.ref,
                    object_name=selector.ref,
                    expected_every=policy.expected_every,
                    max_duration=policy.max_duration,
                )
                watched.append(WatchedObject(ref, index))
    return watched
