"""Turn configured targets (IDs or names, or "*") into the concrete objects to watch, with readable names.

Runs at start-up, on the discovery interval and after a reload (sooner, with backoff, after a failure). A
target that cannot be resolved keeps its previous resolution; an explicitly configured ID that cannot be
looked up is still watched under its ID, so its failures show up as ``anaplan_target_up 0`` instead of the
object silently disappearing.

Discovery is also the only one that can tell that Anaplan does not confirm an object (``lookup.Absence``):
an ID absent from its model's list, a workspace or model not listed, a model listed but masked as NO ACCESS.
Anaplan answers such an object's task list with an empty 200, like that of an object that never ran, so the
object carries its absence to the poller, and every discovery (retried with backoff while there are errors)
looks again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ..anaplan.errors import AnaplanError
from ..anaplan.lookup import Absence, is_object_id, masks_no_access, matches
from ..anaplan.models import Model, ModelObject, ObjectType, ProcessMetadata, Workspace
from ..config.targets import ObjectSelection, TargetConfig
from ..snapshot import ObjectRef

log = logging.getLogger(__name__)


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
    absence: Absence | None = None
    """Why Anaplan does not confirm the object (watched under its ID all the same); None: confirmed, or
    not known (a listing that failed for another reason)."""


class _Absent(LookupError):
    """A target's workspace or model is not listed, or its model is masked as NO ACCESS; ``workspace`` and
    ``model`` are what was found of it (to name the objects watched by ID)."""

    def __init__(
        self, message: str, absence: Absence, workspace: Workspace | None = None, model: Model | None = None
    ) -> None:
        super().__init__(message)
        self.absence = absence
        self.workspace = workspace
        self.model = model


@dataclass
class DiscoveryResult:
    objects: list[WatchedObject]
    errors: list[str]
    failed_targets: set[int]
    """Indexes of targets whose resolution failed (their previous objects should be kept)."""
    fallbacks: dict[int, list[WatchedObject]] = field(default_factory=dict)
    """For failed targets: the objects configured by ID, to watch under their IDs,
    unless an earlier discovery knows better."""
    absent_targets: dict[int, Absence] = field(default_factory=dict)
    """Failed targets that Anaplan answered for: their workspace or model is not listed (``NOT_FOUND``), or
    the model is masked (``NO_ACCESS``). Whatever is watched for them is unconfirmed."""
    reported: set[str] = field(default_factory=set)
    """The errors (of ``errors``) that only say that Anaplan does not confirm objects which are watched under
    their IDs all the same: each such object reports it on its own series (``anaplan_target_not_found``), so
    these do not make ``anaplan_up`` 0. A name or a "*" that cannot be resolved has no series of its own."""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def failing(self) -> list[str]:
        """The errors that no object reports on its own series (they make ``anaplan_up`` 0)."""
        return [error for error in self.errors if error not in self.reported]


_Named = TypeVar("_Named", Workspace, Model, ModelObject)


def _match(items: Iterable[_Named], wanted: str) -> _Named | None:
    """The first item matching ``wanted`` (``lookup.matches``: ID, code, then name), warning of several."""
    found = matches(items, wanted)
    if len(found) > 1:
        log.warning("name %r matches %d objects; watching the first (%s)", wanted, len(found), found[0].id)
    return found[0] if found else None


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
                    raise _Absent(f"workspace {target.workspace!r} not found", Absence.NOT_FOUND)
                if workspace.id not in models_by_workspace:
                    models_by_workspace[workspace.id] = self._client.list_models(workspace.id)
                model = _match(models_by_workspace[workspace.id], target.model)
                if model is None:
                    raise _Absent(
                        f"model {target.model!r} not found in workspace {workspace.name!r}",
                        Absence.NOT_FOUND,
                        workspace,
                    )
                errors = self._resolve_objects(index, target, workspace, model, result.objects)
            except _Absent as exc:
                result.errors.append(f"targets[{index}]: {exc}")
                if _by_id_alone(target.selections.values()):  # each object it names is watched by ID
                    result.reported.add(result.errors[-1])
                result.failed_targets.add(index)
                result.absent_targets[index] = exc.absence
                result.fallbacks[index] = _by_id_only(index, target, exc.absence, exc.workspace, exc.model)
                continue
            except AnaplanError as exc:
                result.errors.append(f"targets[{index}]: {exc}")
                result.failed_targets.add(index)
                result.fallbacks[index] = _by_id_only(index, target)
                continue
            for message, reported in errors:
                result.errors.append(f"targets[{index}]: {message}")
                if reported:
                    result.reported.add(result.errors[-1])
        for message in result.errors:
            log.warning("discovery: %s", message)
        return result

    def _resolve_objects(
        self, index: int, target: TargetConfig, workspace: Workspace, model: Model, out: list[WatchedObject]
    ) -> list[tuple[str, bool]]:
        """Append the target's objects to ``out``; return its errors, each with whether it only says that
        objects watched by ID are not confirmed (``DiscoveryResult.reported``)."""
        errors: list[tuple[str, bool]] = []
        for kind in ObjectType:
            selection = target.selections.get(kind)
            if selection is None or (not selection.all and not selection.items):
                continue
            # Why an object missing from ``available`` is not confirmed (None: the listing failed).
            unlisted: Absence | None = Absence.NOT_FOUND
            try:
                available = self._client.list_objects(workspace.id, model.id, kind)
            except AnaplanError as exc:
                if masks_no_access(exc):
                    # The model is listed but not readable: Anaplan's NO ACCESS. A "*" cannot be resolved,
                    # so the whole target keeps what it had (``absent_targets`` marks it unconfirmed).
                    message = (
                        f"NO ACCESS to model {model.name!r} ({model.id}): it is listed, but reading its "
                        f"{kind.collection} answers HTTP {exc.status}"
                    )
                    if selection.all:
                        raise _Absent(message, Absence.NO_ACCESS, workspace, model) from exc
                    errors.append((message, _by_id_alone([selection])))
                    unlisted = Absence.NO_ACCESS
                else:
                    if selection.all:
                        raise
                    errors.append((f"cannot list {kind.collection}: {exc}", False))
                    unlisted = None
                available = []
            chosen: list[tuple[ModelObject, float | None, float | None, Absence | None]] = []
            if selection.all:
                chosen.extend((obj, target.expected_every, target.max_duration, None) for obj in available)
            for selector in selection.items:
                found = _match(available, selector.ref)
                absence = None
                if found is None:
                    if unlisted is Absence.NOT_FOUND:
                        message = f"{kind.value} {selector.ref!r} not found in model {model.name!r}"
                        errors.append((message, is_object_id(selector.ref)))
                    if not is_object_id(selector.ref):
                        continue
                    # Still watched under its ID: its polls will tell if the listing hides it (a run
                    # listed confirms it), and its absence is reported on its own series meanwhile.
                    found = ModelObject(id=selector.ref, name=selector.ref, type=kind)
                    absence = unlisted
                chosen = [c for c in chosen if c[0].id != found.id]
                policy = target.policy(selector)
                chosen.append((found, policy.expected_every, policy.max_duration, absence))
            for obj, expected_every, max_duration, absence in chosen:
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
                out.append(WatchedObject(ref, index, absence))
        return errors

    def step_names(self, ref: ObjectRef) -> dict[str, str]:
        """A process's step names by step object ID (raises AnaplanError)."""
        metadata = self._client.process_metadata(ref.workspace_id, ref.model_id, ref.object_id)
        return {step.object_id: step.name or step.object_id for step in metadata.steps}


