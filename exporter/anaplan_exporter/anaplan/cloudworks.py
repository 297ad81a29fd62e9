"""The read-only CloudWorks API v2 client: integrations, integration flows, their runs and run errors.

It sends every request through the Integration API client it is given (:meth:`AnaplanClient.get_json`), so
CloudWorks costs come out of the same budget: one token (renewed once on a 401), one limiter, one
``Retry-After`` pause for every thread, the same retries, deadlines and size cap. It only ever GETs, so it
cannot run, cancel or change an integration.

Reading CloudWorks needs the Restricted Integration User (or Integration Admin) role; without it every call
answers 403 (452 "Tenant not entitled" on some paths), raised here as :class:`CloudWorksAccessError` so
that the caller can report it once and carry on with the Integration API alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import quote

from .client import AnaplanClient, following_offset
from .cloudworks_models import Flow, Integration, Run, RunError, RunHistory
from .cloudworks_parsing import (
    parse_flow,
    parse_flows,
    parse_integration,
    parse_integrations,
    parse_run,
    parse_run_errors,
    parse_run_history,
)
from .errors import AnaplanHTTPError, AnaplanPermissionError
from .parsing import parse_paging

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PAGES = 1000
"""A guard against a server whose paging never ends (1000 pages of even 25 items is 25,000 integrations;
CloudWorks caps a tenant at a few hundred)."""

NOT_ENTITLED = 452
"""CloudWorks' "Tenant not entitled": role denial on some paths, like 403 elsewhere."""


class CloudWorksAccessError(AnaplanPermissionError):
    """403 (or 452) from CloudWorks: the user lacks the integration role. The Integration API may still
    work for the same user, so this is reported, not fatal."""

    def __init__(self, status: int, message: str, endpoint: str) -> None:
        reason = "the user lacks the CloudWorks role (Restricted Integration User or Integration Admin)"
        super().__init__(status, f"{reason}: {message}" if message else reason, endpoint)


def _segment(value: str) -> str:
    return quote(str(value), safe="")


class CloudWorksClient:
    """Thread-safe, like the :class:`AnaplanClient` it sends through.

    ``base_url`` defaults to the client's ``cloudworks_url`` setting and ``page_size`` to its ``page_size``
    (CloudWorks may answer with fewer items per page than asked for; paging follows what it sends).
    """

    def __init__(self, client: AnaplanClient, *, base_url: str | None = None, page_size: int | None = None):
        self._client = client
        self._base = (base_url if base_url is not None else client.settings.cloudworks_url).rstrip("/")
        self._page_size = page_size if page_size is not None else client.settings.page_size

    def __repr__(self) -> str:
        return f"CloudWorksClient(base_url={self._base!r})"

    @property
    def page_size(self) -> int:
        """Items asked for per page of a list (CloudWorks may send fewer)."""
        return self._page_size

    # ----------------------------------------------------------------- public API

    def list_integrations(self) -> list[Integration]:
        """Every integration the user can see, with its ``latestRun`` and ``schedule`` (no ``jobs``)."""
        return self._paged("cloudworks_integrations", "/integrations", parse_integrations)

    def integration(self, integration_id: str) -> Integration:
        """One integration with its ``jobs``: the Anaplan import/export action IDs it runs."""
        return parse_integration(
            self._get("cloudworks_integration", f"/integrations/{_segment(integration_id)}")
        )

    def run_history(self, integration_id: str, *, offset: int = 0, limit: int = 10) -> RunHistory:
        """One page of an integration's runs (CloudWorks requires both ``offset`` and ``limit``)."""
        path = f"/integrations/runs/{_segment(integration_id)}"
        return parse_run_history(
            self._get("cloudworks_run_history", path, {"offset": offset, "limit": limit})
        )

    def run(self, run_id: str) -> Run:
        """One run by its ID alone; ``integration_id`` and ``flow_group_id`` say whose it is."""
        return parse_run(self._get("cloudworks_run", f"/integrations/run/{_segment(run_id)}"))

    def run_errors(self, run_id: str) -> list[RunError]:
        """The failing actions of a run, with the Anaplan task ID when one was created; [] when none."""
        return parse_run_errors(
            self._get("cloudworks_run_errors", f"/integrations/runerror/{_segment(run_id)}")
        )

    def list_flows(self) -> list[Flow]:
        """Every integration flow the user can see, with its ``latestRun`` and ``schedule`` (no steps)."""
        return self._paged("cloudworks_flows", "/integrationflows", parse_flows)

    def flow(self, flow_id: str) -> Flow:
        """One flow with its steps (the integration each runs, dependencies, skip and stop rules)."""
        return parse_flow(self._get("cloudworks_flow", f"/integrationflows/{_segment(flow_id)}"))

    # ----------------------------------------------------------------- internals

    def _get(self, endpoint: str, path: str, params: Mapping[str, str | int] | None = None) -> object:
        try:
            return self._client.get_json(endpoint, self._base + path, params)
        except AnaplanPermissionError as exc:
            raise CloudWorksAccessError(exc.status, exc.message, exc.endpoint) from None
        except AnaplanHTTPError as exc:
            if exc.status == NOT_ENTITLED:
                raise CloudWorksAccessError(exc.status, exc.message, exc.endpoint) from None
            raise

    def _paged(self, endpoint: str, path: str, parse: Callable[[object], list[T]]) -> list[T]:
        """Every page of a list, following ``meta.paging`` by ``offset``/``limit``, at most MAX_PAGES."""
        items: list[T] = []
        offset = 0
        for _ in range(MAX_PAGES):
            body = self._get(endpoint, path, {"offset": offset, "limit": self._page_size})
            page = parse(body)
            items.extend(page)
            next_offset = following_offset(parse_paging(body), offset, len(page))
            if next_offset is None:
                return items
            offset = next_offset
        log.warning("%s: stopped after %d pages; the server's paging does not end", endpoint, MAX_PAGES)
        return items
