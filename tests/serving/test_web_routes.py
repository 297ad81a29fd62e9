"""Routes, readiness, content negotiation and robustness of the web layer, on a real loopback server."""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator

import bcrypt
import pytest
from prometheus_client import CollectorRegistry, Gauge, make_wsgi_app

from anaplan_exporter.serving.web import WebServer, WebServerError, make_app
from anaplan_exporter.serving.web_auth import BasicAuth
from support.net import http_get

Start = Callable[..., WebServer]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start a server on 127.0.0.1:0 with a registry holding ``demo_value 42``; stopped after the test."""
    servers: list[WebServer] = []

    def _start(
        *,
        is_ready: Callable[[], bool] = lambda: True,
        landing_page: Callable[[str], str] = lambda query: "<html>landing</html>",
        telemetry_path: str = "/metrics",
        basic_auth_users: dict[str, str] | None = None,
    ) -> WebServer:
        registry = CollectorRegistry()
        Gauge("demo_value", "A value for tests.", registry=registry).set(42)
        auth = BasicAuth(basic_auth_users) if basic_auth_users else None
        app = make_app(
            make_wsgi_app(registry),
            is_ready=is_ready,
            landing_page=landing_page,
            telemetry_path=telemetry_path,
            auth=auth,
        )
        server = WebServer(app, "127.0.0.1:0", auth=auth)
        server.start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


def request(
    server: WebServer, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_routes(start: Start) -> None:
    server = start()
    base = f"http://127.0.0.1:{server.port}"
    assert http_get(base + "/") == (200, "<html>landing</html>")
    status, headers, _ = request(server, "/")
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert http_get(base + "/-/healthy") == (200, "OK\n")
    assert http_get(base + "/-/ready") == (200, "OK\n")
    status, body = http_get(base + "/metrics")
    assert status == 200
    assert "demo_value 42.0" in body
    assert http_get(base + "/nothing-here")[0] == 404
    assert http_get(base + "/metrics/")[0] == 404


def test_metrics_content_negotiation(start: Start) -> None:
    server = start()
    status, headers, body = request(server, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    status, headers, body = request(server, "/metrics", headers={"Accept": "application/openmetrics-text"})
    assert status == 200
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_custom_telemetry_path(start: Start) -> None:
    server = start(telemetry_path="/probe/metrics")
    assert request(server, "/probe/metrics")[0] == 200
    assert request(server, "/metrics")[0] == 404


def test_readiness_follows_callable(start: Start) -> None:
    ready = threading.Event()
    server = start(is_ready=ready.is_set)
    status, _, body = request(server, "/-/ready")
    assert (status, body) == (503, b"Not ready\n")
    assert request(server, "/-/healthy")[0] == 200
    ready.set()
    assert request(server, "/-/ready")[:1] == (200,)


def test_readiness_callable_that_raises_means_not_ready(start: Start) -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    server = start(is_ready=broken)
    assert request(server, "/-/ready")[0] == 503


def test_landing_page_gets_the_query_string(start: Start) -> None:
    seen: list[str] = []

    def page(query: str) -> str:
        seen.append(query)
        return "<html>page</html>"

    server = start(landing_page=page)
    assert request(server, "/?state=failed&workspace=Demo%20Workspace")[0] == 200
    assert request(server, "/")[0] == 200
    assert seen == ["state=failed&workspace=Demo%20Workspace", ""]


def test_landing_page_filters_need_basic_auth(start: Start) -> None:
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    server = start(landing_page=lambda query: f"<html>{query}</html>", basic_auth_users={"ops": hashed})
    status, _, body = request(server, "/?state=failed")
    assert status == 401 and b"state" not in body
    token = base64.b64encode(b"ops:secret").decode()
    status, _, body = request(server, "/?state=failed", headers={"Authorization": f"Basic {token}"})
    assert (status, body) == (200, b"<html>state=failed</html>")


def test_runbook_is_served_next_to_the_status_page_behind_the_same_auth(start: Start) -> None:
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    server = start(basic_auth_users={"ops": hashed})
    status, _, body = request(server, "/runbook")
    assert status == 401 and b"Anaplan" not in body
    token = base64.b64encode(b"ops:secret").decode()
    status, headers, body = request(server, "/runbook", headers={"Authorization": f"Basic {token}"})
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert b'<h2 id="anaplantaskfailed">AnaplanTaskFailed</h2>' in body
    assert request(server, "/runbook", "HEAD", {"Authorization": f"Basic {token}"})[2] == b""
    assert request(server, "/runbook/", headers={"Authorization": f"Basic {token}"})[0] == 404


def test_failing_landing_page_gives_500_and_server_survives(start: Start) -> None:
    def broken(query: str) -> str:
        raise RuntimeError("boom")

    server = start(landing_page=broken)
    status, _, body = request(server, "/")
    assert status == 500
    assert b"boom" not in body
    assert request(server, "/-/healthy")[0] == 200


def test_methods(start: Start) -> None:
    server = start()
    status, headers, body = request(server, "/metrics", method="HEAD")
    assert status == 200 and body == b""
    status, headers, _ = request(server, "/metrics", method="POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_bad_requests_do_not_break_the_server(start: Start) -> None:
    server = start()
    for garbage in (b"\x16\x03\x01\x00\xa5garbage\r\n\r\n", b"GET\r\n\r\n", b"NOT HTTP AT ALL\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(garbage)
            sock.recv(4096)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /" + b"x" * 70000 + b" HTTP/1.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.0 414")
    # A client that connects and goes away without a word.
    socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    assert request(server, "/-/healthy")[0] == 200


def test_no_access_log_on_stderr(start: Start, capfd: pytest.CaptureFixture[str]) -> None:
    server = start()
    request(server, "/metrics")
    request(server, "/missing")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"BAD\r\n\r\n")
        sock.recv(4096)
    request(server, "/-/healthy")
    assert capfd.readouterr().err == ""


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def users() -> dict[str, str]:
    return {"prometheus": bcrypt.hashpw(b"scrape-me", bcrypt.gensalt(rounds=4)).decode()}


def test_basic_auth_guards_every_route(start: Start, users: dict[str, str]) -> None:
    server = start(basic_auth_users=users)
    for path in ("/", "/metrics", "/-/healthy", "/-/ready", "/missing"):
        status, headers, _ = request(server, path)
        assert status == 401, path
        assert headers["www-authenticate"].startswith('Basic realm="anaplan-exporter"')
    good = _basic("prometheus", "scrape-me")
    assert request(server, "/metrics", headers=good)[0] == 200
    assert request(server, "/-/healthy", headers=good)[0] == 200
    assert request(server, "/missing", headers=good)[0] == 404


@pytest.mark.parametrize(
    "header",
    [
        _basic("prometheus", "wrong")["Authorization"],
        _basic("nobody", "scrape-me")["Authorization"],
        _basic("prometheus", "scrape-me" + "x" * 80)["Authorization"],
        "Basic not-base64!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer scrape-me",
        "",
    ],
)
def test_basic_auth_refuses(start: Start, users: dict[str, str], header: str) -> None:
    server = start(basic_auth_users=users)
    assert request(server, "/metrics", headers={"Authorization": header})[0] == 401


def test_stop_is_prompt_and_closes_the_port(start: Start) -> None:
    server = start()
    port = server.port
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 1.0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    server.stop()  # a second stop does nothing


def test_port_needs_a_started_server() -> None:
    server = WebServer(make_app(make_wsgi_app(), is_ready=lambda: True, landing_page=str), "127.0.0.1:0")
    with pytest.raises(RuntimeError):
        _ = server.port


def test_address_in_use_is_a_clear_error(start: Start) -> None:
    first = start()
    second = WebServer(
        make_app(make_wsgi_app(), is_ready=lambda: True, landing_page=str), f"127.0.0.1:{first.port}"
    )
    message = rf"cannot listen on 127.0.0.1:{first.port}: address already in use; is another anaplan-exporter"
    with pytest.raises(WebServerError, match=message):
        second.start()
