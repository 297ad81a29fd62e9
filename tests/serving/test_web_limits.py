"""The web server under idle, slow and excess clients: bounded threads, stragglers dropped, metrics served."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator

import bcrypt
import pytest
from prometheus_client import CollectorRegistry, Gauge, make_wsgi_app

from anaplan_exporter.serving.connections import Limits
from anaplan_exporter.serving.web import WebServer, make_app
from anaplan_exporter.serving.web_auth import BasicAuth
from support.net import http_get

Start = Callable[..., WebServer]


@pytest.fixture
def start() -> Iterator[Start]:
    servers: list[WebServer] = []

    def _start(
        limits: Limits | None = None, landing_page: Callable[[str], str] = lambda query: "landing"
    ) -> WebServer:
        registry = CollectorRegistry()
        Gauge("demo_value", "A value for tests.", registry=registry).set(42)
        app = make_app(make_wsgi_app(registry), is_ready=lambda: True, landing_page=landing_page)
        server = WebServer(app, "127.0.0.1:0", limits=limits)
        server.start()
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.stop()


def _handler_threads() -> int:
    return sum(thread.name == "web-handler" for thread in threading.enumerate())


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_metrics_are_served_while_200_idle_and_slow_connections_are_open(start: Start) -> None:
    server = start()
    before = threading.active_count()
    clients = []
    try:
        for index in range(200):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if index % 2:  # half send an unfinished header, half nothing at all
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            clients.append(sock)
        status, body = http_get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        assert status == 200
        assert "demo_value 42.0" in body
        # No thread per connection: the acceptor watches the 200 without a thread each.
        assert threading.active_count() <= before + 2
    finally:
        for sock in clients:
            sock.close()


def test_idle_and_dripping_clients_are_dropped(start: Start) -> None:
    server = start(Limits(header_timeout=1.0))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        assert idle.recv(4096) == b""  # closed by the server, not by our 10 s timeout
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as drip:
        header = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"y" * 100
        sent = 0
        stop = threading.Event()
        try:
            for byte in header:  # a byte every 0.1 s: the header would take 12 s
                drip.sendall(bytes([byte]))
                sent += 1
                if stop.wait(0.1):
                    break
        except OSError:
            pass
        try:
            answer = drip.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert answer == b""
        assert sent < len(header)
    assert http_get(f"http://127.0.0.1:{server.port}/-/healthy")[0] == 200


def test_handler_threads_and_queue_are_capped(start: Start) -> None:
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow_page(query: str) -> str:
        entered.release()
        release.wait(10)
        return "landing"

    server = start(Limits(max_handlers=2, max_queued=2), landing_page=slow_page)
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    busy: list[socket.socket] = []
    queued: list[socket.socket] = []
    try:
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(request)
            busy.append(sock)
        assert entered.acquire(timeout=10) and entered.acquire(timeout=10)
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(request)
            queued.append(sock)
        refused = []
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(request)
                refused.append(_read_all(sock))
        assert all(answer.startswith(b"HTTP/1.0 503") for answer in refused), refused
        assert _handler_threads() <= 2
        release.set()
        answers = [_read_all(sock) for sock in busy + queued]
        assert all(answer.startswith(b"HTTP/1.0 200") for answer in answers), answers
    finally:
        release.set()
        for sock in busy + queued:
            sock.close()


def test_known_good_credentials_have_handlers_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Password checks of unknown credentials fill every other handler and the queue; a scrape whose
    credentials were verified before is still served at once."""
    release = threading.Event()
    held = threading.Semaphore(0)
    real_checkpw = bcrypt.checkpw

    def slow_checkpw(password: bytes, hashed: bytes) -> bool:
        if password.startswith(b"slow"):
            held.release()
            release.wait(10)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", slow_checkpw)
    users = {"prometheus": bcrypt.hashpw(b"scrape-me", bcrypt.gensalt(rounds=4)).decode()}
    auth = BasicAuth(users, max_checks=8)
    registry = CollectorRegistry()
    Gauge("demo_value", "A value for tests.", registry=registry).set(42)
    app = make_app(make_wsgi_app(registry), is_ready=lambda: True, landing_page=lambda query: "", auth=auth)
    server = WebServer(
        app, "127.0.0.1:0", limits=Limits(max_handlers=3, priority_handlers=1, max_queued=1), auth=auth
    )
    server.start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    good = {"Authorization": "Basic " + base64.b64encode(b"prometheus:scrape-me").decode()}
    stuck: list[socket.socket] = []
    try:
        assert http_get(url, headers=good)[0] == 200  # verified once
        for index in range(3):  # two checks hold the two other handlers, one waits in the queue
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            token = base64.b64encode(f"prometheus:slow-{index}".encode()).decode()
            sock.sendall(f"GET /metrics HTTP/1.1\r\nAuthorization: Basic {token}\r\n\r\n".encode())
            stuck.append(sock)
            if index < 2:
                assert held.acquire(timeout=10)
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nAuthorization: Basic c2xvdzp4\r\n\r\n")
            assert _read_all(sock).startswith(b"HTTP/1.0 503")  # the other handlers are all taken
        for _ in range(3):
            status, body = http_get(url, timeout=5, headers=good)
            assert status == 200 and "demo_value 42.0" in body
    finally:
        release.set()
        for sock in stuck:
            sock.close()
        server.stop()
