"""The CloudWorks client: paths, paging, the 403 of a user without the integration role, GET only, and the
Integration API client's token, budget, Retry-After pause and size cap shared with it."""

from __future__ import annotations

import inspect
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from anaplan_exporter.anaplan import cloudworks
from anaplan_exporter.anaplan.auth import StaticTokenCredentials
from anaplan_exporter.anaplan.client import AnaplanClient, ClientSettings
from anaplan_exporter.anaplan.cloudworks import CloudWorksAccessError, CloudWorksClient
from anaplan_exporter.anaplan.cloudworks_models import RunResult
from anaplan_exporter.anaplan.errors import (
    AnaplanNotFoundError,
    AnaplanPermissionError,
    AnaplanRateLimitError,
    AnaplanResponseError,
    AnaplanTooLargeError,
)
from anaplan_exporter.anaplan.limiter import USAGE_WINDOW

from .conftest import MakeClient
from .fakes import API, AUTH, T0, FakeClock, RecordingObserver, load, token_body

CW = "https://cloudworks.test/2/0"
STATIC = StaticTokenCredentials("static-tok")
INTEGRATION = "e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2"
RUN = "91a01d97958d44baaa58ad8a3d45804e"
FORBIDDEN = {"status": {"code": 403, "message": "Not Permitted"}, "path": "/2/0/integrations"}


def _query(call: object) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)  # type: ignore[attr-defined]


def _client(make_client: MakeClient, **overrides: object) -> tuple[AnaplanClient, CloudWorksClient]:
    anaplan = make_client(STATIC, cloudworks_url=CW + "/", **overrides)
    return anaplan, CloudWorksClient(anaplan)


def _page(offset: int, size: int, total: int, key: str = "integrations") -> dict[str, object]:
    ident = "integrationId" if key == "integrations" else "id"
    items = [{ident: f"{n:032x}", "name": f"Item {n}"} for n in range(offset, min(offset + size, total))]
    return {
        "status": {"code": 200, "message": "Success"},
        key: items,
        "meta": {"paging": {"currentPageSize": len(items), "totalSize": total, "offset": offset}},
    }


def _starts(client: AnaplanClient) -> int:
    """Requests booked on the client's shared limiter over the last minute."""
    return round(client.budget.used_ratio() * USAGE_WINDOW / client.budget.interval)


# --------------------------------------------------------------------------- endpoints and paging


def test_the_default_base_url_is_cloudworks_primary_host() -> None:
    assert ClientSettings().cloudworks_url == "https://api.cloudworks.anaplan.com/2/0"