def _by_id_alone(selections: Iterable[ObjectSelection]) -> bool:
    """The selections name at least one object and only by ID (no "*", no name): each is watched under its
    ID, so an error about them all is reported on their own series."""
    chosen = list(selections)
    refs = [selector.ref for selection in chosen for selector in selection.items]
    return bool(refs) and not any(s.all for s in chosen) and all(is_object_id(ref) for ref in refs)


def _by_id_only(
    index: int,
    target: TargetConfig,
    absence: Absence | None = None,
    workspace: Workspace | None = None,
    model: Model | None = None,
) -> list[WatchedObject]:
    """Objects configured by ID, named by their IDs (and by the ``workspace`` and ``model`` where they were
    found): watchable without any list call."""
    watched = []
    for kind, selection in target.selections.items():
        for selector in selection.items:
            if is_object_id(selector.ref):
                policy = target.policy(selector)
                ref = ObjectRef(
                    workspace_id=workspace.id if workspace else target.workspace,
                    workspace_name=(workspace.name or workspace.id) if workspace else target.workspace,
                    model_id=model.id if model else target.model,
                    model_name=(model.name or model.id) if model else target.model,
                    object_type=kind,
                    object_id=selector.ref,
                    object_name=selector.ref,
                    expected_every=policy.expected_every,
                    max_duration=policy.max_duration,
                )
                watched.append(WatchedObject(ref, index, absence))
    return watched
