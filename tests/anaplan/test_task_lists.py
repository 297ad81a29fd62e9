"""Cheap task lists: newest first in small pages, only as far back as asked, and every page for a server
that ignores ``sort`` (remembered per object, logged once)."""

from __future__ import annotations

import json
import logging
import math
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from anaplan_exporter.anaplan.auth import StaticTokenCredentials
from anaplan_exporter.anaplan.models import ObjectType

from .conftest import MakeClient
from .fakes import API
from .fakes import T0 as NOW

STATIC = StaticTokenCredentials("static-tok")
W, M = "8a8b8c8d8e8f8g8i", "75A40874E6B64FA3AE0743278996850F"
PROCESS, OTHER = "118000000002", "118000000003"
T0 = NOW - 10 * 86_400.0
"""Ten days before the client's clock: 10,000 runs a minute apart all lie in the past (the client drops
times far ahead of its clock)."""


class TaskListServer:
    """One object's task list as Anaplan pages it: ``runs`` runs a minute apart, oldest first unless
    ``sort=-creationDate`` is asked for and ``honours_sort``."""

    def __init__(self, http: responses.RequestsMock, object_id: str, runs: int, honours_sort: bool = True):
        self.runs = runs
        self.honours_sort = honours_sort
        self.queries: list[dict[str, str]] = []
        self.after_request: list[int] = []
        """Runs created after each numbered request (0: the first), before the next one is answered."""
        http.add_callback(responses.GET, self.url(object_id), callback=self.answer)

    @staticmethod
    def url(object_id: str) -> str:
        return f"{API}/workspaces/{W}/models/{M}/processes/{object_id}/tasks"

    def created(self, index: int) -> float:
        """The creation time of run ``index`` (0: the oldest), epoch seconds."""
        return T0 + 60.0 * index

    def answer(self, request: object) -> tuple[int, dict[str, str], str]:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}  # type: ignore[attr-defined]
        self.queries.append(query)
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 5000))
        order = list(range(self.runs))
        if self.honours_sort and query.get("sort") == "-creationDate":
            order.reverse()
        chosen = order[offset : offset + limit]
        tasks = [
            {"taskId": f"T{i:05d}", "taskState": "COMPLETE", "creationTime": int(self.created(i) * 1000)}
            for i in chosen
        ]
        paging = {"currentPageSize": len(tasks), "offset": offset, "totalSize": self.runs}
        if len(self.queries) <= len(self.after_request):
            self.runs += self.after_request[len(self.queries) - 1]
        return 200, {}, json.dumps({"meta": {"paging": paging}, "tasks": tasks})


def _list(make_client: MakeClient, **kwargs: object) -> list[str]:
    client = make_client(STATIC)
    return [t.task_id for t in client.list_tasks(W, M, ObjectType.PROCESS, PROCESS, **kwargs)]  # type: ignore[arg-type]


def test_a_look_asks_for_the_newest_runs_first_in_one_small_page(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    server = TaskListServer(http, PROCESS, runs=10_000)
    newest = server.created(9_999)
    tasks = make_client(STATIC).list_tasks(W, M, ObjectType.PROCESS, PROCESS, since=newest, limit=50)
    assert server.queries == [{"sort": "-creationDate", "offset": "0", "limit": "50"}]
    assert [t.task_id for t in tasks] == [f"T{i:05d}" for i in range(9_999, 9_949, -1)]
    assert tasks[0].creation_time == newest


def test_the_first_look_reads_the_first_page_alone(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    server = TaskListServer(http, PROCESS, runs=10_000)
    assert len(_list(make_client, since=math.inf, limit=50)) == 50
    assert len(server.queries) == 1


@pytest.mark.parametrize(
    ("back", "pages"),
    [(0, 1), (48, 1), (49, 2), (50, 2), (120, 3), (9_999, 200)],
)
def test_further_pages_are_read_only_while_the_look_back_needs_them(
    http: responses.RequestsMock, make_client: MakeClient, back: int, pages: int
) -> None:
    """``since`` is the creation time of the run ``back`` places below the newest: every run created at or
    after it is listed, and a page is read only when the one before ends with runs not older than it."""
    server = TaskListServer(http, PROCESS, runs=10_000)
    listed = _list(make_client, since=server.created(9_999 - back), limit=50)
    assert [q["offset"] for q in server.queries] == [str(50 * p) for p in range(pages)]
    assert listed == [f"T{i:05d}" for i in range(9_999, 9_999 - 50 * pages, -1)]
    assert f"T{9_999 - back:05d}" in listed


def test_a_run_created_between_two_page_reads_leaves_none_out_and_none_twice(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    server = TaskListServer(http, PROCESS, runs=200)
    server.after_request = [1]  # newest first, the new run pushes the others one place down
    listed = _list(make_client, since=server.created(120), limit=50)
    assert len(server.queries) == 2
    assert listed == [f"T{i:05d}" for i in range(199, 100, -1)]  # page 2 repeated T00150: listed once


def test_without_since_the_whole_list_is_read_in_large_pages(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    server = TaskListServer(http, PROCESS, runs=10_000)
    listed = _list(make_client)
    assert [(q["sort"], q["offset"], q["limit"]) for q in server.queries] == [
        ("-creationDate", "0", "5000"),
        ("-creationDate", "5000", "5000"),
    ]
    assert listed == [f"T{i:05d}" for i in range(9_999, -1, -1)]


def test_a_server_that_ignores_sort_is_read_whole_remembered_and_logged_once(
    http: responses.RequestsMock, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anaplan_exporter.anaplan.client")
    server = TaskListServer(http, PROCESS, runs=10_000, honours_sort=False)
    other = TaskListServer(http, OTHER, runs=300, honours_sort=False)
    client = make_client(STATIC)
    newest = server.created(9_999)

    first = client.list_tasks(W, M, ObjectType.PROCESS, PROCESS, since=newest, limit=50)
    # The small page came oldest first: the order gives it away, and every page is read instead.
    assert [q["limit"] for q in server.queries] == ["50", "5000", "5000"]
    assert [t.task_id for t in first] == [f"T{i:05d}" for i in range(9_999, -1, -1)]  # newest first
    server.queries.clear()
    again = client.list_tasks(W, M, ObjectType.PROCESS, PROCESS, since=newest, limit=50)
    assert [q["limit"] for q in server.queries] == ["5000", "5000"]  # remembered: no small page first
    assert again == first

    client.list_tasks(W, M, ObjectType.PROCESS, OTHER, since=other.created(299), limit=50)
    client.list_tasks(W, M, ObjectType.PROCESS, OTHER, since=other.created(299), limit=50)
    assert [q["limit"] for q in other.queries] == ["50", "5000", "5000"]
    warnings = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert (
        f"process {PROCESS}" in warnings[0].getMessage() and "sort=-creationDate" in warnings[0].getMessage()
    )
    assert any(f"process {OTHER}" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_an_unsorted_list_that_fits_one_page_is_not_read_again(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    server = TaskListServer(http, PROCESS, runs=30, honours_sort=False)
    listed = _list(make_client, since=server.created(29), limit=50)
    assert len(server.queries) == 1
    assert listed == [f"T{i:05d}" for i in range(29, -1, -1)]