def test_list_integrations_follows_paging_to_the_end(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    for offset in (0, 2, 4):
        http.get(
            f"{CW}/integrations",
            json=_page(offset, 2, 5),
            match=[responses.matchers.query_param_matcher({"offset": str(offset), "limit": "2"})],
        )
    _, cw = _client(make_client, page_size=2)
    assert [i.id for i in cw.list_integrations()] == [f"{n:032x}" for n in range(5)]
    assert [_query(c)["offset"] for c in http.calls] == [["0"], ["2"], ["4"]]


def test_paging_follows_a_page_size_the_server_cut_silently(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    """Asked for 5000, CloudWorks sends 100: the next page starts at 100, not 5000."""
    for offset in (0, 100):
        http.get(
            f"{CW}/integrationflows",
            json=_page(offset, 100, 150, key="integrationFlows"),
            match=[responses.matchers.query_param_matcher({"offset": str(offset), "limit": "5000"})],
        )
    _, cw = _client(make_client)
    assert len(cw.list_flows()) == 150
    assert len(http.calls) == 2


def test_paging_that_never_ends_is_bounded(
    http: responses.RequestsMock, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cloudworks, "MAX_PAGES", 3)

    def endless(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        offset = int(parse_qs(urlsplit(str(request.url)).query)["offset"][0])
        return 200, {}, json.dumps(_page(offset, 1, 10**9))

    http.add_callback(responses.GET, f"{CW}/integrations", callback=endless)
    _, cw = _client(make_client, page_size=1)
    assert len(cw.list_integrations()) == 3
    assert len(http.calls) == 3


def test_paging_that_does_not_advance_stops(http: responses.RequestsMock, make_client: MakeClient) -> None:
    stuck = {"integrations": [], "meta": {"paging": {"currentPageSize": 0, "offset": 0, "totalSize": 40}}}
    http.get(f"{CW}/integrations", json=stuck)
    _, cw = _client(make_client)
    assert cw.list_integrations() == []
    assert len(http.calls) == 1


def test_a_list_without_paging_is_one_page(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(f"{CW}/integrations", json={"integrations": [{"integrationId": "A1"}]})
    _, cw = _client(make_client)
    assert [i.id for i in cw.list_integrations()] == ["a1"]
    assert _query(http.calls[0]) == {"offset": ["0"], "limit": ["5000"]}


def test_each_read_endpoint(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(f"{CW}/integrations/{INTEGRATION}", json=load("cloudworks_integration.json"))
    http.get(f"{CW}/integrations/runs/{INTEGRATION}", json=load("cloudworks_run_history.json"))
    http.get(f"{CW}/integrations/run/{RUN}", json=load("cloudworks_run.json"))
    http.get(f"{CW}/integrations/runerror/{RUN}", json=load("cloudworks_run_errors.json"))
    http.get(f"{CW}/integrationflows", json=load("cloudworks_flows.json"))
    http.get(f"{CW}/integrationflows/d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1", json=load("cloudworks_flow.json"))
    _, cw = _client(make_client)
    assert cw.integration(INTEGRATION).anaplan_object_ids == ("112000000007", "112000000008")
    history = cw.run_history(INTEGRATION, offset=3, limit=3)
    assert _query(http.calls[1]) == {"offset": ["3"], "limit": ["3"]}
    assert [r.result for r in history.runs] == [RunResult.PARTIAL, RunResult.FAILURE, RunResult.CANCELLED]
    assert cw.run(RUN).integration_id == "152b8666a0234754afc36f1cde0fd9d2"
    assert [e.action_id for e in cw.run_errors(RUN)] == ["112000000007"]
    assert [f.name for f in cw.list_flows()] == ["Month-end close", "Never run"]
    assert len(cw.flow("d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1").steps) == 3


def test_no_errors_answered_as_an_empty_object(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(
        f"{CW}/integrations/runerror/{RUN}", json={"status": {"code": 200, "message": "Success"}, "runs": {}}
    )
    _, cw = _client(make_client)
    assert cw.run_errors(RUN) == []


def test_ids_are_escaped_in_paths(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get(f"{CW}/integrations/run/a%2F..%2Fb", json=load("cloudworks_run.json"))
    _, cw = _client(make_client)
    cw.run("a/../b")
    assert urlsplit(http.calls[0].request.url).path == "/2/0/integrations/run/a%2F..%2Fb"


def test_a_base_url_can_be_given(http: responses.RequestsMock, make_client: MakeClient) -> None:
    http.get("https://api.test/cloudworks/2/0/integrationflows", json={"integrationFlows": []})
    anaplan = make_client(STATIC)
    assert CloudWorksClient(anaplan, base_url="https://api.test/cloudworks/2/0/").list_flows() == []


def test_a_body_that_is_not_json_is_a_response_error(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(f"{CW}/integrations", body="<html>404 Not Found</html>", content_type="text/html")
    _, cw = _client(make_client)
    with pytest.raises(AnaplanResponseError, match="not valid JSON"):
        cw.list_integrations()


# --------------------------------------------------------------------------- a user without the role


@pytest.mark.parametrize("status", [403, 452])
def test_a_user_without_the_integration_role_gets_a_typed_error_at_once(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver, status: int
) -> None:
    http.get(f"{CW}/integrations", status=status, json=FORBIDDEN)
    _, cw = _client(make_client)
    with pytest.raises(CloudWorksAccessError) as caught:
        cw.list_integrations()
    error = caught.value
    assert isinstance(error, AnaplanPermissionError)
    assert (error.status, error.endpoint) == (status, "cloudworks_integrations")
    assert "Restricted Integration User" in str(error) and "Not Permitted" in str(error)
    assert len(http.calls) == 1 and observer.retries == []  # not retried


def test_a_missing_integration_is_not_a_role_problem(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(
        f"{CW}/integrations/{INTEGRATION}", status=404, json={"status": {"code": 404, "message": "Not found"}}
    )
    _, cw = _client(make_client)
    with pytest.raises(AnaplanNotFoundError) as caught:
        cw.integration(INTEGRATION)
    assert not isinstance(caught.value, CloudWorksAccessError)


def test_the_integration_api_still_works_for_a_user_cloudworks_refuses(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(f"{CW}/integrationflows", status=403, json=FORBIDDEN)
    http.get(f"{API}/workspaces", json={"workspaces": [{"id": "w1", "name": "W"}]})
    anaplan, cw = _client(make_client)
    with pytest.raises(CloudWorksAccessError):
        cw.list_flows()
    assert [w.id for w in anaplan.list_workspaces()] == ["w1"]


# --------------------------------------------------------------------------- shared with the Integration API


def test_requests_are_get_only_with_the_same_token_and_headers(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    http.get(f"{CW}/integrations", json={"integrations": []})
    http.get(f"{CW}/integrationflows", json={"integrationFlows": []})
    _, cw = _client(make_client, user_agent="anaplan-exporter/test")
    cw.list_integrations()
    cw.list_flows()
    for call in http.calls:
        assert call.request.method == "GET"
        assert call.request.headers["Authorization"] == "AnaplanAuthToken static-tok"
        assert call.request.headers["User-Agent"] == "anaplan-exporter/test"
        assert call.request.body is None
    assert observer.requests == [("cloudworks_integrations", "200"), ("cloudworks_flows", "200")]


def test_the_client_has_no_method_that_changes_anything() -> None:
    public = {name for name, _ in inspect.getmembers(CloudWorksClient) if not name.startswith("_")}
    assert public == {
        "list_integrations",
        "integration",
        "run_history",
        "run",
        "run_errors",
        "list_flows",
        "flow",
        "page_size",  # a read-only property: how many items a page asks for
    }


def test_requests_are_counted_on_the_shared_limiter(
    http: responses.RequestsMock, make_client: MakeClient
) -> None:
    http.get(f"{CW}/integrations", json={"integrations": []})
    http.get(f"{API}/workspaces", json={"workspaces": []})
    anaplan, cw = _client(make_client)
    anaplan.list_workspaces()
    assert _starts(anaplan) == 1
    cw.list_integrations()
    cw.list_integrations()
    assert _starts(anaplan) == 3


def test_a_cloudworks_retry_after_pauses_the_integration_api_too(
    http: responses.RequestsMock, make_client: MakeClient, clock: FakeClock
) -> None:
    http.get(f"{CW}/integrations", status=429, headers={"Retry-After": "30"}, json={})
    http.get(f"{API}/workspaces", json={"workspaces": []})
    anaplan, cw = _client(make_client, max_retries=0)
    with pytest.raises(AnaplanRateLimitError):
        cw.list_integrations()
    assert anaplan.budget.paused_for() == pytest.approx(30)
    anaplan.list_workspaces()
    assert clock.sleeps and sum(clock.sleeps) == pytest.approx(30, abs=0.1)


def test_a_401_from_cloudworks_renews_the_shared_token_once(
    http: responses.RequestsMock, make_client: MakeClient, observer: RecordingObserver
) -> None:
    tokens = iter(["tok-1", "tok-2"])
    http.add_callback(
        responses.POST,
        f"{AUTH}/token/authenticate",
        callback=lambda _r: (201, {}, json.dumps(token_body(next(tokens), T0 + 2100))),
    )
    http.get(
        f"{CW}/integrations/run/{RUN}", status=401, json={"status": {"code": 401, "message": "Unauthorized"}}
    )
    http.get(f"{CW}/integrations/run/{RUN}", json=load("cloudworks_run.json"))
    http.get(f"{API}/workspaces", json={"workspaces": []})
    anaplan = make_client(cloudworks_url=CW)
    assert CloudWorksClient(anaplan).run(RUN).id == RUN
    anaplan.list_workspaces()
    headers = [c.request.headers.get("Authorization") for c in http.calls if c.request.method == "GET"]
    assert headers == ["AnaplanAuthToken tok-1", "AnaplanAuthToken tok-2", "AnaplanAuthToken tok-2"]
    assert observer.retries == ["unauthorized"]


def test_the_size_cap_applies(http: responses.RequestsMock, make_client: MakeClient) -> None:
    big = {"integrations": [{"integrationId": f"{n:032x}", "name": "x" * 200} for n in range(400)]}
    http.get(f"{CW}/integrations", json=big)
    _, cw = _client(make_client, max_response_size=64 * 1024)
    with pytest.raises(AnaplanTooLargeError):
        cw.list_integrations()
