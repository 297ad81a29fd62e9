"""The Integration API's answers to one authenticated GET: the workspace and model listings, a model, its
object listings and process metadata, an object's task list and a task's status, each paged as Anaplan
pages them (``offset``/``limit``, with ``next`` and ``previous`` links).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..anaplan.models import ObjectType
from . import payloads
from .response import Response, error_response
from .routes import KINDS, segments, split_model_path
from .scenario_types import SimModel

if TYPE_CHECKING:
    from .app import Simulator

MAX_PAGE = 5000


class IntegrationRequest:
    """One authenticated GET on the Integration API."""

    def __init__(self, sim: Simulator, path: str, query: dict[str, list[str]], host: str) -> None:
        self.sim = sim
        self.engine = sim.engine
        self.path = path
        self.query = query
        self.host = host
        self.now = sim.clock()

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def answer(self) -> Response:
        parts = segments(self.path)[2:]
        if parts == ["workspaces"]:
            details = self.param("tenantDetails") == "true"
            items = [payloads.workspace_item(ws, details) for ws in self.sim.scenario.workspaces]
            return self.page("workspaces", payloads.schema(None, "workspace"), items)
        if parts == ["models"]:
            items = [payloads.model_item(ws, m) for ws in self.sim.scenario.workspaces for m in ws.models]
            return self.page("models", payloads.schema(None, "model"), items)
        if len(parts) == 3 and parts[0] == "workspaces" and parts[2] == "models":
            ws = self.engine.workspace(parts[1])
            if ws is None:
                return error_response(404, self.path)
            items = [payloads.model_item(ws, m) for m in ws.models]
            return self.page("models", payloads.schema(None, "model"), items)
        split = split_model_path(parts)
        if split is None:
            return error_response(404, self.path)
        ws_id, model_id, rest = split
        if len(rest) in (3, 4) and rest[0] in KINDS and rest[2] == "tasks":
            return self.tasks(ws_id, model_id, KINDS[rest[0]], rest[1], rest[3] if len(rest) == 4 else None)
        found = self.engine.model(model_id, ws_id)
        if found is None:
            return error_response(404, self.path)
        ws, model = found
        if not rest:
            if ws_id is not None:  # GET /workspaces/{w}/models/{m} is 405 on Anaplan
                return error_response(405, self.path)
            return Response(
                200, payloads.envelope(payloads.schema(None, "model"), model=payloads.model_item(ws, model))
            )
        if rest[0] not in KINDS:
            return error_response(404, self.path)
        kind = KINDS[rest[0]]
        if len(rest) == 1:
            items = [payloads.object_item(obj) for obj in model.of_type(kind)]
            return self.page(kind.collection, payloads.schema(model.id, kind.value), items)
        obj = model.by_id.get(rest[1])
        if len(rest) == 2 and kind is ObjectType.PROCESS and obj is not None and obj.type is kind:
            metadata = payloads.process_metadata(obj, model)
            return Response(
                200, payloads.envelope(payloads.schema(None, "process"), processMetadata=metadata)
            )
        return error_response(404, self.path)

    def tasks(
        self, ws_id: str | None, model_id: str, kind: ObjectType, obj_id: str, task_id: str | None
    ) -> Response:
        found = self.engine.model(model_id, ws_id)
        model: SimModel | None = found[1] if found else None
        obj = model.by_id.get(obj_id) if model else None
        if obj is not None and obj.type is not kind:
            obj = None
        if task_id is None:
            return self.task_list(found[0].id if found else "", model_id, obj)
        if found is None or model is None or obj is None:
            return error_response(404, self.path)
        run = self.engine.find_run(found[0].id, model.id, obj, task_id, self.now)
        if run is None:
            return error_response(404, self.path)
        details = self.param("includeProcessDetails") == "true"
        task = payloads.task_status(self.engine.view(run, self.now), model, details)
        return Response(200, payloads.envelope(payloads.schema(model.id, "task"), task=task))

    def task_list(self, ws_id: str, model_id: str, obj: Any) -> Response:
        """Unknown parents answer 200 with an empty list, as Anaplan does (NO ACCESS masking)."""
        schema = payloads.schema(model_id, "task")
        if obj is None:
            return self.page("tasks", schema, [])
        indices = self.engine.indices(obj, self.now)
        newest_first = (self.param("sort") or "").replace(" ", "") in ("-creationTime", "-creationDate")
        if self.sim.faults.settings.ignore_sort and self.sim.faults.applies_to(True, self.path):
            newest_first = False  # a fault: Anaplan's default order, oldest first
        ordered = indices[::-1] if newest_first else indices
        paging = self.paging()
        if isinstance(paging, Response):
            return paging
        offset, limit = paging
        chosen = ordered[offset : offset + limit]
        items = [
            payloads.task_summary(self.engine.view(self.engine.run(ws_id, model_id, obj, k), self.now))
            for k in chosen
        ]
        return self.page("tasks", schema, items, total=len(indices), paging=paging)

    def paging(self) -> tuple[int, int] | Response:
        try:
            offset = int(self.param("offset") or 0)
            limit = min(int(self.param("limit") or MAX_PAGE), MAX_PAGE)
        except ValueError:
            return error_response(400, self.path)
        if offset < 0 or limit < 1:
            return error_response(400, self.path)
        return offset, limit

    def page(
        self,
        key: str,
        schema: str,
        items: list[dict[str, Any]],
        total: int | None = None,
        paging: tuple[int, int] | None = None,
    ) -> Response:
        if total is None:  # slice here; callers that page lazily pass the page and the total
            window = self.paging()
            if isinstance(window, Response):
                return window
            paging = window
            total = len(items)
            items = items[window[0] : window[0] + window[1]]
        assert paging is not None
        offset, limit = paging
        links: dict[str, str] = {}
        if offset + len(items) < total:
            links["next"] = self.link(offset + limit, limit)
        if offset > 0:
            links["previous"] = self.link(max(offset - limit, 0), limit)
        return Response(200, payloads.paged(schema, key, items, offset, total, links))

    def link(self, offset: int, limit: int) -> str:
        query = {k: v[-1] for k, v in self.query.items() if k not in ("offset", "limit")}
        query.update(offset=str(offset), limit=str(limit))
        return f"http://{self.host}{self.path}?{urlencode(query)}"
